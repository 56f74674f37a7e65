//! One resource of the inventory: its kind, tags and kind-specific details.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::arm_json;
use super::kinds::*;

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
    /// When it was created: nothing is billed, measured or attached before.
    pub created: DateTime<Utc>,
    pub details: Details,
    /// A stable hash of the id, the source of every per-resource random value.
    pub hash: u64,
}

macro_rules! kinds {
    ($( $kind:ident => $arm:literal ),* $(,)?) => {
        /// The resource types in the estate.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ResourceKind { $( $kind ),* }

        impl ResourceKind {
            /// Every kind.
            pub const ALL: [ResourceKind; [$( stringify!($kind) ),*].len()] = [$( Self::$kind ),*];

            /// The ARM resource type with the provider's casing.
            pub fn arm_type(self) -> &'static str {
                match self { $( Self::$kind => $arm ),* }
            }
        }
    };
}

kinds! {
    VirtualMachine => "Microsoft.Compute/virtualMachines",
    Disk => "Microsoft.Compute/disks",
    NetworkInterface => "Microsoft.Network/networkInterfaces",
    PublicIp => "Microsoft.Network/publicIPAddresses",
    Snapshot => "Microsoft.Compute/snapshots",
    AppServicePlan => "Microsoft.Web/serverFarms",
    SqlDatabase => "Microsoft.Sql/servers/databases",
    StorageAccount => "Microsoft.Storage/storageAccounts",
    VirtualNetwork => "Microsoft.Network/virtualNetworks",
    WebSite => "Microsoft.Web/sites",
    SqlServer => "Microsoft.Sql/servers",
    ElasticPool => "Microsoft.Sql/servers/elasticPools",
    SqlVirtualMachine => "Microsoft.SqlVirtualMachine/sqlVirtualMachines",
    LoadBalancer => "Microsoft.Network/loadBalancers",
    ApplicationGateway => "Microsoft.Network/applicationGateways",
    NatGateway => "Microsoft.Network/natGateways",
    VirtualNetworkGateway => "Microsoft.Network/virtualNetworkGateways",
    Connection => "Microsoft.Network/connections",
    PrivateEndpoint => "Microsoft.Network/privateEndpoints",
    ExpressRouteCircuit => "Microsoft.Network/expressRouteCircuits",
    VirtualMachineScaleSet => "Microsoft.Compute/virtualMachineScaleSets",
    DdosProtectionPlan => "Microsoft.Network/ddosProtectionPlans",
    ClassicStorageAccount => "Microsoft.ClassicStorage/storageAccounts",
}

/// Tags. A few resources carry them as a JSON *string* (connectors must coerce); those never
/// carry `cost-center`, so "missing cost-center" means the same whichever way one reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    NetworkInterface(Nic),
    PublicIp(PublicIp),
    Snapshot(Snapshot),
    AppServicePlan(AppServicePlan),
    SqlDatabase(SqlDatabase),
    StorageAccount(StorageAccount),
    VirtualNetwork(VirtualNetwork),
    WebSite(WebSite),
    SqlServer(SqlServer),
    ElasticPool(ElasticPool),
    SqlVirtualMachine(SqlVm),
    LoadBalancer(LoadBalancer),
    ApplicationGateway(AppGateway),
    NatGateway(NatGateway),
    VirtualNetworkGateway(VnetGateway),
    Connection(Connection),
    PrivateEndpoint(PrivateEndpoint),
    ExpressRouteCircuit(ErCircuitDetails),
    VirtualMachineScaleSet(Vmss),
    DdosProtectionPlan(DdosPlan),
    ClassicStorageAccount(StorageAccount),
}

impl Details {
    /// The kind these details belong to.
    pub fn kind(&self) -> ResourceKind {
        match self {
            Self::VirtualMachine(_) => ResourceKind::VirtualMachine,
            Self::Disk(_) => ResourceKind::Disk,
            Self::NetworkInterface(_) => ResourceKind::NetworkInterface,
            Self::PublicIp(_) => ResourceKind::PublicIp,
            Self::Snapshot(_) => ResourceKind::Snapshot,
            Self::AppServicePlan(_) => ResourceKind::AppServicePlan,
            Self::SqlDatabase(_) => ResourceKind::SqlDatabase,
            Self::StorageAccount(_) => ResourceKind::StorageAccount,
            Self::VirtualNetwork(_) => ResourceKind::VirtualNetwork,
            Self::WebSite(_) => ResourceKind::WebSite,
            Self::SqlServer(_) => ResourceKind::SqlServer,
            Self::ElasticPool(_) => ResourceKind::ElasticPool,
            Self::SqlVirtualMachine(_) => ResourceKind::SqlVirtualMachine,
            Self::LoadBalancer(_) => ResourceKind::LoadBalancer,
            Self::ApplicationGateway(_) => ResourceKind::ApplicationGateway,
            Self::NatGateway(_) => ResourceKind::NatGateway,
            Self::VirtualNetworkGateway(_) => ResourceKind::VirtualNetworkGateway,
            Self::Connection(_) => ResourceKind::Connection,
            Self::PrivateEndpoint(_) => ResourceKind::PrivateEndpoint,
            Self::ExpressRouteCircuit(_) => ResourceKind::ExpressRouteCircuit,
            Self::VirtualMachineScaleSet(_) => ResourceKind::VirtualMachineScaleSet,
            Self::DdosProtectionPlan(_) => ResourceKind::DdosProtectionPlan,
            Self::ClassicStorageAccount(_) => ResourceKind::ClassicStorageAccount,
        }
    }
}

impl Resource {
    /// The resource's kind.
    pub fn kind(&self) -> ResourceKind {
        self.details.kind()
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
