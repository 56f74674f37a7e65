//! The tracked conditions of a resource, read from its inventory row alone: what a waste rule
//! needs to know has held for a while ("unattached for ≥ 7 days", "deallocated for ≥ 30 days").
//! The database keeps when each was first seen and ends it when an inventory no longer shows it
//! (`db::conditions`); this module only says which hold now, and since when Azure itself says
//! so where it says anything.
//!
//! Property paths are those of Resource Graph's `Resources` rows (ARM's resource `properties`,
//! plus `extended.instanceView.powerState` for VMs). Only what one row shows is judged here:
//! conditions that need other resources (an elastic pool's databases, a gateway's connections)
//! are the rules' to work out from the inventory.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::azure::resource_graph::Resource;

/// A managed disk attached to nothing (`diskState` `Unattached`); since its
/// `LastOwnershipUpdateTime`, when Azure gives one.
pub const DISK_UNATTACHED: &str = "disk_unattached";
/// A VM deallocated (no compute billed; its disks and IPs still are).
pub const VM_DEALLOCATED: &str = "vm_deallocated";
/// A VM stopped from inside the OS: still allocated, still billed for compute.
pub const VM_STOPPED: &str = "vm_stopped";
/// A public IP bound to neither an IP configuration nor a NAT gateway.
pub const PUBLIC_IP_UNASSOCIATED: &str = "public_ip_unassociated";
/// A network interface attached to neither a VM nor a private endpoint.
pub const NIC_UNATTACHED: &str = "nic_unattached";
/// An ExpressRoute circuit the provider has not (or no longer) provisioned.
pub const EXPRESSROUTE_NOT_PROVISIONED: &str = "expressroute_not_provisioned";
/// A NAT gateway on no subnet.
pub const NAT_GATEWAY_NO_SUBNETS: &str = "nat_gateway_no_subnets";
/// A load balancer whose backend pools are all empty.
pub const LOAD_BALANCER_NO_BACKENDS: &str = "load_balancer_no_backends";
/// An application gateway whose backend pools are all empty.
pub const APP_GATEWAY_NO_BACKENDS: &str = "app_gateway_no_backends";
/// An App Service plan hosting no site.
pub const APP_SERVICE_PLAN_EMPTY: &str = "app_service_plan_empty";
/// A DDoS protection plan protecting no virtual network.
pub const DDOS_PLAN_UNASSOCIATED: &str = "ddos_plan_unassociated";
/// A private endpoint without an approved connection.
pub const PRIVATE_ENDPOINT_UNAPPROVED: &str = "private_endpoint_unapproved";

/// One condition that holds for a resource now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub condition: &'static str,
    /// When Azure says it began, if it says.
    pub since_hint: Option<DateTime<Utc>>,
}

impl Holding {
    fn now(condition: &'static str) -> Self {
        Self {
            condition,
            since_hint: None,
        }
    }
}

/// The condition that holds for `resource` according to its inventory row, if any (a resource
/// is in at most one tracked condition).
pub fn holding(resource: &Resource) -> Option<Holding> {
    let empty = Value::Null;
    let p = resource.properties.as_ref().unwrap_or(&empty);
    let power = text(p, &["extended", "instanceView", "powerState", "code"]).to_ascii_lowercase();
    let lb_members = ["backendIPConfigurations", "loadBalancerBackendAddresses"];
    let agw_members = ["backendAddresses", "backendIPConfigurations"];
    let condition = match resource.resource_type.as_str() {
        "microsoft.compute/disks" if text(p, &["diskState"]).eq_ignore_ascii_case("unattached") => {
            return Some(Holding {
                condition: DISK_UNATTACHED,
                since_hint: time(p, "LastOwnershipUpdateTime"),
            });
        }
        "microsoft.compute/virtualmachines"
            if matches!(
                power.as_str(),
                "powerstate/deallocated" | "powerstate/deallocating"
            ) =>
        {
            VM_DEALLOCATED
        }
        "microsoft.compute/virtualmachines"
            if matches!(power.as_str(), "powerstate/stopped" | "powerstate/stopping") =>
        {
            VM_STOPPED
        }
        "microsoft.network/publicipaddresses"
            if absent(p, "ipConfiguration") && absent(p, "natGateway") =>
        {
            PUBLIC_IP_UNASSOCIATED
        }
        "microsoft.network/networkinterfaces"
            if absent(p, "virtualMachine") && absent(p, "privateEndpoint") =>
        {
            NIC_UNATTACHED
        }
        "microsoft.network/expressroutecircuits"
            if !text(p, &["serviceProviderProvisioningState"])
                .eq_ignore_ascii_case("provisioned") =>
        {
            EXPRESSROUTE_NOT_PROVISIONED
        }
        "microsoft.network/natgateways" if empty_list(p, "subnets") => NAT_GATEWAY_NO_SUBNETS,
        "microsoft.network/loadbalancers" if pools_empty(p, &lb_members) => {
            LOAD_BALANCER_NO_BACKENDS
        }
        "microsoft.network/applicationgateways" if pools_empty(p, &agw_members) => {
            APP_GATEWAY_NO_BACKENDS
        }
        "microsoft.web/serverfarms"
            if p.get("numberOfSites").and_then(Value::as_i64) == Some(0) =>
        {
            APP_SERVICE_PLAN_EMPTY
        }
        "microsoft.network/ddosprotectionplans" if empty_list(p, "virtualNetworks") => {
            DDOS_PLAN_UNASSOCIATED
        }
        "microsoft.network/privateendpoints" if !private_endpoint_approved(p) => {
            PRIVATE_ENDPOINT_UNAPPROVED
        }
        _ => return None,
    };
    Some(Holding::now(condition))
}

