//! The ingestion pipeline driven over the custom-handler protocol (the handler's router in
//! process, a real Azurite queue and lake, the simulated Azure), as the ingestion-flow and
//! reliability tests use it, and fingerprints of the state an ingestion leaves (database rows
//! and raw snapshots, without what differs from run to run).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use azcops::api::{AppState, Authn};
use azcops::azure::client::AzureClient;
use azcops::azure::throttle::RetryPolicy;
use azcops::db::Database;
use azcops::ingestion::fanout::Enqueue;
use azcops::ingestion::runtime::{LazyIngestor, QueueEnqueue};
use azcops::storage::connection::StorageConnection;
use azcops::storage::lake::{Lake, LakeLocation};
use azcops::storage::message::MessageEncoding;
use azcops::storage::queue::QueueClient;
use azure_sim::estate::EstateConfig;
use azure_sim::{SimConfig, SimHandle};

use crate::support;
pub use crate::support::scratch::{ScratchDb, eventually, unique};

/// The queue's `maxDequeueCount`, as in `host.json`.
pub const MAX_DEQUEUE_COUNT: u32 = 5;
/// The AzCops id every reliability test gives the simulated tenant, so that lake paths and
/// snapshot metadata of two databases can be compared.
pub const TENANT: Uuid = Uuid::from_u128(0x0a2c_0000_0000_4000_8000_0000_0000_0007);

