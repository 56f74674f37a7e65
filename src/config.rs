//! Configuration, read once from the environment (as Functions app settings and Key Vault
//! references arrive) with clap, so `azcops --help` documents every variable.

use std::net::IpAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::SecretString;
use url::Url;
use uuid::Uuid;

use crate::db::partitions::{MIN_RETENTION_MONTHS, Retention};

mod database;
mod ui;

pub use ui::{DEFAULT_UI_AUTHORITY, UiConfig, UiSettings};

/// Issuer templates accepted by default: Entra ID v2.0 and v1.0 access tokens.
pub const DEFAULT_ISSUERS: &str =
    "https://login.microsoftonline.com/{tid}/v2.0,https://sts.windows.net/{tid}/";

/// Settings shared by every subcommand that talks to the database or serves the API.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// PostgreSQL connection URL. Not needed when the URL is read from Key Vault.
    #[arg(
        long,
        env = "DATABASE_URL",
        value_name = "DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<SecretString>,

    /// Key Vault to read the database URL, or only its password, from (e.g.
    /// https://myvault.vault.azure.net/), with the managed identity.
    #[arg(
        long,
        env = "AZCOPS_KEY_VAULT_URL",
        value_name = "AZCOPS_KEY_VAULT_URL"
    )]
    pub key_vault_url: Option<OptionalUrl>,

    /// Name of the Key Vault secret holding the database URL.
    #[arg(
        long,
        env = "AZCOPS_DATABASE_URL_SECRET",
        value_name = "AZCOPS_DATABASE_URL_SECRET",
        default_value = "database-url"
    )]
    pub database_url_secret: String,

    /// Name of the Key Vault secret holding the database password. When set, DATABASE_URL
    /// (without a password) is used with this password; otherwise a Key Vault holds the whole URL.
    #[arg(
        long,
        env = "AZCOPS_DATABASE_PASSWORD_SECRET",
        value_name = "AZCOPS_DATABASE_PASSWORD_SECRET"
    )]
    pub database_password_secret: Option<String>,

    /// Client id of the user-assigned managed identity used for Key Vault and Azure (system-assigned when unset).
    #[arg(long, env = "AZURE_CLIENT_ID", value_name = "AZURE_CLIENT_ID")]
    pub azure_client_id: Option<String>,

    /// Maximum database connections per process.
    #[arg(long, env = "AZCOPS_DB_MAX_CONNECTIONS", value_name = "AZCOPS_DB_MAX_CONNECTIONS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub db_max_connections: u32,

    /// How the application logs in to PostgreSQL: `password` (the URL's, or one from Key
    /// Vault) or `entra` (Azure: DATABASE_URL names the managed identity's database role, without
    /// a password; the password is an Entra ID token of the managed identity, refreshed before
    /// it expires).
    #[arg(long, env = "AZCOPS_DATABASE_AUTH", value_name = "AZCOPS_DATABASE_AUTH", value_enum, default_value_t = DatabaseAuth::Password)]
    pub database_auth: DatabaseAuth,

    /// Apply pending migrations when the handler starts (after the port is bound). Local
    /// development only: refused when running in Azure, where `azcops migrate` runs as a deploy
    /// step with the owner's credentials.
    #[arg(long, env = "AZCOPS_MIGRATE_ON_START", value_name = "AZCOPS_MIGRATE_ON_START", default_value_t = false, action = clap::ArgAction::Set)]
    pub migrate_on_start: bool,

    /// Months of cost history kept before the current month: the daily timer drops the monthly
    /// partitions of the cost tables older than that, whole. 0 (the default) keeps everything;
    /// otherwise at least 12, since a summary may cover 366 days.
    #[arg(long, env = "AZCOPS_COST_RETENTION_MONTHS", value_name = "AZCOPS_COST_RETENTION_MONTHS", default_value_t = 0, value_parser = parse_cost_retention)]
    pub cost_retention_months: u32,

    #[command(flatten)]
    pub auth: AuthConfig,

    #[command(flatten)]
    pub azure: crate::azure::config::AzureConfig,

    #[command(flatten)]
    pub ingestion: crate::ingestion::runtime::IngestionConfig,

    #[command(flatten)]
    pub log: LogConfig,

    #[command(flatten)]
    pub exports: ExportConfig,

    #[command(flatten)]
    pub ui: UiConfig,

    #[command(flatten)]
    pub export_jobs: ExportJobConfig,
}

