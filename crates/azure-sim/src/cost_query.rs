//! Cost Management's `QueryDefinition`: validation (at most two aggregations and two
//! groupings, the documented timeframes) and evaluation over the cost model into the result
//! table (aggregates, grouping dimensions, `UsageDate`, `Currency`).

mod filter;

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::costs::{self, CostLine, CostType};
use super::error::ApiError;
use super::estate::Estate;

pub use filter::Filter;
use filter::{matches, validate_filter};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryDefinition {
    #[serde(rename = "type")]
    cost_type: String,
    timeframe: String,
    time_period: Option<TimePeriod>,
    dataset: Option<Dataset>,
}

#[derive(Debug, Deserialize)]
struct TimePeriod {
    from: String,
    to: String,
}

#[derive(Debug, Default, Deserialize)]
struct Dataset {
    granularity: Option<String>,
    aggregation: Option<BTreeMap<String, Aggregation>>,
    grouping: Option<Vec<Grouping>>,
    filter: Option<Filter>,
}

#[derive(Debug, Deserialize)]
struct Aggregation {
    name: String,
    function: String,
}

#[derive(Debug, Deserialize)]
struct Grouping {
    #[serde(rename = "type")]
    kind: String,
    name: String,
}

/// The dimensions the simulator can group and filter by.
const DIMENSIONS: [&str; 10] = [
    "ResourceGroupName",
    "ResourceGroup",
    "ServiceName",
    "MeterCategory",
    "ResourceId",
    "ResourceType",
    "ResourceLocation",
    "ChargeType",
    "PricingModel",
    "SubscriptionId",
];

/// A validated query.
#[derive(Debug, Clone)]
pub struct CostQuery {
    pub cost_type: CostType,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub daily: bool,
    /// Aggregate column names (`Cost`, `PreTaxCost`, `CostUSD`, `PreTaxCostUSD`).
    pub measures: Vec<String>,
    /// Grouping dimensions, canonical names.
    pub groups: Vec<&'static str>,
    filter: Option<Filter>,
}

/// The result table before paging.
#[derive(Debug, Clone, PartialEq)]
pub struct CostTable {
    pub columns: Vec<(String, &'static str)>,
    pub rows: Vec<Vec<Value>>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(
        "BadRequest",
        format!("Invalid query definition: {}", message.into()),
    )
}

impl CostQuery {
    /// Validates a request body; `today` resolves the relative timeframes.
    pub fn parse(body: &[u8], today: NaiveDate) -> Result<Self, ApiError> {
        let def: QueryDefinition =
            serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
        let cost_type = CostType::parse(&def.cost_type)
            .ok_or_else(|| invalid(format!("unknown type '{}'", def.cost_type)))?;
        let (from, to) = period(&def.timeframe, def.time_period.as_ref(), today)?;
        let dataset = def.dataset.unwrap_or_default();
        let daily = match dataset
            .granularity
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("daily") => true,
            None | Some("none") => false,
            Some(other) => return Err(invalid(format!("granularity '{other}' is not supported"))),
        };
        let default_measure = if cost_type == CostType::Usage {
            "PreTaxCost"
        } else {
            "Cost"
        };
        let measures = measures(dataset.aggregation, default_measure)?;
        let groups = groups(dataset.grouping.unwrap_or_default())?;
        if let Some(filter) = &dataset.filter {
            validate_filter(filter)?;
        }
        Ok(Self {
            cost_type,
            from,
            to,
            daily,
            measures,
            groups,
            filter: dataset.filter,
        })
    }

    /// Query units this query costs: one per calendar month touched.
    pub fn months(&self) -> u32 {
        let index = |d: NaiveDate| d.year() * 12 + d.month() as i32;
        (index(self.to) - index(self.from) + 1).max(1) as u32
    }

