//! From what the connectors return to the rows the database keeps.

use rust_decimal::Decimal;
use serde_json::json;

use crate::azure::advisor::AdvisorRecommendation;
use crate::azure::cost_management::CostRow;
use crate::azure::resource_graph::Resource;
use crate::db::conditions::Observed;
use crate::db::costs::NewCostRow;
use crate::db::recommendations::AdvisorRow;
use crate::db::resources::NewResource;

/// Cost Management's merged rows as `costs_daily` rows.
pub fn cost_rows(rows: Vec<CostRow>) -> Vec<NewCostRow> {
    rows.into_iter()
        .map(|r| NewCostRow {
            date: r.date,
            resource_group: r.resource_group,
            service_name: r.service_name,
            meter_category: r.meter_category,
            cost: r.cost,
            amortized_cost: r.amortized_cost,
            currency: r.currency,
        })
        .collect()
}

/// Resource Graph's inventory as `resources` rows: an empty location or resource group is
/// none, the tags a JSON object.
pub fn inventory_rows(resources: Vec<Resource>) -> Vec<NewResource> {
    let present = |s: String| (!s.is_empty()).then_some(s);
    resources
        .into_iter()
        .map(|r| NewResource {
            tags: serde_json::to_value(&r.tags).unwrap_or_else(|_| json!({})),
            resource_id: r.resource_id,
            name: r.name,
            resource_type: r.resource_type,
            kind: r.kind,
            location: present(r.location),
            resource_group: present(r.resource_group),
            sku: r.sku,
            properties: r.properties,
        })
        .collect()
}

/// The tracked conditions that hold for `resources`, as the database records them.
pub fn condition_rows(resources: &[Resource]) -> Vec<Observed> {
    resources
        .iter()
        .flat_map(|r| {
            super::conditions::holding(r).into_iter().map(|h| Observed {
                resource_id: r.resource_id.clone(),
                condition: h.condition.to_owned(),
                since_hint: h.since_hint,
            })
        })
        .collect()
}

/// Advisor recommendations as rows, one per ARM id (the last wins: a batch must not name a
/// row twice, and Advisor has been seen repeating ids).
pub fn advisor_rows(recommendations: &[AdvisorRecommendation]) -> Vec<AdvisorRow> {
    let mut by_id = std::collections::BTreeMap::new();
    for r in recommendations {
        by_id.insert(r.recommendation_id.clone(), advisor_row(r));
    }
    by_id.into_values().collect()
}

/// An Advisor recommendation as a `recommendations` row.
pub fn advisor_row(r: &AdvisorRecommendation) -> AdvisorRow {
    let title = r
        .problem
        .clone()
        .or_else(|| {
            r.impacted_value
                .as_ref()
                .map(|v| format!("Advisor cost recommendation for {v}"))
        })
        .unwrap_or_else(|| "Advisor cost recommendation".to_owned());
    AdvisorRow {
        external_id: r.recommendation_id.clone(),
        resource_id: (!r.resource_id.is_empty()).then(|| r.resource_id.clone()),
        rule_id: format!(
            "advisor:{}",
            r.recommendation_type_id.as_deref().unwrap_or("unknown")
        ),
        category: r.category.to_ascii_lowercase(),
        title,
        description: r.solution.clone(),
        monthly_savings: r.monthly_savings,
        currency: if r.savings_currency.is_empty() {
            "USD".to_owned()
        } else {
            r.savings_currency.clone()
        },
        confidence: Decimal::from_f64_retain(r.confidence_score)
            .unwrap_or_default()
            .round_dp(3),
        details: json!({
            "impact": r.impact, "savings_source": format!("{:?}", r.savings_source),
            "impacted_field": r.impacted_field, "impacted_value": r.impacted_value,
            "extended_properties": r.extended_properties, "last_updated": r.last_updated,
            "learn_more_link": r.learn_more_link,
        }),
    }
}
