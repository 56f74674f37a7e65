//! Secrets from Azure Key Vault, read with the official secrets client and an `azure_identity`
//! managed-identity credential (a user-assigned identity when `AZURE_CLIENT_ID` is set).

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use azure_security_keyvault_secrets::SecretClient;
use secrecy::SecretString;
use url::Url;

/// Why a secret could not be read. The messages never contain the secret.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("Key Vault {vault}: cannot create a credential or client: {source}")]
    Client {
        vault: Url,
        source: azure_core::Error,
    },
    #[error("Key Vault {vault}: reading secret `{name}` failed: {source}")]
    Read {
        vault: Url,
        name: String,
        source: azure_core::Error,
    },
    #[error("Key Vault {vault}: secret `{name}` has no value")]
    Empty { vault: Url, name: String },
}

/// The managed identity of this app (system-assigned, or the user-assigned one with `client_id`).
pub fn managed_identity(client_id: Option<&str>) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let options = ManagedIdentityCredentialOptions {
        user_assigned_id: client_id.map(|id| UserAssignedId::ClientId(id.to_owned())),
        ..Default::default()
    };
    let credential: Arc<dyn TokenCredential> = ManagedIdentityCredential::new(Some(options))?;
    Ok(credential)
}

/// Reads the current version of secret `name` from the vault at `vault`.
pub async fn read_secret(
    vault: &Url,
    name: &str,
    credential: Arc<dyn TokenCredential>,
) -> Result<SecretString, SecretError> {
    let client = SecretClient::new(vault.as_str(), credential, None).map_err(|source| {
        SecretError::Client {
            vault: vault.clone(),
            source,
        }
    })?;
    let read_error = |source| SecretError::Read {
        vault: vault.clone(),
        name: name.to_owned(),
        source,
    };
    let secret = client
        .get_secret(name, None)
        .await
        .map_err(read_error)?
        .into_model()
        .map_err(read_error)?;
    secret
        .value
        .filter(|v| !v.is_empty())
        .map(SecretString::from)
        .ok_or_else(|| SecretError::Empty {
            vault: vault.clone(),
            name: name.to_owned(),
        })
}
