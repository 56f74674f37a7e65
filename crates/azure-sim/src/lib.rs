//! The simulated Azure: an Entra ID token endpoint and the APIs the connectors use (Resource
//! Graph, Cost Management, Advisor, Monitor metrics, Resource SKUs, Retail Prices) in their
//! real wire formats, over a deterministic synthetic estate of 23 resource kinds whose
//! inventory, metrics, costs and prices agree, with planted conditions as ground truth, the
//! documented throttling, injectable faults and request counters. Tests, the local demo and
//! benchmarks start it in-process with [`start`]; the `azure-sim` binary wraps the same call.
//! It speaks only Azure's wire formats and does not depend on AzCops: production's own queries
//! are checked against it by a contract test in the `azcops` package (`tests/it/sim_contract.rs`).
//!
//! Routes (all on one loopback port):
//! - `POST /{tenant}/oauth2/v2.0/token`, `GET /msi/token` — tokens ([`identity`]).
//! - `POST /providers/Microsoft.ResourceGraph/resources` — `Resources` and `ResourceContainers`
//!   ([`resource_graph`]).
//! - `POST /subscriptions/{sub}/providers/Microsoft.CostManagement/query` — daily or
//!   `granularity: None`, grouped by up to two dimensions (e.g. `ResourceId` + `ServiceName`)
//!   ([`cost_management`]).
//! - `GET /subscriptions/{sub}/providers/Microsoft.Advisor/recommendations` ([`advisor`]).
//! - `GET {resourceId}/providers/Microsoft.Insights/metrics` and
//!   `POST /monitor/{region}/subscriptions/{sub}/metrics:getBatch` — VMs, scale sets, managed
//!   disks, App Service plans, SQL databases ([`monitor`], [`metrics::NAMESPACES`]).
//! - `GET /subscriptions/{sub}/providers/Microsoft.Compute/skus` ([`resource_skus`]).
//! - `GET /api/retail/prices` — public, no token ([`retail_prices`]).
//! - `GET /subscriptions/{sub}` — the subscription and its home tenant ([`subscriptions`]).
//! - `GET /_sim/stats`, `POST /_sim/reset`, `GET|POST /_sim/faults`,
//!   `GET /_sim/estate[?subscription={id}]` (tenants, subscriptions and the ground truth of
//!   [`truth`]), `POST /_sim/subscriptions/{sub}/move` (`{"tenant_id": …}`: a subscription
//!   transfer).

pub mod advisor;
pub mod arm;
pub mod auth;
pub mod catalog;
pub mod cost_management;
pub mod cost_query;
pub mod costs;
pub mod dev_idp;
pub mod error;
pub mod estate;
pub mod faults;
pub mod identity;
pub mod kql;
pub mod listener;
pub mod metrics;
pub mod monitor;
pub mod paging;
pub mod resource_graph;
pub mod resource_skus;
pub mod retail_prices;
pub mod rng;
pub mod server;
pub mod shutdown;
pub mod stats;
pub mod subscriptions;
pub mod throttle;
pub mod truth;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

pub use estate::{Estate, EstateConfig};
pub use faults::FaultConfig;
pub use stats::StatsSnapshot;

use listener::{ConnectionKill, SimListener};
use server::{Shared, SimState};

/// Everything the simulator can be told.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The base URL clients use, if not `http://{listen address}/` (e.g. behind a proxy).
    pub public_url: Option<Url>,
    /// The estate to generate.
    pub estate: EstateConfig,
    /// Throttling windows are divided by this (10 makes Resource Graph's 5 s window 0.5 s).
    pub time_scale: f64,
    /// Enforce Resource Graph's and Cost Management's documented quotas.
    pub throttling: bool,
    /// With `throttling`, enforce Cost Management's query units too; off leaves Resource
    /// Graph's quota alone, for tests of that quota that should not wait for query units.
    pub cost_throttling: bool,
    /// Lifetime of issued tokens.
    pub token_lifetime: Duration,
    /// The `X-IDENTITY-HEADER` value the managed-identity endpoint expects.
    pub identity_header: String,
    /// Cost Management's largest page: `$top` is capped at it, and a query without `$top`
    /// gets the smaller of 1,000 rows and this.
    pub cost_page_size: usize,
    /// Advisor recommendations per page when the client sends no `$top`.
    pub advisor_page_size: usize,
    /// Resource SKUs per page (Azure answers in one page; smaller pages exercise `nextLink`).
    pub sku_page_size: usize,
    /// Retail Prices items per page (the service's page is 1,000 items).
    pub prices_page_size: usize,
    /// Faults injected from the start (changeable at runtime via `POST /_sim/faults`).
    pub faults: FaultConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            public_url: None,
            estate: EstateConfig::default(),
            time_scale: 1.0,
            throttling: true,
            cost_throttling: true,
            token_lifetime: Duration::from_secs(3599),
            identity_header: "azure-sim-identity-header".into(),
            cost_page_size: 5000,
            advisor_page_size: 100,
            sku_page_size: 1000,
            prices_page_size: 1000,
            faults: FaultConfig::default(),
        }
    }
}

