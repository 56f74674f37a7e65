//! Ground truth: the conditions planted in the estate, per resource, under the rule ids of
//! PHASE3 §2 (`disk.unattached`, `vm.idle`, …), each with `since` (when the state began) and
//! `fires` (whether the rule, with its default thresholds, fires at the simulator's reference
//! time). Everything is read from the inventory the simulator serves, so a condition holds in
//! the inventory, the metrics and the costs alike (an idle VM's served CPU stays under 5 %, an
//! unattached disk's `diskState` is `Unattached` since `since` and it is still billed).
//!
//! Ages are whole days away from every threshold (see the estate's generator), so `fires`
//! reads the same at any hour of the simulator's day.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::estate::{
    Details, DiskState, Estate, IpBinding, PowerState, Resource, SqlSku, Utilisation,
};

/// The default durations (days) of the age-based rules, as `fires` applies them.
pub const THRESHOLD_DAYS: [(&str, i64); 7] = [
    ("vm.stopped_allocated", 1),
    ("vm.long_deallocated", 30),
    ("disk.unattached", 7),
    ("disk.on_deallocated_vm", 30),
    ("publicip.orphaned", 7),
    ("snapshot.orphaned_source", 30),
    ("er.unprovisioned", 30),
];

/// How old a snapshot is when it becomes stale.
pub const STALE_SNAPSHOT_DAYS: i64 = 90;

/// One planted condition of one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub rule_id: &'static str,
    /// When the state began (RFC 3339).
    #[serde(serialize_with = "rfc3339")]
    pub since: DateTime<Utc>,
    /// Whether the rule fires at the reference time with its default thresholds.
    pub fires: bool,
    /// What the rule should propose or report (a target size, a retired SKU's reason).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

/// The conditions of one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceTruth {
    pub resource_id: String,
    /// Lower-case ARM type, as Resource Graph reports it.
    #[serde(rename = "type")]
    pub resource_type: String,
    pub subscription_id: Uuid,
    pub conditions: Vec<Condition>,
}

fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
}

struct Builder {
    now: DateTime<Utc>,
    out: Vec<Condition>,
}

