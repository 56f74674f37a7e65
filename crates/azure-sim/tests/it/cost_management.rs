//! Cost Management: rows summing to the estate's cost, and query units running out.

use std::collections::HashSet;

use azure_sim::SimConfig;
use azure_sim::costs::CostType;
use chrono::Datelike;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{ARM, Sim, cost_body, small};

#[tokio::test]
async fn cost_rows_sum_to_the_estates_cost_and_columns_are_named_and_ordered_like_azure() {
    let s = Sim::start(SimConfig {
        cost_page_size: 40,
        ..small()
    })
    .await;
    let token = s.token(s.tenant(0), ARM).await;
    let sub = s.subscription(0, 0);
    let (from, to) = s.handle.estate.cost_data_range();
    for (kind, cost_type) in [
        ("ActualCost", CostType::ActualCost),
        ("AmortizedCost", CostType::AmortizedCost),
    ] {
        let (columns, rows, pages) = s
            .cost_all(
                &token,
                sub,
                &cost_body(kind, from, to, &["ResourceGroupName", "ResourceId"]),
            )
            .await;
        assert_eq!(
            columns,
            vec![
                json!({"name": "Cost", "type": "Number"}),
                json!({"name": "ResourceGroupName", "type": "String"}),
                json!({"name": "ResourceId", "type": "String"}),
                json!({"name": "UsageDate", "type": "Number"}),
                json!({"name": "Currency", "type": "String"}),
            ]
        );
        assert!(pages >= 3, "{pages} pages");
        let keys: HashSet<String> = rows.iter().map(|r| format!("{}|{}", r[2], r[3])).collect();
        assert_eq!(keys.len(), rows.len(), "no row twice across pages");
        let total: f64 = rows.iter().map(|r| r[0].as_f64().expect("number")).sum();
        let expected = s.handle.estate.expected_cost(sub, cost_type, from, to);
        assert!(
            (total - expected).abs() < 0.005,
            "{kind}: {total} vs {expected}"
        );
        let date = rows[0][3].as_u64().expect("UsageDate is a number");
        assert!((20_000_101..=29_991_231).contains(&date));
        assert_eq!(rows[0][4], "USD");
    }
    let three = cost_body(
        "ActualCost",
        from,
        to,
        &["ResourceGroupName", "ServiceName", "MeterCategory"],
    );
    let refused = s.post(s.cost_url(sub), &token, &three).await;
    assert_eq!(
        (refused.status, refused.body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BadRequest"))
    );
}

/// Every page of a query starting at `url`: (rows per page, the `$top` of each `nextLink`).
async fn pages_from(
    s: &Sim,
    token: &str,
    mut url: reqwest::Url,
    body: &serde_json::Value,
) -> (Vec<usize>, Vec<Option<String>>) {
    let (mut sizes, mut tops) = (Vec::new(), Vec::new());
    loop {
        let r = s.post(url, token, body).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        sizes.push(r.body["properties"]["rows"].as_array().expect("rows").len());
        let Some(next) = r.body["properties"]["nextLink"].as_str() else {
            return (sizes, tops);
        };
        url = reqwest::Url::parse(next).expect("absolute nextLink");
        tops.push(
            url.query_pairs()
                .find(|(k, _)| k == "$top")
                .map(|(_, v)| v.into_owned()),
        );
    }
}

#[tokio::test]
async fn top_sets_the_page_keeps_it_in_next_link_and_is_capped_at_the_largest_page() {
    let s = Sim::start(SimConfig {
        cost_page_size: 40,
        ..small()
    })
    .await;
    let token = s.token(s.tenant(0), ARM).await;
    let sub = s.subscription(0, 0);
    let (from, to) = s.handle.estate.cost_data_range();
    let body = cost_body("ActualCost", from, to, &["ResourceGroupName", "ResourceId"]);
    let with_top = |top: &str| {
        let mut url = s.cost_url(sub);
        url.query_pairs_mut().append_pair("$top", top);
        url
    };

    let (default, default_tops) = pages_from(&s, &token, s.cost_url(sub), &body).await;
    let rows: usize = default.iter().sum();
    assert!(default.len() >= 3, "{default:?}");
    assert!(default[..default.len() - 1].iter().all(|&n| n == 40));
    assert!(
        default_tops.iter().all(Option::is_none),
        "no $top asked, none kept"
    );

    let (small_pages, small_tops) = pages_from(&s, &token, with_top("15"), &body).await;
    assert!(
        small_pages[..small_pages.len() - 1]
            .iter()
            .all(|&n| n == 15)
    );
    assert_eq!(small_pages.iter().sum::<usize>(), rows, "the same rows");
    assert!(small_tops.iter().all(|t| t.as_deref() == Some("15")));

    let (capped, capped_tops) = pages_from(&s, &token, with_top("100000"), &body).await;
    assert_eq!(capped, default, "capped at the largest page");
    assert!(capped_tops.iter().all(|t| t.as_deref() == Some("40")));

    for bad in ["0", "-1", "ten"] {
        let refused = s.post(with_top(bad), &token, &body).await;
        assert_eq!(
            (refused.status, refused.body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("BadRequest")),
            "$top={bad}"
        );
    }
}

#[tokio::test]
async fn query_units_run_out_with_the_documented_429_and_headers() {
    let s = Sim::start(SimConfig {
        throttling: true,
        ..small()
    })
    .await;
    let token = s.token(s.tenant(0), ARM).await;
    let sub = s.subscription(0, 0);
    let today = s.handle.estate.today();
    let from = (today - chrono::Months::new(2))
        .with_day0(0)
        .expect("first of month");
    let body = cost_body("ActualCost", from, today, &["ResourceGroupName"]);
    let first = s.post(s.cost_url(sub), &token, &body).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        first.header("x-ms-ratelimit-microsoft.costmanagement-qpu-consumed"),
        "3"
    );
    assert_eq!(
        first.header("x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"),
        "QueriesPerHour:597,QueriesPerMin:57,QueriesPer10Sec:9"
    );
    for _ in 0..3 {
        assert_eq!(
            s.post(s.cost_url(sub), &token, &body).await.status,
            StatusCode::OK
        );
    }
    let throttled = s.post(s.cost_url(sub), &token, &body).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        throttled.body,
        json!({"error": {"code": "429", "message": "Too many requests. Please retry."}})
    );
    let retry: u64 = throttled
        .header("x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after")
        .parse()
        .expect("seconds");
    assert!((1..=10).contains(&retry));
    assert_eq!(throttled.header("retry-after"), retry.to_string());
    let other_tenant = s.token(s.tenant(1), ARM).await;
    assert_eq!(
        s.post(s.cost_url(s.subscription(1, 0)), &other_tenant, &body)
            .await
            .status,
        StatusCode::OK,
        "quotas are per tenant"
    );
    assert_eq!(s.handle.stats().throttled.cost_management, 1);
}

