//! Advisor: `nextLink` paging across an empty page, savings paths.

use axum::response::Response;
use azcops::azure::advisor::{self, SavingsSource};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Received, SUB, client, context, received, reply, serve};

pub(super) fn advisor_page(request: &Received, base: &str) -> Response {
    let link = |token: &str| {
        format!(
            "{base}/subscriptions/{SUB}/providers/Microsoft.Advisor/recommendations?api-version=2023-01-01&$filter=Category%20eq%20%27Cost%27&$skipToken={token}"
        )
    };
    let rec = |n: u32, category: &str, impact: &str, extended: Value| {
        json!({"id": format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm{n}/providers/Microsoft.Advisor/recommendations/rec{n}"),
               "name": format!("rec{n}"), "type": "Microsoft.Advisor/recommendations",
               "properties": {"category": category, "impact": impact, "extendedProperties": extended,
                              "shortDescription": {"problem": "p", "solution": "s"}}})
    };
    let page = match request.target.split("$skipToken=").nth(1) {
        None => {
            json!({"value": [rec(1, "Cost", "High", json!({"savingsAmount": "42.5", "savingsCurrency": "EUR"})),
                                 rec(2, "Security", "High", json!({}))], "nextLink": link("a")})
        }
        Some("a") => json!({"value": [], "nextLink": link("b")}),
        _ => {
            json!({"value": [rec(3, "Cost", "Low", json!({"savingsAmount": "oops", "annualSavingsAmount": "120"})),
                              rec(4, "Cost", "Medium", json!({}))]})
        }
    };
    reply(200, &page)
}

#[tokio::test]
async fn advisor_follows_next_links_across_three_pages_including_an_empty_one() {
    let (azure, log) = serve(advisor_page).await;
    let (client, ctx) = (client(&azure), context());

    let recs = advisor::collect(&client, &ctx, SUB)
        .await
        .expect("recommendations");

    let got: Vec<(&str, Decimal, SavingsSource, f64)> = recs
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.monthly_savings,
                r.savings_source,
                r.confidence_score,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "rec1",
                Decimal::new(425, 1),
                SavingsSource::SavingsAmount,
                0.9
            ),
            (
                "rec3",
                Decimal::from(10),
                SavingsSource::AnnualSavingsAmount,
                0.5
            ),
            (
                "rec4",
                Decimal::from(100),
                SavingsSource::ImpactEstimate,
                0.7
            ),
        ]
    );
    assert_eq!(recs[0].savings_currency, "EUR");
    assert!(recs[0].resource_id.ends_with("/virtualmachines/vm1"));
    let requests = received(&log);
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|r| r.method == "GET"));
    assert_eq!(
        requests[0].target,
        format!(
            "/subscriptions/{SUB}/providers/Microsoft.Advisor/recommendations?api-version=2023-01-01&$filter=Category eq 'Cost'"
        )
    );
    assert!(requests[2].target.ends_with("$skipToken=b"));
}
