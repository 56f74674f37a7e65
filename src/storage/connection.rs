//! Storage account connections, configured the way Azure Functions configures them, so the
//! handler reads the very settings the Functions host reads (e.g. `AzureWebJobsStorage`):
//!
//! - a **connection string** in the setting itself:
//!   `DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…;EndpointSuffix=core.windows.net`,
//!   optionally with explicit `BlobEndpoint=`/`QueueEndpoint=`, or `SharedAccessSignature=`
//!   instead of the key; `UseDevelopmentStorage=true` is Azurite on `127.0.0.1:10000` (blob) and
//!   `10001` (queue) with the emulator's public, documented `devstoreaccount1` account and key;
//! - an **identity-based connection** when the setting itself is empty:
//!   `<NAME>__queueServiceUri`, `<NAME>__blobServiceUri` (or `<NAME>__serviceUri`) and/or
//!   `<NAME>__accountName` (endpoints in the public cloud), used with the app's managed identity;
//!   `<NAME>__clientId` picks a user-assigned identity; `<NAME>__credential`, if set, must be
//!   `managedidentity`.
//!
//! Settings come from a lookup closure, so tests need not touch the process environment
//! ([`StorageConnection::from_env`] is the production lookup). Errors name the setting, never
//! its value: a connection string holds the account key. `Debug` and `Display` never show the
//! key or a SAS either.

use std::fmt;

use secrecy::SecretString;
use url::Url;

use super::sas::AccountKey;

/// The emulator's account name.
pub const DEVELOPMENT_ACCOUNT: &str = "devstoreaccount1";
/// The emulator's account key: public and the same for every Azurite (not a secret).
pub const DEVELOPMENT_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEVELOPMENT_BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";
const DEVELOPMENT_QUEUE_ENDPOINT: &str = "http://127.0.0.1:10001/devstoreaccount1";

/// Why a storage connection cannot be used. Messages name settings, never values.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// Neither the connection string nor any identity-based setting is set.
    #[error(
        "storage connection `{setting}` is not configured: set `{setting}` to a connection string \
         (or UseDevelopmentStorage=true), or set `{setting}__queueServiceUri`, \
         `{setting}__blobServiceUri` or `{setting}__accountName` to use the managed identity"
    )]
    Missing { setting: String },
    /// A setting is present but unusable.
    #[error("storage connection `{setting}`: {detail}")]
    Invalid { setting: String, detail: String },
    /// The connection has no endpoint for the service asked for.
    #[error(
        "storage connection `{setting}` has no {service} endpoint: give AccountName or \
         {service_title}Endpoint in the connection string, or `{setting}__{service}ServiceUri`"
    )]
    NoEndpoint {
        setting: String,
        service: &'static str,
        service_title: &'static str,
    },
}

/// How requests to the account are authorised.
#[derive(Debug, Clone)]
pub enum StorageCredential {
    /// The account key of a connection string (signs SAS tokens; never printed).
    AccountKey(AccountKey),
    /// A SAS token from a connection string's `SharedAccessSignature` (never printed).
    Sas(SecretString),
    /// Entra ID with the app's managed identity; `client_id` names a user-assigned one.
    ManagedIdentity { client_id: Option<String> },
}

/// A parsed storage connection: endpoints, account name and credential.
#[derive(Debug, Clone)]
pub struct StorageConnection {
    setting: String,
    account: Option<String>,
    blob_endpoint: Option<Url>,
    queue_endpoint: Option<Url>,
    credential: StorageCredential,
}

impl StorageConnection {
    /// Reads connection `setting` (e.g. `AzureWebJobsStorage`) from the process environment.
    pub fn from_env(setting: &str) -> Result<Self, ConnectionError> {
        Self::from_settings(setting, |name| std::env::var(name).ok())
    }

