//! The first phase of generating a subscription: which kinds of resource it holds, their names,
//! resource groups and ARM ids. Children get their parent's name in their id (a database
//! `…/servers/{server}/databases/{db}`) and a SQL VM registration is named after its VM, so
//! parents are placed first. The first resources of every subscription follow [`PREFIX`]: each
//! kind and each planted condition once, so that even small estates have them all.

use uuid::Uuid;

use super::ResourceGroup;
use super::catalog::{APPLICATIONS, KIND_WEIGHTS};
use super::resource::ResourceKind;
use crate::rng::SplitMix64;

use ResourceKind as K;

/// A condition forced on one of the first resources of a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Plant {
    None,
    IdleVm,
    OversizedVm,
    DeallocatedVm,
    StoppedVm,
    /// A Windows VM without Azure Hybrid Benefit, registered as a pay-as-you-go SQL VM.
    SqlPaygVm,
    /// A VM (or its SQL VM registration) hosting SQL Server, licence drawn at random.
    SqlHost,
    UnattachedDisk,
    UnderusedPremiumDisk,
    OrphanedNic,
    OrphanedIp,
    StaleSnapshot,
    EmptyPlan,
    OversizedPlan,
    UnderusedDtuDb,
    EmptyPool,
    BackendlessLb,
    BackendlessAppGw,
    OrphanedNat,
    IdleGateway,
    PendingEndpoint,
    UnprovisionedCircuit,
    UnderusedVmss,
    UnassociatedDdos,
}

/// The first resources of every subscription, in this order.
pub(super) const PREFIX: [(ResourceKind, Plant); 31] = [
    (K::VirtualMachine, Plant::IdleVm),
    (K::VirtualMachine, Plant::OversizedVm),
    (K::VirtualMachine, Plant::DeallocatedVm),
    (K::VirtualMachine, Plant::StoppedVm),
    (K::VirtualMachine, Plant::SqlPaygVm),
    (K::SqlVirtualMachine, Plant::SqlPaygVm),
    (K::Disk, Plant::UnattachedDisk),
    (K::Disk, Plant::UnderusedPremiumDisk),
    (K::NetworkInterface, Plant::OrphanedNic),
    (K::NetworkInterface, Plant::None),
    (K::PublicIp, Plant::OrphanedIp),
    (K::Snapshot, Plant::StaleSnapshot),
    (K::StorageAccount, Plant::None),
    (K::VirtualNetwork, Plant::None),
    (K::AppServicePlan, Plant::EmptyPlan),
    (K::AppServicePlan, Plant::OversizedPlan),
    (K::WebSite, Plant::None),
    (K::SqlServer, Plant::None),
    (K::SqlDatabase, Plant::UnderusedDtuDb),
    (K::ElasticPool, Plant::EmptyPool),
    (K::LoadBalancer, Plant::BackendlessLb),
    (K::ApplicationGateway, Plant::BackendlessAppGw),
    (K::NatGateway, Plant::OrphanedNat),
    (K::VirtualNetworkGateway, Plant::IdleGateway),
    (K::VirtualNetworkGateway, Plant::None),
    (K::Connection, Plant::None),
    (K::PrivateEndpoint, Plant::PendingEndpoint),
    (K::ExpressRouteCircuit, Plant::UnprovisionedCircuit),
    (K::VirtualMachineScaleSet, Plant::UnderusedVmss),
    (K::DdosProtectionPlan, Plant::UnassociatedDdos),
    (K::ClassicStorageAccount, Plant::None),
];

/// A resource before its details: enough to build ids that others can point at.
#[derive(Debug, Clone)]
pub(super) struct Skeleton {
    pub kind: ResourceKind,
    pub plant: Plant,
    pub name: String,
    pub group: usize,
    pub id: String,
    /// A SQL VM's VM, a database's or pool's server, a VM's SQL VM registration.
    pub partner: Option<String>,
}

