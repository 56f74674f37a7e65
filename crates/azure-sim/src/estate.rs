//! The synthetic Azure estate the simulator serves: tenants, subscriptions and resources,
//! generated deterministically from a seed (same seed, same day → byte-identical responses).
//!
//! Only the inventory is stored; costs ([`super::costs`]), metrics ([`super::metrics`]), Advisor
//! recommendations ([`super::advisor`]) and the planted conditions ([`super::truth`]) are
//! computed on demand from it, so 50 × 2000 resources generate in well under a second.

mod arm_json;
mod catalog;
pub mod containers;
mod details;
mod generate;
mod kinds;
mod links;
mod plan;
mod resource;

pub use crate::catalog::VmSize;
pub(crate) use arm_json::timestamp;
pub use kinds::*;
pub use resource::{Details, Resource, ResourceKind, Tags};

use std::collections::HashMap;
use std::ops::Range;
use std::sync::RwLock;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use uuid::Uuid;

/// What to generate.
#[derive(Debug, Clone)]
pub struct EstateConfig {
    /// Fixes every generated value.
    pub seed: u64,
    /// Number of customer tenants.
    pub tenants: usize,
    /// Subscriptions in each tenant.
    pub subscriptions_per_tenant: usize,
    /// Resources in each subscription.
    pub resources_per_subscription: usize,
    /// Days of cost data, ending yesterday.
    pub cost_days: u32,
    /// The simulator's "today" (UTC); `None` means the real current date.
    pub today: Option<NaiveDate>,
    /// Fraction of (VM, metric) pairs whose metric comes back with an error code inside a 200.
    pub metric_error_rate: f64,
}

impl Default for EstateConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            tenants: 2,
            subscriptions_per_tenant: 2,
            resources_per_subscription: 50,
            cost_days: 35,
            today: None,
            metric_error_rate: 0.0,
        }
    }
}

/// A customer tenant (an Entra ID directory).
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    /// The billing currency of its cost data and Advisor savings.
    pub currency: &'static str,
    pub subscription_ids: Vec<Uuid>,
}

/// A subscription and its resource groups.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub display_name: String,
    pub tags: Tags,
    /// Its groups, the last one (when the name list has one left) holding no resource.
    pub resource_groups: Vec<ResourceGroup>,
    resources: Range<usize>,
}

/// A resource group (names are mixed-case, as in real estates).
#[derive(Debug, Clone)]
pub struct ResourceGroup {
    pub name: String,
    pub location: &'static str,
    pub tags: Tags,
}

/// The whole estate.
#[derive(Debug)]
pub struct Estate {
    config: EstateConfig,
    today: NaiveDate,
    operator_tenant_id: Uuid,
    msi_client_id: Uuid,
    tenants: Vec<Tenant>,
    subscriptions: Vec<Subscription>,
    resources: Vec<Resource>,
    subscription_index: HashMap<Uuid, usize>,
    /// By [`id_key`] of the lower-cased id.
    resource_index: HashMap<u64, usize>,
    /// Subscriptions moved to another tenant after generation ([`Self::move_subscription`]).
    moved: RwLock<HashMap<Uuid, Uuid>>,
    /// Tags set on resources after generation ([`Self::set_tags`]), by [`id_key`].
    retagged: RwLock<HashMap<u64, serde_json::Map<String, serde_json::Value>>>,
    /// Cost anomalies injected after generation ([`Self::inject_cost_anomaly`]).
    cost_anomalies: RwLock<Vec<CostAnomaly>>,
}

/// A cost anomaly injected into one resource's cost on one day: every charge of the resource
/// that day (its own service's and its licences', not a reservation's) is multiplied by
/// `factor`. Listed as ground truth at `/_sim/estate`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CostAnomaly {
    pub subscription_id: Uuid,
    /// The ARM id as generated.
    pub resource_id: String,
    pub resource_group: String,
    /// Cost Management's `ServiceName` of the resource's own charges.
    pub service_name: &'static str,
    pub date: NaiveDate,
    pub factor: f64,
}

impl Estate {
    /// Generates the estate for `config`.
    pub fn generate(config: &EstateConfig) -> Self {
        generate::generate(config)
    }

    /// The configuration it was generated from.
    pub fn config(&self) -> &EstateConfig {
        &self.config
    }

    /// The simulator's current date (UTC).
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// The "now" that KQL `ago()` and `now()` use: noon of [`Self::today`], so responses do not
    /// depend on the time of day.
    pub fn reference_now(&self) -> DateTime<Utc> {
        self.today.and_time(NaiveTime::MIN).and_utc() + Duration::hours(12)
    }

    /// The operator's tenant: its principals (and the managed identity) see every subscription,
    /// as with Azure Lighthouse delegations.
    pub fn operator_tenant_id(&self) -> Uuid {
        self.operator_tenant_id
    }

