//! Secrets from Azure Key Vault, read with the official secrets client
//! (`azure_security_keyvault_secrets`) and an `azure_identity` credential: in production the
//! app's managed identity (a user-assigned identity when `AZURE_CLIENT_ID` is set).
//!
//! Decisions:
//! - A secret's value is never logged nor put in an error message; logs and errors name the
//!   vault (its host and port) and the secret only. Errors reported by the SDK are described
//!   by status, service error code and message, never by the response body of a read that
//!   succeeded but could not be understood.
//! - An empty (or whitespace-only) value is refused: it is always a mistake for a database URL
//!   or password. Other values are used exactly as stored (no trimming).
//! - The Key Vault client checks that the resource named in the vault's authentication
//!   challenge belongs to the vault's domain, so a token is never handed to a look-alike host.
//!   Only for a vault on a loopback address (a local emulator or test stand-in, which cannot
//!   be under `vault.azure.net`) is that check skipped; see [`secret_client_options`].

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, StatusCode};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use secrecy::SecretString;
use url::{Host, Url};

/// A vault as errors and logs name it: host and, when not the default, port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultName(String);

impl VaultName {
    /// The name of the vault at `vault`.
    pub fn of(vault: &Url) -> Self {
        let host = vault.host_str().unwrap_or("(no host)");
        Self(match vault.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        })
    }
}

impl fmt::Display for VaultName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a secret could not be read. The messages name the vault and the secret, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The managed identity credential or the Key Vault client could not be created.
    #[error(
        "Key Vault {vault}: cannot create the credential or client for secret `{name}`: {detail}"
    )]
    Client {
        vault: VaultName,
        name: String,
        detail: String,
    },
    /// The vault answered 404: no such secret (or it is disabled or deleted).
    #[error(
        "Key Vault {vault}: secret `{name}` does not exist (404 {code}); create it, or name another secret"
    )]
    NotFound {
        vault: VaultName,
        name: String,
        code: String,
    },
    /// The identity was refused (401/403), e.g. it lacks the "Key Vault Secrets User" role.
    #[error(
        "Key Vault {vault}: reading secret `{name}` was refused ({detail}); does the managed identity have the \"Key Vault Secrets User\" role on the vault?"
    )]
    Denied {
        vault: VaultName,
        name: String,
        detail: String,
    },
    /// Anything else: no token, vault unreachable, unexpected status, challenge rejected.
    #[error("Key Vault {vault}: reading secret `{name}` failed: {detail}")]
    Read {
        vault: VaultName,
        name: String,
        detail: String,
    },
    /// The vault answered 200 with something that is not a secret.
    #[error(
        "Key Vault {vault}: secret `{name}`: the vault's answer is not a secret (value not shown)"
    )]
    Malformed { vault: VaultName, name: String },
    /// The secret exists but its value is empty.
    #[error("Key Vault {vault}: secret `{name}` is empty")]
    Empty { vault: VaultName, name: String },
}

/// The managed identity of this app (system-assigned, or the user-assigned one with `client_id`).
///
/// Which endpoint it calls is decided by `azure_identity` from the environment: App Service
/// and Functions set `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`; elsewhere the VM's IMDS.
pub fn managed_identity(client_id: Option<&str>) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let options = ManagedIdentityCredentialOptions {
        user_assigned_id: client_id.map(|id| UserAssignedId::ClientId(id.to_owned())),
        ..Default::default()
    };
    let credential: Arc<dyn TokenCredential> = ManagedIdentityCredential::new(Some(options))?;
    Ok(credential)
}

