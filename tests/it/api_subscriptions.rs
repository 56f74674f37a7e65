//! Subscriptions CRUD, tenant scoping, and conflicts; registration against the simulated
//! Azure (the subscription's home tenant is checked: [`home_tenant`]).

mod home_tenant;

use axum::http::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::sim_azure::{operator_identity, simulator};
use crate::support::{ADMIN, READER, TestApp};

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_tenant_admin_manages_its_own_subscriptions(pool: PgPool) {
    let sim = simulator(1, 3).await;
    let app = TestApp::with_azure(pool, operator_identity(&sim)).await;
    let tid = sim.estate.tenants()[0].id;
    let tenant = app.tenant_of("Contoso", tid).await;
    let admin = app.token(tid, &[ADMIN]);
    let sub = sim.estate.tenants()[0].subscription_ids[0];
    let created = app
        .post("/api/v1/subscriptions", &admin, json!({"subscription_id": sub, "display_name": "prod", "billing_scope": "/providers/Microsoft.Billing/billingAccounts/1"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.body["tenant_id"],
        tenant.to_string(),
        "the caller's tenant is implied"
    );
    let id = created.id();

    let patched = app
        .patch(
            &format!("/api/v1/subscriptions/{id}"),
            &admin,
            json!({"display_name": "production", "billing_scope": null}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["display_name"], "production");
    assert!(
        patched.body["billing_scope"].is_null(),
        "explicit null clears the scope"
    );
    assert_eq!(patched.body["is_active"], true);

    let kept = app
        .patch(
            &format!("/api/v1/subscriptions/{id}"),
            &admin,
            json!({"is_active": false}),
        )
        .await;
    assert_eq!(
        kept.body["display_name"], "production",
        "absent fields are kept"
    );

    let listed = app
        .get(
            "/api/v1/subscriptions?is_active=false&include_total=true",
            &admin,
        )
        .await;
    assert_eq!(listed.body["total"], 1);

    let deleted = app
        .delete(&format!("/api/v1/subscriptions/{id}"), &admin)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let actions: Vec<String> = app
        .audit_rows(id)
        .await
        .into_iter()
        .map(|(a, _, _)| a)
        .collect();
    assert_eq!(actions, ["create", "update", "update", "delete"]);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_registered_subscription_id_is_a_conflict(pool: PgPool) {
    let sim = simulator(1, 3).await;
    let app = TestApp::with_azure(pool, operator_identity(&sim)).await;
    let home = &sim.estate.tenants()[0];
    let tenant = app.tenant_of("Contoso", home.id).await;
    let body = json!({"tenant_id": tenant, "subscription_id": home.subscription_ids[0], "display_name": "prod"});
    let first = app
        .post("/api/v1/subscriptions", &app.operator(), body.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app
        .post("/api/v1/subscriptions", &app.operator(), body)
        .await;
    again.assert_error(StatusCode::CONFLICT, "conflict");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_operator_must_name_an_existing_tenant(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let op = app.operator();
    let missing = app
        .post(
            "/api/v1/subscriptions",
            &op,
            json!({"subscription_id": Uuid::new_v4(), "display_name": "x"}),
        )
        .await;
    missing.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let unknown = app
        .post("/api/v1/subscriptions", &op, json!({"tenant_id": Uuid::new_v4(), "subscription_id": Uuid::new_v4(), "display_name": "x"}))
        .await;
    unknown.assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn operators_filter_lists_by_tenant_and_tenants_see_only_their_own(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, a_tid) = app.tenant("A").await;
    let (b, _) = app.tenant("B").await;
    app.subscription(a, "a-1").await;
    app.subscription(a, "a-2").await;
    app.subscription(b, "b-1").await;
    let op = app.operator();
    let all = app
        .get("/api/v1/subscriptions?include_total=true", &op)
        .await;
    assert_eq!(all.body["total"], 3);
    let only_b = app
        .get(
            &format!("/api/v1/subscriptions?tenant_id={b}&include_total=true"),
            &op,
        )
        .await;
    assert_eq!(only_b.body["total"], 1);
    assert_eq!(only_b.body["items"][0]["display_name"], "b-1");

    let reader_a = app.token(a_tid, &[READER]);
    let mine = app
        .get("/api/v1/subscriptions?include_total=true", &reader_a)
        .await;
    assert_eq!(mine.body["total"], 2);
    let theirs = app
        .get(
            &format!("/api/v1/subscriptions?tenant_id={b}&include_total=true"),
            &reader_a,
        )
        .await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert_eq!(
        theirs.body["total"], 0,
        "another tenant's filter shows nothing"
    );
    let tenants = app
        .get("/api/v1/tenants?include_total=true", &reader_a)
        .await;
    assert_eq!(tenants.body["total"], 1);
    assert_eq!(tenants.body["items"][0]["id"], a.to_string());
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn subscription_bad_input_is_a_400(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (tenant, _) = app.tenant("A").await;
    let op = app.operator();
    for body in [
        json!({"tenant_id": tenant, "subscription_id": "not-a-guid", "display_name": "x"}),
        json!({"tenant_id": tenant, "subscription_id": Uuid::new_v4(), "display_name": ""}),
        json!({"tenant_id": tenant, "subscription_id": Uuid::new_v4(), "display_name": "x", "billing_scope": ""}),
        json!({"tenant_id": tenant, "subscription_id": Uuid::new_v4(), "display_name": "x", "is_active": "yes"}),
        json!({"tenant_id": tenant, "display_name": "x"}),
    ] {
        let reply = app.post("/api/v1/subscriptions", &op, body).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    let listed = app.get("/api/v1/subscriptions?is_active=maybe", &op).await;
    listed.assert_error(StatusCode::BAD_REQUEST, "bad_request");
}
