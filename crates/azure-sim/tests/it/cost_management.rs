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
