//! The FOCUS 1.2 cost export (`GET /api/v1/costs/export.focus.csv` and `.jsonl`): its columns
//! and their types are those the specification (docs/focus-1.2/) lists as Mandatory, its
//! totals are the cost summary's to the cent, the metadata declares every column it cannot
//! fill, and another tenant's rows never appear.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use axum::http::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{READER, Reply, TestApp};

/// A tenant with a subscription and 40 days of three services' costs (a credit among them,
/// one resource group empty, one service name starting with `+`). Returns (tenant, Entra
/// tenant, subscription).
pub async fn tenant_with_costs(app: &TestApp, label: &str) -> (Uuid, Uuid, Uuid) {
    let (tenant, tid) = app.tenant(&format!("Focus {label}")).await;
    let subscription = app.subscription(tenant, &format!("sub {label}")).await;
    sqlx::query(
        "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name, meter_category, cost, amortized_cost, currency)
         SELECT $1, $2, DATE '2026-01-01' + d, CASE WHEN d % 4 = 0 THEN '' ELSE 'rg-' || (d % 3) END, s, s || ' meter',
                CASE WHEN d = 7 AND s = 'Storage' THEN -12.34 ELSE round((d * 1.37 + length(s)) * 1.0001, 6) END,
                round(d * 0.013 + 0.0005, 6), 'EUR'
         FROM generate_series(0, 39) AS d, unnest(ARRAY['Storage', 'Virtual Machines', '+Bandwidth']) AS s",
    )
    .bind(tenant)
    .bind(subscription)
    .execute(&app.pool)
    .await
    .expect("costs");
    (tenant, tid, subscription)
}

/// (name, data type) of every column the specification copy lists with `level`.
pub fn spec_columns(level: &str) -> BTreeMap<String, String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/focus-1.2");
    let mut columns = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("docs/focus-1.2") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        let Some(id) = text
            .split("## Column ID")
            .nth(1)
            .and_then(|rest| rest.lines().map(str::trim).find(|l| !l.is_empty()))
        else {
            continue;
        };
        let cell = |name: &str| {
            text.lines()
                .find(|l| l.trim_start_matches('|').trim().starts_with(name))
                .and_then(|l| l.split('|').nth(2))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        if cell("Feature level") == level {
            columns.insert(id.to_owned(), cell("Data type"));
        }
    }
    columns
}

pub fn decimal(cell: &str) -> Decimal {
    Decimal::from_str(cell).unwrap_or_else(|e| panic!("{cell:?} is a decimal: {e}"))
}

fn cents(value: Decimal) -> Decimal {
    value.round_dp(2)
}

fn float_cents(value: &Value) -> Decimal {
    cents(Decimal::from_f64_retain(value.as_f64().expect("a number")).expect("finite"))
}

/// The JSON Lines body as objects.
pub fn json_lines(text: &str) -> Vec<serde_json::Map<String, Value>> {
    text.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

/// The CSV body's header and rows.
pub fn csv_rows(text: &str) -> (Vec<String>, Vec<BTreeMap<String, String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.expect("an RFC 4180 record");
            header
                .iter()
                .cloned()
                .zip(r.iter().map(str::to_owned))
                .collect()
        })
        .collect();
    (header, rows)
}

fn text(reply: &Reply) -> &str {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body.as_str().expect("a text body")
}

