//! The metrics model: deterministic hourly values per resource and metric ([`series`]), in
//! the namespaces of [`namespaces`], shaped into Azure Monitor's `Metric` objects. Points of
//! hours without data (a deallocated VM, a detached disk, or the future) carry only their
//! timestamp, as Azure Monitor returns them.

pub mod namespaces;
pub mod series;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use super::estate::{Estate, Resource};
use super::rng::{hash_str, hash2, unit};

pub use namespaces::{MetricDef, NAMESPACES, Namespace};

/// What a request asks for.
#[derive(Debug, Clone)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub grain: Duration,
    pub aggregations: Vec<String>,
}

/// Bound on points per series, against requests that would build huge bodies.
pub const MAX_POINTS: i64 = 50_000;

impl Window {
    /// The point timestamps: aligned to the grain, from `start` (rounded down) to before `end`.
    pub fn points(&self) -> Vec<DateTime<Utc>> {
        let grain = self.grain.num_seconds().max(60);
        let first = self.start.timestamp().div_euclid(grain) * grain;
        (0..)
            .map(|i| first + i * grain)
            .take_while(|t| *t < self.end.timestamp())
            .filter_map(|t| DateTime::from_timestamp(t, 0))
            .collect()
    }

    /// Number of points, to check [`MAX_POINTS`] before building them.
    pub fn point_count(&self) -> i64 {
        (self.end - self.start).num_seconds() / self.grain.num_seconds().max(60) + 1
    }
}

/// Whether the metric of this resource comes back with an error code (a configured fraction).
pub fn injected_error(r: &Resource, metric: &MetricDef, rate: f64) -> bool {
    unit(hash2(r.hash, hash_str(metric.name))) < rate
}

/// One `Metric` object of Azure Monitor's answers, serialized as is (a typed value rather than
/// a `serde_json::Value` tree: a batch answer holds tens of thousands of points).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricObject {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    name: LocalizedName,
    display_description: &'static str,
    unit: &'static str,
    timeseries: Vec<TimeSeries>,
    error_code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalizedName {
    value: &'static str,
    localized_value: &'static str,
}

#[derive(Debug, Clone, Serialize)]
struct TimeSeries {
    metadatavalues: [(); 0],
    data: Vec<Point>,
}

/// One point: its timestamp, and the requested aggregations when the hour has data.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Point {
    time_stamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    average: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<f64>,
}

/// One `Metric` object of a known resource.
pub fn metric_json(
    estate: &Estate,
    r: &Resource,
    metric: &MetricDef,
    window: &Window,
    error_rate: f64,
) -> MetricObject {
    if injected_error(r, metric, error_rate) {
        return metric_shell(
            &r.id,
            metric,
            "InternalServerError",
            Some("Simulated failure reading this metric."),
        );
    }
    let now = Utc::now();
    let minutes = window.grain.num_minutes().max(1) as f64;
    let wants = |name: &str| window.aggregations.iter().any(|a| a == name);
    let (average, minimum, maximum, total, count) = (
        wants("average"),
        wants("minimum"),
        wants("maximum"),
        wants("total"),
        wants("count"),
    );
    let data: Vec<Point> = window
        .points()
        .into_iter()
        .map(|t| {
            let values = aggregate(estate, r, metric, t, window.grain).filter(|_| t <= now);
            let pick =
                |wanted: bool, f: fn((f64, f64, f64)) -> f64| values.filter(|_| wanted).map(f);
            Point {
                time_stamp: t.to_rfc3339_opts(SecondsFormat::Secs, true),
                average: pick(average, |(avg, _, _)| avg),
                minimum: pick(minimum, |(_, min, _)| min),
                maximum: pick(maximum, |(_, _, max)| max),
                total: values.filter(|_| total).map(|(avg, _, _)| avg * minutes),
                count: values.filter(|_| count).map(|_| minutes),
            }
        })
        .collect();
    let mut object = metric_shell(&r.id, metric, "Success", None);
    object.timeseries = vec![TimeSeries {
        metadatavalues: [],
        data,
    }];
    object
}

/// A `Metric` object with the given error code and no series.
pub fn metric_shell(
    resource_id: &str,
    metric: &MetricDef,
    code: &'static str,
    message: Option<&str>,
) -> MetricObject {
    MetricObject {
        id: format!(
            "{resource_id}/providers/Microsoft.Insights/metrics/{}",
            metric.name
        ),
        kind: "Microsoft.Insights/metrics",
        name: LocalizedName {
            value: metric.name,
            localized_value: metric.name,
        },
        display_description: metric.description,
        unit: metric.unit,
        timeseries: Vec::new(),
        error_code: code,
        error_message: message.map(str::to_owned),
    }
}

/// `(average, minimum, maximum)` over one point of `grain` starting at `t`; `None` without data.
fn aggregate(
    estate: &Estate,
    r: &Resource,
    metric: &MetricDef,
    t: DateTime<Utc>,
    grain: Duration,
) -> Option<(f64, f64, f64)> {
    let hour = t.timestamp().div_euclid(3600);
    if grain < Duration::hours(1) {
        let (avg, min, max) = series::hourly(estate, r, metric, hour)?;
        // Sub-hour points wobble around their hour's average, within its range.
        let wobble = unit(hash2(r.hash, t.timestamp() as u64)) - 0.5;
        let avg = (avg + wobble * (max - min) * 0.1).clamp(min, max);
        return Some((avg, min.max(avg * 0.9), max.min(avg * 1.1).max(avg)));
    }
    let values: Vec<(f64, f64, f64)> = (hour..hour + grain.num_hours().max(1))
        .filter_map(|h| series::hourly(estate, r, metric, h))
        .collect();
    if values.is_empty() {
        return None;
    }
    let avg = values.iter().map(|v| v.0).sum::<f64>() / values.len() as f64;
    let min = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
    let max = values.iter().map(|v| v.2).fold(f64::NEG_INFINITY, f64::max);
    Some((round3(avg), round3(min), round3(max)))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
