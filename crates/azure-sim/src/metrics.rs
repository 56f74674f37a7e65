//! The metrics model: deterministic hourly values per resource and metric ([`series`]), in
//! the namespaces of [`namespaces`], shaped into Azure Monitor's `Metric` objects. Points of
//! hours without data (a deallocated VM, a detached disk, or the future) carry only their
//! timestamp, as Azure Monitor returns them.

pub mod namespaces;
pub mod series;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

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

/// One `Metric` object of a known resource.
pub fn metric_json(
    estate: &Estate,
    r: &Resource,
    metric: &MetricDef,
    window: &Window,
    error_rate: f64,
) -> Value {
    if injected_error(r, metric, error_rate) {
        return metric_shell(
            &r.id,
            metric,
            "InternalServerError",
            Some("Simulated failure reading this metric."),
            Vec::new(),
        );
    }
    let now = Utc::now();
    let minutes = window.grain.num_minutes().max(1) as f64;
    let data: Vec<Value> = window
        .points()
        .into_iter()
        .map(|t| {
            let mut point = Map::new();
            point.insert(
                "timeStamp".into(),
                json!(t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            );
            if let Some((avg, min, max)) =
                aggregate(estate, r, metric, t, window.grain).filter(|_| t <= now)
            {
                for a in &window.aggregations {
                    let value = match a.as_str() {
                        "average" => avg,
                        "minimum" => min,
                        "maximum" => max,
                        "total" => avg * minutes,
                        _ => minutes,
                    };
                    point.insert(a.clone(), json!(value));
                }
            }
            Value::Object(point)
        })
        .collect();
    metric_shell(
        &r.id,
        metric,
        "Success",
        None,
        vec![json!({"metadatavalues": [], "data": data})],
    )
}

/// A `Metric` object with the given error code and series.
pub fn metric_shell(
    resource_id: &str,
    metric: &MetricDef,
    code: &str,
    message: Option<&str>,
    timeseries: Vec<Value>,
) -> Value {
    let mut value = json!({
        "id": format!("{resource_id}/providers/Microsoft.Insights/metrics/{}", metric.name),
        "type": "Microsoft.Insights/metrics",
        "name": {"value": metric.name, "localizedValue": metric.name},
        "displayDescription": metric.description,
        "unit": metric.unit,
        "timeseries": timeseries,
        "errorCode": code,
    });
    if let Some(message) = message {
        value["errorMessage"] = json!(message);
    }
    value
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
