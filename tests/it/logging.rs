//! Every failure is logged exactly once, on one line carrying its cause, its status and the
//! request's correlation id: an API error by the request line (not also by the error type), a
//! failed invocation by the request line (not also by the function), a rejected queue message
//! by the queue function (not also by the pipeline).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use tower::ServiceExt;

use azcops::api::{AppState, Authn};
use azcops::db::Database;

use crate::support::TestApp;
use crate::support::logs::Logs;
use crate::support::pipeline::{Pipeline, queue_payload, simulator};

/// A request carrying the correlation id `id`, as the operator.
fn tenants_request(app: &TestApp, id: &str) -> Request<Body> {
    Request::get("/api/v1/tenants")
        .header("authorization", format!("Bearer {}", app.operator()))
        .header("x-correlation-id", id)
        .body(Body::empty())
        .expect("request")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_internal_api_error_is_logged_once_with_its_cause_status_and_correlation_id(
    pool: PgPool,
) {
    let app = TestApp::new(pool.clone()).await;
    sqlx::query("ALTER TABLE tenants RENAME TO tenants_elsewhere")
        .execute(&pool)
        .await
        .expect("rename");
    let (logs, _guard) = Logs::capture();

    let reply = app.send(tenants_request(&app, "corr-internal-1")).await;

    reply.assert_error(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    let text = logs.text();
    let lines = logs.lines_with("does not exist");
    assert_eq!(lines.len(), 1, "one log line for the failure:\n{text}");
    assert!(lines[0].contains("status=500"), "{text}");
    assert!(lines[0].contains("corr-internal-1"), "{text}");
    assert_eq!(logs.failures(), lines, "no other line reports it");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_unreachable_database_is_logged_once_with_its_cause(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    pool.close().await;
    let (logs, _guard) = Logs::capture();

    let reply = app.send(tenants_request(&app, "corr-db-down-1")).await;

    reply.assert_error(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    let text = logs.text();
    let lines = logs.failures();
    assert_eq!(lines.len(), 1, "one log line for the failure:\n{text}");
    assert!(lines[0].contains("corr-db-down-1"), "{text}");
    assert!(lines[0].contains("status=503"), "{text}");
    assert!(lines[0].contains("closed"), "the cause:\n{text}");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_failed_invocation_is_logged_once_with_its_cause_and_status(pool: PgPool) {
    let state = AppState::new(Database::from_pool(pool), Authn::Disabled);
    let router = azcops::server::handler_router(state);
    let (logs, _guard) = Logs::capture();

    let payload = queue_payload("{}", 1);
    let request = Request::post("/ingest-subscription")
        .header("content-type", "application/json")
        .header("x-correlation-id", "corr-invoke-1")
        .body(Body::from(payload.to_string()))
        .expect("request");
    let response = router.oneshot(request).await.expect("answer");

    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = logs.text();
    let lines = logs.lines_with("ingestion is not configured");
    assert_eq!(lines.len(), 1, "one log line for the failure:\n{text}");
    assert!(lines[0].contains("status=503"), "{text}");
    assert!(lines[0].contains("corr-invoke-1"), "{text}");
    assert_eq!(logs.failures(), lines, "no other line reports it");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_rejected_queue_message_is_logged_once_with_its_reason(pool: PgPool) {
    let sim = simulator(1, 5).await;
    let pipeline = Pipeline::new(pool, &sim).await;
    let (logs, _guard) = Logs::capture();

    let text = json!({"v": 9, "tenant_id": "x"}).to_string();
    let (status, answer) = pipeline
        .invoke_raw(
            "ingest-subscription",
            Body::from(queue_payload(&text, 2).to_string()),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    let reason = answer["Logs"][0]
        .as_str()
        .and_then(|l| l.strip_prefix("rejected: "))
        .expect("a rejection")
        .to_owned();
    let all = logs.text();
    let lines = logs.lines_with(&reason);
    assert_eq!(lines.len(), 1, "one log line for the rejection:\n{all}");
    assert!(lines[0].contains("dequeue_count=2"), "{all}");
    assert_eq!(logs.failures(), lines, "no other line reports it");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_registration_azure_cannot_verify_is_logged_once_with_its_cause(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, tid) = app.tenant("A").await;
    let (logs, _guard) = Logs::capture();

    let request = Request::post("/api/v1/subscriptions")
        .header(
            "authorization",
            format!("Bearer {}", app.token(tid, &["AzCops.Admin"])),
        )
        .header("content-type", "application/json")
        .header("x-correlation-id", "corr-no-azure-1")
        .body(Body::from(
            json!({"subscription_id": uuid::Uuid::new_v4(), "display_name": "x"}).to_string(),
        ))
        .expect("request");
    let reply = app.send(request).await;

    reply.assert_error(StatusCode::SERVICE_UNAVAILABLE, "azure_unavailable");
    let text = logs.text();
    let lines = logs.failures();
    assert_eq!(lines.len(), 1, "one log line for the failure:\n{text}");
    assert!(lines[0].contains("corr-no-azure-1"), "{text}");
    assert!(lines[0].contains("status=503"), "{text}");
    assert!(
        lines[0].contains("Azure is not configured"),
        "the cause:\n{text}"
    );
}
