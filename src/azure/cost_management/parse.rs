//! Reading a Cost Management `QueryResult`: columns are found **by name** (never by
//! position), dates may be a `YYYYMMDD` number, a `YYYY-MM-DD` string or an ISO date-time,
//! amounts become decimals (the shortest text of Azure's doubles).

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;

/// One page of a query's answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct QueryResult {
    #[serde(default)]
    pub properties: Option<QueryProperties>,
    /// The spec declares a top-level `nextLink`; the examples put it in `properties`.
    #[serde(rename = "nextLink", default)]
    pub next_link: Option<String>,
}

/// `properties` of a [`QueryResult`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct QueryProperties {
    #[serde(rename = "nextLink", default)]
    pub next_link: Option<String>,
    #[serde(default)]
    pub columns: Vec<QueryColumn>,
    #[serde(default)]
    pub rows: Vec<Vec<Value>>,
}

/// A column's name and type (`Number` or `String`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueryColumn {
    pub name: String,
    #[serde(rename = "type", default)]
    pub column_type: Option<String>,
}

impl QueryResult {
    /// The next page's URL (`properties.nextLink`, else the top-level one), if any.
    pub fn next_link(&self) -> Option<String> {
        self.properties
            .as_ref()
            .and_then(|p| p.next_link.clone())
            .or_else(|| self.next_link.clone())
            .filter(|link| !link.trim().is_empty())
    }
}

/// One row of one cost type, before actual and amortized are merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostEntry {
    pub date: NaiveDate,
    /// Lower-cased (Cost Management returns a group in more than one case).
    pub resource_group: String,
    pub service_name: String,
    /// The `MeterCategory` column when the answer has one, else the service name.
    pub meter_category: String,
    pub cost: Decimal,
    pub currency: String,
}

/// Why a page could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("no cost column (Cost, PreTaxCost, CostUSD or PreTaxCostUSD)")]
    NoCostColumn,
    /// The answer lacks a column the query grouped by (e.g. `ResourceId`).
    #[error("no {column} column")]
    MissingColumn { column: &'static str },
    #[error("row {row}: {column} is not {expected}")]
    Cell {
        row: usize,
        column: &'static str,
        expected: &'static str,
    },
}

/// Accepted names of each column, in order of preference (compared case-insensitively).
pub(super) const COST: [&str; 5] = [
    "Cost",
    "PreTaxCost",
    "CostUSD",
    "PreTaxCostUSD",
    "totalCost",
];
const RESOURCE_GROUP: [&str; 2] = ["ResourceGroupName", "ResourceGroup"];
pub(super) const SERVICE: [&str; 1] = ["ServiceName"];
const METER_CATEGORY: [&str; 1] = ["MeterCategory"];
const DATE: [&str; 1] = ["UsageDate"];
pub(super) const CURRENCY: [&str; 3] = ["Currency", "BillingCurrency", "BillingCurrencyCode"];

/// Where each column is in this answer.
struct Layout {
    cost: usize,
    cost_is_usd: bool,
    resource_group: Option<usize>,
    service: Option<usize>,
    meter_category: Option<usize>,
    date: Option<usize>,
    currency: Option<usize>,
}

/// The position of the first of `names` (in order of preference, case-insensitively) among
/// `columns`.
pub(super) fn find_column(columns: &[QueryColumn], names: &[&str]) -> Option<usize> {
    names.iter().find_map(|name| {
        columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    })
}

impl Layout {
    fn of(columns: &[QueryColumn]) -> Result<Self, ParseError> {
        let find = |names: &[&str]| find_column(columns, names);
        let cost = find(&COST).ok_or(ParseError::NoCostColumn)?;
        Ok(Self {
            cost,
            cost_is_usd: columns[cost].name.to_ascii_uppercase().ends_with("USD"),
            resource_group: find(&RESOURCE_GROUP),
            service: find(&SERVICE),
            meter_category: find(&METER_CATEGORY),
            date: find(&DATE),
            currency: find(&CURRENCY),
        })
    }
}

