//! Advisor: paged cost recommendations.

use azure_sim::SimConfig;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use crate::support::{ARM, Sim, small};

#[tokio::test]
async fn advisor_pages_cost_recommendations_with_string_extended_properties() {
    let s = Sim::start(SimConfig {
        advisor_page_size: 3,
        ..small()
    })
    .await;
    let token = s.token(s.tenant(0), ARM).await;
    let sub = s.subscription(0, 0);
    let mut url = s.url(&format!(
        "subscriptions/{sub}/providers/Microsoft.Advisor/recommendations"
    ));
    url.query_pairs_mut()
        .append_pair("api-version", "2023-01-01")
        .append_pair("$filter", "Category eq 'Cost'");
    let (mut items, mut pages) = (Vec::new(), 0);
    loop {
        let r = s.get(url.clone(), &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        items.extend(r.body["value"].as_array().expect("value").iter().cloned());
        pages += 1;
        match r.body["nextLink"].as_str() {
            Some(next) => url = Url::parse(next).expect("absolute nextLink"),
            None => break,
        }
    }
    assert_eq!(
        items.len(),
        s.handle.estate.expected_cost_recommendations(sub)
    );
    assert!(
        pages >= 2 && items.len() > 3,
        "{} items in {pages} pages",
        items.len()
    );
    for item in &items {
        let p = &item["properties"];
        assert_eq!(
            (p["category"].as_str(), item["type"].as_str()),
            (Some("Cost"), Some("Microsoft.Advisor/recommendations"))
        );
        assert!(
            p["extendedProperties"]
                .as_object()
                .expect("map")
                .values()
                .all(Value::is_string)
        );
        assert!(
            p["shortDescription"]["problem"].is_string() && p["recommendationTypeId"].is_string()
        );
        let target = p["resourceMetadata"]["resourceId"]
            .as_str()
            .expect("resourceId");
        assert!(
            s.handle.estate.resource(target).is_some() || target == format!("/subscriptions/{sub}"),
            "{target}"
        );
    }
    let has = |key: &str| {
        items
            .iter()
            .any(|i| i["properties"]["extendedProperties"].get(key).is_some())
    };
    assert!(has("savingsAmount") && has("annualSavingsAmount") && has("savingsCurrency"));
    let mut top = s.url(&format!(
        "subscriptions/{sub}/providers/Microsoft.Advisor/recommendations"
    ));
    top.query_pairs_mut()
        .append_pair("api-version", "2025-01-01")
        .append_pair("$top", "2");
    let first = s.get(top, &token).await;
    assert_eq!(first.body["value"].as_array().map(Vec::len), Some(2));
    assert!(
        first.body["nextLink"]
            .as_str()
            .is_some_and(|l| l.contains("%24top=2") || l.contains("$top=2"))
    );
}