/// The string at `path`, or "".
pub(crate) fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn time(value: &Value, key: &str) -> Option<DateTime<Utc>> {
    let raw = value.get(key)?.as_str()?;
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// True when `key` is missing, null or an empty object.
fn absent(value: &Value, key: &str) -> bool {
    match value.get(key) {
        None | Some(Value::Null) => true,
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

/// True when the list at `key` is missing, null or empty.
fn empty_list(value: &Value, key: &str) -> bool {
    value
        .get(key)
        .and_then(Value::as_array)
        .is_none_or(Vec::is_empty)
}

/// True when no backend pool lists a member under any of `members` (in the pool itself or its
/// `properties`).
fn pools_empty(value: &Value, members: &[&str]) -> bool {
    let pools = value
        .get("backendAddressPools")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    !pools.iter().any(|pool| {
        let inner = pool.get("properties").unwrap_or(pool);
        members.iter().any(|m| !empty_list(inner, m))
    })
}

/// True when a (manual or automatic) private-link connection is `Approved`.
fn private_endpoint_approved(value: &Value) -> bool {
    [
        "privateLinkServiceConnections",
        "manualPrivateLinkServiceConnections",
    ]
    .iter()
    .filter_map(|key| value.get(key).and_then(Value::as_array))
    .flatten()
    .any(|c| {
        let inner = c.get("properties").unwrap_or(c);
        text(inner, &["privateLinkServiceConnectionState", "status"])
            .eq_ignore_ascii_case("approved")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::resource_graph::mapper::map_row;
    use serde_json::json;

    fn resource(kind: &str, properties: Value) -> Resource {
        let row = json!({
            "id": format!("/subscriptions/s/resourceGroups/rg/providers/{kind}/x"),
            "type": kind,
            "properties": properties,
        });
        map_row(0, &row).expect("maps")
    }

    fn names(r: &Resource) -> Vec<&'static str> {
        holding(r).into_iter().map(|h| h.condition).collect()
    }

    #[test]
    fn an_unattached_disk_holds_since_its_last_ownership_change() {
        let disk = resource(
            "Microsoft.Compute/disks",
            json!({"diskState": "Unattached", "LastOwnershipUpdateTime": "2026-10-01T08:00:00.1234567+00:00"}),
        );
        let held = holding(&disk).expect("holds");
        assert_eq!(held.condition, DISK_UNATTACHED);
        assert_eq!(
            held.since_hint.map(|t| t.to_rfc3339()),
            Some("2026-10-01T08:00:00.123456700+00:00".to_owned())
        );
        let attached = resource("Microsoft.Compute/disks", json!({"diskState": "Attached"}));
        let reserved = resource("Microsoft.Compute/disks", json!({"diskState": "Reserved"}));
        assert!(names(&attached).is_empty() && names(&reserved).is_empty());
    }

    #[test]
    fn vm_power_states_map_to_deallocated_or_stopped() {
        let vm = |code: &str| {
            resource(
                "Microsoft.Compute/virtualMachines",
                json!({"extended": {"instanceView": {"powerState": {"code": code}}}}),
            )
        };
        assert_eq!(names(&vm("PowerState/deallocated")), [VM_DEALLOCATED]);
        assert_eq!(names(&vm("PowerState/stopped")), [VM_STOPPED]);
        assert!(names(&vm("PowerState/running")).is_empty());
        assert!(
            names(&resource("Microsoft.Compute/virtualMachines", json!({}))).is_empty(),
            "an unknown power state is not a condition"
        );
    }

    #[test]
    fn network_orphans_are_told_by_their_missing_bindings() {
        let ip = |p: Value| names(&resource("Microsoft.Network/publicIPAddresses", p));
        assert_eq!(
            ip(json!({"ipAddress": "1.2.3.4"})),
            [PUBLIC_IP_UNASSOCIATED]
        );
        assert!(ip(json!({"ipConfiguration": {"id": "/x"}})).is_empty());
        assert!(ip(json!({"natGateway": {"id": "/n"}})).is_empty());
        let nic = |p: Value| names(&resource("Microsoft.Network/networkInterfaces", p));
        assert_eq!(nic(json!({})), [NIC_UNATTACHED]);
        assert!(nic(json!({"privateEndpoint": {"id": "/pe"}})).is_empty());
        let nat = |p: Value| names(&resource("Microsoft.Network/natGateways", p));
        assert_eq!(nat(json!({"subnets": []})), [NAT_GATEWAY_NO_SUBNETS]);
        assert!(nat(json!({"subnets": [{"id": "/s"}]})).is_empty());
    }

    #[test]
    fn balancers_are_empty_only_when_every_pool_is() {
        let lb = |p: Value| names(&resource("Microsoft.Network/loadBalancers", p));
        assert_eq!(
            lb(json!({"backendAddressPools": [{"properties": {"backendIPConfigurations": []}}]})),
            [LOAD_BALANCER_NO_BACKENDS]
        );
        assert_eq!(lb(json!({})), [LOAD_BALANCER_NO_BACKENDS]);
        assert!(
            lb(json!({"backendAddressPools": [
                {"properties": {}},
                {"properties": {"loadBalancerBackendAddresses": [{"name": "a"}]}}
            ]}))
            .is_empty()
        );
        let agw = |p: Value| names(&resource("Microsoft.Network/applicationGateways", p));
        assert_eq!(
            agw(json!({"backendAddressPools": [{"properties": {"backendAddresses": []}}]})),
            [APP_GATEWAY_NO_BACKENDS]
        );
        assert!(
            agw(json!({"backendAddressPools": [{"properties": {"backendAddresses": [{"fqdn": "a"}]}}]}))
                .is_empty()
        );
    }

    #[test]
    fn plans_circuits_and_endpoints() {
        let asp = |n: i64| {
            names(&resource(
                "Microsoft.Web/serverfarms",
                json!({"numberOfSites": n}),
            ))
        };
        assert_eq!(asp(0), [APP_SERVICE_PLAN_EMPTY]);
        assert!(asp(2).is_empty());
        assert!(
            names(&resource("Microsoft.Web/serverfarms", json!({}))).is_empty(),
            "an unknown site count is not an empty plan"
        );
        let er = |s: &str| {
            names(&resource(
                "Microsoft.Network/expressRouteCircuits",
                json!({"serviceProviderProvisioningState": s}),
            ))
        };
        assert_eq!(er("NotProvisioned"), [EXPRESSROUTE_NOT_PROVISIONED]);
        assert!(er("Provisioned").is_empty());
        let ddos = |p: Value| names(&resource("Microsoft.Network/ddosProtectionPlans", p));
        assert_eq!(ddos(json!({})), [DDOS_PLAN_UNASSOCIATED]);
        assert!(ddos(json!({"virtualNetworks": [{"id": "/v"}]})).is_empty());
        let pe = |status: &str| {
            names(&resource(
                "Microsoft.Network/privateEndpoints",
                json!({"privateLinkServiceConnections": [
                    {"properties": {"privateLinkServiceConnectionState": {"status": status}}}
                ]}),
            ))
        };
        assert_eq!(pe("Pending"), [PRIVATE_ENDPOINT_UNAPPROVED]);
        assert_eq!(pe("Rejected"), [PRIVATE_ENDPOINT_UNAPPROVED]);
        assert!(pe("Approved").is_empty());
    }
}
