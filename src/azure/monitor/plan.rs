//! Which VMs go into which `metrics:getBatch` call: one call takes at most 50 unique resources
//! of one subscription, one region and one resource type, so VMs are grouped by
//! (subscription, region) and each group cut into chunks of 50. VMs whose id names no
//! subscription or whose region is unusable go to the per-VM ARM call instead.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::azure::resource_graph::mapper::id_segment;

/// The most resources one batch call may name.
pub const MAX_BATCH: usize = 50;

/// A VM to collect metrics for: its ARM id and its region (the inventory's `location`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmTarget {
    pub resource_id: String,
    pub location: String,
}

/// One batch call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub subscription_id: String,
    /// Lower-case, letters and digits (`westeurope`).
    pub region: String,
    /// Lower-cased, unique, at most [`MAX_BATCH`].
    pub resource_ids: Vec<String>,
}

/// The calls to make.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub batches: Vec<Batch>,
    /// Lower-cased ids to query one by one through ARM.
    pub singles: Vec<String>,
}

/// Groups `vms` by subscription and region and chunks each group by [`MAX_BATCH`], in a
/// stable order (subscription, region, resource id). Duplicates are dropped.
pub fn plan_batches(vms: &[VmTarget]) -> Plan {
    let mut groups: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut singles = BTreeSet::new();
    for vm in vms {
        let id = vm.resource_id.trim().to_ascii_lowercase();
        match (id_segment(&id, "subscriptions"), region_name(&vm.location)) {
            (Some(subscription), Some(region)) => {
                groups.entry((subscription, region)).or_default().insert(id);
            }
            _ => {
                singles.insert(id);
            }
        }
    }
    let batches = groups
        .into_iter()
        .flat_map(|((subscription_id, region), ids)| chunk(subscription_id, region, ids))
        .collect();
    Plan {
        batches,
        singles: singles.into_iter().collect(),
    }
}

fn chunk(subscription_id: String, region: String, ids: BTreeSet<String>) -> Vec<Batch> {
    let ids: Vec<String> = ids.into_iter().collect();
    ids.chunks(MAX_BATCH)
        .map(|chunk| Batch {
            subscription_id: subscription_id.clone(),
            region: region.clone(),
            resource_ids: chunk.to_vec(),
        })
        .collect()
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
    }
}