    /// Evaluates the query over one subscription. Lines are whole cents, so every grouping of
    /// the same lines adds up to the same amounts.
    pub fn run(&self, estate: &Estate, subscription: Uuid) -> CostTable {
        let mut sums: BTreeMap<(u32, Vec<String>), (i64, i64)> = BTreeMap::new();
        costs::for_each_line(
            estate,
            subscription,
            self.cost_type,
            (self.from, self.to),
            |line| {
                if self
                    .filter
                    .as_ref()
                    .is_none_or(|f| matches(f, &line, subscription))
                {
                    let date = if self.daily { yyyymmdd(line.date) } else { 0 };
                    let key = self
                        .groups
                        .iter()
                        .map(|g| dimension(&line, g, subscription))
                        .collect();
                    let sum = sums.entry((date, key)).or_default();
                    sum.0 += line.cents;
                    sum.1 += line.usd_cents;
                }
            },
        );
        let currency = estate.currency_of(subscription);
        let rows = sums
            .into_iter()
            .map(|((date, groups), (cents, usd_cents))| {
                let mut row: Vec<Value> = self
                    .measures
                    .iter()
                    .map(|m| {
                        let amount = if m.ends_with("USD") { usd_cents } else { cents };
                        Value::from(amount as f64 / 100.0)
                    })
                    .collect();
                row.extend(groups.into_iter().map(Value::from));
                if self.daily {
                    row.push(Value::from(date));
                }
                row.push(Value::from(currency));
                row
            })
            .collect();
        CostTable {
            columns: self.columns(),
            rows,
        }
    }

    fn columns(&self) -> Vec<(String, &'static str)> {
        let mut columns: Vec<(String, &'static str)> = self
            .measures
            .iter()
            .map(|m| (m.clone(), "Number"))
            .collect();
        columns.extend(self.groups.iter().map(|g| ((*g).to_owned(), "String")));
        if self.daily {
            columns.push(("UsageDate".into(), "Number"));
        }
        columns.push(("Currency".into(), "String"));
        columns
    }
}

fn period(
    timeframe: &str,
    custom: Option<&TimePeriod>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let first_of_month = today.with_day(1).unwrap_or(today);
    let (from, to) = match timeframe.to_ascii_lowercase().as_str() {
        "monthtodate" | "billingmonthtodate" => (first_of_month, today),
        "thelastmonth" | "thelastbillingmonth" => {
            let from = first_of_month
                .checked_sub_months(Months::new(1))
                .unwrap_or(first_of_month);
            (from, first_of_month - Duration::days(1))
        }
        "weektodate" => (
            today - Duration::days(i64::from(today.weekday().num_days_from_monday())),
            today,
        ),
        "custom" => {
            let period =
                custom.ok_or_else(|| invalid("timePeriod is required when timeframe is Custom"))?;
            (parse_date(&period.from)?, parse_date(&period.to)?)
        }
        other => return Err(invalid(format!("timeframe '{other}' is not supported"))),
    };
    if to < from {
        return Err(invalid("timePeriod.from must not be after timePeriod.to"));
    }
    if (to - from).num_days() > 366 {
        return Err(invalid(
            "the time period for pulling the data cannot exceed 1 year(s)",
        ));
    }
    Ok((from, to))
}

fn parse_date(s: &str) -> Result<NaiveDate, ApiError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.date_naive())
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").map(|t| t.date()))
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .map_err(|_| invalid(format!("'{s}' is not a valid date-time")))
}

fn measures(
    aggregation: Option<BTreeMap<String, Aggregation>>,
    default: &str,
) -> Result<Vec<String>, ApiError> {
    let Some(aggregation) = aggregation.filter(|a| !a.is_empty()) else {
        return Ok(vec![default.to_owned()]);
    };
    if aggregation.len() > 2 {
        return Err(invalid("the number of aggregations must be at most 2"));
    }
    aggregation
        .into_values()
        .map(|a| {
            if !a.function.eq_ignore_ascii_case("Sum") {
                return Err(invalid(format!(
                    "aggregation function '{}' is not supported",
                    a.function
                )));
            }
            ["Cost", "PreTaxCost", "CostUSD", "PreTaxCostUSD"]
                .into_iter()
                .find(|m| m.eq_ignore_ascii_case(&a.name))
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("aggregation column '{}' is not supported", a.name)))
        })
        .collect()
}

fn groups(grouping: Vec<Grouping>) -> Result<Vec<&'static str>, ApiError> {
    if grouping.len() > 2 {
        return Err(invalid(
            "the number of grouping dimensions must be at most 2",
        ));
    }
    grouping
        .iter()
        .map(|g| {
            if !g.kind.eq_ignore_ascii_case("Dimension") {
                return Err(invalid(format!(
                    "grouping type '{}' is not supported by the simulator",
                    g.kind
                )));
            }
            canonical_dimension(&g.name)
        })
        .collect()
}