/// True when `vault`'s host is a loopback address (`127.0.0.0/8`, `::1`) or `localhost`.
pub fn is_loopback(vault: &Url) -> bool {
    match vault.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Options of the secrets client for `vault`, over `client_options` (the SDK's defaults in
/// production; tests give a transport that trusts their stand-in's certificate).
///
/// The SDK verifies that the resource of the vault's authentication challenge
/// (`https://vault.azure.net` for Azure) is a parent domain of the vault's host. A vault on a
/// loopback address is a local stand-in (an emulator, or the tests' fake) and can never pass
/// that check, so it is switched off for loopback hosts only: a token is then sent to this
/// machine, which is no wider an exposure than the process itself. Every other host keeps it.
pub fn secret_client_options(vault: &Url, client_options: ClientOptions) -> SecretClientOptions {
    SecretClientOptions {
        client_options,
        verify_challenge_resource: Some(!is_loopback(vault)),
        ..Default::default()
    }
}

/// Reads the current version of secret `name` from the vault at `vault`, authenticating with
/// `credential`. Logs the vault and the secret name, never the value.
pub async fn read_secret(
    vault: &Url,
    name: &str,
    credential: Arc<dyn TokenCredential>,
    client_options: ClientOptions,
) -> Result<SecretString, SecretError> {
    let vault_name = VaultName::of(vault);
    let options = secret_client_options(vault, client_options);
    let client = SecretClient::new(vault.as_str(), credential, Some(options)).map_err(|e| {
        SecretError::Client {
            vault: vault_name.clone(),
            name: name.to_owned(),
            detail: describe(&e),
        }
    })?;
    let response = client
        .get_secret(name, None)
        .await
        .map_err(|e| read_error(&vault_name, name, &e))?;
    // The body holds the value: a parse error could quote it, so none is passed on.
    let secret = response.into_model().map_err(|_| SecretError::Malformed {
        vault: vault_name.clone(),
        name: name.to_owned(),
    })?;
    let value = secret
        .value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| SecretError::Empty {
            vault: vault_name.clone(),
            name: name.to_owned(),
        })?;
    tracing::info!(vault = %vault_name, secret = name, "read a secret from Key Vault");
    Ok(SecretString::from(value))
}

/// Classifies an error of `get_secret`.
fn read_error(vault: &VaultName, name: &str, error: &azure_core::Error) -> SecretError {
    let (vault, name) = (vault.clone(), name.to_owned());
    match error.kind() {
        ErrorKind::HttpResponse {
            status: StatusCode::NotFound,
            error_code,
            ..
        } => SecretError::NotFound {
            vault,
            name,
            code: error_code.clone().unwrap_or_else(|| "Not Found".to_owned()),
        },
        ErrorKind::HttpResponse {
            status: StatusCode::Unauthorized | StatusCode::Forbidden,
            ..
        } => SecretError::Denied {
            vault,
            name,
            detail: describe(error),
        },
        _ => SecretError::Read {
            vault,
            name,
            detail: describe(error),
        },
    }
}

/// An SDK error in one line: status and service error code when the vault answered, then the
/// message and its causes (e.g. "connection refused", "invalid peer certificate").
pub(crate) fn describe(error: &azure_core::Error) -> String {
    let mut text = match error.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => match error_code {
            Some(code) => format!("HTTP {} {code}: {error}", u16::from(*status)),
            None => format!("HTTP {}: {error}", u16::from(*status)),
        },
        _ => error.to_string(),
    };
    let mut cause = std::error::Error::source(error);
    while let Some(e) = cause {
        let message = e.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = e.source();
    }
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn only_loopback_vaults_skip_the_challenge_resource_check() {
        for loopback in [
            "https://127.0.0.1:8443/",
            "https://127.1.2.3/",
            "https://[::1]:8443/",
            "https://localhost:8443/",
        ] {
            assert!(is_loopback(&url(loopback)), "{loopback}");
            let options = secret_client_options(&url(loopback), ClientOptions::default());
            assert_eq!(options.verify_challenge_resource, Some(false), "{loopback}");
        }
        for remote in [
            "https://kv-azcops.vault.azure.net/",
            "https://localhost.example.com/",
            "https://10.0.0.1/",
        ] {
            assert!(!is_loopback(&url(remote)), "{remote}");
            let options = secret_client_options(&url(remote), ClientOptions::default());
            assert_eq!(options.verify_challenge_resource, Some(true), "{remote}");
        }
    }

    #[test]
    fn vaults_are_named_by_host_and_port() {
        assert_eq!(
            VaultName::of(&url("https://kv-azcops.vault.azure.net/")).to_string(),
            "kv-azcops.vault.azure.net"
        );
        assert_eq!(
            VaultName::of(&url("https://127.0.0.1:8443/")).to_string(),
            "127.0.0.1:8443"
        );
    }
}
