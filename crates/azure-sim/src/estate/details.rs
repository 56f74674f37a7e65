//! The second phase of generating a subscription: each resource's own attributes (size, SKU,
//! power state, ages, how busy it is), drawn from a generator seeded by its id so resources
//! are independent of each other. Links between resources come after ([`super::links`]).

mod compute;
mod network;
mod other;

use chrono::{DateTime, Duration, Utc};

use super::catalog::*;
use super::plan::{Plant, Skeleton};
use super::resource::{Details, ResourceKind, Tags};
use crate::rng::SplitMix64;

/// Whole days just before the thresholds of age-based conditions (1, 7, 14, 30 and 90 days):
/// no age falls there, so a condition reads the same at any hour of the simulator's day.
const BEFORE_THRESHOLDS: [u64; 5] = [0, 6, 13, 29, 89];

/// `days`, moved off the days just before a threshold.
pub(super) fn safe_days(days: u64) -> u64 {
    if BEFORE_THRESHOLDS.contains(&days) {
        days + 1
    } else {
        days
    }
}

/// A moment a whole number of days in `days` (made safe) and a random time of day before
/// `midnight`.
pub(super) fn ago(
    r: &mut SplitMix64,
    midnight: DateTime<Utc>,
    days: std::ops::Range<u64>,
) -> DateTime<Utc> {
    let d = safe_days(days.start + r.below(days.end.saturating_sub(days.start).max(1)));
    midnight - Duration::days(d as i64) - Duration::microseconds(r.below(86_400_000_000) as i64)
}

/// Like [`ago`], but after `created` (an hour after it when the range allows nothing later).
pub(super) fn ago_after(
    r: &mut SplitMix64,
    midnight: DateTime<Utc>,
    days: std::ops::Range<u64>,
    created: DateTime<Utc>,
) -> DateTime<Utc> {
    let created_days = (midnight - created).num_days().max(0) as u64;
    let end = days.end.min(created_days);
    if end <= days.start {
        return created + Duration::hours(1);
    }
    ago(r, midnight, days.start..end)
}

pub(super) fn tags(r: &mut SplitMix64) -> Tags {
    if r.chance(0.05) {
        return Tags::default();
    }
    let as_json_string = r.chance(0.04);
    Tags {
        environment: Some(r.pick(&ENVIRONMENTS)),
        cost_center: (!as_json_string && r.chance(0.8)).then(|| r.pick(&COST_CENTERS)),
        owner: r.chance(0.7).then(|| r.pick(&OWNERS)),
        application: r.chance(0.6).then(|| r.pick(&APPLICATIONS)),
        as_json_string,
    }
}

/// The creation time and own attributes of one resource.
pub(super) fn details(
    r: &mut SplitMix64,
    s: &Skeleton,
    midnight: DateTime<Utc>,
) -> (DateTime<Utc>, Details) {
    use ResourceKind as K;
    let created = match (s.kind, s.plant) {
        (K::VirtualMachine, _) => ago(r, midnight, 30..900),
        (K::Snapshot, Plant::StaleSnapshot) => ago(r, midnight, 95..400),
        (K::Snapshot, _) => ago(r, midnight, 1..400),
        (K::Disk, _) => ago(r, midnight, 20..700),
        _ => ago(r, midnight, 35..900),
    };
    let details = match s.kind {
        K::VirtualMachine => Details::VirtualMachine(compute::vm(r, s, midnight, created)),
        K::Disk => Details::Disk(compute::disk(r, s.plant)),
        K::Snapshot => Details::Snapshot(compute::snapshot(r)),
        K::VirtualMachineScaleSet => Details::VirtualMachineScaleSet(compute::vmss(r, s.plant)),
        K::SqlVirtualMachine => Details::SqlVirtualMachine(compute::sql_vm(r, s)),
        K::NetworkInterface => Details::NetworkInterface(network::nic(r)),
        K::PublicIp => Details::PublicIp(network::public_ip(r)),
        K::VirtualNetwork => Details::VirtualNetwork(network::vnet(r)),
        K::LoadBalancer => Details::LoadBalancer(network::load_balancer(r, s.plant)),
        K::ApplicationGateway => Details::ApplicationGateway(network::app_gateway(r, s.plant)),
        K::NatGateway => Details::NatGateway(network::nat_gateway()),
        K::VirtualNetworkGateway => Details::VirtualNetworkGateway(network::vnet_gateway(r)),
        K::Connection => Details::Connection(network::connection(r)),
        K::PrivateEndpoint => Details::PrivateEndpoint(network::private_endpoint(r, s.plant)),
        K::ExpressRouteCircuit => Details::ExpressRouteCircuit(network::circuit(r, s.plant)),
        K::DdosProtectionPlan => Details::DdosProtectionPlan(network::ddos_plan()),
        K::AppServicePlan => Details::AppServicePlan(other::plan(r, s.plant)),
        K::WebSite => Details::WebSite(other::site()),
        K::SqlServer => Details::SqlServer(other::sql_server(r)),
        K::SqlDatabase => Details::SqlDatabase(other::sql_database(r, s)),
        K::ElasticPool => Details::ElasticPool(other::elastic_pool(r)),
        K::StorageAccount => Details::StorageAccount(other::storage_account(r)),
        K::ClassicStorageAccount => Details::ClassicStorageAccount(other::classic_storage(r)),
    };
    (created, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_never_fall_on_the_day_before_a_threshold() {
        let midnight = DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap_or_default()
            .with_time(chrono::NaiveTime::MIN)
            .single()
            .unwrap_or_default();
        let mut r = SplitMix64::new(3);
        for _ in 0..2000 {
            let t = ago(&mut r, midnight, 0..100);
            let whole = (midnight - t).num_days() as u64;
            assert!(!BEFORE_THRESHOLDS.contains(&whole), "{whole}");
            assert!(t < midnight);
        }
    }
}