/// Default of `AZCOPS_EXPORT_SYNC_MAX_ROWS`.
pub const DEFAULT_EXPORT_SYNC_MAX_ROWS: u64 = 1_000_000;
/// Default of `AZCOPS_EXPORT_BATCH_ROWS`.
pub const DEFAULT_EXPORT_BATCH_ROWS: u32 = 10_000;

/// The synchronous CSV exports (`GET /api/v1/{recommendations,resources,costs}/export.csv`).
#[derive(Debug, Clone, Copy, Args)]
pub struct ExportConfig {
    /// Most rows a synchronous CSV export streams: a larger one answers 422, pointing to
    /// export jobs.
    #[arg(long, env = "AZCOPS_EXPORT_SYNC_MAX_ROWS", value_name = "AZCOPS_EXPORT_SYNC_MAX_ROWS", default_value_t = DEFAULT_EXPORT_SYNC_MAX_ROWS, value_parser = clap::value_parser!(u64).range(1..))]
    pub export_sync_max_rows: u64,

    /// Rows a CSV export reads from the database per batch (each batch in its own short
    /// transaction, read only when the previous one has been sent).
    #[arg(long, env = "AZCOPS_EXPORT_BATCH_ROWS", value_name = "AZCOPS_EXPORT_BATCH_ROWS", default_value_t = DEFAULT_EXPORT_BATCH_ROWS, value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub export_batch_rows: u32,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            export_sync_max_rows: DEFAULT_EXPORT_SYNC_MAX_ROWS,
            export_batch_rows: DEFAULT_EXPORT_BATCH_ROWS,
        }
    }
}

/// How API callers are authenticated.
#[derive(Debug, Clone, Args)]
pub struct AuthConfig {
    /// `entra` validates Entra ID bearer tokens; `disabled` (local development only, refused in
    /// Azure) treats every caller as an operator admin.
    #[arg(long = "auth-mode", env = "AZCOPS_AUTH_MODE", value_name = "AZCOPS_AUTH_MODE", value_enum, default_value_t = AuthMode::Entra)]
    pub mode: AuthMode,

    /// JWKS endpoint of the token issuer, e.g. https://login.microsoftonline.com/common/discovery/v2.0/keys.
    #[arg(
        long = "auth-jwks-url",
        env = "AZCOPS_AUTH_JWKS_URL",
        value_name = "AZCOPS_AUTH_JWKS_URL"
    )]
    pub jwks_url: Option<Url>,

    /// Expected `aud` of access tokens (the API's application ID URI or client id).
    #[arg(
        long = "auth-audience",
        env = "AZCOPS_AUTH_AUDIENCE",
        value_name = "AZCOPS_AUTH_AUDIENCE"
    )]
    pub audience: Option<String>,

    /// Comma-separated issuer templates; `{tid}` is replaced by the token's tenant id.
    #[arg(long = "auth-issuers", env = "AZCOPS_AUTH_ISSUERS", value_name = "AZCOPS_AUTH_ISSUERS", default_value = DEFAULT_ISSUERS, value_delimiter = ',', value_parser = parse_issuer_template)]
    pub issuers: Vec<String>,

    /// Entra ID tenant whose `AzCops.Admin` callers manage every tenant.
    #[arg(
        long = "operator-tenant-id",
        env = "AZCOPS_OPERATOR_TENANT_ID",
        value_name = "AZCOPS_OPERATOR_TENANT_ID"
    )]
    pub operator_tenant_id: Option<Uuid>,
}

/// Authentication modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Validate Entra ID access tokens.
    Entra,
    /// No authentication: local development only.
    Disabled,
}

/// How the application logs in to PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatabaseAuth {
    /// The password of DATABASE_URL, or one read from Key Vault.
    Password,
    /// An Entra ID access token of the managed identity (Azure Database for PostgreSQL).
    Entra,
}

/// Log output.
#[derive(Debug, Clone, Args)]
pub struct LogConfig {
    /// `text` for people, `json` for Application Insights and log pipelines.
    #[arg(long = "log-format", env = "AZCOPS_LOG_FORMAT", value_name = "AZCOPS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub format: LogFormat,

    /// Log filter in `tracing` syntax, e.g. `info,azcops=debug`.
    #[arg(
        long = "log-level",
        env = "RUST_LOG",
        value_name = "RUST_LOG",
        default_value = "info"
    )]
    pub filter: String,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// A URL setting that may be left empty (an empty app setting means "not set").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalUrl(pub Option<Url>);

