//! A resource's metrics over the window as AzCops keeps them: one [`MetricSeries`] per metric
//! of its kind (plus a managed disk's derived consumed percentages), each either statistics,
//! "no data" (`stats: None`, not failed) or failed (`failed: true`). A failed call, a metric
//! Azure reported an error for, or a metric missing from the answer is failed; only an answer
//! that says the metric succeeded without data points is "no data". So a failure can never
//! read as an idle resource.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::MetricsWindow;
use super::consumed::{BYTES_PER_DISK_MB, consumed_percent};
use super::kinds::{
    DISK_IOPS_CONSUMED_METRIC, DISK_MBPS_CONSUMED_METRIC, DISK_READ_BYTES_METRIC,
    DISK_READ_OPS_METRIC, DISK_WRITE_BYTES_METRIC, DISK_WRITE_OPS_METRIC, MetricKind,
};
use super::stats::{CPU_METRIC, MEMORY_METRIC, MetricStats, VmMetrics, metric_stats_with};
use super::wire::Metric;

/// One metric of one resource over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricSeries {
    /// As Azure spells it, or a derived metric's name.
    pub metric: String,
    /// As Azure reports it (`Percent`, `Bytes`, `CountPerSecond`, …).
    pub unit: String,
    /// `None` with `failed: false`: Azure answered and had no data points.
    pub stats: Option<MetricStats>,
    /// The metric could not be read; `stats` is then `None` and means nothing.
    pub failed: bool,
}

impl MetricSeries {
    fn read(metric: &str, unit: &str, stats: Option<MetricStats>) -> Self {
        Self {
            metric: metric.to_owned(),
            unit: unit.to_owned(),
            stats,
            failed: false,
        }
    }

    fn failed(metric: &str, unit: &str) -> Self {
        Self {
            failed: true,
            ..Self::read(metric, unit, None)
        }
    }
}

/// The metrics of one resource over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceMetrics {
    /// Lower-cased.
    pub resource_id: String,
    pub namespace: &'static str,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// In the kind's metric order, derived series last.
    pub series: Vec<MetricSeries>,
    /// What went wrong: a failed request, a metric Azure reported an error for, a metric
    /// missing from the answer.
    pub errors: Vec<String>,
}

impl ResourceMetrics {
    /// A resource for which nothing could be read: every series failed.
    pub fn failed(
        resource_id: &str,
        kind: &MetricKind,
        window: &MetricsWindow,
        error: String,
    ) -> Self {
        let mut series: Vec<MetricSeries> = kind
            .metrics()
            .iter()
            .map(|spec| MetricSeries::failed(spec.name, spec.unit))
            .collect();
        series.extend(derived_names(kind).map(|name| MetricSeries::failed(name, "Percent")));
        Self {
            resource_id: resource_id.to_ascii_lowercase(),
            namespace: kind.namespace(),
            window_start: window.start,
            window_end: window.end,
            series,
            errors: vec![error],
        }
    }

    /// The series of `metric` (case-insensitive), if read.
    pub fn series(&self, metric: &str) -> Option<&MetricSeries> {
        self.series
            .iter()
            .find(|s| s.metric.eq_ignore_ascii_case(metric))
    }

    /// The statistics of `metric`, when it was read and had data.
    pub fn stats(&self, metric: &str) -> Option<MetricStats> {
        self.series(metric).and_then(|s| s.stats)
    }

    /// True when at least one series could not be read.
    pub fn any_failed(&self) -> bool {
        self.series.iter().any(|s| s.failed)
    }
}

impl From<&ResourceMetrics> for VmMetrics {
    /// The CPU and memory of a VM's metrics, for the VM-only API.
    fn from(metrics: &ResourceMetrics) -> Self {
        VmMetrics {
            resource_id: metrics.resource_id.clone(),
            cpu_percent: metrics.stats(CPU_METRIC),
            available_memory_bytes: metrics.stats(MEMORY_METRIC),
            errors: metrics.errors.clone(),
        }
    }
}

