//! A full run whose tenant has no Cost Management query units left for the per-resource cost
//! window does not hold its queue slot while the budget refills: the item stores everything
//! else, stays `running`, and a follow-up message, invisible until the budget has room, queries
//! the window, evaluates the rules and finishes the item.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use azure_sim::{EstateConfig, SimConfig};
use chrono::Utc;
use serde_json::Value;
use sqlx::PgPool;

use azcops::azure::cost_management::{DateRange, query_units};
use azcops::azure::qpu_budget::{MemoryQpuBudget, QpuBudget, QpuLimits};
use azcops::azure::throttle::RetryPolicy;

use crate::support::pipeline::{Pipeline, queue_payload, snapshots};
use crate::support::sim_azure::app_registration_client_over;

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_window_without_query_units_is_left_to_a_follow_up_that_finishes_the_item(pool: PgPool) {
    let estate = EstateConfig {
        tenants: 1,
        subscriptions_per_tenant: 1,
        resources_per_subscription: 40,
        ..EstateConfig::default()
    };
    let sim = azure_sim::start(SimConfig {
        estate,
        throttling: false,
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    // Azure's documented quota (12 units per 10 s), not the other tests' faster one.
    let budget = Arc::new(MemoryQpuBudget::new(QpuLimits::default()));
    let azure = app_registration_client_over(
        &sim,
        "azcops-follow-up",
        RetryPolicy::default(),
        budget.clone(),
    );
    let p = Pipeline::with_follow_ups(pool.clone(), &sim, azure).await;
    p.fire_daily().await;
    let texts = p.drain().await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    // Someone else (another instance, another subscription) has just spent what the tenant's
    // units leave beyond the item's daily costs: those fit, the window does not.
    let restated = DateRange::restated(Utc::now());
    let daily = 2 * query_units(restated.from, restated.to);
    let entra_tenant = sim.estate.tenants()[0].id.to_string();
    budget
        .acquire(&entra_tenant, 12 - daily)
        .await
        .expect("spend");

    let (status, answer) = p.deliver(&texts[0], 1).await;
    assert!(status.is_success(), "{status} {answer}");
    let log = answer["Logs"][0].as_str().unwrap_or_default().to_owned();
    assert!(log.contains("per-resource costs follow"), "{log}");
    let first = item(&pool).await;
    assert_eq!(first["status"], "running", "{first}");
    assert_eq!(first["resources_count"], 40, "{first}");
    assert!(first["costs_count"].as_i64() > Some(0), "{first}");
    assert_eq!(resource_cost_rows(&pool).await, 0);
    assert_eq!(run_status(&pool).await, "running");
    let first_calls = first["azure_calls"]["cost_management"]["calls"]
        .as_u64()
        .unwrap_or_default();

    // The follow-up comes on its own queue (not behind other subscriptions' messages), visible
    // once the budget has room; it may put itself back once.
    let started = Instant::now();
    let mut deliveries = 0;
    while item(&pool).await["status"] == "running" {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no follow-up came"
        );
        let batch = p
            .follow_ups
            .receive(1, Duration::from_secs(60))
            .await
            .expect("receive");
        let Some(message) = batch.into_iter().next() else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let text = message.text().expect("decodes");
        assert!(text.contains(r#""stage":"resource_costs""#), "{text}");
        p.follow_ups
            .delete(&message.id, &message.pop_receipt)
            .await
            .expect("delete");
        // The follow-up queue's function, as `functions/ingest-follow-up` binds it.
        let (status, answer) = p
            .invoke_raw(
                "ingest-follow-up",
                Body::from(queue_payload(&text, 1).to_string()),
            )
            .await;
        assert!(status.is_success(), "{status} {answer}");
        deliveries += 1;
    }
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the follow-up was visible before the budget had room"
    );
    assert!(deliveries <= 3, "{deliveries} deliveries");

    let done = item(&pool).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(run_status(&pool).await, "succeeded");
    assert!(resource_cost_rows(&pool).await > 0);
    // What the first message counted is kept; the follow-up's calls are added to it.
    assert_eq!(done["resources_count"], 40, "{done}");
    assert_eq!(done["costs_count"], first["costs_count"], "{done}");
    let calls = done["azure_calls"]["cost_management"]["calls"]
        .as_u64()
        .unwrap_or_default();
    assert!(calls >= first_calls + 2, "{first_calls} then {calls}");
    let findings = done["findings_count"].as_i64().unwrap_or_default();
    let rule_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM recommendations WHERE source = 'rule'")
            .fetch_one(&pool)
            .await
            .expect("findings");
    assert!(
        findings > 0 && rule_rows > 0,
        "{findings} findings, {rule_rows} rows"
    );
    // The window's raw answers are in the lake beside the item's own cost snapshot.
    let lake = snapshots(&p.lake).await;
    let connectors: Vec<&String> = lake.keys().collect();
    assert!(
        connectors
            .iter()
            .any(|k| k.contains("cost_management_by_resource")),
        "{connectors:?}"
    );
}

async fn item(pool: &PgPool) -> Value {
    sqlx::query_scalar(
        "SELECT jsonb_build_object('status', status::text, 'resources_count', resources_count,
                'costs_count', costs_count, 'findings_count', findings_count,
                'azure_calls', azure_calls)
         FROM ingestion_run_items",
    )
    .fetch_one(pool)
    .await
    .expect("the item")
}

async fn run_status(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT CASE WHEN bool_and(status IN ('succeeded', 'failed', 'rejected'))
                     THEN CASE WHEN bool_and(status = 'succeeded') THEN 'succeeded' ELSE 'failed' END
                     ELSE 'running' END
         FROM ingestion_run_items",
    )
    .fetch_one(pool)
    .await
    .expect("the run")
}

async fn resource_cost_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM resource_costs")
        .fetch_one(pool)
        .await
        .expect("count")
}