/// A query over `from..=to` with no granularity (one row per group for the whole period).
fn total_body(
    cost_type: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    grouping: &[&str],
) -> serde_json::Value {
    let mut body = cost_body(cost_type, from, to, grouping);
    body["dataset"]["granularity"] = json!("None");
    body
}

/// Cents per (resource group, service), from rows whose group comes from `group_of`.
fn by_group_and_service(
    rows: &[serde_json::Value],
    group_of: impl Fn(&serde_json::Value) -> String,
    service_column: usize,
) -> std::collections::BTreeMap<(String, String), i64> {
    let mut sums = std::collections::BTreeMap::new();
    for row in rows {
        let cents = (row[0].as_f64().expect("cost") * 100.0).round() as i64;
        let key = (
            group_of(row),
            row[service_column].as_str().unwrap_or_default().to_owned(),
        );
        *sums.entry(key).or_default() += cents;
    }
    sums
}

#[tokio::test]
async fn per_resource_costs_add_up_to_the_resource_group_and_service_costs_to_the_cent() {
    let s = Sim::start(SimConfig {
        cost_page_size: 20,
        estate: azure_sim::EstateConfig {
            tenants: 4,
            subscriptions_per_tenant: 1,
            ..small().estate
        },
        ..small()
    })
    .await;
    let to = s.handle.estate.today() - chrono::Duration::days(3);
    let from = to - chrono::Duration::days(29);
    for tenant in [0, 3] {
        let sub = s.subscription(tenant, 0);
        let token = s.token(s.tenant(tenant), ARM).await;
        let currency = s.handle.estate.currency_of(sub);
        for kind in ["AmortizedCost", "ActualCost"] {
            let per_resource = total_body(kind, from, to, &["ResourceId", "ServiceName"]);
            let (columns, rows, pages) = s.cost_all(&token, sub, &per_resource).await;
            assert_eq!(
                columns,
                vec![
                    json!({"name": "Cost", "type": "Number"}),
                    json!({"name": "ResourceId", "type": "String"}),
                    json!({"name": "ServiceName", "type": "String"}),
                    json!({"name": "Currency", "type": "String"}),
                ]
            );
            assert!(pages >= 2, "{pages} pages");
            assert!(rows.iter().all(|r| r[3] == currency));
            for row in &rows {
                let id = row[1].as_str().expect("ResourceId");
                assert_eq!(id, id.to_ascii_lowercase());
                assert!(
                    id.is_empty() || s.handle.estate.resource(id).is_some(),
                    "{id}"
                );
            }
            let group_of_id = |row: &serde_json::Value| {
                let id = row[1].as_str().unwrap_or_default();
                id.split('/').nth(4).unwrap_or_default().to_owned()
            };
            let per_resource = by_group_and_service(&rows, group_of_id, 2);
            let daily = cost_body(kind, from, to, &["ResourceGroupName", "ServiceName"]);
            let (_, daily_rows, _) = s.cost_all(&token, sub, &daily).await;
            let group_of_name =
                |row: &serde_json::Value| row[1].as_str().unwrap_or_default().to_ascii_lowercase();
            assert_eq!(
                per_resource,
                by_group_and_service(&daily_rows, group_of_name, 2),
                "{kind} {currency}"
            );
        }
    }
}

