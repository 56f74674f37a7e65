//! From what the connectors return to the rows the database keeps.

use rust_decimal::Decimal;
use serde_json::json;

use crate::azure::advisor::AdvisorRecommendation;
use crate::azure::cost_management::{CostRow, ResourceCostRow};
use crate::azure::monitor::ResourceMetrics;
use crate::azure::resource_graph::{Container, ContainerKind, Resource};
use crate::db::conditions::Observed;
use crate::db::containers::{self, NewContainer};
use crate::db::costs::NewCostRow;
use crate::db::metrics::{MetricState, NewMetric, Stats};
use crate::db::recommendations::AdvisorRow;
use crate::db::resource_costs::NewResourceCost;
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

/// Per-resource costs as `resource_costs` rows, one per (resource, service): rows of one key
/// (a resource id reported in two cases) are summed, as a statement must not name a row twice.
pub fn resource_cost_rows(rows: Vec<ResourceCostRow>) -> Vec<NewResourceCost> {
    let mut by_key: std::collections::BTreeMap<(String, String), NewResourceCost> =
        std::collections::BTreeMap::new();
    for r in rows {
        let key = (r.resource_id.clone(), r.service_name.clone());
        match by_key.get_mut(&key) {
            Some(row) => {
                row.cost += r.cost;
                row.amortized_cost += r.amortized_cost;
            }
            None => {
                by_key.insert(
                    key,
                    NewResourceCost {
                        resource_id: r.resource_id,
                        service_name: r.service_name,
                        resource_group: r.resource_group,
                        cost: r.cost,
                        amortized_cost: r.amortized_cost,
                        currency: r.currency,
                    },
                );
            }
        }
    }
    by_key.into_values().collect()
}

/// Resource Graph's containers as rows.
pub fn container_rows(containers: Vec<Container>) -> Vec<NewContainer> {
    let mut rows: Vec<NewContainer> = containers
        .into_iter()
        .map(|c| NewContainer {
            container_id: c.id,
            kind: match c.kind {
                ContainerKind::Subscription => containers::ContainerKind::Subscription,
                ContainerKind::ResourceGroup => containers::ContainerKind::ResourceGroup,
            },
            resource_group: c.resource_group,
            name: c.name,
            tags: c.tags,
        })
        .collect();
    rows.sort_by(|a, b| a.container_id.cmp(&b.container_id));
    rows.dedup_by(|a, b| a.container_id == b.container_id);
    rows
}

/// What a resource's metric failure is stored as: a code, not Azure's text (which the API may
/// one day show to the tenant's readers, and which can name hosts and request ids).
pub const METRIC_FAILED: &str = "azure_metric_unavailable";

/// Monitor's series as `resource_metrics` rows, one per (resource, metric), each with its state:
/// statistics, no data (Azure answered without values), or failed.
pub fn metric_rows(metrics: &[ResourceMetrics]) -> Vec<NewMetric> {
    let mut rows: Vec<NewMetric> = metrics
        .iter()
        .flat_map(|m| {
            m.series.iter().map(move |s| {
                let state = match (&s.stats, s.failed) {
                    (_, true) => MetricState::Failed,
                    (Some(_), false) => MetricState::Data,
                    (None, false) => MetricState::NoData,
                };
                let stats = s.stats.as_ref().filter(|_| !s.failed).map(|st| Stats {
                    avg: st.avg,
                    max: st.max,
                    min: st.min,
                    p95: st.p95,
                    samples: i32::try_from(st.samples).unwrap_or(i32::MAX),
                });
                NewMetric {
                    resource_id: m.resource_id.clone(),
                    metric: s.metric.clone(),
                    namespace: m.namespace.to_owned(),
                    window_start: m.window_start,
                    window_end: m.window_end,
                    unit: s.unit.clone(),
                    state,
                    stats,
                    error: s.failed.then(|| METRIC_FAILED.to_owned()),
                }
            })
        })
        .collect();
    rows.sort_by(|a, b| (&a.resource_id, &a.metric).cmp(&(&b.resource_id, &b.metric)));
    rows.dedup_by(|a, b| a.resource_id == b.resource_id && a.metric == b.metric);
    rows
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
