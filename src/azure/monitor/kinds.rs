//! Which metrics AzCops reads for each kind of resource: the metrics namespace (one per
//! `metrics:getBatch` call), each metric's name as Azure spells it, its unit, and which
//! aggregation becomes its hourly value (`Average` for rates and percentages, `Total` for
//! counters such as bytes sent in the hour).

use serde::{Deserialize, Serialize};

use super::stats::{CPU_METRIC, MEMORY_METRIC};

/// Namespace of virtual machines.
pub const VM_NAMESPACE: &str = "Microsoft.Compute/virtualMachines";
/// Namespace of scale sets.
pub const SCALE_SET_NAMESPACE: &str = "Microsoft.Compute/virtualMachineScaleSets";
/// Namespace of managed disks.
pub const DISK_NAMESPACE: &str = "Microsoft.Compute/disks";
/// Namespace of App Service plans.
pub const APP_SERVICE_PLAN_NAMESPACE: &str = "Microsoft.Web/serverfarms";
/// Namespace of SQL databases.
pub const SQL_DATABASE_NAMESPACE: &str = "Microsoft.Sql/servers/databases";

/// Bytes a VM sent on all its interfaces (the hour's total).
pub const NETWORK_OUT_METRIC: &str = "Network Out Total";
/// Read operations per second of a managed disk (bursts included).
pub const DISK_READ_OPS_METRIC: &str = "Composite Disk Read Operations/sec";
/// Write operations per second of a managed disk.
pub const DISK_WRITE_OPS_METRIC: &str = "Composite Disk Write Operations/sec";
/// Bytes read per second from a managed disk.
pub const DISK_READ_BYTES_METRIC: &str = "Composite Disk Read Bytes/sec";
/// Bytes written per second to a managed disk.
pub const DISK_WRITE_BYTES_METRIC: &str = "Composite Disk Write Bytes/sec";
/// Derived: the hour's read + write operations per second ÷ the disk's provisioned IOPS × 100.
pub const DISK_IOPS_CONSUMED_METRIC: &str = "IOPS Consumed Percentage";
/// Derived: the hour's read + write bytes per second ÷ the disk's provisioned MBps × 100.
pub const DISK_MBPS_CONSUMED_METRIC: &str = "MBps Consumed Percentage";
/// CPU use of an App Service plan's instances, in percent.
pub const PLAN_CPU_METRIC: &str = "CpuPercentage";
/// Memory use of an App Service plan's instances, in percent.
pub const PLAN_MEMORY_METRIC: &str = "MemoryPercentage";
/// DTU use of a DTU-model SQL database, in percent.
pub const SQL_DTU_METRIC: &str = "dtu_consumption_percent";
/// CPU use of a SQL database, in percent.
pub const SQL_CPU_METRIC: &str = "cpu_percent";

/// Which aggregation is a metric's hourly value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Aggregation {
    /// The hour's average (rates, percentages, gauges).
    Average,
    /// The hour's total (counters: bytes sent in the hour).
    Total,
}

/// One metric to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSpec {
    /// As Azure spells it (the `metricnames` value).
    pub name: &'static str,
    /// The unit Azure reports it in, used when an answer names none.
    pub unit: &'static str,
    pub aggregation: Aggregation,
}

const fn spec(name: &'static str, unit: &'static str, aggregation: Aggregation) -> MetricSpec {
    MetricSpec {
        name,
        unit,
        aggregation,
    }
}

const VM_METRICS: &[MetricSpec] = &[
    spec(CPU_METRIC, "Percent", Aggregation::Average),
    spec(MEMORY_METRIC, "Bytes", Aggregation::Average),
    spec(NETWORK_OUT_METRIC, "Bytes", Aggregation::Total),
];
const SCALE_SET_METRICS: &[MetricSpec] = &[
    spec(CPU_METRIC, "Percent", Aggregation::Average),
    spec(MEMORY_METRIC, "Bytes", Aggregation::Average),
];
const DISK_METRICS: &[MetricSpec] = &[
    spec(DISK_READ_OPS_METRIC, "CountPerSecond", Aggregation::Average),
    spec(
        DISK_WRITE_OPS_METRIC,
        "CountPerSecond",
        Aggregation::Average,
    ),
    spec(
        DISK_READ_BYTES_METRIC,
        "BytesPerSecond",
        Aggregation::Average,
    ),
    spec(
        DISK_WRITE_BYTES_METRIC,
        "BytesPerSecond",
        Aggregation::Average,
    ),
];
const PLAN_METRICS: &[MetricSpec] = &[
    spec(PLAN_CPU_METRIC, "Percent", Aggregation::Average),
    spec(PLAN_MEMORY_METRIC, "Percent", Aggregation::Average),
];
const SQL_METRICS: &[MetricSpec] = &[
    spec(SQL_DTU_METRIC, "Percent", Aggregation::Average),
    spec(SQL_CPU_METRIC, "Percent", Aggregation::Average),
];

