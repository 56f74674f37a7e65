//! The VM metrics model: deterministic hourly values per VM (idle VMs average below 5 % CPU,
//! busy ones 60–85 %), a daily cycle and noise; memory in bytes. Points of a stopped VM, or in
//! the future, carry only their timestamp, as Azure Monitor returns them.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::estate::{Resource, Utilisation, Vm};
use super::rng::{hash_str, hash2, unit};

/// A metric definition of `Microsoft.Compute/virtualMachines`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    pub name: &'static str,
    pub unit: &'static str,
    pub description: &'static str,
}

/// The metrics the simulator serves.
pub const METRICS: [MetricDef; 4] = [
    MetricDef {
        name: "Percentage CPU",
        unit: "Percent",
        description: "The percentage of allocated compute units that are currently in use by the Virtual Machine(s)",
    },
    MetricDef {
        name: "Available Memory Bytes",
        unit: "Bytes",
        description: "Amount of physical memory, in bytes, immediately available for allocation to a process or for system use in the Virtual Machine",
    },
    MetricDef {
        name: "Network In Total",
        unit: "Bytes",
        description: "The number of bytes received on all network interfaces by the Virtual Machine(s) (Incoming Traffic)",
    },
    MetricDef {
        name: "Network Out Total",
        unit: "Bytes",
        description: "The number of bytes out on all network interfaces by the Virtual Machine(s) (Outgoing Traffic)",
    },
];

/// A metric by name (case-insensitive).
pub fn find(name: &str) -> Option<MetricDef> {
    METRICS
        .into_iter()
        .find(|m| m.name.eq_ignore_ascii_case(name.trim()))
}

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

/// Whether the metric of this VM comes back with an error code (a configured fraction).
pub fn injected_error(r: &Resource, metric: &MetricDef, rate: f64) -> bool {
    unit(hash2(r.hash, hash_str(metric.name))) < rate
}

/// One `Metric` object of a known VM.
pub fn metric_json(
    r: &Resource,
    vm: &Vm,
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
    let data: Vec<Value> = window
        .points()
        .into_iter()
        .map(|t| {
            let mut point = Map::new();
            point.insert(
                "timeStamp".into(),
                json!(t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            );
            if vm.running && t <= now {
                let (avg, min, max) = aggregate(r, vm, metric, t, window.grain);
                let minutes = (window.grain.num_minutes().max(1)) as f64;
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

/// `(average, minimum, maximum)` over one point of `grain` starting at `t`.
fn aggregate(
    r: &Resource,
    vm: &Vm,
    metric: &MetricDef,
    t: DateTime<Utc>,
    grain: Duration,
) -> (f64, f64, f64) {
    let hours = grain.num_hours().max(1);
    if hours == 1 && grain.num_minutes() < 60 {
        let (avg, min, max) = hourly(r, vm, metric, t.timestamp().div_euclid(3600));
        // Sub-hour points wobble around their hour's average, within its range.
        let wobble = unit(hash2(r.hash, t.timestamp() as u64)) - 0.5;
        let avg = (avg + wobble * (max - min) * 0.1).clamp(min, max);
        return (avg, min.max(avg * 0.9), max.min(avg * 1.1).max(avg));
    }
    let first = t.timestamp().div_euclid(3600);
    let values: Vec<(f64, f64, f64)> = (first..first + hours)
        .map(|h| hourly(r, vm, metric, h))
        .collect();
    let avg = values.iter().map(|v| v.0).sum::<f64>() / values.len() as f64;
    let min = values.iter().map(|v| v.1).fold(f64::INFINITY, f64::min);
    let max = values.iter().map(|v| v.2).fold(f64::NEG_INFINITY, f64::max);
    (avg, min, max)
}

/// `(average, minimum, maximum)` of one hour (`hour` counts hours since the epoch).
fn hourly(r: &Resource, vm: &Vm, metric: &MetricDef, hour: i64) -> (f64, f64, f64) {
    let level = unit(hash2(r.hash, hash_str(metric.name)));
    let noise = unit(hash2(hash2(r.hash, hour as u64), hash_str(metric.name))) - 0.5;
    let daily = ((hour.rem_euclid(24) as f64 - 8.0) / 24.0 * std::f64::consts::TAU).sin();
    match metric.name {
        "Percentage CPU" => {
            let (base, swing) = match vm.utilisation {
                Utilisation::Idle => (1.0 + 2.5 * level, 0.4),
                Utilisation::Moderate => (15.0 + 30.0 * level, 8.0),
                Utilisation::Busy => (60.0 + 20.0 * level, 6.0),
            };
            let avg = (base + swing * daily + swing * noise).clamp(0.2, 99.0);
            (
                round3(avg),
                round3(avg * 0.4),
                round3((avg * 1.8 + 2.0).min(100.0)),
            )
        }
        "Available Memory Bytes" => {
            let total = f64::from(vm.size.memory_gb) * 1_073_741_824.0;
            let free = match vm.utilisation {
                Utilisation::Idle => 0.75 + 0.15 * level,
                Utilisation::Moderate => 0.4 + 0.2 * level,
                Utilisation::Busy => 0.1 + 0.15 * level,
            } + 0.03 * noise;
            let avg = (total * free).round();
            (avg, (avg * 0.95).round(), (avg * 1.05).min(total).round())
        }
        _ => {
            let scale = match vm.utilisation {
                Utilisation::Idle => 1e5,
                Utilisation::Moderate => 1e7,
                Utilisation::Busy => 1e8,
            };
            let avg = (scale * (1.0 + 9.0 * level) * (1.0 + 0.3 * daily + 0.2 * noise)).round();
            (avg, (avg * 0.2).round(), (avg * 3.0).round())
        }
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
