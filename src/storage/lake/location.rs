//! Where the lake is: the `AZCOPS_LAKE_URL` setting.
//!
//! | value | lake |
//! |---|---|
//! | `abfss://raw@<account>.dfs.core.windows.net[/prefix]` | container `raw` of an ADLS Gen2 / Blob account, with the managed identity (`AZURE_CLIENT_ID` for a user-assigned one); other clouds' suffixes work too |
//! | `https://<account>.blob.core.windows.net/raw[/prefix]` | the same, written as a Blob URL |
//! | `az://raw[/prefix]` | container `raw` of the account of the `AzureWebJobsStorage` connection, with that connection's credential |
//! | `azurite://raw[/prefix]` | container `raw` of Azurite's development account on `127.0.0.1:10000` |
//! | `file:///var/lib/azcops/raw` | a local folder, which plays the container |
//!
//! With an account key (`azurite://`, or `az://` over a key connection string) the container is
//! created if missing; in Azure it is the infrastructure's job.

use std::fmt;
use std::path::PathBuf;

use url::Url;

use super::LakeError;
use crate::storage::connection::StorageConnection;

/// The setting holding the lake's URL.
pub const LAKE_URL_SETTING: &str = "AZCOPS_LAKE_URL";
/// The storage connection `az://` refers to.
pub const STORAGE_SETTING: &str = "AzureWebJobsStorage";
/// The setting naming a user-assigned managed identity.
pub const CLIENT_ID_SETTING: &str = "AZURE_CLIENT_ID";

/// A parsed lake location.
#[derive(Debug, Clone)]
pub enum LakeLocation {
    /// A local folder (absolute path).
    Local(PathBuf),
    /// A blob container of a storage account, optionally under a prefix.
    Blob {
        connection: Box<StorageConnection>,
        container: String,
        prefix: Option<String>,
    },
}

impl LakeLocation {
    /// Reads [`LAKE_URL_SETTING`] (and what it refers to) through `lookup`.
    pub fn from_settings(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LakeError> {
        let url = lookup(LAKE_URL_SETTING)
            .filter(|v| !v.trim().is_empty())
            .ok_or(LakeError::NotConfigured {
                setting: LAKE_URL_SETTING,
            })?;
        Self::parse(url.trim(), lookup)
    }

    /// Parses a lake URL (formats in the module documentation); `lookup` reads the settings
    /// that `az://` and `abfss://` refer to.
    pub fn parse(value: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Self, LakeError> {
        let url = Url::parse(value).map_err(|_| invalid("is not a URL"))?;
        match url.scheme() {
            "file" => local(&url),
            "azurite" => blob(StorageConnection::development(), url.host_str(), url.path()),
            "az" => {
                let connection = StorageConnection::from_settings(STORAGE_SETTING, &lookup)?;
                blob(connection, url.host_str(), url.path())
            }
            "abfs" | "abfss" => {
                let host = url.host_str().unwrap_or_default();
                let endpoint = match host.split_once(".dfs.") {
                    Some((account, suffix)) => format!("https://{account}.blob.{suffix}"),
                    None => {
                        return Err(invalid(
                            "must be abfss://<container>@<account>.dfs.<suffix>",
                        ));
                    }
                };
                let container = Some(url.username()).filter(|c| !c.is_empty());
                blob(identity(&endpoint, &lookup)?, container, url.path())
            }
            "https" => {
                let path = url.path().trim_start_matches('/');
                let (container, prefix) = path.split_once('/').unwrap_or((path, ""));
                let endpoint = format!("https://{}", url.host_str().unwrap_or_default());
                blob(identity(&endpoint, &lookup)?, Some(container), prefix)
            }
            _ => Err(invalid(
                "must start with abfss://, https://, az://, azurite:// or file://",
            )),
        }
    }
}

impl fmt::Display for LakeLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(path) => write!(f, "folder {}", path.display()),
            Self::Blob {
                connection,
                container,
                ..
            } => match connection.blob_endpoint() {
                Ok(endpoint) => write!(f, "container `{container}` at {endpoint}"),
                Err(_) => write!(f, "container `{container}` of {connection}"),
            },
        }
    }
}

fn invalid(detail: &str) -> LakeError {
    LakeError::InvalidUrl {
        setting: LAKE_URL_SETTING,
        detail: detail.to_owned(),
    }
}

fn local(url: &Url) -> Result<LakeLocation, LakeError> {
    url.to_file_path()
        .ok()
        .filter(|p| p.is_absolute())
        .map(LakeLocation::Local)
        .ok_or_else(|| invalid("a file:// URL must name an absolute folder, e.g. file:///data/raw"))
}

