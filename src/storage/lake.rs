//! The raw-snapshot lake: every collector's raw JSON answer is written here, **create-only**,
//! before the database is touched (DESIGN §2 step 3), at
//! `{tenant}/{connector}/YYYY/MM/DD/{subscription}/{run_id}.json` ([`snapshot_path`]).
//!
//! A snapshot is never overwritten: writes use `object_store`'s `PutMode::Create`
//! (`If-None-Match: *` on Azure, a hard link locally), and a second write of the same path
//! fails with [`LakeError::AlreadyExists`], which a redelivered queue message can treat as
//! "already written". Where the lake is comes from `AZCOPS_LAKE_URL` ([`location`]).

pub mod location;

mod identity;

use std::fmt::Display;
use std::path::Path as FsPath;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
};
use secrecy::ExposeSecret;

pub use location::{LAKE_URL_SETTING, LakeLocation};

use super::connection::{ConnectionError, StorageConnection, StorageCredential};
use super::sas::{AccountSas, SasProtocol};
use identity::IdentityCredentials;

/// Why the lake cannot be opened, written or read. Never carries a key or SAS.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// `AZCOPS_LAKE_URL` is not set.
    #[error(
        "{setting} is not set: give abfss://raw@<account>.dfs.core.windows.net, az://raw (the \
         AzureWebJobsStorage account), azurite://raw or file:///absolute/folder"
    )]
    NotConfigured { setting: &'static str },
    /// `AZCOPS_LAKE_URL` is not a lake URL.
    #[error("{setting} {detail}")]
    InvalidUrl {
        setting: &'static str,
        detail: String,
    },
    /// The storage connection it refers to is unusable.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// The store could not be set up (client, credential, folder or container).
    #[error("lake {lake}: cannot open it: {detail}")]
    Open { lake: String, detail: String },
    /// The snapshot exists already (create-only).
    #[error("lake {lake}: `{path}` is already written; snapshots are never overwritten")]
    AlreadyExists { lake: String, path: String },
    /// No such object.
    #[error("lake {lake}: `{path}` does not exist")]
    NotFound { lake: String, path: String },
    /// Anything else the store reported.
    #[error("lake {lake}: {operation} `{path}` failed: {detail}")]
    Store {
        lake: String,
        operation: &'static str,
        path: String,
        detail: String,
    },
}

impl LakeError {
    /// True when a create-only write found the snapshot already there.
    pub fn is_already_exists(&self) -> bool {
        matches!(self, Self::AlreadyExists { .. })
    }
}

/// Where snapshot `run_id` of `connector` for `subscription` of `tenant`, collected on `date`,
/// is written: `{tenant}/{connector}/YYYY/MM/DD/{subscription}/{run_id}.json`. Each part is
/// one path segment (a `/` or `..` in it is percent-encoded, never a directory).
pub fn snapshot_path(
    tenant: impl Display,
    connector: &str,
    date: NaiveDate,
    subscription: impl Display,
    run_id: impl Display,
) -> Path {
    Path::from_iter([
        tenant.to_string(),
        connector.to_owned(),
        format!("{:04}", date.year()),
        format!("{:02}", date.month()),
        format!("{:02}", date.day()),
        subscription.to_string(),
        format!("{run_id}.json"),
    ])
}

/// Part `seq` of one attempt of a snapshot written in parts as the responses arrive (the
/// Monitor metrics of a large subscription):
/// `…/{subscription}/{run_id}/{attempt}/{seq:05}.json` beside where [`snapshot_path`] puts the
/// snapshot's own document. Each attempt (a redelivery, or a duplicate delivered at the same
/// time) has its own random id, so two never write into each other's parts.
pub fn snapshot_part_path(
    tenant: impl Display,
    connector: &str,
    date: NaiveDate,
    subscription: impl Display,
    run_id: impl Display,
    attempt: impl Display,
    seq: u32,
) -> Path {
    Path::from_iter([
        tenant.to_string(),
        connector.to_owned(),
        format!("{:04}", date.year()),
        format!("{:02}", date.month()),
        format!("{:02}", date.day()),
        subscription.to_string(),
        run_id.to_string(),
        attempt.to_string(),
        format!("{seq:05}.json"),
    ])
}

/// The lake: an object store and the name errors and logs give it.
#[derive(Clone)]
pub struct Lake {
    store: Arc<dyn ObjectStore>,
    name: String,
    /// Whether the store keeps a content type (the local file system does not).
    content_type: bool,
    /// Signs read links of its blobs, when it is a blob container whose credential can sign.
    signer: Option<BlobSigner>,
}

/// What signs a blob lake's read links: its container's client and the lake's prefix in it.
#[derive(Clone)]
struct BlobSigner {
    azure: object_store::azure::MicrosoftAzure,
    prefix: Option<Path>,
}