    /// The client id of the simulated managed identity.
    pub fn msi_client_id(&self) -> Uuid {
        self.msi_client_id
    }

    /// The customer tenants.
    pub fn tenants(&self) -> &[Tenant] {
        &self.tenants
    }

    /// One tenant by id.
    pub fn tenant(&self, id: Uuid) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id == id)
    }

    /// Every subscription, tenant by tenant.
    pub fn subscriptions(&self) -> &[Subscription] {
        &self.subscriptions
    }

    /// One subscription by id.
    pub fn subscription(&self, id: Uuid) -> Option<&Subscription> {
        self.subscription_index
            .get(&id)
            .map(|i| &self.subscriptions[*i])
    }

    /// The subscriptions whose home is one tenant (now: after any move).
    pub fn subscriptions_of(&self, tenant_id: Uuid) -> impl Iterator<Item = &Subscription> {
        self.subscriptions
            .iter()
            .filter(move |s| self.home_tenant(s.id) == Some(tenant_id))
    }

    /// The Entra tenant a subscription belongs to now: where it was generated, unless it has
    /// been moved since. `None` for an unknown subscription.
    pub fn home_tenant(&self, subscription_id: Uuid) -> Option<Uuid> {
        let generated = self.subscription(subscription_id)?.tenant_id;
        let moved = self.moved.read().unwrap_or_else(|e| e.into_inner());
        Some(moved.get(&subscription_id).copied().unwrap_or(generated))
    }

    /// Moves a subscription to another Entra tenant (any tenant id, known to the estate or
    /// not), as a subscription transfer does: from now on ARM, Resource Graph and every
    /// authorisation check report the new home. False for an unknown subscription.
    pub fn move_subscription(&self, subscription_id: Uuid, tenant_id: Uuid) -> bool {
        if self.subscription(subscription_id).is_none() {
            return false;
        }
        let mut moved = self.moved.write().unwrap_or_else(|e| e.into_inner());
        moved.insert(subscription_id, tenant_id);
        true
    }

    /// Replaces a resource's tags, as someone tagging it in the portal does: from now on Resource
    /// Graph returns them. False for an unknown resource. The ground truth is not changed: it
    /// describes the generated estate.
    pub fn set_tags(
        &self,
        resource_id: &str,
        tags: serde_json::Map<String, serde_json::Value>,
    ) -> bool {
        if self.resource(resource_id).is_none() {
            return false;
        }
        let mut retagged = self.retagged.write().unwrap_or_else(|e| e.into_inner());
        retagged.insert(id_key(resource_id), tags);
        true
    }

    /// Multiplies a resource's charges on `date` by `factor` (≥ 0), as a runaway job or a
    /// forgotten scale-up would; a second injection for the same resource and day replaces the
    /// first. `None` for an unknown resource.
    pub fn inject_cost_anomaly(
        &self,
        resource_id: &str,
        date: NaiveDate,
        factor: f64,
    ) -> Option<CostAnomaly> {
        let r = self.resource(resource_id)?;
        let injected = CostAnomaly {
            subscription_id: r.subscription_id,
            resource_id: r.id.clone(),
            resource_group: r.resource_group.clone(),
            service_name: crate::costs::service(r.kind()).0,
            date,
            factor,
        };
        let mut all = self
            .cost_anomalies
            .write()
            .unwrap_or_else(|e| e.into_inner());
        all.retain(|a| !(a.resource_id == injected.resource_id && a.date == date));
        all.push(injected.clone());
        Some(injected)
    }

    /// The injected cost anomalies, oldest injection first.
    pub fn cost_anomalies(&self) -> Vec<CostAnomaly> {
        self.cost_anomalies
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The factor of a resource's charges on `date` (1 unless an anomaly was injected).
    pub fn cost_factor(&self, resource: &Resource, date: NaiveDate) -> f64 {
        let all = self
            .cost_anomalies
            .read()
            .unwrap_or_else(|e| e.into_inner());
        all.iter()
            .find(|a| a.date == date && a.resource_id == resource.id)
            .map_or(1.0, |a| a.factor)
    }

    /// A resource as Resource Graph returns it, with the tags set since generation.
    pub fn graph_json(&self, resource: &Resource) -> serde_json::Value {
        let mut row = resource.to_graph_json();
        let retagged = self.retagged.read().unwrap_or_else(|e| e.into_inner());
        if let (Some(tags), Some(object)) =
            (retagged.get(&id_key(&resource.id)), row.as_object_mut())
        {
            object.insert("tags".into(), serde_json::Value::Object(tags.clone()));
        }
        row
    }

    /// The resources of a subscription, ordered by id (empty for an unknown subscription).
    pub fn resources_of(&self, subscription_id: Uuid) -> &[Resource] {
        self.subscription(subscription_id)
            .map(|s| &self.resources[s.resources.clone()])
            .unwrap_or(&[])
    }

    /// Indices into [`Self::resources`] of a subscription's resources (empty when unknown).
    pub fn resource_range(&self, subscription_id: Uuid) -> Range<usize> {
        self.subscription(subscription_id)
            .map(|s| s.resources.clone())
            .unwrap_or(0..0)
    }

    /// Every resource.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// One resource by ARM id (case-insensitive, as ARM is).
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        let index = self.resource_index.get(&id_key(id))?;
        Some(&self.resources[*index]).filter(|r| r.id.eq_ignore_ascii_case(id))
    }

    /// Number of resources of `kind` in a subscription.
    pub fn expected_count(&self, subscription_id: Uuid, kind: ResourceKind) -> usize {
        self.count(subscription_id, |r| r.kind() == kind)
    }

    /// Managed disks with `diskState = Unattached` (the `UNATTACHED_DISKS` query).
    pub fn expected_unattached_disks(&self, subscription_id: Uuid) -> usize {
        self.count(
            subscription_id,
            |r| matches!(&r.details, Details::Disk(d) if d.managed_by.is_none()),
        )
    }

    /// Public IPs bound to nothing (the `ORPHANED_PUBLIC_IPS` query).
    pub fn expected_orphaned_public_ips(&self, subscription_id: Uuid) -> usize {
        self.count(
            subscription_id,
            |r| matches!(&r.details, Details::PublicIp(p) if matches!(p.binding, IpBinding::None)),
        )
    }

    /// NICs attached to no VM (the `ORPHANED_NICS` query).
    pub fn expected_orphaned_nics(&self, subscription_id: Uuid) -> usize {
        self.count(
            subscription_id,
            |r| matches!(&r.details, Details::NetworkInterface(n) if n.virtual_machine.is_none()),
        )
    }

    /// Snapshots older than 90 days (the `STALE_SNAPSHOTS` query).
    pub fn expected_stale_snapshots(&self, subscription_id: Uuid) -> usize {
        let cutoff = self.reference_now() - Duration::days(90);
        self.count(subscription_id, |r| {
            r.kind() == ResourceKind::Snapshot && r.created < cutoff
        })
    }

    /// Resources without a `cost-center` tag (the `MISSING_COST_CENTER_TAG` query).
    pub fn expected_missing_cost_center(&self, subscription_id: Uuid) -> usize {
        self.count(subscription_id, |r| r.tags.cost_center.is_none())
    }

    /// Running VMs whose CPU stays below 5 %.
    pub fn expected_idle_vms(&self, subscription_id: Uuid) -> usize {
        self.count(subscription_id, |r| {
            r.vm()
                .is_some_and(|vm| vm.is_running() && vm.utilisation == Utilisation::Idle)
        })
    }

    fn count(&self, subscription_id: Uuid, pred: impl Fn(&Resource) -> bool) -> usize {
        self.resources_of(subscription_id)
            .iter()
            .filter(|r| pred(r))
            .count()
    }
}

