//! The metric namespaces the simulator serves and their metric definitions (names, units and
//! descriptions as Azure Monitor reports them).

use crate::estate::ResourceKind;

/// A metric definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    pub name: &'static str,
    pub unit: &'static str,
    pub description: &'static str,
}

/// A metric namespace: a resource type and its metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Namespace {
    /// `Microsoft.Compute/virtualMachines`.
    pub name: &'static str,
    pub kind: ResourceKind,
    pub metrics: &'static [MetricDef],
}

impl Namespace {
    /// A metric of this namespace by name (case-insensitive).
    pub fn metric(&self, name: &str) -> Option<MetricDef> {
        self.metrics
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name.trim()))
            .copied()
    }

    /// `(provider, resource type)`: `("Microsoft.Sql", "servers/databases")`.
    pub fn provider_and_type(&self) -> (&'static str, &'static str) {
        self.name.split_once('/').unwrap_or((self.name, ""))
    }
}

const fn def(name: &'static str, unit: &'static str, description: &'static str) -> MetricDef {
    MetricDef {
        name,
        unit,
        description,
    }
}

const CPU: MetricDef = def(
    "Percentage CPU",
    "Percent",
    "The percentage of allocated compute units that are currently in use by the Virtual Machine(s)",
);
const MEMORY: MetricDef = def(
    "Available Memory Bytes",
    "Bytes",
    "Amount of physical memory, in bytes, immediately available for allocation to a process or for system use in the Virtual Machine",
);
const NETWORK_IN: MetricDef = def(
    "Network In Total",
    "Bytes",
    "The number of bytes received on all network interfaces by the Virtual Machine(s) (Incoming Traffic)",
);
const NETWORK_OUT: MetricDef = def(
    "Network Out Total",
    "Bytes",
    "The number of bytes out on all network interfaces by the Virtual Machine(s) (Outgoing Traffic)",
);
const VM_METRICS: [MetricDef; 4] = [CPU, MEMORY, NETWORK_IN, NETWORK_OUT];
const DISK_METRICS: [MetricDef; 4] = [
    def(
        "Composite Disk Read Bytes/sec",
        "BytesPerSecond",
        "Bytes/Sec read from disk during monitoring period. Please note, this metric is in preview and is subject to change before becoming generally available",
    ),
    def(
        "Composite Disk Write Bytes/sec",
        "BytesPerSecond",
        "Bytes/Sec written to disk during monitoring period. Please note, this metric is in preview and is subject to change before becoming generally available",
    ),
    def(
        "Composite Disk Read Operations/sec",
        "CountPerSecond",
        "Number of read IOs performed on a disk during monitoring period. Please note, this metric is in preview and is subject to change before becoming generally available",
    ),
    def(
        "Composite Disk Write Operations/sec",
        "CountPerSecond",
        "Number of Write IOs performed on a disk during monitoring period. Please note, this metric is in preview and is subject to change before becoming generally available",
    ),
];
const PLAN_METRICS: [MetricDef; 2] = [
    def(
        "CpuPercentage",
        "Percent",
        "The average CPU used across all instances of the plan.",
    ),
    def(
        "MemoryPercentage",
        "Percent",
        "The average memory used across all instances of the plan.",
    ),
];
const SQL_METRICS: [MetricDef; 2] = [
    def("cpu_percent", "Percent", "CPU percentage"),
    def(
        "dtu_consumption_percent",
        "Percent",
        "DTU percentage. Applies to DTU-based databases.",
    ),
];

/// Every namespace served.
pub const NAMESPACES: [Namespace; 5] = [
    Namespace {
        name: "Microsoft.Compute/virtualMachines",
        kind: ResourceKind::VirtualMachine,
        metrics: &VM_METRICS,
    },
    Namespace {
        name: "Microsoft.Compute/virtualMachineScaleSets",
        kind: ResourceKind::VirtualMachineScaleSet,
        metrics: &VM_METRICS,
    },
    Namespace {
        name: "Microsoft.Compute/disks",
        kind: ResourceKind::Disk,
        metrics: &DISK_METRICS,
    },
    Namespace {
        name: "Microsoft.Web/serverfarms",
        kind: ResourceKind::AppServicePlan,
        metrics: &PLAN_METRICS,
    },
    Namespace {
        name: "Microsoft.Sql/servers/databases",
        kind: ResourceKind::SqlDatabase,
        metrics: &SQL_METRICS,
    },
];

/// The namespace of a resource kind, if its metrics are served.
pub fn for_kind(kind: ResourceKind) -> Option<&'static Namespace> {
    NAMESPACES.iter().find(|n| n.kind == kind)
}

/// A namespace by name (case-insensitive).
pub fn by_name(name: &str) -> Option<&'static Namespace> {
    NAMESPACES
        .iter()
        .find(|n| n.name.eq_ignore_ascii_case(name.trim()))
}
