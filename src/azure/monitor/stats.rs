//! Statistics of a metric over the window, and a VM's two metrics picked from an answer.
//!
//! For each metric: `avg` is the mean of the hourly averages; `max` the largest hourly
//! maximum and `min` the smallest hourly minimum (a point without them counts with its
//! average); `p95` is the **nearest-rank** 95th percentile of the hourly averages (sorted
//! ascending, the value at rank ⌈0.95 · n⌉, so always an observed value); `samples` the
//! number of hours with data. Points without data are skipped.

use std::collections::BTreeMap;

use serde::Serialize;

use super::wire::{Metric, MetricValue};
use crate::azure::error::one_line;

/// The metric name of CPU use, in percent.
pub const CPU_METRIC: &str = "Percentage CPU";
/// The metric name of available memory, in bytes.
pub const MEMORY_METRIC: &str = "Available Memory Bytes";

/// Summary statistics of one metric of one VM.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MetricStats {
    pub avg: f64,
    pub max: f64,
    pub min: f64,
    pub p95: f64,
    pub samples: usize,
}

/// The utilisation of one VM over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VmMetrics {
    /// Lower-cased.
    pub resource_id: String,
    /// `None` when the metric failed (see `errors`) or had no data.
    pub cpu_percent: Option<MetricStats>,
    pub available_memory_bytes: Option<MetricStats>,
    /// What went wrong for this VM: a failed request, a metric Azure reported an error for,
    /// a metric missing from the answer.
    pub errors: Vec<String>,
}

impl VmMetrics {
    /// A VM for which nothing could be collected.
    pub fn failed(resource_id: &str, error: String) -> Self {
        Self {
            resource_id: resource_id.to_ascii_lowercase(),
            cpu_percent: None,
            available_memory_bytes: None,
            errors: vec![error],
        }
    }
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of `sorted` (ascending): the value at
/// rank ⌈p/100 · n⌉ (1-based). `None` for no values.
pub fn percentile_nearest_rank(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

impl MetricStats {
    /// The statistics of `points`, or `None` when none has data.
    pub fn from_points<'a>(points: impl IntoIterator<Item = &'a MetricValue>) -> Option<Self> {
        let mut values = Vec::new();
        let (mut max, mut min) = (f64::NEG_INFINITY, f64::INFINITY);
        for point in points {
            let Some(value) = point.value() else { continue };
            values.push(value);
            max = max.max(point.maximum.unwrap_or(value));
            min = min.min(point.minimum.unwrap_or(value));
        }
        values.sort_by(f64::total_cmp);
        let p95 = percentile_nearest_rank(&values, 95.0)?;
        Some(Self {
            avg: values.iter().sum::<f64>() / values.len() as f64,
            max,
            min,
            p95,
            samples: values.len(),
        })
    }
}

/// The statistics of `metric` over all its series: an error (code and message) when Azure
/// reported one for it, `None` when it has no data.
pub fn metric_stats(metric: &Metric) -> Result<Option<MetricStats>, String> {
    if !metric.succeeded() {
        let code = metric.error_code.as_deref().unwrap_or("Unknown");
        let message = metric.error_message.as_deref().unwrap_or("");
        return Err(one_line(
            &format!("{}: {code}: {message}", metric.name.value),
            300,
        ));
    }
    let points = metric.timeseries.iter().flat_map(|series| &series.data);
    Ok(MetricStats::from_points(points))
}

/// The statistics of each resource of a subscription-scope answer, whose series are split by
/// the `microsoft.resourceid` dimension (keys lower-cased).
pub fn stats_by_resource(metric: &Metric) -> BTreeMap<String, MetricStats> {
    let mut points: BTreeMap<String, Vec<&MetricValue>> = BTreeMap::new();
    for series in &metric.timeseries {
        if let Some(id) = series.dimension("microsoft.resourceid") {
            points
                .entry(id.to_ascii_lowercase())
                .or_default()
                .extend(&series.data);
        }
    }
    points
        .into_iter()
        .filter_map(|(id, points)| MetricStats::from_points(points).map(|stats| (id, stats)))
        .collect()
}

/// A VM's CPU and memory statistics picked by name from its metrics; a metric that failed or
/// is missing is recorded in `errors`, the other kept.
pub fn vm_metrics(resource_id: &str, metrics: &[Metric]) -> VmMetrics {
    let mut errors = Vec::new();
    let mut pick = |name: &str| {
        let found = metrics
            .iter()
            .find(|m| m.name.value.eq_ignore_ascii_case(name));
        match found.map(metric_stats) {
            Some(Ok(stats)) => stats,
            Some(Err(error)) => {
                errors.push(error);
                None
            }
            None => {
                errors.push(format!("{name}: not in the answer"));
                None
            }
        }
    };
    let cpu_percent = pick(CPU_METRIC);
    let available_memory_bytes = pick(MEMORY_METRIC);
    VmMetrics {
        resource_id: resource_id.to_ascii_lowercase(),
        cpu_percent,
        available_memory_bytes,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(average: f64) -> MetricValue {
        MetricValue {
            average: Some(average),
            ..MetricValue::default()
        }
    }

    #[test]
    fn nearest_rank_percentiles_pick_an_observed_value() {
        let one_to_twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile_nearest_rank(&one_to_twenty, 95.0), Some(19.0));
        let one_to_ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile_nearest_rank(&one_to_ten, 95.0), Some(10.0));
        assert_eq!(percentile_nearest_rank(&one_to_ten, 50.0), Some(5.0));
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile_nearest_rank(&hundred, 95.0), Some(95.0));
        assert_eq!(percentile_nearest_rank(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile_nearest_rank(&[], 95.0), None);
    }

    #[test]
    fn stats_use_averages_for_avg_and_p95_and_extremes_for_max_and_min() {
        let mut points: Vec<MetricValue> = (1..=20).rev().map(|v| point(f64::from(v))).collect();
        points[0].maximum = Some(35.0);
        points[5].minimum = Some(0.5);
        points.push(MetricValue::default());
        let stats = MetricStats::from_points(&points).unwrap();
        assert_eq!(
            stats,
            MetricStats {
                avg: 10.5,
                max: 35.0,
                min: 0.5,
                p95: 19.0,
                samples: 20
            }
        );
        assert_eq!(MetricStats::from_points(&[MetricValue::default()]), None);
    }

    #[test]
    fn a_failed_metric_is_an_error_and_the_other_is_kept() {
        let cpu = Metric {
            name: super::super::wire::LocalizableString {
                value: CPU_METRIC.into(),
                localized_value: None,
            },
            timeseries: vec![super::super::wire::TimeSeries {
                metadatavalues: vec![],
                data: vec![point(4.0), point(6.0)],
            }],
            ..Metric::default()
        };
        let memory = Metric {
            name: super::super::wire::LocalizableString {
                value: MEMORY_METRIC.into(),
                localized_value: None,
            },
            error_code: Some("InternalServerError".into()),
            error_message: Some("metric store timed out".into()),
            ..Metric::default()
        };
        let vm = vm_metrics("/SUBSCRIPTIONS/S/VM", &[cpu, memory]);
        assert_eq!(vm.resource_id, "/subscriptions/s/vm");
        assert_eq!(vm.cpu_percent.map(|s| s.avg), Some(5.0));
        assert_eq!(vm.available_memory_bytes, None);
        assert_eq!(
            vm.errors,
            vec!["Available Memory Bytes: InternalServerError: metric store timed out".to_owned()]
        );
        let missing = vm_metrics("x", &[]);
        assert_eq!(missing.errors.len(), 2);
    }
}
