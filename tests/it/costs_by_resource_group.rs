//! `GET /api/v1/costs/summary?group_by=resource_group`: the summary's breakdown by resource
//! group (what the web page's "Top resource groups" shows) equals the sums of the cost rows the
//! list endpoint returns for the same window, per resource group and currency, for the
//! caller's tenant only.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::costs::{self, NewCostRow};
use azcops::db::{self, Scope};

use crate::support::{READER, TestApp};

const WINDOW: &str = "from=2026-10-03&to=2026-10-20";

/// Cost rows of one subscription over 2026-10-01..=2026-10-24 (some outside the window), in
/// four resource groups (one of them `""`, charges outside any group), two services and two
/// currencies; the amounts differ by `salt` so another tenant's rows would change the sums.
fn rows(salt: u32) -> Vec<NewCostRow> {
    let mut rows = Vec::new();
    for day in 1..=24u32 {
        for (g, group) in ["rg-web", "rg-data", "", "rg-batch"].iter().enumerate() {
            for (s, service) in ["Virtual Machines", "Storage"].iter().enumerate() {
                let g = g as u32;
                let cents = (day * 37 + g * 101 + s as u32 * 13 + salt * 7) % 900 + 5;
                let currency = if *group == "rg-batch" && s == 1 {
                    "EUR"
                } else {
                    "USD"
                };
                rows.push(NewCostRow {
                    date: NaiveDate::from_ymd_opt(2026, 10, day).expect("date"),
                    resource_group: (*group).to_owned(),
                    service_name: (*service).to_owned(),
                    meter_category: (*service).to_owned(),
                    cost: Decimal::new(i64::from(cents), 2),
                    amortized_cost: Decimal::new(i64::from(cents + day % 3), 2),
                    currency: currency.to_owned(),
                });
            }
        }
    }
    rows
}

async fn tenant_with_rows(app: &TestApp, name: &str, salt: u32) -> (Uuid, Uuid) {
    let (tenant, azure_tenant) = app.tenant(name).await;
    for sub_name in ["one", "two"] {
        let sub = app
            .subscription(tenant, &format!("{name}-{sub_name}"))
            .await;
        let mut tx = db::begin(&app.pool, Scope::Tenant(tenant))
            .await
            .expect("tx");
        costs::upsert(&mut tx, tenant, sub, &rows(salt))
            .await
            .expect("costs");
        tx.commit().await.expect("commit");
    }
    (tenant, azure_tenant)
}

/// A JSON number as the exact decimal it prints as.
fn decimal(v: &Value) -> Decimal {
    v.to_string().parse().expect("a decimal amount")
}

/// (resource group, currency) → (cost, amortized cost).
type Sums = BTreeMap<(String, String), (Decimal, Decimal)>;

/// Sums every cost row the list endpoint returns for `query`, page by page.
async fn sums_of_rows(app: &TestApp, query: &str, token: &str) -> Sums {
    let mut sums = Sums::new();
    let mut page = 1;
    loop {
        let reply = app
            .get(
                &format!("/api/v1/costs?{query}&page_size=100&page={page}"),
                token,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let items = reply.body["items"].as_array().expect("items").clone();
        for row in &items {
            let key = (
                row["resource_group"].as_str().expect("group").to_owned(),
                row["currency"].as_str().expect("currency").to_owned(),
            );
            let sum = sums.entry(key).or_default();
            sum.0 += decimal(&row["cost"]);
            sum.1 += decimal(&row["amortized_cost"]);
        }
        if items.len() < 100 {
            return sums;
        }
        page += 1;
    }
}

/// The summary's `by_resource_group`, in its order.
fn groups(body: &Value) -> Vec<((String, String), (Decimal, Decimal))> {
    body["by_resource_group"]
        .as_array()
        .expect("by_resource_group")
        .iter()
        .map(|g| {
            let key = (
                g["resource_group"].as_str().expect("group").to_owned(),
                g["currency"].as_str().expect("currency").to_owned(),
            );
            (key, (decimal(&g["cost"]), decimal(&g["amortized_cost"])))
        })
        .collect()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_summary_by_resource_group_equals_the_sums_of_the_cost_rows(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (_, a_tid) = tenant_with_rows(&app, "A", 0).await;
    let (b, _) = tenant_with_rows(&app, "B", 5).await;
    let reader = app.token(a_tid, &[READER]);

    let plain = app
        .get(&format!("/api/v1/costs/summary?{WINDOW}"), &reader)
        .await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
    assert!(
        plain.body.get("by_resource_group").is_none(),
        "only on request: it reads the cost rows"
    );

    let grouped = app
        .get(
            &format!("/api/v1/costs/summary?{WINDOW}&group_by=resource_group"),
            &reader,
        )
        .await;
    assert_eq!(grouped.status, StatusCode::OK, "{}", grouped.body);
    let listed = groups(&grouped.body);
    let expected = sums_of_rows(&app, WINDOW, &reader).await;
    assert_eq!(
        expected.len(),
        5,
        "four groups, one of them in two currencies"
    );
    assert!(
        expected.contains_key(&(String::new(), "USD".into())),
        "charges outside any group"
    );
    assert_eq!(listed.iter().cloned().collect::<Sums>(), expected);
    assert!(
        listed.windows(2).all(|w| w[0].1.0 >= w[1].1.0),
        "largest actual cost first"
    );
    // The groups add up to the summary's totals, per currency.
    for total in grouped.body["totals"].as_array().expect("totals") {
        let currency = total["currency"].as_str().expect("currency");
        let (cost, amortized) = expected
            .iter()
            .filter(|((_, c), _)| c == currency)
            .fold((Decimal::ZERO, Decimal::ZERO), |(c, a), (_, s)| {
                (c + s.0, a + s.1)
            });
        assert_eq!(
            (decimal(&total["cost"]), decimal(&total["amortized_cost"])),
            (cost, amortized)
        );
    }

    // Filters narrow the grouping as they narrow the rows.
    let web = app
        .get(
            &format!("/api/v1/costs/summary?{WINDOW}&group_by=resource_group&resource_group=rg-web&service_name=Storage"),
            &reader,
        )
        .await;
    let narrowed = sums_of_rows(
        &app,
        &format!("{WINDOW}&resource_group=rg-web&service_name=Storage"),
        &reader,
    )
    .await;
    assert_eq!(groups(&web.body).into_iter().collect::<Sums>(), narrowed);
    assert_eq!(narrowed.len(), 1);

    // An operator naming tenant B gets B's sums, which differ from A's.
    let operator = app.operator();
    let of_b = app
        .get(
            &format!("/api/v1/costs/summary?{WINDOW}&group_by=resource_group&tenant_id={b}"),
            &operator,
        )
        .await;
    let b_sums = sums_of_rows(&app, &format!("{WINDOW}&tenant_id={b}"), &operator).await;
    assert_eq!(groups(&of_b.body).into_iter().collect::<Sums>(), b_sums);
    assert_ne!(b_sums, expected);
    // A's reader naming tenant B gets nothing.
    let foreign = app
        .get(
            &format!("/api/v1/costs/summary?{WINDOW}&group_by=resource_group&tenant_id={b}"),
            &reader,
        )
        .await;
    assert_eq!(foreign.body["by_resource_group"], serde_json::json!([]));

    let bad = app
        .get(
            &format!("/api/v1/costs/summary?{WINDOW}&group_by=service"),
            &reader,
        )
        .await;
    bad.assert_error(StatusCode::BAD_REQUEST, "bad_request");
}
