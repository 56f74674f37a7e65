//! CSV exports (`GET /api/v1/{recommendations,resources,costs}/export.csv`): parsed with the
//! `csv` crate, each holds exactly the list's rows and sums, neutralises formula-like text,
//! shows nothing of another tenant, applies the filters, refuses more rows than a synchronous
//! export streams, and stops reading the database when the client goes away.

use std::collections::HashMap;
use std::future::IntoFuture;
use std::str::FromStr;
use std::time::Duration;

use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

use azcops::config::ExportConfig;

use crate::support::logs::Logs;
use crate::support::{ADMIN, READER, Reply, TestApp};

const FORMULA: &str = "=cmd|' /C calc'!A0";

/// A tenant with a subscription, `resources` resources (the first named [`FORMULA`]), three
/// services' costs over 40 days (a credit among them) and a recommendation per resource (the
/// first titled [`FORMULA`]). Returns (tenant, Entra tenant, subscription).
async fn tenant_with_data(app: &TestApp, label: &str, resources: i32) -> (Uuid, Uuid, Uuid) {
    let (tenant, tid) = app.tenant(&format!("Exports {label}")).await;
    let subscription = app.subscription(tenant, &format!("sub {label}")).await;
    sqlx::query(
        "INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type, location, resource_group, tags)
         SELECT $1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2), '/subscriptions/' || $2 || '/resourcegroups/rg-' || (i % 3) || '/providers/microsoft.compute/disks/d' || i,
                CASE WHEN i = 1 THEN $3 ELSE $4 || ' disk ' || i END,
                CASE WHEN i % 2 = 0 THEN 'microsoft.compute/disks' ELSE 'microsoft.compute/virtualmachines' END,
                'westeurope', 'rg-' || (i % 3), jsonb_build_object('env', '-prod', 'n', i)
         FROM generate_series(1, $5) AS i",
    )
    .bind(tenant)
    .bind(subscription)
    .bind(FORMULA)
    .bind(label)
    .bind(resources)
    .execute(&app.pool)
    .await
    .expect("resources");
    sqlx::query(
        "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name, meter_category, cost, amortized_cost, currency)
         SELECT $1, $2, DATE '2026-01-01' + d, 'rg-' || (d % 3), s, s || ' meter',
                CASE WHEN d = 7 AND s = 'Storage' THEN -12.34 ELSE round((d * 1.37 + length(s)) * 1.0001, 6) END,
                round(d * 0.013 + 0.0005, 6), 'EUR'
         FROM generate_series(0, 39) AS d, unnest(ARRAY['Storage', 'Virtual Machines', '+Bandwidth']) AS s",
    )
    .bind(tenant)
    .bind(subscription)
    .execute(&app.pool)
    .await
    .expect("costs");
    sqlx::query(
        "INSERT INTO recommendations (tenant_id, subscription_db_id, resource_db_id, resource_id, rule_id, source,
                                      external_id, category, title, estimated_monthly_savings, confidence_score)
         SELECT r.tenant_id, r.subscription_db_id, r.id, r.resource_id, 'advisor:' || $3, 'advisor',
                r.resource_id || '/advisor', 'cost',
                CASE WHEN r.name = $4 THEN $4 ELSE 'Delete ' || r.name END,
                round(length(r.resource_id) * 1.2345, 4), 0.7
         FROM resources r WHERE r.tenant_id = $1 AND r.subscription_db_id = $2",
    )
    .bind(tenant)
    .bind(subscription)
    .bind(label)
    .bind(FORMULA)
    .execute(&app.pool)
    .await
    .expect("recommendations");
    (tenant, tid, subscription)
}

