//! The Cost Management queries AzCops sends: cost type, the custom time period (whole UTC
//! days), daily granularity (or none, for the per-resource totals), the `Cost` sum and the two
//! groupings, plus the query's price in query units (one per calendar month the period
//! touches), and the date ranges collected.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};

/// The two cost views AzCops stores side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CostType {
    /// Charges as billed (reservation and savings plan purchases on the purchase day).
    ActualCost,
    /// Purchases spread over their term and onto the resources that used them.
    AmortizedCost,
}

impl CostType {
    /// The value of the query's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ActualCost => "ActualCost",
            Self::AmortizedCost => "AmortizedCost",
        }
    }
}

/// The two grouping dimensions (the API allows at most two). See the module documentation of
/// [`super`] for why the meter category is not a third.
pub const GROUPING: [&str; 2] = ["ResourceGroupName", "ServiceName"];

/// The groupings of the per-resource query ([`super::by_resource`]).
pub const GROUPING_BY_RESOURCE: [&str; 2] = ["ResourceId", "ServiceName"];

/// An inclusive range of UTC days, `from <= to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DateRange {
    /// `from..=to`, or `None` when `to` is before `from`.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Option<Self> {
        (from <= to).then_some(Self { from, to })
    }

    /// The single day before `now` (UTC): the default collection.
    pub fn yesterday(now: DateTime<Utc>) -> Self {
        let day = now.date_naive() - Duration::days(1);
        Self { from: day, to: day }
    }

    /// The 30 complete days that end three days before `now`'s day (UTC): `to` = today − 3,
    /// `from` = `to` − 29. Cost Management restates the most recent days for up to about 72
    /// hours, so a window ending earlier no longer moves.
    pub fn resource_cost_window(now: DateTime<Utc>) -> Self {
        let to = now.date_naive() - Duration::days(3);
        Self {
            from: to - Duration::days(29),
            to,
        }
    }

    /// The days still being restated, D−3..=D−1: what the daily run collects again so that
    /// recent days stop reading low.
    pub fn restated(now: DateTime<Utc>) -> Self {
        let today = now.date_naive();
        Self {
            from: today - Duration::days(3),
            to: today - Duration::days(1),
        }
    }

    /// Number of days in the range.
    pub fn days(self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The range cut at calendar-month boundaries, in order: each part costs one query unit,
    /// so a long backfill never needs more units in one request than the budget allows.
    pub fn months(self) -> Vec<DateRange> {
        let mut parts = Vec::new();
        let mut from = self.from;
        while from <= self.to {
            let to = last_day_of_month(from).min(self.to);
            parts.push(DateRange { from, to });
            match to.succ_opt() {
                Some(next) => from = next,
                None => break,
            }
        }
        parts
    }
}

fn last_day_of_month(day: NaiveDate) -> NaiveDate {
    let (year, month) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|first| first.pred_opt())
        .unwrap_or(NaiveDate::MAX)
}

/// Query units (QPU) a query over `from..=to` costs: one per calendar month it touches
/// (0 when `to` is before `from`).
pub fn query_units(from: NaiveDate, to: NaiveDate) -> u32 {
    let index = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
    let months = index(to) - index(from) + 1;
    u32::try_from(months.max(0)).unwrap_or(u32::MAX)
}

/// The query body (`QueryDefinition`) for `cost_type` over `range`; with `subscription_id`,
/// filtered to that subscription (for billing scopes that span several).
pub fn query_definition(
    cost_type: CostType,
    range: DateRange,
    subscription_id: Option<&str>,
) -> Value {
    definition(cost_type, range, subscription_id, "Daily", GROUPING)
}

/// The per-resource query body: `granularity: None` (one total per group over the whole
/// range), grouped by [`GROUPING_BY_RESOURCE`], otherwise as [`query_definition`].
pub fn query_definition_by_resource(
    cost_type: CostType,
    range: DateRange,
    subscription_id: Option<&str>,
) -> Value {
    definition(
        cost_type,
        range,
        subscription_id,
        "None",
        GROUPING_BY_RESOURCE,
    )
}

/// The daily amortized cost of a few resources: `granularity: Daily`, grouped by
/// [`GROUPING_BY_RESOURCE`], filtered to `resource_ids` (and to `subscription_id` for billing
/// scopes), as the realised savings of changed resources need it.
pub fn query_definition_daily_for_resources(
    range: DateRange,
    subscription_id: Option<&str>,
    resource_ids: &[String],
) -> Value {
    let mut body = definition(
        CostType::AmortizedCost,
        range,
        None,
        "Daily",
        GROUPING_BY_RESOURCE,
    );
    let resources =
        json!({"dimensions": {"name": "ResourceId", "operator": "In", "values": resource_ids}});
    body["dataset"]["filter"] = match subscription_id {
        None => resources,
        Some(sub) => json!({"and": [
            resources,
            {"dimensions": {"name": "SubscriptionId", "operator": "In", "values": [sub]}},
        ]}),
    };
    body
}