/// The simulated Azure with one tenant of `subscriptions` × `resources`, throttling off.
pub async fn simulator(subscriptions: usize, resources: usize) -> SimHandle {
    let estate = EstateConfig {
        tenants: 1,
        subscriptions_per_tenant: subscriptions,
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

/// Registers the simulated tenant (as [`TENANT`]) and its subscriptions.
pub async fn register(pool: &PgPool, sim: &SimHandle) {
    let tenant = &sim.estate.tenants()[0];
    sqlx::query("INSERT INTO tenants (id, name, azure_tenant_id) VALUES ($1, $2, $3)")
        .bind(TENANT)
        .bind(&tenant.name)
        .bind(tenant.id)
        .execute(pool)
        .await
        .expect("tenant");
    for sub in sim.estate.subscriptions_of(tenant.id) {
        sqlx::query(
            "INSERT INTO subscriptions (tenant_id, subscription_id, display_name) VALUES ($1, $2, $3)",
        )
        .bind(TENANT)
        .bind(sub.id)
        .bind(&sub.display_name)
        .execute(pool)
        .await
        .expect("subscription");
    }
}

/// The Azure client of the handler, pointed at the simulator, with short backoffs.
fn azure_for(sim: &SimHandle) -> AzureClient {
    let policy = RetryPolicy {
        // Eight attempts, not five: at the fault suite's 17 % a request failing five times in a
        // row (one in 7,000) would send Monitor to its per-VM fallback, whose raw snapshot
        // rightly differs from the clean run's batch answers.
        max_attempts: 8,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        ..RetryPolicy::default()
    };
    support::sim_azure::app_registration_client(sim, "azcops-reliability", policy)
}

/// A lake under a fresh prefix of Azurite's container `raw`; returns its URL too.
pub async fn fresh_lake() -> (String, Lake) {
    let url = format!("azurite://raw/{}", unique("reliability"));
    (url.clone(), open_lake(&url).await)
}

pub async fn open_lake(url: &str) -> Lake {
    let location = LakeLocation::parse(url, |_| None).expect("lake URL");
    Lake::open(&location)
        .await
        .expect("Azurite blob service (scripts/ensure-azurite)")
}

/// The handler's router over one database, with its own Azurite queue and lake, playing the
/// Functions host: it fires the timer, takes messages off the queue and invokes the queue
/// function with them, redelivering a failed one as the host would.
pub struct Pipeline {
    pub router: Router,
    pub queue: QueueClient,
    /// The follow-up queue (`functions/ingest-follow-up`), with [`Self::with_follow_ups`].
    pub follow_ups: QueueClient,
    pub lake: Lake,
    pub pool: PgPool,
}

/// How one message's deliveries went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    /// Invocations until one answered 2xx.
    pub deliveries: u32,
}

impl Pipeline {
    /// Registers the simulated estate in `pool` and builds the handler over it.
    pub async fn new(pool: PgPool, sim: &SimHandle) -> Self {
        Self::with_azure(pool, sim, azure_for(sim)).await
    }

    /// The same, the handler's Azure client being `azure`.
    pub async fn with_azure(pool: PgPool, sim: &SimHandle, azure: AzureClient) -> Self {
        Self::build(pool, sim, azure, false).await
    }

    /// [`Self::with_azure`] whose ingestor sends follow-up messages to their own queue
    /// ([`Self::follow_ups`], as the Function app's does), so an item may leave its
    /// per-resource costs to one.
    pub async fn with_follow_ups(pool: PgPool, sim: &SimHandle, azure: AzureClient) -> Self {
        Self::build(pool, sim, azure, true).await
    }

    async fn build(pool: PgPool, sim: &SimHandle, azure: AzureClient, follow_ups: bool) -> Self {
        register(&pool, sim).await;
        let name = unique("rel-ingest");
        let connection = StorageConnection::development();
        let queue = QueueClient::new(&connection, &name, MessageEncoding::Base64).expect("queue");
        queue
            .create_if_missing()
            .await
            .expect("Azurite must run on 127.0.0.1:10001 (scripts/ensure-azurite)");
        let (lake_url, lake) = fresh_lake().await;
        let location = LakeLocation::parse(&lake_url, |_| None).expect("lake URL");
        let state = AppState::new(Database::from_pool(pool.clone()), Authn::Disabled);
        let mut ingestor = LazyIngestor::new(
            Arc::clone(&state.db),
            azure.clone(),
            location,
            MAX_DEQUEUE_COUNT,
        );
        let sender = QueueClient::new(&connection, &name, MessageEncoding::Base64).expect("queue");
        let sender: Arc<dyn Enqueue> = Arc::new(QueueEnqueue(sender));
        let follow_up_name = format!("{name}-follow-up");
        let follow_up_queue = || {
            QueueClient::new(&connection, &follow_up_name, MessageEncoding::Base64).expect("queue")
        };
        follow_up_queue()
            .create_if_missing()
            .await
            .expect("the follow-up queue");
        if follow_ups {
            ingestor = ingestor.with_follow_ups(Arc::new(QueueEnqueue(follow_up_queue())));
        }
        let state = state
            .with_queue(sender)
            .with_ingestor(Arc::new(ingestor))
            .with_azure(azure);
        Self {
            router: azcops::server::handler_router(state),
            queue,
            follow_ups: follow_up_queue(),
            lake,
            pool,
        }
    }

    /// POSTs `body` to `/{function}` as the host does; the answer and its JSON (`Null` if none).
    pub async fn invoke_raw(&self, function: &str, body: Body) -> (StatusCode, Value) {
        let request = Request::post(format!("/{function}"))
            .header("content-type", "application/json")
            .body(body)
            .expect("request");
        self.send(request).await
    }

    /// `method uri` with an optional JSON body (always labelled JSON); the answer and its JSON
    /// (`Null` if none).
    pub async fn request(
        &self,
        method: &str,
        uri: String,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = support::request(method, &uri, None, body);
        request
            .headers_mut()
            .entry(CONTENT_TYPE)
            .or_insert(HeaderValue::from_static("application/json"));
        self.send(request).await
    }

    async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let reply = support::send(&self.router, request).await;
        (reply.status, reply.body)
    }

    /// Fires the daily (full) timer; returns its log line.
    pub async fn fire_daily(&self) -> String {
        let payload = json!({
            "Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}},
            "Metadata": {"sys": {"MethodName": "ingest-daily", "UtcNow": Utc::now().to_rfc3339(),
                "RandGuid": Uuid::new_v4().to_string()}}
        });
        let (status, answer) = self
            .invoke_raw("ingest-daily", Body::from(payload.to_string()))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["Logs"][0].as_str().expect("a log line").to_owned()
    }

    /// Takes every message off the queue, as the host does before invoking.
    pub async fn drain(&self) -> Vec<String> {
        let mut texts = Vec::new();
        loop {
            let batch = self
                .queue
                .receive(32, Duration::from_secs(60))
                .await
                .expect("receive");
            if batch.is_empty() {
                return texts;
            }
            for message in batch {
                texts.push(message.text().expect("decodes"));
                self.queue
                    .delete(&message.id, &message.pop_receipt)
                    .await
                    .expect("delete");
            }
        }
    }

    /// Invokes the queue function with `text`, handed out for the `dequeue_count`th time.
    pub async fn deliver(&self, text: &str, dequeue_count: u32) -> (StatusCode, Value) {
        self.invoke_raw(
            "ingest-subscription",
            Body::from(queue_payload(text, dequeue_count).to_string()),
        )
        .await
    }

    /// Delivers `text` until an invocation answers 2xx, as the host redelivers a failed
    /// message; panics when the attempts run out (the host would poison it).
    pub async fn deliver_until_done(&self, text: &str) -> Delivered {
        for dequeue_count in 1..=MAX_DEQUEUE_COUNT {
            let (status, answer) = self.deliver(text, dequeue_count).await;
            if status.is_success() {
                let log = answer["Logs"][0].as_str().unwrap_or_default();
                assert!(!log.starts_with("rejected:"), "{text}: {answer}");
                return Delivered {
                    deliveries: dequeue_count,
                };
            }
            assert!(
                status.is_server_error(),
                "a retryable failure is a 5xx: {status} {answer}"
            );
        }
        panic!("{text}: still failing after {MAX_DEQUEUE_COUNT} deliveries");
    }

    /// Delivers every message of `texts` until done, `concurrency` at a time.
    pub async fn process(&self, texts: &[String], concurrency: usize) -> Vec<Delivered> {
        futures::stream::iter(texts)
            .map(|text| self.deliver_until_done(text))
            .buffer_unordered(concurrency)
            .collect()
            .await
    }

    /// The status of every run item.
    pub async fn item_statuses(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT status::text FROM ingestion_run_items ORDER BY subscription_id")
            .fetch_all(&self.pool)
            .await
            .expect("items")
    }
}