fn canonical_dimension(name: &str) -> Result<&'static str, ApiError> {
    DIMENSIONS
        .into_iter()
        .find(|d| d.eq_ignore_ascii_case(name))
        .ok_or_else(|| invalid(format!("dimension '{name}' is not supported")))
}

/// The value of a dimension for a cost line (ids and types lower-case, as Cost Management
/// returns them; reservation purchases have no resource id and no resource group).
fn dimension(line: &CostLine<'_>, name: &str, subscription: Uuid) -> String {
    let r = line.resource;
    let (service, meter) = line.service;
    match name {
        "ResourceGroupName" | "ResourceGroup" if line.purchase => String::new(),
        "ResourceGroupName" | "ResourceGroup" => r.resource_group.clone(),
        "ServiceName" => service.into(),
        "MeterCategory" => meter.into(),
        "ResourceId" if line.purchase => String::new(),
        "ResourceId" => r.id.to_ascii_lowercase(),
        "ResourceType" if line.purchase => "microsoft.capacity/reservationorders".into(),
        "ResourceType" => r.kind().arm_type().to_ascii_lowercase(),
        "ResourceLocation" => r.location.into(),
        "ChargeType" => if line.purchase { "Purchase" } else { "Usage" }.into(),
        "PricingModel" => if line.reserved {
            "Reservation"
        } else {
            "OnDemand"
        }
        .into(),
        _ => subscription.to_string(),
    }
}

fn yyyymmdd(d: NaiveDate) -> u32 {
    d.year() as u32 * 10_000 + d.month() * 100 + d.day()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estate::EstateConfig;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, 15).expect("date")
    }

    #[test]
    fn a_query_without_granularity_has_the_columns_of_the_fixtures() {
        let body = json!({"type": "Usage", "timeframe": "TheLastMonth", "dataset": {"granularity": "None",
            "aggregation": {"totalCost": {"name": "PreTaxCost", "function": "Sum"}},
            "grouping": [{"type": "Dimension", "name": "ResourceGroup"}]}});
        let query = CostQuery::parse(body.to_string().as_bytes(), today()).expect("valid");
        assert_eq!(
            (query.from.to_string(), query.to.to_string()),
            ("2025-02-01".into(), "2025-02-28".into())
        );
        let estate = Estate::generate(&EstateConfig {
            today: Some(today()),
            cost_days: 60,
            ..EstateConfig::default()
        });
        let table = query.run(&estate, estate.subscriptions()[0].id);
        let names: Vec<&str> = table.columns.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["PreTaxCost", "ResourceGroup", "Currency"]);
        let groups: std::collections::HashSet<&Value> = table.rows.iter().map(|r| &r[1]).collect();
        assert_eq!(groups.len(), table.rows.len(), "one row per resource group");
        assert!(table.rows.iter().all(|r| r[0].is_f64() && r[2] == "USD"));
    }

    #[test]
    fn a_custom_period_costs_one_unit_per_month_touched() {
        let body = json!({"type": "ActualCost", "timeframe": "Custom",
            "timePeriod": {"from": "2024-11-20T00:00:00Z", "to": "2025-01-05T23:59:59Z"}});
        let query = CostQuery::parse(body.to_string().as_bytes(), today()).expect("valid");
        assert_eq!(query.months(), 3);
        assert_eq!(query.measures, ["Cost"]);
    }

    #[test]
    fn invalid_definitions_are_refused() {
        let three = json!({"type": "ActualCost", "timeframe": "MonthToDate", "dataset": {"grouping": [
            {"type": "Dimension", "name": "ResourceGroupName"}, {"type": "Dimension", "name": "ServiceName"},
            {"type": "Dimension", "name": "MeterCategory"}]}});
        let custom_without_period = json!({"type": "ActualCost", "timeframe": "Custom"});
        let too_long = json!({"type": "ActualCost", "timeframe": "Custom",
            "timePeriod": {"from": "2023-01-01", "to": "2025-01-01"}});
        for body in [three, custom_without_period, too_long] {
            assert!(
                CostQuery::parse(body.to_string().as_bytes(), today()).is_err(),
                "{body}"
            );
        }
    }
}
