//! Network rules: public IPs and NICs bound to nothing, load balancers and application
//! gateways without backends, VNet gateways without connections, NAT gateways on no subnet,
//! DDoS plans protecting nothing, ExpressRoute circuits the provider never provisioned, and
//! private endpoints without an approved connection. All are read from the inventory (a VNet
//! gateway's connections are the `connections` resources naming it); each is saved its C30.

use serde_json::{Value, json};

use super::Rule;
use super::finding::Draft;
use super::input::{Json, Resource};
use super::pricing::meters;
use super::props::{inner, list, present, text};
use super::savings;
use super::scope::{Check, Verdict, nic_public_ips};

pub(crate) const RULES: [Rule; 9] = [
    Rule {
        id: "publicip.orphaned",
        types: &["microsoft.network/publicipaddresses"],
        check: public_ip,
    },
    Rule {
        id: "nic.orphaned",
        types: &["microsoft.network/networkinterfaces"],
        check: nic,
    },
    Rule {
        id: "lb.backendless",
        types: &["microsoft.network/loadbalancers"],
        check: load_balancer,
    },
    Rule {
        id: "appgw.backendless",
        types: &["microsoft.network/applicationgateways"],
        check: app_gateway,
    },
    Rule {
        id: "vnetgw.idle",
        types: &["microsoft.network/virtualnetworkgateways"],
        check: vnet_gateway,
    },
    Rule {
        id: "natgw.orphaned",
        types: &["microsoft.network/natgateways"],
        check: nat_gateway,
    },
    Rule {
        id: "ddos.unassociated",
        types: &["microsoft.network/ddosprotectionplans"],
        check: ddos_plan,
    },
    Rule {
        id: "er.unprovisioned",
        types: &["microsoft.network/expressroutecircuits"],
        check: circuit,
    },
    Rule {
        id: "pe.unused",
        types: &["microsoft.network/privateendpoints"],
        check: private_endpoint,
    },
];

/// A waste finding saving the resource's C30 (else its list price).
fn waste(
    c: &Check<'_, '_>,
    r: &Resource,
    title: String,
    description: String,
    confidence: f64,
    evidence: Value,
) -> Verdict {
    let estimate = savings::c30(c.scope, r, || meters::resource(&c.scope.prices, r));
    Verdict::fire(
        Draft::new(title, description, confidence)
            .evidence(evidence)
            .savings(estimate),
    )
}

fn public_ip(c: &Check<'_, '_>, ip: &Resource) -> Verdict {
    let p = ip.props();
    if present(p, &["ipConfiguration"]) || present(p, &["natGateway"]) {
        return Verdict::Pass;
    }
    let Some(since) = c.scope.condition(&ip.resource_id, "public_ip_unassociated") else {
        return Verdict::Skip("no_condition_history");
    };
    let min_days = c.param("min_days");
    if c.days_since(since) < min_days {
        return Verdict::Pass;
    }
    waste(
        c,
        ip,
        format!("Delete unused public IP {}", ip.name),
        format!(
            "Public IP {} ({}, {}) has been bound to no IP configuration and no NAT gateway since {}. Delete it (or keep it on purpose as a reserved address).",
            ip.name,
            ip.sku_name(),
            text(p, &["ipAddress"]),
            since.date_naive()
        ),
        0.9,
        json!({"ip_configuration": null, "nat_gateway": null, "unassociated_since": since, "min_days": min_days}),
    )
}

fn nic(_: &Check<'_, '_>, nic: &Resource) -> Verdict {
    let p = nic.props();
    let used = [
        "virtualMachine",
        "privateEndpoint",
        "privateLinkService",
        "hostedWorkloads",
    ]
    .iter()
    .any(|k| present(p, &[k]));
    if used {
        return Verdict::Pass;
    }
    let ips = nic_public_ips(nic);
    Verdict::fire(
        Draft::new(
            format!("Delete unattached network interface {}", nic.name),
            format!(
                "Network interface {} is attached to no VM and no private endpoint. It costs nothing itself but holds an address{} and clutters the estate: delete it.",
                nic.name,
                if ips.is_empty() { "" } else { " and a public IP" }
            ),
            0.9,
        )
        .evidence(json!({"virtual_machine": null, "private_endpoint": null, "public_ips": ips})),
    )
}

/// Whether no backend pool of `p` lists a member under any of `members`.
fn pools_empty(p: &Json, members: &[&str]) -> bool {
    !list(p, &["backendAddressPools"])
        .iter()
        .any(|pool| members.iter().any(|m| !list(inner(pool), &[m]).is_empty()))
}

fn load_balancer(c: &Check<'_, '_>, lb: &Resource) -> Verdict {
    let p = lb.props();
    let nat_targets = list(p, &["inboundNatRules"])
        .iter()
        .any(|rule| present(inner(rule), &["backendIPConfiguration"]));
    if !lb.sku_name().eq_ignore_ascii_case("standard")
        || !pools_empty(
            p,
            &["backendIPConfigurations", "loadBalancerBackendAddresses"],
        )
        || nat_targets
    {
        return Verdict::Pass;
    }
    let pools = list(p, &["backendAddressPools"]).len();
    waste(
        c,
        lb,
        format!("Delete load balancer {} without backends", lb.name),
        format!(
            "Standard load balancer {} has {pools} backend pool(s), all empty, and no NAT rule target: it balances nothing but is billed by the hour. Delete it.",
            lb.name
        ),
        0.85,
        json!({"sku": lb.sku_name(), "backend_pools": pools, "backend_members": 0}),
    )
}