fn definition(
    cost_type: CostType,
    range: DateRange,
    subscription_id: Option<&str>,
    granularity: &str,
    grouping: [&str; 2],
) -> Value {
    let mut dataset = json!({
        "granularity": granularity,
        "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}},
        "grouping": grouping.map(|name| json!({"type": "Dimension", "name": name})),
    });
    if let Some(subscription_id) = subscription_id {
        dataset["filter"] = json!({
            "dimensions": {"name": "SubscriptionId", "operator": "In", "values": [subscription_id]}
        });
    }
    json!({
        "type": cost_type.as_str(),
        "timeframe": "Custom",
        "timePeriod": {
            "from": format!("{}T00:00:00Z", range.from.format("%Y-%m-%d")),
            "to": format!("{}T23:59:59Z", range.to.format("%Y-%m-%d")),
        },
        "dataset": dataset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn query_units_count_the_calendar_months_touched() {
        assert_eq!(query_units(day(2024, 5, 3), day(2024, 5, 3)), 1);
        assert_eq!(query_units(day(2024, 5, 1), day(2024, 5, 31)), 1);
        assert_eq!(query_units(day(2024, 5, 31), day(2024, 6, 1)), 2);
        assert_eq!(query_units(day(2023, 12, 15), day(2024, 2, 1)), 3);
        assert_eq!(query_units(day(2023, 1, 1), day(2023, 12, 31)), 12);
        assert_eq!(query_units(day(2024, 6, 1), day(2024, 5, 1)), 0);
    }

    #[test]
    fn yesterday_is_the_previous_utc_day() {
        let now = DateTime::parse_from_rfc3339("2024-03-01T00:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            DateRange::yesterday(now),
            DateRange {
                from: day(2024, 2, 29),
                to: day(2024, 2, 29)
            }
        );
    }

    #[test]
    fn the_resource_cost_window_is_thirty_complete_days_ending_three_days_ago() {
        let now = DateTime::parse_from_rfc3339("2024-03-05T23:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let window = DateRange::resource_cost_window(now);
        assert_eq!(
            window,
            DateRange {
                from: day(2024, 2, 2),
                to: day(2024, 3, 2)
            }
        );
        assert_eq!(window.days(), 30);
        assert_eq!(query_units(window.from, window.to), 2, "February and March");
        let just_after_midnight = DateTime::parse_from_rfc3339("2024-03-06T00:00:01Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            DateRange::resource_cost_window(just_after_midnight).to,
            day(2024, 3, 3)
        );
    }

    #[test]
    fn the_restated_days_are_the_three_before_today() {
        let now = DateTime::parse_from_rfc3339("2024-03-01T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let restated = DateRange::restated(now);
        assert_eq!(
            restated,
            DateRange {
                from: day(2024, 2, 27),
                to: day(2024, 2, 29)
            }
        );
        assert_eq!(restated.days(), 3);
        assert_eq!(
            restated.to,
            DateRange::yesterday(now).to,
            "ends with yesterday"
        );
    }

    #[test]
    fn the_per_resource_query_has_no_granularity_and_groups_by_resource_and_service() {
        let range = DateRange::new(day(2024, 4, 28), day(2024, 5, 27)).unwrap();
        let body = query_definition_by_resource(CostType::ActualCost, range, Some("s1"));
        assert_eq!(body["type"], "ActualCost");
        assert_eq!(body["timePeriod"]["from"], "2024-04-28T00:00:00Z");
        assert_eq!(body["timePeriod"]["to"], "2024-05-27T23:59:59Z");
        assert_eq!(body["dataset"]["granularity"], "None");
        assert_eq!(
            body["dataset"]["grouping"],
            json!([{"type": "Dimension", "name": "ResourceId"}, {"type": "Dimension", "name": "ServiceName"}])
        );
        assert_eq!(body["dataset"]["aggregation"]["totalCost"]["name"], "Cost");
        assert_eq!(
            body["dataset"]["filter"]["dimensions"]["name"],
            "SubscriptionId"
        );
    }

    #[test]
    fn ranges_are_cut_at_month_boundaries() {
        let range = DateRange::new(day(2023, 12, 30), day(2024, 2, 2)).unwrap();
        let parts = range.months();
        assert_eq!(
            parts,
            vec![
                DateRange {
                    from: day(2023, 12, 30),
                    to: day(2023, 12, 31)
                },
                DateRange {
                    from: day(2024, 1, 1),
                    to: day(2024, 1, 31)
                },
                DateRange {
                    from: day(2024, 2, 1),
                    to: day(2024, 2, 2)
                },
            ]
        );
        assert!(parts.iter().all(|p| query_units(p.from, p.to) == 1));
        assert_eq!(DateRange::new(day(2024, 1, 2), day(2024, 1, 1)), None);
    }

    #[test]
    fn the_query_is_custom_daily_summed_and_grouped_twice() {
        let range = DateRange::new(day(2024, 5, 1), day(2024, 5, 2)).unwrap();
        let body = query_definition(CostType::AmortizedCost, range, None);
        assert_eq!(body["type"], "AmortizedCost");
        assert_eq!(body["timeframe"], "Custom");
        assert_eq!(body["timePeriod"]["from"], "2024-05-01T00:00:00Z");
        assert_eq!(body["timePeriod"]["to"], "2024-05-02T23:59:59Z");
        assert_eq!(body["dataset"]["granularity"], "Daily");
        assert_eq!(
            body["dataset"]["aggregation"],
            json!({"totalCost": {"name": "Cost", "function": "Sum"}})
        );
        assert_eq!(
            body["dataset"]["grouping"][0],
            json!({"type": "Dimension", "name": "ResourceGroupName"})
        );
        assert_eq!(body["dataset"]["grouping"][1]["name"], "ServiceName");
        assert!(body["dataset"].get("filter").is_none());
        let filtered = query_definition(CostType::ActualCost, range, Some("s1"));
        assert_eq!(
            filtered["dataset"]["filter"]["dimensions"]["values"],
            json!(["s1"])
        );
    }
}
