//! The tables the generator draws from: names, regions, SKUs and their list prices.

use super::VmSize;

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
pub(super) const VM_SIZES: [VmSize; 7] = [
    VmSize {
        name: "Standard_B2s",
        vcpus: 2,
        memory_gb: 4,
        hourly_price: 0.0416,
    },
    VmSize {
        name: "Standard_D2s_v5",
        vcpus: 2,
        memory_gb: 8,
        hourly_price: 0.096,
    },
    VmSize {
        name: "Standard_D4s_v5",
        vcpus: 4,
        memory_gb: 16,
        hourly_price: 0.192,
    },
    VmSize {
        name: "Standard_D8s_v5",
        vcpus: 8,
        memory_gb: 32,
        hourly_price: 0.384,
    },
    VmSize {
        name: "Standard_E4s_v5",
        vcpus: 4,
        memory_gb: 32,
        hourly_price: 0.252,
    },
    VmSize {
        name: "Standard_F4s_v2",
        vcpus: 4,
        memory_gb: 8,
        hourly_price: 0.169,
    },
    VmSize {
        name: "Standard_D16s_v5",
        vcpus: 16,
        memory_gb: 64,
        hourly_price: 0.768,
    },
];
pub(super) const DISK_SKUS: [&str; 3] = ["Premium_LRS", "StandardSSD_LRS", "Standard_LRS"];
pub(super) const STORAGE_SKUS: [&str; 4] = [
    "Standard_LRS",
    "Standard_GRS",
    "Standard_ZRS",
    "Premium_LRS",
];
pub(super) const DISK_SIZES: [u32; 6] = [32, 64, 128, 256, 512, 1024];
pub(super) const PLANS: [(&str, &str, f64); 5] = [
    ("B1", "Basic", 0.075),
    ("S1", "Standard", 0.10),
    ("P1v3", "PremiumV3", 0.25),
    ("P2v3", "PremiumV3", 0.50),
    ("I1v2", "IsolatedV2", 0.52),
];
/// (name, tier, capacity, family, daily price).
pub(super) const SQL_SKUS: [(&str, &str, u32, Option<&str>, f64); 6] = [
    ("Basic", "Basic", 5, None, 0.16),
    ("S0", "Standard", 10, None, 0.48),
    ("S2", "Standard", 50, None, 2.40),
    ("P1", "Premium", 125, None, 15.0),
    ("GP_Gen5", "GeneralPurpose", 2, Some("Gen5"), 12.1),
    ("GP_Gen5", "GeneralPurpose", 8, Some("Gen5"), 48.4),
];
/// Relative frequency of each kind, in [`ResourceKind::ALL`] order.
pub(super) const KIND_WEIGHTS: [u64; 8] = [20, 20, 15, 10, 10, 7, 8, 10];
