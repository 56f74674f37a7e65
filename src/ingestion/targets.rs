//! What the inventory asks of the other collectors: which resources Monitor reads metrics for
//! (the kinds a rule judges by utilisation), and which reference data (VM sizes per region,
//! retail prices per region and service) the rules will price them with.
//!
//! Metrics are read for VMs and scale sets (CPU, memory, network out), **attached Premium**
//! managed disks (IOPS and MBps consumed: only a Premium disk has a cheaper tier to move to by
//! utilisation, and an unattached disk does no I/O), App Service plans that host sites, and SQL
//! databases other than `master`. Everything else costs no Monitor call.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::azure::monitor::{MetricKind, MetricTarget};
use crate::azure::resource_graph::Resource;

/// The Retail Prices `serviceName` of the resource types the rules price, by ARM type.
pub const PRICED_SERVICES: [(&str, &str); 14] = [
    ("microsoft.compute/virtualmachines", "Virtual Machines"),
    (
        "microsoft.compute/virtualmachinescalesets",
        "Virtual Machines",
    ),
    ("microsoft.compute/disks", "Storage"),
    ("microsoft.compute/snapshots", "Storage"),
    ("microsoft.web/serverfarms", "Azure App Service"),
    ("microsoft.sql/servers/databases", "SQL Database"),
    ("microsoft.sql/servers/elasticpools", "SQL Database"),
    ("microsoft.network/publicipaddresses", "Virtual Network"),
    ("microsoft.network/loadbalancers", "Load Balancer"),
    (
        "microsoft.network/applicationgateways",
        "Application Gateway",
    ),
    ("microsoft.network/natgateways", "NAT Gateway"),
    ("microsoft.network/virtualnetworkgateways", "VPN Gateway"),
    ("microsoft.network/expressroutecircuits", "ExpressRoute"),
    (
        "microsoft.network/ddosprotectionplans",
        "Azure DDoS Protection",
    ),
];

/// The reference data one subscription's rules need.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceNeeds {
    /// Regions with VMs or scale sets: their VM sizes (every size of the region: a rightsizing
    /// moves to sizes nobody uses yet).
    pub vm_regions: BTreeSet<String>,
    /// (region, Retail Prices service name) of every priced resource.
    pub price_services: BTreeSet<(String, String)>,
}

impl ReferenceNeeds {
    /// Adds what `resource` needs.
    pub fn add(&mut self, resource: &Resource) {
        let region = resource.location.to_ascii_lowercase();
        if region.is_empty() {
            return;
        }
        let ty = resource.resource_type.as_str();
        if let Some((_, service)) = PRICED_SERVICES.iter().find(|(t, _)| *t == ty) {
            self.price_services
                .insert((region.clone(), (*service).to_owned()));
        }
        if matches!(
            ty,
            "microsoft.compute/virtualmachines" | "microsoft.compute/virtualmachinescalesets"
        ) {
            self.vm_regions.insert(region);
        }
    }
}

/// The metric target of `resource`, when Monitor should read it.
pub fn metric_target(resource: &Resource) -> Option<MetricTarget> {
    let properties = resource.properties.as_ref();
    let kind = match resource.resource_type.as_str() {
        "microsoft.compute/virtualmachines" => MetricKind::Vm,
        "microsoft.compute/virtualmachinescalesets" => MetricKind::ScaleSet,
        "microsoft.compute/disks" => {
            let premium = text(resource.sku.as_ref(), &["name"])
                .to_ascii_lowercase()
                .starts_with("premium");
            let attached = text(properties, &["diskState"]).eq_ignore_ascii_case("attached");
            if !(premium && attached) {
                return None;
            }
            MetricKind::ManagedDisk {
                iops_limit: number(properties, "diskIOPSReadWrite"),
                mbps_limit: number(properties, "diskMBpsReadWrite"),
            }
        }
        "microsoft.web/serverfarms" => {
            let sites = properties
                .and_then(|p| p.get("numberOfSites"))
                .and_then(Value::as_i64);
            if sites == Some(0) {
                return None;
            }
            MetricKind::AppServicePlan
        }
        "microsoft.sql/servers/databases" if !resource.name.eq_ignore_ascii_case("master") => {
            MetricKind::SqlDatabase
        }
        _ => return None,
    };
    Some(MetricTarget {
        resource_id: resource.resource_id.clone(),
        location: resource.location.clone(),
        kind,
    })
}

