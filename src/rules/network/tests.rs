use serde_json::{Value, json};

use crate::rules::testing::*;
use crate::rules::{Context, Resource, SavingsBasis};

/// Evaluates `rule` over the resources, each billed 10.00.
fn judge(rule: &str, resources: &[Resource], setup: impl FnOnce(&mut Context)) -> Vec<Outcome> {
    let mut c = ctx();
    for r in resources {
        c.costs.push(cost(&r.resource_id, "Networking", "10.00"));
    }
    c.resources.extend(resources.iter().cloned());
    setup(&mut c);
    let e = crate::rules::evaluate(&c);
    resources
        .iter()
        .map(|r| outcome_of(&e, rule, &r.resource_id))
        .collect()
}

fn fired(outcomes: &[Outcome]) -> Vec<bool> {
    outcomes.iter().map(Outcome::fired).collect()
}

#[test]
fn a_public_ip_unassociated_for_seven_days_is_orphaned() {
    let ip = |name: &str, p: Value| {
        with_sku(
            resource("Microsoft.Network/publicIPAddresses", name, p),
            json!({"name": "Standard"}),
        )
    };
    let (old, young, bound, nat, unknown) = (
        ip("old", json!({"ipAddress": "20.1.2.3"})),
        ip("young", json!({})),
        ip(
            "bound",
            json!({"ipConfiguration": {"id": "/x/ipconfigurations/a"}}),
        ),
        ip("nat", json!({"natGateway": {"id": "/n"}})),
        ip("unknown", json!({})),
    );
    let all = [old.clone(), young.clone(), bound, nat, unknown];
    let out = judge("publicip.orphaned", &all, |c| {
        c.conditions.push(condition(
            &old.resource_id,
            "public_ip_unassociated",
            days_ago(7.0),
        ));
        c.conditions.push(condition(
            &young.resource_id,
            "public_ip_unassociated",
            days_ago(6.9),
        ));
    });
    assert_eq!(fired(&out), [true, false, false, false, false]);
    assert_eq!(out[4], Outcome::Skipped("no_condition_history"));
    let f = out[0].clone().finding();
    assert_eq!(
        (f.action, f.monthly_savings),
        ("delete", Some(dec("10.00")))
    );
}

#[test]
fn a_nic_without_vm_or_endpoint_is_orphaned_hygiene_without_saving() {
    let nic = |name: &str, p: Value| resource("Microsoft.Network/networkInterfaces", name, p);
    let all = [
        nic(
            "free",
            json!({"ipConfigurations": [{"properties": {"publicIPAddress": {"id": "/P/IP"}}}]}),
        ),
        nic("vm", json!({"virtualMachine": {"id": "/v"}})),
        nic("pe", json!({"privateEndpoint": {"id": "/pe"}})),
    ];
    let out = judge("nic.orphaned", &all, |_| {});
    assert_eq!(fired(&out), [true, false, false]);
    let f = out[0].clone().finding();
    assert_eq!(
        (f.monthly_savings, f.savings_basis),
        (None, SavingsBasis::None)
    );
    assert_eq!(f.evidence["public_ips"], json!(["/p/ip"]));
}

#[test]
fn a_standard_load_balancer_with_only_empty_pools_is_backendless() {
    let lb = |name: &str, sku: &str, p: Value| {
        with_sku(
            resource("Microsoft.Network/loadBalancers", name, p),
            json!({"name": sku}),
        )
    };
    let empty = json!({"backendAddressPools": [{"properties": {"loadBalancerBackendAddresses": []}}, {"properties": {}}]});
    let all = [
        lb("empty", "Standard", empty.clone()),
        lb("none", "Standard", json!({})),
        lb("basic", "Basic", empty),
        lb(
            "used",
            "Standard",
            json!({"backendAddressPools": [{}, {"properties": {"backendIPConfigurations": [{"id": "/n"}]}}]}),
        ),
        lb(
            "nat",
            "Standard",
            json!({"inboundNatRules": [{"properties": {"backendIPConfiguration": {"id": "/n"}}}]}),
        ),
    ];
    assert_eq!(
        fired(&judge("lb.backendless", &all, |_| {})),
        [true, true, false, false, false]
    );
}

#[test]
fn an_application_gateway_without_targets_is_backendless() {
    let gw = |name: &str, pools: Value| {
        resource(
            "Microsoft.Network/applicationGateways",
            name,
            json!({"sku": {"name": "Standard_v2", "tier": "Standard_v2"}, "backendAddressPools": pools}),
        )
    };
    let all = [
        gw("empty", json!([{"properties": {"backendAddresses": []}}])),
        gw(
            "fqdn",
            json!([{"properties": {"backendAddresses": []}}, {"properties": {"backendAddresses": [{"fqdn": "a.example"}]}}]),
        ),
    ];
    assert_eq!(
        fired(&judge("appgw.backendless", &all, |_| {})),
        [true, false]
    );
}

