//! What each resource costs per hour in USD (from [`crate::catalog`]) and under which service,
//! and for how many hours of a day it is billed.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use crate::catalog::{
    self, DDOS_PLAN_MONTHLY, HOURS_PER_MONTH, LOAD_BALANCER_HOURLY, NAT_GATEWAY_HOURLY,
    PRIVATE_ENDPOINT_HOURLY, PUBLIC_IP_HOURLY, SNAPSHOT_GB_MONTHLY, SQL_VCORE_HOURLY,
};
use crate::estate::{Details, PowerState, Resource, ResourceKind, SqlSku};
use crate::rng::{hash2, unit};

/// `(ServiceName, MeterCategory)` of a charge.
pub type Service = (&'static str, &'static str);

/// The service of a VM's SQL Server licence (billed on the VM's resource id).
pub const LICENSES: Service = ("Virtual Machines Licenses", "Virtual Machines Licenses");

/// The service a resource's usage is billed under.
pub fn service(kind: ResourceKind) -> Service {
    use ResourceKind as K;
    let name = match kind {
        K::VirtualMachine | K::VirtualMachineScaleSet | K::SqlVirtualMachine => "Virtual Machines",
        K::PublicIp | K::NetworkInterface | K::VirtualNetwork | K::PrivateEndpoint => {
            "Virtual Network"
        }
        K::AppServicePlan | K::WebSite => "Azure App Service",
        K::SqlDatabase | K::SqlServer | K::ElasticPool => "SQL Database",
        K::Disk | K::Snapshot | K::StorageAccount | K::ClassicStorageAccount => "Storage",
        K::LoadBalancer => "Load Balancer",
        K::ApplicationGateway => "Application Gateway",
        K::NatGateway => "NAT Gateway",
        K::VirtualNetworkGateway | K::Connection => "VPN Gateway",
        K::ExpressRouteCircuit => "ExpressRoute",
        K::DdosProtectionPlan => "Azure DDOS Protection",
    };
    (name, name)
}

/// The pay-as-you-go hourly rates of `r` in USD while it is billed: its own service, and for
/// a pay-as-you-go SQL VM the licence.
pub fn hourly_usd(r: &Resource) -> (f64, f64) {
    let per_hour = |monthly: f64| monthly / HOURS_PER_MONTH;
    let own = match &r.details {
        Details::VirtualMachine(vm) => vm.size.hourly(vm.pays_windows_licence()),
        Details::VirtualMachineScaleSet(s) => s.size.hourly_price * f64::from(s.capacity),
        Details::Disk(d) => {
            catalog::disk_tier(d.sku, d.size_gb).map_or(0.0, |t| per_hour(t.monthly))
        }
        Details::Snapshot(s) => {
            let rate = if s.sku == "Premium_LRS" {
                SNAPSHOT_GB_MONTHLY.1
            } else {
                SNAPSHOT_GB_MONTHLY.0
            };
            per_hour(rate * f64::from(s.size_gb))
        }
        Details::PublicIp(p) if p.sku == "Basic" => PUBLIC_IP_HOURLY.1,
        Details::PublicIp(_) => PUBLIC_IP_HOURLY.0,
        Details::LoadBalancer(lb) if lb.sku == "Standard" => LOAD_BALANCER_HOURLY,
        Details::ApplicationGateway(g) if g.sku.v1 => g.sku.hourly * f64::from(g.capacity),
        Details::ApplicationGateway(g) => g.sku.hourly,
        Details::NatGateway(_) => NAT_GATEWAY_HOURLY,
        Details::VirtualNetworkGateway(g) => g.sku.hourly,
        Details::ExpressRouteCircuit(c) => per_hour(c.circuit.monthly),
        Details::DdosProtectionPlan(_) => per_hour(DDOS_PLAN_MONTHLY),
        Details::PrivateEndpoint(_) => PRIVATE_ENDPOINT_HOURLY,
        Details::AppServicePlan(p) => p.sku.hourly * f64::from(p.workers),
        Details::SqlDatabase(d) => match &d.sku {
            SqlSku::Dtu(s) => s.daily / 24.0,
            SqlSku::VCore(cores) => SQL_VCORE_HOURLY * f64::from(*cores),
            SqlSku::Pool(_) => 0.0,
        },
        Details::ElasticPool(p) => p.sku.daily / 24.0,
        Details::StorageAccount(s) | Details::ClassicStorageAccount(s) => s.daily_price / 24.0,
        _ => 0.0,
    };
    let licence = match &r.details {
        Details::VirtualMachine(vm) if vm.sql_vm.as_ref().is_some_and(|(_, payg)| *payg) => {
            catalog::sql_license_hourly(vm.size.vcpus)
        }
        _ => 0.0,
    };
    (own, licence)
}

/// The pay-as-you-go cost of one full day of `r` in its current state, in USD.
pub fn daily_rate(r: &Resource) -> f64 {
    match r.vm() {
        Some(vm) if vm.power == PowerState::Deallocated => 0.0,
        _ => {
            let (own, licence) = hourly_usd(r);
            (own + licence) * 24.0
        }
    }
}

/// Usage-billed storage varies from day to day around its rate.
pub fn day_factor(r: &Resource, date: NaiveDate) -> f64 {
    match r.kind() {
        ResourceKind::StorageAccount | ResourceKind::ClassicStorageAccount => {
            let jitter = unit(hash2(
                r.hash,
                chrono::Datelike::num_days_from_ce(&date) as u64,
            ));
            0.85 + 0.3 * jitter
        }
        _ => 1.0,
    }
}

/// Hours of `date` in which `r` is billed: from its creation, and for a VM until it was
/// deallocated.
pub fn billed_hours(r: &Resource, date: NaiveDate) -> f64 {
    let start = date.and_time(NaiveTime::MIN).and_utc();
    let end = start + Duration::days(1);
    let billed_end: Option<DateTime<Utc>> = match r.vm() {
        Some(vm) if vm.power == PowerState::Deallocated => Some(vm.power_since),
        _ => None,
    };
    let from = start.max(r.created);
    let to = billed_end.map_or(end, |b| end.min(b));
    ((to - from).num_seconds().max(0) as f64) / 3600.0
}
