//! Resource Graph's quota is per principal (15 requests per 5 s), and the simulated Azure
//! enforces it so. Many instances: two real `azcops handler` processes (the built binary,
//! started as the Functions host starts it) share one database and ingest at once; each alone
//! stays within the quota, together they ask for more than one window allows, so only a quota
//! shared through the database keeps them from being throttled. Many tenants: one principal
//! serving two Entra tenants keeps to one quota.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use uuid::Uuid;

use azcops::azure::client::CallContext;
use azcops::azure::resource_graph;
use azcops::azure::throttle::RetryPolicy;
use azure_sim::estate::EstateConfig;
use azure_sim::{SimConfig, SimHandle};

use crate::host::harness::{BIN, collect, free_port};
use crate::support::pipeline::{TENANT, queue_payload, register};
use crate::support::scratch::{ScratchDb, eventually, unique};
use crate::support::sim_azure::app_registration_client;

/// Subscriptions each process ingests at once: one Resource Graph request each (the inventory,
/// whose rows carry their groups' tags), 12 per process (within the quota of 15), 24 for both
/// (beyond it).
const PER_PROCESS: usize = 12;

/// A running `azcops handler`, killed on drop.
struct Handler {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Handler {
    /// A handler over `db` whose Azure is `sim`, ready to serve.
    async fn start(db: &ScratchDb, sim: &SimHandle, lake: &std::path::Path) -> Self {
        let port = free_port();
        let base = sim.base_url.as_str().trim_end_matches('/').to_owned();
        let mut command = Command::new(BIN);
        command.arg("handler");
        for (name, _) in std::env::vars() {
            if name.starts_with("AZCOPS_") || name.starts_with("FUNCTIONS_") {
                command.env_remove(name);
            }
        }
        command
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", port.to_string())
            .env("DATABASE_URL", &db.url)
            .env("AZCOPS_AUTH_MODE", "disabled")
            .env("AZCOPS_LAKE_URL", format!("file://{}", lake.display()))
            .env("AZCOPS_AZURE_ARM_ENDPOINT", &base)
            .env("AZCOPS_AZURE_AUTHORITY_HOST", &base)
            .env(
                "AZCOPS_AZURE_MONITOR_ENDPOINT",
                format!("{base}/monitor/{{region}}"),
            )
            .env(
                "AZCOPS_AZURE_RETAIL_PRICES_URL",
                format!("{base}/api/retail/prices"),
            )
            .env("AZCOPS_AZURE_CREDENTIAL", "client-secret")
            .env("AZCOPS_AZURE_APP_CLIENT_ID", "azcops-shared-quota")
            .env("AZCOPS_AZURE_CLIENT_SECRET", "any")
            // The simulator counts no query units here: the budget must not pace the runs.
            .env("AZCOPS_AZURE_COST_QPU_LIMITS", "1000,1000,1000")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("azcops handler");
        let lines = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().expect("stdout"), lines.clone());
        collect(child.stderr.take().expect("stderr"), lines.clone());
        let handler = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            lines,
        };
        let client = http();
        eventually("the handler's health to be ok", || async {
            let r = client.get(format!("{}/api/health", handler.base)).send();
            r.await.ok().filter(|r| r.status() == StatusCode::OK)
        })
        .await;
        handler
    }

    /// Ingests `subscription` as the queue function; the log line it answers with.
    async fn ingest(&self, subscription: Uuid) -> String {
        let message =
            json!({"v": 1, "tenant_id": TENANT, "subscription_id": subscription, "mode": "full"});
        let response = http()
            .post(format!("{}/ingest-subscription", self.base))
            .json(&queue_payload(&message.to_string(), 1))
            .send()
            .await
            .expect("invoking the queue function");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, StatusCode::OK, "{body}\n{}", self.output());
        body["Logs"][0].as_str().unwrap_or_default().to_owned()
    }

    fn output(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

/// `tenants` of `subscriptions` small subscriptions each; Resource Graph's quota enforced at
/// its documented size, Cost Management's query units not counted.
async fn throttling_simulator(tenants: usize, subscriptions: usize) -> SimHandle {
    let estate = EstateConfig {
        tenants,
        subscriptions_per_tenant: subscriptions,
        resources_per_subscription: 3,
        ..EstateConfig::default()
    };
    azure_sim::start(SimConfig {
        estate,
        throttling: true,
        cost_throttling: false,
        ..SimConfig::default()
    })
    .await
    .expect("simulator")
}

#[tokio::test]
async fn two_handler_processes_share_resource_graphs_quota_and_are_never_throttled() {
    let db = ScratchDb::create().await;
    let sim = throttling_simulator(1, 2 * PER_PROCESS).await;
    register(&db.pool, &sim).await;
    let lake = std::env::temp_dir().join(unique("azcops-shared-quota"));
    let (a, b) = tokio::join!(
        Handler::start(&db, &sim, &lake),
        Handler::start(&db, &sim, &lake)
    );
    let tenant = sim.estate.tenants()[0].id;
    let subscriptions: Vec<Uuid> = sim.estate.subscriptions_of(tenant).map(|s| s.id).collect();
    sim.reset();

    let runs = subscriptions.iter().enumerate().map(|(i, sub)| {
        let handler = if i % 2 == 0 { &a } else { &b };
        handler.ingest(*sub)
    });
    let lines = futures::future::join_all(runs).await;

    for line in &lines {
        assert!(line.ends_with("ingested"), "{line}");
    }
    let stats = sim.stats();
    let requests = stats.requests.resource_graph;
    assert!(
        requests >= 2 * PER_PROCESS as u64,
        "both processes together asked for more than one window's 15 requests: {requests}"
    );
    assert_eq!(
        stats.throttled.resource_graph,
        0,
        "{requests} Resource Graph requests, throttled: {:?}\n--- a ---\n{}\n--- b ---\n{}",
        stats.responses.get("resource_graph"),
        a.output(),
        b.output()
    );
    let _ = std::fs::remove_dir_all(&lake);
}

#[tokio::test]
async fn one_principal_serving_two_entra_tenants_keeps_to_one_resource_graph_quota() {
    let sim = throttling_simulator(2, 1).await;
    // One app registration in both tenants: the simulator counts its requests together.
    let policy = RetryPolicy {
        base_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let client = app_registration_client(&sim, "azcops-one-principal", policy);
    let contexts: Vec<(CallContext, String)> = sim
        .estate
        .tenants()
        .iter()
        .map(|tenant| {
            let sub = sim.estate.subscriptions_of(tenant.id).next().expect("sub");
            (CallContext::new(tenant.id.to_string()), sub.id.to_string())
        })
        .collect();
    sim.reset();

    // Ten queries per tenant at once: 20, five more than one window allows.
    let queries = contexts.iter().flat_map(|(ctx, sub)| {
        (0..10).map(|_| resource_graph::collect_inventory(&client, ctx, std::slice::from_ref(sub)))
    });
    let results = futures::future::join_all(queries).await;

    for result in results {
        result.expect("inventory");
    }
    let stats = sim.stats();
    assert_eq!(stats.requests.resource_graph, 20);
    assert_eq!(
        stats.throttled.resource_graph,
        0,
        "{:?}",
        stats.responses.get("resource_graph")
    );
}