/// The rows of one page. Rows carry their `UsageDate`; an answer without that column (a
/// query without daily granularity) is dated `fallback_date`. Missing dimension columns read
/// as empty strings.
pub fn parse_rows(
    result: &QueryResult,
    fallback_date: NaiveDate,
) -> Result<Vec<CostEntry>, ParseError> {
    let Some(properties) = &result.properties else {
        return Ok(Vec::new());
    };
    if properties.rows.is_empty() {
        return Ok(Vec::new());
    }
    let layout = Layout::of(&properties.columns)?;
    properties
        .rows
        .iter()
        .enumerate()
        .map(|(index, row)| parse_row(&layout, index, row, fallback_date))
        .collect()
}

fn parse_row(
    layout: &Layout,
    row: usize,
    cells: &[Value],
    fallback_date: NaiveDate,
) -> Result<CostEntry, ParseError> {
    let cell = |index: Option<usize>| index.and_then(|i| cells.get(i)).unwrap_or(&Value::Null);
    let bad = |column, expected| ParseError::Cell {
        row,
        column,
        expected,
    };
    let cost = parse_amount(cell(Some(layout.cost))).ok_or_else(|| bad("cost", "a number"))?;
    let date = match layout.date {
        Some(_) => parse_usage_date(cell(layout.date)).ok_or_else(|| bad("UsageDate", "a date"))?,
        None => fallback_date,
    };
    let service_name = text(cell(layout.service));
    let meter_category = match layout.meter_category {
        Some(_) => text(cell(layout.meter_category)),
        None => service_name.clone(),
    };
    let currency = match (layout.currency, layout.cost_is_usd) {
        (Some(_), _) => text(cell(layout.currency)),
        (None, true) => "USD".to_owned(),
        (None, false) => String::new(),
    };
    Ok(CostEntry {
        date,
        resource_group: text(cell(layout.resource_group)).to_lowercase(),
        service_name,
        meter_category,
        cost,
        currency,
    })
}

pub(super) fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A `UsageDate`: the number `20240517`, or a string `"2024-05-17"`, `"20240517"`,
/// `"2024-05-17T00:00:00"` or an RFC 3339 date-time. `None` for anything else.
pub fn parse_usage_date(value: &Value) -> Option<NaiveDate> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                    .map(|f| f as u64)
            })
            .and_then(yyyymmdd),
        Value::String(s) => parse_date_text(s.trim()),
        _ => None,
    }
}

fn yyyymmdd(n: u64) -> Option<NaiveDate> {
    let year = i32::try_from(n / 10_000).ok()?;
    let month = u32::try_from(n / 100 % 100).ok()?;
    let day = u32::try_from(n % 100).ok()?;
    (n >= 10_000_000).then_some(())?;
    NaiveDate::from_ymd_opt(year, month, day)
}

fn parse_date_text(s: &str) -> Option<NaiveDate> {
    if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().and_then(yyyymmdd);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|d| d.date_naive()))
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|d| d.date())
        })
}

/// An amount as a decimal: a JSON number (a double in Azure) becomes the shortest decimal
/// that round-trips it (`2.10333307059661` stays that, not `2.1033330705966099…`; a
/// 17-digit literal becomes its 16-digit equivalent), a string is read as written; null is
/// zero.
pub fn parse_amount(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => decimal(&n.to_string()),
        Value::String(s) => decimal(s.trim()),
        Value::Null => Some(Decimal::ZERO),
        _ => None,
    }
}

