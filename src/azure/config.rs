//! Azure settings: cloud endpoints (so sovereign clouds and test servers need no code
//! change; the public Retail Prices endpoint too), the credential, timeouts, retries, the
//! Cost Management query quotas and Resource Graph's request quota.

use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::SecretString;
use url::Url;

use super::error::AzureError;
use super::qpu_budget::{QpuLimits, QpuWindow};
use super::throttle::RetryPolicy;

/// How AzCops authenticates to Azure.
#[derive(Debug, Clone, Args)]
pub struct AzureConfig {
    /// Azure Resource Manager endpoint (Azure Government: <https://management.usgovcloudapi.net>).
    /// ARM tokens are requested for `{endpoint}/.default`.
    #[arg(
        long = "azure-arm-endpoint",
        env = "AZCOPS_AZURE_ARM_ENDPOINT",
        value_name = "AZCOPS_AZURE_ARM_ENDPOINT",
        default_value = "https://management.azure.com"
    )]
    pub arm_endpoint: Url,

    /// Entra ID authority host that issues tokens for customer tenants.
    #[arg(
        long = "azure-authority-host",
        env = "AZCOPS_AZURE_AUTHORITY_HOST",
        value_name = "AZCOPS_AZURE_AUTHORITY_HOST",
        default_value = "https://login.microsoftonline.com"
    )]
    pub authority_host: Url,

    /// Azure Monitor metrics data plane (batch API); `{region}` is replaced by the region.
    #[arg(
        long = "azure-monitor-endpoint",
        env = "AZCOPS_AZURE_MONITOR_ENDPOINT",
        value_name = "AZCOPS_AZURE_MONITOR_ENDPOINT",
        default_value = "https://{region}.metrics.monitor.azure.com"
    )]
    pub monitor_endpoint: String,

    /// Token scope of the Monitor metrics data plane.
    #[arg(
        long = "azure-monitor-scope",
        env = "AZCOPS_AZURE_MONITOR_SCOPE",
        value_name = "AZCOPS_AZURE_MONITOR_SCOPE",
        default_value = "https://metrics.monitor.azure.com/.default"
    )]
    pub monitor_scope: String,

    /// Token scope for ARM; default `{AZCOPS_AZURE_ARM_ENDPOINT}/.default` (set it when the
    /// endpoint is a stand-in, e.g. the simulator, that expects the public cloud's scope).
    #[arg(
        long = "azure-arm-scope",
        env = "AZCOPS_AZURE_ARM_SCOPE",
        value_name = "AZCOPS_AZURE_ARM_SCOPE"
    )]
    pub arm_scope: Option<String>,

    /// Azure Retail Prices API (public; no credential is ever sent to it). Price requests go
    /// only to this origin and path, whatever a `NextPageLink` says.
    #[arg(
        long = "azure-retail-prices-url",
        env = "AZCOPS_AZURE_RETAIL_PRICES_URL",
        value_name = "AZCOPS_AZURE_RETAIL_PRICES_URL",
        default_value = "https://prices.azure.com/api/retail/prices"
    )]
    pub retail_prices_url: Url,

    /// `managed-identity` (the app's own tenant), `client-secret` (an app registration in each
    /// customer tenant) or `developer-tools` (Azure CLI / azd login, local only).
    #[arg(long = "azure-credential", env = "AZCOPS_AZURE_CREDENTIAL", value_name = "AZCOPS_AZURE_CREDENTIAL", value_enum, default_value_t = CredentialKind::ManagedIdentity)]
    pub credential: CredentialKind,

    /// Client (application) id of the app registration used with `client-secret`.
    #[arg(
        long = "azure-app-client-id",
        env = "AZCOPS_AZURE_APP_CLIENT_ID",
        value_name = "AZCOPS_AZURE_APP_CLIENT_ID"
    )]
    pub app_client_id: Option<String>,

    /// Client secret for every tenant, for local and simulator use. When unset, each tenant's
    /// secret is read from Key Vault (AZCOPS_KEY_VAULT_URL) as AZCOPS_AZURE_CLIENT_SECRET_NAME.
    #[arg(
        long = "azure-client-secret",
        env = "AZCOPS_AZURE_CLIENT_SECRET",
        value_name = "AZCOPS_AZURE_CLIENT_SECRET",
        hide_env_values = true
    )]
    pub client_secret: Option<SecretString>,

    /// Key Vault secret name of a tenant's client secret; `{tenant}` is its Entra tenant id.
    #[arg(
        long = "azure-client-secret-name",
        env = "AZCOPS_AZURE_CLIENT_SECRET_NAME",
        value_name = "AZCOPS_AZURE_CLIENT_SECRET_NAME",
        default_value = "azure-client-secret-{tenant}"
    )]
    pub client_secret_name: String,

    /// Seconds for one Azure request, connecting to the end of the body.
    #[arg(long = "azure-request-timeout-secs", env = "AZCOPS_AZURE_REQUEST_TIMEOUT_SECS", value_name = "AZCOPS_AZURE_REQUEST_TIMEOUT_SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub request_timeout_secs: u64,

    /// Seconds to establish a connection.
    #[arg(long = "azure-connect-timeout-secs", env = "AZCOPS_AZURE_CONNECT_TIMEOUT_SECS", value_name = "AZCOPS_AZURE_CONNECT_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub connect_timeout_secs: u64,

    /// Attempts per request on 5xx, 429, timeouts and broken connections (1 = no retry).
    #[arg(long = "azure-max-attempts", env = "AZCOPS_AZURE_MAX_ATTEMPTS", value_name = "AZCOPS_AZURE_MAX_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub max_attempts: u32,

    /// First retry backoff in milliseconds, doubled per attempt (with jitter).
    #[arg(
        long = "azure-retry-base-ms",
        env = "AZCOPS_AZURE_RETRY_BASE_MS",
        value_name = "AZCOPS_AZURE_RETRY_BASE_MS",
        default_value_t = 1000
    )]
    pub retry_base_ms: u64,

    /// Largest retry backoff in milliseconds.
    #[arg(
        long = "azure-retry-max-ms",
        env = "AZCOPS_AZURE_RETRY_MAX_MS",
        value_name = "AZCOPS_AZURE_RETRY_MAX_MS",
        default_value_t = 60_000
    )]
    pub retry_max_ms: u64,

    /// A 429 asking to wait longer than this many seconds fails the call (to be rescheduled).
    #[arg(
        long = "azure-max-throttle-wait-secs",
        env = "AZCOPS_AZURE_MAX_THROTTLE_WAIT_SECS",
        value_name = "AZCOPS_AZURE_MAX_THROTTLE_WAIT_SECS",
        default_value_t = 300
    )]
    pub max_throttle_wait_secs: u64,

    /// Cost Management query units (QPU) per tenant per 10 s, per minute and per hour.
    #[arg(long = "azure-cost-qpu-limits", env = "AZCOPS_AZURE_COST_QPU_LIMITS", value_name = "AZCOPS_AZURE_COST_QPU_LIMITS", default_value = "12,60,600", value_parser = parse_qpu_limits)]
    pub cost_qpu_limits: QpuLimits,

    /// Resource Graph requests per principal, and the window in seconds they are counted over
    /// (`15,5`: 15 requests per 5 s). Azure's `x-ms-user-quota-remaining` tightens it further.
    #[arg(long = "azure-resource-graph-quota", env = "AZCOPS_AZURE_RESOURCE_GRAPH_QUOTA", value_name = "AZCOPS_AZURE_RESOURCE_GRAPH_QUOTA", default_value = "15,5", value_parser = parse_request_quota)]
    pub resource_graph_quota: QpuWindow,
}

