//! Compute: virtual machines, managed disks, snapshots, scale sets and SQL VMs.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::catalog::VmSize;

/// A VM's power state, as `properties.extended.instanceView.powerState.code` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    Running,
    /// Stopped from inside the guest: still allocated, still billed.
    Stopped,
    /// Stopped and deallocated: compute is not billed.
    Deallocated,
}

impl PowerState {
    /// `PowerState/running` and its display status.
    pub fn code(self) -> (&'static str, &'static str) {
        match self {
            Self::Running => ("PowerState/running", "VM running"),
            Self::Stopped => ("PowerState/stopped", "VM stopped"),
            Self::Deallocated => ("PowerState/deallocated", "VM deallocated"),
        }
    }
}

/// How busy a resource is: what its metrics show and which conditions it plants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utilisation {
    /// CPU below 5 % every hour (VMs keep most of their memory in use).
    Idle,
    /// CPU and memory low enough for the planted smaller size (or SKU, or objective).
    Oversized,
    Moderate,
    Busy,
}

#[derive(Debug, Clone)]
pub struct Vm {
    pub size: VmSize,
    /// `Linux` or `Windows`.
    pub os_type: &'static str,
    pub power: PowerState,
    /// When the current power state began (the creation time for a VM running since then).
    pub power_since: DateTime<Utc>,
    /// Covered by a reservation: actual cost shows a monthly purchase, amortized spreads it.
    pub reserved: bool,
    pub utilisation: Utilisation,
    /// For an oversized VM: the cheapest same-family size its load and its disks and NICs fit.
    pub rightsize_target: Option<VmSize>,
    /// `licenseType: Windows_Server` (Azure Hybrid Benefit): billed at the Linux price.
    pub hybrid_benefit: bool,
    /// A VHD in a storage account instead of a managed OS disk (a retired configuration).
    pub unmanaged_disks: bool,
    pub vm_id: Uuid,
    /// The managed OS disk, if any (none: an ephemeral or unmanaged OS disk).
    pub os_disk: Option<String>,
    /// Data disks, LUN = position.
    pub data_disks: Vec<String>,
    pub nics: Vec<String>,
    /// The SQL VM registration of this VM, and whether its SQL licence is pay-as-you-go.
    pub sql_vm: Option<(String, bool)>,
}

impl Vm {
    /// Whether the VM runs now.
    pub fn is_running(&self) -> bool {
        self.power == PowerState::Running
    }

    /// Whether the VM was running (powered and measured) at `t`.
    pub fn running_at(&self, created: DateTime<Utc>, t: DateTime<Utc>) -> bool {
        t >= created && (self.power == PowerState::Running || t < self.power_since)
    }

    /// Whether compute was billed at `t` (running, or stopped but still allocated).
    pub fn billed_at(&self, created: DateTime<Utc>, t: DateTime<Utc>) -> bool {
        t >= created && (self.power != PowerState::Deallocated || t < self.power_since)
    }

    /// Windows without Azure Hybrid Benefit pays the Windows price.
    pub fn pays_windows_licence(&self) -> bool {
        self.os_type == "Windows" && !self.hybrid_benefit
    }
}

/// A managed disk's `diskState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskState {
    Attached,
    Unattached,
    /// Attached to a deallocated VM.
    Reserved,
}

impl DiskState {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attached => "Attached",
            Self::Unattached => "Unattached",
            Self::Reserved => "Reserved",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Disk {
    pub size_gb: u32,
    pub sku: &'static str,
    /// The VM the disk is attached to; `None` is `diskState = Unattached`.
    pub managed_by: Option<String>,
    pub state: DiskState,
    /// When it was last attached or detached (`LastOwnershipUpdateTime`); `None` if never.
    pub ownership_since: Option<DateTime<Utc>>,
    /// Its VM's OS disk (then `osType` is set).
    pub os_type: Option<&'static str>,
    /// Premium disk whose I/O stays under 3 % of what it is provisioned for.
    pub io_underused: bool,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub size_gb: u32,
    /// `Standard_LRS` or `Premium_LRS`.
    pub sku: &'static str,
    pub source_disk: String,
    /// Whether the source disk still exists in the estate.
    pub source_exists: bool,
}

#[derive(Debug, Clone)]
pub struct Vmss {
    pub size: VmSize,
    pub capacity: u32,
    /// `Oversized` plants `vmss.underused`.
    pub utilisation: Utilisation,
}

/// A `Microsoft.SqlVirtualMachine/sqlVirtualMachines` registration.
#[derive(Debug, Clone)]
pub struct SqlVm {
    pub virtual_machine: String,
    /// `PAYG` or `AHUB`.
    pub license_type: &'static str,
}