/// The skeletons of one subscription, sorted by id (Resource Graph's `order by id`).
pub(super) fn skeletons(
    rng: &mut SplitMix64,
    count: usize,
    subscription_id: Uuid,
    groups: &[ResourceGroup],
) -> Vec<Skeleton> {
    let kinds = kinds(rng, count);
    let mut out: Vec<Skeleton> = Vec::with_capacity(count);
    // Parents first: everything but SQL children, then the children (they need parent ids).
    for (i, (kind, plant)) in kinds.iter().enumerate() {
        if !matches!(kind, K::SqlDatabase | K::ElasticPool | K::SqlVirtualMachine) {
            let group = rng.below(groups.len() as u64) as usize;
            let name = name(*kind, i, rng);
            let id = arm_id(subscription_id, &groups[group].name, kind.arm_type(), &name);
            out.push(skeleton(*kind, *plant, name, group, id));
        }
    }
    let servers: Vec<usize> = indices(&out, K::SqlServer);
    let mut vms_for_sql: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.plant, Plant::SqlPaygVm | Plant::SqlHost))
        .map(|(i, _)| i)
        .collect();
    vms_for_sql.reverse();
    for (i, (kind, plant)) in kinds.iter().enumerate() {
        let child = match kind {
            K::SqlVirtualMachine => vms_for_sql
                .pop()
                .map(|vm| sql_vm(&mut out, vm, *plant, subscription_id, groups)),
            K::SqlDatabase | K::ElasticPool if !servers.is_empty() => {
                let server = servers[rng.below(servers.len() as u64) as usize];
                let name = name(*kind, i, rng);
                Some(sql_child(&out[server], *kind, *plant, name))
            }
            _ => None,
        };
        out.extend(child);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

fn skeleton(kind: ResourceKind, plant: Plant, name: String, group: usize, id: String) -> Skeleton {
    Skeleton {
        kind,
        plant,
        name,
        group,
        id,
        partner: None,
    }
}

fn indices(skeletons: &[Skeleton], kind: ResourceKind) -> Vec<usize> {
    (0..skeletons.len())
        .filter(|i| skeletons[*i].kind == kind)
        .collect()
}

/// A SQL VM registration, named after its VM and in its resource group.
fn sql_vm(
    out: &mut [Skeleton],
    vm: usize,
    plant: Plant,
    subscription_id: Uuid,
    groups: &[ResourceGroup],
) -> Skeleton {
    let (name, group) = (out[vm].name.clone(), out[vm].group);
    let id = arm_id(
        subscription_id,
        &groups[group].name,
        K::SqlVirtualMachine.arm_type(),
        &name,
    );
    out[vm].partner = Some(id.clone());
    Skeleton {
        partner: Some(out[vm].id.clone()),
        ..skeleton(K::SqlVirtualMachine, plant, name, group, id)
    }
}

/// A database or elastic pool on `server`: `…/servers/{server}/databases/{name}`.
fn sql_child(server: &Skeleton, kind: ResourceKind, plant: Plant, name: String) -> Skeleton {
    let segment = if kind == K::SqlDatabase {
        "databases"
    } else {
        "elasticPools"
    };
    let id = format!("{}/{segment}/{name}", server.id);
    Skeleton {
        partner: Some(server.id.clone()),
        ..skeleton(kind, plant, name, server.group, id)
    }
}

fn arm_id(subscription_id: Uuid, group: &str, arm_type: &str, name: &str) -> String {
    format!("/subscriptions/{subscription_id}/resourceGroups/{group}/providers/{arm_type}/{name}")
}

/// The kinds of `count` resources: [`PREFIX`], then weighted draws. A drawn SQL VM brings its
/// VM (two slots); children without a possible parent become the parent.
fn kinds(rng: &mut SplitMix64, count: usize) -> Vec<(ResourceKind, Plant)> {
    let mut kinds: Vec<(ResourceKind, Plant)> = PREFIX.iter().copied().take(count).collect();
    if kinds.last().is_some_and(|(k, _)| *k == K::VirtualMachine) && count < PREFIX.len() {
        // The prefix was cut between a SQL VM's VM and its registration.
        if let Some(last) = kinds.last_mut() {
            last.1 = Plant::None;
        }
    }
    while kinds.len() < count {
        match weighted_kind(rng) {
            K::SqlVirtualMachine if kinds.len() + 2 <= count => {
                kinds.push((K::VirtualMachine, Plant::SqlHost));
                kinds.push((K::SqlVirtualMachine, Plant::SqlHost));
            }
            K::SqlVirtualMachine => kinds.push((K::VirtualMachine, Plant::None)),
            kind => kinds.push((kind, Plant::None)),
        }
    }
    for (child, parent) in [
        (K::SqlDatabase, K::SqlServer),
        (K::ElasticPool, K::SqlServer),
        (K::Connection, K::VirtualNetworkGateway),
        (K::WebSite, K::AppServicePlan),
    ] {
        if !kinds.iter().any(|(k, _)| *k == parent)
            && let Some(slot) = kinds.iter_mut().find(|(k, _)| *k == child)
        {
            *slot = (parent, Plant::None);
        }
    }
    kinds
}

fn weighted_kind(rng: &mut SplitMix64) -> ResourceKind {
    let total: u64 = KIND_WEIGHTS.iter().map(|(_, w)| w).sum();
    let mut roll = rng.below(total);
    for (kind, weight) in KIND_WEIGHTS {
        if roll < weight {
            return kind;
        }
        roll -= weight;
    }
    K::StorageAccount
}

fn name(kind: ResourceKind, i: usize, rng: &mut SplitMix64) -> String {
    let app = rng.pick(&APPLICATIONS);
    let prefix = match kind {
        K::VirtualMachine => "vm",
        K::Disk => "disk",
        K::PublicIp => "pip",
        K::NetworkInterface => "nic",
        K::Snapshot => "snap",
        K::AppServicePlan => "asp",
        K::SqlDatabase => "sqldb",
        K::VirtualNetwork => "vnet",
        K::WebSite => "app",
        K::SqlServer => "sql",
        K::ElasticPool => "pool",
        K::SqlVirtualMachine => "sqlvm",
        K::LoadBalancer => "lb",
        K::ApplicationGateway => "agw",
        K::NatGateway => "ngw",
        K::VirtualNetworkGateway => "vgw",
        K::Connection => "cn",
        K::PrivateEndpoint => "pe",
        K::ExpressRouteCircuit => "erc",
        K::VirtualMachineScaleSet => "vmss",
        K::DdosProtectionPlan => "ddos",
        K::StorageAccount | K::ClassicStorageAccount => {
            let classic = if kind == K::StorageAccount {
                "st"
            } else {
                "cls"
            };
            return format!("{classic}{app}{i:04}{:04x}", rng.below(0x10000));
        }
    };
    format!("{prefix}-{app}-{i:04}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> Vec<ResourceGroup> {
        ["RG-One", "rg-two"]
            .map(|name| ResourceGroup {
                name: name.into(),
                location: "westeurope",
                tags: Default::default(),
            })
            .into()
    }

    #[test]
    fn children_carry_their_parents_in_their_ids() {
        let mut rng = SplitMix64::new(5);
        let sub = Uuid::nil();
        let all = skeletons(&mut rng, 400, sub, &groups());
        assert_eq!(all.len(), 400);
        assert!(all.windows(2).all(|w| w[0].id < w[1].id));
        for s in &all {
            match s.kind {
                K::SqlDatabase | K::ElasticPool => {
                    let server = s.partner.as_deref().unwrap_or_default();
                    assert!(s.id.starts_with(&format!("{server}/")), "{}", s.id);
                }
                K::SqlVirtualMachine => {
                    let vm = s.partner.as_deref().unwrap_or_default();
                    assert!(vm.ends_with(&format!("/virtualMachines/{}", s.name)));
                    assert!(
                        all.iter()
                            .any(|o| o.id == vm && o.partner.as_ref() == Some(&s.id))
                    );
                }
                _ => {}
            }
        }
    }

    #[test]
    fn a_cut_prefix_never_leaves_a_sql_vm_without_its_vm() {
        for count in 0..PREFIX.len() {
            let mut rng = SplitMix64::new(1);
            let all = skeletons(&mut rng, count, Uuid::nil(), &groups());
            assert_eq!(all.len(), count);
            let sql = all
                .iter()
                .filter(|s| s.kind == K::SqlVirtualMachine)
                .count();
            let hosts = all
                .iter()
                .filter(|s| s.partner.is_some() && s.kind == K::VirtualMachine);
            assert_eq!(sql, hosts.count(), "{count}");
        }
    }
}