/// The credential kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CredentialKind {
    /// The app's managed identity (`AZURE_CLIENT_ID` for a user-assigned one).
    ManagedIdentity,
    /// Per tenant, an app registration with a client secret.
    ClientSecret,
    /// Azure CLI or Azure Developer CLI login.
    DeveloperTools,
}

impl AzureConfig {
    /// The retry policy these settings describe.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            base_delay: Duration::from_millis(self.retry_base_ms),
            max_delay: Duration::from_millis(self.retry_max_ms.max(self.retry_base_ms)),
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            max_throttle_wait: Duration::from_secs(self.max_throttle_wait_secs),
        }
    }

    /// The connect timeout of the HTTP client.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    /// Checks what clap cannot: the Monitor template, and the client id of `client-secret`.
    pub fn validate(&self) -> Result<(), AzureError> {
        let sample = self.monitor_endpoint.replace("{region}", "westeurope");
        Url::parse(&sample).map_err(|e| {
            AzureError::Config(format!(
                "AZCOPS_AZURE_MONITOR_ENDPOINT is not a URL template: {e}"
            ))
        })?;
        let prices = &self.retail_prices_url;
        if !matches!(prices.scheme(), "https" | "http")
            || prices.query().is_some()
            || prices.fragment().is_some()
            || !prices.username().is_empty()
        {
            return Err(AzureError::Config(
                "AZCOPS_AZURE_RETAIL_PRICES_URL must be an http(s) URL without query, fragment or user"
                    .into(),
            ));
        }
        if self.credential == CredentialKind::ClientSecret && self.app_client_id().is_none() {
            return Err(AzureError::Config(
                "AZCOPS_AZURE_APP_CLIENT_ID is required with AZCOPS_AZURE_CREDENTIAL=client-secret"
                    .into(),
            ));
        }
        Ok(())
    }

    /// The app registration's client id, if set.
    pub fn app_client_id(&self) -> Option<&str> {
        self.app_client_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
    }
}

