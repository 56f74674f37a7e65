//! Hands `object_store` the app's managed identity from `azure_identity`, the same credential
//! the queue client and Key Vault use: it knows the App Service / Functions identity endpoint
//! (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`) and caches tokens until shortly before expiry.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use object_store::CredentialProvider;
use object_store::azure::AzureCredential;

/// The scope of Azure Storage data-plane tokens.
const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// An `object_store` credential provider over an `azure_identity` credential.
#[derive(Debug)]
pub(super) struct IdentityCredentials {
    credential: Arc<dyn TokenCredential>,
}

impl IdentityCredentials {
    /// The managed identity (`client_id`: a user-assigned one).
    pub(super) fn managed_identity(client_id: Option<&str>) -> azure_core::Result<Self> {
        Ok(Self {
            credential: crate::secrets::managed_identity(client_id)?,
        })
    }
}

#[async_trait::async_trait]
impl CredentialProvider for IdentityCredentials {
    type Credential = AzureCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<AzureCredential>> {
        let token = self
            .credential
            .get_token(&[STORAGE_SCOPE], None)
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "MicrosoftAzure",
                source: format!("managed identity: {}", crate::secrets::describe(&e)).into(),
            })?;
        Ok(Arc::new(AzureCredential::BearerToken(
            token.token.secret().to_owned(),
        )))
    }
}
