//! Paging by cursor next to page numbers (issue 15): walking a list by `next_cursor` returns
//! every row once, in the order one big page has, for a tenant's reader and for the operator,
//! also when rows are inserted between pages; a cursor of another list, filter, sort or tenant
//! is a 400, and a cursor carries only sort values, so it never shows another tenant's rows.

mod lists;
mod refusals;

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use azcops::api::pagination::{QueryId, encode_cursor};
use azcops::db::resources::{self, ResourceFilter};
use azcops::db::{Page, Scope, Start};

use crate::support::{READER, TestApp};

/// Resources `{prefix}-{number}` (three digits) of a subscription, written as ingestion would
/// (as the superuser); their ARM ids sort as their numbers.
async fn resources(app: &TestApp, tenant: Uuid, subscription: Uuid, prefix: &str, numbers: &[u32]) {
    sqlx::query(
        "INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type)
         SELECT $1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2), '/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/disks/' || $3 || '-' || lpad(n::text, 3, '0'),
                $3 || '-' || lpad(n::text, 3, '0'), 'microsoft.compute/disks'
         FROM unnest($4::int[]) AS n",
    )
    .bind(tenant)
    .bind(subscription)
    .bind(prefix)
    .bind(numbers.iter().map(|&n| n as i32).collect::<Vec<_>>())
    .execute(&app.pool)
    .await
    .expect("resources");
}

/// A tenant with one subscription; returns (tenant, Entra tenant, subscription).
async fn tenant(app: &TestApp, name: &str) -> (Uuid, Uuid, Uuid) {
    let (tenant, tid) = app.tenant(name).await;
    let subscription = app.subscription(tenant, &format!("{name} prod")).await;
    (tenant, tid, subscription)
}

/// `uri` with `extra` query parameters added.
fn with(uri: &str, extra: &str) -> String {
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{extra}")
}

/// One page of `uri`, which must answer 200.
async fn page(app: &TestApp, token: &str, uri: &str) -> Value {
    let reply = app.get(uri, token).await;
    assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
    reply.body
}

