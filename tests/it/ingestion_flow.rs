//! The ingestion pipeline end to end, over the real protocol: the daily timer's invocation
//! fans out to a real Azurite queue, each message is handed to the queue function as the
//! Functions host would, the simulated Azure serves the APIs, rows land in PostgreSQL and raw
//! snapshots in the lake.

mod accuracy;
mod costs;
mod evaluation;
mod follow_up;
mod home_tenant;
mod realised;
mod rule_inputs;

use axum::body::Body;
use axum::http::StatusCode;
use chrono::{Days, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use azure_sim::SimHandle;
use futures::TryStreamExt;

use crate::support::pipeline::{Pipeline, part_folder, simulator};

mod tenants;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/functions-host");

/// Everything a flow test runs against: the handler over the test's database with its own
/// Azurite queue and lake ([`Pipeline`]), and the simulated Azure it ingests from.
struct Flow {
    pipeline: Pipeline,
    sim: SimHandle,
}

impl std::ops::Deref for Flow {
    type Target = Pipeline;

    fn deref(&self) -> &Pipeline {
        &self.pipeline
    }
}

async fn flow(pool: PgPool, subscriptions: usize) -> Flow {
    let sim = simulator(subscriptions, 40).await;
    Flow {
        pipeline: Pipeline::new(pool, &sim).await,
        sim,
    }
}

impl Flow {
    async fn invoke(&self, function: &str, payload: &Value) -> (StatusCode, Value) {
        self.invoke_raw(function, Body::from(payload.to_string()))
            .await
    }

    /// Every object in the lake, sorted by path.
    async fn snapshots(&self) -> Vec<(String, Option<String>)> {
        let list: Vec<_> = self
            .lake
            .store()
            .list(None)
            .try_collect()
            .await
            .expect("list the lake");
        let mut out: Vec<_> = list
            .into_iter()
            .map(|m| (m.location.to_string(), m.e_tag))
            .collect();
        out.sort();
        out
    }
}

/// A host fixture with its binding renamed to ours.
fn fixture(file: &str, from: &str, to: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{file}")).expect("fixture");
    let mut value: Value = serde_json::from_str(&text).expect("fixture JSON");
    if let Some(data) = value["Data"].as_object_mut()
        && let Some(v) = data.remove(from)
    {
        data.insert(to.to_owned(), v);
    }
    value
}

/// The queue invocation the host sends for `text` (strings JSON-encoded twice).
fn queue_payload(text: &str, dequeue_count: u32) -> Value {
    let twice = |s: &str| Value::String(Value::String(s.to_owned()).to_string());
    json!({
        "Data": { "message": twice(text) },
        "Metadata": {
            "DequeueCount": dequeue_count.to_string(), "Id": twice(&Uuid::new_v4().to_string()),
            "PopReceipt": twice("AgAAAAMAAAAAAAAA"), "InsertionTime": "2026-11-28T02:00:01+00:00",
            "sys": { "MethodName": "ingest-subscription", "UtcNow": Utc::now().to_rfc3339(), "RandGuid": Uuid::new_v4().to_string() }
        }
    })
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_timer_fans_out_and_every_subscription_is_ingested(pool: PgPool) {
    let flow = flow(pool, 3).await;
    let (status, answer) = flow
        .invoke(
            "ingest-daily",
            &fixture("timer-with-status.json", "timer", "timer"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["Logs"][0]
            .as_str()
            .expect("log")
            .contains("1 run(s) created"),
        "{answer}"
    );
    let messages = flow.drain().await;
    assert_eq!(messages.len(), 3, "one message per subscription");

    for text in &messages {
        let (status, answer) = flow
            .invoke("ingest-subscription", &queue_payload(text, 1))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let run: (String,) =
        sqlx::query_as("SELECT string_agg(DISTINCT status::text, ',') FROM ingestion_run_items")
            .fetch_one(&flow.pool)
            .await
            .expect("items");
    assert_eq!(run.0, "succeeded");

    let tenant = &flow.sim.estate.tenants()[0];
    let yesterday = Utc::now()
        .date_naive()
        .checked_sub_days(Days::new(1))
        .expect("date");
    for sub in flow.sim.estate.subscriptions_of(tenant.id) {
        let stored: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM resources r JOIN subscriptions s ON s.id = r.subscription_db_id WHERE s.subscription_id = $1",
        )
        .bind(sub.id)
        .fetch_one(&flow.pool)
        .await
        .expect("resources");
        assert_eq!(
            stored as usize,
            flow.sim.estate.resources_of(sub.id).len(),
            "inventory of {}",
            sub.id
        );
        let cost: f64 = sqlx::query_scalar(
            "SELECT coalesce(sum(c.cost), 0)::float8 FROM costs_daily c JOIN subscriptions s ON s.id = c.subscription_db_id
             WHERE s.subscription_id = $1 AND c.date = $2",
        )
        .bind(sub.id)
        .bind(yesterday)
        .fetch_one(&flow.pool)
        .await
        .expect("cost");
        let expected = flow.sim.estate.expected_cost(
            sub.id,
            azure_sim::costs::CostType::ActualCost,
            yesterday,
            yesterday,
        );
        assert!(
            (cost - expected).abs() < 0.01,
            "cost of {}: {cost} vs {expected}",
            sub.id
        );
    }
    assert!(
        count(
            &flow.pool,
            "SELECT count(*) FROM recommendations WHERE source = 'advisor'"
        )
        .await
            > 0
    );
    // Advisor's recommendations are written after the rules' findings: one that a finding
    // leads is inserted in its group, never written a second time to join it.
    assert!(
        count(
            &flow.pool,
            "SELECT count(*) FROM recommendations WHERE source = 'advisor' AND superseded_by IS NOT NULL"
        )
        .await
            > 0,
        "some of Advisor's recommendations are led by a rule finding"
    );
    assert_eq!(
        count(
            &flow.pool,
            "SELECT count(*) FROM recommendations WHERE source = 'advisor' AND updated_at <> created_at"
        )
        .await,
        0,
        "no Advisor recommendation was updated after it was inserted"
    );
    let snapshots = flow.snapshots().await;
    // Monitor's snapshot is a document listing its parts; the parts are not counted.
    let whole: Vec<&str> = snapshots
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| {
            let (folder, file) = p.rsplit_once('/').expect("folders");
            part_folder(folder, file).is_none()
        })
        .collect();
    assert_eq!(
        whole.len(),
        3 * 4,
        "four raw snapshots per subscription (Monitor's in parts): {snapshots:?}"
    );
    let ours = flow.sim.estate.tenants()[0].subscription_ids[0];
    let tenant_id: Uuid = sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_one(&flow.pool)
        .await
        .expect("tenant");
    let expected_prefix = format!(
        "{tenant_id}/resource_graph/{}/{ours}/",
        Utc::now().format("%Y/%m/%d")
    );
    assert!(
        snapshots
            .iter()
            .any(|(p, _)| p.starts_with(&expected_prefix)),
        "{expected_prefix} in {snapshots:?}"
    );
    let path = object_store::path::Path::from(snapshots[0].0.as_str());
    let raw: Value =
        serde_json::from_slice(&flow.lake.get(&path).await.expect("read")).expect("snapshot JSON");
    assert!(
        raw["responses"][0]["body"].is_object(),
        "the raw Azure body is kept"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_timer_fired_twice_for_a_slot_creates_one_run(pool: PgPool) {
    let flow = flow(pool, 2).await;
    let mut late = fixture("timer-with-status.json", "timer", "timer");
    late["Data"]["timer"]["IsPastDue"] = json!(true);
    flow.invoke(
        "ingest-daily",
        &fixture("timer-with-status.json", "timer", "timer"),
    )
    .await;
    let (status, answer) = flow.invoke("ingest-daily", &late).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        answer["Logs"][0]
            .as_str()
            .expect("log")
            .contains("0 run(s) created, 1 found"),
        "{answer}"
    );
    assert_eq!(
        count(&flow.pool, "SELECT count(*) FROM ingestion_runs").await,
        1
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn unprocessable_messages_are_rejected_and_not_retried(pool: PgPool) {
    let flow = flow(pool, 1).await;
    let tenant = flow.sim.estate.tenants()[0].id;
    let ours: Uuid = sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_one(&flow.pool)
        .await
        .expect("tenant");
    let unknown_sub =
        json!({"v": 1, "tenant_id": ours, "subscription_id": Uuid::new_v4(), "mode": "full"})
            .to_string();
    let wrong_version =
        json!({"v": 9, "tenant_id": ours, "subscription_id": tenant, "mode": "full"}).to_string();
    for text in [
        "not json at all",
        unknown_sub.as_str(),
        wrong_version.as_str(),
    ] {
        let (status, answer) = flow
            .invoke("ingest-subscription", &queue_payload(text, 1))
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "a message that can never succeed is not retried: {answer}"
        );
        assert!(
            answer["Logs"][0]
                .as_str()
                .expect("log")
                .starts_with("rejected:"),
            "{answer}"
        );
    }
    assert_eq!(
        count(
            &flow.pool,
            "SELECT count(*) FROM audit_logs WHERE target_type = 'rejected_message'"
        )
        .await,
        3
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn every_captured_host_payload_gets_a_clear_answer(pool: PgPool) {
    let flow = flow(pool, 1).await;
    for (file, binding) in [
        ("timer-no-status.json", "timer"),
        ("timer-with-status.json", "timer"),
    ] {
        let (status, answer) = flow
            .invoke("ingest-hourly", &fixture(file, binding, "timer"))
            .await;
        assert_eq!(status, StatusCode::OK, "{file}: {answer}");
        assert!(
            answer["Logs"][0]
                .as_str()
                .expect("log")
                .contains("Cost ingestion"),
            "{file}: {answer}"
        );
    }
    flow.drain().await;
    for (file, binding) in [
        ("queue-string-double-encoded.json", "queue"),
        ("queue-json-double-encoded.json", "msg"),
        ("queue-docs-single-encoded.json", "myQueueItem"),
    ] {
        let (status, answer) = flow
            .invoke("ingest-subscription", &fixture(file, binding, "message"))
            .await;
        assert_eq!(status, StatusCode::OK, "{file}: {answer}");
        assert!(
            answer["Logs"][0]
                .as_str()
                .expect("log")
                .starts_with("rejected:"),
            "{file}: {answer}"
        );
    }
    let (status, answer) = flow
        .invoke(
            "ingest-subscription",
            &fixture("http-json-mode-get.json", "req", "req"),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "not a queue invocation: {answer}"
    );
    let (status, _) = flow.invoke("ingest-subscription", &json!("garbage")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn process_all(flow: &Flow) -> usize {
    let messages = flow.drain().await;
    for text in &messages {
        let (status, answer) = flow
            .invoke("ingest-subscription", &queue_payload(text, 1))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    messages.len()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_failing_subscription_fails_alone_and_the_run_is_partially_failed(pool: PgPool) {
    let flow = flow(pool, 2).await;
    let tenant: Uuid = sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_one(&flow.pool)
        .await
        .expect("tenant");
    sqlx::query("INSERT INTO subscriptions (tenant_id, subscription_id, display_name) VALUES ($1, $2, 'unknown to Azure')")
        .bind(tenant)
        .bind(Uuid::new_v4())
        .execute(&flow.pool)
        .await
        .expect("subscription");
    flow.invoke(
        "ingest-daily",
        &fixture("timer-no-status.json", "timer", "timer"),
    )
    .await;
    assert_eq!(process_all(&flow).await, 3);
    let items: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT status::text, error_code FROM ingestion_run_items ORDER BY status")
            .fetch_all(&flow.pool)
            .await
            .expect("items");
    assert_eq!(
        items.iter().filter(|(s, _)| s == "succeeded").count(),
        2,
        "{items:?}"
    );
    let failed = items
        .iter()
        .find(|(s, _)| s == "failed")
        .expect("one failed item");
    assert_eq!(
        failed.1.as_deref(),
        Some("subscription_not_in_tenant"),
        "a subscription Azure does not know fails its home-tenant check: {failed:?}"
    );
    let mut tx = azcops::db::begin(&flow.pool, azcops::db::Scope::Operator)
        .await
        .expect("tx");
    let run_id: Uuid = sqlx::query_scalar("SELECT id FROM ingestion_runs")
        .fetch_one(&mut *tx)
        .await
        .expect("run");
    let run = azcops::db::ingestion::get_run(&mut tx, None, run_id)
        .await
        .expect("get")
        .expect("run");
    assert_eq!(run.status, "partially_failed");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_trigger_endpoint_enqueues_and_the_status_endpoint_follows_the_run(pool: PgPool) {
    let flow = flow(pool, 2).await;
    let tenant: Uuid = sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_one(&flow.pool)
        .await
        .expect("tenant");
    let call =
        |method: &'static str, uri: String, body: Option<Value>| flow.request(method, uri, body);
    let (status, accepted) = call(
        "POST",
        "/api/v1/ingestion/trigger".into(),
        Some(json!({"tenant_id": tenant, "mode": "cost"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["subscriptions"], 2);
    let run_id = accepted["run_id"].as_str().expect("run id").to_owned();
    let (_, queued) = call("GET", format!("/api/v1/ingestion/status/{run_id}"), None).await;
    assert_eq!(queued["status"], "queued", "{queued}");
    assert_eq!(process_all(&flow).await, 2, "one message per subscription");
    let (_, done) = call("GET", format!("/api/v1/ingestion/status/{run_id}"), None).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["mode"], "cost");
    assert!(
        done["items"][0]["azure_calls"]["cost_management"]["calls"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{done}"
    );
    assert_eq!(
        count(&flow.pool, "SELECT count(*) FROM resources").await,
        0,
        "cost mode takes no inventory"
    );
    let (_, runs) = call(
        "GET",
        "/api/v1/ingestion/runs?include_total=true".into(),
        None,
    )
    .await;
    assert_eq!(runs["total"], 1);

    let (status, bad) = call(
        "POST",
        "/api/v1/ingestion/trigger".into(),
        Some(json!({"tenant_id": tenant, "subscription_ids": [Uuid::new_v4()]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{bad}");
    let (status, _) = call(
        "POST",
        "/api/v1/ingestion/trigger".into(),
        Some(json!({"tenant_id": tenant, "cost_from": "2026-02-01", "cost_to": "2026-01-01"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = call(
        "POST",
        "/api/v1/ingestion/trigger".into(),
        Some(json!({"tenant_id": tenant, "mode": "everything"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_timer_from_the_future_is_refused_and_creates_no_run(pool: PgPool) {
    let flow = flow(pool, 1).await;
    let future = json!({
        "Data": {"timer": {"Schedule": {"AdjustForDST": true}, "IsPastDue": false}},
        "Metadata": {"sys": {"MethodName": "ingest-daily", "UtcNow": "2999-01-01T02:00:00Z"}}
    });
    let (status, answer) = flow.invoke("ingest-daily", &future).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["Logs"].to_string().contains("ahead"), "{answer}");
    assert_eq!(
        count(&flow.pool, "SELECT count(*) FROM ingestion_runs").await,
        0
    );
}
