//! The `azure-sim` binary: the simulated Azure of [`azure_sim`] on a loopback port, for the
//! local demo and benchmarks. Every knob is a flag with an `AZURE_SIM_*` variable; it logs one
//! `listening addr=…` line and serves until Ctrl-C or SIGTERM.
//!
//! `azure-sim dev-idp` runs the development identity provider ([`azure_sim::dev_idp`])
//! instead: the JWKS and token minting that local AzCops instances trust. It lives here, not in
//! the deployed `azcops` binary, so that nothing deployed can mint tokens.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use url::Url;

use azure_sim::dev_idp::{self, DevIdpConfig};
use azure_sim::{self as sim, EstateConfig, FaultConfig, SimConfig, shutdown};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// A simulated Azure (Entra ID, Resource Graph, Cost Management, Advisor, Monitor) over a
/// deterministic synthetic estate.
#[derive(Debug, Parser)]
#[command(name = "azure-sim", version)]
struct Cli {
    /// Without a subcommand: the simulated Azure.
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "AZURE_SIM_LISTEN", default_value = "127.0.0.1:7090")]
    listen: SocketAddr,
    /// Base URL advertised in nextLinks, if clients reach the simulator elsewhere.
    #[arg(long, env = "AZURE_SIM_PUBLIC_URL")]
    public_url: Option<Url>,
    /// Seed of the estate (same seed and day, same responses).
    #[arg(long, env = "AZURE_SIM_SEED", default_value_t = 42)]
    seed: u64,
    /// Customer tenants.
    #[arg(long, env = "AZURE_SIM_TENANTS", default_value_t = 2)]
    tenants: usize,
    /// Subscriptions per tenant.
    #[arg(long, env = "AZURE_SIM_SUBSCRIPTIONS_PER_TENANT", default_value_t = 2)]
    subscriptions_per_tenant: usize,
    /// Resources per subscription.
    #[arg(
        long,
        env = "AZURE_SIM_RESOURCES_PER_SUBSCRIPTION",
        default_value_t = 50
    )]
    resources_per_subscription: usize,
    /// Days of cost data, ending yesterday.
    #[arg(long, env = "AZURE_SIM_COST_DAYS", default_value_t = 35)]
    cost_days: u32,
    /// The simulator's "today" (YYYY-MM-DD); the real date by default.
    #[arg(long, env = "AZURE_SIM_TODAY")]
    today: Option<NaiveDate>,
    /// Fraction of (VM, metric) pairs answered with an error code inside a 200.
    #[arg(long, env = "AZURE_SIM_METRIC_ERROR_RATE", default_value_t = 0.0)]
    metric_error_rate: f64,
    /// Divides throttling windows (10 = ten times faster).
    #[arg(long, env = "AZURE_SIM_TIME_SCALE", default_value_t = 1.0)]
    time_scale: f64,
    /// Enforce the documented Resource Graph and Cost Management quotas.
    #[arg(long, env = "AZURE_SIM_THROTTLING", value_enum, default_value_t = Switch::On)]
    throttling: Switch,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, env = "AZURE_SIM_TOKEN_LIFETIME_SECS", default_value_t = 3599)]
    token_lifetime_secs: u64,
    /// The X-IDENTITY-HEADER value the managed-identity endpoint expects.
    #[arg(
        long,
        env = "AZURE_SIM_IDENTITY_HEADER",
        default_value = "azure-sim-identity-header"
    )]
    identity_header: String,
    /// Cost Management's largest page (`$top` is capped at it; without `$top`, the smaller
    /// of 1,000 rows and this).
    #[arg(long, env = "AZURE_SIM_COST_PAGE_SIZE", default_value_t = 5000)]
    cost_page_size: usize,
    /// Advisor recommendations per page without `$top`.
    #[arg(long, env = "AZURE_SIM_ADVISOR_PAGE_SIZE", default_value_t = 100)]
    advisor_page_size: usize,
    /// Resource SKUs per page.
    #[arg(long, env = "AZURE_SIM_SKU_PAGE_SIZE", default_value_t = 1000)]
    sku_page_size: usize,
    /// Retail Prices items per page.
    #[arg(long, env = "AZURE_SIM_PRICES_PAGE_SIZE", default_value_t = 1000)]
    prices_page_size: usize,
    /// Fraction of ARM/Monitor calls answered with a 500/502/503/504.
    #[arg(
        long = "fault-5xx-rate",
        env = "AZURE_SIM_FAULT_5XX_RATE",
        default_value_t = 0.0
    )]
    fault_5xx_rate: f64,
    /// Fraction answered with an injected 429.
    #[arg(
        long = "fault-429-rate",
        env = "AZURE_SIM_FAULT_429_RATE",
        default_value_t = 0.0
    )]
    fault_429_rate: f64,
    /// Fraction whose connection is reset without a response.
    #[arg(long, env = "AZURE_SIM_FAULT_RESET_RATE", default_value_t = 0.0)]
    fault_reset_rate: f64,
    /// Fraction whose body is cut in half.
    #[arg(long, env = "AZURE_SIM_FAULT_TRUNCATE_RATE", default_value_t = 0.0)]
    fault_truncate_rate: f64,
    /// Latency added to every ARM/Monitor call, in milliseconds.
    #[arg(long, env = "AZURE_SIM_FAULT_LATENCY_MS", default_value_t = 0)]
    fault_latency_ms: u64,
    /// Seed of the fault sequence.
    #[arg(long, env = "AZURE_SIM_FAULT_SEED", default_value_t = 1)]
    fault_seed: u64,
    /// Plants a cost anomaly this many days before today (the demo's: its first subscription's
    /// costliest resource spikes so the subscription's cost that day at least doubles).
    #[arg(long, env = "AZURE_SIM_PLANT_COST_ANOMALY", value_name = "DAYS_AGO")]
    plant_cost_anomaly: Option<u32>,
    #[command(flatten)]
    log: LogConfig,
}