#[tokio::test]
async fn a_reservation_purchase_has_no_resource_id_and_no_resource_group() {
    let s = Sim::start(small()).await;
    let e = &s.handle.estate;
    let sub = e
        .subscriptions()
        .iter()
        .find(|sub| {
            e.resources_of(sub.id)
                .iter()
                .any(|r| r.vm().is_some_and(|v| v.reserved))
        })
        .expect("a subscription with a reserved VM")
        .id;
    let tenant = e.home_tenant(sub).expect("known subscription");
    let token = s.token(tenant, ARM).await;
    let (from, to) = e.cost_data_range();
    let first_of_month = to.with_day0(0).expect("first");
    let from = from
        .max(first_of_month - chrono::Duration::days(1))
        .min(first_of_month);
    let (_, rows, _) = s
        .cost_all(
            &token,
            sub,
            &total_body("ActualCost", from, to, &["ResourceId", "ResourceGroupName"]),
        )
        .await;
    let purchases: Vec<_> = rows.iter().filter(|r| r[1] == "").collect();
    assert_eq!(
        purchases.len(),
        1,
        "one row for the subscription's purchases"
    );
    assert_eq!(purchases[0][2], "", "no resource group either");
    let (_, amortized, _) = s
        .cost_all(
            &token,
            sub,
            &total_body("AmortizedCost", from, to, &["ResourceId"]),
        )
        .await;
    assert!(
        amortized.iter().all(|r| r[1] != ""),
        "amortized cost sits on the VMs"
    );
}
