//! What a metrics request asks for: metric names of a namespace, the time window, interval
//! and aggregations, with the validation errors Azure Monitor answers.

use chrono::{DateTime, Duration, Utc};

use super::super::arm::ArmRequest;
use super::super::metrics::{MAX_POINTS, MetricDef, Namespace, Window};
use super::{RETENTION_DAYS, seconds};

/// The metric names, window and interval of a request.
pub(super) struct MetricsQuery {
    pub(super) names: Vec<MetricDef>,
    pub(super) window: Window,
    pub(super) interval: String,
}

impl MetricsQuery {
    pub(super) fn parse(
        request: &ArmRequest,
        namespace: &Namespace,
        names: &str,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Self, String> {
        let interval = request.param("interval").unwrap_or("PT1M");
        Ok(Self {
            names: metric_names(namespace, names)?,
            window: window(start, end, interval, request.param("aggregation"))?,
            interval: interval.to_ascii_uppercase(),
        })
    }
}

fn metric_names(namespace: &Namespace, csv: &str) -> Result<Vec<MetricDef>, String> {
    csv.split(',')
        .map(|name| {
            namespace.metric(name).ok_or_else(|| {
                let valid: Vec<&str> = namespace.metrics.iter().map(|m| m.name).collect();
                let (provider, kind) = namespace.provider_and_type();
                format!(
                    "Failed to find metric configuration for provider: {provider}, resource Type: {kind}, metric: {}, Valid metrics: {}",
                    name.trim(),
                    valid.join(",")
                )
            })
        })
        .collect()
}

fn window(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    interval: &str,
    aggregation: Option<&str>,
) -> Result<Window, String> {
    if end <= start {
        return Err("The end time must be after the start time.".into());
    }
    if start < Utc::now() - Duration::days(RETENTION_DAYS) {
        return Err(format!(
            "Query startTime: {} is out of the Max metrics retention period: {RETENTION_DAYS}.00:00:00",
            seconds(start)
        ));
    }
    let grain = if interval.eq_ignore_ascii_case("FULL") {
        end - start
    } else {
        iso_duration(interval)?
    };
    let aggregations: Vec<String> = aggregation
        .unwrap_or("average")
        .split(',')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    if let Some(bad) = aggregations
        .iter()
        .find(|a| !["average", "minimum", "maximum", "total", "count"].contains(&a.as_str()))
    {
        return Err(format!("Unknown aggregation '{bad}'."));
    }
    let window = Window {
        start,
        end,
        grain,
        aggregations,
    };
    if window.point_count() > MAX_POINTS {
        return Err(format!(
            "The request asks for more than {MAX_POINTS} points per series; use a larger interval."
        ));
    }
    Ok(window)
}

pub(super) fn timespan(span: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    match span.split_once('/') {
        Some((start, end)) => Ok((parse_time(start)?, parse_time(end)?)),
        None => {
            let now = Utc::now();
            Ok((now - iso_duration(span)?, now))
        }
    }
}

pub(super) fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("'{s}' is not an ISO 8601 date-time."))
}

/// An ISO 8601 duration such as `PT1H`, `PT15M` or `P1D` (at least one minute).
fn iso_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("'{s}' is not a supported ISO 8601 duration.");
    let upper = s.trim().to_ascii_uppercase();
    let rest = upper.strip_prefix('P').ok_or_else(bad)?;
    let (days, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = Duration::zero();
    for (part, units) in [
        (days, &[('D', 86_400)][..]),
        (time, &[('H', 3_600), ('M', 60), ('S', 1)][..]),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let seconds = units
                .iter()
                .find(|(u, _)| *u == c)
                .map(|(_, s)| *s)
                .ok_or_else(bad)?;
            let n: i64 = number.parse().map_err(|_| bad())?;
            total += Duration::seconds(n * seconds);
            number.clear();
        }
    }
    if total < Duration::minutes(1) {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations_parse() {
        assert_eq!(iso_duration("PT1H"), Ok(Duration::hours(1)));
        assert_eq!(iso_duration("pt15m"), Ok(Duration::minutes(15)));
        assert_eq!(iso_duration("P1DT12H"), Ok(Duration::hours(36)));
        assert!(iso_duration("PT10S").is_err());
        assert!(iso_duration("1H").is_err());
    }
}
