//! Generation of the estate from the seed: one generator per subscription, two passes (the
//! skeleton of names and groups, then the details that point at other resources).

use chrono::{DateTime, NaiveTime, Utc};
use uuid::Uuid;

use super::catalog::*;
use super::details::{Links, details, tags};
use super::{Estate, EstateConfig, Resource, ResourceGroup, ResourceKind, Subscription, Tenant};
use crate::rng::{SplitMix64, hash_str, hash2, uuid_from};

/// A resource before its details: enough to build ids that others can point at.
struct Skeleton {
    kind: ResourceKind,
    name: String,
    group: usize,
    id: String,
}

pub(super) fn generate(config: &EstateConfig) -> Estate {
    let today = config.today.unwrap_or_else(|| Utc::now().date_naive());
    let midnight = today.and_time(NaiveTime::MIN).and_utc();
    let per_tenant = config.subscriptions_per_tenant;
    let ids: Vec<(Uuid, Uuid)> = (0..config.tenants * per_tenant)
        .map(|g| {
            let tenant = uuid_from(config.seed, "tenant", (g / per_tenant) as u64);
            (uuid_from(config.seed, "subscription", g as u64), tenant)
        })
        .collect();
    // Each subscription has its own generator, so they can be built in parallel.
    let generated = parallel_map(&ids, |ids| generate_subscription(config, *ids, midnight));
    let mut subscriptions = Vec::with_capacity(ids.len());
    let mut resources = Vec::with_capacity(ids.len() * config.resources_per_subscription);
    for (g, ((id, tenant_id), (groups, mut batch))) in ids.iter().zip(generated).enumerate() {
        let start = resources.len();
        resources.append(&mut batch);
        subscriptions.push(Subscription {
            id: *id,
            tenant_id: *tenant_id,
            display_name: format!(
                "{} {} {:02}",
                tenant_name(g / per_tenant),
                environment_label(g % per_tenant),
                g % per_tenant + 1
            ),
            resource_groups: groups,
            resources: start..resources.len(),
        });
    }
    let tenants = (0..config.tenants)
        .map(|t| Tenant {
            id: uuid_from(config.seed, "tenant", t as u64),
            name: tenant_name(t),
            currency: if t % 4 == 3 { "EUR" } else { "USD" },
            subscription_ids: ids[t * per_tenant..(t + 1) * per_tenant]
                .iter()
                .map(|i| i.0)
                .collect(),
        })
        .collect();
    let subscription_index = subscriptions
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i))
        .collect();
    let resource_index = resources
        .iter()
        .enumerate()
        .map(|(i, r)| (super::id_key(&r.id), i))
        .collect();
    Estate {
        config: config.clone(),
        today,
        operator_tenant_id: uuid_from(config.seed, "operator-tenant", 0),
        msi_client_id: uuid_from(config.seed, "managed-identity", 0),
        tenants,
        subscriptions,
        resources,
        subscription_index,
        resource_index,
        moved: Default::default(),
    }
}

fn generate_subscription(
    config: &EstateConfig,
    (id, tenant_id): (Uuid, Uuid),
    midnight: DateTime<Utc>,
) -> (Vec<ResourceGroup>, Vec<Resource>) {
    let mut rng = SplitMix64::new(hash2(config.seed, hash_str(&id.to_string())));
    let groups = resource_groups(&mut rng);
    let resources = subscription_resources(config, &mut rng, (id, tenant_id), &groups, midnight);
    (groups, resources)
}

/// `f` over `items` on all cores, results in order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

fn tenant_name(t: usize) -> String {
    let base = TENANT_NAMES[t % TENANT_NAMES.len()];
    match t / TENANT_NAMES.len() {
        0 => base.to_owned(),
        n => format!("{base} {}", n + 1),
    }
}

fn environment_label(s: usize) -> &'static str {
    ["Production", "Development", "Shared", "Sandbox"][s % 4]
}

fn resource_groups(rng: &mut SplitMix64) -> Vec<ResourceGroup> {
    let count = 3 + rng.below(4) as usize;
    let offset = rng.below(GROUP_NAMES.len() as u64) as usize;
    (0..count)
        .map(|i| ResourceGroup {
            name: GROUP_NAMES[(offset + i) % GROUP_NAMES.len()].to_owned(),
            location: rng.pick(&LOCATIONS),
        })
        .collect()
}

