//! Access tokens for Azure: one small abstraction ([`TokenSource`]) over where they come from,
//! and the [`TokenCache`] in front of it.
//!
//! Sources: the `azure_identity` credentials (managed identity in Azure, developer tools
//! locally: [`IdentitySource`]); per customer tenant, an app registration whose client secret
//! comes from a [`ClientSecretStore`] (Key Vault in production), exchanged by `azure_identity`'s
//! `ClientSecretCredential` ([`IdentityClientSecretSource`]) or, for an `http://` authority such
//! as a local simulator that the SDK refuses, by a plain OAuth2 client-credentials request
//! ([`OAuthClientSecretSource`]). [`client_secret_source`] picks by the authority's scheme.
//!
//! Tokens and secrets are [`SecretString`]s: never logged, never in an error message.

mod cache;
mod sources;

pub use cache::TokenCache;
pub use sources::{
    ClientSecretStore, IdentityClientSecretSource, IdentitySource, KeyVaultClientSecrets,
    OAuthClientSecretSource, StaticClientSecret, client_secret_source,
};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::SecretString;
use url::Url;

use super::config::{AzureConfig, CredentialKind};
use super::error::AzureError;

/// A bearer token and when it expires.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub secret: SecretString,
    pub expires_at: DateTime<Utc>,
}

/// Where tokens come from: one request for a token of `scope` in Entra tenant `tenant_id`.
pub trait TokenSource: Send + Sync {
    /// Fetches a new token (no caching: that is [`TokenCache`]'s job).
    fn fetch<'a>(
        &'a self,
        tenant_id: &'a str,
        scope: &'a str,
    ) -> BoxFuture<'a, Result<AccessToken, AzureError>>;
}

/// The token source `config` chooses: the managed identity (`managed_identity_client_id`
/// for a user-assigned one), developer tools, or per-tenant client secrets (given, or read
/// from `key_vault` with the managed identity).
pub fn from_config(
    config: &AzureConfig,
    http: &reqwest::Client,
    managed_identity_client_id: Option<&str>,
    key_vault: Option<&Url>,
) -> Result<Arc<dyn TokenSource>, AzureError> {
    let sdk = |e: azure_core::Error| {
        AzureError::Config(format!("credential: {}", crate::secrets::describe(&e)))
    };
    match config.credential {
        CredentialKind::ManagedIdentity => {
            let credential =
                crate::secrets::managed_identity(managed_identity_client_id).map_err(sdk)?;
            Ok(Arc::new(IdentitySource::new(credential)))
        }
        CredentialKind::DeveloperTools => {
            let credential = azure_identity::DeveloperToolsCredential::new(None).map_err(sdk)?;
            Ok(Arc::new(IdentitySource::new(credential)))
        }
        CredentialKind::ClientSecret => {
            // An empty app setting means "not set".
            let given = (config.client_secret.as_ref())
                .filter(|s| !secrecy::ExposeSecret::expose_secret(*s).trim().is_empty());
            let secrets: Arc<dyn ClientSecretStore> = match (given, key_vault) {
                (Some(secret), _) => Arc::new(StaticClientSecret(secret.clone())),
                (None, Some(vault)) => Arc::new(KeyVaultClientSecrets {
                    vault: vault.clone(),
                    name_template: config.client_secret_name.clone(),
                    credential: crate::secrets::managed_identity(managed_identity_client_id)
                        .map_err(sdk)?,
                }),
                (None, None) => {
                    return Err(AzureError::Config(
                        "client-secret needs AZCOPS_AZURE_CLIENT_SECRET or AZCOPS_KEY_VAULT_URL"
                            .into(),
                    ));
                }
            };
            let client_id = config.app_client_id().unwrap_or_default().to_owned();
            Ok(client_secret_source(
                http.clone(),
                config.authority_host.clone(),
                client_id,
                secrets,
            ))
        }
    }
}

/// The principal an Entra access token was issued to: its `oid` claim (the object id of the
/// managed identity, user, or the app's service principal in the token's tenant), which is
/// what Azure counts per-principal quotas for. `None` for a token that is not a JWT with one.
/// The claim is read, not verified: the token came from Entra over TLS, and the value only
/// keys a quota.
pub fn principal_of(token: &SecretString) -> Option<String> {
    use base64::Engine;
    let payload = secrecy::ExposeSecret::expose_secret(token)
        .split('.')
        .nth(1)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&json).ok()?;
    claims
        .get("oid")?
        .as_str()
        .map(str::trim)
        .filter(|oid| !oid.is_empty() && oid.len() <= 128)
        .map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn jwt(claims: &serde_json::Value) -> SecretString {
        let encode = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let header = encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let body = encode(claims.to_string().as_bytes());
        SecretString::from(format!("{header}.{body}.signature"))
    }

    #[test]
    fn the_principal_is_the_tokens_object_id() {
        let oid = "7C5E1F6A-0000-4000-8000-000000000001";
        let token = jwt(&serde_json::json!({"oid": oid, "appid": "app", "tid": "t"}));
        assert_eq!(
            principal_of(&token).as_deref(),
            Some(&*oid.to_ascii_lowercase())
        );
        assert_eq!(
            principal_of(&jwt(&serde_json::json!({"appid": "app"}))),
            None
        );
        assert_eq!(principal_of(&SecretString::from("opaque-token")), None);
        assert_eq!(principal_of(&SecretString::from("a.!!!.c")), None);
    }
}
