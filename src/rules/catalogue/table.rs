//! The catalogue's rows: each rule's id, category, action, risk, effort, description and
//! parameters (defaults as in PHASE3 §2).

use super::{Category, Level, Parameter, RuleInfo};

const fn days(name: &'static str, default: f64, description: &'static str) -> Parameter {
    Parameter {
        name,
        default,
        min: 0.0,
        max: 3650.0,
        integer: true,
        unit: "days",
        description,
    }
}

const fn percent(name: &'static str, default: f64, description: &'static str) -> Parameter {
    Parameter {
        name,
        default,
        min: 0.0,
        max: 100.0,
        integer: false,
        unit: "percent",
        description,
    }
}

/// Hourly samples a metric needs before a resource is judged by it (14 days hold 336).
const MIN_SAMPLES: Parameter = Parameter {
    name: "min_samples",
    default: 72.0,
    min: 1.0,
    max: 336.0,
    integer: true,
    unit: "hours",
    description: "Hourly samples each metric needs before the resource is judged",
};

const TARGET: Parameter = percent(
    "target_percent",
    80.0,
    "Highest projected p95 CPU and memory use on the smaller size or capacity",
);

use Category::*;
use Level::{High, Low, Medium};

macro_rules! rule {
    ($id:literal, $title:literal, $category:expr, $action:literal, ($risk:expr, $effort:expr), $description:literal, [$($p:expr),* $(,)?]) => {
        RuleInfo {
            rule_id: $id,
            title: $title,
            category: $category,
            action: $action,
            description: $description,
            risk: $risk,
            effort: $effort,
            parameters: &[$($p),*],
        }
    };
}

