//! Per-resource costs: `granularity: None` grouped by resource and service, `nextLink` paging
//! with the same body, charges without a resource kept, query units per page, throttling.

use std::sync::Arc;

use axum::response::Response;
use azcops::azure::client::Api;
use azcops::azure::cost_management::{self, CostScope, DateRange};
use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{
    Received, SUB, client, context, received, reply, retrying_client, serve, serve_numbered,
};

fn vm() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/RG-A/providers/Microsoft.Compute/virtualMachines/VM1"
    )
}

fn disk() -> String {
    format!("/subscriptions/{SUB}/resourcegroups/rg-a/providers/microsoft.compute/disks/vm1-os")
}

fn by_resource_page(request: &Received, base: &str) -> Response {
    let link = |token: &str| {
        format!(
            "{base}/subscriptions/{SUB}/providers/Microsoft.CostManagement/query?api-version=2023-11-01&$skiptoken={token}"
        )
    };
    let columns = json!([{"name": "Cost", "type": "Number"}, {"name": "ResourceId", "type": "String"},
                         {"name": "ServiceName", "type": "String"}, {"name": "Currency", "type": "String"}]);
    let page = |rows: Value, next: Option<String>| {
        json!({"id": "x", "name": "x", "type": "Microsoft.CostManagement/query",
               "properties": {"nextLink": next, "columns": columns, "rows": rows}})
    };
    let token = request.target.split("$skiptoken=").nth(1);
    let body = match (request.body["type"].as_str(), token) {
        (Some("ActualCost"), None) => page(
            json!([
                [10.5, vm(), "Virtual Machines", "EUR"],
                [300, "", "Reservations", "EUR"]
            ]),
            Some(link("p2")),
        ),
        (Some("ActualCost"), Some("p2")) => page(json!([[1.25, disk(), "Storage", "EUR"]]), None),
        (Some("AmortizedCost"), None) => page(
            json!([
                [14.2, vm().to_lowercase(), "Virtual Machines", "EUR"],
                [1.25, disk(), "Storage", "EUR"]
            ]),
            None,
        ),
        _ => {
            return reply(
                400,
                &json!({"error": {"code": "BadRequest", "message": "unexpected"}}),
            );
        }
    };
    reply(200, &body)
}

fn window() -> DateRange {
    DateRange::resource_cost_window(Utc.with_ymd_and_hms(2024, 6, 5, 8, 0, 0).unwrap())
}

#[tokio::test]
async fn per_resource_costs_merge_both_views_and_keep_charges_without_a_resource() {
    let (azure, log) = serve(by_resource_page).await;
    let (client, ctx) = (client(&azure), context());

    let rows = cost_management::collect_by_resource(
        &client,
        &ctx,
        &CostScope::subscription(SUB),
        window(),
    )
    .await
    .expect("per-resource costs");

    let got: Vec<(String, &str, &str, Decimal, Decimal)> = rows
        .iter()
        .map(|r| {
            (
                r.resource_id.clone(),
                r.resource_group.as_str(),
                r.service_name.as_str(),
                r.cost,
                r.amortized_cost,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                String::new(),
                "",
                "Reservations",
                Decimal::from(300),
                Decimal::ZERO
            ),
            (
                disk(),
                "rg-a",
                "Storage",
                Decimal::new(125, 2),
                Decimal::new(125, 2)
            ),
            (
                vm().to_lowercase(),
                "rg-a",
                "Virtual Machines",
                Decimal::new(105, 1),
                Decimal::new(142, 1)
            ),
        ]
    );
    assert!(rows.iter().all(|r| r.currency == "EUR"));
    let requests = received(&log);
    let actual: Vec<&Received> = requests
        .iter()
        .filter(|r| r.body["type"] == "ActualCost")
        .collect();
    assert_eq!(actual.len(), 2);
    assert_eq!(
        actual[0].body, actual[1].body,
        "the same body to the next link"
    );
    assert!(actual[1].target.ends_with("$skiptoken=p2"));
    let body = &actual[0].body;
    assert_eq!(body["dataset"]["granularity"], "None");
    assert_eq!(
        body["dataset"]["grouping"],
        json!([{"type": "Dimension", "name": "ResourceId"}, {"type": "Dimension", "name": "ServiceName"}])
    );
    assert_eq!(
        body["timePeriod"],
        json!({"from": "2024-05-04T00:00:00Z", "to": "2024-06-02T23:59:59Z"})
    );
    assert!(requests.iter().all(|r| r.target.starts_with(&format!(
        "/subscriptions/{SUB}/providers/Microsoft.CostManagement/query?api-version=2023-11-01"
    ))));
    assert_eq!(
        ctx.stats.api(Api::CostManagement).qpu_units,
        6,
        "three pages of a window touching two months, two units each"
    );
}

#[tokio::test]
async fn a_throttled_cost_page_is_retried_after_azures_wait_and_charged_again() {
    let answer = Arc::new(|request: &Received, base: &str, number: usize| {
        if number == 0 {
            return Response::builder()
                .status(429)
                .header("content-type", "application/json")
                .header(
                    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
                    "0.05",
                )
                .body(axum::body::Body::from(
                    r#"{"error":{"code":"429","message":"Too many requests. Please retry."}}"#,
                ))
                .expect("response");
        }
        by_resource_page(request, base)
    });
    let (azure, log) = serve_numbered(answer).await;
    let (client, ctx) = (retrying_client(&azure), context());

    let rows = cost_management::collect_by_resource(
        &client,
        &ctx,
        &CostScope::subscription(SUB),
        window(),
    )
    .await
    .expect("retried");

    assert_eq!(rows.len(), 3);
    let stats = ctx.stats.api(Api::CostManagement);
    assert_eq!((stats.throttled, stats.retries, stats.calls), (1, 1, 4));
    assert_eq!(
        stats.qpu_units, 8,
        "the throttled attempt cost its units too"
    );
    assert_eq!(received(&log).len(), 4);
}

#[tokio::test]
async fn an_answer_without_the_resource_id_column_fails_as_a_parse_error() {
    let (azure, _log) = serve(|_, _| {
        reply(
            200,
            &json!({"properties": {"nextLink": null,
            "columns": [{"name": "Cost"}, {"name": "ResourceGroupName"}], "rows": [[1.0, "rg"]]}}),
        )
    })
    .await;
    let (client, ctx) = (client(&azure), context());

    let err = cost_management::collect_by_resource(
        &client,
        &ctx,
        &CostScope::subscription(SUB),
        window(),
    )
    .await
    .expect_err("refused");

    assert!(!err.is_retryable());
    assert!(err.to_string().contains("ResourceId"), "{err}");
}