/// The kind of a resource to read metrics for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MetricKind {
    Vm,
    ScaleSet,
    /// A managed disk with its provisioned limits (`diskIOPSReadWrite`, `diskMBpsReadWrite`
    /// from the inventory); without them only the raw rates are read.
    ManagedDisk {
        iops_limit: Option<f64>,
        mbps_limit: Option<f64>,
    },
    AppServicePlan,
    SqlDatabase,
}

impl MetricKind {
    /// The metrics namespace (one per batch call).
    pub fn namespace(&self) -> &'static str {
        match self {
            Self::Vm => VM_NAMESPACE,
            Self::ScaleSet => SCALE_SET_NAMESPACE,
            Self::ManagedDisk { .. } => DISK_NAMESPACE,
            Self::AppServicePlan => APP_SERVICE_PLAN_NAMESPACE,
            Self::SqlDatabase => SQL_DATABASE_NAMESPACE,
        }
    }

    /// The metrics read for this kind.
    pub fn metrics(&self) -> &'static [MetricSpec] {
        metrics_of(self.namespace())
    }

    /// The kind of a namespace, a disk without known limits (for answers about a resource
    /// the caller did not describe).
    pub fn of_namespace(namespace: &str) -> Option<Self> {
        [
            Self::Vm,
            Self::ScaleSet,
            Self::ManagedDisk {
                iops_limit: None,
                mbps_limit: None,
            },
            Self::AppServicePlan,
            Self::SqlDatabase,
        ]
        .into_iter()
        .find(|kind| kind.namespace().eq_ignore_ascii_case(namespace))
    }
}

/// The metrics of `namespace` (none for a namespace AzCops does not read).
pub fn metrics_of(namespace: &str) -> &'static [MetricSpec] {
    let table: [(&str, &'static [MetricSpec]); 5] = [
        (VM_NAMESPACE, VM_METRICS),
        (SCALE_SET_NAMESPACE, SCALE_SET_METRICS),
        (DISK_NAMESPACE, DISK_METRICS),
        (APP_SERVICE_PLAN_NAMESPACE, PLAN_METRICS),
        (SQL_DATABASE_NAMESPACE, SQL_METRICS),
    ];
    table
        .into_iter()
        .find(|(ns, _)| ns.eq_ignore_ascii_case(namespace))
        .map_or(&[], |(_, metrics)| metrics)
}

/// The `metricnames` value of `namespace`: its metric names, comma-separated.
pub fn metric_names(namespace: &str) -> String {
    metrics_of(namespace)
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(",")
}

/// The `aggregation` value of `namespace`: the hour's average, maximum and minimum, and the
/// total only where one of its metrics is a counter (Monitor answers every requested
/// aggregation for every metric of a call, so asking for less is less to send and parse).
pub fn aggregations_of(namespace: &str) -> &'static str {
    if metrics_of(namespace)
        .iter()
        .any(|m| m.aggregation == Aggregation::Total)
    {
        "average,maximum,minimum,total"
    } else {
        "average,maximum,minimum"
    }
}

/// A resource to read metrics for: its ARM id, its region (the inventory's `location`) and
/// its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricTarget {
    pub resource_id: String,
    pub location: String,
    pub kind: MetricKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_its_namespace_and_metrics() {
        assert_eq!(
            metric_names(VM_NAMESPACE),
            "Percentage CPU,Available Memory Bytes,Network Out Total"
        );
        let disk = MetricKind::ManagedDisk {
            iops_limit: Some(500.0),
            mbps_limit: None,
        };
        assert_eq!(disk.namespace(), "Microsoft.Compute/disks");
        assert_eq!(disk.metrics().len(), 4);
        assert_eq!(
            metric_names(SQL_DATABASE_NAMESPACE),
            "dtu_consumption_percent,cpu_percent"
        );
        assert_eq!(
            metric_names("Microsoft.Web/serverFarms"),
            "CpuPercentage,MemoryPercentage"
        );
        assert!(metrics_of("Microsoft.Storage/storageAccounts").is_empty());
        assert_eq!(
            MetricKind::of_namespace("microsoft.compute/virtualmachinescalesets"),
            Some(MetricKind::ScaleSet)
        );
        assert_eq!(
            aggregations_of(VM_NAMESPACE),
            "average,maximum,minimum,total"
        );
        assert_eq!(aggregations_of(DISK_NAMESPACE), "average,maximum,minimum");
        let network = VM_METRICS[2];
        assert_eq!(
            (network.unit, network.aggregation),
            ("Bytes", Aggregation::Total)
        );
    }
}
