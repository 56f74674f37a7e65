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

/// Issue 14's evidence: a resource fixed in Azure (here, given the tags it lacked, through the
/// simulator's `POST /_sim/resources/tags`) is found again by nothing, and its finding resolves
/// after two evaluations in a row without it: the first counts one absence and keeps it open,
/// the second resolves it and puts the resolution on its timeline.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_resource_fixed_in_azure_resolves_after_two_evaluations(pool: PgPool) {
    let sim = simulator(1, 80).await;
    let p = Pipeline::new(pool.clone(), &sim).await;
    p.fire_daily().await;
    let texts = p.drain().await;
    p.process(&texts, 1).await;
    let (id, resource_id, evidence): (uuid::Uuid, String, serde_json::Value) = sqlx::query_as(
        "SELECT id, resource_id, evidence FROM recommendations
         WHERE source = 'rule' AND rule_id = 'tag.missing' AND status = 'open'
         ORDER BY resource_id LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .expect("the simulated estate has an untagged resource");
    let tags: serde_json::Map<String, serde_json::Value> = evidence["missing_tags"]
        .as_array()
        .expect("the missing tags")
        .iter()
        .filter_map(|k| k.as_str())
        .map(|k| (k.to_owned(), json!("fixed")))
        .collect();
    assert!(!tags.is_empty(), "{evidence}");

    let tag_url = sim.base_url.join("_sim/resources/tags").expect("url");
    let client = reqwest::Client::new();
    let bad = client
        .post(tag_url.clone())
        .json(&json!({"resource_id": resource_id}))
        .send()
        .await
        .expect("simulator");
    assert_eq!(bad.status().as_u16(), 400, "tags are required");
    let fixed = client
        .post(tag_url)
        .json(&json!({"resource_id": resource_id, "tags": tags}))
        .send()
        .await
        .expect("simulator");
    assert_eq!(fixed.status().as_u16(), 204);

    let state = || async {
        sqlx::query_as::<_, (String, i32)>(
            "SELECT status::text, absent_evaluations FROM recommendations WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("the finding")
    };
    // A full ingestion reads the new tags and evaluates: one absence, still open.
    let (status, accepted) = p
        .request(
            "POST",
            "/api/v1/ingestion/trigger".into(),
            Some(json!({"tenant_id": TENANT, "mode": "full"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let texts = p.drain().await;
    p.process(&texts, 1).await;
    let tagged: serde_json::Value =
        sqlx::query_scalar("SELECT tags FROM resources WHERE resource_id = $1")
            .bind(&resource_id)
            .fetch_one(&pool)
            .await
            .expect("the resource");
    assert_eq!(
        tagged,
        serde_json::Value::Object(tags),
        "the inventory has the tags"
    );
    assert_eq!(state().await, ("open".to_owned(), 1));

    // The second evaluation without it resolves it.
    let (status, accepted) = p
        .request(
            "POST",
            "/api/v1/rules/evaluate".into(),
            Some(json!({"tenant_id": TENANT})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let texts = p.drain().await;
    p.process(&texts, 1).await;
    assert_eq!(state().await, ("resolved".to_owned(), 2));
    let (_, timeline) = p
        .request("GET", format!("/api/v1/recommendations/{id}"), None)
        .await;
    let events = timeline["timeline"].as_array().cloned().unwrap_or_default();
    assert!(
        events.iter().any(|e| e["kind"] == "resolved"),
        "the resolution is on the timeline: {timeline}"
    );
}
