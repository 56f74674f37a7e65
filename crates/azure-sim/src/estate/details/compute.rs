//! Own attributes of VMs, disks, snapshots, scale sets and SQL VM registrations.

use chrono::{DateTime, Utc};

use super::super::catalog::{DISK_SIZES, ESTATE_VM_SIZES, OVERSIZABLE_VM_SIZES};
use super::super::kinds::{Disk, DiskState, PowerState, Snapshot, SqlVm, Utilisation, Vm, Vmss};
use super::super::plan::{Plant, Skeleton};
use super::ago_after;
use crate::catalog::{VmSize, family_sizes, vm_size};
use crate::rng::{SplitMix64, uuid_from};

fn weighted_size(r: &mut SplitMix64) -> VmSize {
    let total: u64 = ESTATE_VM_SIZES.iter().map(|(_, w)| w).sum();
    let mut roll = r.below(total);
    for (name, weight) in ESTATE_VM_SIZES {
        if roll < weight {
            return vm_size(name).unwrap_or(crate::catalog::VM_SIZES[0]);
        }
        roll -= weight;
    }
    crate::catalog::VM_SIZES[0]
}

fn oversizable(size: &VmSize) -> bool {
    OVERSIZABLE_VM_SIZES.contains(&size.name)
}

pub(super) fn vm(
    r: &mut SplitMix64,
    s: &Skeleton,
    midnight: DateTime<Utc>,
    created: DateTime<Utc>,
) -> Vm {
    let size = if s.plant == Plant::OversizedVm {
        vm_size(r.pick(&OVERSIZABLE_VM_SIZES)).unwrap_or_else(|| weighted_size(r))
    } else {
        weighted_size(r)
    };
    let sql_host = matches!(s.plant, Plant::SqlPaygVm | Plant::SqlHost);
    let windows = sql_host || r.chance(0.3);
    let power = match s.plant {
        Plant::DeallocatedVm => PowerState::Deallocated,
        Plant::StoppedVm => PowerState::Stopped,
        Plant::IdleVm | Plant::OversizedVm | Plant::SqlPaygVm => PowerState::Running,
        _ => match r.next_f64() {
            x if x < 0.80 => PowerState::Running,
            x if x < 0.87 => PowerState::Stopped,
            _ => PowerState::Deallocated,
        },
    };
    let power_since = match (power, s.plant) {
        (PowerState::Running, _) => created,
        (PowerState::Stopped, _) => ago_after(r, midnight, 1..40, created),
        (PowerState::Deallocated, Plant::DeallocatedVm) => ago_after(r, midnight, 35..200, created),
        (PowerState::Deallocated, _) => ago_after(r, midnight, 1..200, created),
    };
    let utilisation = utilisation(r, s.plant, &size);
    Vm {
        rightsize_target: (utilisation == Utilisation::Oversized).then(|| smaller(r, &size)),
        size,
        os_type: if windows { "Windows" } else { "Linux" },
        power,
        power_since,
        reserved: power == PowerState::Running && !sql_host && r.chance(0.12),
        utilisation,
        hybrid_benefit: windows && s.plant != Plant::SqlPaygVm && r.chance(0.4),
        unmanaged_disks: s.plant == Plant::None && r.chance(0.03),
        vm_id: uuid_from(r.next_u64(), "vm", 0),
        os_disk: None,
        data_disks: Vec::new(),
        nics: Vec::new(),
        sql_vm: None,
    }
}

fn utilisation(r: &mut SplitMix64, plant: Plant, size: &VmSize) -> Utilisation {
    match plant {
        Plant::IdleVm => return Utilisation::Idle,
        Plant::OversizedVm => return Utilisation::Oversized,
        _ => {}
    }
    let roll = r.next_f64();
    if oversizable(size) {
        match roll {
            x if x < 0.2 => Utilisation::Idle,
            x if x < 0.4 => Utilisation::Oversized,
            x if x < 0.8 => Utilisation::Moderate,
            _ => Utilisation::Busy,
        }
    } else {
        match roll {
            x if x < 0.25 => Utilisation::Idle,
            x if x < 0.75 => Utilisation::Moderate,
            _ => Utilisation::Busy,
        }
    }
}

/// A same-family size with half or a quarter of the vCPUs (at least two).
fn smaller(r: &mut SplitMix64, size: &VmSize) -> VmSize {
    let divisor = if size.vcpus >= 8 && r.chance(0.5) {
        4
    } else {
        2
    };
    let vcpus = (size.vcpus / divisor).max(2);
    family_sizes(size.family)
        .find(|s| s.vcpus == vcpus)
        .unwrap_or(*size)
}

pub(super) fn disk(r: &mut SplitMix64, plant: Plant) -> Disk {
    let sku = match plant {
        Plant::UnderusedPremiumDisk => "Premium_LRS",
        _ => match r.next_f64() {
            x if x < 0.4 => "Premium_LRS",
            x if x < 0.75 => "StandardSSD_LRS",
            _ => "Standard_LRS",
        },
    };
    Disk {
        size_gb: r.pick(&DISK_SIZES),
        sku,
        managed_by: None,
        state: DiskState::Unattached,
        ownership_since: None,
        os_type: None,
        io_underused: sku == "Premium_LRS"
            && (plant == Plant::UnderusedPremiumDisk || r.chance(0.3)),
    }
}

pub(super) fn snapshot(r: &mut SplitMix64) -> Snapshot {
    Snapshot {
        size_gb: r.pick(&DISK_SIZES),
        sku: if r.chance(0.25) {
            "Premium_LRS"
        } else {
            "Standard_LRS"
        },
        source_disk: String::new(),
        source_exists: false,
    }
}

pub(super) fn vmss(r: &mut SplitMix64, plant: Plant) -> Vmss {
    let size = [
        "Standard_B2s",
        "Standard_D2s_v5",
        "Standard_D4s_v5",
        "Standard_F4s_v2",
    ];
    Vmss {
        size: vm_size(r.pick(&size)).unwrap_or(crate::catalog::VM_SIZES[0]),
        capacity: 2 + r.below(5) as u32,
        utilisation: match (plant, r.next_f64()) {
            (Plant::UnderusedVmss, _) => Utilisation::Oversized,
            (_, x) if x < 0.25 => Utilisation::Oversized,
            (_, x) if x < 0.75 => Utilisation::Moderate,
            _ => Utilisation::Busy,
        },
    }
}

pub(super) fn sql_vm(r: &mut SplitMix64, s: &Skeleton) -> SqlVm {
    let payg = s.plant == Plant::SqlPaygVm || r.chance(0.5);
    SqlVm {
        virtual_machine: s.partner.clone().unwrap_or_default(),
        license_type: if payg { "PAYG" } else { "AHUB" },
    }
}
