//! Every list, walked by cursor, holds what one big page holds in the same order: the keyset
//! condition of each list agrees with its ORDER BY, ties (equal names, times, savings, no
//! savings) included. Every list documents the cursor, the count and `next_cursor`.

use axum::http::Method;
use serde_json::Value;
use uuid::Uuid;

use super::{ids, page, resources, tenant, walk, with};
use crate::support::{READER, TestApp};

/// Tenant A's data with ties in every list order; returns A's Entra tenant id.
async fn seed(app: &TestApp) -> Uuid {
    let (a, a_tid, a_sub) = tenant(app, "Same name").await;
    // Tenants and subscriptions with equal names.
    tenant(app, "Same name").await;
    tenant(app, "Another").await;
    for name in ["Same", "Same", "Other"] {
        app.subscription(a, name).await;
    }
    resources(app, a, a_sub, "disk", &[5, 1, 4, 2, 3]).await;
    let pool = &app.pool;
    // One statement: every row of a statement has the same created_at.
    sqlx::query(
        "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name, meter_category, cost, amortized_cost)
         SELECT $1, $2, current_date - d, 'rg-' || (k % 2), 'Service ' || (k % 3), 'Meter', k, k
         FROM generate_series(1, 3) AS d, generate_series(1, 4) AS k",
    )
    .bind(a)
    .bind(a_sub)
    .execute(pool)
    .await
    .expect("costs");
    sqlx::query(
        "INSERT INTO ingestion_runs (tenant_id, mode, trigger, requested_by)
         SELECT $1, 'full', 'api', 'paging' FROM generate_series(1, 5)",
    )
    .bind(a)
    .execute(pool)
    .await
    .expect("runs");
    sqlx::query(
        "INSERT INTO suppressions (tenant_id, scope, resource_id, target, kind, reason, author)
         SELECT $1, 'resource', '/ghost/' || n, 'all', 'exclude', 'paging', 'paging' FROM generate_series(1, 5) AS n",
    )
    .bind(a)
    .execute(pool)
    .await
    .expect("suppressions");
    // Savings: none twice, equal thrice; confidence and first detection with ties.
    sqlx::query(
        "INSERT INTO recommendations (tenant_id, subscription_db_id, rule_id, source, category, title,
                                      estimated_monthly_savings, confidence_score, first_detected_at)
         SELECT $1, $2, 'rule.' || n, 'rule', 'waste', 'Finding ' || n, s, c, now() - make_interval(days => d)
         FROM (VALUES (1, NULL, 0.5, 1), (2, NULL, 0.5, 1), (3, 5, 0.5, 2), (4, 5, 0.9, 2),
                      (5, 10, 0.1, 3), (6, 0, 0.5, 1), (7, 5, 0.9, 3)) AS v(n, s, c, d)",
    )
    .bind(a)
    .bind(a_sub)
    .execute(pool)
    .await
    .expect("recommendations");
    // Cost anomalies: three ending on one day, two on another.
    sqlx::query(
        "INSERT INTO cost_anomalies (tenant_id, subscription_db_id, service_name, start_date, end_date, peak_date,
                                     kind, severity, provisional, score, currency, actual, expected)
         SELECT $1, $2, 'Service ' || n, current_date - e, current_date - e, current_date - e,
                'spike', 'high', false, 9.5, 'USD', 100, 10
         FROM (VALUES (1, 3), (2, 3), (3, 3), (4, 5), (5, 5)) AS v(n, e)",
    )
    .bind(a)
    .bind(a_sub)
    .execute(pool)
    .await
    .expect("anomalies");
    a_tid
}