/// A FOCUS Date/Time: `YYYY-MM-DDTHH:MM:SSZ`.
fn is_focus_datetime(value: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%SZ").is_ok()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_columns_and_types_are_the_specs_mandatory_list(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, tid, _) = tenant_with_costs(&app, "A").await;
    let token = app.token(tid, &[READER]);
    let mandatory = spec_columns("Mandatory");
    assert_eq!(
        mandatory.len(),
        21,
        "FOCUS 1.2 has 21 Mandatory columns: {mandatory:?}"
    );

    // The metadata declares each Mandatory column with the specification's type.
    let metadata = app.get("/api/v1/exports/focus-metadata", &token).await;
    assert_eq!(metadata.status, StatusCode::OK, "{}", metadata.body);
    assert_eq!(metadata.body["focus_version"], "1.2");
    let declared: BTreeMap<String, String> = metadata.body["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .filter(|c| c["feature_level"] == "Mandatory")
        .map(|c| {
            (
                c["name"].as_str().expect("present").to_owned(),
                c["data_type"].as_str().expect("present").to_owned(),
            )
        })
        .collect();
    assert_eq!(declared, mandatory);
    let nulls: BTreeSet<&str> = metadata.body["null_columns"]
        .as_array()
        .expect("null_columns")
        .iter()
        .map(|c| c.as_str().expect("present"))
        .collect();
    for c in metadata.body["columns"].as_array().expect("present") {
        assert!(!c["note"].as_str().expect("present").is_empty(), "{c}");
    }

    // The CSV header holds each, under its exact name.
    let reply = app
        .get(
            "/api/v1/costs/export.focus.csv?from=2026-01-01&to=2026-02-28",
            &token,
        )
        .await;
    assert_eq!(reply.headers["x-focus-version"], "1.2");
    assert!(
        reply.headers["link"]
            .to_str()
            .expect("present")
            .contains("/api/v1/exports/focus-metadata")
    );
    let (header, rows) = csv_rows(text(&reply));
    assert_eq!(rows.len(), 120);
    for name in mandatory.keys() {
        assert!(header.contains(name), "{name} in the CSV header");
    }
    let known: BTreeSet<String> = ["Mandatory", "Conditional", "Recommended"]
        .into_iter()
        .flat_map(|level| spec_columns(level).into_keys())
        .collect();
    for name in &header {
        assert!(
            name.starts_with("x_") || known.contains(name),
            "{name} is a FOCUS 1.2 column or an x_ custom one"
        );
    }

    // Each JSON Lines row holds each with a value of the column's type; a null only in a
    // column the metadata declares as not filled (or one that allows nulls).
    let reply = app
        .get(
            "/api/v1/costs/export.focus.jsonl?from=2026-01-01&to=2026-02-28",
            &token,
        )
        .await;
    assert_eq!(reply.headers["content-type"], "application/x-ndjson");
    let lines = json_lines(text(&reply));
    assert_eq!(lines.len(), 120);
    for row in &lines {
        for (name, data_type) in &mandatory {
            let value = row.get(name).unwrap_or_else(|| panic!("{name} in {row:?}"));
            match (data_type.as_str(), value) {
                (_, Value::Null) => assert!(
                    nulls.contains(name.as_str()),
                    "{name} is null but not declared as a column we cannot fill"
                ),
                ("Decimal", Value::Number(n)) => {
                    decimal(&n.to_string());
                }
                ("String", Value::String(_)) => {}
                ("Date/Time", Value::String(s)) => assert!(is_focus_datetime(s), "{name}: {s}"),
                (t, v) => panic!("{name}: {v} is not a {t}"),
            }
        }
        assert!(
            ["Compute", "Storage", "Other"]
                .contains(&row["ServiceCategory"].as_str().expect("present"))
        );
        assert_eq!(row["ChargeCategory"], "Usage");
        assert!(
            row["SubAccountId"]
                .as_str()
                .expect("present")
                .starts_with("/subscriptions/")
        );
    }
    let by_service: BTreeMap<&str, &str> = lines
        .iter()
        .map(|r| {
            (
                r["ServiceName"].as_str().expect("present"),
                r["ServiceCategory"].as_str().expect("present"),
            )
        })
        .collect();
    assert_eq!(
        by_service,
        BTreeMap::from([
            ("+Bandwidth", "Other"),
            ("Storage", "Storage"),
            ("Virtual Machines", "Compute")
        ]),
        "JSON Lines keep text as it is (no formula prefix)"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_totals_equal_the_cost_summary_to_the_cent(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, tid, _) = tenant_with_costs(&app, "A").await;
    let token = app.token(tid, &[READER]);
    let window = "from=2026-01-05&to=2026-02-03";
    let summary = app
        .get(&format!("/api/v1/costs/summary?{window}"), &token)
        .await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.body);
    let listed = app
        .get(
            &format!("/api/v1/costs?{window}&page_size=1&include_total=true"),
            &token,
        )
        .await;
    let total = listed.body["total"].as_i64().expect("total");

    let (_, rows) = csv_rows(text(
        &app.get(&format!("/api/v1/costs/export.focus.csv?{window}"), &token)
            .await,
    ));
    assert_eq!(rows.len() as i64, total);
    let sum = |column: &str| rows.iter().map(|r| decimal(&r[column])).sum::<Decimal>();
    assert_eq!(
        cents(sum("BilledCost")),
        float_cents(&summary.body["total_cost"])
    );
    assert_eq!(
        cents(sum("EffectiveCost")),
        float_cents(&summary.body["total_amortized_cost"])
    );
    assert!(
        rows.iter().any(|r| r["BilledCost"] == "-12.340000"),
        "a credit stays negative"
    );
    assert!(rows.iter().all(|r| r["BillingCurrency"] == "EUR"));
    assert!(
        rows.iter().any(|r| r["ServiceName"] == "'+Bandwidth"),
        "CSV text starting with + is neutralised"
    );

    let lines = json_lines(text(
        &app.get(
            &format!("/api/v1/costs/export.focus.jsonl?{window}"),
            &token,
        )
        .await,
    ));
    assert_eq!(lines.len() as i64, total);
    let exact = |column: &str| {
        lines
            .iter()
            .map(|r| decimal(&r[column].to_string()))
            .sum::<Decimal>()
    };
    assert_eq!(
        exact("BilledCost"),
        sum("BilledCost"),
        "JSON numbers keep the exact decimals"
    );
    assert_eq!(exact("EffectiveCost"), sum("EffectiveCost"));
    let first = &lines[0];
    assert_eq!(first["ChargePeriodStart"], "2026-02-03T00:00:00Z");
    assert_eq!(first["ChargePeriodEnd"], "2026-02-04T00:00:00Z");
    assert_eq!(first["BillingPeriodStart"], "2026-02-01T00:00:00Z");
    assert_eq!(first["BillingPeriodEnd"], "2026-03-01T00:00:00Z");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn another_tenants_focus_export_holds_none_of_its_rows(pool: PgPool) {
    let app = TestApp::new(pool).await;
    tenant_with_costs(&app, "A").await;
    let (_, b_tid, _) = app_tenant_without_costs(&app).await;
    let token = app.token(b_tid, &[READER]);
    let (header, rows) = csv_rows(text(
        &app.get("/api/v1/costs/export.focus.csv", &token).await,
    ));
    assert!(header.contains(&"BilledCost".to_owned()));
    assert!(rows.is_empty());
    let body = app.get("/api/v1/costs/export.focus.jsonl", &token).await;
    assert_eq!(body.status, StatusCode::OK);
    assert!(
        body.body.is_null() || body.body == "",
        "an empty body: {}",
        body.body
    );
}

async fn app_tenant_without_costs(app: &TestApp) -> (Uuid, Uuid, Uuid) {
    let (tenant, tid) = app.tenant("Focus B").await;
    let subscription = app.subscription(tenant, "sub B").await;
    (tenant, tid, subscription)
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_synchronous_focus_export_over_the_limit_points_to_export_jobs(pool: PgPool) {
    let exports = azcops::config::ExportConfig {
        export_sync_max_rows: 10,
        ..Default::default()
    };
    let app = TestApp::with_exports(pool, exports).await;
    let (_, tid, _) = tenant_with_costs(&app, "A").await;
    let reply = app
        .get(
            "/api/v1/costs/export.focus.jsonl",
            &app.token(tid, &[READER]),
        )
        .await;
    reply.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "export_too_large");
    let message = reply.body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("POST /api/v1/exports"), "{}", reply.body);
    assert!(!message.contains("not available"), "{}", reply.body);
}
