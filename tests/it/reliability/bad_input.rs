//! Bad input: malformed invocation payloads sent to every function route — not JSON, invalid
//! UTF-8, JSON of the wrong shape or types, nested past any parser's depth, empty, huge — get a
//! clear answer (a 4xx with a reason, or 200 with the rejection logged for a queue message that
//! can never succeed), never a 5xx (a panic is a 500 through the catch-panic layer), and leave
//! the handler able to ingest the next good message. Text the database cannot store (NUL) is
//! a 400 in the API. The API as a whole is fuzzed from its OpenAPI document by `scripts/fuzz`.

use axum::body::Body;
use axum::http::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::pipeline::{Pipeline, ScratchDb, queue_payload, simulator};

const FUNCTIONS: [&str; 3] = ["ingest-daily", "ingest-hourly", "ingest-subscription"];

/// Payloads no host would send, whatever the function.
fn garbage() -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = [
        ("empty", ""),
        ("not JSON", "not json at all"),
        ("truncated JSON", r#"{"Data": {"message": "#),
        ("a string", r#""garbage""#),
        ("a number", "42"),
        ("null", "null"),
        ("an array", "[1, 2]"),
        ("Data a number", r#"{"Data": 5, "Metadata": {}}"#),
        ("Metadata a string", r#"{"Data": {}, "Metadata": "x"}"#),
        ("Data an array", r#"{"Data": [], "Metadata": []}"#),
        ("bindings of the wrong type", r#"{"Data": {"message": 5, "timer": 5}, "Metadata": {"sys": 5, "DequeueCount": []}}"#),
        ("null bindings", r#"{"Data": {"message": null, "timer": null}, "Metadata": null}"#),
        ("timer a string", r#"{"Data": {"timer": "{\"IsPastDue\": \"yes\"}"}, "Metadata": {"sys": {"UtcNow": "yesterday"}}}"#),
        ("UtcNow in year 1", r#"{"Data": {"timer": {}}, "Metadata": {"sys": {"UtcNow": "0001-01-01T00:00:00Z"}}}"#),
        ("UtcNow a number", r#"{"Data": {"timer": {}}, "Metadata": {"sys": {"UtcNow": 1}}}"#),
    ]
    .into_iter()
    .map(|(name, body)| (name.to_owned(), body.as_bytes().to_vec()))
    .collect();
    cases.push(("invalid UTF-8".into(), vec![b'{', 0xff, 0xfe, b'}']));
    cases.push((
        "nested 100,000 deep".into(),
        "[".repeat(100_000).into_bytes(),
    ));
    cases.push((
        "over the body limit".into(),
        json!({"Data": {"message": "x".repeat(300 * 1024)}})
            .to_string()
            .into_bytes(),
    ));
    cases
}

/// Queue messages that can never succeed, delivered well-formed.
fn bad_messages(tenant: Uuid) -> Vec<(String, String)> {
    let message = |v: Value| v.to_string();
    vec![
        ("not JSON".into(), "hello".into()),
        ("empty".into(), String::new()),
        ("a JSON number".into(), "17".into()),
        (
            "wrong types".into(),
            message(json!({"v": "1", "tenant_id": 5, "subscription_id": [], "mode": true})),
        ),
        (
            "bad UUIDs".into(),
            message(
                json!({"v": 1, "tenant_id": "not-a-uuid", "subscription_id": "x", "mode": "full"}),
            ),
        ),
        (
            "unknown mode".into(),
            message(
                json!({"v": 1, "tenant_id": tenant, "subscription_id": Uuid::new_v4(), "mode": "everything"}),
            ),
        ),
        (
            "a NUL character".into(),
            message(
                json!({"v": 1, "tenant_id": tenant, "subscription_id": Uuid::new_v4(), "mode": "full\u{0}"}),
            ),
        ),
        (
            "inverted cost window".into(),
            message(
                json!({"v": 1, "tenant_id": tenant, "subscription_id": Uuid::new_v4(),
            "mode": "cost", "cost_from": "2026-02-01", "cost_to": "2026-01-01"}),
            ),
        ),
        (
            "an unknown field".into(),
            message(
                json!({"v": 1, "tenant_id": tenant, "subscription_id": Uuid::new_v4(), "mode": "full", "x": 1}),
            ),
        ),
        ("200 KiB".into(), "y".repeat(200 * 1024)),
    ]
}

#[tokio::test]
async fn malformed_invocation_payloads_get_clear_answers_and_the_next_good_message_is_ingested() {
    let sim = simulator(1, 10).await;
    let db = ScratchDb::create().await;
    let pipeline = Pipeline::new(db.pool.clone(), &sim).await;
    let mut tried = 0;
    for function in FUNCTIONS {
        for (name, body) in garbage() {
            let (status, answer) = pipeline.invoke_raw(function, Body::from(body)).await;
            tried += 1;
            let what = format!("{function} with {name}: {status} {answer}");
            assert!(!status.is_server_error(), "{what}");
            assert!(
                status == StatusCode::OK || status.is_client_error(),
                "{what}"
            );
            let reason = answer["Logs"][0]
                .as_str()
                .or(answer["error"]["message"].as_str());
            assert!(reason.is_some_and(|r| !r.is_empty()), "a reason: {what}");
            if function == "ingest-subscription" {
                assert!(
                    status.is_client_error() || reason.is_some_and(|r| r.starts_with("rejected:")),
                    "{what}"
                );
            }
        }
    }
    let tenant: Uuid = sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_one(&pipeline.pool)
        .await
        .expect("tenant");
    for (name, text) in bad_messages(tenant) {
        for dequeue_count in [1, 5, u32::MAX] {
            let (status, answer) = pipeline.deliver(&text, dequeue_count).await;
            tried += 1;
            assert_eq!(
                status,
                StatusCode::OK,
                "a message that can never succeed is not retried ({name}): {answer}"
            );
            assert!(
                answer["Logs"][0]
                    .as_str()
                    .is_some_and(|l| l.starts_with("rejected:")),
                "{name}: {answer}"
            );
        }
    }
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT metadata::text FROM audit_logs WHERE target_type = 'rejected_message'",
    )
    .fetch_all(&pipeline.pool)
    .await
    .expect("audit rows");
    assert_eq!(
        audited.len(),
        bad_messages(tenant).len() * 3,
        "every rejected delivery is in the audit log: {audited:?}"
    );
    let resources: i64 = sqlx::query_scalar("SELECT count(*) FROM resources")
        .fetch_one(&pipeline.pool)
        .await
        .expect("count");
    assert_eq!(resources, 0, "nothing was ingested from bad input");

    // The handler is unharmed: the timers' messages are ingested.
    pipeline.drain().await;
    sqlx::query("DELETE FROM ingestion_runs")
        .execute(&pipeline.pool)
        .await
        .expect("start afresh");
    pipeline.fire_daily().await;
    let texts = pipeline.drain().await;
    assert_eq!(texts.len(), 1);
    let (status, answer) = pipeline
        .invoke_raw(
            "ingest-subscription",
            Body::from(queue_payload(&texts[0], 1).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(pipeline.item_statuses().await, ["succeeded"]);
    eprintln!(
        "reliability/bad_input: {tried} malformed invocations and messages answered 200 or 4xx \
         with a reason, none 5xx; the next good message ingested"
    );
}

#[tokio::test]
async fn text_with_a_nul_character_is_a_400_not_a_500() {
    let sim = simulator(1, 1).await;
    let db = ScratchDb::create().await;
    let pipeline = Pipeline::new(db.pool.clone(), &sim).await;
    let call = |method: &'static str, uri: String, body: Option<Value>| {
        pipeline.request(method, uri, body)
    };
    let subscription: Uuid = sqlx::query_scalar("SELECT id FROM subscriptions")
        .fetch_one(&pipeline.pool)
        .await
        .expect("subscription");
    let attempts = [
        (
            "POST",
            "/api/v1/tenants".to_owned(),
            Some(json!({"name": "a\u{0}b", "azure_tenant_id": Uuid::new_v4()})),
        ),
        (
            "PATCH",
            format!("/api/v1/subscriptions/{subscription}"),
            Some(json!({"display_name": "x\u{0}"})),
        ),
        ("GET", "/api/v1/resources?type=a%00b".to_owned(), None),
        ("GET", "/api/v1/costs?service_name=%00".to_owned(), None),
    ];
    for (method, uri, body) in attempts {
        let (status, answer) = call(method, uri.clone(), body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {uri}: {answer}");
        assert_eq!(answer["error"]["code"], "bad_request", "{answer}");
    }
}
