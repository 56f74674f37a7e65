//! The cost of each resource over a window: one Cost Management query per cost type with
//! `granularity: None`, grouped by `ResourceId` and `ServiceName` ([`super::request`]), its
//! pages read by column name and the two views merged by (resource id, service name).
//!
//! Charges that belong to no resource (reservation and savings plan purchases, support,
//! Marketplace items without a resource) come with an empty `ResourceId` and are kept as such:
//! dropping them would make the per-resource totals disagree with the resource-group ×
//! service ones. An answer that has rows but no `ResourceId` column is refused rather than
//! read as resource-less charges.
//!
//! **Query units.** The window is queried whole, not a month at a time: it touches at most
//! two calendar months (30 days), so each page costs two units instead of one, but a resource
//! billed in both months then comes back once instead of twice, so there are fewer pages. The
//! units are charged to the tenant's shared budget for each page, as for the daily costs.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;

use super::parse::{COST, CURRENCY, SERVICE, find_column, parse_amount, text};
use super::{
    CostError, CostScope, CostType, DateRange, ParseError, QueryResult,
    query_definition_by_resource, query_units,
};
use crate::azure::client::{AzureClient, CallContext};
use crate::azure::paging::PostPaging;
use crate::azure::resource_graph::mapper::id_segment;

/// The cost of one service of one resource over a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceCostRow {
    /// The ARM id, lower-cased; empty for charges without a resource (purchases, support,
    /// Marketplace).
    pub resource_id: String,
    /// From the id, lower-cased; empty when the id names none.
    pub resource_group: String,
    pub service_name: String,
    /// ActualCost.
    pub cost: Decimal,
    /// AmortizedCost.
    pub amortized_cost: Decimal,
    /// The billing currency of the amounts (ISO code).
    pub currency: String,
}

/// One row of one cost type, before actual and amortized are merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceCostEntry {
    /// Lower-cased; empty for charges without a resource.
    pub resource_id: String,
    pub service_name: String,
    pub cost: Decimal,
    pub currency: String,
}

const RESOURCE_ID: [&str; 1] = ["ResourceId"];

/// The rows of one page of a per-resource answer, columns found by name.
pub fn parse_resource_rows(result: &QueryResult) -> Result<Vec<ResourceCostEntry>, ParseError> {
    let Some(properties) = &result.properties else {
        return Ok(Vec::new());
    };
    if properties.rows.is_empty() {
        return Ok(Vec::new());
    }
    let columns = &properties.columns;
    let cost = find_column(columns, &COST).ok_or(ParseError::NoCostColumn)?;
    let resource = find_column(columns, &RESOURCE_ID).ok_or(ParseError::MissingColumn {
        column: "ResourceId",
    })?;
    let service = find_column(columns, &SERVICE);
    let currency = find_column(columns, &CURRENCY);
    let cost_is_usd = columns[cost].name.to_ascii_uppercase().ends_with("USD");
    let mut entries = Vec::with_capacity(properties.rows.len());
    for (row, cells) in properties.rows.iter().enumerate() {
        let cell = |index: Option<usize>| index.and_then(|i| cells.get(i)).unwrap_or(&Value::Null);
        let amount = parse_amount(cell(Some(cost))).ok_or(ParseError::Cell {
            row,
            column: "cost",
            expected: "a number",
        })?;
        let currency = match (currency, cost_is_usd) {
            (Some(_), _) => text(cell(currency)),
            (None, true) => "USD".to_owned(),
            (None, false) => String::new(),
        };
        entries.push(ResourceCostEntry {
            resource_id: text(cell(Some(resource))).to_ascii_lowercase(),
            service_name: text(cell(service)),
            cost: amount,
            currency,
        });
    }
    Ok(entries)
}

/// Merges the amortized entries onto the actual ones by (resource id, service name), in key
/// order; entries of one view with the same key are summed, a key of one view only is kept
/// with zero on the other side. The currency is the actual entry's, else the amortized one's.
pub fn merge_by_resource(
    actual: Vec<ResourceCostEntry>,
    amortized: Vec<ResourceCostEntry>,
) -> Vec<ResourceCostRow> {
    let mut rows: BTreeMap<(String, String), ResourceCostRow> = BTreeMap::new();
    let tagged = actual
        .into_iter()
        .map(|e| (e, false))
        .chain(amortized.into_iter().map(|e| (e, true)));
    for (entry, is_amortized) in tagged {
        let key = (entry.resource_id.clone(), entry.service_name.clone());
        let row = rows.entry(key).or_insert_with(|| ResourceCostRow {
            resource_group: id_segment(&entry.resource_id, "resourcegroups").unwrap_or_default(),
            resource_id: entry.resource_id.clone(),
            service_name: entry.service_name.clone(),
            cost: Decimal::ZERO,
            amortized_cost: Decimal::ZERO,
            currency: entry.currency.clone(),
        });
        if row.currency.is_empty() {
            row.currency = entry.currency;
        }
        if is_amortized {
            row.amortized_cost += entry.cost;
        } else {
            row.cost += entry.cost;
        }
    }
    rows.into_values().collect()
}

