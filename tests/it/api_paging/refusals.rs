//! A cursor is read only by the query that made it: another list, another filter, another
//! sort, another tenant, a page number beside it, or anything the API did not write is a 400
//! with the error envelope, never a 500 or a wrong page.

use axum::http::StatusCode;
use chrono::DateTime;
use uuid::Uuid;

use azcops::api::pagination::{QueryId, encode_cursor};
use azcops::db::recommendations::query::{Rank, RecommendationFilter, Sort};

use super::{page, resources, tenant, with};
use crate::support::{READER, TestApp};

/// Asserts a 400 with the envelope whose message contains `says`.
async fn refused(app: &TestApp, token: &str, uri: &str, says: &str) {
    let reply = app.get(uri, token).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let message = reply.body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{uri}: {message}");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_cursor_of_another_list_filter_sort_or_tenant_is_a_400(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let (a, a_tid, a_sub) = tenant(&app, "A").await;
    let (b, b_tid, b_sub) = tenant(&app, "B").await;
    resources(&app, a, a_sub, "disk", &[1, 2, 3]).await;
    resources(&app, b, b_sub, "disk", &[1, 2, 3]).await;
    app.subscription(a, "A second").await;
    let reader = app.token(a_tid, &[READER]);
    let first = page(&app, &reader, "/api/v1/resources?page_size=1").await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let after = |uri: &str| with(uri, &format!("cursor={cursor}"));

    // The cursor works where it was made, whatever the page size and count.
    let next = page(
        &app,
        &reader,
        &after("/api/v1/resources?page_size=2&include_total=true"),
    )
    .await;
    assert_eq!(next["items"].as_array().map(Vec::len), Some(2), "{next}");
    assert_eq!(next["total"], 3, "{next}");

    let another = "made for another list";
    refused(&app, &reader, &after("/api/v1/subscriptions"), another).await;
    refused(&app, &reader, &after("/api/v1/costs"), another).await;
    refused(
        &app,
        &reader,
        &after("/api/v1/resources?type=microsoft.compute/disks"),
        another,
    )
    .await;
    refused(
        &app,
        &reader,
        &after("/api/v1/resources?include_deleted=true"),
        another,
    )
    .await;
    // Another tenant's caller, or the operator, runs another query.
    refused(
        &app,
        &app.token(b_tid, &[READER]),
        &after("/api/v1/resources"),
        another,
    )
    .await;
    refused(&app, &app.operator(), &after("/api/v1/resources"), another).await;

    let recommendations = page(&app, &reader, "/api/v1/recommendations?sort=savings").await;
    assert!(recommendations["next_cursor"].is_null(), "none yet");
    let savings = recommendation_query(a, Sort::Savings);
    let by_savings =
        encode_cursor(savings, &(Rank::Number(5f64.to_bits()), Uuid::nil())).expect("cursor");
    let list = "/api/v1/recommendations";
    page(&app, &reader, &format!("{list}?cursor={by_savings}")).await;
    refused(
        &app,
        &reader,
        &format!("{list}?sort=detected&cursor={by_savings}"),
        another,
    )
    .await;
    // The right query, but a time where the savings order has a number.
    let wrong_rank =
        encode_cursor(savings, &(Rank::Time(DateTime::UNIX_EPOCH), Uuid::nil())).expect("cursor");
    refused(
        &app,
        &reader,
        &format!("{list}?cursor={wrong_rank}"),
        "not a cursor",
    )
    .await;

    refused(
        &app,
        &reader,
        &after("/api/v1/resources?page=2"),
        "not both",
    )
    .await;
    let wrong_key = encode_cursor(resource_query(a), &(1, 2, 3)).expect("cursor");
    let long = "A".repeat(5000);
    for garbage in [
        "",
        "garbage",
        "!!",
        "AAAA",
        "AQID",
        wrong_key.as_str(),
        long.as_str(),
    ] {
        let uri = format!("/api/v1/resources?cursor={garbage}");
        refused(&app, &reader, &uri, "not a cursor").await;
    }
}

/// The query of A's reader listing resources without filters.
fn resource_query(tenant: Uuid) -> QueryId {
    QueryId::of(
        "resources",
        &azcops::db::resources::ResourceFilter {
            tenant_id: Some(tenant),
            ..Default::default()
        },
    )
}

/// The query of a tenant's reader listing recommendations without filters, in `sort`.
fn recommendation_query(tenant: Uuid, sort: Sort) -> QueryId {
    let filter = RecommendationFilter {
        tenant_id: Some(tenant),
        subscription: None,
        status: None,
        category: None,
        rule_id: None,
        source: None,
        resource_group: None,
        resource_id: None,
        tag_key: None,
        tag_value: None,
        min_savings: None,
        risk: None,
        include_suppressed: false,
        include_superseded: false,
        sort,
        at: DateTime::UNIX_EPOCH,
    };
    QueryId::of("recommendations", &filter)
}
