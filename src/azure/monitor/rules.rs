//! The underutilised-VM rule.
//!
//! A VM is underutilised when, over the window, with at least `min_samples` hours of data for
//! both metrics:
//! - its **average CPU** is below `cpu_avg_below_percent` (10 %), and
//! - it **never came near memory pressure**: the lowest available memory observed (the
//!   smallest hourly minimum) stayed at or above `min_available_memory_bytes` (1 GiB), and,
//!   when the VM's memory size is known (the caller passes it, e.g. from the VM size
//!   catalogue — the metrics do not carry it), the average available memory is at least
//!   `min_available_memory_ratio` (50 %) of it, so a size with half the memory would still fit.
//!
//! A VM missing either metric is never flagged: without both, nothing can be concluded.

use serde::{Deserialize, Serialize};

use super::stats::VmMetrics;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The thresholds of the rule (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UnderutilisationThresholds {
    /// Average CPU (percent) below which the CPU is idle enough.
    pub cpu_avg_below_percent: f64,
    /// Available memory (bytes) the VM must never have dropped below.
    pub min_available_memory_bytes: f64,
    /// Share of the VM's memory that must be available on average, when its size is known.
    pub min_available_memory_ratio: f64,
    /// Hours of data each metric needs before the VM can be judged.
    pub min_samples: usize,
}

impl Default for UnderutilisationThresholds {
    /// CPU below 10 %, never under 1 GiB available, half the memory free on average, at
    /// least 3 days of hourly data.
    fn default() -> Self {
        Self {
            cpu_avg_below_percent: 10.0,
            min_available_memory_bytes: GIB,
            min_available_memory_ratio: 0.5,
            min_samples: 72,
        }
    }
}

/// Why `vm` is underutilised, or `None` when it is not (or cannot be judged).
/// `memory_bytes` is the VM's memory size when known.
pub fn underutilisation_reason(
    vm: &VmMetrics,
    memory_bytes: Option<f64>,
    thresholds: &UnderutilisationThresholds,
) -> Option<String> {
    let cpu = vm
        .cpu_percent
        .filter(|s| s.samples >= thresholds.min_samples)?;
    let memory = vm
        .available_memory_bytes
        .filter(|s| s.samples >= thresholds.min_samples)?;
    if cpu.avg >= thresholds.cpu_avg_below_percent
        || memory.min < thresholds.min_available_memory_bytes
    {
        return None;
    }
    let mut reason = format!(
        "average CPU {:.1}% < {:.1}% over {} h; available memory never below {:.2} GiB (threshold {:.2} GiB)",
        cpu.avg,
        thresholds.cpu_avg_below_percent,
        cpu.samples,
        memory.min / GIB,
        thresholds.min_available_memory_bytes / GIB,
    );
    if let Some(total) = memory_bytes.filter(|t| *t > 0.0) {
        let ratio = memory.avg / total;
        if ratio < thresholds.min_available_memory_ratio {
            return None;
        }
        reason.push_str(&format!(
            "; {:.0}% of {:.1} GiB available on average (threshold {:.0}%)",
            ratio * 100.0,
            total / GIB,
            thresholds.min_available_memory_ratio * 100.0
        ));
    }
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::super::stats::MetricStats;
    use super::*;

    fn stats(avg: f64, min: f64, samples: usize) -> MetricStats {
        MetricStats {
            avg,
            max: avg * 2.0,
            min,
            p95: avg * 1.5,
            samples,
        }
    }

    fn vm(cpu: Option<MetricStats>, memory: Option<MetricStats>) -> VmMetrics {
        VmMetrics {
            resource_id: "vm".into(),
            cpu_percent: cpu,
            available_memory_bytes: memory,
            errors: vec![],
        }
    }

    #[test]
    fn an_idle_vm_with_plenty_of_free_memory_is_flagged_with_a_reason() {
        let t = UnderutilisationThresholds::default();
        let reason = underutilisation_reason(
            &vm(
                Some(stats(3.2, 0.1, 336)),
                Some(stats(6.0 * GIB, 4.0 * GIB, 336)),
            ),
            None,
            &t,
        );
        let reason = reason.unwrap();
        assert!(reason.contains("average CPU 3.2% < 10.0%"), "{reason}");
        assert!(reason.contains("never below 4.00 GiB"), "{reason}");
    }

    #[test]
    fn busy_cpu_or_memory_pressure_is_not_underutilised() {
        let t = UnderutilisationThresholds::default();
        let busy = vm(
            Some(stats(10.0, 1.0, 336)),
            Some(stats(6.0 * GIB, 4.0 * GIB, 336)),
        );
        assert_eq!(underutilisation_reason(&busy, None, &t), None);
        let pressed = vm(
            Some(stats(2.0, 1.0, 336)),
            Some(stats(6.0 * GIB, 0.5 * GIB, 336)),
        );
        assert_eq!(underutilisation_reason(&pressed, None, &t), None);
    }

    #[test]
    fn a_known_memory_size_requires_half_of_it_free_on_average() {
        let t = UnderutilisationThresholds::default();
        let idle = vm(
            Some(stats(2.0, 1.0, 336)),
            Some(stats(6.0 * GIB, 4.0 * GIB, 336)),
        );
        let reason = underutilisation_reason(&idle, Some(8.0 * GIB), &t).unwrap();
        assert!(reason.contains("75% of 8.0 GiB"), "{reason}");
        assert_eq!(underutilisation_reason(&idle, Some(16.0 * GIB), &t), None);
    }

    #[test]
    fn missing_metrics_or_too_little_data_are_never_flagged() {
        let t = UnderutilisationThresholds::default();
        assert_eq!(
            underutilisation_reason(&vm(Some(stats(1.0, 0.0, 336)), None), None, &t),
            None
        );
        let short = vm(
            Some(stats(1.0, 0.0, 10)),
            Some(stats(6.0 * GIB, 4.0 * GIB, 10)),
        );
        assert_eq!(underutilisation_reason(&short, None, &t), None);
        let custom = UnderutilisationThresholds {
            min_samples: 5,
            ..t
        };
        assert!(underutilisation_reason(&short, None, &custom).is_some());
    }
}
