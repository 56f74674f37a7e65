//! The hourly values of every served metric: per-minute average, minimum and maximum of one
//! hour, or `None` when the resource reports nothing that hour (a VM not running, a disk not
//! attached to a running VM, a DTU metric of a vCore database).
//!
//! Each resource's values stay inside a band set by how busy it is, with all three
//! aggregates inside the band, so a planted condition holds whichever aggregate and
//! percentile a rule reads, and one not planted never does:
//! - VMs: idle CPU ≤ 4.8 % with 55–70 % of memory in use; oversized CPU in a band only its
//!   planted target fits at ≤ 80 % (the next smaller size would not), memory under 45 % and
//!   under 60 % of the target's; moderate CPU ≥ 32 %, busy more. Idle network out stays
//!   under 40 MB an hour (0.1 Mbps).
//! - Premium disks underused: I/O and throughput ≤ 3 % of what the tier provisions; others ≥ 7 %.
//! - App Service plans: oversized CPU ≤ 26 % and memory ≤ 42 %; empty ones idle with ≥ 52 %
//!   memory; others CPU ≥ 32 %.
//! - DTU databases underused: DTU ≤ 37.5 %; others ≥ 42.5 %.

use chrono::{DateTime, Utc};

use super::MetricDef;
use crate::catalog::{VmSize, disk_tier, family_sizes};
use crate::estate::{Details, Estate, Resource, SqlSku, Utilisation};
use crate::rng::{hash_str, hash2, unit};

/// `(average, minimum, maximum)` of one hour, per-minute values.
pub type Hourly = (f64, f64, f64);

const GIB: f64 = 1_073_741_824.0;
const MIB: f64 = 1_048_576.0;

/// A value between `lo` and `hi`: where the resource sits in its band (`level`) plus the
/// hour's noise, never at the edges.
fn band(lo: f64, hi: f64, level: f64, noise: f64) -> f64 {
    lo + (hi - lo) * (0.15 + 0.55 * level + 0.25 * noise).clamp(0.0, 1.0)
}

/// The oversized VM's CPU band: its planted target fits the load at ≤ 80 % (upper bound,
/// also below 30 %) and the next smaller size of its family would not (lower bound).
pub fn cpu_band(current: &VmSize, target: &VmSize) -> (f64, f64) {
    let ratio = |s: &VmSize| f64::from(s.vcpus) / f64::from(current.vcpus);
    let hi = (0.95 * 80.0 * ratio(target)).min(28.0);
    let smaller = family_sizes(current.family)
        .filter(|s| s.vcpus < target.vcpus)
        .last();
    let lo = smaller.map_or(6.0, |s| (1.05 * 80.0 * ratio(&s)).max(6.0));
    (lo, hi)
}

/// The value of `metric` for `r` in the hour starting at `hour` (hours since the epoch).
pub fn hourly(estate: &Estate, r: &Resource, metric: &MetricDef, hour: i64) -> Option<Hourly> {
    let t = DateTime::from_timestamp(hour * 3600, 0)?;
    let level = unit(hash2(r.hash, hash_str(metric.name)));
    let noise = unit(hash2(hash2(r.hash, hour as u64), hash_str(metric.name))) - 0.5;
    let b = |lo: f64, hi: f64| band(lo, hi, level, noise);
    match &r.details {
        Details::VirtualMachine(vm) if vm.running_at(r.created, t) => {
            let u = (vm.utilisation, vm.rightsize_target);
            Some(compute(metric.name, &vm.size, u, b))
        }
        Details::VirtualMachineScaleSet(s) if t >= r.created => {
            Some(compute(metric.name, &s.size, (s.utilisation, None), b))
        }
        Details::Disk(d) => {
            let vm = estate.resource(d.managed_by.as_deref()?)?;
            if !vm.vm()?.running_at(vm.created, t) || t < d.ownership_since? {
                return None;
            }
            let tier = disk_tier(d.sku, d.size_gb)?;
            let (lo, hi) = if d.io_underused {
                (0.005, 0.025)
            } else {
                (0.10, 0.50)
            };
            let share = if metric.name.contains("Read") {
                0.6
            } else {
                0.4
            };
            let full = if metric.name.contains("Bytes") {
                f64::from(tier.mbps) * MIB
            } else {
                f64::from(tier.iops)
            };
            let avg = b(lo, hi) * full * share;
            Some((avg, avg * 0.7, avg * 1.2))
        }
        Details::AppServicePlan(p) if t >= r.created => {
            let cpu = metric.name == "CpuPercentage";
            let (lo, hi) = match (p.utilisation, cpu) {
                (Utilisation::Idle, true) => (1.0, 5.0),
                (Utilisation::Idle, false) => (55.0, 70.0),
                (Utilisation::Oversized, true) => (5.0, 20.0),
                (Utilisation::Oversized, false) => (20.0, 40.0),
                (Utilisation::Moderate, true) => (40.0, 65.0),
                (Utilisation::Moderate, false) => (55.0, 75.0),
                (Utilisation::Busy, _) => (70.0, 90.0),
            };
            let avg = b(lo, hi);
            Some(if cpu {
                (avg, avg * 0.8, (avg * 1.3).min(100.0))
            } else {
                (avg, avg * 0.95, (avg * 1.05).min(100.0))
            })
        }
        Details::SqlDatabase(d) if t >= r.created => {
            let dtu = metric.name == "dtu_consumption_percent";
            let (lo, hi) = match (&d.sku, d.utilisation) {
                (SqlSku::VCore(_), _) if dtu => return None,
                (SqlSku::VCore(_), _) => (20.0, 70.0),
                (SqlSku::Pool(_), _) => (10.0, 60.0),
                (_, Utilisation::Oversized) => (5.0, 30.0),
                (_, Utilisation::Busy) => (80.0, 95.0),
                _ => (50.0, 80.0),
            };
            let avg = b(lo, hi) * if dtu { 1.0 } else { 0.9 };
            Some((avg, avg * 0.85, (avg * 1.25).min(hi * 1.25).min(100.0)))
        }
        _ => None,
    }
}

