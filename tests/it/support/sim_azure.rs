//! Azure clients pointed at the in-process simulated Azure: one holding the operator's
//! managed identity (its tokens are not bound to a customer tenant, and it sees every
//! delegated subscription, as with Azure Lighthouse) and one holding an app registration per
//! customer tenant (tokens of the tenant asked for).

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use secrecy::SecretString;
use url::Url;

use azcops::azure::client::{AzureClient, Endpoints};
use azcops::azure::credentials::{
    AccessToken, StaticClientSecret, TokenCache, TokenSource, client_secret_source,
};
use azcops::azure::error::AzureError;
use azcops::azure::qpu_budget::{MemoryQpuBudget, QpuBudget, QpuLimits};
use azcops::azure::throttle::RetryPolicy;
use azure_sim::estate::EstateConfig;
use azure_sim::{SimConfig, SimHandle};

/// The simulated Azure with `tenants` customer tenants of two subscriptions of `resources`
/// resources each, throttling off.
pub async fn simulator(tenants: usize, resources: usize) -> SimHandle {
    let estate = EstateConfig {
        tenants,
        subscriptions_per_tenant: 2,
        resources_per_subscription: resources,
        ..EstateConfig::default()
    };
    azure_sim::start(SimConfig {
        estate,
        throttling: false,
        ..SimConfig::default()
    })
    .await
    .expect("simulator")
}

/// Like the managed identity: every token is the operator tenant's, whichever tenant the call
/// is for (`IdentitySource` ignores the tenant in the same way).
struct OperatorIdentity {
    inner: Arc<dyn TokenSource>,
    operator_tenant: String,
}

impl TokenSource for OperatorIdentity {
    fn fetch<'a>(
        &'a self,
        _tenant_id: &'a str,
        scope: &'a str,
    ) -> BoxFuture<'a, Result<AccessToken, AzureError>> {
        self.inner.fetch(&self.operator_tenant, scope)
    }
}

fn app_registration(sim: &SimHandle, client_id: &str) -> Arc<dyn TokenSource> {
    let secrets = Arc::new(StaticClientSecret(SecretString::from("sim-secret")));
    client_secret_source(
        reqwest::Client::new(),
        sim.base_url.clone(),
        client_id.into(),
        secrets,
    )
}

/// Short backoffs, so a failing call does not slow a test down.
fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
        ..RetryPolicy::default()
    }
}

/// A client whose tokens are the operator's managed identity's.
pub fn operator_identity(sim: &SimHandle) -> AzureClient {
    let source = OperatorIdentity {
        inner: app_registration(sim, "azcops-tests"),
        operator_tenant: sim.estate.operator_tenant_id().to_string(),
    };
    client(sim, Arc::new(source), fast_retries())
}

/// A client with an app registration in each customer tenant (tokens bound to the tenant).
pub fn tenant_bound(sim: &SimHandle) -> AzureClient {
    client(sim, app_registration(sim, "azcops-tests"), fast_retries())
}

/// A client with the app registration `client_id` in each customer tenant, retrying by `policy`.
pub fn app_registration_client(
    sim: &SimHandle,
    client_id: &str,
    policy: RetryPolicy,
) -> AzureClient {
    client(sim, app_registration(sim, client_id), policy)
}

/// [`app_registration_client`] with its endpoints changed by `endpoints` (e.g. an API that is
/// down).
pub fn app_registration_client_with(
    sim: &SimHandle,
    client_id: &str,
    policy: RetryPolicy,
    endpoints: impl FnOnce(Endpoints) -> Endpoints,
) -> AzureClient {
    client_with(sim, app_registration(sim, client_id), policy, endpoints)
}

fn client(sim: &SimHandle, source: Arc<dyn TokenSource>, policy: RetryPolicy) -> AzureClient {
    client_with(sim, source, policy, |e| e)
}

/// [`app_registration_client`] over `budget` (e.g. Azure's documented quotas, not the tests'
/// hundredfold faster ones).
pub fn app_registration_client_over(
    sim: &SimHandle,
    client_id: &str,
    policy: RetryPolicy,
    budget: Arc<dyn QpuBudget>,
) -> AzureClient {
    client_over(sim, app_registration(sim, client_id), policy, |e| e, budget)
}

fn client_with(
    sim: &SimHandle,
    source: Arc<dyn TokenSource>,
    policy: RetryPolicy,
    change: impl FnOnce(Endpoints) -> Endpoints,
) -> AzureClient {
    let budget = Arc::new(MemoryQpuBudget::new(QpuLimits::default().scaled(0.01)));
    client_over(sim, source, policy, change, budget)
}

fn client_over(
    sim: &SimHandle,
    source: Arc<dyn TokenSource>,
    policy: RetryPolicy,
    change: impl FnOnce(Endpoints) -> Endpoints,
    budget: Arc<dyn QpuBudget>,
) -> AzureClient {
    let base = sim.base_url.as_str().trim_end_matches('/');
    let mut endpoints = Endpoints::new(
        Url::parse(base).expect("arm"),
        format!("{base}/monitor/{{region}}"),
        "https://metrics.monitor.azure.com/.default",
    );
    endpoints.arm_scope = "https://management.azure.com/.default".into();
    let prices = Url::parse(&format!("{base}/api/retail/prices")).expect("prices");
    let endpoints = change(endpoints.with_retail_prices(prices));
    AzureClient::new(
        reqwest::Client::new(),
        TokenCache::new(source),
        endpoints,
        policy,
        budget,
    )
}