fn app_gateway(c: &Check<'_, '_>, gw: &Resource) -> Verdict {
    let p = gw.props();
    if !pools_empty(p, &["backendAddresses", "backendIPConfigurations"]) {
        return Verdict::Pass;
    }
    let pools = list(p, &["backendAddressPools"]).len();
    waste(
        c,
        gw,
        format!("Delete application gateway {} without backends", gw.name),
        format!(
            "Application gateway {} ({}) has {pools} backend pool(s), all without targets: it serves nothing. Delete it.",
            gw.name,
            text(p, &["sku", "name"])
        ),
        0.85,
        json!({"sku": text(p, &["sku", "name"]), "backend_pools": pools, "backend_targets": 0}),
    )
}

fn vnet_gateway(c: &Check<'_, '_>, gw: &Resource) -> Verdict {
    let connections = c.scope.gateway_connections(&gw.resource_id);
    let p2s = !list(
        gw.props(),
        &[
            "vpnClientConfiguration",
            "vpnClientAddressPool",
            "addressPrefixes",
        ],
    )
    .is_empty();
    if connections > 0 || p2s {
        return Verdict::Pass;
    }
    waste(
        c,
        gw,
        format!("Delete idle virtual network gateway {}", gw.name),
        format!(
            "Virtual network gateway {} ({}) has no connection and no point-to-site configuration in this subscription: it connects nothing. Delete it.",
            gw.name,
            text(gw.props(), &["sku", "name"])
        ),
        0.75,
        json!({"gateway_type": text(gw.props(), &["gatewayType"]), "connections": 0, "point_to_site": false}),
    )
}

fn nat_gateway(c: &Check<'_, '_>, nat: &Resource) -> Verdict {
    if present(nat.props(), &["subnets"]) {
        return Verdict::Pass;
    }
    waste(
        c,
        nat,
        format!("Delete NAT gateway {} on no subnet", nat.name),
        format!(
            "NAT gateway {} is associated with no subnet: no traffic can use it. Delete it (and its public IPs if nothing else needs them).",
            nat.name
        ),
        0.9,
        json!({"subnets": 0}),
    )
}

fn ddos_plan(c: &Check<'_, '_>, plan: &Resource) -> Verdict {
    if present(plan.props(), &["virtualNetworks"]) {
        return Verdict::Pass;
    }
    waste(
        c,
        plan,
        format!(
            "Delete DDoS protection plan {} protecting nothing",
            plan.name
        ),
        format!(
            "DDoS protection plan {} protects no virtual network, yet its monthly fee is charged. Delete it or associate the networks it was bought for.",
            plan.name
        ),
        0.9,
        json!({"virtual_networks": 0}),
    )
}

fn circuit(c: &Check<'_, '_>, er: &Resource) -> Verdict {
    let state = text(er.props(), &["serviceProviderProvisioningState"]);
    if state.is_empty() {
        return Verdict::Skip("provisioning_state_unknown");
    }
    if state.eq_ignore_ascii_case("provisioned") {
        return Verdict::Pass;
    }
    let Some(since) = c
        .scope
        .condition(&er.resource_id, "expressroute_not_provisioned")
    else {
        return Verdict::Skip("no_condition_history");
    };
    let min_days = c.param("min_days");
    if c.days_since(since) < min_days {
        return Verdict::Pass;
    }
    waste(
        c,
        er,
        format!("Delete unprovisioned ExpressRoute circuit {}", er.name),
        format!(
            "ExpressRoute circuit {} has not been provisioned by its provider ({}) since {}, yet its port fee is billed. Complete the provisioning or delete it.",
            er.name,
            text(
                er.props(),
                &["serviceProviderProperties", "serviceProviderName"]
            ),
            since.date_naive()
        ),
        0.85,
        json!({"service_provider_provisioning_state": state, "not_provisioned_since": since, "min_days": min_days}),
    )
}

fn private_endpoint(c: &Check<'_, '_>, pe: &Resource) -> Verdict {
    let statuses: Vec<&str> = [
        "privateLinkServiceConnections",
        "manualPrivateLinkServiceConnections",
    ]
    .iter()
    .flat_map(|k| list(pe.props(), &[k]))
    .map(|conn| {
        text(
            inner(conn),
            &["privateLinkServiceConnectionState", "status"],
        )
    })
    .collect();
    if statuses.iter().any(|s| s.eq_ignore_ascii_case("approved")) {
        return Verdict::Pass;
    }
    waste(
        c,
        pe,
        format!(
            "Delete private endpoint {} without an approved connection",
            pe.name
        ),
        format!(
            "Private endpoint {} has no approved connection ({}): no traffic flows through it. Get the connection approved or delete it.",
            pe.name,
            if statuses.is_empty() {
                "none at all".to_owned()
            } else {
                statuses.join(", ")
            }
        ),
        0.85,
        json!({"connection_statuses": statuses}),
    )
}

#[cfg(test)]
mod tests;
