//! Ingestion checks the subscription's home tenant again for every item: a subscription moved
//! to another Entra tenant after registration fails its item, before any of its data is read,
//! and nothing of it reaches the database or the lake.

use std::collections::BTreeSet;

use sqlx::PgPool;
use uuid::Uuid;

use azcops::azure::client::AzureClient;
use azure_sim::SimHandle;

use crate::support::pipeline::{Pipeline, simulator, snapshots};
use crate::support::sim_azure::{operator_identity, tenant_bound};

/// Moves the first subscription out, runs the daily ingestion, and checks what was kept.
async fn moved_subscription_is_not_ingested(
    pool: PgPool,
    azure: impl Fn(&SimHandle) -> AzureClient,
) {
    let sim = simulator(2, 20).await;
    let pipeline = Pipeline::with_azure(pool, &sim, azure(&sim)).await;
    let tenant = &sim.estate.tenants()[0];
    let (moved, kept) = (tenant.subscription_ids[0], tenant.subscription_ids[1]);
    sim.move_subscription(moved, Uuid::new_v4()).expect("moved");
    sim.reset();

    pipeline.fire_daily().await;
    let texts = pipeline.drain().await;
    assert_eq!(texts.len(), 2, "one message per registered subscription");
    let delivered = pipeline.process(&texts, 2).await;
    assert!(
        delivered.iter().all(|d| d.deliveries == 1),
        "the refusal is final, not retried: {delivered:?}"
    );

    let items: Vec<(Uuid, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT subscription_id, status::text, error, error_code FROM ingestion_run_items ORDER BY subscription_id",
    )
    .fetch_all(&pipeline.pool)
    .await
    .expect("items");
    let item = |sub: Uuid| items.iter().find(|i| i.0 == sub).expect("an item");
    let (_, status, error, code) = item(moved);
    assert_eq!(status, "failed");
    assert_eq!(code.as_deref(), Some("subscription_not_in_tenant"));
    let error = error.as_deref().unwrap_or_default();
    assert!(
        error.contains("not, or no longer, in this tenant's Entra tenant"),
        "{error}"
    );
    assert_eq!(item(kept).1, "succeeded", "{items:?}");

    for table in ["resources", "costs_daily", "recommendations"] {
        let sql = format!(
            "SELECT count(*) FROM {table} t JOIN subscriptions s ON s.id = t.subscription_db_id
             WHERE s.subscription_id = $1"
        );
        let count = |sub: Uuid| {
            let sql = sql.clone();
            let pool = pipeline.pool.clone();
            async move {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .bind(sub)
                    .fetch_one(&pool)
                    .await
                    .expect("count")
            }
        };
        assert_eq!(count(moved).await, 0, "{table} of the moved subscription");
        if table != "recommendations" {
            assert!(count(kept).await > 0, "{table} of the kept subscription");
        }
    }
    let paths: Vec<String> = snapshots(&pipeline.lake).await.into_keys().collect();
    assert!(
        paths.iter().all(|p| !p.contains(&moved.to_string())),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.contains(&kept.to_string())),
        "{paths:?}"
    );

    // Only the home-tenant check named the moved subscription: no cost, Advisor or Monitor call.
    let stats = sim.stats();
    let asked: BTreeSet<&str> = stats.per_subscription[&moved.to_string()]
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(asked, BTreeSet::from(["subscriptions"]));
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_subscription_moved_to_another_tenant_fails_its_item_and_stores_nothing(pool: PgPool) {
    // The managed identity still sees it (a Lighthouse delegation), but its home has changed.
    moved_subscription_is_not_ingested(pool, operator_identity).await;
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_subscription_moved_out_of_sight_fails_its_item_and_stores_nothing(pool: PgPool) {
    // The tenant's own app registration no longer sees it at all (404).
    moved_subscription_is_not_ingested(pool, tenant_bound).await;
}
