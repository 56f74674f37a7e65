//! Cost anomalies end to end (issue 17): the simulator injects a cost anomaly into one
//! resource on a chosen day, the pipeline ingests the subscription (a full run, then a cost
//! backfill), detection runs after the ingestion, and the API reports the anomaly on that day
//! with the resource's service and the resource itself as first contributors; a person
//! acknowledges it (audited, `409` on a stale `expected_status`), and the forecast answers.

use azure_sim::costs::CostType;
use azure_sim::{EstateConfig, SimConfig};
use chrono::{Days, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::pipeline::{Pipeline, TENANT};

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_injected_cost_spike_is_reported_on_its_day_with_its_service_and_resource_first(
    pool: PgPool,
) {
    let estate = EstateConfig {
        tenants: 1,
        subscriptions_per_tenant: 1,
        resources_per_subscription: 40,
        cost_days: 70,
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
    let day = sim.estate.today() - Days::new(8);
    // The resource that cost most that day and every day of the week before (steady usage).
    let steady = |r: &&azure_sim::estate::Resource| {
        (1..=7).all(|back| {
            let d = day - Days::new(back);
            sim.estate
                .resource_cost_cents(r, CostType::AmortizedCost, (d, d))
                > 0
        })
    };
    let target = sim
        .estate
        .resources_of(sub)
        .iter()
        .filter(steady)
        .max_by_key(|r| {
            sim.estate
                .resource_cost_cents(r, CostType::AmortizedCost, (day, day))
        })
        .expect("a resource with cost");
    let client = reqwest::Client::new();
    let injected: Value = client
        .post(sim.base_url.join("_sim/costs/anomalies").expect("url"))
        .json(&json!({"resource_id": target.id, "date": day, "factor": 8.0}))
        .send()
        .await
        .expect("inject")
        .json()
        .await
        .expect("json");
    let truth: Value = client
        .get(sim.base_url.join("_sim/estate").expect("url"))
        .send()
        .await
        .expect("estate")
        .json()
        .await
        .expect("json");
    assert_eq!(
        truth["cost_anomalies"][0], injected,
        "ground truth lists it"
    );
    let service = injected["service_name"]
        .as_str()
        .expect("service")
        .to_owned();

    let full = json!({"v": 1, "tenant_id": TENANT, "subscription_id": sub, "mode": "full"});
    p.deliver_until_done(&full.to_string()).await;
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let backfill = json!({
        "v": 1, "tenant_id": TENANT, "subscription_id": sub, "mode": "cost",
        "cost_from": yesterday - Days::new(65), "cost_to": yesterday,
    });
    p.deliver_until_done(&backfill.to_string()).await;

    let (status, page) = p
        .request(
            "GET",
            format!("/api/v1/costs/anomalies?tenant_id={TENANT}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    println!(
        "anomalies: {}",
        serde_json::to_string_pretty(items).unwrap_or_default()
    );
    let found = items
        .iter()
        .find(|a| a["start_date"] == json!(day) && a["service_name"].is_null())
        .unwrap_or_else(|| panic!("no anomaly of the subscription on {day}: {page}"));
    assert_eq!(found["kind"], "spike");
    assert_eq!(found["status"], "open");
    let contributors = found["contributors"].as_array().expect("contributors");
    let first = |kind: &str| {
        contributors
            .iter()
            .find(|c| c["kind"] == kind)
            .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
    };
    assert_eq!(
        first("service").as_deref(),
        Some(service.as_str()),
        "{found}"
    );
    assert_eq!(
        first("resource").map(|r| r.to_lowercase()),
        Some(target.id.to_lowercase()),
        "{found}"
    );
    assert!(found["delta"].as_f64().expect("delta") > 0.0);

    let id = found["id"].as_str().expect("id");
    let uri = format!("/api/v1/costs/anomalies/{id}");
    let ack = json!({"status": "acknowledged", "reason": "load test", "expected_status": "open"});
    let (status, after) = p.request("PATCH", uri.clone(), Some(ack.clone())).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "acknowledged");
    assert_eq!(after["status_reason"], "load test");
    let (status, again) = p.request("PATCH", uri.clone(), Some(ack)).await;
    assert_eq!(status, 409, "{again}");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE target_type = 'cost_anomaly' AND target_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1);

    // Detection on request keeps the acknowledgement.
    let (status, ran) = p
        .request(
            "POST",
            "/api/v1/costs/anomalies/detect".into(),
            Some(json!({"tenant_id": TENANT})),
        )
        .await;
    assert_eq!(status, 202, "{ran}");
    let (_, still) = p.request("GET", uri, None).await;
    assert_eq!(still["status"], "acknowledged", "{still}");

    let (status, forecast) = p
        .request(
            "GET",
            format!(
                "/api/v1/costs/forecast?tenant_id={TENANT}&subscription_id={sub}&horizon_days=14"
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{forecast}");
    assert_eq!(forecast["points"].as_array().map(Vec::len), Some(14));
    let month = &forecast["month_end"];
    let total = month["total"].as_f64().expect("total");
    assert!(month["lower_80"].as_f64().expect("lower") <= total);
    assert!(total <= month["upper_95"].as_f64().expect("upper"));
    let (status, bad) = p
        .request(
            "GET",
            format!("/api/v1/costs/forecast?tenant_id={TENANT}&horizon_days=93"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{bad}");
}