/// The derived series a kind gets: a disk's consumed percentages, each when its limit is
/// known and positive.
fn derived_names(kind: &MetricKind) -> impl Iterator<Item = &'static str> {
    let (iops, mbps) = match kind {
        MetricKind::ManagedDisk {
            iops_limit,
            mbps_limit,
        } => (positive(*iops_limit), positive(*mbps_limit)),
        _ => (None, None),
    };
    let iops = iops.map(|_| DISK_IOPS_CONSUMED_METRIC);
    let mbps = mbps.map(|_| DISK_MBPS_CONSUMED_METRIC);
    iops.into_iter().chain(mbps)
}

fn positive(limit: Option<f64>) -> Option<f64> {
    limit.filter(|l| l.is_finite() && *l > 0.0)
}

/// The metrics of `resource_id` (of `kind`) picked by name from an answer's `metrics`.
pub fn resource_metrics(
    resource_id: &str,
    kind: &MetricKind,
    window: &MetricsWindow,
    metrics: &[Metric],
) -> ResourceMetrics {
    let find = |name: &str| {
        metrics
            .iter()
            .find(|m| m.name.value.eq_ignore_ascii_case(name))
    };
    let mut errors = Vec::new();
    let mut series = Vec::new();
    for spec in kind.metrics() {
        let Some(metric) = find(spec.name) else {
            errors.push(format!("{}: not in the answer", spec.name));
            series.push(MetricSeries::failed(spec.name, spec.unit));
            continue;
        };
        let unit = metric
            .unit
            .as_deref()
            .filter(|u| !u.is_empty())
            .unwrap_or(spec.unit);
        match metric_stats_with(metric, spec.aggregation) {
            Ok(stats) => series.push(MetricSeries::read(spec.name, unit, stats)),
            Err(error) => {
                errors.push(error);
                series.push(MetricSeries::failed(spec.name, unit));
            }
        }
    }
    if let MetricKind::ManagedDisk {
        iops_limit,
        mbps_limit,
    } = kind
    {
        let derived = [
            (
                DISK_IOPS_CONSUMED_METRIC,
                DISK_READ_OPS_METRIC,
                DISK_WRITE_OPS_METRIC,
                positive(*iops_limit),
            ),
            (
                DISK_MBPS_CONSUMED_METRIC,
                DISK_READ_BYTES_METRIC,
                DISK_WRITE_BYTES_METRIC,
                positive(*mbps_limit).map(|l| l * BYTES_PER_DISK_MB),
            ),
        ];
        for (name, read, write, capacity) in derived {
            let Some(capacity) = capacity else { continue };
            // Component failures are already in `errors`; the derived series only says so.
            series.push(match consumed_percent(find(read), find(write), capacity) {
                Ok(stats) => MetricSeries::read(name, "Percent", stats),
                Err(_) => MetricSeries::failed(name, "Percent"),
            });
        }
    }
    ResourceMetrics {
        resource_id: resource_id.to_ascii_lowercase(),
        namespace: kind.namespace(),
        window_start: window.start,
        window_end: window.end,
        series,
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn window() -> MetricsWindow {
        let end = DateTime::parse_from_rfc3339("2024-05-15T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        MetricsWindow {
            start: end - chrono::Duration::days(14),
            end,
        }
    }

    fn metric(name: &str, unit: &str, data: serde_json::Value) -> Metric {
        serde_json::from_value(
            json!({"name": {"value": name}, "unit": unit, "errorCode": "Success",
            "timeseries": [{"metadatavalues": [], "data": data}]}),
        )
        .unwrap()
    }

    fn rates(name: &str, values: &[f64]) -> Metric {
        let data: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(h, v)| json!({"timeStamp": format!("2024-05-01T{h:02}:00:00Z"), "average": v}))
            .collect();
        metric(name, "CountPerSecond", json!(data))
    }

    #[test]
    fn no_data_and_a_failed_metric_are_told_apart() {
        let idle = metric(
            "CpuPercentage",
            "Percent",
            json!([{"timeStamp": "2024-05-01T00:00:00Z"}]),
        );
        let failed: Metric = serde_json::from_value(json!({"name": {"value": "MemoryPercentage"},
            "errorCode": "InternalServerError", "errorMessage": "store timed out", "timeseries": []}))
        .unwrap();
        let plan = resource_metrics(
            "/X",
            &MetricKind::AppServicePlan,
            &window(),
            &[idle, failed],
        );
        let cpu = plan.series("CpuPercentage").unwrap();
        assert_eq!(
            (cpu.stats, cpu.failed, cpu.unit.as_str()),
            (None, false, "Percent")
        );
        let memory = plan.series("MemoryPercentage").unwrap();
        assert_eq!((memory.stats, memory.failed), (None, true));
        assert_eq!(
            plan.errors,
            ["MemoryPercentage: InternalServerError: store timed out"]
        );
        assert!(plan.any_failed());
    }

    #[test]
    fn a_metric_missing_from_the_answer_is_failed_not_idle() {
        let sql = resource_metrics("/db", &MetricKind::SqlDatabase, &window(), &[]);
        assert!(sql.series.iter().all(|s| s.failed && s.stats.is_none()));
        assert_eq!(sql.errors.len(), 2);
    }

    #[test]
    fn a_disk_with_limits_gets_consumed_percentages_and_one_without_only_raw_rates() {
        let answer = [
            rates(DISK_READ_OPS_METRIC, &[100.0, 20.0]),
            rates(DISK_WRITE_OPS_METRIC, &[20.0, 0.0]),
            rates(DISK_READ_BYTES_METRIC, &[BYTES_PER_DISK_MB * 10.0, 0.0]),
            rates(DISK_WRITE_BYTES_METRIC, &[0.0, 0.0]),
        ];
        let disk = MetricKind::ManagedDisk {
            iops_limit: Some(120.0),
            mbps_limit: Some(25.0),
        };
        let metrics = resource_metrics("/disk", &disk, &window(), &answer);
        assert_eq!(metrics.series.len(), 6);
        let iops = metrics.stats(DISK_IOPS_CONSUMED_METRIC).unwrap();
        assert_eq!((iops.max, iops.samples), (100.0, 2));
        assert!((iops.min - 100.0 / 6.0).abs() < 1e-9, "{}", iops.min);
        assert_eq!(metrics.stats(DISK_MBPS_CONSUMED_METRIC).unwrap().max, 40.0);
        assert_eq!(
            metrics.series(DISK_MBPS_CONSUMED_METRIC).unwrap().unit,
            "Percent"
        );
        let unknown = MetricKind::ManagedDisk {
            iops_limit: None,
            mbps_limit: Some(0.0),
        };
        let raw = resource_metrics("/disk", &unknown, &window(), &answer);
        assert_eq!(raw.series.len(), 4);
        assert!(raw.series(DISK_IOPS_CONSUMED_METRIC).is_none());
    }

    #[test]
    fn a_failed_call_fails_every_series_including_the_derived_ones() {
        let disk = MetricKind::ManagedDisk {
            iops_limit: Some(500.0),
            mbps_limit: None,
        };
        let failed = ResourceMetrics::failed("/DISK", &disk, &window(), "batch: 503".into());
        assert_eq!(failed.resource_id, "/disk");
        assert_eq!(failed.series.len(), 5);
        assert!(failed.series.iter().all(|s| s.failed));
        assert_eq!(failed.window_end, window().end);
        let vm = VmMetrics::from(&ResourceMetrics::failed(
            "/vm",
            &MetricKind::Vm,
            &window(),
            "e".into(),
        ));
        assert_eq!((vm.cpu_percent, vm.errors.len()), (None, 1));
    }
}
