//! Compute rules: VMs stopped but still allocated, VMs deallocated for long, and — by their
//! metrics ([`utilisation`]) — idle VMs, oversized VMs and underused scale sets.
//!
//! A VM's power state is `properties.extended.instanceView.powerState.code` as Resource Graph
//! returns it; a VM without one is judged by no power-state rule (skipped). How long a state
//! has held comes from the condition history (`vm_stopped`, `vm_deallocated`); for a
//! deallocated VM, a disk still `Reserved` by it says when Azure last changed the disk's
//! ownership (`LastOwnershipUpdateTime`, set when its VM was deallocated), which bounds the
//! deallocation from above just as the history's first sighting does: the earlier of the two
//! is used, and neither can make a rule fire early.

mod utilisation;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::json;

use super::Rule;
use super::finding::Draft;
use super::input::Resource;
use super::pricing::{Price, meters};
use super::props::{list, present, reference, text, time};
use super::savings::{self, Estimate};
use super::scope::{Check, Scope, Verdict, nic_public_ips, vm_disk_ids};

const VM: &str = "microsoft.compute/virtualmachines";

pub(crate) const RULES: [Rule; 5] = [
    Rule {
        id: "vm.stopped_allocated",
        types: &[VM],
        check: stopped_allocated,
    },
    Rule {
        id: "vm.long_deallocated",
        types: &[VM],
        check: long_deallocated,
    },
    Rule {
        id: "vm.idle",
        types: &[VM],
        check: utilisation::idle,
    },
    Rule {
        id: "vm.rightsize",
        types: &[VM],
        check: utilisation::rightsize,
    },
    Rule {
        id: "vmss.underused",
        types: &["microsoft.compute/virtualmachinescalesets"],
        check: utilisation::scale_set,
    },
];

/// A VM's power state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Power {
    Running,
    /// Stopped from inside the guest: still allocated and billed.
    Stopped,
    Deallocated,
    /// Starting, or a state the rules do not judge.
    Other,
}

/// The power state of a VM, `None` when the inventory does not say.
pub(crate) fn power(vm: &Resource) -> Option<Power> {
    let code = text(
        vm.props(),
        &["extended", "instanceView", "powerState", "code"],
    );
    if code.is_empty() {
        return None;
    }
    Some(
        match code.to_ascii_lowercase().trim_start_matches("powerstate/") {
            "running" => Power::Running,
            "stopped" | "stopping" => Power::Stopped,
            "deallocated" | "deallocating" => Power::Deallocated,
            _ => Power::Other,
        },
    )
}

/// Whether the VM runs Windows (its OS disk's `osType`).
pub(crate) fn windows(vm: &Resource) -> bool {
    text(vm.props(), &["storageProfile", "osDisk", "osType"]).eq_ignore_ascii_case("windows")
}

/// Whether the VM uses Azure Hybrid Benefit for Windows.
pub(crate) fn hybrid_benefit(vm: &Resource) -> bool {
    let licence = text(vm.props(), &["licenseType"]);
    licence.eq_ignore_ascii_case("Windows_Server") || licence.eq_ignore_ascii_case("Windows_Client")
}

/// Whether the VM is billed the Windows price (Windows without Hybrid Benefit).
pub(crate) fn pays_windows(vm: &Resource) -> bool {
    windows(vm) && !hybrid_benefit(vm)
}

/// The VM's size name.
pub(crate) fn size_name(vm: &Resource) -> &str {
    text(vm.props(), &["hardwareProfile", "vmSize"])
}

/// The VM's compute list price a month, at the price of its OS (unless deallocated: then
/// nothing is billed and there is no retail fallback).
pub(crate) fn compute_price<'a>(
    scope: &Scope<'a>,
    vm: &Resource,
    windows: bool,
) -> Option<Price<'a>> {
    if power(vm) == Some(Power::Deallocated) {
        return None;
    }
    meters::vm(
        &scope.prices,
        &vm.location,
        size_name(vm),
        windows,
        Decimal::ONE,
    )
}

/// Whether a cost line is compute (`Virtual Machines`, and the licences billed with it); a
/// line without a service name is a VM's own, hence compute too.
fn compute_service(service: &str) -> bool {
    let service = service.trim().to_ascii_lowercase();
    service.is_empty() || service.starts_with("virtual machines")
}