/// The queue invocation the host sends for `text` (strings JSON-encoded twice).
pub fn queue_payload(text: &str, dequeue_count: u32) -> Value {
    let twice = |s: &str| Value::String(Value::String(s.to_owned()).to_string());
    json!({
        "Data": { "message": twice(text) },
        "Metadata": {
            "DequeueCount": dequeue_count.to_string(), "Id": twice(&Uuid::new_v4().to_string()),
            "PopReceipt": twice("AgAAAAMAAAAAAAAA"), "InsertionTime": Utc::now().to_rfc3339(),
            "sys": { "MethodName": "ingest-subscription", "UtcNow": Utc::now().to_rfc3339(),
                "RandGuid": Uuid::new_v4().to_string() }
        }
    })
}

/// The data an ingestion leaves, row by row, without the database's own ids and timestamps:
/// each row as JSON text with its subscription's Azure id, sorted.
#[derive(Debug, PartialEq, Eq)]
pub struct Rows {
    pub resources: Vec<String>,
    pub costs: Vec<String>,
    pub recommendations: Vec<String>,
    /// What the rules read: per-resource costs, metric statistics, containers, conditions.
    pub rule_inputs: Vec<String>,
}

impl Rows {
    pub async fn of(pool: &PgPool) -> Self {
        // `deleted_at` is a run's timestamp: whether it is set is the data.
        let resources = rows(
            pool,
            "SELECT (to_jsonb(t) - 'id' - 'tenant_id' - 'subscription_db_id' - 'first_seen_at'
                 - 'last_seen_at' - 'created_at' - 'updated_at' - 'deleted_at')
                 || jsonb_build_object('deleted', t.deleted_at IS NOT NULL, 'sub', s.subscription_id)
             FROM resources t JOIN subscriptions s ON s.id = t.subscription_db_id",
        )
        .await;
        let costs = rows(
            pool,
            "SELECT (to_jsonb(t) - 'id' - 'tenant_id' - 'subscription_db_id' - 'created_at' - 'updated_at')
                 || jsonb_build_object('sub', s.subscription_id)
             FROM costs_daily t JOIN subscriptions s ON s.id = t.subscription_db_id",
        )
        .await;
        let recommendations = rows(
            pool,
            "SELECT (to_jsonb(t) - 'id' - 'tenant_id' - 'subscription_db_id' - 'resource_db_id'
                 - 'created_at' - 'updated_at' - 'first_detected_at' - 'last_detected_at' - 'superseded_by')
                 || jsonb_build_object('sub', s.subscription_id, 'resource', r.resource_id,
                                       'superseded_by', lead.fingerprint)
             FROM recommendations t JOIN subscriptions s ON s.id = t.subscription_db_id
             LEFT JOIN resources r ON r.id = t.resource_db_id
             LEFT JOIN recommendations lead ON lead.id = t.superseded_by",
        )
        .await;
        let mut rule_inputs = Vec::new();
        for (table, select) in [
            (
                "resource_costs",
                "SELECT (to_jsonb(t) - 'tenant_id' - 'subscription_db_id' - 'created_at' - 'updated_at')
                     || jsonb_build_object('sub', s.subscription_id)
                 FROM resource_costs t JOIN subscriptions s ON s.id = t.subscription_db_id",
            ),
            (
                "resource_metrics",
                "SELECT (to_jsonb(t) - 'tenant_id' - 'subscription_db_id' - 'created_at' - 'updated_at'
                     - 'window_start' - 'window_end')
                     || jsonb_build_object('sub', s.subscription_id)
                 FROM resource_metrics t JOIN subscriptions s ON s.id = t.subscription_db_id",
            ),
            (
                "resource_containers",
                "SELECT (to_jsonb(t) - 'tenant_id' - 'subscription_db_id' - 'created_at' - 'updated_at'
                     - 'last_seen_at')
                     || jsonb_build_object('sub', s.subscription_id)
                 FROM resource_containers t JOIN subscriptions s ON s.id = t.subscription_db_id",
            ),
            (
                "resource_conditions",
                "SELECT (to_jsonb(t) - 'tenant_id' - 'subscription_db_id' - 'first_seen_at' - 'last_seen_at')
                     || jsonb_build_object('sub', s.subscription_id)
                 FROM resource_conditions t JOIN subscriptions s ON s.id = t.subscription_db_id",
            ),
        ] {
            let found = rows(pool, select).await;
            rule_inputs.extend(found.into_iter().map(|r| format!("{table} {r}")));
        }
        rule_inputs.sort();
        Self {
            resources,
            costs,
            recommendations,
            rule_inputs,
        }
    }

    pub fn total(&self) -> usize {
        self.resources.len()
            + self.costs.len()
            + self.recommendations.len()
            + self.rule_inputs.len()
    }
}

