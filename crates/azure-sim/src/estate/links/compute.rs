//! Disks to VMs (OS disk first, then data disks, within the size's limit), snapshots to their
//! source disks, SQL VM registrations to their VMs, and the rightsizing target that fits.

use chrono::{DateTime, Duration, Utc};

use super::super::details::ago_after;
use super::super::kinds::{DiskState, PowerState, Utilisation};
use super::super::plan::Plant;
use super::super::resource::{Details, Resource, ResourceKind};
use super::{Index, link_rng, pick};
use crate::catalog::family_sizes;

pub(super) fn disks(
    res: &mut [Resource],
    plants: &[Plant],
    index: &Index,
    midnight: DateTime<Utc>,
) {
    let vms = index.of(ResourceKind::VirtualMachine);
    let mut room: Vec<u32> = vms
        .iter()
        .map(|i| match res[*i].vm() {
            Some(vm) if !vm.unmanaged_disks => vm.size.max_data_disks + 1,
            _ => 0,
        })
        .collect();
    let running: Vec<bool> = vms
        .iter()
        .map(|i| res[*i].vm().is_some_and(|v| v.is_running()))
        .collect();
    let mut attached: Vec<Vec<String>> = vec![Vec::new(); vms.len()];
    for d in index.of(ResourceKind::Disk) {
        let mut r = link_rng(&res[d]);
        let wanted = match plants[d] {
            Plant::UnattachedDisk => None,
            Plant::UnderusedPremiumDisk => Some(true),
            _ => r.chance(0.65).then_some(false),
        };
        let slot = wanted.and_then(|need_running| {
            pick(&mut r, vms.len(), |k| {
                room[k] > 0 && (running[k] || !need_running)
            })
        });
        let disk_created = res[d].created;
        let (owner, state, since) = match slot {
            Some(k) => {
                room[k] -= 1;
                let vm_res = &res[vms[k]];
                let attached_at = disk_created.max(vm_res.created) + Duration::hours(1);
                let (state, since) = match vm_res.vm().map(|v| (v.power, v.power_since)) {
                    Some((PowerState::Deallocated, since)) => {
                        (DiskState::Reserved, since.max(attached_at))
                    }
                    _ => (DiskState::Attached, attached_at),
                };
                attached[k].push(res[d].id.clone());
                (Some(vm_res.id.clone()), state, Some(since))
            }
            None if plants[d] != Plant::UnattachedDisk && r.chance(0.2) => {
                (None, DiskState::Unattached, None)
            }
            None => {
                let first = if plants[d] == Plant::UnattachedDisk {
                    8
                } else {
                    1
                };
                let since = ago_after(&mut r, midnight, first..120, disk_created);
                (None, DiskState::Unattached, Some(since))
            }
        };
        if let Details::Disk(disk) = &mut res[d].details {
            disk.managed_by = owner;
            disk.state = state;
            disk.ownership_since = since;
        }
    }
    for (k, mut disks) in attached.into_iter().enumerate() {
        if disks.is_empty() {
            continue;
        }
        let os = disks.remove(0);
        let os_type = res[vms[k]].vm().map(|v| v.os_type);
        if let Details::VirtualMachine(vm) = &mut res[vms[k]].details {
            vm.os_disk = Some(os.clone());
            vm.data_disks = disks;
        }
        if let Some(i) = index.find(&os)
            && let Details::Disk(disk) = &mut res[i].details
        {
            disk.os_type = os_type;
        }
    }
}

pub(super) fn snapshots(res: &mut [Resource], index: &Index) {
    let disks: Vec<String> = index
        .of(ResourceKind::Disk)
        .iter()
        .map(|i| res[*i].id.clone())
        .collect();
    for s in index.of(ResourceKind::Snapshot) {
        let mut r = link_rng(&res[s]);
        let existing = (!r.chance(0.2))
            .then(|| pick(&mut r, disks.len(), |_| true))
            .flatten();
        let source = match existing {
            Some(k) => disks[k].clone(),
            None => format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/disks/disk-deleted-{:04x}",
                res[s].subscription_id,
                res[s].resource_group,
                res[s].hash % 0x10000
            ),
        };
        if let Details::Snapshot(snapshot) = &mut res[s].details {
            snapshot.source_exists = existing.is_some();
            snapshot.source_disk = source;
        }
    }
}

pub(super) fn sql_vms(res: &mut [Resource], index: &Index) {
    for s in index.of(ResourceKind::SqlVirtualMachine) {
        let Details::SqlVirtualMachine(sql) = &res[s].details else {
            continue;
        };
        let payg = sql.license_type == "PAYG";
        let id = res[s].id.clone();
        if let Some(v) = index.find(&sql.virtual_machine)
            && let Details::VirtualMachine(vm) = &mut res[v].details
        {
            vm.sql_vm = Some((id, payg));
        }
    }
}

/// An oversized VM's target grows until it takes the VM's data disks and NICs; a VM whose
/// family has no smaller size that fits is not oversized after all.
pub(super) fn rightsizing(res: &mut [Resource], index: &Index) {
    for v in index.of(ResourceKind::VirtualMachine) {
        let Details::VirtualMachine(vm) = &mut res[v].details else {
            continue;
        };
        let Some(target) = vm.rightsize_target else {
            continue;
        };
        let (disks, nics) = (vm.data_disks.len() as u32, vm.nics.len() as u32);
        let fitting = family_sizes(vm.size.family)
            .find(|s| s.vcpus >= target.vcpus && s.max_data_disks >= disks && s.max_nics >= nics);
        match fitting {
            Some(t) if t.vcpus < vm.size.vcpus => vm.rightsize_target = Some(t),
            _ => {
                vm.rightsize_target = None;
                vm.utilisation = Utilisation::Moderate;
            }
        }
    }
}
