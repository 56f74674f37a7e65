//! The tables the generator draws from: names, regions and how often each kind and size
//! occurs (sizes and prices themselves are in [`crate::catalog`]).

use super::ResourceKind;

pub(super) const TENANT_NAMES: [&str; 10] = [
    "Contoso",
    "Fabrikam",
    "Northwind",
    "Tailspin",
    "Wingtip",
    "AdventureWorks",
    "Litware",
    "Proseware",
    "Woodgrove",
    "Alpine Ski House",
];
pub(super) const GROUP_NAMES: [&str; 10] = [
    "RG-Prod-Web",
    "rg-prod-data",
    "Rg-Dev-Sandbox",
    "Finance-Shared",
    "rg-Analytics-EUW",
    "NetworkWatcherRG",
    "DefaultResourceGroup-WEU",
    "App-Platform-PRD",
    "rg-backup",
    "MC_aks-Core_westeurope",
];
pub(super) const LOCATIONS: [&str; 7] = [
    "westeurope",
    "northeurope",
    "eastus",
    "eastus2",
    "westus2",
    "uksouth",
    "francecentral",
];
pub(super) const ENVIRONMENTS: [&str; 3] = ["prod", "dev", "test"];
pub(super) const COST_CENTERS: [&str; 6] = [
    "CC-1001", "CC-1002", "CC-2040", "CC-3300", "CC-4711", "CC-5100",
];
pub(super) const OWNERS: [&str; 4] = [
    "alice@example.com",
    "bob@example.com",
    "platform-team@example.com",
    "data-team@example.com",
];
pub(super) const APPLICATIONS: [&str; 5] = ["webshop", "billing", "datalake", "intranet", "crm"];
/// VM sizes the estate uses, with their relative frequency.
pub(super) const ESTATE_VM_SIZES: [(&str, u64); 10] = [
    ("Standard_B2s", 12),
    ("Standard_B2ms", 8),
    ("Standard_D2s_v5", 18),
    ("Standard_D4s_v5", 16),
    ("Standard_D8s_v5", 10),
    ("Standard_D16s_v5", 5),
    ("Standard_E4s_v5", 9),
    ("Standard_E8s_v5", 6),
    ("Standard_F4s_v2", 9),
    ("Standard_F8s_v2", 7),
];
/// Sizes an oversized VM can have (a smaller size of its family exists).
pub(super) const OVERSIZABLE_VM_SIZES: [&str; 7] = [
    "Standard_D4s_v5",
    "Standard_D8s_v5",
    "Standard_D16s_v5",
    "Standard_E4s_v5",
    "Standard_E8s_v5",
    "Standard_F4s_v2",
    "Standard_F8s_v2",
];
pub(super) const STORAGE_SKUS: [&str; 4] = [
    "Standard_LRS",
    "Standard_GRS",
    "Standard_ZRS",
    "Premium_LRS",
];
pub(super) const DISK_SIZES: [u32; 6] = [32, 64, 128, 256, 512, 1024];
/// Relative frequency of each kind (per mille) after the prefix: most resources are VMs,
/// disks, NICs, public IPs, snapshots and storage, as in real estates.
pub(super) const KIND_WEIGHTS: [(ResourceKind, u64); 23] = [
    (ResourceKind::VirtualMachine, 170),
    (ResourceKind::Disk, 170),
    (ResourceKind::NetworkInterface, 140),
    (ResourceKind::PublicIp, 90),
    (ResourceKind::Snapshot, 80),
    (ResourceKind::StorageAccount, 105),
    (ResourceKind::VirtualNetwork, 30),
    (ResourceKind::AppServicePlan, 25),
    (ResourceKind::WebSite, 35),
    (ResourceKind::SqlServer, 15),
    (ResourceKind::SqlDatabase, 40),
    (ResourceKind::ElasticPool, 5),
    (ResourceKind::SqlVirtualMachine, 12),
    (ResourceKind::LoadBalancer, 20),
    (ResourceKind::ApplicationGateway, 8),
    (ResourceKind::NatGateway, 8),
    (ResourceKind::VirtualNetworkGateway, 6),
    (ResourceKind::Connection, 6),
    (ResourceKind::PrivateEndpoint, 18),
    (ResourceKind::ExpressRouteCircuit, 3),
    (ResourceKind::VirtualMachineScaleSet, 10),
    (ResourceKind::DdosProtectionPlan, 1),
    (ResourceKind::ClassicStorageAccount, 3),
];
