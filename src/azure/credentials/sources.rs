//! The token sources: `azure_identity` credentials, and client-secret sources per tenant.

use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::error::ErrorKind;
use azure_core::http::ClientOptions;
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::{AccessToken, TokenSource};
use crate::azure::error::{AzureError, describe_transport, one_line};
use crate::secrets::{self, SecretError};

/// An `azure_identity` credential (managed identity, developer tools) for its own tenant:
/// the tenant asked for is not passed on (such credentials cannot switch tenants).
#[derive(Debug, Clone)]
pub struct IdentitySource {
    credential: Arc<dyn TokenCredential>,
}

impl IdentitySource {
    /// A source over `credential`.
    pub fn new(credential: Arc<dyn TokenCredential>) -> Self {
        Self { credential }
    }
}

impl TokenSource for IdentitySource {
    fn fetch<'a>(
        &'a self,
        tenant_id: &'a str,
        scope: &'a str,
    ) -> BoxFuture<'a, Result<AccessToken, AzureError>> {
        Box::pin(async move {
            let token = self
                .credential
                .get_token(&[scope], None)
                .await
                .map_err(|e| sdk_error(tenant_id, &e))?;
            Ok(from_sdk(token))
        })
    }
}

/// Where the client secret of a tenant's app registration is kept.
pub trait ClientSecretStore: Send + Sync {
    /// The current client secret for `tenant_id`.
    fn client_secret<'a>(
        &'a self,
        tenant_id: &'a str,
    ) -> BoxFuture<'a, Result<SecretString, AzureError>>;
}

/// One secret for every tenant (local development, simulators).
#[derive(Debug, Clone)]
pub struct StaticClientSecret(pub SecretString);

impl ClientSecretStore for StaticClientSecret {
    fn client_secret<'a>(
        &'a self,
        _tenant_id: &'a str,
    ) -> BoxFuture<'a, Result<SecretString, AzureError>> {
        Box::pin(async move { Ok(self.0.clone()) })
    }
}

/// Secrets in Key Vault, one per tenant, named by a template with `{tenant}` (e.g.
/// `azure-client-secret-{tenant}`), read with the app's managed identity at each token
/// refresh, so a rotated secret is picked up within the hour.
#[derive(Debug, Clone)]
pub struct KeyVaultClientSecrets {
    pub vault: Url,
    pub name_template: String,
    pub credential: Arc<dyn TokenCredential>,
}

impl ClientSecretStore for KeyVaultClientSecrets {
    fn client_secret<'a>(
        &'a self,
        tenant_id: &'a str,
    ) -> BoxFuture<'a, Result<SecretString, AzureError>> {
        Box::pin(async move {
            if !tenant_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(token_error(tenant_id, "tenant id is not a GUID", false));
            }
            let name = self.name_template.replace("{tenant}", tenant_id);
            let credential = Arc::clone(&self.credential);
            secrets::read_secret(&self.vault, &name, credential, ClientOptions::default())
                .await
                .map_err(|e| {
                    let retryable =
                        matches!(e, SecretError::Read { .. } | SecretError::Client { .. });
                    token_error(tenant_id, &e.to_string(), retryable)
                })
        })
    }
}

/// The token source for app registrations at `authority`: `azure_identity`'s
/// `ClientSecretCredential` for `https` (every real cloud), a plain OAuth2 request otherwise.
pub fn client_secret_source(
    http: reqwest::Client,
    authority: Url,
    client_id: String,
    secrets: Arc<dyn ClientSecretStore>,
) -> Arc<dyn TokenSource> {
    if authority.scheme() == "https" {
        Arc::new(IdentityClientSecretSource {
            authority,
            client_id,
            secrets,
        })
    } else {
        Arc::new(OAuthClientSecretSource {
            http,
            authority,
            client_id,
            secrets,
        })
    }
}

/// Client credentials through `azure_identity`'s `ClientSecretCredential` (https only).
#[derive(Clone)]
pub struct IdentityClientSecretSource {
    pub authority: Url,
    pub client_id: String,
    pub secrets: Arc<dyn ClientSecretStore>,
}

impl TokenSource for IdentityClientSecretSource {
    fn fetch<'a>(
        &'a self,
        tenant_id: &'a str,
        scope: &'a str,
    ) -> BoxFuture<'a, Result<AccessToken, AzureError>> {
        Box::pin(async move {
            let secret = self.secrets.client_secret(tenant_id).await?;
            let mut cloud = CustomConfiguration::default();
            cloud.authority_host = self.authority.as_str().trim_end_matches('/').to_owned();
            let options = ClientSecretCredentialOptions {
                client_options: ClientOptions {
                    cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
                    ..Default::default()
                },
            };
            let secret = Secret::new(secret.expose_secret().to_owned());
            let credential = ClientSecretCredential::new(
                tenant_id,
                self.client_id.clone(),
                secret,
                Some(options),
            )
            .map_err(|e| sdk_error(tenant_id, &e))?;
            let token = credential
                .get_token(&[scope], None)
                .await
                .map_err(|e| sdk_error(tenant_id, &e))?;
            Ok(from_sdk(token))
        })
    }
}