impl std::str::FromStr for OptionalUrl {
    type Err = url::ParseError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value.is_empty() {
            Ok(Self(None))
        } else {
            Url::parse(value).map(|u| Self(Some(u)))
        }
    }
}

/// Authentication settings after validation: what the API layer needs.
#[derive(Debug, Clone)]
pub enum AuthSettings {
    /// Validate tokens.
    Entra {
        jwks_url: Url,
        audience: String,
        issuers: Vec<String>,
        operator_tenant_id: Uuid,
    },
    /// Every caller is the local operator admin.
    Disabled,
}

/// A configuration error naming the variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

impl AuthConfig {
    /// Checks that the chosen mode has what it needs. `in_azure` comes from [`running_in_azure`].
    pub fn validate(&self, in_azure: bool) -> Result<AuthSettings, ConfigError> {
        if self.mode == AuthMode::Disabled {
            if in_azure {
                return Err(ConfigError::new(
                    "AZCOPS_AUTH_MODE",
                    "`disabled` is for local development and is refused when running in Azure",
                ));
            }
            return Ok(AuthSettings::Disabled);
        }
        let jwks_url = self
            .jwks_url
            .clone()
            .ok_or_else(|| ConfigError::new("AZCOPS_AUTH_JWKS_URL", "is required"))?;
        let audience = self
            .audience
            .clone()
            .filter(|a| !a.trim().is_empty())
            .ok_or_else(|| ConfigError::new("AZCOPS_AUTH_AUDIENCE", "is required"))?;
        let operator_tenant_id = self
            .operator_tenant_id
            .ok_or_else(|| ConfigError::new("AZCOPS_OPERATOR_TENANT_ID", "is required"))?;
        Ok(AuthSettings::Entra {
            jwks_url,
            audience,
            issuers: self.issuers.clone(),
            operator_tenant_id,
        })
    }
}

impl Config {
    /// The Key Vault to read the database URL from, if any.
    pub fn key_vault_url(&self) -> Option<&Url> {
        self.key_vault_url.as_ref().and_then(|u| u.0.as_ref())
    }

    /// The Key Vault secret holding the database password, if one is named.
    pub fn database_password_secret(&self) -> Option<&str> {
        self.database_password_secret
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
    }

    /// The user-assigned identity's client id, if one is set.
    pub fn azure_client_id(&self) -> Option<&str> {
        self.azure_client_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
    }

    /// Checks the settings that only serving uses: migrations on start are refused when
    /// running in Azure (`in_azure`, from [`running_in_azure`]), where the application's login
    /// owns nothing and migrations are a deploy step.
    pub fn validate_serving(&self, in_azure: bool) -> Result<(), ConfigError> {
        if self.migrate_on_start && in_azure {
            return Err(ConfigError::new(
                "AZCOPS_MIGRATE_ON_START",
                "is refused when running in Azure: apply migrations with `azcops migrate` as the \
                 database owner in the deploy step, and set it to false",
            ));
        }
        Ok(())
    }

    /// How long cost data is kept (`AZCOPS_COST_RETENTION_MONTHS`).
    pub fn cost_retention(&self) -> Retention {
        match self.cost_retention_months {
            0 => Retention::KeepAll,
            months => Retention::Months(months),
        }
    }

    /// How long to wait for a database connection before failing a request.
    pub fn db_acquire_timeout(&self) -> Duration {
        Duration::from_secs(5)
    }
}

/// Where a serving process can be reached from: what decides whether development-only settings
/// are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    /// Running on an Azure App Service / Functions worker ([`running_in_azure`]).
    pub in_azure: bool,
    /// Listening on an address other than loopback (e.g. `0.0.0.0`).
    pub public_listener: bool,
}

impl Exposure {
    /// The exposure of this process when it listens on `listen`.
    pub fn detect(listen: IpAddr) -> Self {
        Self {
            in_azure: running_in_azure(),
            public_listener: !listen.is_loopback(),
        }
    }

    /// Why development settings are refused here, if they are (ends a sentence).
    fn production(self) -> Option<&'static str> {
        if self.in_azure {
            Some("when running in Azure")
        } else if self.public_listener {
            Some("when listening on a non-loopback address")
        } else {
            None
        }
    }
}