/// The export's rows as maps of column to cell, after checking the answer is a CSV download
/// with CRLF line ends.
fn parse(reply: &Reply) -> Vec<HashMap<String, String>> {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["content-type"], "text/csv; charset=utf-8");
    let disposition = reply.headers["content-disposition"]
        .to_str()
        .expect("ascii");
    assert!(
        disposition.starts_with("attachment; filename=") && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let text = reply.body.as_str().expect("a text body");
    assert!(text.ends_with("\r\n"), "CRLF line ends");
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count(),
        "every line ends with CRLF"
    );
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    reader
        .records()
        .map(|record| {
            let record = record.expect("an RFC 4180 record");
            header
                .iter()
                .cloned()
                .zip(record.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

fn decimal(cell: &str) -> Decimal {
    Decimal::from_str(cell).unwrap_or_else(|e| panic!("{cell:?} is a decimal: {e}"))
}

fn cents(value: Decimal) -> Decimal {
    value.round_dp(2)
}

fn float_cents(value: &Value) -> Decimal {
    cents(Decimal::from_f64_retain(value.as_f64().expect("a number")).expect("finite"))
}

/// The list's `total` for `query` (one page of one row, counted).
async fn list_total(app: &TestApp, token: &str, list: &str, query: &str) -> i64 {
    let reply = app
        .get(
            &format!("{list}?{query}&page_size=1&include_total=true"),
            token,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["total"].as_i64().expect("total")
}

fn small_batches() -> ExportConfig {
    ExportConfig {
        export_batch_rows: 7,
        ..ExportConfig::default()
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn each_export_holds_exactly_the_lists_rows_and_the_summarys_sums(pool: PgPool) {
    let app = TestApp::with_exports(pool, small_batches()).await;
    let (_, tid, _) = tenant_with_data(&app, "A", 30).await;
    let token = app.token(tid, &[READER]);

    let window = "from=2026-01-01&to=2026-02-28";
    let costs = parse(
        &app.get(&format!("/api/v1/costs/export.csv?{window}"), &token)
            .await,
    );
    let total = list_total(&app, &token, "/api/v1/costs", window).await;
    assert_eq!((costs.len() as i64, total), (120, 120));
    let summary = app
        .get(&format!("/api/v1/costs/summary?{window}"), &token)
        .await;
    let sum = |column: &str| costs.iter().map(|r| decimal(&r[column])).sum::<Decimal>();
    assert_eq!(cents(sum("cost")), float_cents(&summary.body["total_cost"]));
    assert_eq!(
        cents(sum("amortized_cost")),
        float_cents(&summary.body["total_amortized_cost"])
    );
    let exact: (Decimal, Decimal) =
        sqlx::query_as("SELECT sum(cost), sum(amortized_cost) FROM costs_daily")
            .fetch_one(&app.pool)
            .await
            .expect("sums");
    assert_eq!(
        (sum("cost"), sum("amortized_cost")),
        exact,
        "exact decimals"
    );
    assert!(
        costs.iter().any(|r| r["cost"] == "-12.340000"),
        "a credit stays a negative number, with the stored scale"
    );
    assert!(
        costs.iter().any(|r| r["service_name"] == "'+Bandwidth"),
        "a service name starting with + is neutralised"
    );

    let resources = parse(&app.get("/api/v1/resources/export.csv", &token).await);
    assert_eq!(
        resources.len() as i64,
        list_total(&app, &token, "/api/v1/resources", "").await
    );
    assert_eq!(resources.len(), 30);
    let ids: std::collections::HashSet<&str> = resources.iter().map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), 30, "no row twice across batches");
    assert!(resources.iter().any(|r| r["name"] == format!("'{FORMULA}")));
    assert!(resources.iter().all(|r| !r["name"].starts_with('=')));
    assert!(resources.iter().all(|r| r["tags"].starts_with("{\"")));

    let recommendations = parse(&app.get("/api/v1/recommendations/export.csv", &token).await);
    let listed = app
        .get(
            "/api/v1/recommendations?page_size=500&include_total=true",
            &token,
        )
        .await;
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!(
        recommendations.len() as i64,
        listed.body["total"].as_i64().expect("total")
    );
    assert_eq!(recommendations.len(), 30);
    let exported: Vec<&str> = recommendations.iter().map(|r| r["id"].as_str()).collect();
    let in_list: Vec<&str> = items
        .iter()
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert_eq!(exported, in_list, "the list's order");
    for (row, item) in recommendations.iter().zip(items) {
        assert_eq!(
            cents(decimal(&row["estimated_monthly_savings"])),
            float_cents(&item["estimated_monthly_savings"]),
            "{}",
            row["id"]
        );
    }
    let savings = recommendations
        .iter()
        .map(|r| decimal(&r["estimated_monthly_savings"]))
        .sum::<Decimal>();
    let exact: Decimal =
        sqlx::query_scalar("SELECT sum(estimated_monthly_savings) FROM recommendations")
            .fetch_one(&app.pool)
            .await
            .expect("sum");
    assert_eq!(savings, exact);
    assert!(
        recommendations
            .iter()
            .any(|r| r["title"] == format!("'{FORMULA}"))
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn another_tenants_reader_exports_none_of_its_rows(pool: PgPool) {
    let app = TestApp::with_exports(pool, small_batches()).await;
    let (a, _, a_subscription) = tenant_with_data(&app, "A", 10).await;
    let (_, b_tid, _) = tenant_with_data(&app, "B", 3).await;
    for role in [READER, ADMIN] {
        let token = app.token(b_tid, &[role]);
        for (export, own) in [
            ("/api/v1/recommendations/export.csv", 3),
            ("/api/v1/resources/export.csv", 3),
            ("/api/v1/costs/export.csv", 120),
        ] {
            let reply = app.get(export, &token).await;
            let rows = parse(&reply);
            assert_eq!(rows.len(), own, "{role} {export}: B's own rows");
            let text = reply.body.as_str().expect("text");
            assert!(!text.contains(&a.to_string()), "{export} leaks A's tenant");
            assert!(!text.contains(&a_subscription.to_string()));
            for filtered in [
                format!("{export}?subscription_id={a_subscription}"),
                format!("{export}?tenant_id={a}"),
            ] {
                let reply = app.get(&filtered, &token).await;
                if export.contains("recommendations") || !filtered.contains("tenant_id") {
                    assert!(parse(&reply).is_empty(), "{role} {filtered}");
                } else {
                    reply.assert_error(StatusCode::BAD_REQUEST, "bad_request");
                }
            }
        }
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn filters_apply_as_in_the_lists(pool: PgPool) {
    let app = TestApp::with_exports(pool, small_batches()).await;
    let (_, tid, _) = tenant_with_data(&app, "A", 20).await;
    let token = app.token(tid, &[READER]);
    for (export, list, query, expected) in [
        ("resources", "resources", "type=Microsoft.Compute/disks", 10),
        (
            "resources",
            "resources",
            "resource_group=RG-1&tag_key=env&tag_value=-prod",
            7,
        ),
        (
            "costs",
            "costs",
            "service_name=Storage&from=2026-01-05&to=2026-01-14",
            10,
        ),
        (
            "recommendations",
            "recommendations",
            "min_savings=134&sort=detected",
            11,
        ),
    ] {
        let rows = parse(
            &app.get(&format!("/api/v1/{export}/export.csv?{query}"), &token)
                .await,
        );
        let total = list_total(&app, &token, &format!("/api/v1/{list}"), query).await;
        assert_eq!(rows.len() as i64, total, "{export}?{query}");
        assert_eq!(rows.len(), expected, "{export}?{query}");
        assert!(total < 120, "{export}?{query} filters something out");
    }
    let bad = app
        .get(
            "/api/v1/costs/export.csv?from=2026-02-01&to=2026-01-01",
            &token,
        )
        .await;
    bad.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let paged = app.get("/api/v1/costs/export.csv?page=2", &token).await;
    paged.assert_error(StatusCode::BAD_REQUEST, "bad_request");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_export_over_the_synchronous_row_limit_is_refused_pointing_to_export_jobs(pool: PgPool) {
    let limits = ExportConfig {
        export_sync_max_rows: 10,
        export_batch_rows: 3,
    };
    let app = TestApp::with_exports(pool, limits).await;
    let (_, tid, _) = tenant_with_data(&app, "A", 10).await;
    let token = app.token(tid, &[READER]);
    let at_limit = app.get("/api/v1/resources/export.csv", &token).await;
    assert_eq!(parse(&at_limit).len(), 10);
    let over = app.get("/api/v1/costs/export.csv", &token).await;
    over.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "export_too_large");
    let message = over.body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("120 rows") && message.contains("POST /api/v1/exports"),
        "{message}"
    );
    let narrowed = app
        .get(
            "/api/v1/costs/export.csv?from=2026-01-01&to=2026-01-03",
            &token,
        )
        .await;
    assert_eq!(parse(&narrowed).len(), 9);
}

/// Sends a raw HTTP/1.1 GET to `address` and reads at least `bytes` of the answer.
async fn start_reading(
    address: std::net::SocketAddr,
    path: &str,
    token: &str,
    bytes: usize,
) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut read = Vec::new();
    let mut buffer = vec![0u8; 16 * 1024];
    while read.len() < bytes {
        let n = stream.read(&mut buffer).await.expect("read");
        assert!(
            n > 0,
            "the answer ended early: {}",
            String::from_utf8_lossy(&read)
        );
        read.extend_from_slice(&buffer[..n]);
    }
    let head = String::from_utf8_lossy(&read[..200]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    stream
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_client_that_disconnects_stops_the_export_reading_the_database(pool: PgPool) {
    let (logs, _guard) = Logs::capture();
    let limits = ExportConfig {
        export_batch_rows: 20,
        ..ExportConfig::default()
    };
    let app = TestApp::with_exports(pool, limits).await;
    let (tenant, tid, subscription) = tenant_with_data(&app, "A", 1).await;
    // 60,000 resources of about 800 bytes a row: 48 MB of CSV, far more than the sockets buffer.
    let rows = 60_000;
    sqlx::query(
        "INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type)
         SELECT $1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2), '/subscriptions/x/resourcegroups/rg/providers/p/many-' || i, repeat('n', 600) || i, 't'
         FROM generate_series(1, $3) AS i",
    )
    .bind(tenant)
    .bind(subscription)
    .bind(rows)
    .execute(&app.pool)
    .await
    .expect("many resources");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let server = tokio::spawn(axum::serve(listener, app.router.clone()).into_future());

    let token = app.token(tid, &[READER]);
    let stream = start_reading(address, "/api/v1/resources/export.csv", &token, 64 * 1024).await;
    drop(stream);

    let stopped = "export stopped before its end";
    let mut waited = Duration::ZERO;
    while logs.lines_with(stopped).is_empty() {
        assert!(
            waited < Duration::from_secs(30),
            "the export did not stop: {} batches read",
            logs.lines_with("export batch read").len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    let batches = logs.lines_with("export batch read").len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        logs.lines_with("export batch read").len(),
        batches,
        "no batch is read after the client went away"
    );
    let all_batches = (rows as usize + 1).div_ceil(20);
    assert!(
        batches < all_batches / 2,
        "{batches} of {all_batches} batches read before the stop"
    );
    assert!(logs.lines_with("export finished").is_empty());
    let active: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'
           AND backend_type = 'client backend'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("activity");
    assert_eq!(active, 0, "no export query still running");
    server.abort();
}
