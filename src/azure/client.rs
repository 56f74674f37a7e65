//! The one Azure HTTP client every connector uses.
//!
//! For each request it gets a token from the [`TokenCache`] (ARM scope `{arm}/.default`, the
//! Monitor data plane's own scope for [`Api::MonitorBatch`]), paces it by the [`QpuBudget`]
//! (Resource Graph's per-principal request quota; Cost Management's per-tenant query units),
//! sends it with a timeout, logs one line,
//! and retries per the [`RetryPolicy`]: 500/502/503/504, timeouts, broken connections and cut-off
//! bodies with exponential backoff and jitter; 429 and Monitor's 529 after the largest retry
//! header Azure sent. Any other 4xx fails at once with ARM's error code and message. Paging
//! helpers are in [`super::paging`]; one attempt's mechanics in `client/attempt.rs`.
//!
//! Tokens are sent only to the configured ARM endpoint and Monitor template, so a `nextLink`
//! pointing elsewhere is refused. The public Retail Prices API ([`Api::RetailPrices`]) goes
//! through the same retries and throttling but never gets a token (no `Authorization` header),
//! and only its configured endpoint (origin and path) is requested.
//!
//! Cost Management: every request of [`Api::CostManagement`] first acquires query units from
//! the budget: 1 with [`AzureClient::get`]/[`AzureClient::post`], or the months of data the
//! query touches with [`AzureClient::post_cost_query`] and [`AzureClient::post_pages`] with
//! [`super::paging::PostPaging::cost_query`] (charged again for each page and each retry).
//!
//! Resource Graph: every attempt of [`Api::ResourceGraph`] first acquires one request from the
//! quota of the token's principal ([`credentials::principal_of`]; the Entra tenant when the
//! token names none), and each answer's `x-ms-user-quota-*` headers (or a 429) tighten it.

mod attempt;
mod endpoints;
mod urls;

use std::sync::Arc;
use std::time::Duration;

// The `bytes` crate's type, as axum re-exports it (reqwest sends and returns it).
use axum::body::Bytes;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

pub use super::stats::{ApiStats, CallStats};
pub use endpoints::{DEFAULT_RETAIL_PRICES_URL, Endpoints};
pub use urls::same_origin_redirects;

use super::config::AzureConfig;
use super::credentials::{self, TokenCache};
use super::error::AzureError;
use super::qpu_budget::QpuBudget;
use super::recorder::Recorder;
use super::throttle::RetryPolicy;
use urls::{build_url, matches_template, same_endpoint, with_query};

/// The Azure APIs, each with its own token scope, pacing and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// Resource Graph (ARM): paced by the per-principal request quota and its
    /// `x-ms-user-quota-*` headers.
    ResourceGraph,
    /// Cost Management query (ARM): paced by the per-tenant QPU budget.
    CostManagement,
    /// Advisor (ARM).
    Advisor,
    /// Monitor metrics through ARM.
    MonitorMetrics,
    /// Monitor metrics data plane (`metrics:getBatch`), with its own token scope.
    MonitorBatch,
    /// ARM subscriptions (`GET /subscriptions/{id}`): a subscription's home tenant.
    Subscriptions,
    /// Compute Resource SKUs (ARM): VM sizes per subscription and region.
    ResourceSkus,
    /// The public Azure Retail Prices API: no token is ever sent to it.
    RetailPrices,
}

impl Api {
    /// Every API, in counter order.
    pub const ALL: [Api; 8] = [
        Api::ResourceGraph,
        Api::CostManagement,
        Api::Advisor,
        Api::MonitorMetrics,
        Api::MonitorBatch,
        Api::Subscriptions,
        Api::ResourceSkus,
        Api::RetailPrices,
    ];

    /// The name in logs and statistics.
    pub fn name(self) -> &'static str {
        match self {
            Api::ResourceGraph => "resource_graph",
            Api::CostManagement => "cost_management",
            Api::Advisor => "advisor",
            Api::MonitorMetrics => "monitor_metrics",
            Api::MonitorBatch => "monitor_batch",
            Api::Subscriptions => "subscriptions",
            Api::ResourceSkus => "resource_skus",
            Api::RetailPrices => "retail_prices",
        }
    }

    /// True when requests carry an Entra token: every API but the public Retail Prices API.
    pub fn authenticated(self) -> bool {
        self != Api::RetailPrices
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// Who a call is for, and where its counters go.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The Entra tenant of the subscription (tokens and the QPU budget are per tenant).
    pub tenant_id: String,
    pub subscription_id: Option<String>,
    /// Logged with each request; sent as `x-ms-correlation-request-id` when it is a GUID.
    pub correlation_id: Option<String>,
    pub stats: Arc<CallStats>,
    /// Where successful raw responses are kept for the lake, when an ingestion wants them.
    pub recorder: Option<Arc<Recorder>>,
}