async fn rows(pool: &PgPool, select: &'static str) -> Vec<String> {
    let sql = format!("SELECT r::text FROM ({select}) AS q(r) ORDER BY 1");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(pool)
        .await
        .expect("rows")
}

/// Every raw snapshot in `lake`, by path with the run id replaced by `RUN`, its metadata
/// without the run id and collection time, and its responses in a stable order (concurrent
/// requests may be recorded in any order). A snapshot written in parts is read through its
/// document's list of parts, its parts' responses together; parts it does not list (of an
/// attempt that did not complete) are not part of any snapshot.
pub async fn snapshots(lake: &Lake) -> BTreeMap<String, Value> {
    let listed: Vec<_> = lake
        .store()
        .list(None)
        .try_collect()
        .await
        .expect("list the lake");
    let mut out: BTreeMap<String, Value> = BTreeMap::new();
    for meta in listed {
        let path = meta.location.to_string();
        let (folder, file) = path.rsplit_once('/').expect("a snapshot path has folders");
        assert!(file.ends_with(".json"), "{path}");
        if part_folder(folder, file).is_some() {
            continue;
        }
        let bytes = lake.get(&meta.location).await.expect("read a snapshot");
        let mut doc: Value = serde_json::from_slice(&bytes).expect("snapshot JSON");
        if let Some(parts) = doc.as_object_mut().and_then(|d| d.remove("parts")) {
            let mut responses = Vec::new();
            for part in parts.as_array().expect("a list of parts") {
                let part = object_store::path::Path::from(part.as_str().expect("a path"));
                let bytes = lake.get(&part).await.expect("a listed part exists");
                let part: Value = serde_json::from_slice(&bytes).expect("part JSON");
                responses.extend(part["responses"].as_array().cloned().unwrap_or_default());
            }
            doc["responses"] = Value::Array(responses);
        }
        if let Some(m) = doc["meta"].as_object_mut() {
            for key in ["run_id", "collected_at", "attempt"] {
                m.remove(key);
            }
        }
        if let Some(responses) = doc["responses"].as_array_mut() {
            responses.sort_by_cached_key(Value::to_string);
        }
        let previous = out.insert(format!("{folder}/RUN.json"), doc);
        assert!(previous.is_none(), "two snapshots in {folder}");
    }
    out
}

/// The folder of the subscription when `folder/file` is a part of a snapshot written in parts
/// (`{subscription folder}/{run_id}/{attempt}/{seq}.json`).
pub fn part_folder<'a>(folder: &'a str, file: &str) -> Option<&'a str> {
    let seq = file.strip_suffix(".json")?;
    if !(seq.len() == 5 && seq.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let (run_folder, _attempt) = folder.rsplit_once('/')?;
    run_folder.rsplit_once('/').map(|(parent, _run)| parent)
}

/// How many requests of the run's traffic were answered per status, from the simulator.
pub fn responses_by_status(sim: &SimHandle) -> BTreeMap<u16, u64> {
    let mut out = BTreeMap::new();
    for per_api in sim.stats().responses.values() {
        for (status, n) in per_api {
            *out.entry(*status).or_default() += n;
        }
    }
    out
}
