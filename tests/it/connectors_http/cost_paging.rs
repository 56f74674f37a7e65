//! Cost Management: `nextLink` paging with the same body, the merge, 204.

use axum::body::Body;
use axum::response::Response;
use azcops::azure::client::Api;
use azcops::azure::cost_management::{self, CostScope};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Received, SUB, client, context, received, reply, serve};

pub(super) fn cost_page(request: &Received, base: &str) -> Response {
    let link = |token: &str| {
        format!(
            "{base}/subscriptions/{SUB}/providers/Microsoft.CostManagement/query?api-version=2023-11-01&$skiptoken={token}"
        )
    };
    let columns = json!([{"name": "UsageDate", "type": "Number"}, {"name": "Currency", "type": "String"},
                         {"name": "ServiceName", "type": "String"}, {"name": "Cost", "type": "Number"},
                         {"name": "ResourceGroupName", "type": "String"}]);
    let page = |rows: Value, next: Option<String>| json!({"properties": {"nextLink": next, "columns": columns, "rows": rows}});
    let token = request.target.split("$skiptoken=").nth(1);
    let body = match (request.body["type"].as_str(), token) {
        (Some("ActualCost"), None) => page(
            json!([[20240501, "EUR", "Storage", 1.25, "RG-A"]]),
            Some(link("p2")),
        ),
        (Some("ActualCost"), Some("p2")) => {
            json!({"nextLink": link("p3"), "properties": {"columns": columns, "rows": []}})
        }
        (Some("ActualCost"), _) => page(
            json!([[20240501, "EUR", "Reservations", 500, "rg-a"]]),
            None,
        ),
        (Some("AmortizedCost"), _) => page(
            json!([
                [20240501, "EUR", "Storage", 1.25, "rg-a"],
                ["2024-05-01", "EUR", "Virtual Machines", 16.4467, "RG-A"]
            ]),
            None,
        ),
        _ => {
            return reply(
                400,
                &json!({"error": {"code": "BadRequest", "message": "unknown type"}}),
            );
        }
    };
    reply(200, &body)
}

#[tokio::test]
async fn cost_pages_post_the_same_body_to_each_next_link_and_merge_amortized_onto_actual() {
    let (azure, log) = serve(cost_page).await;
    let (client, ctx) = (client(&azure), context());
    let day = NaiveDate::from_ymd_opt(2024, 5, 1).expect("date");

    let rows =
        cost_management::collect_range(&client, &ctx, &CostScope::subscription(SUB), day, day)
            .await
            .expect("costs");

    let summary: Vec<(&str, &str, Decimal, Decimal, &str)> = rows
        .iter()
        .map(|r| {
            (
                r.resource_group.as_str(),
                r.service_name.as_str(),
                r.cost,
                r.amortized_cost,
                r.currency.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "rg-a",
                "Reservations",
                Decimal::from(500),
                Decimal::ZERO,
                "EUR"
            ),
            (
                "rg-a",
                "Storage",
                Decimal::new(125, 2),
                Decimal::new(125, 2),
                "EUR"
            ),
            (
                "rg-a",
                "Virtual Machines",
                Decimal::ZERO,
                Decimal::new(164_467, 4),
                "EUR"
            ),
        ]
    );
    assert!(
        rows.iter()
            .all(|r| r.date == day && r.meter_category == r.service_name)
    );
    let requests = received(&log);
    let actual: Vec<&Received> = requests
        .iter()
        .filter(|r| r.body["type"] == "ActualCost")
        .collect();
    assert_eq!(actual.len(), 3, "three pages of actual cost");
    assert!(
        actual.iter().all(|r| r.body == actual[0].body),
        "the same body to each link"
    );
    assert!(
        actual[1].target.ends_with("$skiptoken=p2") && actual[2].target.ends_with("$skiptoken=p3")
    );
    assert!(
        requests
            .iter()
            .filter(|r| !r.target.contains("skiptoken"))
            .all(|r| r.target.ends_with("&$top=5000")),
        "each query asks for 5,000-row pages: {:?}",
        requests.iter().map(|r| &r.target).collect::<Vec<_>>()
    );
    assert_eq!(
        actual[0].body["timePeriod"],
        json!({"from": "2024-05-01T00:00:00Z", "to": "2024-05-01T23:59:59Z"})
    );
    assert_eq!(
        ctx.stats.api(Api::CostManagement).qpu_units,
        4,
        "one unit per page of a one-month query"
    );
}

#[tokio::test]
async fn a_cost_answer_without_content_means_no_rows() {
    let (azure, _log) = serve(|_, _| {
        Response::builder()
            .status(204)
            .body(Body::empty())
            .expect("response")
    })
    .await;
    let (client, ctx) = (client(&azure), context());
    let day = NaiveDate::from_ymd_opt(2024, 5, 1).expect("date");

    let rows =
        cost_management::collect_range(&client, &ctx, &CostScope::subscription(SUB), day, day)
            .await
            .expect("costs");

    assert!(rows.is_empty());
}