/// `per_10s,per_min,per_hour`, e.g. `12,60,600`.
fn parse_qpu_limits(value: &str) -> Result<QpuLimits, String> {
    let numbers: Vec<u32> = value
        .split(',')
        .map(|n| n.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("`{value}`: {e}"))?;
    match numbers[..] {
        [a, b, c] if a > 0 && a <= b && b <= c => Ok(QpuLimits::new(a, b, c)),
        _ => Err(format!(
            "`{value}`: expected three growing limits, e.g. 12,60,600"
        )),
    }
}

/// `requests,seconds`, e.g. `15,5` (the seconds may have decimals: `15,0.5`).
fn parse_request_quota(value: &str) -> Result<QpuWindow, String> {
    let invalid = || format!("`{value}`: expected requests and a window in seconds, e.g. 15,5");
    let (requests, seconds) = value.split_once(',').ok_or_else(invalid)?;
    let limit: u32 = requests.trim().parse().map_err(|_| invalid())?;
    let seconds: f64 = seconds.trim().parse().map_err(|_| invalid())?;
    if limit == 0 || !(seconds > 0.0 && seconds <= 3600.0) {
        return Err(invalid());
    }
    Ok(QpuWindow {
        length: Duration::from_secs_f64(seconds),
        limit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        azure: AzureConfig,
    }

    #[test]
    fn defaults_are_the_public_cloud_and_documented_quotas() {
        let cli = Cli::try_parse_from(["azcops"]).unwrap();
        assert_eq!(
            cli.azure.arm_endpoint.as_str(),
            "https://management.azure.com/"
        );
        assert_eq!(cli.azure.cost_qpu_limits, QpuLimits::default());
        assert_eq!(
            cli.azure.resource_graph_quota,
            crate::azure::qpu_budget::RESOURCE_GRAPH_QUOTA
        );
        assert_eq!(cli.azure.retry_policy().max_attempts, 5);
        assert!(cli.azure.validate().is_ok());
        assert_eq!(
            cli.azure.retail_prices_url.as_str(),
            "https://prices.azure.com/api/retail/prices"
        );
    }

    #[test]
    fn the_retail_prices_url_must_be_a_plain_http_url() {
        for bad in [
            "ftp://prices.example/p",
            "https://prices.example/p?x=1",
            "https://u@prices.example/p",
        ] {
            let cli = Cli::try_parse_from(["azcops", "--azure-retail-prices-url", bad]).unwrap();
            let err = cli.azure.validate().unwrap_err();
            assert!(
                err.to_string().contains("AZCOPS_AZURE_RETAIL_PRICES_URL"),
                "{err}"
            );
        }
        let local = Cli::try_parse_from([
            "azcops",
            "--azure-retail-prices-url",
            "http://127.0.0.1:7090/prices",
        ])
        .unwrap();
        assert!(local.azure.validate().is_ok());
    }

    #[test]
    fn client_secret_needs_a_client_id_and_limits_must_grow() {
        let cli = Cli::try_parse_from(["azcops", "--azure-credential", "client-secret"]).unwrap();
        assert!(cli.azure.validate().is_err());
        assert!(parse_qpu_limits("12,6,600").is_err());
        assert!(parse_qpu_limits("1,2").is_err());
        assert_eq!(
            parse_request_quota("30, 0.5"),
            Ok(QpuWindow {
                length: Duration::from_millis(500),
                limit: 30
            })
        );
        for bad in ["15", "0,5", "15,0", "15,-1", "15,NaN", "x,5"] {
            assert!(parse_request_quota(bad).is_err(), "{bad}");
        }
    }
}