impl Lake {
    /// Opens the lake `AZCOPS_LAKE_URL` names, reading settings through `lookup`.
    pub async fn from_settings(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LakeError> {
        Self::open(&LakeLocation::from_settings(lookup)?).await
    }

    /// Opens the lake at `location`: creates a local folder, or (with an account key) the
    /// container, when missing.
    pub async fn open(location: &LakeLocation) -> Result<Self, LakeError> {
        match location {
            LakeLocation::Local(root) => Self::local(root),
            LakeLocation::Blob {
                connection,
                container,
                prefix,
            } => Self::blob(connection, container, prefix.as_deref()).await,
        }
    }

    /// A lake in local folder `root` (created if missing).
    pub fn local(root: &FsPath) -> Result<Self, LakeError> {
        let name = format!("folder {}", root.display());
        let open_error = |detail: String| LakeError::Open {
            lake: name.clone(),
            detail,
        };
        std::fs::create_dir_all(root).map_err(|e| open_error(e.to_string()))?;
        let store =
            LocalFileSystem::new_with_prefix(root).map_err(|e| open_error(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            name,
            content_type: false,
            signer: None,
        })
    }

    /// A lake in blob container `container` of `connection`, under `prefix` if given.
    pub async fn blob(
        connection: &StorageConnection,
        container: &str,
        prefix: Option<&str>,
    ) -> Result<Self, LakeError> {
        let endpoint = connection.blob_endpoint()?;
        let name = format!("container `{container}` at {endpoint}");
        if matches!(connection.credential(), StorageCredential::AccountKey(_)) {
            create_container(connection, container)
                .await
                .map_err(|detail| LakeError::Open {
                    lake: name.clone(),
                    detail,
                })?;
        }
        let azure = azure_store(connection, container).map_err(|detail| LakeError::Open {
            lake: name.clone(),
            detail,
        })?;
        let prefix = prefix.filter(|p| !p.is_empty());
        // An account key signs a service SAS; Entra ID a user-delegation SAS (the key asked of
        // the account). A connection that is itself a SAS cannot sign another.
        let signer = match connection.credential() {
            StorageCredential::AccountKey(_) | StorageCredential::ManagedIdentity { .. } => {
                Some(BlobSigner {
                    azure: azure.clone(),
                    prefix: prefix.map(Path::from),
                })
            }
            StorageCredential::Sas(_) => None,
        };
        let store: Arc<dyn ObjectStore> = match prefix {
            Some(prefix) => Arc::new(PrefixStore::new(azure, prefix)),
            None => Arc::new(azure),
        };
        Ok(Self {
            store,
            name,
            content_type: true,
            signer,
        })
    }

    /// A URL that lets whoever holds it read the blob at `path` (and only read it) for `ttl`,
    /// with no other credential: a SAS of that blob (`sr=b`, `sp=r`) signed by `object_store`,
    /// with the account key (Azurite, a connection string's key: a service SAS) or, with Entra
    /// ID, with a user delegation key asked of the account (a **user-delegation SAS**: no
    /// account key involved, valid at most as long as the key, and revoked with it). `None`
    /// when the lake cannot sign: a local folder, or a connection that is itself a SAS.
    pub async fn read_url(
        &self,
        path: &Path,
        ttl: std::time::Duration,
    ) -> Result<Option<url::Url>, LakeError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let full = match &signer.prefix {
            Some(prefix) => prefix.parts().chain(path.parts()).collect(),
            None => path.clone(),
        };
        object_store::signer::Signer::signed_url(&signer.azure, reqwest::Method::GET, &full, ttl)
            .await
            .map(Some)
            .map_err(|e| self.error("sign a read link of", path, e))
    }

    /// The underlying store, for tools that list or read snapshots. Never log it with `{:?}`:
    /// `object_store`'s `Debug` shows an account key.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Writes JSON `body` at `path` unless something is there already
    /// ([`LakeError::AlreadyExists`]). `body` may be one buffer or many chunks
    /// ([`PutPayload`] from `Vec<u8>`, `String`, `Bytes` or an iterator of them).
    pub async fn put_json(
        &self,
        path: &Path,
        body: impl Into<PutPayload>,
    ) -> Result<(), LakeError> {
        let payload = body.into();
        let bytes = payload.content_length();
        let mut attributes = Attributes::new();
        if self.content_type {
            attributes.insert(Attribute::ContentType, "application/json".into());
        }
        let options = PutOptions {
            mode: PutMode::Create,
            attributes,
            ..Default::default()
        };
        self.store
            .put_opts(path, payload, options)
            .await
            .map_err(|e| self.error("write", path, e))?;
        tracing::debug!(lake = %self.name, lake.path = %path, bytes, "wrote a raw snapshot");
        Ok(())
    }