/// The actual and amortized cost of each resource and service of `scope` over `window`
/// (inclusive UTC days; usually [`DateRange::resource_cost_window`]), every page of both
/// queries, run concurrently.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = ctx.subscription_id.as_deref(), azure.scope = scope.path(), from = %window.from, to = %window.to))]
pub async fn collect_by_resource(
    client: &AzureClient,
    ctx: &CallContext,
    scope: &CostScope,
    window: DateRange,
) -> Result<Vec<ResourceCostRow>, CostError> {
    let (actual, amortized) = futures::try_join!(
        query_by_resource(client, ctx, scope, CostType::ActualCost, window),
        query_by_resource(client, ctx, scope, CostType::AmortizedCost, window),
    )?;
    let rows = merge_by_resource(actual, amortized);
    tracing::debug!(rows = rows.len(), "per-resource costs collected");
    Ok(rows)
}

/// Every row of one cost type of the per-resource query over `window`, all pages.
pub async fn query_by_resource(
    client: &AzureClient,
    ctx: &CallContext,
    scope: &CostScope,
    cost_type: CostType,
    window: DateRange,
) -> Result<Vec<ResourceCostEntry>, CostError> {
    let azure = |source| CostError::Azure { cost_type, source };
    let url = super::query_url(client, scope).map_err(azure)?;
    let body =
        query_definition_by_resource(cost_type, window, scope.subscription_filter.as_deref());
    let units = query_units(window.from, window.to);
    let next: fn(&Option<QueryResult>) -> Option<String> =
        |page| page.as_ref().and_then(QueryResult::next_link);
    let mut pages =
        std::pin::pin!(client.post_pages(ctx, PostPaging::cost_query(units), url, &body, next));
    let mut entries = Vec::new();
    while let Some(page) = pages.try_next().await.map_err(azure)? {
        if let Some(page) = page {
            let rows = parse_resource_rows(&page)
                .map_err(|source| CostError::Parse { cost_type, source })?;
            entries.extend(rows);
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(id: &str, service: &str, cents: i64) -> ResourceCostEntry {
        ResourceCostEntry {
            resource_id: id.into(),
            service_name: service.into(),
            cost: Decimal::new(cents, 2),
            currency: "EUR".into(),
        }
    }

    const VM: &str =
        "/subscriptions/s1/resourcegroups/rg-a/providers/microsoft.compute/virtualmachines/vm1";

    #[test]
    fn rows_are_read_by_column_name_with_ids_lower_cased_and_empty_ids_kept() {
        let page: QueryResult = serde_json::from_value(json!({"properties": {
            "columns": [{"name": "ServiceName", "type": "String"}, {"name": "Currency", "type": "String"},
                        {"name": "ResourceId", "type": "String"}, {"name": "Cost", "type": "Number"}],
            "rows": [["Virtual Machines", "EUR", VM.to_uppercase(), 12.5],
                     ["Reservations", "EUR", "", 300]]}}))
        .unwrap();
        let rows = parse_resource_rows(&page).unwrap();
        assert_eq!(
            rows,
            vec![
                entry(VM, "Virtual Machines", 1250),
                entry("", "Reservations", 30000)
            ]
        );
    }

    #[test]
    fn an_answer_with_rows_but_no_resource_id_column_is_refused() {
        let page: QueryResult = serde_json::from_value(json!({"properties": {
            "columns": [{"name": "Cost"}, {"name": "ServiceName"}], "rows": [[1, "Storage"]]}}))
        .unwrap();
        assert_eq!(
            parse_resource_rows(&page),
            Err(ParseError::MissingColumn {
                column: "ResourceId"
            })
        );
        let empty: QueryResult =
            serde_json::from_value(json!({"properties": {"columns": [], "rows": []}})).unwrap();
        assert_eq!(parse_resource_rows(&empty), Ok(vec![]));
    }

    #[test]
    fn the_views_merge_by_resource_and_service_keeping_one_sided_rows() {
        let rows = merge_by_resource(
            vec![
                entry(VM, "Virtual Machines", 1000),
                entry("", "Reservations", 50000),
                entry(VM, "Virtual Machines", 5),
            ],
            vec![
                entry(VM, "Virtual Machines", 1400),
                entry(VM, "Bandwidth", 7),
            ],
        );
        let got: Vec<(&str, &str, &str, Decimal, Decimal)> = rows
            .iter()
            .map(|r| {
                (
                    r.resource_id.as_str(),
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
                ("", "", "Reservations", Decimal::new(500, 0), Decimal::ZERO),
                (VM, "rg-a", "Bandwidth", Decimal::ZERO, Decimal::new(7, 2)),
                (
                    VM,
                    "rg-a",
                    "Virtual Machines",
                    Decimal::new(1005, 2),
                    Decimal::new(1400, 2)
                ),
            ]
        );
        assert!(rows.iter().all(|r| r.currency == "EUR"));
    }

    #[test]
    fn a_subscription_level_resource_has_no_resource_group() {
        let id = "/subscriptions/s1/providers/microsoft.security/pricings/virtualmachines";
        let rows = merge_by_resource(vec![entry(id, "Microsoft Defender for Cloud", 1)], vec![]);
        assert_eq!(rows[0].resource_group, "");
    }
}