#[test]
fn a_vnet_gateway_is_idle_without_connections_naming_it_or_clients() {
    let gw = |name: &str, p: Value| resource("Microsoft.Network/virtualNetworkGateways", name, p);
    let (idle, connected, p2s) = (
        gw("idle", json!({"sku": {"name": "VpnGw1"}})),
        gw("connected", json!({})),
        gw(
            "p2s",
            json!({"vpnClientConfiguration": {"vpnClientAddressPool": {"addressPrefixes": ["172.16.0.0/24"]}}}),
        ),
    );
    let connection = resource(
        "Microsoft.Network/connections",
        "c",
        json!({"virtualNetworkGateway1": {"id": connected.resource_id.to_uppercase()}}),
    );
    let out = judge("vnetgw.idle", &[idle, connected, p2s], |c| {
        c.resources.push(connection)
    });
    assert_eq!(fired(&out), [true, false, false]);
}

#[test]
fn nat_gateways_and_ddos_plans_on_nothing_are_waste() {
    let nat = |name: &str, p: Value| resource("Microsoft.Network/natGateways", name, p);
    let all = [
        nat("bare", json!({"subnets": []})),
        nat("used", json!({"subnets": [{"id": "/s"}]})),
    ];
    assert_eq!(fired(&judge("natgw.orphaned", &all, |_| {})), [true, false]);
    let plan = |name: &str, p: Value| resource("Microsoft.Network/ddosProtectionPlans", name, p);
    let all = [
        plan("bare", json!({})),
        plan("used", json!({"virtualNetworks": [{"id": "/v"}]})),
    ];
    assert_eq!(
        fired(&judge("ddos.unassociated", &all, |_| {})),
        [true, false]
    );
}

#[test]
fn a_circuit_unprovisioned_for_30_days_is_waste() {
    let er = |name: &str, state: &str| {
        resource(
            "Microsoft.Network/expressRouteCircuits",
            name,
            json!({"serviceProviderProvisioningState": state}),
        )
    };
    let (old, young, done, unknown) = (
        er("old", "NotProvisioned"),
        er("young", "NotProvisioned"),
        er("done", "Provisioned"),
        er("unknown", ""),
    );
    let all = [old.clone(), young.clone(), done, unknown];
    let out = judge("er.unprovisioned", &all, |c| {
        c.conditions.push(condition(
            &old.resource_id,
            "expressroute_not_provisioned",
            days_ago(30.0),
        ));
        c.conditions.push(condition(
            &young.resource_id,
            "expressroute_not_provisioned",
            days_ago(29.9),
        ));
    });
    assert_eq!(fired(&out), [true, false, false, false]);
    assert_eq!(out[3], Outcome::Skipped("provisioning_state_unknown"));
}

#[test]
fn a_private_endpoint_without_an_approved_connection_is_unused() {
    let pe = |name: &str, key: &str, status: &str| {
        let conn =
            json!([{"properties": {"privateLinkServiceConnectionState": {"status": status}}}]);
        resource(
            "Microsoft.Network/privateEndpoints",
            name,
            json!({key: conn}),
        )
    };
    let all = [
        pe("pending", "privateLinkServiceConnections", "Pending"),
        pe(
            "rejected",
            "manualPrivateLinkServiceConnections",
            "Rejected",
        ),
        pe(
            "approved",
            "manualPrivateLinkServiceConnections",
            "Approved",
        ),
    ];
    let out = judge("pe.unused", &all, |_| {});
    assert_eq!(fired(&out), [true, true, false]);
    assert_eq!(
        out[0].clone().finding().evidence["connection_statuses"],
        json!(["Pending"])
    );
}

#[test]
fn waste_without_cost_is_priced_from_the_meter_of_its_kind() {
    let mut c = ctx();
    let nat = resource("Microsoft.Network/natGateways", "bare", json!({}));
    c.prices.push(price(
        "NAT Gateway",
        "NAT Gateway",
        "Standard",
        "Standard Gateway",
        "1 Hour",
        "0.045",
    ));
    c.resources.push(nat.clone());
    let f = outcome(&c, "natgw.orphaned", &nat.resource_id).finding();
    assert_eq!(
        (f.savings_basis, f.monthly_savings),
        (SavingsBasis::Retail, Some(dec("32.85")))
    );
    assert_eq!(f.evidence["retail_price"]["meter"], "Standard Gateway");
}