/// The index key of an ARM id: a stable hash of its lower-cased form.
fn id_key(id: &str) -> u64 {
    crate::rng::hash_bytes(id.bytes().map(|b| b.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EstateConfig {
        EstateConfig {
            resources_per_subscription: 40,
            ..EstateConfig::default()
        }
    }

    #[test]
    fn the_same_seed_generates_the_same_estate() {
        let (a, b) = (Estate::generate(&config()), Estate::generate(&config()));
        let ids = |e: &Estate| {
            e.resources()
                .iter()
                .map(|r| r.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.resources().len(), 2 * 2 * 40);
        let other = Estate::generate(&EstateConfig {
            seed: 43,
            ..config()
        });
        assert_ne!(other.tenants()[0].id, a.tenants()[0].id);
    }

    #[test]
    fn every_subscription_has_every_kind_and_resources_are_found_case_insensitively() {
        let estate = Estate::generate(&config());
        for sub in estate.subscriptions() {
            for kind in ResourceKind::ALL {
                assert!(
                    estate.expected_count(sub.id, kind) > 0,
                    "{kind:?} in {}",
                    sub.id
                );
            }
        }
        let first = &estate.resources()[0];
        let found = estate.resource(&first.id.to_uppercase()).expect("found");
        assert_eq!(found.id, first.id);
        assert!(estate.resource("/subscriptions/nope").is_none());
    }

    #[test]
    fn tags_sent_as_a_string_never_carry_a_cost_center() {
        let estate = Estate::generate(&EstateConfig {
            resources_per_subscription: 400,
            ..config()
        });
        let stringly: Vec<&Resource> = estate
            .resources()
            .iter()
            .filter(|r| r.tags.as_json_string)
            .collect();
        assert!(!stringly.is_empty());
        assert!(
            stringly
                .iter()
                .all(|r| r.tags.cost_center.is_none() && r.tags.to_json().is_string())
        );
    }
}
