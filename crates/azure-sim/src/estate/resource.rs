//! One resource of the inventory: its kind, tags and kind-specific details.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::arm_json;

/// One resource of the inventory.
#[derive(Debug, Clone)]
pub struct Resource {
    /// ARM id with the provider's casing, e.g. `/subscriptions/…/providers/Microsoft.Compute/virtualMachines/vm-web-0001`.
    pub id: String,
    pub name: String,
    pub subscription_id: Uuid,
    pub tenant_id: Uuid,
    pub resource_group: String,
    pub location: &'static str,
    pub tags: Tags,
    pub details: Details,
    /// A stable hash of the id, the source of every per-resource random value.
    pub hash: u64,
}

/// The resource types in the estate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    VirtualMachine,
    Disk,
    PublicIp,
    NetworkInterface,
    Snapshot,
    AppServicePlan,
    SqlDatabase,
    StorageAccount,
}

impl ResourceKind {
    /// Every kind, in generation order.
    pub const ALL: [ResourceKind; 8] = [
        Self::VirtualMachine,
        Self::Disk,
        Self::NetworkInterface,
        Self::PublicIp,
        Self::Snapshot,
        Self::AppServicePlan,
        Self::SqlDatabase,
        Self::StorageAccount,
    ];

    /// The ARM resource type with the provider's casing.
    pub fn arm_type(self) -> &'static str {
        match self {
            Self::VirtualMachine => "Microsoft.Compute/virtualMachines",
            Self::Disk => "Microsoft.Compute/disks",
            Self::PublicIp => "Microsoft.Network/publicIPAddresses",
            Self::NetworkInterface => "Microsoft.Network/networkInterfaces",
            Self::Snapshot => "Microsoft.Compute/snapshots",
            Self::AppServicePlan => "Microsoft.Web/serverFarms",
            Self::SqlDatabase => "Microsoft.Sql/servers/databases",
            Self::StorageAccount => "Microsoft.Storage/storageAccounts",
        }
    }
}

/// Tags. A few resources carry them as a JSON *string* (connectors must coerce); those never
/// carry `cost-center`, so "missing cost-center" means the same whichever way one reads them.
#[derive(Debug, Clone, Default)]
pub struct Tags {
    pub environment: Option<&'static str>,
    pub cost_center: Option<&'static str>,
    pub owner: Option<&'static str>,
    pub application: Option<&'static str>,
    pub as_json_string: bool,
}

impl Tags {
    /// The tags as a map.
    pub fn to_map(&self) -> BTreeMap<&'static str, &'static str> {
        let pairs = [
            ("environment", self.environment),
            ("cost-center", self.cost_center),
            ("owner", self.owner),
            ("application", self.application),
        ];
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect()
    }

    /// The wire form: an object, or for a few resources that object serialised as a string.
    pub fn to_json(&self) -> Value {
        let object = serde_json::json!(self.to_map());
        if self.as_json_string {
            Value::String(object.to_string())
        } else {
            object
        }
    }
}

/// What is specific to each kind of resource.
#[derive(Debug, Clone)]
pub enum Details {
    VirtualMachine(Vm),
    Disk(Disk),
    PublicIp(PublicIp),
    NetworkInterface(Nic),
    Snapshot(Snapshot),
    AppServicePlan(AppServicePlan),
    SqlDatabase(SqlDatabase),
    StorageAccount(StorageAccount),
}

/// A VM size with its shape and pay-as-you-go price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmSize {
    pub name: &'static str,
    pub vcpus: u32,
    pub memory_gb: u32,
    pub hourly_price: f64,
}

/// How busy a VM is (drives its metrics and the Advisor shutdown/resize recommendations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utilisation {
    /// Average CPU below 5 %.
    Idle,
    Moderate,
    Busy,
}

#[derive(Debug, Clone)]
pub struct Vm {
    pub size: VmSize,
    pub os_type: &'static str,
    pub running: bool,
    /// Covered by a reservation: actual cost shows a monthly purchase, amortized spreads it.
    pub reserved: bool,
    pub utilisation: Utilisation,
    pub vm_id: Uuid,
    pub time_created: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Disk {
    pub size_gb: u32,
    pub sku: &'static str,
    /// The VM the disk is attached to; `None` is `diskState = Unattached`.
    pub managed_by: Option<String>,
    pub time_created: DateTime<Utc>,
}

/// What a public IP is bound to (`None` = orphaned).
#[derive(Debug, Clone)]
pub enum IpBinding {
    IpConfiguration(String),
    NatGateway(String),
    None,
}

#[derive(Debug, Clone)]
pub struct PublicIp {
    pub address: String,
    pub sku: &'static str,
    pub binding: IpBinding,
}

#[derive(Debug, Clone)]
pub struct Nic {
    pub virtual_machine: Option<String>,
    pub private_ip: String,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub size_gb: u32,
    pub time_created: DateTime<Utc>,
    pub source_disk: String,
}

#[derive(Debug, Clone)]
pub struct AppServicePlan {
    pub sku_name: &'static str,
    pub tier: &'static str,
    pub workers: u32,
    pub hourly_price: f64,
}

#[derive(Debug, Clone)]
pub struct SqlDatabase {
    pub server: String,
    pub sku_name: &'static str,
    pub tier: &'static str,
    pub capacity: u32,
    pub family: Option<&'static str>,
    pub daily_price: f64,
}

#[derive(Debug, Clone)]
pub struct StorageAccount {
    pub sku: &'static str,
    pub access_tier: &'static str,
    pub daily_price: f64,
}

impl Resource {
    /// The resource's kind.
    pub fn kind(&self) -> ResourceKind {
        match &self.details {
            Details::VirtualMachine(_) => ResourceKind::VirtualMachine,
            Details::Disk(_) => ResourceKind::Disk,
            Details::PublicIp(_) => ResourceKind::PublicIp,
            Details::NetworkInterface(_) => ResourceKind::NetworkInterface,
            Details::Snapshot(_) => ResourceKind::Snapshot,
            Details::AppServicePlan(_) => ResourceKind::AppServicePlan,
            Details::SqlDatabase(_) => ResourceKind::SqlDatabase,
            Details::StorageAccount(_) => ResourceKind::StorageAccount,
        }
    }

    /// The VM details, when this is a VM.
    pub fn vm(&self) -> Option<&Vm> {
        match &self.details {
            Details::VirtualMachine(vm) => Some(vm),
            _ => None,
        }
    }

    /// The resource as Resource Graph returns it from `Resources` (lower-case `type`, `properties`).
    pub fn to_graph_json(&self) -> Value {
        arm_json::graph_object(self)
    }
}
