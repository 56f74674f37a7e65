//! Crash: the real binary under `azcops host`, the handler SIGKILLed while every subscription
//! of a run is in the middle of its upsert. The test holds a lock on `costs_daily`, so each
//! ingestion stops inside its transaction after writing its resources and before its costs;
//! the kill lands exactly there. The host restarts the handler and redelivers the messages;
//! the run must end succeeded with the rows and raw snapshots of a clean run, nothing twice.

use std::process::Stdio;

use serde_json::json;
use sqlx::PgPool;

use crate::host::harness::Host;
use crate::support::pipeline::{
    Pipeline, Rows, ScratchDb, eventually, open_lake, register, simulator, snapshots,
};

const SUBSCRIPTIONS: usize = 2;

fn signal(signal: &str, pid: u32) -> bool {
    std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Backends of the handler waiting for a lock on `costs_daily`.
async fn waiting_on_costs(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%costs_daily%'",
    )
    .fetch_one(pool)
    .await
    .expect("pg_stat_activity")
}

async fn items(pool: &PgPool) -> Vec<(String, i32)> {
    sqlx::query_as(
        "SELECT status::text, attempts FROM ingestion_run_items ORDER BY subscription_id",
    )
    .fetch_all(pool)
    .await
    .expect("items")
}

#[tokio::test]
async fn a_handler_killed_mid_upsert_leaves_after_redelivery_the_state_of_a_clean_run() {
    let sim = simulator(SUBSCRIPTIONS, 40).await;
    let db = ScratchDb::create().await;
    register(&db.pool, &sim).await;
    let queues = json!({"batchSize": 4, "newBatchThreshold": 2, "maxDequeueCount": 5,
        "visibilityTimeout": "00:00:01", "maxPollingInterval": "00:00:01", "messageEncoding": "base64"});
    let host = Host::start(&db, &sim, queues).await;

    // Costs cannot be written until the lock goes: every ingestion stops in its upsert.
    let mut lock = db.pool.begin().await.expect("transaction");
    sqlx::query("LOCK TABLE costs_daily IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock costs_daily");
    let fired = host.fire("ingest-daily", &json!({"input": ""})).await;
    assert!(fired.is_success(), "{fired}");
    eventually("every ingestion blocked in its upsert", || async {
        (waiting_on_costs(&db.pool).await == SUBSCRIPTIONS as i64).then_some(())
    })
    .await;
    assert_eq!(
        items(&db.pool).await,
        vec![("running".to_owned(), 1); SUBSCRIPTIONS]
    );
    let resources: i64 = sqlx::query_scalar("SELECT count(*) FROM resources")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(resources, 0, "the upserts are uncommitted");

    let handler = host.handler_pids()[0];
    assert!(signal("-KILL", handler), "SIGKILL handler {handler}");
    lock.commit().await.expect("release the lock");

    // The host restarts the handler and redelivers the messages once their visibility ends.
    eventually("the run to end", || async {
        let items = items(&db.pool).await;
        items
            .iter()
            .all(|(status, _)| status != "queued" && status != "running")
            .then_some(())
    })
    .await;
    assert_eq!(
        items(&db.pool).await,
        vec![("succeeded".to_owned(), 2); SUBSCRIPTIONS],
        "each subscription succeeded on its second delivery"
    );
    assert!(host.handler_pids().len() >= 2, "the handler was restarted");
    let runs = host.get("/api/v1/ingestion/runs?include_total=true").await;
    assert_eq!(runs["total"], 1, "{runs}");
    assert_eq!(runs["items"][0]["status"], "succeeded", "{runs}");
    assert_eq!(
        runs["items"][0]["items_succeeded"], SUBSCRIPTIONS as u64,
        "{runs}"
    );

    // A clean run of the same estate, in-process, into a database and lake of its own.
    let clean_db = ScratchDb::create().await;
    let clean = Pipeline::new(clean_db.pool.clone(), &sim).await;
    clean.fire_daily().await;
    let texts = clean.drain().await;
    clean.process(&texts, SUBSCRIPTIONS).await;
    let rows = Rows::of(&db.pool).await;
    assert_eq!(
        rows,
        Rows::of(&clean.pool).await,
        "the rows of a clean run, none twice"
    );
    let lake = open_lake(&host.lake_url).await;
    assert_eq!(
        snapshots(&lake).await,
        snapshots(&clean.lake).await,
        "the raw snapshots of a clean run"
    );
    eprintln!(
        "reliability/crash: handler {handler} SIGKILLed with {SUBSCRIPTIONS} subscriptions mid-upsert; \
         redelivered, run succeeded; rows compared {} (resources {}, costs {}, recommendations {}), \
         rows lost 0, duplicated 0",
        rows.total(),
        rows.resources.len(),
        rows.costs.len(),
        rows.recommendations.len()
    );
}
