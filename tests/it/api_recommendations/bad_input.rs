//! Bad input to the recommendation, suppression and rule endpoints gets a 4xx with the error
//! envelope, never a 5xx.

use axum::http::{Method, StatusCode};
use chrono::Duration;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::World;
use crate::support::ADMIN;

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn bad_input_is_answered_with_a_client_error(pool: PgPool) {
    let w = World::new(pool).await;
    let id = w.fresh().await;
    let now = w.app.clock.now();
    let transition = format!("/api/v1/recommendations/{id}/transition");
    let far = now + Duration::days(366);
    let past = now - Duration::days(1);
    let cases: Vec<(Method, String, Option<Value>, StatusCode)> = vec![
        (
            Method::GET,
            "/api/v1/recommendations?status=bogus".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/recommendations?min_savings=-1".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/recommendations?min_savings=NaN".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/recommendations?tag_value=x".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/recommendations?sort=price".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/recommendations?page_size=501".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/recommendations?rule_id=%20".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/recommendations/not-a-uuid".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            "/api/v1/recommendations/summary?extra=1".into(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            transition.clone(),
            Some(json!({ "to": "gone" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            transition.clone(),
            Some(json!({ "to": "approved", "extra": 1 })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            transition.clone(),
            Some(json!({ "to": "rejected" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            transition.clone(),
            Some(json!({ "to": "dismissed", "reason": "x", "until": far })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            transition.clone(),
            Some(json!({ "to": "dismissed", "reason": "x", "until": past })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            transition.clone(),
            Some(json!({ "to": "dismissed", "reason": "x", "until": "tomorrow" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            transition.clone(),
            Some(json!({ "to": "approved", "reference": "CHG-1" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            transition.clone(),
            Some(json!({ "to": "approved", "reason": "x".repeat(2001) })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            transition.clone(),
            Some(json!({ "to": "rejected", "reason": "nul \u{0} here" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            format!("/api/v1/recommendations/{}/transition", Uuid::new_v4()),
            Some(json!({ "to": "approved" })),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/api/v1/recommendations/transitions".into(),
            Some(json!({ "ids": [], "to": "approved" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/suppressions".into(),
            Some(json!({ "scope": "tag", "target": "all", "kind": "exclude", "reason": "x" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/suppressions".into(),
            Some(json!({ "scope": "tenant", "target": "all", "kind": "snooze", "reason": "x" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/suppressions".into(),
            Some(json!({ "scope": "tenant", "target": "rule", "kind": "exclude", "reason": "x" })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/suppressions".into(),
            Some(json!({ "scope": "tenant", "target": "all", "kind": "exclude", "reason": " " })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/suppressions".into(),
            Some(
                json!({ "scope": "tenant", "target": "all", "kind": "exclude", "reason": "x", "rule_id": "r" }),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            "/api/v1/suppressions".into(),
            Some(
                json!({ "scope": "subscription", "subscription_id": Uuid::new_v4(), "target": "all", "kind": "exclude", "reason": "x" }),
            ),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::POST,
            "/api/v1/suppressions".into(),
            Some(
                json!({ "tenant_id": Uuid::new_v4(), "scope": "tenant", "target": "all", "kind": "exclude", "reason": "x" }),
            ),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            format!("/api/v1/suppressions/{}", Uuid::new_v4()),
            Some(json!({ "reason": "y" })),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PATCH,
            "/api/v1/rules/vm.idle".into(),
            Some(json!({ "thresholds": { "nonsense": 1 } })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PATCH,
            "/api/v1/rules/vm.idle".into(),
            Some(json!({ "thresholds": [1, 2] })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PATCH,
            "/api/v1/rules".into(),
            Some(json!({ "min_savings": -3 })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PATCH,
            "/api/v1/rules".into(),
            Some(json!({ "required_tag_keys": vec!["k"; 51] })),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::PATCH,
            "/api/v1/rules".into(),
            Some(json!({ "required_tag_keys": [""] })),
            StatusCode::BAD_REQUEST,
        ),
    ];
    let admin = w.token(&[ADMIN]);
    for (method, uri, body, status) in cases {
        let reply = w
            .app
            .call(method.clone(), &uri, Some(&admin), body.clone())
            .await;
        assert_eq!(
            reply.status, status,
            "{method} {uri} {body:?}: {}",
            reply.body
        );
        assert!(
            reply.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    // The operator must name the tenant whose settings change, and one that exists.
    let operator = w.app.operator();
    let reply = w
        .app
        .patch("/api/v1/rules", &operator, json!({ "owns_licences": true }))
        .await;
    reply.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let reply = w
        .app
        .patch(
            "/api/v1/rules/vm.idle",
            &operator,
            json!({ "tenant_id": Uuid::new_v4() }),
        )
        .await;
    reply.assert_error(StatusCode::NOT_FOUND, "not_found");
}
