//! Authentication and authorisation through the API: tokens, roles, and tenant isolation.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::logs::Logs;
use crate::support::tokens::TokenBuilder;
use crate::support::{ADMIN, READER, Reply, TestApp};

fn assert_unauthorized(reply: &Reply) {
    reply.assert_error(StatusCode::UNAUTHORIZED, "unauthorized");
    let challenge = reply.headers["www-authenticate"]
        .to_str()
        .expect("ASCII challenge");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_missing_token_is_a_401_with_a_challenge(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let reply = app.call(Method::GET, "/api/v1/tenants", None, None).await;
    assert_unauthorized(&reply);
    let basic = app
        .send(
            Request::builder()
                .uri("/api/v1/tenants")
                .header("authorization", "Basic dXNlcjpwYXNz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_unauthorized(&basic);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn invalid_tokens_are_401s(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let tid = app.operator_tid;
    let base = || TokenBuilder::new(tid).roles(&[ADMIN]);
    let cases = [
        ("expired", base().exp_offset(-3600).rs256()),
        ("not yet valid", base().nbf_offset(3600).rs256()),
        ("wrong audience", base().aud("api://someone-else").rs256()),
        (
            "wrong issuer",
            base().iss("https://evil.example.com/").rs256(),
        ),
        ("unknown kid", base().kid("no-such-key").rs256()),
        ("alg none", base().alg_none()),
        (
            "HS256 with the public key",
            base().hs256_with_public_key_as_secret(),
        ),
        ("tampered signature", base().tampered()),
        ("attacker key", base().rs256_with_attacker_key()),
        ("garbage", "not.a.jwt".to_owned()),
        ("ID token of the same app", base().id_token().rs256()),
        ("v2 token without azp", base().without_claim("azp").rs256()),
        (
            "v1 token without appid",
            base().v1().without_claim("appid").rs256(),
        ),
    ];
    for (case, token) in cases {
        let reply = app.get("/api/v1/tenants", &token).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "{case}: {}",
            reply.body
        );
        assert_unauthorized(&reply);
        let challenge = reply.headers["www-authenticate"].to_str().unwrap();
        assert!(challenge.contains("invalid_token"), "{case}: {challenge}");
    }
    let valid = app.get("/api/v1/tenants", &base().rs256()).await;
    assert_eq!(
        valid.status,
        StatusCode::OK,
        "the same token, valid, is accepted"
    );
    let v1 = app.get("/api/v1/tenants", &base().v1().rs256()).await;
    assert_eq!(v1.status, StatusCode::OK, "a v1.0 access token is accepted");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_valid_token_without_an_app_role_is_forbidden(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.token(app.operator_tid, &[]);
    let reply = app.get("/api/v1/tenants", &token).await;
    reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_caller_from_an_unregistered_tenant_is_forbidden(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let token = app.token(Uuid::new_v4(), &[ADMIN]);
    let reply = app.get("/api/v1/subscriptions", &token).await;
    reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_reader_cannot_write_subscriptions(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (tenant, tid) = app.tenant("A").await;
    let sub = app.subscription(tenant, "prod").await;
    let reader = app.token(tid, &[READER]);
    let create = app
        .post(
            "/api/v1/subscriptions",
            &reader,
            json!({"subscription_id": Uuid::new_v4(), "display_name": "x"}),
        )
        .await;
    create.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let patch = app
        .patch(
            &format!("/api/v1/subscriptions/{sub}"),
            &reader,
            json!({"display_name": "y"}),
        )
        .await;
    patch.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let delete = app
        .delete(&format!("/api/v1/subscriptions/{sub}"), &reader)
        .await;
    delete.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let read = app
        .get(&format!("/api/v1/subscriptions/{sub}"), &reader)
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["display_name"], "prod", "nothing was changed");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn another_tenants_objects_answer_404_for_read_update_and_delete(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, a_tid) = app.tenant("A").await;
    let (b, _) = app.tenant("B").await;
    let b_sub = app.subscription(b, "b-prod").await;
    let admin_a = app.token(a_tid, &[ADMIN]);

    for (method, uri, body) in [
        (Method::GET, format!("/api/v1/subscriptions/{b_sub}"), None),
        (
            Method::PATCH,
            format!("/api/v1/subscriptions/{b_sub}"),
            Some(json!({"display_name": "hijacked"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/subscriptions/{b_sub}"),
            None,
        ),
        (Method::GET, format!("/api/v1/tenants/{b}"), None),
        (
            Method::PATCH,
            format!("/api/v1/tenants/{b}"),
            Some(json!({"name": "hijacked"})),
        ),
        (Method::DELETE, format!("/api/v1/tenants/{b}"), None),
    ] {
        let reply = app.call(method.clone(), &uri, Some(&admin_a), body).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {uri}: {}",
            reply.body
        );
    }
    let create_in_b = app
        .post(
            "/api/v1/subscriptions",
            &admin_a,
            json!({"tenant_id": b, "subscription_id": Uuid::new_v4(), "display_name": "x"}),
        )
        .await;
    create_in_b.assert_error(StatusCode::NOT_FOUND, "not_found");

    let op = app.operator();
    let b_still = app
        .get(&format!("/api/v1/subscriptions/{b_sub}"), &op)
        .await;
    assert_eq!(
        b_still.body["display_name"], "b-prod",
        "B's subscription untouched"
    );
    let b_count = app
        .get(
            &format!("/api/v1/subscriptions?tenant_id={b}&include_total=true"),
            &op,
        )
        .await;
    assert_eq!(b_count.body["total"], 1);
    let own = app.get(&format!("/api/v1/tenants/{a}"), &admin_a).await;
    assert_eq!(own.status, StatusCode::OK, "its own tenant is visible");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn only_operator_admins_manage_tenants(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, a_tid) = app.tenant("A").await;
    let admin_a = app.token(a_tid, &[ADMIN]);
    let create = app
        .post(
            "/api/v1/tenants",
            &admin_a,
            json!({"name": "mine", "azure_tenant_id": Uuid::new_v4()}),
        )
        .await;
    create.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let rename = app
        .patch(
            &format!("/api/v1/tenants/{a}"),
            &admin_a,
            json!({"name": "renamed"}),
        )
        .await;
    rename.assert_error(StatusCode::FORBIDDEN, "forbidden");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_deactivated_tenants_callers_are_forbidden(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, a_tid) = app.tenant("A").await;
    app.patch(
        &format!("/api/v1/tenants/{a}"),
        &app.operator(),
        json!({"is_active": false}),
    )
    .await;
    let reply = app
        .get("/api/v1/subscriptions", &app.token(a_tid, &[READER]))
        .await;
    reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
}

/// The API remembers which tenant an Entra tenant is, so its callers' requests need one
/// transaction; whether the tenant is still active is checked by that transaction, so a
/// deactivation (here, or by another instance straight in the database) and a deletion take
/// effect on the next request, and a reactivation too.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_remembered_tenant_is_refused_from_the_request_after_its_deactivation_or_deletion(
    pool: PgPool,
) {
    let (logs, _guard) = Logs::capture();
    let app = TestApp::new(pool.clone()).await;
    let (a, a_tid) = app.tenant("A").await;
    let reader = app.token(a_tid, &[READER]);
    let message = |reply: &Reply| {
        reply.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        app.get("/api/v1/subscriptions", &reader).await.status,
        StatusCode::OK
    );

    app.patch(
        &format!("/api/v1/tenants/{a}"),
        &app.operator(),
        json!({"is_active": false}),
    )
    .await;
    let refused = app.get("/api/v1/subscriptions", &reader).await;
    refused.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(
        message(&refused).contains("deactivated"),
        "{}",
        refused.body
    );

    app.patch(
        &format!("/api/v1/tenants/{a}"),
        &app.operator(),
        json!({"is_active": true}),
    )
    .await;
    let again = app.get("/api/v1/subscriptions", &reader).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "{} {:?}",
        again.body,
        logs.text()
    );

    // Another instance deactivates it: this one still remembers the tenant.
    sqlx::query("UPDATE tenants SET is_active = false WHERE id = $1")
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    let refused = app
        .get(&format!("/api/v1/costs/summary?tenant_id={a}"), &reader)
        .await;
    refused.assert_error(StatusCode::FORBIDDEN, "forbidden");
    sqlx::query("UPDATE tenants SET is_active = true WHERE id = $1")
        .bind(a)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/recommendations", &reader).await.status,
        StatusCode::OK
    );

    let deleted = app
        .delete(&format!("/api/v1/tenants/{a}"), &app.operator())
        .await;
    assert!(deleted.status.is_success(), "{}", deleted.body);
    let refused = app.get("/api/v1/subscriptions", &reader).await;
    refused.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(
        message(&refused).contains("not registered"),
        "{}",
        refused.body
    );

    // Registered again (a new tenant row): its callers see it at once.
    let again = app.tenant_of("A again", a_tid).await;
    assert_ne!(again, a);
    let listed = app.get("/api/v1/subscriptions", &reader).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_unreachable_jwks_is_a_503_not_a_401(pool: PgPool) {
    let app = TestApp::new(pool).await;
    app.jwks.set_failing(true);
    let reply = app.get("/api/v1/tenants", &app.operator()).await;
    reply.assert_error(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_refused_token_is_logged_once_with_its_reason_and_tenant_never_the_token(pool: PgPool) {
    let (logs, _guard) = Logs::capture();
    let app = TestApp::new(pool).await;
    let tid = Uuid::new_v4();
    let token = TokenBuilder::new(tid)
        .roles(&[ADMIN])
        .exp_offset(-3600)
        .rs256();

    let reply = app.get("/api/v1/tenants", &token).await;

    assert_unauthorized(&reply);
    let text = logs.text();
    let refusals: Vec<_> = text.lines().filter(|l| l.contains("expired")).collect();
    assert_eq!(refusals.len(), 1, "one log line for the failure:\n{text}");
    assert!(refusals[0].contains("bearer token refused"), "{text}");
    assert!(
        refusals[0].contains(&tid.to_string()),
        "the claimed tid:\n{text}"
    );
    for segment in token.split('.') {
        assert!(
            !text.contains(segment),
            "the token is never logged:\n{text}"
        );
    }
}
