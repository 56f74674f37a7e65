//! Costs through the pipeline: a backfill of months that have no partition yet writes each
//! month into a partition of its own (created before the ingestion's transaction), and the
//! summary read from the rollups the ingestion kept equals the one summed from its daily rows.

use azure_sim::{EstateConfig, SimConfig};
use chrono::{Datelike, Days, Months, NaiveDate, Utc};
use serde_json::json;
use sqlx::PgPool;

use azcops::db::costs::{self, CostFilter};
use azcops::db::{self, Scope};

use crate::support::pipeline::{Pipeline, TENANT};

/// The first day of the month `back` months before today's.
fn months_ago(back: u32) -> NaiveDate {
    let first = Utc::now().date_naive().with_day(1).expect("first day");
    first.checked_sub_months(Months::new(back)).expect("month")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_backfill_of_old_months_writes_each_into_its_own_new_partition(pool: PgPool) {
    let estate = EstateConfig {
        tenants: 1,
        subscriptions_per_tenant: 1,
        resources_per_subscription: 20,
        cost_days: 160,
        ..EstateConfig::default()
    };
    let sim = azure_sim::start(SimConfig {
        estate,
        throttling: false,
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let p = Pipeline::new(pool.clone(), &sim).await;
    let (from, to) = (
        months_ago(4),
        months_ago(3).checked_add_days(Days::new(9)).expect("date"),
    );
    let partitions = |month: NaiveDate| format!("costs_daily_{}", month.format("%Y_%m"));
    let sub = sim.estate.tenants()[0].subscription_ids[0];
    let text = json!({
        "v": 1, "tenant_id": TENANT, "subscription_id": sub, "mode": "cost",
        "cost_from": from, "cost_to": to,
    });
    p.deliver_until_done(&text.to_string()).await;

    let placed: Vec<(String, i64)> = sqlx::query_as(
        "SELECT tableoid::regclass::text, count(*) FROM costs_daily GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("placement");
    let names: Vec<&str> = placed.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [partitions(months_ago(4)), partitions(months_ago(3))],
        "{placed:?}"
    );
    assert!(placed.iter().all(|(_, rows)| *rows > 0), "{placed:?}");

    let mut tx = db::begin(&pool, Scope::Operator).await.expect("tx");
    let filter = CostFilter {
        from: Some(from),
        to: Some(to),
        ..CostFilter::default()
    };
    let rolled = costs::summary(&mut tx, &filter).await.expect("rollups");
    let summed = costs::summary_from_rows(&mut tx, &filter)
        .await
        .expect("rows");
    assert_eq!(rolled, summed);
    assert_eq!(
        rolled.daily.len(),
        usize::try_from((to - from).num_days() + 1).expect("days"),
        "a total every day of the window"
    );
}
