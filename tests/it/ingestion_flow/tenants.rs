//! What one tenant's ingestion can do to another's: nothing. A forged message cannot reject
//! another tenant's run item, one tenant cannot queue run after run of the same mode, and run
//! items show tenant readers a sanitised failure, not Azure's text.

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{Flow, flow, process_all, queue_payload};

async fn the_tenant(pool: &PgPool) -> Uuid {
    sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_one(pool)
        .await
        .expect("tenant")
}

/// Another tenant with one subscription Azure does not know; returns (tenant, subscription).
async fn other_tenant(pool: &PgPool) -> (Uuid, Uuid) {
    let tenant: Uuid = sqlx::query_scalar(
        "INSERT INTO tenants (name, azure_tenant_id) VALUES ('Fabrikam', $1) RETURNING id",
    )
    .bind(Uuid::new_v4())
    .fetch_one(pool)
    .await
    .expect("tenant");
    let subscription = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO subscriptions (tenant_id, subscription_id, display_name) VALUES ($1, $2, 'x')",
    )
    .bind(tenant)
    .bind(subscription)
    .execute(pool)
    .await
    .expect("subscription");
    (tenant, subscription)
}

async fn trigger(flow: &Flow, body: Value) -> (StatusCode, Value) {
    flow.request("POST", "/api/v1/ingestion/trigger".into(), Some(body))
        .await
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_message_naming_another_tenants_run_leaves_its_items_alone(pool: PgPool) {
    let flow = flow(pool, 1).await;
    let victim = the_tenant(&flow.pool).await;
    let (attacker, _) = other_tenant(&flow.pool).await;
    let (status, accepted) = trigger(&flow, json!({"tenant_id": victim, "mode": "cost"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let run_id = accepted["run_id"].as_str().expect("run id").to_owned();
    flow.drain().await;
    let victims_sub = flow
        .sim
        .estate
        .subscriptions_of(flow.sim.estate.tenants()[0].id)
        .next()
        .expect("subscription")
        .id;
    let forged = json!({"v": 1, "run_id": run_id, "tenant_id": attacker,
        "subscription_id": victims_sub, "mode": "cost"});
    let (status, answer) = flow
        .invoke(
            "ingest-subscription",
            &queue_payload(&forged.to_string(), 1),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["Logs"][0]
            .as_str()
            .is_some_and(|l| l.starts_with("rejected:")),
        "{answer}"
    );
    let (_, run) = flow
        .request("GET", format!("/api/v1/ingestion/status/{run_id}"), None)
        .await;
    assert_eq!(run["items"][0]["status"], "queued", "{run}");
    assert_eq!(run["items"][0]["error"], Value::Null, "{run}");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE target_type = 'rejected_message' AND metadata::text LIKE '%' || $1 || '%'",
    )
    .bind(attacker.to_string())
    .fetch_one(&flow.pool)
    .await
    .expect("audit");
    assert_eq!(audited, 1, "the rejection is still audited");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_tenant_has_one_run_per_mode_in_progress_and_every_trigger_is_audited(pool: PgPool) {
    let flow = flow(pool, 2).await;
    let tenant = the_tenant(&flow.pool).await;
    let (other, _) = other_tenant(&flow.pool).await;
    let (status, first) = trigger(&flow, json!({"tenant_id": tenant, "mode": "cost"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let first_id = first["run_id"].as_str().expect("run id").to_owned();

    let (status, refused) = trigger(&flow, json!({"tenant_id": tenant, "mode": "cost"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["error"]["code"], "conflict", "{refused}");
    let message = refused["error"]["message"].as_str().expect("message");
    assert!(
        message.contains(&first_id),
        "names the queued run: {message}"
    );

    let (status, full) = trigger(&flow, json!({"tenant_id": tenant, "mode": "full"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "another mode: {full}");
    let (status, theirs) = trigger(&flow, json!({"tenant_id": other, "mode": "cost"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "another tenant: {theirs}");

    let audit: Vec<(Option<Uuid>, String, Value)> = sqlx::query_as(
        "SELECT tenant_id, actor, metadata FROM audit_logs WHERE target_type = 'ingestion_run' AND target_id = $1",
    )
    .bind(&first_id)
    .fetch_all(&flow.pool)
    .await
    .expect("audit");
    let [(audited_tenant, actor, metadata)] = audit.as_slice() else {
        panic!("one audit row for the accepted trigger: {audit:?}")
    };
    assert_eq!(*audited_tenant, Some(tenant));
    assert!(!actor.is_empty());
    let after = &metadata["after"];
    assert_eq!(after["mode"], "cost", "{metadata}");
    assert_eq!(after["subscriptions"].as_array().map(Vec::len), Some(2));
    assert!(after.get("cost_from").is_some(), "{metadata}");
    let triggers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE target_type = 'ingestion_run'")
            .fetch_one(&flow.pool)
            .await
            .expect("count");
    assert_eq!(triggers, 3, "the refused trigger created nothing to audit");

    assert_eq!(process_all(&flow).await, 5);
    let (status, again) = trigger(&flow, json!({"tenant_id": tenant, "mode": "cost"})).await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "the first run has finished: {again}"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn two_triggers_at_once_create_one_run(pool: PgPool) {
    let flow = flow(pool, 1).await;
    let tenant = the_tenant(&flow.pool).await;
    let body = json!({"tenant_id": tenant, "mode": "full"});
    let (a, b) = tokio::join!(trigger(&flow, body.clone()), trigger(&flow, body));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::ACCEPTED, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let runs: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_runs")
        .fetch_one(&flow.pool)
        .await
        .expect("count");
    assert_eq!(runs, 1);
}

/// The daily timer's invocation, now.
fn daily_timer() -> Value {
    json!({
        "Data": {"timer": {"Schedule": {"AdjustForDST": true}, "IsPastDue": false}},
        "Metadata": {"sys": {"MethodName": "ingest-daily", "UtcNow": chrono::Utc::now().to_rfc3339()}}
    })
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_timer_skips_a_tenant_whose_run_of_the_mode_is_in_progress(pool: PgPool) {
    let flow = flow(pool, 1).await;
    let tenant = the_tenant(&flow.pool).await;
    let (status, accepted) = trigger(&flow, json!({"tenant_id": tenant, "mode": "full"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    flow.drain().await;
    let (status, answer) = flow.invoke("ingest-daily", &daily_timer()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["Logs"][0]
            .as_str()
            .is_some_and(|l| l.contains("0 run(s) created, 0 found, 0 message(s)")),
        "{answer}"
    );
    assert!(
        flow.drain().await.is_empty(),
        "no message for the busy tenant"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_failed_item_shows_its_readers_a_code_and_a_short_message_only(pool: PgPool) {
    let flow = flow(pool, 1).await;
    let tenant = the_tenant(&flow.pool).await;
    // A subscription of the tenant's own (its home-tenant check passes) whose cost scope Azure
    // does not know: Cost Management answers 404 with its own text, naming the scope.
    let unknown: Uuid = sqlx::query_scalar(
        "UPDATE subscriptions SET billing_scope = '/providers/Microsoft.Billing/billingAccounts/no-such-account'
         WHERE id = (SELECT id FROM subscriptions WHERE tenant_id = $1 ORDER BY subscription_id LIMIT 1)
         RETURNING subscription_id",
    )
    .bind(tenant)
    .fetch_one(&flow.pool)
    .await
    .expect("subscription");
    let body = json!({"tenant_id": tenant, "mode": "cost", "subscription_ids": [unknown]});
    let (status, accepted) = trigger(&flow, body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(process_all(&flow).await, 1);
    let run_id = accepted["run_id"].as_str().expect("run id");
    let (_, run) = flow
        .request("GET", format!("/api/v1/ingestion/status/{run_id}"), None)
        .await;
    let item = &run["items"][0];
    assert_eq!(item["status"], "failed", "{run}");
    assert_eq!(item["error_code"], "azure_not_found", "{run}");
    let shown = item["error"].as_str().expect("a short message");
    assert!(!shown.is_empty());
    for azure_text in [
        "no-such-account",
        "has no operation",
        "NotFound\"",
        "x-ms-request-id",
        "https://",
    ] {
        assert!(
            !item.to_string().contains(azure_text),
            "{azure_text} shown: {item}"
        );
    }
}