/// Every item of `uri`, `size` at a time: the first page by number (counted), then by
/// following `next_cursor` (pages without a number or a count) until it is null. Checks that
/// every page before the last is full.
async fn walk(app: &TestApp, token: &str, uri: &str, size: usize) -> Vec<Value> {
    let mut body = page(
        app,
        token,
        &with(uri, &format!("page_size={size}&include_total=true")),
    )
    .await;
    assert_eq!(body["page"], 1, "{uri}: {body}");
    assert!(body["total"].is_i64(), "page numbers count: {body}");
    let mut items = Vec::new();
    loop {
        let rows = body["items"].as_array().expect("items");
        assert!(rows.len() <= size, "{uri}: {body}");
        items.extend(rows.iter().cloned());
        let Some(cursor) = body["next_cursor"].as_str() else {
            return items;
        };
        assert_eq!(rows.len(), size, "{uri}: only the last page is short");
        assert!(items.len() < 10_000, "{uri}: the walk ends");
        let next = with(uri, &format!("page_size={size}&cursor={cursor}"));
        body = page(app, token, &next).await;
        assert!(body["page"].is_null(), "{next}: no page number: {body}");
        assert!(body["total"].is_null(), "{next}: not counted: {body}");
        assert!(body["total_pages"].is_null(), "{next}: {body}");
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

fn names(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["name"].as_str().expect("name").to_owned())
        .collect()
}

/// The ids of a tenant's (or every tenant's) live resources in the list's order, read as the
/// superuser.
async fn resource_ids(pool: &PgPool, tenant: Option<Uuid>) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT id::text FROM resources WHERE ($1::uuid IS NULL OR tenant_id = $1) AND deleted_at IS NULL
         ORDER BY resource_id, id",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .expect("resource ids")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn walking_resources_by_cursor_returns_each_once_in_order_for_a_reader_and_the_operator(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let (a, a_tid, a_sub) = tenant(&app, "A").await;
    let (b, _, b_sub) = tenant(&app, "B").await;
    let a_second = app.subscription(a, "A second").await;
    resources(&app, a, a_sub, "disk", &(0..23).collect::<Vec<_>>()).await;
    // The same ARM ids in a second subscription: ties that only the id orders.
    resources(&app, a, a_second, "disk", &[3, 4, 5]).await;
    resources(&app, b, b_sub, "disk", &(10..27).collect::<Vec<_>>()).await;
    let reader = app.token(a_tid, &[READER]);

    let expected = resource_ids(&app.pool, Some(a)).await;
    assert_eq!(expected.len(), 26);
    for size in [1, 5, 13, 26, 500] {
        let walked = walk(&app, &reader, "/api/v1/resources", size).await;
        assert_eq!(ids(&walked), expected, "the reader, {size} a page");
    }
    let one_page = page(
        &app,
        &reader,
        "/api/v1/resources?page_size=500&include_total=true",
    )
    .await;
    assert_eq!(one_page["next_cursor"], Value::Null, "one page: the last");
    assert_eq!(one_page["total"], 26);

    let operator = app.operator();
    let everyone = resource_ids(&app.pool, None).await;
    assert_eq!(everyone.len(), 26 + 17);
    let walked = walk(&app, &operator, "/api/v1/resources", 4).await;
    assert_eq!(
        ids(&walked),
        everyone,
        "the operator sees both tenants, each once"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn rows_inserted_or_deleted_between_pages_are_neither_skipped_nor_repeated(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, a_tid, a_sub) = tenant(&app, "A").await;
    let even: Vec<u32> = (0..24).step_by(2).collect();
    resources(&app, a, a_sub, "disk", &even).await;
    let reader = app.token(a_tid, &[READER]);
    let uri = "/api/v1/resources?page_size=4";

    let first = page(&app, &reader, uri).await;
    assert_eq!(
        names(first["items"].as_array().expect("items")),
        ["disk-000", "disk-002", "disk-004", "disk-006"]
    );
    // Offset paging repeats a row once one is inserted before the page boundary: the
    // scenario cursors are for.
    resources(&app, a, a_sub, "disk", &[1]).await;
    let second_by_number = page(&app, &reader, &with(uri, "page=2")).await;
    assert_eq!(
        second_by_number["items"][0]["name"], "disk-006",
        "page 2 by number starts with page 1's last row again"
    );
    // Before the cursor, after it, and one not yet read is deleted.
    resources(&app, a, a_sub, "disk", &[3, 13, 99]).await;
    sqlx::query("DELETE FROM resources WHERE name = 'disk-010'")
        .execute(&app.pool)
        .await
        .expect("delete");

    let mut seen = names(first["items"].as_array().expect("items"));
    let mut cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    loop {
        let body = page(&app, &reader, &with(uri, &format!("cursor={cursor}"))).await;
        seen.extend(names(body["items"].as_array().expect("items")));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
        // Inserted while walking, after the page just read: it is still ahead.
        if seen.len() == 8 {
            resources(&app, a, a_sub, "disk", &[21]).await;
        }
    }
    let expected: Vec<String> = [0, 2, 4, 6, 8, 12, 13, 14, 16, 18, 20, 21, 22, 99]
        .iter()
        .map(|n| format!("disk-{n:03}"))
        .collect();
    assert_eq!(
        seen, expected,
        "every row there all along once, in order; rows inserted ahead of the cursor too, \
         those inserted behind it (001, 003) and the deleted one (010) not"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_cursor_never_shows_another_tenants_rows(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, _, a_sub) = tenant(&app, "A").await;
    let (b, b_tid, b_sub) = tenant(&app, "B").await;
    // Interleaved: A's ids sort between B's.
    resources(&app, a, a_sub, "disk", &[1, 3, 5, 7, 9]).await;
    resources(&app, b, b_sub, "disk", &[2, 4, 6, 8]).await;
    let b_reader = app.token(b_tid, &[READER]);
    let a_rows = resource_ids(&app.pool, Some(a)).await;
    let b_rows = resource_ids(&app.pool, Some(b)).await;

    // A cursor is made by the API, but nothing stops a caller forging one: B writes one in
    // the format of B's own query, positioned before everything, and at one of A's rows.
    let b_query = QueryId::of(
        "resources",
        &ResourceFilter {
            tenant_id: Some(b),
            ..ResourceFilter::default()
        },
    );
    let a_first: (String, Uuid) = sqlx::query_as(
        "SELECT resource_id, id FROM resources WHERE tenant_id = $1 ORDER BY resource_id, id LIMIT 1",
    )
    .bind(a)
    .fetch_one(&app.pool)
    .await
    .expect("A's first resource");
    for key in [(String::new(), Uuid::nil()), a_first] {
        let cursor = encode_cursor(b_query, &key).expect("cursor");
        let uri = format!("/api/v1/resources?page_size=100&cursor={cursor}");
        let body = page(&app, &b_reader, &uri).await;
        let listed = ids(body["items"].as_array().expect("items"));
        assert!(!listed.is_empty(), "B's own rows after {key:?}: {body}");
        assert!(
            listed.iter().all(|id| b_rows.contains(id))
                && !listed.iter().any(|id| a_rows.contains(id)),
            "only B's rows after {key:?}: {listed:?}"
        );
    }

    // Behind the query's tenant filter stands row-level security: a page after a key, read
    // with no tenant filter at all in B's scope, still holds only B's rows.
    let page_after_nothing = Page {
        size: 100,
        start: Start::After((String::new(), Uuid::nil())),
        count: true,
    };
    let mut tx = azcops::db::begin(&app.pool, Scope::Tenant(b))
        .await
        .expect("transaction");
    let listed = resources::list(&mut tx, &ResourceFilter::default(), &page_after_nothing)
        .await
        .expect("list");
    tx.commit().await.expect("commit");
    let listed: Vec<String> = listed.rows.iter().map(|r| r.id.to_string()).collect();
    assert_eq!(listed, b_rows, "row-level security keeps A's rows out");
}
