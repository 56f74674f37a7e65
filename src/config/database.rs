//! The database settings' rules: which combinations of `DATABASE_URL`, Key Vault and login are
//! accepted, and where the URL and password come from. Checked at start-up, each refusal naming
//! the variable at fault.

use secrecy::{ExposeSecret, SecretString};

use super::{Config, ConfigError, DatabaseAuth};
use crate::db::{Login, UrlSource};

impl Config {
    /// Rejects combinations clap cannot express: no database URL and no Key Vault to read it
    /// from; an Entra ID login with a password from anywhere else.
    pub fn validate_database(&self) -> Result<(), ConfigError> {
        let has_url = self
            .database_url
            .as_ref()
            .is_some_and(|u| !u.expose_secret().trim().is_empty());
        if self.database_auth == DatabaseAuth::Entra {
            if !has_url {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "is required with AZCOPS_DATABASE_AUTH=entra (host, database and the managed \
                     identity's role name, without a password)",
                ));
            }
            if self.database_password_secret().is_some() {
                return Err(ConfigError::new(
                    "AZCOPS_DATABASE_PASSWORD_SECRET",
                    "must be unset with AZCOPS_DATABASE_AUTH=entra (the password is a token)",
                ));
            }
        }
        if !has_url && self.key_vault_url().is_none() {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "is required (or set AZCOPS_KEY_VAULT_URL to read it from Key Vault)",
            ));
        }
        Ok(())
    }

    /// Where the database URL comes from and how the application logs in:
    ///
    /// - `DATABASE_URL` set, no `AZCOPS_DATABASE_PASSWORD_SECRET`: that URL (a Key Vault URL, if
    ///   any, is not used for the database).
    /// - `DATABASE_URL` empty and `AZCOPS_KEY_VAULT_URL` set: the whole URL is the secret
    ///   `AZCOPS_DATABASE_URL_SECRET`.
    /// - `DATABASE_URL` without a password, `AZCOPS_KEY_VAULT_URL` and
    ///   `AZCOPS_DATABASE_PASSWORD_SECRET` set: that URL with the secret as its password.
    ///
    /// Anything else that names a password secret is refused rather than guessed at: a password
    /// secret without a vault or without a URL to apply it to, or with a URL that already has a
    /// password (`user:password@` or `?password=`). Secret names must be valid Key Vault names
    /// (1–127 letters, digits and `-`), since they become part of the request path.
    ///
    /// With `AZCOPS_DATABASE_AUTH=entra`, `DATABASE_URL` (without a password) is used with an Entra
    /// ID token of the managed identity as its password.
    pub fn database_source(&self) -> Result<(UrlSource, Login), ConfigError> {
        self.validate_database()?;
        let url = self
            .database_url
            .as_ref()
            .filter(|url| !url.expose_secret().trim().is_empty());
        let client_id = self.azure_client_id().map(str::to_owned);
        let login = match self.database_auth {
            DatabaseAuth::Password => Login::Password,
            DatabaseAuth::Entra => {
                if url.map(url_has_password).transpose()? == Some(true) {
                    return Err(ConfigError::new(
                        "DATABASE_URL",
                        "must not have a password with AZCOPS_DATABASE_AUTH=entra (the password is a \
                         token of the managed identity)",
                    ));
                }
                Login::Entra {
                    client_id: client_id.clone(),
                }
            }
        };
        let source = match (url, self.key_vault_url(), self.database_password_secret()) {
            (Some(url), _, None) => UrlSource::Direct(url.clone()),
            (None, Some(vault), None) => UrlSource::KeyVault {
                vault: vault.clone(),
                secret: key_vault_secret_name(
                    "AZCOPS_DATABASE_URL_SECRET",
                    &self.database_url_secret,
                )?,
                client_id,
            },
            (Some(url), Some(vault), Some(secret)) => {
                if url_has_password(url)? {
                    return Err(ConfigError::new(
                        "AZCOPS_DATABASE_PASSWORD_SECRET",
                        "DATABASE_URL already has a password: remove it from DATABASE_URL, or unset \
                         AZCOPS_DATABASE_PASSWORD_SECRET",
                    ));
                }
                UrlSource::KeyVaultPassword {
                    url: url.clone(),
                    vault: vault.clone(),
                    secret: key_vault_secret_name("AZCOPS_DATABASE_PASSWORD_SECRET", secret)?,
                    client_id,
                }
            }
            (_, None, Some(_)) => {
                return Err(ConfigError::new(
                    "AZCOPS_KEY_VAULT_URL",
                    "is required when AZCOPS_DATABASE_PASSWORD_SECRET is set",
                ));
            }
            (None, Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "DATABASE_URL",
                    "is required (without a password) when AZCOPS_DATABASE_PASSWORD_SECRET is set; \
                     to read the whole URL from Key Vault, unset AZCOPS_DATABASE_PASSWORD_SECRET",
                ));
            }
            (None, None, None) => return Err(ConfigError::new("DATABASE_URL", "is required")),
        };
        Ok((source, login))
    }
}

/// `name`, trimmed, if it is a valid Key Vault secret name.
fn key_vault_secret_name(variable: &'static str, name: &str) -> Result<String, ConfigError> {
    let name = name.trim();
    let valid = (1..=127).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid {
        return Err(ConfigError::new(
            variable,
            format!("`{name}` is not a Key Vault secret name (1-127 letters, digits and -)"),
        ));
    }
    Ok(name.to_owned())
}

/// Whether a database URL carries a password, in its user info or as `?password=`.
fn url_has_password(url: &SecretString) -> Result<bool, ConfigError> {
    // The parse error of `url` never quotes the input.
    let parsed = url::Url::parse(url.expose_secret().trim())
        .map_err(|e| ConfigError::new("DATABASE_URL", format!("is not a URL: {e}")))?;
    Ok(parsed.password().is_some() || parsed.query_pairs().any(|(key, _)| key == "password"))
}
