//! A managed disk's consumed share of what it is provisioned for, per hour:
//! (read + write operations per second) ÷ provisioned IOPS × 100, and (read + write bytes per
//! second) ÷ provisioned throughput × 100.
//!
//! Each hour's value comes from the two metrics' hourly averages at the same timestamp; an
//! hour where either has no data is left out. Max and min are therefore over hourly
//! averages too (the two metrics' per-hour maxima need not have happened at the same moment,
//! so adding them would overstate the peak). Provisioned throughput (`diskMBpsReadWrite`) is
//! in MB/s as Azure's disk pricing defines it, 1 MB = 2^20 bytes.

use std::collections::BTreeMap;

use super::stats::{MetricStats, metric_error};
use super::wire::Metric;

/// Bytes in one MB of disk throughput (2^20).
pub const BYTES_PER_DISK_MB: f64 = 1_048_576.0;

/// The hourly consumed percentage of `capacity_per_second` that `read` and `write` (rates per
/// second) add up to. `Err` when either metric is missing or failed (the derived value is
/// then unknown, never zero); `Ok(None)` when no hour has data for both.
pub fn consumed_percent(
    read: Option<&Metric>,
    write: Option<&Metric>,
    capacity_per_second: f64,
) -> Result<Option<MetricStats>, String> {
    let (Some(read), Some(write)) = (read, write) else {
        return Err("a component metric is not in the answer".into());
    };
    if let Some(error) = metric_error(read).or_else(|| metric_error(write)) {
        return Err(error);
    }
    if !(capacity_per_second.is_finite() && capacity_per_second > 0.0) {
        return Err("no positive provisioned limit".into());
    }
    let (reads, writes) = (hourly(read), hourly(write));
    let values = reads
        .iter()
        .filter_map(|(hour, r)| {
            writes
                .get(hour)
                .map(|w| (r + w) / capacity_per_second * 100.0)
        })
        .collect();
    Ok(MetricStats::from_values(values))
}

/// Hourly averages by timestamp (a point without one keyed by its position), series of the
/// same metric summed.
fn hourly(metric: &Metric) -> BTreeMap<String, f64> {
    let mut by_hour = BTreeMap::new();
    for series in &metric.timeseries {
        for (index, point) in series.data.iter().enumerate() {
            let Some(value) = point.average else { continue };
            let key = point
                .time_stamp
                .clone()
                .unwrap_or_else(|| format!("#{index:08}"));
            *by_hour.entry(key).or_insert(0.0) += value;
        }
    }
    by_hour
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::monitor::wire::{LocalizableString, MetricValue, TimeSeries};

    fn metric(name: &str, averages: &[Option<f64>]) -> Metric {
        let data = averages
            .iter()
            .enumerate()
            .map(|(h, a)| MetricValue {
                time_stamp: Some(format!("2024-05-01T{h:02}:00:00Z")),
                average: *a,
                maximum: a.map(|a| a * 10.0),
                ..MetricValue::default()
            })
            .collect();
        Metric {
            name: LocalizableString {
                value: name.into(),
                localized_value: None,
            },
            timeseries: vec![TimeSeries {
                metadatavalues: vec![],
                data,
            }],
            ..Metric::default()
        }
    }

    #[test]
    fn consumed_iops_is_read_plus_write_over_the_limit_per_hour() {
        let read = metric("r", &[Some(30.0), Some(10.0), None, Some(100.0)]);
        let write = metric("w", &[Some(20.0), Some(0.0), Some(5.0), Some(100.0)]);
        let stats = consumed_percent(Some(&read), Some(&write), 500.0)
            .unwrap()
            .unwrap();
        // Hours: 50/500, 10/500, (no read), 200/500.
        assert_eq!(stats.samples, 3);
        assert_eq!((stats.min, stats.max, stats.p95), (2.0, 40.0, 40.0));
        assert!((stats.avg - (10.0 + 2.0 + 40.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn consumed_mbps_divides_bytes_by_binary_megabytes() {
        let read = metric("r", &[Some(BYTES_PER_DISK_MB * 25.0)]);
        let write = metric("w", &[Some(0.0)]);
        let stats = consumed_percent(Some(&read), Some(&write), 100.0 * BYTES_PER_DISK_MB)
            .unwrap()
            .unwrap();
        assert_eq!(stats.avg, 25.0);
    }

    #[test]
    fn a_failed_or_missing_component_is_an_error_and_no_data_is_none() {
        let read = metric("r", &[Some(1.0)]);
        let mut failed = metric("w", &[]);
        failed.error_code = Some("InternalServerError".into());
        assert!(consumed_percent(Some(&read), Some(&failed), 500.0).is_err());
        assert!(consumed_percent(Some(&read), None, 500.0).is_err());
        assert!(consumed_percent(Some(&read), Some(&read), 0.0).is_err());
        let idle = metric("w", &[None, None]);
        assert_eq!(consumed_percent(Some(&idle), Some(&idle), 500.0), Ok(None));
    }
}