/// CPU, available memory and network of a VM or scale set.
fn compute(
    metric: &str,
    size: &VmSize,
    (utilisation, target): (Utilisation, Option<VmSize>),
    b: impl Fn(f64, f64) -> f64,
) -> Hourly {
    match metric {
        "Percentage CPU" => {
            let avg = match (utilisation, target) {
                (Utilisation::Idle, _) => b(0.5, 3.0),
                (Utilisation::Oversized, Some(t)) => {
                    let (lo, hi) = cpu_band(size, &t);
                    let avg = b(lo, hi);
                    return (avg, avg * 0.85, (avg * 1.08).min(hi));
                }
                // A scale set's "oversized" is underused.
                (Utilisation::Oversized, None) => b(8.0, 20.0),
                (Utilisation::Moderate, _) => b(38.0, 58.0),
                (Utilisation::Busy, _) => b(62.0, 85.0),
            };
            let max = match utilisation {
                Utilisation::Idle => (avg * 1.4 + 0.3).min(4.8),
                _ => (avg * 1.3).min(99.0),
            };
            (
                avg,
                avg * if utilisation == Utilisation::Idle {
                    0.6
                } else {
                    0.85
                },
                max,
            )
        }
        "Available Memory Bytes" => {
            let total = f64::from(size.memory_gb) * GIB;
            let used = match (utilisation, target) {
                (Utilisation::Oversized, Some(t)) => {
                    let cap = (0.6 * f64::from(t.memory_gb) / f64::from(size.memory_gb)).min(0.45);
                    b(cap * 0.5, cap * 0.9)
                }
                (Utilisation::Oversized, None) => b(0.2, 0.35),
                (Utilisation::Idle | Utilisation::Moderate, _) => b(0.55, 0.72),
                (Utilisation::Busy, _) => b(0.75, 0.9),
            };
            let available = |u: f64| (total * (1.0 - u.min(0.99))).round();
            (
                available(used),
                available(used * 1.05),
                available(used * 0.95),
            )
        }
        _ => {
            let per_hour = match utilisation {
                Utilisation::Idle => b(1e6, 4e7),
                _ => b(2e8, 3e9),
            };
            let avg = (per_hour / 60.0).round();
            (avg, (avg * 0.3).round(), (avg * 3.0).round())
        }
    }
}

/// Whether `r` has data for `metric` at `t` (the hour containing it).
pub fn has_data(estate: &Estate, r: &Resource, metric: &MetricDef, t: DateTime<Utc>) -> bool {
    hourly(estate, r, metric, t.timestamp().div_euclid(3600)).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::vm_size;

    #[test]
    fn the_cpu_band_fits_the_target_and_not_the_size_below() {
        let size = |n| vm_size(n).expect("known size");
        for (current, target) in [
            ("Standard_D4s_v5", "Standard_D2s_v5"),
            ("Standard_D8s_v5", "Standard_D2s_v5"),
            ("Standard_D8s_v5", "Standard_D4s_v5"),
            ("Standard_D16s_v5", "Standard_D4s_v5"),
            ("Standard_E8s_v5", "Standard_E4s_v5"),
        ] {
            let (c, t) = (size(current), size(target));
            let (lo, hi) = cpu_band(&c, &t);
            assert!(6.0 <= lo && lo < hi && hi < 30.0, "{current}: {lo}..{hi}");
            let needed = |cpu: f64| f64::from(c.vcpus) * cpu / 80.0;
            assert!(needed(hi) <= f64::from(t.vcpus));
            if let Some(below) = family_sizes(c.family).filter(|s| s.vcpus < t.vcpus).last() {
                assert!(needed(lo) > f64::from(below.vcpus), "{current} → {target}");
            }
        }
    }
}