impl SimConfig {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.time_scale > 0.0 && self.time_scale.is_finite(),
            "time_scale must be a positive number"
        );
        anyhow::ensure!(self.cost_page_size > 0, "cost_page_size must be at least 1");
        anyhow::ensure!(
            self.advisor_page_size > 0 && self.sku_page_size > 0 && self.prices_page_size > 0,
            "advisor_page_size, sku_page_size and prices_page_size must be at least 1"
        );
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.estate.metric_error_rate),
            "metric_error_rate must be between 0 and 1"
        );
        self.faults.validate().map_err(anyhow::Error::msg)
    }
}

/// A running simulator. Dropping it stops the server (without waiting); [`SimHandle::shutdown`]
/// stops it and waits.
#[derive(Debug)]
pub struct SimHandle {
    /// `http://127.0.0.1:{port}/`.
    pub base_url: Url,
    /// The estate it serves, for computing expected results.
    pub estate: Arc<Estate>,
    state: Shared,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Binds, generates the estate and serves in a background task.
pub async fn start(config: SimConfig) -> anyhow::Result<SimHandle> {
    config.validate().context("azure-sim configuration")?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("azure-sim: binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    let base_url = match &config.public_url {
        Some(url) => url.clone(),
        None => Url::parse(&format!("http://{addr}/"))?,
    };
    let estate_config = config.estate.clone();
    let estate =
        Arc::new(tokio::task::spawn_blocking(move || Estate::generate(&estate_config)).await?);
    let state = Arc::new(SimState::new(config, estate.clone(), base_url.clone()));
    let app = server::router(state.clone()).into_make_service_with_connect_info::<ConnectionKill>();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(SimListener::new(listener), app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "azure-sim server failed");
        }
    });
    Ok(SimHandle {
        base_url,
        estate,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

impl SimHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        let host = self
            .base_url
            .host_str()
            .and_then(|h| h.parse().ok())
            .unwrap_or(Ipv4Addr::LOCALHOST.into());
        SocketAddr::new(host, self.base_url.port().unwrap_or(80))
    }

    /// The client-credentials token endpoint of a tenant (the authority is `base_url`).
    pub fn token_url(&self, tenant: uuid::Uuid) -> Url {
        self.join(&format!("{tenant}/oauth2/v2.0/token"))
    }

    /// The App Service managed-identity endpoint (`IDENTITY_ENDPOINT`).
    pub fn msi_url(&self) -> Url {
        self.join("msi/token")
    }

    /// The Monitor data-plane endpoint template, `{region}` to be replaced.
    pub fn metrics_endpoint_template(&self) -> String {
        format!("{}monitor/{{region}}", self.base_url)
    }

    /// A copy of the request counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// Zeroes the counters and restarts the throttling windows.
    pub fn reset(&self) {
        self.state.reset();
    }

    /// The current fault configuration.
    pub fn faults(&self) -> FaultConfig {
        self.state.faults.config()
    }

    /// Replaces the fault configuration.
    pub fn set_faults(&self, faults: FaultConfig) -> anyhow::Result<()> {
        faults.validate().map_err(anyhow::Error::msg)?;
        self.state.faults.set(faults);
        Ok(())
    }

    /// Moves a subscription to another Entra tenant (as `POST /_sim/subscriptions/{id}/move`).
    pub fn move_subscription(
        &self,
        subscription_id: uuid::Uuid,
        tenant_id: uuid::Uuid,
    ) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.estate.move_subscription(subscription_id, tenant_id),
            "no subscription {subscription_id} in the simulated estate"
        );
        Ok(())
    }

    /// Stops accepting requests and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn join(&self, path: &str) -> Url {
        self.base_url
            .join(path)
            .unwrap_or_else(|_| self.base_url.clone())
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