impl Builder {
    fn add(&mut self, rule_id: &'static str, since: DateTime<Utc>, details: Value) {
        let days = THRESHOLD_DAYS
            .iter()
            .find(|(id, _)| *id == rule_id)
            .map_or(0, |(_, d)| *d);
        let details = match details {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self.out.push(Condition {
            rule_id,
            since,
            fires: self.now - since >= Duration::days(days),
            details,
        });
    }
}

/// The planted conditions of `r`, in a stable order.
pub fn conditions(estate: &Estate, r: &Resource) -> Vec<Condition> {
    let mut b = Builder {
        now: estate.reference_now(),
        out: Vec::new(),
    };
    let none = Value::Null;
    match &r.details {
        Details::VirtualMachine(vm) => {
            match vm.power {
                PowerState::Running if vm.utilisation == Utilisation::Idle => {
                    b.add("vm.idle", r.created, none.clone())
                }
                PowerState::Stopped => b.add("vm.stopped_allocated", vm.power_since, none.clone()),
                PowerState::Deallocated => {
                    b.add("vm.long_deallocated", vm.power_since, none.clone())
                }
                PowerState::Running => {}
            }
            if let (PowerState::Running, Some(t)) = (vm.power, vm.rightsize_target) {
                let details = json!({"current_size": vm.size.name, "target_size": t.name});
                b.add("vm.rightsize", r.created, details);
            }
            if vm.pays_windows_licence() {
                b.add("vm.no_ahb", r.created, none.clone());
            }
            if vm.unmanaged_disks {
                b.add(
                    "sku.retired",
                    r.created,
                    json!({"reason": "unmanaged_disks"}),
                );
            }
        }
        Details::Disk(d) => {
            let since = d.ownership_since.unwrap_or(r.created);
            match d.state {
                DiskState::Unattached => b.add("disk.unattached", since, none.clone()),
                DiskState::Reserved if d.sku != "Standard_LRS" => b.add(
                    "disk.on_deallocated_vm",
                    since,
                    json!({"target_sku": "Standard_LRS"}),
                ),
                _ => {}
            }
            let running_vm = d
                .managed_by
                .as_deref()
                .and_then(|vm| estate.resource(vm))
                .and_then(Resource::vm)
                .is_some_and(|vm| vm.is_running());
            if d.sku == "Premium_LRS" && d.io_underused && running_vm {
                b.add(
                    "disk.premium_underused",
                    since,
                    json!({"target_sku": "StandardSSD_LRS"}),
                );
            }
        }
        Details::Snapshot(s) => {
            let stale_since = r.created + Duration::days(STALE_SNAPSHOT_DAYS);
            if stale_since <= b.now {
                b.add("snapshot.stale", stale_since, none.clone());
            }
            if s.sku == "Premium_LRS" {
                b.add(
                    "snapshot.premium",
                    r.created,
                    json!({"target_sku": "Standard_LRS"}),
                );
            }
            if !s.source_exists {
                b.add("snapshot.orphaned_source", r.created, none.clone());
            }
        }
        Details::PublicIp(p) => {
            if p.binding == IpBinding::None {
                b.add("publicip.orphaned", r.created, none.clone());
            }
            if p.sku == "Basic" {
                b.add(
                    "sku.retired",
                    r.created,
                    json!({"reason": "basic_public_ip"}),
                );
            }
        }
        Details::NetworkInterface(n)
            if n.virtual_machine.is_none() && n.private_endpoint.is_none() =>
        {
            b.add("nic.orphaned", r.created, none.clone())
        }
        Details::NatGateway(n) if n.subnets.is_empty() => {
            b.add("natgw.orphaned", r.created, none.clone())
        }
        Details::LoadBalancer(lb) => {
            if lb.sku == "Standard" && lb.backendless() {
                b.add("lb.backendless", r.created, none.clone());
            }
            if lb.sku == "Basic" {
                b.add(
                    "sku.retired",
                    r.created,
                    json!({"reason": "basic_load_balancer"}),
                );
            }
        }
        Details::ApplicationGateway(g) => {
            if g.backendless() {
                b.add("appgw.backendless", r.created, none.clone());
            }
            if g.sku.v1 {
                b.add(
                    "sku.retired",
                    r.created,
                    json!({"reason": "application_gateway_v1"}),
                );
            }
        }
        Details::VirtualNetworkGateway(g) if g.connections.is_empty() => {
            b.add("vnetgw.idle", r.created, none.clone())
        }
        Details::DdosProtectionPlan(p) if p.virtual_networks.is_empty() => {
            b.add("ddos.unassociated", r.created, none.clone())
        }
        Details::ExpressRouteCircuit(c) if !c.provisioned => {
            b.add("er.unprovisioned", r.created, none.clone())
        }
        Details::PrivateEndpoint(p) if p.status != "Approved" => {
            b.add("pe.unused", r.created, json!({"status": p.status}))
        }
        Details::AppServicePlan(p) => {
            if p.sites == 0 {
                b.add("asp.empty", r.created, none.clone());
            }
            if let Some(t) = p.target {
                b.add(
                    "asp.oversized",
                    r.created,
                    json!({"current_sku": p.sku.name, "target_sku": t.name}),
                );
            }
        }
        Details::SqlDatabase(d) => {
            if let (SqlSku::Dtu(current), Some(t)) = (&d.sku, d.target) {
                let details = json!({"current_objective": current.objective, "target_objective": t.objective});
                b.add("sql.dtu_underused", r.created, details);
            }
        }
        Details::ElasticPool(p) if p.databases == 0 => {
            b.add("sql.pool_empty", r.created, none.clone())
        }
        Details::SqlVirtualMachine(s) if s.license_type == "PAYG" => {
            b.add("sqlvm.no_ahb", r.created, none.clone())
        }
        Details::VirtualMachineScaleSet(s) if s.utilisation == Utilisation::Oversized => b.add(
            "vmss.underused",
            r.created,
            json!({"current_size": s.size.name}),
        ),
        Details::ClassicStorageAccount(_) => b.add(
            "sku.retired",
            r.created,
            json!({"reason": "classic_storage"}),
        ),
        _ => {}
    }
    b.out
}

impl Estate {
    /// The resources of a subscription that have planted conditions, in id order.
    pub fn ground_truth(&self, subscription_id: Uuid) -> Vec<ResourceTruth> {
        self.resources_of(subscription_id)
            .iter()
            .filter_map(|r| {
                let conditions = conditions(self, r);
                (!conditions.is_empty()).then(|| ResourceTruth {
                    resource_id: r.id.clone(),
                    resource_type: r.kind().arm_type().to_ascii_lowercase(),
                    subscription_id,
                    conditions,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estate::EstateConfig;
    use std::collections::HashSet;

    #[test]
    fn every_rule_is_planted_in_every_subscription_of_forty_resources() {
        let estate = Estate::generate(&EstateConfig {
            resources_per_subscription: 40,
            ..EstateConfig::default()
        });
        for sub in estate.subscriptions() {
            let planted: HashSet<&str> = estate
                .ground_truth(sub.id)
                .iter()
                .flat_map(|t| t.conditions.iter().filter(|c| c.fires).map(|c| c.rule_id))
                .collect();
            for rule in [
                "vm.idle",
                "vm.rightsize",
                "vm.stopped_allocated",
                "vm.long_deallocated",
                "vm.no_ahb",
                "sqlvm.no_ahb",
                "disk.unattached",
                "disk.premium_underused",
                "nic.orphaned",
                "publicip.orphaned",
                "snapshot.stale",
                "asp.empty",
                "asp.oversized",
                "sql.dtu_underused",
                "sql.pool_empty",
                "lb.backendless",
                "appgw.backendless",
                "natgw.orphaned",
                "vnetgw.idle",
                "pe.unused",
                "er.unprovisioned",
                "vmss.underused",
                "ddos.unassociated",
                "sku.retired",
            ] {
                assert!(planted.contains(rule), "{rule} in {}", sub.id);
            }
        }
    }
}
