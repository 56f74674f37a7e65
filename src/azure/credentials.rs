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
