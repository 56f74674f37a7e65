//! Issue 14, the evaluation: a full run evaluates the rules over what it stored, and
//! `POST /api/v1/rules/evaluate` does it again as a run of mode `evaluate` (no Azure call),
//! which writes no row when nothing changed.

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::support::pipeline::{Pipeline, TENANT, simulator};

async fn scalar(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_full_run_evaluates_the_rules_and_a_re_evaluation_of_unchanged_data_writes_nothing(
    pool: PgPool,
) {
    let sim = simulator(2, 80).await;
    let p = Pipeline::new(pool.clone(), &sim).await;
    p.fire_daily().await;
    let texts = p.drain().await;
    p.process(&texts, 2).await;
    let findings = scalar(
        &pool,
        "SELECT count(*) FROM recommendations WHERE source = 'rule'",
    )
    .await;
    assert!(findings > 0, "the full run evaluated the rules");
    let reported = scalar(
        &pool,
        "SELECT coalesce(sum(findings_count), 0) FROM ingestion_run_items",
    )
    .await;
    assert_eq!(reported, findings, "each item reports its findings");
    let rules = scalar(
        &pool,
        "SELECT count(DISTINCT rule_id) FROM recommendations WHERE source = 'rule'",
    )
    .await;
    assert!(rules >= 10, "{rules} rules fired on the simulated estate");

    let versions = "SELECT string_agg(xmin::text, ',' ORDER BY id) FROM recommendations";
    let before: String = sqlx::query_scalar(versions).fetch_one(&pool).await.unwrap();
    let requests_before = sim.stats().requests.total();
    let (status, accepted) = p
        .request(
            "POST",
            "/api/v1/rules/evaluate".into(),
            Some(json!({"tenant_id": TENANT})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let texts = p.drain().await;
    assert_eq!(texts.len(), 2, "one message per subscription");
    assert!(
        texts.iter().all(|t| t.contains("\"mode\":\"evaluate\"")),
        "{texts:?}"
    );
    p.process(&texts, 2).await;
    let run = accepted["run_id"].as_str().expect("run id");
    let (_, status) = p
        .request("GET", format!("/api/v1/ingestion/status/{run}"), None)
        .await;
    assert_eq!(status["status"], "succeeded", "{status}");
    assert_eq!(
        status["items"][0]["findings_count"].as_i64().unwrap_or(0)
            + status["items"][1]["findings_count"].as_i64().unwrap_or(0),
        findings
    );
    let after: String = sqlx::query_scalar(versions).fetch_one(&pool).await.unwrap();
    assert_eq!(
        before, after,
        "unchanged data: no recommendation row rewritten"
    );
    assert_eq!(
        sim.stats().requests.total(),
        requests_before,
        "an evaluation calls no Azure API"
    );

    let (status, body) = p
        .request(
            "POST",
            "/api/v1/ingestion/trigger".into(),
            Some(json!({"mode": "evaluate", "tenant_id": TENANT})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
