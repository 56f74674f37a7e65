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

/// A tenant with one subscription whose two services cost the same every week for 60 days up
/// to yesterday (one service in resource group `rg-vm`, the other in `rg-st`).
async fn steady_subscription(pool: &PgPool) -> (uuid::Uuid, uuid::Uuid) {
    let tenant = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO tenants (id, name, azure_tenant_id) VALUES ($1, $2, $3)")
        .bind(tenant)
        .bind(format!("anomalies {tenant}"))
        .bind(uuid::Uuid::new_v4())
        .execute(pool)
        .await
        .expect("tenant");
    let sub: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO subscriptions (tenant_id, subscription_id, display_name) VALUES ($1, $2, 'steady') RETURNING id",
    )
    .bind(tenant)
    .bind(uuid::Uuid::new_v4())
    .fetch_one(pool)
    .await
    .expect("subscription");
    sqlx::query(
        "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name, meter_category, cost, amortized_cost)
         SELECT $1, $2, current_date - d, g, s, s, a, a
         FROM generate_series(1, 60) AS d,
              LATERAL (VALUES ('rg-vm', 'Virtual Machines',
                               CASE WHEN extract(isodow FROM current_date - d) >= 6 THEN 60 ELSE 100 END + (d % 3)),
                              ('rg-st', 'Storage', 40 + (d % 2))) AS v(g, s, a)",
    )
    .bind(tenant)
    .bind(sub)
    .execute(pool)
    .await
    .expect("costs");
    (tenant, sub)
}

