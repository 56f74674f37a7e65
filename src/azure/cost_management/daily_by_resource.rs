//! The daily amortized cost of named resources: one `granularity: Daily` query grouped by
//! `ResourceId` and `ServiceName` and filtered to the resources, a calendar month and at most
//! [`IDS_PER_QUERY`] resources at a time, every page; the services of a resource and day are
//! summed. Days without a row cost nothing (Cost Management leaves empty groups out).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use futures::TryStreamExt;
use rust_decimal::Decimal;
use serde_json::Value;

use super::parse::{COST, CURRENCY, find_column, parse_amount, parse_usage_date, text};
use super::{
    CostError, CostScope, CostType, DateRange, ParseError, QueryResult,
    query_definition_daily_for_resources, query_units,
};
use crate::azure::client::{AzureClient, CallContext};
use crate::azure::paging::PostPaging;

/// Resources named in one query's filter.
pub const IDS_PER_QUERY: usize = 100;

const DATE: [&str; 1] = ["UsageDate"];
const RESOURCE_ID: [&str; 1] = ["ResourceId"];

/// One resource's amortized cost on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDailyCost {
    /// Lower-cased ARM id.
    pub resource_id: String,
    pub date: NaiveDate,
    pub amortized_cost: Decimal,
    pub currency: String,
}

/// The rows of one page, columns found by name.
pub fn parse_daily_resource_rows(
    result: &QueryResult,
) -> Result<Vec<ResourceDailyCost>, ParseError> {
    let Some(properties) = result.properties.as_ref().filter(|p| !p.rows.is_empty()) else {
        return Ok(Vec::new());
    };
    let columns = &properties.columns;
    let cost = find_column(columns, &COST).ok_or(ParseError::NoCostColumn)?;
    let missing = |column| ParseError::MissingColumn { column };
    let date = find_column(columns, &DATE).ok_or(missing("UsageDate"))?;
    let resource = find_column(columns, &RESOURCE_ID).ok_or(missing("ResourceId"))?;
    let currency = find_column(columns, &CURRENCY);
    let mut rows = Vec::with_capacity(properties.rows.len());
    for (row, cells) in properties.rows.iter().enumerate() {
        let cell = |index: Option<usize>| index.and_then(|i| cells.get(i)).unwrap_or(&Value::Null);
        let bad = |column, expected| ParseError::Cell {
            row,
            column,
            expected,
        };
        rows.push(ResourceDailyCost {
            resource_id: text(cell(Some(resource))).to_ascii_lowercase(),
            date: parse_usage_date(cell(Some(date))).ok_or(bad("UsageDate", "a date"))?,
            amortized_cost: parse_amount(cell(Some(cost))).ok_or(bad("cost", "a number"))?,
            currency: text(cell(currency)),
        });
    }
    Ok(rows)
}

/// The daily amortized cost of `resource_ids` (lower-cased ARM ids) over `range`, one row per
/// resource and day that cost something.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = ctx.subscription_id.as_deref(), from = %range.from, to = %range.to, resources = resource_ids.len()))]
pub async fn collect_daily_for_resources(
    client: &AzureClient,
    ctx: &CallContext,
    scope: &CostScope,
    range: DateRange,
    resource_ids: &[String],
) -> Result<Vec<ResourceDailyCost>, CostError> {
    let mut days: BTreeMap<(String, NaiveDate), ResourceDailyCost> = BTreeMap::new();
    for month in range.months() {
        for ids in resource_ids.chunks(IDS_PER_QUERY) {
            for row in query(client, ctx, scope, month, ids).await? {
                let key = (row.resource_id.clone(), row.date);
                match days.get_mut(&key) {
                    Some(day) => day.amortized_cost += row.amortized_cost,
                    None => {
                        days.insert(key, row);
                    }
                }
            }
        }
    }
    Ok(days.into_values().collect())
}

async fn query(
    client: &AzureClient,
    ctx: &CallContext,
    scope: &CostScope,
    month: DateRange,
    ids: &[String],
) -> Result<Vec<ResourceDailyCost>, CostError> {
    let cost_type = CostType::AmortizedCost;
    let azure = |source| CostError::Azure { cost_type, source };
    let url = super::query_url(client, scope).map_err(azure)?;
    let body =
        query_definition_daily_for_resources(month, scope.subscription_filter.as_deref(), ids);
    let units = query_units(month.from, month.to);
    let next: fn(&Option<QueryResult>) -> Option<String> =
        |page| page.as_ref().and_then(QueryResult::next_link);
    let mut pages =
        std::pin::pin!(client.post_pages(ctx, PostPaging::cost_query(units), url, &body, next));
    let mut rows = Vec::new();
    while let Some(page) = pages.try_next().await.map_err(azure)? {
        if let Some(page) = page {
            rows.extend(
                parse_daily_resource_rows(&page)
                    .map_err(|source| CostError::Parse { cost_type, source })?,
            );
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_are_read_by_column_name_and_ids_lower_cased() {
        let page: QueryResult = serde_json::from_value(json!({"properties": {
            "nextLink": null,
            "columns": [
                {"name": "Cost", "type": "Number"}, {"name": "UsageDate", "type": "Number"},
                {"name": "ResourceId", "type": "String"}, {"name": "ServiceName", "type": "String"},
                {"name": "Currency", "type": "String"}],
            "rows": [[1.25, 20261101, "/SUBSCRIPTIONS/S/resourceGroups/RG/providers/Microsoft.Compute/disks/D", "Storage", "EUR"]]
        }}))
        .unwrap();
        let rows = parse_daily_resource_rows(&page).unwrap();
        assert_eq!(
            rows,
            [ResourceDailyCost {
                resource_id:
                    "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/disks/d".into(),
                date: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
                amortized_cost: Decimal::new(125, 2),
                currency: "EUR".into(),
            }]
        );
        let no_date: QueryResult = serde_json::from_value(json!({"properties": {
            "columns": [{"name": "Cost", "type": "Number"}, {"name": "ResourceId", "type": "String"}],
            "rows": [[1, "/x"]]
        }}))
        .unwrap();
        assert!(parse_daily_resource_rows(&no_date).is_err());
    }

    #[test]
    fn the_query_names_the_resources_and_the_subscription_of_a_billing_scope() {
        let range = DateRange {
            from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        };
        let ids = ["/a".to_owned()];
        let plain = query_definition_daily_for_resources(range, None, &ids);
        assert_eq!(plain["type"], "AmortizedCost");
        assert_eq!(plain["dataset"]["granularity"], "Daily");
        assert_eq!(
            plain["dataset"]["filter"]["dimensions"]["values"],
            json!(["/a"])
        );
        let billing = query_definition_daily_for_resources(range, Some("s1"), &ids);
        assert_eq!(
            billing["dataset"]["filter"]["and"][1]["dimensions"]["values"],
            json!(["s1"])
        );
    }
}
