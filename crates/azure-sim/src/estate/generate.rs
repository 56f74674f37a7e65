//! Generation of the estate from the seed: one generator per subscription (subscriptions are
//! built in parallel), three phases ([`super::plan`]: kinds, names and ids; [`super::details`]:
//! each resource's own attributes; [`super::links`]: the links between them).

use chrono::{DateTime, NaiveTime, Utc};
use uuid::Uuid;

use super::catalog::*;
use super::{Estate, EstateConfig, Resource, ResourceGroup, Subscription, Tenant};
use super::{containers, details, links, plan};
use crate::rng::{SplitMix64, hash_str, hash2, uuid_from};

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
            tags: containers::subscription_tags(*id),
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
        retagged: Default::default(),
        cost_anomalies: Default::default(),
    }
}

fn generate_subscription(
    config: &EstateConfig,
    (id, tenant_id): (Uuid, Uuid),
    midnight: DateTime<Utc>,
) -> (Vec<ResourceGroup>, Vec<Resource>) {
    let mut rng = SplitMix64::new(hash2(config.seed, hash_str(&id.to_string())));
    let mut groups = resource_groups(&mut rng, id);
    let resources = subscription_resources(config, &mut rng, (id, tenant_id), &groups, midnight);
    groups.extend(empty_group(id, &groups));
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

fn resource_groups(rng: &mut SplitMix64, subscription_id: Uuid) -> Vec<ResourceGroup> {
    let count = 3 + rng.below(4) as usize;
    let offset = rng.below(GROUP_NAMES.len() as u64) as usize;
    (0..count)
        .map(|i| {
            let name = GROUP_NAMES[(offset + i) % GROUP_NAMES.len()];
            ResourceGroup {
                name: name.to_owned(),
                location: rng.pick(&LOCATIONS),
                tags: containers::group_tags(subscription_id, name),
            }
        })
        .collect()
}

/// A resource group no resource is placed in, as real estates keep (left behind by a removed
/// deployment, or created ahead of one): `ResourceContainers` lists it, no `Resources` row
/// names it. Drawn from the seed-independent name list and the subscription id only, after the
/// resources, so the rest of the estate is what it was without it.
fn empty_group(subscription_id: Uuid, groups: &[ResourceGroup]) -> Option<ResourceGroup> {
    let name = GROUP_NAMES
        .iter()
        .find(|name| !groups.iter().any(|g| g.name.eq_ignore_ascii_case(name)))?;
    let hash = hash2(hash_str(&subscription_id.to_string()), hash_str(name));
    Some(ResourceGroup {
        name: (*name).to_owned(),
        location: LOCATIONS[(hash % LOCATIONS.len() as u64) as usize],
        tags: containers::group_tags(subscription_id, name),
    })
}

fn subscription_resources(
    config: &EstateConfig,
    rng: &mut SplitMix64,
    (subscription_id, tenant_id): (Uuid, Uuid),
    groups: &[ResourceGroup],
    midnight: DateTime<Utc>,
) -> Vec<Resource> {
    let skeletons = plan::skeletons(
        rng,
        config.resources_per_subscription,
        subscription_id,
        groups,
    );
    let mut resources: Vec<Resource> = skeletons
        .iter()
        .map(|s| {
            let hash = hash_str(&s.id);
            let mut r = SplitMix64::new(hash2(config.seed, hash));
            let group = &groups[s.group];
            let location = if r.chance(0.85) {
                group.location
            } else {
                r.pick(&LOCATIONS)
            };
            let tags = details::tags(&mut r);
            let (created, details) = details::details(&mut r, s, midnight);
            Resource {
                id: s.id.clone(),
                name: s.name.clone(),
                subscription_id,
                tenant_id,
                resource_group: group.name.clone(),
                location,
                tags,
                created,
                details,
                hash,
            }
        })
        .collect();
    let plants: Vec<plan::Plant> = skeletons.iter().map(|s| s.plant).collect();
    links::link(&mut resources, &plants, midnight);
    resources
}