    /// Reads connection `setting` through `lookup` (a setting's value by name): the connection
    /// string in `setting` itself, else the identity-based `setting__…` settings.
    pub fn from_settings(
        setting: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConnectionError> {
        match lookup(setting).filter(|v| !v.trim().is_empty()) {
            Some(value) => Self::parse_connection_string(setting, &value),
            None => {
                identity_connection(setting, &lookup)?.ok_or_else(|| ConnectionError::Missing {
                    setting: setting.to_owned(),
                })
            }
        }
    }

    /// Azurite with its development account (`UseDevelopmentStorage=true`).
    pub fn development() -> Self {
        Self::development_for("UseDevelopmentStorage")
    }

    fn development_for(setting: &str) -> Self {
        let key = AccountKey::from_base64(DEVELOPMENT_ACCOUNT_KEY)
            .expect("the development key is valid base64");
        Self {
            setting: setting.to_owned(),
            account: Some(DEVELOPMENT_ACCOUNT.to_owned()),
            blob_endpoint: Url::parse(DEVELOPMENT_BLOB_ENDPOINT).ok(),
            queue_endpoint: Url::parse(DEVELOPMENT_QUEUE_ENDPOINT).ok(),
            credential: StorageCredential::AccountKey(key),
        }
    }

    /// The blob service at `blob_endpoint` (e.g. `https://stlake.blob.core.windows.net`) with the
    /// managed identity (`client_id`: a user-assigned one); `setting` names it in errors.
    pub fn managed_identity_blob(
        setting: &str,
        blob_endpoint: &Url,
        client_id: Option<String>,
    ) -> Result<Self, ConnectionError> {
        let blob_endpoint =
            endpoint_url(blob_endpoint.as_str()).map_err(|e| ConnectionError::Invalid {
                setting: setting.to_owned(),
                detail: format!("the blob endpoint {e}"),
            })?;
        Ok(Self {
            setting: setting.to_owned(),
            account: None,
            blob_endpoint: Some(blob_endpoint),
            queue_endpoint: None,
            credential: StorageCredential::ManagedIdentity { client_id },
        })
    }

    /// Parses a connection string; `setting` is only used to name it in errors.
    pub fn parse_connection_string(setting: &str, value: &str) -> Result<Self, ConnectionError> {
        let invalid = |detail: String| ConnectionError::Invalid {
            setting: setting.to_owned(),
            detail,
        };
        let fields = Fields::parse(value).map_err(invalid)?;
        if fields
            .get("UseDevelopmentStorage")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            return Ok(Self::development_for(setting));
        }
        let account = fields.get("AccountName").map(str::to_owned);
        let credential =
            connection_string_credential(&fields, account.is_some()).map_err(invalid)?;
        let endpoint = |service: &str, field: &str| {
            service_endpoint(&fields, account.as_deref(), service, field).map_err(invalid)
        };
        let blob_endpoint = endpoint("blob", "BlobEndpoint")?;
        let queue_endpoint = endpoint("queue", "QueueEndpoint")?;
        if blob_endpoint.is_none() && queue_endpoint.is_none() {
            return Err(invalid(
                "no endpoint: give AccountName, BlobEndpoint or QueueEndpoint".into(),
            ));
        }
        Ok(Self {
            setting: setting.to_owned(),
            account,
            blob_endpoint,
            queue_endpoint,
            credential,
        })
    }

    /// The setting this connection was read from (for messages).
    pub fn setting(&self) -> &str {
        &self.setting
    }

    /// The account name, when the connection gives one.
    pub fn account_name(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// How requests are authorised.
    pub fn credential(&self) -> &StorageCredential {
        &self.credential
    }

    /// The blob service endpoint (no trailing slash, e.g. `http://127.0.0.1:10000/devstoreaccount1`).
    pub fn blob_endpoint(&self) -> Result<&Url, ConnectionError> {
        self.blob_endpoint
            .as_ref()
            .ok_or_else(|| self.no_endpoint("blob", "Blob"))
    }

    /// The queue service endpoint (no trailing slash).
    pub fn queue_endpoint(&self) -> Result<&Url, ConnectionError> {
        self.queue_endpoint
            .as_ref()
            .ok_or_else(|| self.no_endpoint("queue", "Queue"))
    }

    fn no_endpoint(&self, service: &'static str, service_title: &'static str) -> ConnectionError {
        ConnectionError::NoEndpoint {
            setting: self.setting.clone(),
            service,
            service_title,
        }
    }
}

impl fmt::Display for StorageConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = match &self.credential {
            StorageCredential::AccountKey(_) => "account key",
            StorageCredential::Sas(_) => "SAS",
            StorageCredential::ManagedIdentity { .. } => "managed identity",
        };
        let account = self.account.as_deref().unwrap_or("(unnamed account)");
        write!(f, "`{}` ({account}, {how})", self.setting)
    }
}