fn stopped_allocated(c: &Check<'_, '_>, vm: &Resource) -> Verdict {
    match power(vm) {
        None => return Verdict::Skip("power_state_unknown"),
        Some(Power::Stopped) => {}
        Some(_) => return Verdict::Pass,
    }
    let Some(since) = c.scope.condition(&vm.resource_id, "vm_stopped") else {
        return Verdict::Skip("no_condition_history");
    };
    let min_days = c.param("min_days");
    if c.days_since(since) < min_days {
        return Verdict::Pass;
    }
    let savings = savings::c30_of_services(c.scope, vm, compute_service, || {
        compute_price(c.scope, vm, pays_windows(vm))
    });
    Verdict::fire(
        Draft::new(
            format!("Deallocate stopped VM {}", vm.name),
            format!(
                "VM {} ({}) has been stopped from inside the OS since {}: it is still allocated and its compute is billed. Deallocate it (stop it from Azure) or delete it.",
                vm.name,
                size_name(vm),
                since.date_naive()
            ),
            0.9,
        )
        .evidence(json!({"power_state": "stopped", "stopped_since": since, "min_days": min_days}))
        .savings(savings),
    )
}

/// When the VM was deallocated at the latest: the earlier of the condition history and its
/// reserved disks' last ownership change.
fn deallocated_since(scope: &Scope<'_>, vm: &Resource) -> Option<DateTime<Utc>> {
    let history = scope.condition(&vm.resource_id, "vm_deallocated");
    let disks = vm_disk_ids(vm)
        .into_iter()
        .filter_map(|id| scope.resource(&id))
        .filter(|d| text(d.props(), &["diskState"]).eq_ignore_ascii_case("reserved"))
        .filter_map(|d| time(d.props(), &["LastOwnershipUpdateTime"]));
    history.into_iter().chain(disks).min()
}

/// The disks and public IPs a VM keeps paying for while deallocated.
fn kept_resources<'a>(scope: &Scope<'a>, vm: &Resource) -> Vec<&'a Resource> {
    let disks = vm_disk_ids(vm)
        .into_iter()
        .filter_map(|id| scope.resource(&id));
    let nics = list(vm.props(), &["networkProfile", "networkInterfaces"])
        .iter()
        .filter_map(|n| reference(n, &[]))
        .filter_map(|id| scope.resource(&id));
    let ips = nics
        .flat_map(nic_public_ips)
        .filter_map(|id| scope.resource(&id));
    disks.chain(ips).collect()
}

fn long_deallocated(c: &Check<'_, '_>, vm: &Resource) -> Verdict {
    match power(vm) {
        None => return Verdict::Skip("power_state_unknown"),
        Some(Power::Deallocated) => {}
        Some(_) => return Verdict::Pass,
    }
    let Some(since) = deallocated_since(c.scope, vm) else {
        return Verdict::Skip("no_condition_history");
    };
    let min_days = c.param("min_days");
    if c.days_since(since) < min_days {
        return Verdict::Pass;
    }
    let kept = kept_resources(c.scope, vm);
    let parts: Vec<(String, Estimate)> = kept
        .iter()
        .map(|r| {
            let estimate = savings::c30(c.scope, r, || meters::resource(&c.scope.prices, r));
            (r.resource_id.clone(), estimate)
        })
        .collect();
    let names: Vec<&str> = kept.iter().map(|r| r.name.as_str()).collect();
    Verdict::fire(
        Draft::new(
            format!("Delete long-deallocated VM {}", vm.name),
            format!(
                "VM {} has been deallocated since {}; its disks and public IPs ({}) are still billed. Delete it (snapshot what must be kept) or start using it again.",
                vm.name,
                since.date_naive(),
                if names.is_empty() { "none found".to_owned() } else { names.join(", ") }
            ),
            0.85,
        )
        .evidence(json!({"power_state": "deallocated", "deallocated_since": since, "min_days": min_days,
            "unmanaged_disks": present(vm.props(), &["storageProfile", "osDisk", "vhd"])}))
        .savings(savings::sum(parts)),
    )
}

#[cfg(test)]
mod tests;
