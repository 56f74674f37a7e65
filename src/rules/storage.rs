//! Storage rules: managed disks left unattached, kept on Premium or Standard SSD while their VM
//! is deallocated, or Premium while barely used; snapshots that are stale, on Premium storage,
//! or whose source disk is gone.
//!
//! How long a disk has been unattached is what Azure says: `LastOwnershipUpdateTime` (the last
//! attach, detach or deallocation of its VM); a disk that never changed owner has been
//! unattached since `timeCreated`; the condition history is the last resort. A tier change is
//! priced as Δ with the tier of the same size (`P10` → `E10` or `S10`).

use serde_json::json;

use super::Rule;
use super::compute::{Power, power};
use super::finding::Draft;
use super::input::Resource;
use super::pricing::meters::{self, redundancy};
use super::props::{number, subscription_of, text, time};
use super::savings;
use super::scope::{Check, Verdict};

const DISK: &str = "microsoft.compute/disks";
const SNAPSHOT: &str = "microsoft.compute/snapshots";

pub(crate) const RULES: [Rule; 6] = [
    Rule {
        id: "disk.unattached",
        types: &[DISK],
        check: unattached,
    },
    Rule {
        id: "disk.on_deallocated_vm",
        types: &[DISK],
        check: on_deallocated_vm,
    },
    Rule {
        id: "disk.premium_underused",
        types: &[DISK],
        check: premium_underused,
    },
    Rule {
        id: "snapshot.stale",
        types: &[SNAPSHOT],
        check: stale,
    },
    Rule {
        id: "snapshot.premium",
        types: &[SNAPSHOT],
        check: premium_snapshot,
    },
    Rule {
        id: "snapshot.orphaned_source",
        types: &[SNAPSHOT],
        check: orphaned_source,
    },
];

