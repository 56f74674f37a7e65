//! Statistics of a metric over the window, and a VM's two metrics picked from an answer.
//!
//! For each metric: `avg` is the mean of the hourly averages; `max` the largest hourly
//! maximum and `min` the smallest hourly minimum (a point without them counts with its
//! average); `p95` is the **nearest-rank** 95th percentile of the hourly averages (sorted
//! ascending, the value at rank ⌈0.95 · n⌉, so always an observed value); `samples` the
//! number of hours with data. Points without data are skipped.

use std::collections::BTreeMap;

use serde::Serialize;

use super::kinds::Aggregation;
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

impl MetricStats {
    /// The statistics of plain hourly values (max and min are theirs too), or `None` for
    /// none. Values that are not finite are ignored.
    pub fn from_values(mut values: Vec<f64>) -> Option<Self> {
        values.retain(|v| v.is_finite());
        values.sort_by(f64::total_cmp);
        let p95 = percentile_nearest_rank(&values, 95.0)?;
        Some(Self {
            avg: values.iter().sum::<f64>() / values.len() as f64,
            max: values.last().copied().unwrap_or(p95),
            min: values.first().copied().unwrap_or(p95),
            p95,
            samples: values.len(),
        })
    }
}

/// The error Azure reported for `metric` (name, code and message on one line), if any.
pub fn metric_error(metric: &Metric) -> Option<String> {
    if metric.succeeded() {
        return None;
    }
    let code = metric.error_code.as_deref().unwrap_or("Unknown");
    let message = metric.error_message.as_deref().unwrap_or("");
    Some(one_line(
        &format!("{}: {code}: {message}", metric.name.value),
        300,
    ))
}

/// The statistics of `metric` over all its series: an error (code and message) when Azure
/// reported one for it, `None` when it has no data.
pub fn metric_stats(metric: &Metric) -> Result<Option<MetricStats>, String> {
    if let Some(error) = metric_error(metric) {
        return Err(error);
    }
    let points = metric.timeseries.iter().flat_map(|series| &series.data);
    Ok(MetricStats::from_points(points))
}

/// The statistics of `metric` with `aggregation` as each hour's value: averages as
/// [`metric_stats`]; totals (a counter's sum over the hour) with max, min and p95 over the
/// hourly totals.
pub fn metric_stats_with(
    metric: &Metric,
    aggregation: Aggregation,
) -> Result<Option<MetricStats>, String> {
    match aggregation {
        Aggregation::Average => metric_stats(metric),
        Aggregation::Total => {
            if let Some(error) = metric_error(metric) {
                return Err(error);
            }
            let totals = metric
                .timeseries
                .iter()
                .flat_map(|series| &series.data)
                .filter_map(|point| point.total)
                .collect();
            Ok(MetricStats::from_values(totals))
        }
    }
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
    fn totals_are_the_hourly_value_of_counters() {
        let metric = Metric {
            name: super::super::wire::LocalizableString {
                value: "Network Out Total".into(),
                localized_value: None,
            },
            timeseries: vec![super::super::wire::TimeSeries {
                metadatavalues: vec![],
                data: [3e6, 1e6, 2e6]
                    .iter()
                    .map(|t| MetricValue {
                        average: Some(t / 60.0),
                        maximum: Some(*t),
                        total: Some(*t),
                        ..MetricValue::default()
                    })
                    .chain([MetricValue::default()])
                    .collect(),
            }],
            ..Metric::default()
        };
        let stats = metric_stats_with(&metric, Aggregation::Total)
            .unwrap()
            .unwrap();
        assert_eq!(
            (stats.avg, stats.max, stats.min, stats.p95, stats.samples),
            (2e6, 3e6, 1e6, 3e6, 3)
        );
        let averages = metric_stats_with(&metric, Aggregation::Average)
            .unwrap()
            .unwrap();
        assert_eq!(averages.avg, 2e6 / 60.0);
        assert_eq!(MetricStats::from_values(vec![f64::NAN]), None);
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