impl CallContext {
    /// A context for `tenant_id` with fresh counters.
    pub fn new(tenant_id: impl Into<String>) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            subscription_id: None,
            correlation_id: None,
            stats: Arc::default(),
            recorder: None,
        }
    }

    /// The same context, keeping successful raw responses in `recorder`.
    pub fn with_recorder(mut self, recorder: Arc<Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// The same context (and counters) for one subscription.
    pub fn with_subscription(mut self, subscription_id: impl Into<String>) -> Self {
        self.subscription_id = Some(subscription_id.into());
        self
    }

    /// The same context with a correlation id.
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }
}

/// The Azure client. Cheap to clone (shared).
#[derive(Clone)]
pub struct AzureClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    tokens: TokenCache,
    endpoints: Endpoints,
    policy: RetryPolicy,
    budget: Arc<dyn QpuBudget>,
}

/// One request as the retry loop repeats it.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub api: Api,
    pub method: Method,
    pub url: Url,
    pub body: Option<Bytes>,
    /// Cost Management query units to acquire before each attempt.
    pub qpu_units: u32,
}

impl AzureClient {
    /// A client from its parts (tests and tools bring their own token source and budget).
    pub fn new(
        http: reqwest::Client,
        tokens: TokenCache,
        endpoints: Endpoints,
        policy: RetryPolicy,
        budget: Arc<dyn QpuBudget>,
    ) -> Self {
        let inner = Inner {
            http,
            tokens,
            endpoints,
            policy,
            budget,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The client `config` describes: its credential (`managed_identity_client_id` is
    /// `AZURE_CLIENT_ID`; `key_vault` holds per-tenant client secrets), endpoints and retries,
    /// over `budget` (the ingestion's `PgQpuBudget`, kept in PostgreSQL, in the Function app;
    /// built with the settings' [`AzureConfig::cost_qpu_limits`] and
    /// [`AzureConfig::resource_graph_quota`]).
    pub fn from_config(
        config: &AzureConfig,
        managed_identity_client_id: Option<&str>,
        key_vault: Option<&Url>,
        budget: Arc<dyn QpuBudget>,
    ) -> Result<Self, AzureError> {
        config.validate()?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout())
            .user_agent(concat!("azcops/", env!("CARGO_PKG_VERSION")))
            .redirect(same_origin_redirects())
            .build()
            .map_err(|e| AzureError::Config(format!("HTTP client: {e}")))?;
        let source =
            credentials::from_config(config, &http, managed_identity_client_id, key_vault)?;
        let endpoints = Endpoints::from_config(config);
        Ok(Self::new(
            http,
            TokenCache::new(source),
            endpoints,
            config.retry_policy(),
            budget,
        ))
    }

    /// How long until `units` Cost Management query units of Entra tenant `tenant_id` fit in
    /// its shared budget, spending none ([`QpuBudget::room_after`]).
    pub async fn cost_budget_room_after(
        &self,
        tenant_id: &str,
        units: u32,
    ) -> Result<std::time::Duration, AzureError> {
        self.inner.budget.room_after(tenant_id, units).await
    }

    /// The endpoints in use.
    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    /// `path` (e.g. `/subscriptions/{id}/providers/Microsoft.Advisor/recommendations`) under
    /// the ARM endpoint, with `query` pairs (e.g. `api-version`) encoded.
    pub fn arm_url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, AzureError> {
        build_url(&self.inner.endpoints.arm, path, query)
    }

    /// `path` under the Monitor data plane of `region` (letters and digits, e.g. `westeurope`).
    pub fn monitor_url(
        &self,
        region: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Url, AzureError> {
        if region.is_empty() || !region.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(AzureError::InvalidUrl(format!(
                "`{region}` is not an Azure region name"
            )));
        }
        let base = self
            .inner
            .endpoints
            .monitor
            .replace("{region}", &region.to_ascii_lowercase());
        let base = Url::parse(&base)
            .map_err(|e| AzureError::InvalidUrl(format!("Monitor endpoint: {e}")))?;
        build_url(&base, path, query)
    }

    /// The Retail Prices endpoint with `query` pairs, encoded strictly (a space is `%20`, a
    /// quote `%27`: OData filters reach the service exactly as written).
    pub fn retail_prices_url(&self, query: &[(&str, &str)]) -> Result<Url, AzureError> {
        let base = self.inner.endpoints.retail_prices.as_ref().ok_or_else(|| {
            AzureError::Config("no Retail Prices endpoint (AZCOPS_AZURE_RETAIL_PRICES_URL)".into())
        })?;
        Ok(with_query(base, query))
    }

    /// True when `url` has exactly the origin and path of the Retail Prices endpoint: the only
    /// place a price request (or a `NextPageLink`) may go.
    pub fn is_retail_prices_url(&self, url: &Url) -> bool {
        self.inner
            .endpoints
            .retail_prices
            .as_ref()
            .is_some_and(|endpoint| same_endpoint(endpoint, url))
    }

    /// GETs `url` and decodes the JSON answer.
    pub async fn get<T: DeserializeOwned>(
        &self,
        ctx: &CallContext,
        api: Api,
        url: Url,
    ) -> Result<T, AzureError> {
        self.execute(ctx, &Call::new(api, Method::GET, url, None, 1))
            .await
    }

    /// POSTs `body` as JSON to `url` and decodes the JSON answer.
    pub async fn post<B, T>(
        &self,
        ctx: &CallContext,
        api: Api,
        url: Url,
        body: &B,
    ) -> Result<T, AzureError>
    where
        B: Serialize + ?Sized + Sync,
        T: DeserializeOwned,
    {
        let body = encode(body)?;
        self.execute(ctx, &Call::new(api, Method::POST, url, Some(body), 1))
            .await
    }

    /// POSTs a Cost Management query that reads `units` months of data (its QPU cost).
    pub async fn post_cost_query<B, T>(
        &self,
        ctx: &CallContext,
        url: Url,
        body: &B,
        units: u32,
    ) -> Result<T, AzureError>
    where
        B: Serialize + ?Sized + Sync,
        T: DeserializeOwned,
    {
        let body = encode(body)?;
        let call = Call::new(Api::CostManagement, Method::POST, url, Some(body), units);
        self.execute(ctx, &call).await
    }

    /// Sends `call` until it succeeds, fails for good, or runs out of attempts.
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        ctx: &CallContext,
        call: &Call,
    ) -> Result<T, AzureError> {
        self.check_origin(call.api, &call.url)?;
        let mut attempt = 1;
        loop {
            let failure = match self.attempt(ctx, call, attempt).await {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let wait = self.retry_wait(failure, attempt)?;
            tokio::time::sleep(wait.duration).await;
            if wait.throttled {
                ctx.stats.throttle_wait(call.api, wait.duration);
            } else {
                ctx.stats.backoff_wait(call.api, wait.duration);
            }
            attempt += 1;
        }
    }

    /// Refuses to send a request anywhere but the configured endpoints: a token only to ARM
    /// and the Monitor template, and Retail Prices requests only to exactly its endpoint (so
    /// a `NextPageLink` cannot make the client fetch another URL).
    fn check_origin(&self, api: Api, url: &Url) -> Result<(), AzureError> {
        let origin = &url[..url::Position::BeforePath];
        let endpoints = &self.inner.endpoints;
        let allowed = match api {
            Api::MonitorBatch => {
                matches_template(&endpoints.monitor, &url[..url::Position::AfterPath])
            }
            Api::RetailPrices => self.is_retail_prices_url(url),
            _ => origin == &endpoints.arm[..url::Position::BeforePath],
        };
        if allowed {
            Ok(())
        } else {
            Err(AzureError::InvalidUrl(format!(
                "{origin} is not the configured endpoint of {}",
                api.name()
            )))
        }
    }
}

impl Call {
    pub(crate) fn new(
        api: Api,
        method: Method,
        url: Url,
        body: Option<Bytes>,
        qpu_units: u32,
    ) -> Self {
        Self {
            api,
            method,
            url,
            body,
            qpu_units,
        }
    }
}

/// Serialises a request body once (it is resent as is on retries and, for Cost Management,
/// to each `nextLink`).
pub(crate) fn encode<B: Serialize + ?Sized>(body: &B) -> Result<Bytes, AzureError> {
    serde_json::to_vec(body)
        .map(Bytes::from)
        .map_err(|e| AzureError::Encode(e.to_string()))
}

/// A retry decision: how long to wait, and whether the wait is for throttling.
pub(crate) struct Wait {
    pub duration: Duration,
    pub throttled: bool,
}
