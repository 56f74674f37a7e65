//! Realised savings through the pipeline: once a recommendation has been carried out, the next
//! full runs collect its resource's daily amortized cost from 14 days before the change to 14
//! days after it, and the savings are measured from those days, equal to what the simulated
//! Azure billed.

use chrono::{Duration, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::recommendations::Status;
use azcops::db::recommendations::query::SummaryFilter;
use azcops::db::recommendations::realised::{self, Basis, Measurement};
use azcops::db::{self, Scope};
use azure_sim::costs::CostType;
use azure_sim::{EstateConfig, SimConfig};

use crate::support::findings::drive;
use crate::support::pipeline::{Pipeline, TENANT};

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_executed_recommendation_is_measured_from_the_daily_costs_around_the_change(
    pool: PgPool,
) {
    let estate = EstateConfig {
        tenants: 1,
        subscriptions_per_tenant: 1,
        resources_per_subscription: 40,
        cost_days: 60,
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
    let sub = sim.estate.tenants()[0].subscription_ids[0];
    let full = json!({"v": 1, "tenant_id": TENANT, "subscription_id": sub, "mode": "full"});
    p.deliver_until_done(&full.to_string()).await;

    // A finding about a resource that was billed in the days around the change.
    let today = Utc::now().date_naive();
    let day = today - Duration::days(20);
    let side = Duration::days(14);
    let billed = |id: &str, from, to| {
        let resource = sim.estate.resource(id).expect("a simulated resource");
        sim.estate
            .resource_cost_cents(resource, CostType::AmortizedCost, (from, to))
    };
    let candidates: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT id, resource_id FROM recommendations WHERE source = 'rule' ORDER BY resource_id",
    )
    .fetch_all(&pool)
    .await
    .expect("findings");
    let (id, resource) = candidates
        .into_iter()
        .find(|(_, r)| {
            sim.estate.resource(r).is_some() && billed(r, day - side, day - Duration::days(1)) > 0
        })
        .expect("a finding about a billed resource");
    drive(&pool, id, Status::Executed).await;
    sqlx::query("UPDATE recommendations SET approved_at = $2, executed_at = $2 WHERE id = $1")
        .bind(id)
        .bind(day.and_hms_opt(12, 0, 0).expect("noon").and_utc())
        .execute(&pool)
        .await
        .expect("carried out 20 days ago");

    // The next full run collects the resource's daily costs around the change.
    p.deliver_until_done(&full.to_string()).await;
    let covered: (chrono::NaiveDate, chrono::NaiveDate) = sqlx::query_as(
        "SELECT covered_from, covered_to FROM resource_daily_cost_coverage WHERE resource_id = $1",
    )
    .bind(&resource)
    .fetch_one(&pool)
    .await
    .expect("coverage");
    assert_eq!(covered, (day - side, day + side), "{resource}");

    let filter = SummaryFilter {
        tenant_id: Some(TENANT),
        subscription: None,
        include_suppressed: false,
        at: Utc::now(),
    };
    let mut tx = db::begin(&pool, Scope::Tenant(TENANT)).await.expect("tx");
    let rows = realised::rows(&mut tx, &filter, Some(&[id]))
        .await
        .expect("rows");
    tx.commit().await.expect("commit");
    let measured = rows[0].realised();
    assert_eq!(measured.basis, Basis::Daily, "{measured:?}");
    assert_eq!(measured.measurement, Measurement::Measured, "{measured:?}");
    let mean = |cents: i64| cents as f64 / 100.0 / 14.0;
    let before = mean(billed(&resource, day - side, day - Duration::days(1)));
    let after = mean(billed(&resource, day + Duration::days(1), day + side));
    let close =
        |a: Option<Decimal>, b: f64| (a.and_then(|a| a.to_f64()).unwrap_or(-1.0) - b).abs() < 0.001;
    assert!(
        close(measured.baseline_daily_cost, before),
        "{measured:?} vs {before}"
    );
    assert!(
        close(measured.after_daily_cost, after),
        "{measured:?} vs {after}"
    );
    let monthly = (before - after) * 30.44;
    let saved = measured.monthly_savings.and_then(|m| m.to_f64());
    assert!(
        saved.is_some_and(|m| (m - monthly).abs() < 0.01),
        "{measured:?} vs {monthly}"
    );
}
