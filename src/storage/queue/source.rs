//! Where the queue client's SDK clients come from, per credential, and how they retry.

use std::sync::{Arc, Mutex};

use azure_core::http::{ExponentialRetryOptions, RetryOptions};
use azure_core::time::Duration as SdkDuration;
use azure_storage_queue::{QueueClient as SdkQueueClient, QueueClientOptions};
use chrono::{DateTime, TimeDelta, Utc};
use secrecy::ExposeSecret;
use url::Url;

use crate::storage::connection::{StorageConnection, StorageCredential};
use crate::storage::sas::{AccountKey, AccountSas, SasProtocol};

const SAS_LIFETIME: TimeDelta = TimeDelta::hours(1);
const SAS_RENEW_AFTER: TimeDelta = TimeDelta::minutes(45);
const SAS_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// The SDK client(s) of one queue.
pub(super) enum ClientSource {
    /// Entra ID, or a fixed SAS from the connection string: one SDK client for good.
    Fixed(Arc<SdkQueueClient>),
    /// An account key: SDK clients on account-SAS URLs, re-signed before they expire.
    Signed(SignedClients),
}

/// SDK clients on account-SAS URLs of one queue, each used until [`SAS_RENEW_AFTER`].
pub(super) struct SignedClients {
    queue_url: Url,
    account: String,
    key: AccountKey,
    current: Mutex<Option<(Arc<SdkQueueClient>, DateTime<Utc>)>>,
}

impl SignedClients {
    /// The current client, or a new one on a freshly signed SAS.
    pub(super) fn client(&self) -> azure_core::Result<Arc<SdkQueueClient>> {
        let now = Utc::now();
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((client, renew_at)) = current.as_ref()
            && now < *renew_at
        {
            return Ok(client.clone());
        }
        let sas = AccountSas {
            services: "q".into(),
            resource_types: "sco".into(),
            permissions: "rwdlacup".into(),
            start: Some(now - SAS_CLOCK_SKEW),
            expiry: now + SAS_LIFETIME,
            protocol: SasProtocol::for_endpoint(&self.queue_url),
        };
        let mut url = self.queue_url.clone();
        url.set_query(Some(sas.token(&self.account, &self.key).expose_secret()));
        let client = Arc::new(SdkQueueClient::new(url, None, Some(client_options()))?);
        *current = Some((client.clone(), now + SAS_RENEW_AFTER));
        Ok(client)
    }
}

impl ClientSource {
    /// The source for `queue_url` with `connection`'s credential; the error says why not.
    pub(super) fn new(connection: &StorageConnection, mut queue_url: Url) -> Result<Self, String> {
        let source = match connection.credential() {
            StorageCredential::AccountKey(key) => Self::Signed(SignedClients {
                queue_url,
                account: connection
                    .account_name()
                    .ok_or("an account key needs the account name")?
                    .to_owned(),
                key: key.clone(),
                current: Mutex::new(None),
            }),
            StorageCredential::Sas(sas) => {
                queue_url.set_query(Some(sas.expose_secret()));
                let client = SdkQueueClient::new(queue_url, None, Some(client_options()))
                    .map_err(|e| describe(&e))?;
                Self::Fixed(Arc::new(client))
            }
            StorageCredential::ManagedIdentity { client_id } => {
                let credential = crate::secrets::managed_identity(client_id.as_deref())
                    .map_err(|e| describe(&e))?;
                let client =
                    SdkQueueClient::new(queue_url, Some(credential), Some(client_options()))
                        .map_err(|e| describe(&e))?;
                Self::Fixed(Arc::new(client))
            }
        };
        Ok(source)
    }
}

/// Fewer retries than the SDK's default (8, over up to a minute): the callers (the enqueuer,
/// the local host's poll loop) retry on their own, and an unreachable queue should fail in
/// seconds, not stall a poll for a minute.
fn client_options() -> QueueClientOptions {
    let mut options = QueueClientOptions::default();
    options.client_options.retry = RetryOptions::exponential(ExponentialRetryOptions {
        max_retries: 3,
        max_total_elapsed: SdkDuration::seconds(15),
        max_delay: SdkDuration::seconds(5),
        ..Default::default()
    });
    options
}

/// An SDK error in one line, with any SAS signature redacted.
pub(super) fn describe(error: &azure_core::Error) -> String {
    crate::storage::redact_sas(&crate::secrets::describe(error))
}