    /// Reads the object at `path`.
    pub async fn get(&self, path: &Path) -> Result<Vec<u8>, LakeError> {
        let result = self
            .store
            .get(path)
            .await
            .map_err(|e| self.error("read", path, e))?;
        let bytes = result
            .bytes()
            .await
            .map_err(|e| self.error("read", path, e))?;
        Ok(Vec::from(bytes))
    }

    fn error(&self, operation: &'static str, path: &Path, error: object_store::Error) -> LakeError {
        let (lake, path) = (self.name.clone(), path.to_string());
        match error {
            object_store::Error::AlreadyExists { .. } => LakeError::AlreadyExists { lake, path },
            object_store::Error::NotFound { .. } => LakeError::NotFound { lake, path },
            other => LakeError::Store {
                lake,
                operation,
                path,
                detail: super::redact_sas(&other.to_string()),
            },
        }
    }
}

impl std::fmt::Debug for Lake {
    // Not derived: the store's own `Debug` would print an account key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The `object_store` client for `container` of `connection`.
fn azure_store(
    connection: &StorageConnection,
    container: &str,
) -> Result<object_store::azure::MicrosoftAzure, String> {
    let endpoint = connection.blob_endpoint().map_err(|e| e.to_string())?;
    let account = connection
        .account_name()
        .map(str::to_owned)
        .or_else(|| endpoint.host_str()?.split('.').next().map(str::to_owned))
        .ok_or("no account name")?;
    let builder = MicrosoftAzureBuilder::new()
        .with_account(account)
        .with_container_name(container)
        .with_endpoint(endpoint.as_str().trim_end_matches('/').to_owned())
        .with_allow_http(endpoint.scheme() == "http");
    let builder = match connection.credential() {
        StorageCredential::AccountKey(key) => builder.with_access_key(key.base64().expose_secret()),
        StorageCredential::Sas(sas) => {
            let pairs = url::form_urlencoded::parse(sas.expose_secret().as_bytes())
                .into_owned()
                .collect::<Vec<_>>();
            builder.with_sas_authorization(pairs)
        }
        StorageCredential::ManagedIdentity { client_id } => {
            let credentials = IdentityCredentials::managed_identity(client_id.as_deref())
                .map_err(|e| crate::secrets::describe(&e))?;
            builder.with_credentials(Arc::new(credentials))
        }
    };
    builder
        .build()
        .map_err(|e| super::redact_sas(&e.to_string()))
}

/// Creates `container` unless it exists, with an account SAS signed by the connection's key.
async fn create_container(connection: &StorageConnection, container: &str) -> Result<(), String> {
    let (Some(account), StorageCredential::AccountKey(key)) =
        (connection.account_name(), connection.credential())
    else {
        return Ok(());
    };
    let mut url = connection
        .blob_endpoint()
        .map_err(|e| e.to_string())?
        .clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push(container);
    }
    let sas = AccountSas {
        services: "b".into(),
        resource_types: "c".into(),
        permissions: "rwc".into(),
        start: Some(chrono::Utc::now() - chrono::TimeDelta::minutes(5)),
        expiry: chrono::Utc::now() + chrono::TimeDelta::minutes(10),
        protocol: SasProtocol::for_endpoint(&url),
    };
    let query = format!(
        "restype=container&{}",
        sas.token(account, key).expose_secret()
    );
    url.set_query(Some(&query));
    let response = reqwest::Client::new()
        .put(url)
        .header("x-ms-version", super::sas::SAS_VERSION)
        .header(reqwest::header::CONTENT_LENGTH, 0)
        .send()
        .await
        .map_err(|e| {
            format!(
                "creating the container: {}",
                super::redact_sas(&e.to_string())
            )
        })?;
    match response.status().as_u16() {
        201 => {
            tracing::info!(container, "created the lake's blob container");
            Ok(())
        }
        409 => Ok(()),
        status => Err(format!("creating the container answered HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_paths_follow_the_documented_layout() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 7).unwrap();
        let path = snapshot_path("t-1", "cost_management", date, "sub-9", "run-5");
        assert_eq!(
            path.as_ref(),
            "t-1/cost_management/2026/03/07/sub-9/run-5.json"
        );
    }

    #[test]
    fn snapshot_parts_sit_in_a_folder_named_after_the_run() {
        let date = NaiveDate::from_ymd_opt(2026, 3, 7).unwrap();
        let path = snapshot_part_path("t-1", "monitor", date, "sub-9", "run-5", "a-2", 17);
        assert_eq!(
            path.as_ref(),
            "t-1/monitor/2026/03/07/sub-9/run-5/a-2/00017.json"
        );
    }

    #[test]
    fn a_path_part_can_never_climb_or_split_into_directories() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let path = snapshot_path("..", "a/b", date, "s", "r");
        assert_eq!(path.parts().count(), 7);
        assert!(!path.as_ref().starts_with("../"), "{path}");
    }
}