/// Every rule, in a stable order (the order findings are produced in).
pub(super) const CATALOGUE: [RuleInfo; 28] = [
    rule!(
        "disk.unattached",
        "Unattached managed disk",
        Waste,
        "delete",
        (Medium, Low),
        "Managed disk attached to nothing for at least min_days; saving: its cost (C30)",
        [days("min_days", 7.0, "Days the disk has been unattached")]
    ),
    rule!(
        "disk.on_deallocated_vm",
        "SSD disk of a long-deallocated VM",
        Cost,
        "change_tier",
        (Low, Low),
        "Premium or Standard SSD disk of a VM deallocated for at least min_days; saving: the price difference to Standard HDD",
        [days(
            "min_days",
            30.0,
            "Days the disk has been on a deallocated VM"
        )]
    ),
    rule!(
        "disk.premium_underused",
        "Underused Premium disk",
        Rightsizing,
        "change_tier",
        (Medium, Medium),
        "Premium disk of a running VM whose p95 IOPS and throughput consumed stay under the thresholds; saving: the price difference to Standard SSD",
        [
            percent(
                "max_iops_percent",
                5.0,
                "p95 of the IOPS consumed, in percent of what the tier provisions"
            ),
            percent(
                "max_mbps_percent",
                5.0,
                "p95 of the throughput consumed, in percent of what the tier provisions"
            ),
            MIN_SAMPLES
        ]
    ),
    rule!(
        "publicip.orphaned",
        "Unassociated public IP",
        Waste,
        "delete",
        (Medium, Low),
        "Public IP bound to no IP configuration and no NAT gateway for at least min_days; saving: its cost (C30)",
        [days(
            "min_days",
            7.0,
            "Days the address has been unassociated"
        )]
    ),
    rule!(
        "nic.orphaned",
        "Unattached network interface",
        Waste,
        "delete",
        (Low, Low),
        "Network interface attached to no VM and no private endpoint (hygiene: no saving of its own)",
        []
    ),
    rule!(
        "snapshot.stale",
        "Stale snapshot",
        Waste,
        "delete",
        (Medium, Low),
        "Snapshot older than min_age_days; saving: its cost (C30)",
        [days("min_age_days", 90.0, "Age of the snapshot")]
    ),
    rule!(
        "snapshot.premium",
        "Snapshot on Premium storage",
        Cost,
        "change_tier",
        (Low, Low),
        "Snapshot stored on Premium storage; saving: its cost times one minus the Standard to Premium price ratio",
        []
    ),
    rule!(
        "snapshot.orphaned_source",
        "Snapshot of a deleted disk",
        Waste,
        "delete",
        (Medium, Low),
        "Snapshot whose source disk no longer exists, older than min_age_days; saving: its cost (C30)",
        [days("min_age_days", 30.0, "Age of the snapshot")]
    ),
    rule!(
        "vm.stopped_allocated",
        "Stopped VM still allocated",
        Waste,
        "stop",
        (Low, Low),
        "VM stopped from inside the OS (still allocated and billed) for at least min_days; saving: its compute cost (C30)",
        [days("min_days", 1.0, "Days the VM has been stopped")]
    ),
    rule!(
        "vm.long_deallocated",
        "Long-deallocated VM",
        Waste,
        "delete",
        (High, Low),
        "VM deallocated for at least min_days; saving: the cost of its disks and public IPs (C30)",
        [days("min_days", 30.0, "Days the VM has been deallocated")]
    ),
    rule!(
        "vm.idle",
        "Idle VM",
        Waste,
        "shutdown",
        (High, Low),
        "Running VM whose p95 CPU, peak CPU and p95 network out stay under the thresholds; saving: its cost (C30)",
        [
            MIN_SAMPLES,
            percent("max_cpu_p95_percent", 5.0, "p95 of the hourly CPU averages"),
            percent("max_cpu_max_percent", 20.0, "Highest CPU observed"),
            Parameter {
                name: "max_network_out_p95_mbps",
                default: 10.0,
                min: 0.0,
                max: 100_000.0,
                integer: false,
                unit: "Mbps",
                description: "p95 of the hourly outbound network rate"
            }
        ]
    ),
    rule!(
        "vm.rightsize",
        "Oversized VM",
        Rightsizing,
        "resize",
        (Medium, Medium),
        "Running VM with low p95 CPU and memory use; target: the cheapest size of its family that fits its load at target_percent and its disks and NICs; saving: its cost times one minus the price ratio",
        [
            percent(
                "max_cpu_p95_percent",
                30.0,
                "p95 of the hourly CPU averages"
            ),
            percent(
                "max_memory_used_percent",
                50.0,
                "Highest memory use observed"
            ),
            TARGET,
            MIN_SAMPLES
        ]
    ),
    rule!(
        "vmss.underused",
        "Underused scale set",
        Rightsizing,
        "resize",
        (Medium, Medium),
        "Scale set with low p95 CPU and memory use; target: the fewest instances that carry its load at target_percent; saving: its cost times one minus the capacity ratio",
        [
            percent(
                "max_cpu_p95_percent",
                30.0,
                "p95 of the hourly CPU averages"
            ),
            percent(
                "max_memory_used_percent",
                50.0,
                "Highest memory use observed"
            ),
            TARGET,
            MIN_SAMPLES
        ]
    ),
    rule!(
        "asp.empty",
        "Empty App Service plan",
        Waste,
        "delete",
        (Low, Low),
        "Paid App Service plan that hosts no site; saving: its cost (C30)",
        []
    ),
    rule!(
        "asp.oversized",
        "Oversized App Service plan",
        Rightsizing,
        "resize",
        (Medium, Low),
        "App Service plan with low p95 CPU and memory; target: one size down in its tier; saving: its cost times one minus the price ratio",
        [
            percent("max_cpu_p95_percent", 30.0, "p95 of CpuPercentage"),
            percent("max_memory_p95_percent", 50.0, "p95 of MemoryPercentage"),
            MIN_SAMPLES
        ]
    ),
    rule!(
        "sql.dtu_underused",
        "Underused DTU database",
        Rightsizing,
        "resize",
        (Medium, Low),
        "DTU database with low p95 DTU use; target: one service objective down in its edition; saving: its cost times one minus the price ratio",
        [
            percent(
                "max_dtu_p95_percent",
                40.0,
                "p95 of dtu_consumption_percent"
            ),
            MIN_SAMPLES
        ]
    ),
    rule!(
        "sql.pool_empty",
        "Empty elastic pool",
        Waste,
        "delete",
        (Low, Low),
        "Elastic pool without databases; saving: its cost (C30)",
        []
    ),
    rule!(
        "lb.backendless",
        "Load balancer without backends",
        Waste,
        "delete",
        (Low, Low),
        "Standard load balancer whose backend pools are all empty; saving: its cost (C30)",
        []
    ),
    rule!(
        "appgw.backendless",
        "Application gateway without backends",
        Waste,
        "delete",
        (Low, Low),
        "Application gateway without backend targets; saving: its cost (C30)",
        []
    ),
    rule!(
        "vnetgw.idle",
        "Virtual network gateway without connections",
        Waste,
        "delete",
        (Medium, Low),
        "Virtual network gateway without connections or point-to-site clients; saving: its cost (C30)",
        []
    ),
    rule!(
        "natgw.orphaned",
        "NAT gateway on no subnet",
        Waste,
        "delete",
        (Low, Low),
        "NAT gateway on no subnet; saving: its cost (C30)",
        []
    ),
    rule!(
        "ddos.unassociated",
        "DDoS plan protecting no network",
        Waste,
        "delete",
        (Low, Low),
        "DDoS protection plan protecting no virtual network; saving: its cost (C30)",
        []
    ),
    rule!(
        "er.unprovisioned",
        "Unprovisioned ExpressRoute circuit",
        Waste,
        "delete",
        (Medium, Medium),
        "ExpressRoute circuit the provider has not provisioned for at least min_days; saving: its cost (C30)",
        [days(
            "min_days",
            30.0,
            "Days the circuit has not been provisioned"
        )]
    ),
    rule!(
        "pe.unused",
        "Private endpoint without an approved connection",
        Waste,
        "delete",
        (Low, Low),
        "Private endpoint without an approved connection; saving: its cost (C30)",
        []
    ),
    rule!(
        "vm.no_ahb",
        "Windows VM without Hybrid Benefit",
        Commitment,
        "hybrid_benefit",
        (Low, Low),
        "Windows VM without Azure Hybrid Benefit, when the tenant owns licences; saving: its cost times one minus the Linux to Windows price ratio",
        []
    ),
    rule!(
        "sqlvm.no_ahb",
        "SQL Server VM licensed pay-as-you-go",
        Commitment,
        "hybrid_benefit",
        (Low, Low),
        "SQL Server VM licensed pay-as-you-go (Standard or Enterprise), when the tenant owns licences; saving: the licence share of its VM's cost",
        []
    ),
    rule!(
        "tag.missing",
        "Missing required tag",
        Governance,
        "tag",
        (Low, Low),
        "A required tag key missing on the resource, its resource group and its subscription (no saving; the untagged spend is reported)",
        []
    ),
    rule!(
        "sku.retired",
        "Retired SKU",
        Governance,
        "upgrade_sku",
        (Medium, High),
        "Retired SKU or deployment model: Basic load balancer or public IP, Application Gateway v1, unmanaged disks, classic resources (no saving)",
        []
    ),
];
