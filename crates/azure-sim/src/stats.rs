//! Request counters, served at `GET /_sim/stats` and zeroed by `POST /_sim/reset`: calls per
//! API, per subscription and per status, tokens per tenant and scope, throttled calls, injected
//! faults and query units consumed.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The simulated APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Api {
    Token,
    ResourceGraph,
    CostManagement,
    Advisor,
    MonitorMetrics,
    MonitorBatch,
    Subscriptions,
    ResourceSkus,
    RetailPrices,
}

impl Api {
    /// The name used in the stats document.
    pub fn name(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::ResourceGraph => "resource_graph",
            Self::CostManagement => "cost_management",
            Self::Advisor => "advisor",
            Self::MonitorMetrics => "monitor_metrics",
            Self::MonitorBatch => "monitor_batch",
            Self::Subscriptions => "subscriptions",
            Self::ResourceSkus => "resource_skus",
            Self::RetailPrices => "retail_prices",
        }
    }
}

/// A counter per API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCounts {
    pub token: u64,
    pub resource_graph: u64,
    pub cost_management: u64,
    pub advisor: u64,
    pub monitor_metrics: u64,
    pub monitor_batch: u64,
    /// `GET /subscriptions/{id}` (absent in documents written before it existed).
    #[serde(default)]
    pub subscriptions: u64,
    /// `GET /subscriptions/{id}/providers/Microsoft.Compute/skus`.
    #[serde(default)]
    pub resource_skus: u64,
    /// `GET /api/retail/prices` (public).
    #[serde(default)]
    pub retail_prices: u64,
}

impl ApiCounts {
    /// The counter of `api`.
    pub fn get(&self, api: Api) -> u64 {
        match api {
            Api::Token => self.token,
            Api::ResourceGraph => self.resource_graph,
            Api::CostManagement => self.cost_management,
            Api::Advisor => self.advisor,
            Api::MonitorMetrics => self.monitor_metrics,
            Api::MonitorBatch => self.monitor_batch,
            Api::Subscriptions => self.subscriptions,
            Api::ResourceSkus => self.resource_skus,
            Api::RetailPrices => self.retail_prices,
        }
    }

    fn bump(&mut self, api: Api, by: u64) {
        let slot = match api {
            Api::Token => &mut self.token,
            Api::ResourceGraph => &mut self.resource_graph,
            Api::CostManagement => &mut self.cost_management,
            Api::Advisor => &mut self.advisor,
            Api::MonitorMetrics => &mut self.monitor_metrics,
            Api::MonitorBatch => &mut self.monitor_batch,
            Api::Subscriptions => &mut self.subscriptions,
            Api::ResourceSkus => &mut self.resource_skus,
            Api::RetailPrices => &mut self.retail_prices,
        };
        *slot += by;
    }

    /// The sum over all APIs.
    pub fn total(&self) -> u64 {
        self.token
            + self.resource_graph
            + self.cost_management
            + self.advisor
            + self.monitor_metrics
            + self.monitor_batch
            + self.subscriptions
            + self.resource_skus
            + self.retail_prices
    }
}

/// Injected faults by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    pub server_error: u64,
    pub too_many_requests: u64,
    pub reset: u64,
    pub truncate: u64,
    pub latency: u64,
}

/// The stats document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Requests received per API (including those answered with an error or a fault).
    pub requests: ApiCounts,
    /// Responses per API and HTTP status (faults that reset the connection are not responses).
    pub responses: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Requests per subscription and API.
    pub per_subscription: BTreeMap<String, BTreeMap<String, u64>>,
    /// Tokens issued per tenant and scope (`managed-identity` counts the MSI endpoint).
    pub tokens: BTreeMap<String, BTreeMap<String, u64>>,
    /// 429s from the documented throttling (not injected ones).
    pub throttled: ApiCounts,
    /// Injected faults.
    pub faults: FaultCounts,
    /// Cost Management query units charged per tenant.
    pub qpu_consumed: BTreeMap<String, u64>,
}

/// The live counters.
#[derive(Debug, Default)]
pub struct Stats(Mutex<StatsSnapshot>);

/// An injected fault kind, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    ServerError,
    TooManyRequests,
    Reset,
    Truncate,
    Latency,
}

impl Stats {
    fn with(&self, f: impl FnOnce(&mut StatsSnapshot)) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Zeroes every counter.
    pub fn reset(&self) {
        self.with(|s| *s = StatsSnapshot::default());
    }

    /// Counts a request, and one per subscription it names.
    pub fn request(&self, api: Api, subscriptions: &[&str]) {
        self.with(|s| {
            s.requests.bump(api, 1);
            for sub in subscriptions {
                *s.per_subscription
                    .entry(sub.to_ascii_lowercase())
                    .or_default()
                    .entry(api.name().into())
                    .or_default() += 1;
            }
        });
    }

    /// Counts a response status.
    pub fn response(&self, api: Api, status: u16) {
        self.with(|s| {
            *s.responses
                .entry(api.name().into())
                .or_default()
                .entry(status)
                .or_default() += 1
        });
    }

    /// Counts an issued token.
    pub fn token(&self, tenant: &str, scope: &str) {
        self.with(|s| {
            *s.tokens
                .entry(tenant.into())
                .or_default()
                .entry(scope.into())
                .or_default() += 1
        });
    }

    /// Counts a 429 from the documented throttling.
    pub fn throttled(&self, api: Api) {
        self.with(|s| s.throttled.bump(api, 1));
    }

    /// Counts an injected fault.
    pub fn fault(&self, kind: FaultKind) {
        self.with(|s| {
            let f = &mut s.faults;
            *match kind {
                FaultKind::ServerError => &mut f.server_error,
                FaultKind::TooManyRequests => &mut f.too_many_requests,
                FaultKind::Reset => &mut f.reset,
                FaultKind::Truncate => &mut f.truncate,
                FaultKind::Latency => &mut f.latency,
            } += 1;
        });
    }

    /// Counts query units charged to a tenant.
    pub fn qpu(&self, tenant: &str, units: u32) {
        self.with(|s| *s.qpu_consumed.entry(tenant.into()).or_default() += u64::from(units));
    }
}