/// A connection to the blob endpoint `endpoint` with the managed identity.
fn identity(
    endpoint: &str,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<StorageConnection, LakeError> {
    let endpoint = Url::parse(endpoint).map_err(|_| invalid("has no valid account host"))?;
    let client_id = lookup(CLIENT_ID_SETTING).filter(|v| !v.trim().is_empty());
    Ok(StorageConnection::managed_identity_blob(
        LAKE_URL_SETTING,
        &endpoint,
        client_id,
    )?)
}

/// Container `container` (validated) of `connection`, under `prefix` (a path, maybe empty).
fn blob(
    connection: StorageConnection,
    container: Option<&str>,
    prefix: &str,
) -> Result<LakeLocation, LakeError> {
    let container = container
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid("names no container"))?;
    let valid = (3..=63).contains(&container.len())
        && container
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !container.starts_with('-')
        && !container.ends_with('-')
        && !container.contains("--");
    if !valid {
        return Err(invalid(
            "the container name must be 3 to 63 lowercase letters, digits and single hyphens",
        ));
    }
    let prefix = prefix.trim_matches('/');
    Ok(LakeLocation::Blob {
        connection: Box::new(connection),
        container: container.to_owned(),
        prefix: Some(prefix.to_owned()).filter(|p| !p.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::connection::StorageCredential;

    fn none(_: &str) -> Option<String> {
        None
    }

    fn parse(value: &str) -> LakeLocation {
        LakeLocation::parse(value, none).unwrap()
    }

    fn blob_parts(location: &LakeLocation) -> (String, String, Option<String>) {
        let LakeLocation::Blob {
            connection,
            container,
            prefix,
        } = location
        else {
            panic!("not a blob location: {location:?}")
        };
        let endpoint = connection.blob_endpoint().unwrap().to_string();
        (endpoint, container.clone(), prefix.clone())
    }

    #[test]
    fn abfss_urls_use_the_blob_endpoint_of_the_account_with_the_managed_identity() {
        let location = LakeLocation::parse("abfss://raw@stlake.dfs.core.windows.net/azcops", |k| {
            (k == CLIENT_ID_SETTING).then(|| "client-1".to_owned())
        })
        .unwrap();
        let (endpoint, container, prefix) = blob_parts(&location);
        assert_eq!(endpoint, "https://stlake.blob.core.windows.net/");
        assert_eq!(
            (container.as_str(), prefix.as_deref()),
            ("raw", Some("azcops"))
        );
        let LakeLocation::Blob { connection, .. } = &location else {
            unreachable!()
        };
        assert!(matches!(
            connection.credential(),
            StorageCredential::ManagedIdentity { client_id: Some(id) } if id == "client-1"
        ));
    }

    #[test]
    fn https_blob_urls_name_the_container_in_the_path() {
        let (endpoint, container, prefix) =
            blob_parts(&parse("https://stlake.blob.core.windows.net/raw"));
        assert_eq!(endpoint, "https://stlake.blob.core.windows.net/");
        assert_eq!((container.as_str(), prefix), ("raw", None));
    }

    #[test]
    fn azurite_and_az_urls_use_the_development_account_and_the_storage_connection() {
        let (endpoint, container, _) = blob_parts(&parse("azurite://raw"));
        assert_eq!(endpoint, "http://127.0.0.1:10000/devstoreaccount1");
        assert_eq!(container, "raw");
        let location = LakeLocation::parse("az://raw", |k| {
            (k == STORAGE_SETTING).then(|| "UseDevelopmentStorage=true".to_owned())
        })
        .unwrap();
        assert_eq!(
            blob_parts(&location).0,
            "http://127.0.0.1:10000/devstoreaccount1"
        );
        let err = LakeLocation::parse("az://raw", none)
            .unwrap_err()
            .to_string();
        assert!(err.contains("AzureWebJobsStorage"), "{err}");
    }

    #[test]
    fn file_urls_are_absolute_local_folders() {
        assert!(
            matches!(parse("file:///data/raw"), LakeLocation::Local(p) if p == std::path::Path::new("/data/raw"))
        );
    }

    #[test]
    fn bad_lake_urls_are_refused_naming_the_setting() {
        for bad in [
            "raw",
            "s3://bucket",
            "azurite://Raw",
            "abfss://raw@stlake.blob.x",
            "az:///",
        ] {
            let err = LakeLocation::parse(bad, none).unwrap_err().to_string();
            assert!(
                err.contains(LAKE_URL_SETTING) || err.contains("AzureWebJobsStorage"),
                "{bad}: {err}"
            );
        }
        let err = LakeLocation::from_settings(none).unwrap_err().to_string();
        assert!(
            err.contains(LAKE_URL_SETTING) && err.contains("abfss://"),
            "{err}"
        );
    }
}
