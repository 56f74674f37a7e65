//! The third phase of generating a subscription: links between resources, set on both ends so
//! they agree (a disk's `managedBy` names the VM whose `storageProfile` lists the disk; a NAT
//! gateway's subnets name it back), within the limits of each size (a VM never has more data
//! disks or NICs than its size allows). Counts that follow from links (an App Service plan's
//! sites, an elastic pool's databases) are set here too, and so are the conditions they decide
//! (a plan with no site is empty, not oversized).

mod compute;
mod network;
mod other;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::plan::Plant;
use super::resource::{Resource, ResourceKind};
use crate::rng::{SplitMix64, hash_str, hash2};

/// Where each kind's resources are in the subscription's (id-sorted) list.
pub(super) struct Index {
    by_kind: HashMap<ResourceKind, Vec<usize>>,
    by_id: HashMap<String, usize>,
}

impl Index {
    fn new(resources: &[Resource]) -> Self {
        let mut by_kind: HashMap<ResourceKind, Vec<usize>> = HashMap::new();
        for (i, r) in resources.iter().enumerate() {
            by_kind.entry(r.kind()).or_default().push(i);
        }
        let by_id = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.clone(), i))
            .collect();
        Self { by_kind, by_id }
    }

    /// The positions of `kind`'s resources, in id order.
    pub(super) fn of(&self, kind: ResourceKind) -> Vec<usize> {
        self.by_kind.get(&kind).cloned().unwrap_or_default()
    }

    /// The position of a resource by its exact id.
    pub(super) fn find(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }
}

/// The generator of one resource's link decisions (independent of its own attributes').
pub(super) fn link_rng(r: &Resource) -> SplitMix64 {
    SplitMix64::new(hash2(r.hash, hash_str("links")))
}

/// One of `0..n` for which `ok` holds, found by a few random probes and then a scan from a
/// random start (so a nearly full set still finds its last free slot).
pub(super) fn pick(r: &mut SplitMix64, n: usize, ok: impl Fn(usize) -> bool) -> Option<usize> {
    if n == 0 {
        return None;
    }
    for _ in 0..8 {
        let k = r.below(n as u64) as usize;
        if ok(k) {
            return Some(k);
        }
    }
    let start = r.below(n as u64) as usize;
    (0..n).map(|k| (start + k) % n).find(|k| ok(*k))
}

/// Links the resources of one subscription.
pub(super) fn link(resources: &mut [Resource], plants: &[Plant], midnight: DateTime<Utc>) {
    let index = Index::new(resources);
    compute::disks(resources, plants, &index, midnight);
    network::nics(resources, plants, &index);
    network::subnets(resources, plants, &index);
    network::public_ips(resources, plants, &index);
    network::load_balancers(resources, plants, &index);
    network::connections(resources, plants, &index);
    other::sites(resources, plants, &index);
    other::databases(resources, plants, &index);
    other::endpoint_targets(resources, &index);
    compute::snapshots(resources, &index);
    compute::sql_vms(resources, &index);
    compute::rightsizing(resources, &index);
}