async fn detect(pool: &PgPool, tenant: uuid::Uuid, sub: uuid::Uuid) -> Vec<Value> {
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let mut tx = azcops::db::begin(pool, azcops::db::Scope::Tenant(tenant))
        .await
        .expect("tx");
    azcops::anomalies::detect_subscription(&mut tx, tenant, sub, yesterday)
        .await
        .expect("detect");
    tx.commit().await.expect("commit");
    sqlx::query_scalar(
        "SELECT to_jsonb(a) FROM cost_anomalies a WHERE tenant_id = $1 ORDER BY start_date",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .expect("anomalies")
}

async fn set_day(pool: &PgPool, sub: uuid::Uuid, back: u64, service: &str, factor: f64) {
    sqlx::query(
        "UPDATE costs_daily SET amortized_cost = amortized_cost * $3::numeric, cost = cost * $3::numeric
         WHERE subscription_db_id = $1 AND date = current_date - $2::int AND service_name = $4",
    )
    .bind(sub)
    .bind(i32::try_from(back).expect("days"))
    .bind(factor)
    .bind(service)
    .execute(pool)
    .await
    .expect("restate");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_latest_days_are_provisional_and_a_restated_day_takes_its_anomaly_away_but_not_a_reviewed_one(
    pool: PgPool,
) {
    let (tenant, sub) = steady_subscription(&pool).await;
    assert!(detect(&pool, tenant, sub).await.is_empty(), "steady costs");

    set_day(&pool, sub, 1, "Virtual Machines", 5.0).await;
    set_day(&pool, sub, 20, "Storage", 0.0).await;
    let found = detect(&pool, tenant, sub).await;
    assert_eq!(found.len(), 2, "{found:#?}");
    let (drop, spike) = (&found[0], &found[1]);
    assert_eq!(spike["kind"], "spike");
    assert_eq!(spike["provisional"], true, "yesterday is provisional");
    assert_eq!(spike["contributors"][0]["name"], "Virtual Machines");
    assert_eq!(spike["contributors"][0]["kind"], "service");
    assert_eq!(drop["kind"], "drop");
    assert_eq!(drop["provisional"], false);
    assert_eq!(drop["contributors"][0]["name"], "Storage");
    let rg: Vec<&Value> = drop["contributors"]
        .as_array()
        .expect("contributors")
        .iter()
        .filter(|c| c["kind"] == "resource_group")
        .collect();
    assert_eq!(rg[0]["name"], "rg-st", "{drop}");

    // Someone reviews the drop; then Azure restates both days to what they were.
    sqlx::query("UPDATE cost_anomalies SET status = 'expected' WHERE id = $1::text::uuid")
        .bind(drop["id"].as_str().expect("id"))
        .execute(&pool)
        .await
        .expect("review");
    set_day(&pool, sub, 1, "Virtual Machines", 0.2).await;
    sqlx::query(
        "UPDATE costs_daily SET amortized_cost = 40 + (20 % 2), cost = 40 + (20 % 2)
         WHERE subscription_db_id = $1 AND date = current_date - 20 AND service_name = 'Storage'",
    )
    .bind(sub)
    .execute(&pool)
    .await
    .expect("restate storage");
    let after = detect(&pool, tenant, sub).await;
    assert_eq!(after.len(), 1, "the open spike is gone: {after:#?}");
    assert_eq!(after[0]["id"], drop["id"]);
    assert_eq!(after[0]["status"], "expected");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_tenant_s_absolute_floor_keeps_a_small_spike_quiet(pool: PgPool) {
    let (tenant, sub) = steady_subscription(&pool).await;
    set_day(&pool, sub, 5, "Storage", 3.0).await;
    assert_eq!(
        detect(&pool, tenant, sub).await.len(),
        1,
        "+80 is an anomaly"
    );
    sqlx::query(
        "INSERT INTO cost_anomaly_settings (tenant_id, min_abs_delta, updated_by) VALUES ($1, 500, 'test')",
    )
    .bind(tenant)
    .execute(&pool)
    .await
    .expect("settings");
    assert!(
        detect(&pool, tenant, sub).await.is_empty(),
        "below the tenant's floor of 500"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn bad_input_is_a_4xx_and_readers_change_nothing(pool: PgPool) {
    use crate::support::{ADMIN, APPROVER, READER, TestApp};
    use axum::http::StatusCode;

    let app = TestApp::new(pool.clone()).await;
    let (tenant, tid) = app.tenant("anomaly inputs").await;
    let sub = app.subscription(tenant, "inputs").await;
    let id: uuid::Uuid = sqlx::query_scalar(
        "INSERT INTO cost_anomalies (tenant_id, subscription_db_id, service_name, start_date, end_date, peak_date,
                                     kind, severity, provisional, score, currency, actual, expected)
         VALUES ($1, $2, '', current_date - 3, current_date - 3, current_date - 3, 'spike', 'high', false,
                 9.5, 'USD', 500, 100) RETURNING id",
    )
    .bind(tenant)
    .bind(sub)
    .fetch_one(&pool)
    .await
    .expect("anomaly");
    let (reader, approver, admin) = (
        app.token(tid, &[READER]),
        app.token(tid, &[APPROVER]),
        app.token(tid, &[ADMIN]),
    );
    for uri in [
        "/api/v1/costs/anomalies?from=2026-11-30&to=2026-11-01",
        "/api/v1/costs/anomalies?from=2024-01-01&to=2026-01-01",
        "/api/v1/costs/anomalies?severity=huge",
        "/api/v1/costs/anomalies?colour=red",
        "/api/v1/costs/forecast?horizon_days=0",
        "/api/v1/costs/forecast?horizon_days=93",
        "/api/v1/costs/forecast?interval=90",
        "/api/v1/costs/forecast?history_days=91",
    ] {
        app.get(uri, &reader)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    let uri = format!("/api/v1/costs/anomalies/{id}");
    let ack = json!({"status": "acknowledged"});
    app.patch(&uri, &reader, ack.clone())
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    app.patch(&uri, &approver, json!({"status": "gone"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let stale = json!({"status": "expected", "expected_status": "acknowledged"});
    app.patch(&uri, &approver, stale)
        .await
        .assert_error(StatusCode::CONFLICT, "status_changed");
    let done = app.patch(&uri, &approver, ack).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.body["delta"], 400.0);
    assert_eq!(done.body["delta_percent"], 400.0);
    app.post("/api/v1/costs/anomalies/detect", &approver, json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    let ran = app
        .post("/api/v1/costs/anomalies/detect", &admin, json!({}))
        .await;
    assert_eq!(ran.status, StatusCode::ACCEPTED, "{}", ran.body);
    assert_eq!(ran.body["subscriptions"], 1);
    let listed = app
        .get(
            "/api/v1/costs/anomalies?status=acknowledged&severity=high&include_total=true",
            &reader,
        )
        .await;
    assert_eq!(listed.body["total"], 1, "{}", listed.body);
    let tenant_forecast = app.get("/api/v1/costs/forecast", &reader).await;
    assert_eq!(tenant_forecast.status, StatusCode::OK);
    assert_eq!(tenant_forecast.body["scope"], "tenant");
    assert_eq!(tenant_forecast.body["method"], "none", "no cost rows");
}