fn text<'a>(value: Option<&'a Value>, path: &[&str]) -> &'a str {
    value.map_or("", |v| super::conditions::text(v, path))
}

fn number(value: Option<&Value>, key: &str) -> Option<f64> {
    value?.get(key)?.as_f64().filter(|n| *n > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::resource_graph::mapper::map_row;
    use serde_json::json;

    fn resource(ty: &str, name: &str, sku: Value, properties: Value) -> Resource {
        let row = json!({
            "id": format!("/subscriptions/s/resourceGroups/rg/providers/{ty}/{name}"),
            "name": name, "type": ty, "location": "WestEurope", "sku": sku, "properties": properties,
        });
        map_row(0, &row).expect("maps")
    }

    #[test]
    fn only_attached_premium_disks_are_read_with_their_limits() {
        let disk = |sku: &str, state: &str| {
            let props =
                json!({"diskState": state, "diskIOPSReadWrite": 500, "diskMBpsReadWrite": 100});
            metric_target(&resource(
                "Microsoft.Compute/disks",
                "d",
                json!({"name": sku}),
                props,
            ))
        };
        let premium = disk("Premium_LRS", "Attached").expect("read");
        assert_eq!(
            premium.kind,
            MetricKind::ManagedDisk {
                iops_limit: Some(500.0),
                mbps_limit: Some(100.0)
            }
        );
        assert!(disk("Premium_LRS", "Unattached").is_none());
        assert!(disk("StandardSSD_LRS", "Attached").is_none());
    }

    #[test]
    fn plans_without_sites_and_master_databases_cost_no_call() {
        let plan = |sites| {
            metric_target(&resource(
                "Microsoft.Web/serverfarms",
                "p",
                json!({"name": "P1v3"}),
                json!({"numberOfSites": sites}),
            ))
        };
        assert!(plan(0).is_none());
        assert_eq!(plan(3).expect("read").kind, MetricKind::AppServicePlan);
        let db = |name| {
            metric_target(&resource(
                "Microsoft.Sql/servers/databases",
                name,
                json!({"name": "S1"}),
                json!({}),
            ))
        };
        assert!(db("master").is_none());
        assert_eq!(db("orders").expect("read").kind, MetricKind::SqlDatabase);
        let vm = resource(
            "Microsoft.Compute/virtualMachines",
            "vm",
            Value::Null,
            json!({}),
        );
        assert_eq!(metric_target(&vm).expect("read").kind, MetricKind::Vm);
    }

    #[test]
    fn needs_name_the_regions_and_services_in_use() {
        let mut needs = ReferenceNeeds::default();
        needs.add(&resource(
            "Microsoft.Compute/virtualMachines",
            "vm",
            Value::Null,
            json!({"hardwareProfile": {"vmSize": "Standard_D4s_v5"}}),
        ));
        needs.add(&resource(
            "Microsoft.Compute/disks",
            "d",
            json!({"name": "Premium_LRS"}),
            json!({}),
        ));
        needs.add(&resource(
            "Microsoft.Storage/storageAccounts",
            "s",
            Value::Null,
            json!({}),
        ));
        assert_eq!(needs.vm_regions, BTreeSet::from(["westeurope".to_owned()]));
        assert_eq!(
            needs.price_services,
            BTreeSet::from([
                ("westeurope".to_owned(), "Storage".to_owned()),
                ("westeurope".to_owned(), "Virtual Machines".to_owned()),
            ])
        );
    }
}