/// A decimal from its text, plain (`12.5`) or scientific (`1.2e-5`).
pub fn decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str(text)
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn usage_dates_are_read_from_numbers_strings_and_date_times() {
        assert_eq!(parse_usage_date(&json!(20240517)), Some(day(2024, 5, 17)));
        assert_eq!(parse_usage_date(&json!(20240517.0)), Some(day(2024, 5, 17)));
        assert_eq!(
            parse_usage_date(&json!("2024-05-17")),
            Some(day(2024, 5, 17))
        );
        assert_eq!(parse_usage_date(&json!("20240517")), Some(day(2024, 5, 17)));
        assert_eq!(
            parse_usage_date(&json!("2024-05-17T00:00:00")),
            Some(day(2024, 5, 17))
        );
        assert_eq!(
            parse_usage_date(&json!("2024-05-17T00:00:00Z")),
            Some(day(2024, 5, 17))
        );
        assert_eq!(
            parse_usage_date(&json!("2024-05-17T00:00:00.000+00:00")),
            Some(day(2024, 5, 17))
        );
    }

    #[test]
    fn garbage_dates_are_refused() {
        for garbage in [
            json!("yesterday"),
            json!(20241341),
            json!(2024),
            json!(-20240517),
            json!(null),
            json!(true),
            json!("2024-02-30"),
        ] {
            assert_eq!(parse_usage_date(&garbage), None, "{garbage}");
        }
    }

    #[test]
    fn amounts_are_exact_decimals() {
        assert_eq!(
            parse_amount(&json!(2.10333307059661)),
            Some(Decimal::from_str("2.10333307059661").unwrap())
        );
        assert_eq!(parse_amount(&json!("12.50")), Some(Decimal::new(1250, 2)));
        assert_eq!(parse_amount(&json!(1e-5)), Some(Decimal::new(1, 5)));
        assert_eq!(parse_amount(&json!(null)), Some(Decimal::ZERO));
        assert_eq!(parse_amount(&json!("n/a")), None);
    }

    #[test]
    fn columns_are_mapped_by_name_in_any_order() {
        let result: QueryResult = serde_json::from_value(json!({"properties": {
            "columns": [{"name": "Currency"}, {"name": "UsageDate"}, {"name": "ServiceName"},
                        {"name": "ResourceGroupName"}, {"name": "Cost"}],
            "rows": [["EUR", 20240501, "Storage", "RG-A", 1.5]]}}))
        .unwrap();
        let rows = parse_rows(&result, day(2000, 1, 1)).unwrap();
        assert_eq!(
            rows,
            vec![CostEntry {
                date: day(2024, 5, 1),
                resource_group: "rg-a".into(),
                service_name: "Storage".into(),
                meter_category: "Storage".into(),
                cost: Decimal::new(15, 1),
                currency: "EUR".into(),
            }]
        );
    }

    #[test]
    fn a_meter_category_column_wins_and_usd_costs_default_their_currency() {
        let result: QueryResult = serde_json::from_value(json!({"properties": {
            "columns": [{"name": "CostUSD"}, {"name": "ServiceName"}, {"name": "MeterCategory"}],
            "rows": [[3, "Virtual Machines Licenses", "Virtual Machines"]]}}))
        .unwrap();
        let rows = parse_rows(&result, day(2024, 1, 9)).unwrap();
        assert_eq!(rows[0].meter_category, "Virtual Machines");
        assert_eq!(rows[0].currency, "USD");
        assert_eq!(rows[0].date, day(2024, 1, 9));
    }

    #[test]
    fn a_bad_cell_names_its_row_and_column_and_no_cost_column_is_an_error() {
        let result: QueryResult = serde_json::from_value(json!({"properties": {
            "columns": [{"name": "Cost"}, {"name": "UsageDate"}],
            "rows": [[1, 20240101], [2, "soon"]]}}))
        .unwrap();
        let err = parse_rows(&result, day(2024, 1, 1)).unwrap_err();
        assert_eq!(
            err,
            ParseError::Cell {
                row: 1,
                column: "UsageDate",
                expected: "a date"
            }
        );
        let result: QueryResult = serde_json::from_value(json!({"properties": {
            "columns": [{"name": "Quantity"}], "rows": [[1]]}}))
        .unwrap();
        assert_eq!(
            parse_rows(&result, day(2024, 1, 1)),
            Err(ParseError::NoCostColumn)
        );
    }

    #[test]
    fn the_next_link_is_read_from_properties_or_the_top_level() {
        let inner: QueryResult =
            serde_json::from_value(json!({"properties": {"nextLink": "a"}})).unwrap();
        assert_eq!(inner.next_link().as_deref(), Some("a"));
        let outer: QueryResult =
            serde_json::from_value(json!({"nextLink": "b", "properties": {"nextLink": null}}))
                .unwrap();
        assert_eq!(outer.next_link().as_deref(), Some("b"));
        assert_eq!(QueryResult::default().next_link(), None);
    }
}