/// What else `azure-sim` can run.
#[derive(Debug, Subcommand)]
enum Command {
    /// A development identity provider for local AzCops instances: `GET /keys` (JWKS) and
    /// `GET /token` (a signed access token as text). Never for production.
    DevIdp {
        #[command(flatten)]
        idp: DevIdpConfig,
        #[command(flatten)]
        log: LogConfig,
    },
}

/// How it logs, to stdout (the same settings as `azcops`, so one environment serves both).
#[derive(Debug, Clone, clap::Args)]
struct LogConfig {
    /// `text` for people, `json` for log pipelines.
    #[arg(long = "log-format", env = "AZCOPS_LOG_FORMAT", value_name = "AZCOPS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    format: LogFormat,
    /// Log filter in `tracing` syntax, e.g. `info,azure_sim=debug`.
    #[arg(
        long = "log-level",
        env = "RUST_LOG",
        value_name = "RUST_LOG",
        default_value = "info"
    )]
    filter: String,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

impl LogConfig {
    /// Installs the global subscriber.
    fn init(&self) -> anyhow::Result<()> {
        let filter = EnvFilter::try_new(&self.filter)
            .map_err(|e| anyhow::anyhow!("configuration: RUST_LOG: invalid filter: {e}"))?;
        let registry = tracing_subscriber::registry().with(filter);
        match self.format {
            LogFormat::Json => registry
                .with(
                    fmt::layer()
                        .json()
                        .flatten_event(true)
                        .with_current_span(true)
                        .with_span_list(false),
                )
                .try_init()?,
            LogFormat::Text => registry
                .with(
                    fmt::layer()
                        .with_target(false)
                        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout())),
                )
                .try_init()?,
        }
        Ok(())
    }
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

impl Cli {
    fn config(&self) -> SimConfig {
        SimConfig {
            listen: self.listen,
            public_url: self.public_url.clone(),
            estate: EstateConfig {
                seed: self.seed,
                tenants: self.tenants,
                subscriptions_per_tenant: self.subscriptions_per_tenant,
                resources_per_subscription: self.resources_per_subscription,
                cost_days: self.cost_days,
                today: self.today,
                metric_error_rate: self.metric_error_rate,
            },
            time_scale: self.time_scale,
            throttling: self.throttling == Switch::On,
            cost_throttling: true,
            token_lifetime: Duration::from_secs(self.token_lifetime_secs),
            identity_header: self.identity_header.clone(),
            cost_page_size: self.cost_page_size,
            advisor_page_size: self.advisor_page_size,
            sku_page_size: self.sku_page_size,
            prices_page_size: self.prices_page_size,
            faults: FaultConfig {
                rate_5xx: self.fault_5xx_rate,
                rate_429: self.fault_429_rate,
                rate_reset: self.fault_reset_rate,
                rate_truncate: self.fault_truncate_rate,
                latency_ms: self.fault_latency_ms,
                seed: self.fault_seed,
            },
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = match &cli.command {
        Some(Command::DevIdp { log, .. }) => log,
        None => &cli.log,
    };
    if let Err(e) = log.init() {
        eprintln!("azure-sim: {e:#}");
        return ExitCode::from(2);
    }
    let result = match &cli.command {
        Some(Command::DevIdp { idp, .. }) => dev_idp::serve(idp).await,
        None => run(cli.config(), cli.plant_cost_anomaly).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "azure-sim failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: SimConfig, plant_cost_anomaly: Option<u32>) -> anyhow::Result<()> {
    let handle = sim::start(config).await?;
    let estate = &handle.estate;
    if let Some(days_ago) = plant_cost_anomaly {
        let planted = estate.plant_cost_anomaly(days_ago).ok_or_else(|| {
            anyhow::anyhow!(
                "no cost anomaly can be planted {days_ago} days ago (no cost data that day)"
            )
        })?;
        tracing::info!(
            resource_id = planted.resource_id,
            date = %planted.date,
            factor = planted.factor,
            "sim cost anomaly planted"
        );
    }
    tracing::info!(
        addr = %handle.addr(),
        base_url = %handle.base_url,
        tenants = estate.tenants().len(),
        subscriptions = estate.subscriptions().len(),
        resources = estate.resources().len(),
        "listening"
    );
    shutdown::signal().await;
    handle.shutdown().await;
    tracing::info!("shut down");
    Ok(())
}
