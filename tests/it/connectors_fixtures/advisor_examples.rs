//! Advisor examples: ids, resource ids, savings paths, confidence, free-form parts.

use azcops::azure::advisor::{self, RecommendationWire, SavingsSource};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::body;

pub(super) fn advisor_page(
    example: &Value,
) -> (Vec<advisor::AdvisorRecommendation>, Option<String>) {
    let items: Vec<RecommendationWire> =
        serde_json::from_value(body(example)["value"].clone()).expect("items");
    let next = body(example)["nextLink"].as_str().map(str::to_owned);
    (
        items.into_iter().map(advisor::map_recommendation).collect(),
        next,
    )
}

pub(super) fn assert_impact_estimate(rec: &advisor::AdvisorRecommendation) {
    // No extendedProperties in the examples: the Medium impact's estimate, in USD.
    assert_eq!(rec.impact, "Medium");
    assert_eq!(
        (rec.monthly_savings, rec.savings_source),
        (Decimal::from(100), SavingsSource::ImpactEstimate)
    );
    assert_eq!(rec.confidence_score, 0.7);
    assert_eq!(rec.savings_currency, "USD");
    assert_eq!(rec.last_updated.map(|t| t.timestamp()), Some(1_487_975_083));
}

pub(super) fn advisor_list(example: &Value, ids: [&str; 2]) {
    let (recs, next) = advisor_page(example);
    assert!(next.expect("nextLink").contains("$skiptoken=skiptoken"));
    assert_eq!(recs.len(), 2);
    let names: Vec<&str> = recs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["recGUID1", "recGUID2"]);
    assert_eq!(
        [
            recs[0].recommendation_id.as_str(),
            recs[1].recommendation_id.as_str()
        ],
        ids
    );
    assert_eq!(recs[0].category, "HighAvailability");
    assert_eq!(
        recs[0].resource_id,
        "/subscriptions/subscriptionid/resourcegroups/resourcegroup/providers/microsoft.compute/availabilitysets/abc"
    );
    assert_eq!(
        recs[0].impacted_field.as_deref(),
        Some("Microsoft.Compute/availabilitySets")
    );
    assert_eq!(
        recs[0].problem.as_deref(),
        Some(
            "To ensure high availability add one or more virtual machines to this availability set"
        )
    );
    assert_eq!(
        recs[0]
            .remediation
            .as_ref()
            .map(|r| &r["additionalProperties"]["httpMethod"]),
        Some(&json!("POST"))
    );
    assert_eq!(
        recs[1].resource_id,
        "/subscriptions/subscriptionid/resourcegroups/resourcegroup/providers/microsoft.compute/virtualmachines/xyz"
    );
    assert_eq!(
        recs[1]
            .actions
            .as_ref()
            .map(|a| a[0]["additionalProperties"]["link"].clone()),
        Some(json!("https://link1"))
    );
    recs.iter().for_each(assert_impact_estimate);
    // Neither is a Cost recommendation, so a collection keeps none of them.
    let items: Vec<RecommendationWire> =
        serde_json::from_value(body(example)["value"].clone()).expect("items");
    assert!(advisor::map_page(items).is_empty());
}

pub(super) fn advisor_list_2023(example: &Value) {
    let id = "/resourceuri/providers/microsoft.advisor/recommendations/607d4130-212f-4b6a-a5d0-c526f91adce7";
    advisor_list(example, [id, id]);
}

pub(super) fn advisor_list_2025(example: &Value) {
    advisor_list(
        example,
        [
            "/resourceuri/providers/microsoft.advisor/recommendations/recguid1",
            "/resourceuri/providers/microsoft.advisor/recommendations/recguid2",
        ],
    );
}

pub(super) fn advisor_detail(example: &Value) {
    let wire: RecommendationWire = serde_json::from_value(body(example).clone()).expect("item");
    let rec = advisor::map_recommendation(wire);
    assert_eq!(rec.name, "recommendationId");
    assert_eq!(rec.category, "Security");
    assert_eq!(rec.impacted_value.as_deref(), Some("armavset"));
    assert_eq!(
        rec.resource_id,
        "/subscriptions/subscriptionid/resourcegroups/resourcegroup/providers/microsoft.compute/virtualmachines/xyz"
    );
    assert_eq!(rec.label.as_deref(), Some("Enable Soft Delete"));
    assert_eq!(rec.risk.as_deref(), Some("Warning"));
    assert_impact_estimate(&rec);
}