/// Client credentials by a plain OAuth2 request: `POST {authority}/{tenant}/oauth2/v2.0/token`.
/// For authorities the SDK refuses (a local simulator on `http://127.0.0.1:…`).
#[derive(Clone)]
pub struct OAuthClientSecretSource {
    pub http: reqwest::Client,
    pub authority: Url,
    pub client_id: String,
    pub secrets: Arc<dyn ClientSecretStore>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: serde_json::Value,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TokenErrorResponse {
    error: String,
    error_description: String,
}

impl TokenSource for OAuthClientSecretSource {
    fn fetch<'a>(
        &'a self,
        tenant_id: &'a str,
        scope: &'a str,
    ) -> BoxFuture<'a, Result<AccessToken, AzureError>> {
        Box::pin(async move {
            let url = self.token_url(tenant_id)?;
            let secret = self.secrets.client_secret(tenant_id).await?;
            let form = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("client_id", &self.client_id)
                .append_pair("client_secret", secret.expose_secret())
                .append_pair("scope", scope)
                .finish();
            let response = self
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .timeout(Duration::from_secs(30))
                .send()
                .await
                .map_err(|e| {
                    token_error(
                        tenant_id,
                        &format!("token endpoint unreachable: {}", describe_transport(&e)),
                        true,
                    )
                })?;
            let status = response.status();
            let body = response.bytes().await.map_err(|e| {
                token_error(
                    tenant_id,
                    &format!("token response cut off: {}", describe_transport(&e)),
                    true,
                )
            })?;
            parse_token_response(tenant_id, status.as_u16(), &body)
        })
    }
}

impl OAuthClientSecretSource {
    fn token_url(&self, tenant_id: &str) -> Result<Url, AzureError> {
        let mut url = self.authority.clone();
        url.path_segments_mut()
            .map_err(|()| AzureError::Config("the authority host cannot be a base URL".into()))?
            .pop_if_empty()
            .extend([tenant_id, "oauth2", "v2.0", "token"]);
        Ok(url)
    }
}

/// A token from a v2 endpoint's answer; an error names Entra's code and description only.
fn parse_token_response(
    tenant_id: &str,
    status: u16,
    body: &[u8],
) -> Result<AccessToken, AzureError> {
    if !(200..300).contains(&status) {
        let error: TokenErrorResponse = serde_json::from_slice(body).unwrap_or_default();
        let detail = format!(
            "token endpoint answered HTTP {status} {}: {}",
            error.error,
            one_line(&error.error_description, 300)
        );
        return Err(token_error(
            tenant_id,
            &detail,
            status >= 500 || status == 429,
        ));
    }
    let token: TokenResponse = serde_json::from_slice(body).map_err(|_| {
        token_error(
            tenant_id,
            "the token endpoint's answer is not a token",
            true,
        )
    })?;
    let expires_in = match &token.expires_in {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite() && *s >= 0.0)
    .ok_or_else(|| token_error(tenant_id, "the token has no valid expires_in", false))?;
    let expires_at = Utc::now() + chrono::Duration::milliseconds((expires_in * 1000.0) as i64);
    Ok(AccessToken {
        secret: SecretString::from(token.access_token),
        expires_at,
    })
}

fn from_sdk(token: azure_core::credentials::AccessToken) -> AccessToken {
    let expires_at =
        DateTime::from_timestamp(token.expires_on.unix_timestamp(), 0).unwrap_or_else(Utc::now);
    AccessToken {
        secret: SecretString::from(token.token.secret().to_owned()),
        expires_at,
    }
}

/// An SDK credential error: retryable unless Entra refused the request (4xx other than 429)
/// or the credential is not usable at all (e.g. no developer tool logged in).
fn sdk_error(tenant_id: &str, error: &azure_core::Error) -> AzureError {
    let retryable = match error.kind() {
        ErrorKind::HttpResponse { status, .. } => {
            let status = u16::from(*status);
            status >= 500 || status == 429
        }
        ErrorKind::Credential | ErrorKind::DataConversion => false,
        _ => true,
    };
    token_error(tenant_id, &secrets::describe(error), retryable)
}

fn token_error(tenant_id: &str, detail: &str, retryable: bool) -> AzureError {
    AzureError::Token {
        tenant_id: tenant_id.to_owned(),
        detail: detail.to_owned(),
        retryable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_read_with_numeric_or_string_lifetimes() {
        let token = parse_token_response(
            "t",
            200,
            br#"{"token_type":"Bearer","expires_in":3599,"access_token":"abc"}"#,
        )
        .unwrap();
        assert_eq!(token.secret.expose_secret(), "abc");
        assert!(token.expires_at > Utc::now() + chrono::Duration::seconds(3500));
        assert!(
            parse_token_response("t", 200, br#"{"expires_in":"60","access_token":"x"}"#).is_ok()
        );
    }

    #[test]
    fn token_errors_name_entra_code_but_not_the_body() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret.","echo":"hunter2"}"#;
        let err = parse_token_response("t", 401, body).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("invalid_client") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(!err.is_retryable());
    }
}