impl Config {
    /// Refuses the settings that only make sense on a developer's machine (no authentication,
    /// a plain-`http://` JWKS URL, Azure authority host or page sign-in authority) when the process runs in Azure or
    /// listens beyond loopback. Locally they stay allowed: the simulator and the development
    /// identity provider serve `http://127.0.0.1`.
    pub fn refuse_development_settings(&self, exposure: Exposure) -> Result<(), ConfigError> {
        refuse_development_settings(exposure, &self.auth, &self.azure.authority_host)?;
        self.ui.refuse_insecure(exposure)
    }

    /// What the web page is told: its sign-in settings, with the API's audience.
    pub fn ui_settings(&self) -> UiSettings {
        self.ui
            .settings(self.auth.audience.as_deref(), self.auth.operator_tenant_id)
    }
}

/// [`Config::refuse_development_settings`] over the settings it inspects.
fn refuse_development_settings(
    exposure: Exposure,
    auth: &AuthConfig,
    authority_host: &Url,
) -> Result<(), ConfigError> {
    let Some(context) = exposure.production() else {
        return Ok(());
    };
    if auth.mode == AuthMode::Disabled {
        return Err(ConfigError::new(
            "AZCOPS_AUTH_MODE",
            format!("`disabled` is for local development and is refused {context}"),
        ));
    }
    let insecure = |url: &Url| url.scheme() != "https";
    if auth.jwks_url.as_ref().is_some_and(insecure) {
        return Err(ConfigError::new(
            "AZCOPS_AUTH_JWKS_URL",
            format!(
                "must be an https:// URL {context} (the token signing keys must not be forgeable in transit)"
            ),
        ));
    }
    if insecure(authority_host) {
        return Err(ConfigError::new(
            "AZCOPS_AZURE_AUTHORITY_HOST",
            format!("must be an https:// URL {context}"),
        ));
    }
    Ok(())
}