/// Every list, with its filters and sorts.
const LISTS: [&str; 11] = [
    "/api/v1/tenants",
    "/api/v1/subscriptions",
    "/api/v1/resources",
    "/api/v1/costs",
    "/api/v1/costs/anomalies",
    "/api/v1/ingestion/runs",
    "/api/v1/suppressions",
    "/api/v1/recommendations",
    "/api/v1/recommendations?sort=detected",
    "/api/v1/recommendations?sort=confidence",
    "/api/v1/recommendations?sort=savings&include_suppressed=true",
];

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn every_list_walked_by_cursor_holds_its_single_page_in_order(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let a_tid = seed(&app).await;
    let callers = [
        ("A's reader", app.token(a_tid, &[READER])),
        ("the operator", app.operator()),
    ];
    for (who, token) in &callers {
        for list in LISTS {
            let whole = page(&app, token, &with(list, "page_size=500")).await;
            let whole = whole["items"].as_array().expect("items").clone();
            // A tenant's reader sees one tenant, its own; every other list has ties to order.
            let least = if list.ends_with("tenants") && *who != "the operator" {
                1
            } else {
                3
            };
            assert!(whole.len() >= least, "{who}: {list}: {whole:?}");
            for size in [1, 2, 3] {
                let walked = walk(&app, token, list, size).await;
                assert_eq!(ids(&walked), ids(&whole), "{who}: {list}, {size} a page");
            }
        }
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn every_list_counts_only_on_request(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    seed(&app).await;
    let reader = app.operator();
    for list in LISTS {
        let plain = page(&app, &reader, &with(list, "page_size=2")).await;
        assert!(
            plain["total"].is_null(),
            "{list}: not counted unasked: {plain}"
        );
        assert!(plain["total_pages"].is_null(), "{list}: {plain}");
        let first = page(&app, &reader, &with(list, "page_size=2&include_total=true")).await;
        assert_eq!(first["items"], plain["items"], "{list}");
        let total = first["total"].as_i64().expect("counted on request");
        assert_eq!(first["total_pages"], (total + 1) / 2, "{list}");
        let cursor = first["next_cursor"].as_str().expect("a next page");
        let next = with(list, &format!("cursor={cursor}&page_size=2"));
        let uncounted = page(&app, &reader, &next).await;
        assert!(uncounted["total"].is_null(), "{list}: {uncounted}");
        let counted = page(&app, &reader, &with(&next, "include_total=true")).await;
        assert_eq!(counted["total"], total, "{list}: counted on request");
        assert_eq!(counted["items"], uncounted["items"], "{list}");
        let not_counted = page(&app, &reader, &with(list, "page=2&include_total=false")).await;
        assert!(not_counted["total"].is_null(), "{list}: {not_counted}");
        assert_eq!(not_counted["page"], 2, "{list}");
    }
}

/// `schema` with its `$ref` followed.
fn resolve<'a>(schema: &'a Value, doc: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => resolve(doc.pointer(r.trim_start_matches('#')).expect("ref"), doc),
        None => schema,
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn every_list_documents_the_cursor_the_count_and_next_cursor(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    let doc = app
        .call(Method::GET, "/api/openapi.json", None, None)
        .await
        .body;
    let mut lists = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(get) = item.get("get") else { continue };
        let params = get["parameters"].as_array().cloned().unwrap_or_default();
        let param = |name: &str| params.iter().find(|p| p["name"] == name).cloned();
        if param("page_size").is_none() {
            continue;
        }
        lists.push(path.clone());
        let cursor = param("cursor").unwrap_or_else(|| panic!("{path}: cursor"));
        assert_eq!(cursor["in"], "query", "{path}");
        assert_eq!(cursor["schema"]["maxLength"], 4096, "{path}");
        assert!(
            cursor["description"]
                .as_str()
                .is_some_and(|d| d.contains("next_cursor")),
            "{path}: {cursor}"
        );
        let total = param("include_total").unwrap_or_else(|| panic!("{path}: include_total"));
        assert!(
            total["description"]
                .as_str()
                .is_some_and(|d| d.contains("Default")),
            "{path}: {total}"
        );
        let body = &get["responses"]["200"]["content"]["application/json"]["schema"];
        let properties = &resolve(body, &doc)["properties"];
        for field in ["next_cursor", "total", "total_pages", "page"] {
            assert!(
                properties[field]["description"].is_string(),
                "{path}: {field} described: {properties}"
            );
        }
    }
    lists.sort();
    assert_eq!(
        lists,
        [
            "/api/v1/costs",
            "/api/v1/costs/anomalies",
            "/api/v1/exports",
            "/api/v1/ingestion/runs",
            "/api/v1/recommendations",
            "/api/v1/resources",
            "/api/v1/subscriptions",
            "/api/v1/suppressions",
            "/api/v1/tenants",
        ],
        "every list"
    );
}