/// The SKU family of a disk or snapshot: `premium`, `standardssd`, `standard`, `premiumv2`, …
fn family(r: &Resource) -> String {
    r.sku_name()
        .split('_')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

fn disk_state(r: &Resource) -> String {
    text(r.props(), &["diskState"]).to_ascii_lowercase()
}

fn size_gb(r: &Resource) -> Option<f64> {
    number(r.props(), &["diskSizeGB"])
}

fn unattached(c: &Check<'_, '_>, disk: &Resource) -> Verdict {
    match disk_state(disk).as_str() {
        "" => return Verdict::Skip("disk_state_unknown"),
        "unattached" => {}
        _ => return Verdict::Pass,
    }
    let history = c.scope.condition(&disk.resource_id, "disk_unattached");
    let since = time(disk.props(), &["LastOwnershipUpdateTime"])
        .or_else(|| disk.created().into_iter().chain(history).min());
    let Some(since) = since else {
        return Verdict::Skip("no_condition_history");
    };
    let min_days = c.param("min_days");
    if c.days_since(since) < min_days {
        return Verdict::Pass;
    }
    let estimate = savings::c30(c.scope, disk, || {
        meters::disk_resource(&c.scope.prices, disk)
    });
    Verdict::fire(
        Draft::new(
            format!("Delete unattached disk {}", disk.name),
            format!(
                "Managed disk {} ({}, {} GB) has been attached to nothing since {}. Delete it, after a snapshot if its data must be kept.",
                disk.name,
                disk.sku_name(),
                size_gb(disk).unwrap_or_default(),
                since.date_naive()
            ),
            0.9,
        )
        .evidence(json!({"disk_state": "Unattached", "unattached_since": since, "min_days": min_days}))
        .savings(estimate),
    )
}

/// A tier change of `disk` to `target_sku` at the same size: current and target prices, or
/// the skip when either is not known.
fn tier_change(
    c: &Check<'_, '_>,
    disk: &Resource,
    target_sku: &str,
) -> Result<savings::Estimate, Verdict> {
    let book = &c.scope.prices;
    let size = size_gb(disk).ok_or(Verdict::Skip("disk_size_unknown"))?;
    let current = meters::disk_resource(book, disk).ok_or(Verdict::Skip("no_price"))?;
    let target = meters::disk(book, &disk.location, target_sku, size, None)
        .ok_or(Verdict::Skip("no_price"))?;
    Ok(savings::delta(c.scope, disk, &current, &target))
}

fn on_deallocated_vm(c: &Check<'_, '_>, disk: &Resource) -> Verdict {
    if !matches!(family(disk).as_str(), "premium" | "standardssd") {
        return Verdict::Pass;
    }
    let Some(vm) = c.scope.disk_vm(&disk.resource_id) else {
        return Verdict::Pass;
    };
    match power(vm) {
        None => return Verdict::Skip("power_state_unknown"),
        Some(Power::Deallocated) => {}
        Some(_) => return Verdict::Pass,
    }
    let reserved_since = (disk_state(disk) == "reserved")
        .then(|| time(disk.props(), &["LastOwnershipUpdateTime"]))
        .flatten();
    let Some(since) =
        reserved_since.or_else(|| c.scope.condition(&vm.resource_id, "vm_deallocated"))
    else {
        return Verdict::Skip("no_condition_history");
    };
    let min_days = c.param("min_days");
    if c.days_since(since) < min_days {
        return Verdict::Pass;
    }
    let target = "Standard_LRS";
    let estimate = match tier_change(c, disk, target) {
        Ok(e) => e,
        Err(v) => return v,
    };
    Verdict::fire(
        Draft::new(
            format!("Move disk {} of deallocated VM {} to Standard HDD", disk.name, vm.name),
            format!(
                "Disk {} ({}) belongs to VM {}, deallocated since {}: while it stays off, Standard HDD keeps the data for less. Change the disk's SKU to {target} (and back before starting the VM if it needs the performance).",
                disk.name,
                disk.sku_name(),
                vm.name,
                since.date_naive()
            ),
            0.85,
        )
        .variant(target)
        .evidence(json!({"vm": vm.resource_id, "deallocated_since": since, "min_days": min_days,
            "current_sku": disk.sku_name(), "target_sku": target}))
        .savings(estimate),
    )
}

fn premium_underused(c: &Check<'_, '_>, disk: &Resource) -> Verdict {
    if family(disk) != "premium" {
        return Verdict::Pass;
    }
    let Some(vm) = c.scope.disk_vm(&disk.resource_id) else {
        return Verdict::Pass;
    };
    match power(vm) {
        None => return Verdict::Skip("power_state_unknown"),
        Some(Power::Running) => {}
        Some(_) => return Verdict::Pass,
    }
    let stats = c
        .stat(&disk.resource_id, "IOPS Consumed Percentage")
        .and_then(|iops| Ok((iops, c.stat(&disk.resource_id, "MBps Consumed Percentage")?)));
    let (iops, mbps) = match stats {
        Ok(s) => s,
        Err(reason) => return Verdict::Skip(reason),
    };
    let (max_iops, max_mbps) = (c.param("max_iops_percent"), c.param("max_mbps_percent"));
    if !(iops.p95 < max_iops && mbps.p95 < max_mbps) {
        return Verdict::Pass;
    }
    let target = format!("StandardSSD_{}", redundancy(disk.sku_name()));
    let estimate = match tier_change(c, disk, &target) {
        Ok(e) => e,
        Err(v) => return v,
    };
    Verdict::fire(
        Draft::new(
            format!("Move underused Premium disk {} to Standard SSD", disk.name),
            format!(
                "Premium disk {} of VM {} uses little of what it is provisioned for: p95 IOPS consumed {:.2} % (threshold {max_iops} %), p95 throughput consumed {:.2} % (threshold {max_mbps} %). Standard SSD serves that load for less.",
                disk.name, vm.name, iops.p95, mbps.p95
            ),
            0.7,
        )
        .variant(target.clone())
        .evidence(json!({"iops_consumed_p95_percent": iops.p95, "max_iops_percent": max_iops,
            "mbps_consumed_p95_percent": mbps.p95, "max_mbps_percent": max_mbps,
            "samples": iops.samples.min(mbps.samples), "min_samples": c.param("min_samples"),
            "current_sku": disk.sku_name(), "target_sku": target}))
        .savings(estimate),
    )
}

/// A snapshot's age in days, or the skip when it has no creation time.
fn age(
    c: &Check<'_, '_>,
    snapshot: &Resource,
) -> Result<(chrono::DateTime<chrono::Utc>, f64), Verdict> {
    let created = snapshot
        .created()
        .ok_or(Verdict::Skip("creation_time_unknown"))?;
    Ok((created, c.days_since(created)))
}

fn stale(c: &Check<'_, '_>, snapshot: &Resource) -> Verdict {
    let (created, days) = match age(c, snapshot) {
        Ok(a) => a,
        Err(v) => return v,
    };
    let min_age = c.param("min_age_days");
    if days < min_age {
        return Verdict::Pass;
    }
    let estimate = savings::c30(c.scope, snapshot, || {
        meters::resource(&c.scope.prices, snapshot)
    });
    Verdict::fire(
        Draft::new(
            format!("Delete stale snapshot {}", snapshot.name),
            format!(
                "Snapshot {} was taken on {}, more than {min_age} days ago. Delete it unless a retention policy needs it (then keep it in a backup vault).",
                snapshot.name,
                created.date_naive()
            ),
            0.75,
        )
        .evidence(json!({"created": created, "min_age_days": min_age}))
        .savings(estimate),
    )
}

fn premium_snapshot(c: &Check<'_, '_>, snapshot: &Resource) -> Verdict {
    if family(snapshot) != "premium" {
        return Verdict::Pass;
    }
    let book = &c.scope.prices;
    let target = format!("Standard_{}", redundancy(snapshot.sku_name()));
    let prices = size_gb(snapshot).and_then(|size| {
        let current = meters::snapshot(book, &snapshot.location, snapshot.sku_name(), size)?;
        Some((
            current,
            meters::snapshot(book, &snapshot.location, &target, size)?,
        ))
    });
    let Some((current, to)) = prices else {
        return Verdict::Skip("no_price");
    };
    Verdict::fire(
        Draft::new(
            format!("Store snapshot {} on Standard storage", snapshot.name),
            format!(
                "Snapshot {} ({} GB) is stored on {}; a snapshot is read rarely, Standard storage keeps it for less. Take it again as {target} (incremental) and delete this one.",
                snapshot.name,
                size_gb(snapshot).unwrap_or_default(),
                snapshot.sku_name()
            ),
            0.85,
        )
        .variant(target.clone())
        .evidence(json!({"current_sku": snapshot.sku_name(), "target_sku": target}))
        .savings(savings::delta(c.scope, snapshot, &current, &to)),
    )
}

fn orphaned_source(c: &Check<'_, '_>, snapshot: &Resource) -> Verdict {
    let source = text(snapshot.props(), &["creationData", "sourceResourceId"]).to_ascii_lowercase();
    if source.is_empty() || c.scope.resource(&source).is_some() {
        return Verdict::Pass;
    }
    if subscription_of(&source) != subscription_of(&snapshot.resource_id) {
        return Verdict::Skip("source_outside_subscription");
    }
    let (created, days) = match age(c, snapshot) {
        Ok(a) => a,
        Err(v) => return v,
    };
    let min_age = c.param("min_age_days");
    if days < min_age {
        return Verdict::Pass;
    }
    let estimate = savings::c30(c.scope, snapshot, || {
        meters::resource(&c.scope.prices, snapshot)
    });
    Verdict::fire(
        Draft::new(
            format!("Delete snapshot {} of a deleted disk", snapshot.name),
            format!(
                "Snapshot {} (taken on {}) was made from {}, which no longer exists. Delete it unless it is the only copy of data someone needs.",
                snapshot.name,
                created.date_naive(),
                source
            ),
            0.8,
        )
        .evidence(json!({"source_resource_id": source, "source_exists": false, "created": created, "min_age_days": min_age}))
        .savings(estimate),
    )
}

#[cfg(test)]
mod tests;