/// True when the process runs on an Azure App Service / Functions worker (the platform sets
/// these variables; Core Tools and `azcops host` do not).
pub fn running_in_azure() -> bool {
    [
        "WEBSITE_INSTANCE_ID",
        "WEBSITE_SITE_NAME",
        "WEBSITE_OWNER_NAME",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

fn parse_cost_retention(value: &str) -> Result<u32, String> {
    let months: u32 = value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a number of months"))?;
    if months != 0 && !(MIN_RETENTION_MONTHS..=1200).contains(&months) {
        return Err(format!(
            "{months} months: 0 keeps everything, otherwise {MIN_RETENTION_MONTHS} to 1200 (a summary covers up to 366 days)"
        ));
    }
    Ok(months)
}

fn parse_issuer_template(value: &str) -> Result<String, String> {
    let value = value.trim();
    if !value.contains("{tid}") {
        return Err(format!("issuer template `{value}` must contain {{tid}}"));
    }
    Url::parse(&value.replace("{tid}", &Uuid::nil().to_string()))
        .map_err(|e| format!("issuer template `{value}` is not a URL: {e}"))?;
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(mode: AuthMode) -> AuthConfig {
        AuthConfig {
            mode,
            jwks_url: Some(Url::parse("http://127.0.0.1:1/keys").unwrap()),
            audience: Some("api://azcops".into()),
            issuers: vec!["https://sts.windows.net/{tid}/".into()],
            operator_tenant_id: Some(Uuid::new_v4()),
        }
    }

    #[test]
    fn disabled_auth_is_refused_in_azure() {
        let err = auth(AuthMode::Disabled).validate(true).unwrap_err();
        assert_eq!(err.variable, "AZCOPS_AUTH_MODE");
        assert!(matches!(
            auth(AuthMode::Disabled).validate(false),
            Ok(AuthSettings::Disabled)
        ));
    }

    const LOCAL: Exposure = Exposure {
        in_azure: false,
        public_listener: false,
    };
    const IN_AZURE: Exposure = Exposure {
        in_azure: true,
        public_listener: false,
    };
    const PUBLIC: Exposure = Exposure {
        in_azure: false,
        public_listener: true,
    };

    fn https_auth() -> AuthConfig {
        AuthConfig {
            jwks_url: Some(
                Url::parse("https://login.microsoftonline.com/common/discovery/v2.0/keys").unwrap(),
            ),
            ..auth(AuthMode::Entra)
        }
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn refused_variable(exposure: Exposure, auth: &AuthConfig, authority: &str) -> &'static str {
        refuse_development_settings(exposure, auth, &url(authority))
            .unwrap_err()
            .variable
    }

    #[test]
    fn development_settings_are_refused_in_azure_and_beyond_loopback() {
        let entra = "https://login.microsoftonline.com";
        let sim = "http://127.0.0.1:7090";
        for exposure in [IN_AZURE, PUBLIC] {
            let disabled = auth(AuthMode::Disabled);
            assert_eq!(
                refused_variable(exposure, &disabled, entra),
                "AZCOPS_AUTH_MODE"
            );
            let http_jwks = auth(AuthMode::Entra);
            assert_eq!(
                refused_variable(exposure, &http_jwks, entra),
                "AZCOPS_AUTH_JWKS_URL"
            );
            assert_eq!(
                refused_variable(exposure, &https_auth(), sim),
                "AZCOPS_AZURE_AUTHORITY_HOST"
            );
            assert!(refuse_development_settings(exposure, &https_auth(), &url(entra)).is_ok());
        }
        let err = refuse_development_settings(PUBLIC, &auth(AuthMode::Disabled), &url(entra))
            .unwrap_err();
        assert!(err.to_string().contains("non-loopback"), "{err}");
    }

    #[test]
    fn development_settings_stay_allowed_on_a_local_loopback_listener() {
        let sim = url("http://127.0.0.1:7090");
        for auth in [auth(AuthMode::Disabled), auth(AuthMode::Entra)] {
            assert!(refuse_development_settings(LOCAL, &auth, &sim).is_ok());
        }
        assert!(!Exposure::detect(IpAddr::from([127, 0, 0, 1])).public_listener);
        assert!(!Exposure::detect("::1".parse().unwrap()).public_listener);
        assert!(Exposure::detect(IpAddr::from([0, 0, 0, 0])).public_listener);
        assert!(Exposure::detect(IpAddr::from([10, 1, 2, 3])).public_listener);
    }

    #[test]
    fn entra_auth_names_the_missing_variable() {
        let mut cfg = auth(AuthMode::Entra);
        cfg.audience = None;
        assert_eq!(
            cfg.validate(false).unwrap_err().variable,
            "AZCOPS_AUTH_AUDIENCE"
        );
        cfg = auth(AuthMode::Entra);
        cfg.operator_tenant_id = None;
        assert_eq!(
            cfg.validate(false).unwrap_err().variable,
            "AZCOPS_OPERATOR_TENANT_ID"
        );
        cfg = auth(AuthMode::Entra);
        cfg.jwks_url = None;
        assert_eq!(
            cfg.validate(false).unwrap_err().variable,
            "AZCOPS_AUTH_JWKS_URL"
        );
    }

    #[test]
    fn cost_retention_is_zero_for_everything_or_at_least_a_year() {
        assert_eq!(parse_cost_retention("0"), Ok(0));
        assert_eq!(parse_cost_retention(" 24 "), Ok(24));
        assert_eq!(parse_cost_retention("12"), Ok(12));
        assert!(
            parse_cost_retention("11")
                .unwrap_err()
                .contains("12 to 1200")
        );
        assert!(parse_cost_retention("1201").is_err());
        assert!(parse_cost_retention("two years").is_err());
    }

    #[test]
    fn issuer_templates_must_name_the_tenant() {
        assert!(parse_issuer_template("https://sts.windows.net/").is_err());
        assert!(parse_issuer_template("not a url {tid}").is_err());
        assert_eq!(
            parse_issuer_template(" https://sts.windows.net/{tid}/ ").unwrap(),
            "https://sts.windows.net/{tid}/"
        );
    }
}

/// Export job settings.
#[derive(Debug, Clone, Args)]
pub struct ExportJobConfig {
    /// The export jobs' queue (as in functions/export-job/function.json), on the ingestion
    /// queue's storage connection.
    #[arg(
        long,
        env = "AZCOPS_EXPORT_QUEUE",
        value_name = "AZCOPS_EXPORT_QUEUE",
        default_value = "azcops-export"
    )]
    pub export_queue: String,
    /// Base64 of the key (at least 32 bytes) download links are signed with. Every instance
    /// must share it; without it each process draws its own, so a link works only on the
    /// instance that made it.
    #[arg(
        long,
        env = "AZCOPS_EXPORT_LINK_KEY",
        value_name = "AZCOPS_EXPORT_LINK_KEY",
        hide_env_values = true
    )]
    pub export_link_key: Option<String>,
    /// How long a download link stays valid, in seconds.
    #[arg(long, env = "AZCOPS_EXPORT_LINK_TTL_SECS", value_name = "AZCOPS_EXPORT_LINK_TTL_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub export_link_ttl_secs: u64,
}