/// The `Key=Value;…` fields of a connection string; keys compare case-insensitively.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(value: &str) -> Result<Self, String> {
        let mut fields = Vec::new();
        for (index, part) in value.split(';').enumerate() {
            if part.trim().is_empty() {
                continue;
            }
            // Values may contain `=` (base64 padding), so split at the first one only.
            let (key, value) = part.split_once('=').ok_or_else(|| {
                format!(
                    "part {} of the connection string is not Key=Value (value not shown)",
                    index + 1
                )
            })?;
            fields.push((key.trim().to_owned(), value.trim().to_owned()));
        }
        Ok(Self(fields))
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(key) && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

fn connection_string_credential(
    fields: &Fields,
    has_account: bool,
) -> Result<StorageCredential, String> {
    if let Some(key) = fields.get("AccountKey") {
        if !has_account {
            return Err("AccountKey needs AccountName".into());
        }
        let key = AccountKey::from_base64(key).map_err(|e| format!("AccountKey: {e}"))?;
        return Ok(StorageCredential::AccountKey(key));
    }
    if let Some(sas) = fields.get("SharedAccessSignature") {
        return Ok(StorageCredential::Sas(SecretString::from(
            sas.trim_start_matches('?'),
        )));
    }
    Err(
        "neither AccountKey nor SharedAccessSignature is given (for a managed identity, leave \
         the setting empty and use its __queueServiceUri/__blobServiceUri settings)"
            .into(),
    )
}

/// The endpoint of `service` (`blob`, `queue`): explicit, else built from the account name.
fn service_endpoint(
    fields: &Fields,
    account: Option<&str>,
    service: &str,
    field: &str,
) -> Result<Option<Url>, String> {
    if let Some(explicit) = fields.get(field) {
        return endpoint_url(explicit)
            .map(Some)
            .map_err(|e| format!("{field} {e}"));
    }
    let Some(account) = account else {
        return Ok(None);
    };
    let protocol = fields.get("DefaultEndpointsProtocol").unwrap_or("https");
    if protocol != "https" && protocol != "http" {
        return Err("DefaultEndpointsProtocol must be https or http".into());
    }
    let suffix = fields.get("EndpointSuffix").unwrap_or("core.windows.net");
    endpoint_url(&format!("{protocol}://{account}.{service}.{suffix}"))
        .map(Some)
        .map_err(|e| format!("AccountName/EndpointSuffix give an endpoint that {e}"))
}

/// Parses an http(s) service endpoint without query or fragment, dropping a trailing `/` so
/// that appending a queue or container name gives one slash.
fn endpoint_url(value: &str) -> Result<Url, String> {
    let mut url = Url::parse(value).map_err(|_| "is not a URL".to_owned())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("is not an http(s) URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must have no query (a SAS goes in SharedAccessSignature)".into());
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

/// The identity-based connection `setting__…`, or `None` when none of its settings is set.
fn identity_connection(
    setting: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<Option<StorageConnection>, ConnectionError> {
    let get = |suffix: &str| lookup(&format!("{setting}__{suffix}")).filter(|v| !v.is_empty());
    let invalid = |detail: String| ConnectionError::Invalid {
        setting: setting.to_owned(),
        detail,
    };
    let account = get("accountName");
    let blob = get("blobServiceUri").or_else(|| get("serviceUri"));
    let queue = get("queueServiceUri");
    if account.is_none() && blob.is_none() && queue.is_none() {
        return Ok(None);
    }
    if let Some(credential) = get("credential")
        && !credential.eq_ignore_ascii_case("managedidentity")
    {
        return Err(invalid(format!(
            "`{setting}__credential` must be `managedidentity`"
        )));
    }
    let endpoint = |explicit: Option<String>, name: &str, service: &str| {
        let default = account
            .as_ref()
            .map(|a| format!("https://{a}.{service}.core.windows.net"));
        explicit
            .or(default)
            .map(|url| endpoint_url(&url))
            .transpose()
            .map_err(|e| invalid(format!("`{setting}__{name}` {e}")))
    };
    Ok(Some(StorageConnection {
        setting: setting.to_owned(),
        blob_endpoint: endpoint(blob, "blobServiceUri", "blob")?,
        queue_endpoint: endpoint(queue, "queueServiceUri", "queue")?,
        account,
        credential: StorageCredential::ManagedIdentity {
            client_id: get("clientId"),
        },
    }))
}

#[cfg(test)]
mod tests;
