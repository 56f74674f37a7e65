//! Which resources go into which `metrics:getBatch` call: one call takes at most 50 unique
//! resources of one subscription, one region and one resource type (one metrics namespace),
//! so targets are grouped by (namespace, subscription, region) and each group cut into chunks
//! of 50. Resources whose id names no subscription or whose region is unusable go to the
//! per-resource ARM call instead.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::kinds::{MetricKind, MetricTarget};
use crate::azure::resource_graph::mapper::id_segment;

/// The most resources one batch call may name.
pub const MAX_BATCH: usize = 50;

/// A VM to collect metrics for: its ARM id and its region (the inventory's `location`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmTarget {
    pub resource_id: String,
    pub location: String,
}

impl From<&VmTarget> for MetricTarget {
    fn from(vm: &VmTarget) -> Self {
        MetricTarget {
            resource_id: vm.resource_id.clone(),
            location: vm.location.clone(),
            kind: MetricKind::Vm,
        }
    }
}

/// One batch call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The metrics namespace of every resource in it.
    pub namespace: &'static str,
    pub subscription_id: String,
    /// Lower-case, letters and digits (`westeurope`).
    pub region: String,
    /// Lower-cased, unique, at most [`MAX_BATCH`].
    pub resource_ids: Vec<String>,
}

/// One resource queried on its own through ARM.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Single {
    pub namespace: &'static str,
    /// Lower-cased.
    pub resource_id: String,
}

/// The calls to make.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub batches: Vec<Batch>,
    pub singles: Vec<Single>,
}

/// Groups `targets` by namespace, subscription and region and chunks each group by
/// [`MAX_BATCH`], in a stable order (namespace, subscription, region, resource id).
/// Duplicates are dropped.
pub fn plan_targets(targets: &[MetricTarget]) -> Plan {
    type Group = (&'static str, String, String);
    let mut groups: BTreeMap<Group, BTreeSet<String>> = BTreeMap::new();
    let mut singles = BTreeSet::new();
    for target in targets {
        let namespace = target.kind.namespace();
        let id = target.resource_id.trim().to_ascii_lowercase();
        match (
            id_segment(&id, "subscriptions"),
            region_name(&target.location),
        ) {
            (Some(subscription), Some(region)) => {
                groups
                    .entry((namespace, subscription, region))
                    .or_default()
                    .insert(id);
            }
            _ => {
                singles.insert(Single {
                    namespace,
                    resource_id: id,
                });
            }
        }
    }
    let batches = groups
        .into_iter()
        .flat_map(|((namespace, subscription_id, region), ids)| {
            let ids: Vec<String> = ids.into_iter().collect();
            ids.chunks(MAX_BATCH)
                .map(|chunk| Batch {
                    namespace,
                    subscription_id: subscription_id.clone(),
                    region: region.clone(),
                    resource_ids: chunk.to_vec(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Plan {
        batches,
        singles: singles.into_iter().collect(),
    }
}

/// [`plan_targets`] for VMs.
pub fn plan_batches(vms: &[VmTarget]) -> Plan {
    let targets: Vec<MetricTarget> = vms.iter().map(MetricTarget::from).collect();
    plan_targets(&targets)
}

/// `West Europe` / `westeurope` → `westeurope`; `None` unless letters and digits remain.
pub fn region_name(location: &str) -> Option<String> {
    let name: String = location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric())).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm(sub: &str, n: usize, location: &str) -> VmTarget {
        VmTarget {
            resource_id: format!(
                "/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/VM{n:03}"
            ),
            location: location.into(),
        }
    }

    #[test]
    fn vms_are_grouped_by_subscription_and_region_and_chunked_by_fifty() {
        let mut vms: Vec<VmTarget> = (0..120).map(|n| vm("s1", n, "westeurope")).collect();
        vms.extend((0..3).map(|n| vm("s1", n, "East US")));
        vms.extend((0..2).map(|n| vm("s2", n, "westeurope")));
        let plan = plan_batches(&vms);
        let shape: Vec<(&str, &str, usize)> = plan
            .batches
            .iter()
            .map(|b| {
                (
                    b.subscription_id.as_str(),
                    b.region.as_str(),
                    b.resource_ids.len(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("s1", "eastus", 3),
                ("s1", "westeurope", 50),
                ("s1", "westeurope", 50),
                ("s1", "westeurope", 20),
                ("s2", "westeurope", 2)
            ]
        );
        assert!(plan.batches[1].resource_ids[0].ends_with("/vm000"));
        assert!(plan.singles.is_empty());
    }

    #[test]
    fn duplicates_are_dropped_and_unplaceable_vms_go_single() {
        let vms = vec![
            vm("s1", 1, "westeurope"),
            vm("S1", 1, "WestEurope"),
            vm("s1", 2, ""),
            vm("s1", 3, "west-europe!"),
        ];
        let plan = plan_batches(&vms);
        assert_eq!(plan.batches.len(), 1);
        assert_eq!(plan.batches[0].resource_ids.len(), 1);
        assert_eq!(plan.singles.len(), 2);
        assert!(
            plan.singles
                .iter()
                .all(|s| s.namespace == "Microsoft.Compute/virtualMachines")
        );
    }

    #[test]
    fn kinds_of_one_subscription_and_region_get_separate_batches() {
        let target = |n: usize, kind: MetricKind| MetricTarget {
            resource_id: format!("/subscriptions/s1/resourceGroups/rg/providers/x/y/r{n}"),
            location: "westeurope".into(),
            kind,
        };
        let disk = MetricKind::ManagedDisk {
            iops_limit: Some(500.0),
            mbps_limit: Some(100.0),
        };
        let plan = plan_targets(&[
            target(1, MetricKind::Vm),
            target(2, disk),
            target(3, MetricKind::SqlDatabase),
            target(4, disk),
        ]);
        let shape: Vec<(&str, usize)> = plan
            .batches
            .iter()
            .map(|b| (b.namespace, b.resource_ids.len()))
            .collect();
        assert_eq!(
            shape,
            [
                ("Microsoft.Compute/disks", 2),
                ("Microsoft.Compute/virtualMachines", 1),
                ("Microsoft.Sql/servers/databases", 1)
            ]
        );
    }
}