fn subscription_resources(
    config: &EstateConfig,
    rng: &mut SplitMix64,
    (subscription_id, tenant_id): (Uuid, Uuid),
    groups: &[ResourceGroup],
    midnight: DateTime<Utc>,
) -> Vec<Resource> {
    let mut skeletons: Vec<Skeleton> = (0..config.resources_per_subscription)
        .map(|i| skeleton(rng, i, subscription_id, groups))
        .collect();
    // Resources are kept in id order (Resource Graph's `order by id`); sorting the small
    // skeletons is much cheaper than sorting the resources.
    skeletons.sort_by(|a, b| a.id.cmp(&b.id));
    let of_kind = |kind| -> Vec<&str> {
        skeletons
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| s.id.as_str())
            .collect()
    };
    let vms = of_kind(ResourceKind::VirtualMachine);
    let nics = of_kind(ResourceKind::NetworkInterface);
    let disks = of_kind(ResourceKind::Disk);
    let links = Links {
        vms: &vms,
        nics: &nics,
        disks: &disks,
        subscription_id,
        groups,
    };
    skeletons
        .iter()
        .map(|s| {
            let hash = hash_str(&s.id);
            let mut r = SplitMix64::new(hash2(config.seed, hash));
            let group = &groups[s.group];
            Resource {
                id: s.id.clone(),
                name: s.name.clone(),
                subscription_id,
                tenant_id,
                resource_group: group.name.clone(),
                location: if r.chance(0.85) {
                    group.location
                } else {
                    r.pick(&LOCATIONS)
                },
                tags: tags(&mut r),
                details: details(&mut r, (s.kind, &s.id), &links, midnight),
                hash,
            }
        })
        .collect()
}

fn skeleton(
    rng: &mut SplitMix64,
    i: usize,
    subscription_id: Uuid,
    groups: &[ResourceGroup],
) -> Skeleton {
    // The first resources cycle through every kind so that even tiny estates have each one.
    let kind = if i < ResourceKind::ALL.len() {
        ResourceKind::ALL[i]
    } else {
        weighted_kind(rng)
    };
    let group = rng.below(groups.len() as u64) as usize;
    let name = resource_name(kind, i, rng);
    let path = match kind {
        ResourceKind::SqlDatabase => format!(
            "Microsoft.Sql/servers/sql-{}-{:02}/databases/{name}",
            i % 7,
            i % 3
        ),
        _ => format!("{}/{name}", kind.arm_type()),
    };
    let id = format!(
        "/subscriptions/{subscription_id}/resourceGroups/{}/providers/{path}",
        groups[group].name
    );
    Skeleton {
        kind,
        name,
        group,
        id,
    }
}

fn weighted_kind(rng: &mut SplitMix64) -> ResourceKind {
    let total: u64 = KIND_WEIGHTS.iter().sum();
    let mut roll = rng.below(total);
    for (kind, weight) in ResourceKind::ALL.iter().zip(KIND_WEIGHTS) {
        if roll < weight {
            return *kind;
        }
        roll -= weight;
    }
    ResourceKind::StorageAccount
}

fn resource_name(kind: ResourceKind, i: usize, rng: &mut SplitMix64) -> String {
    let app = rng.pick(&APPLICATIONS);
    match kind {
        ResourceKind::VirtualMachine => format!("vm-{app}-{i:04}"),
        ResourceKind::Disk => format!("disk-{app}-{i:04}"),
        ResourceKind::PublicIp => format!("pip-{app}-{i:04}"),
        ResourceKind::NetworkInterface => format!("nic-{app}-{i:04}"),
        ResourceKind::Snapshot => format!("snap-{app}-{i:04}"),
        ResourceKind::AppServicePlan => format!("asp-{app}-{i:04}"),
        ResourceKind::SqlDatabase => format!("sqldb-{app}-{i:04}"),
        ResourceKind::StorageAccount => format!("st{app}{i:04}{:04x}", rng.below(0x10000)),
    }
}
