//! `properties` of network resources. Application gateways carry their SKU in
//! `properties.sku` (the top-level `sku` is null), as ARM returns them; VPN gateways do not
//! list their connections (each connection names its gateway in `virtualNetworkGateway1`).

use serde_json::{Value, json};

use super::super::Resource;
use super::super::kinds::{
    AppGateway, Connection, DdosPlan, ErCircuitDetails, IpBinding, LoadBalancer, NatGateway, Nic,
    PrivateEndpoint, PublicIp, VirtualNetwork, VnetGateway,
};
use super::{Parts, reference};
use crate::rng::uuid_from;

pub(super) fn nic(r: &Resource, n: &Nic) -> Parts {
    let mut config = json!({
        "privateIPAddress": n.private_ip,
        "privateIPAllocationMethod": "Dynamic",
        "privateIPAddressVersion": "IPv4",
        "primary": true,
        "provisioningState": "Succeeded",
    });
    if let Some(subnet) = &n.subnet {
        config["subnet"] = reference(subnet);
    }
    if let Some(ip) = &n.public_ip {
        config["publicIPAddress"] = reference(ip);
    }
    let mut properties = json!({
        "provisioningState": "Succeeded",
        "nicType": "Standard",
        "enableAcceleratedNetworking": false,
        "macAddress": format!("00-22-48-{:02X}-{:02X}-{:02X}", r.hash & 0xff, (r.hash >> 8) & 0xff, (r.hash >> 16) & 0xff),
        "ipConfigurations": [{
            "name": "ipconfig1",
            "id": format!("{}/ipConfigurations/ipconfig1", r.id),
            "properties": config,
        }],
    });
    if let Some(vm) = &n.virtual_machine {
        properties["virtualMachine"] = reference(vm);
    }
    if let Some(pe) = &n.private_endpoint {
        properties["privateEndpoint"] = reference(pe);
    }
    Parts::new(Value::Null, properties)
}

pub(super) fn public_ip(p: &PublicIp) -> Parts {
    let mut properties = json!({
        "ipAddress": p.address,
        "publicIPAllocationMethod": "Static",
        "publicIPAddressVersion": "IPv4",
        "idleTimeoutInMinutes": 4,
        "provisioningState": "Succeeded",
    });
    match &p.binding {
        IpBinding::IpConfiguration(id) => properties["ipConfiguration"] = reference(id),
        IpBinding::NatGateway(id) => properties["natGateway"] = reference(id),
        IpBinding::None => {}
    }
    Parts::new(json!({"name": p.sku, "tier": "Regional"}), properties)
}

pub(super) fn vnet(r: &Resource, v: &VirtualNetwork) -> Parts {
    let subnets: Vec<Value> = v
        .subnets
        .iter()
        .map(|s| {
            let mut properties = json!({"addressPrefix": s.prefix, "provisioningState": "Succeeded"});
            if let Some(nat) = &s.nat_gateway {
                properties["natGateway"] = reference(nat);
            }
            json!({"name": s.name, "id": format!("{}/subnets/{}", r.id, s.name), "properties": properties})
        })
        .collect();
    let mut properties = json!({
        "addressSpace": {"addressPrefixes": [v.address_prefix]},
        "subnets": subnets,
        "enableDdosProtection": v.ddos_plan.is_some(),
        "provisioningState": "Succeeded",
        "resourceGuid": uuid_from(r.hash, "vnet", 0),
    });
    if let Some(plan) = &v.ddos_plan {
        properties["ddosProtectionPlan"] = reference(plan);
    }
    Parts::new(Value::Null, properties)
}

pub(super) fn load_balancer(r: &Resource, lb: &LoadBalancer) -> Parts {
    let pools: Vec<Value> = lb
        .pools
        .iter()
        .enumerate()
        .map(|(k, members)| {
            let name = format!("backend-pool-{}", k + 1);
            let mut properties = json!({"provisioningState": "Succeeded", "loadBalancerBackendAddresses": []});
            if !members.is_empty() {
                properties["backendIPConfigurations"] = members.iter().map(|m| reference(m)).collect();
                properties["loadBalancerBackendAddresses"] = members
                    .iter()
                    .enumerate()
                    .map(|(i, m)| json!({"name": format!("address-{i}"), "properties": {"networkInterfaceIPConfiguration": reference(m)}}))
                    .collect();
            }
            json!({"name": name, "id": format!("{}/backendAddressPools/{name}", r.id), "properties": properties})
        })
        .collect();
    Parts::new(
        json!({"name": lb.sku, "tier": "Regional"}),
        json!({
            "provisioningState": "Succeeded",
            "frontendIPConfigurations": [{"name": "LoadBalancerFrontEnd", "id": format!("{}/frontendIPConfigurations/LoadBalancerFrontEnd", r.id),
                "properties": {"privateIPAddress": format!("10.{}.0.{}", r.hash % 200, 4 + r.hash % 250), "privateIPAllocationMethod": "Dynamic"}}],
            "backendAddressPools": pools,
            "loadBalancingRules": [],
            "probes": [],
        }),
    )
}

pub(super) fn app_gateway(r: &Resource, g: &AppGateway) -> Parts {
    let pools: Vec<Value> = g
        .pools
        .iter()
        .enumerate()
        .map(|(k, addresses)| {
            let name = if k == 0 {
                "appGatewayBackendPool".to_owned()
            } else {
                format!("pool-{k}")
            };
            let addresses: Vec<Value> = addresses
                .iter()
                .map(|a| {
                    if a.parse::<std::net::Ipv4Addr>().is_ok() {
                        json!({"ipAddress": a})
                    } else {
                        json!({"fqdn": a})
                    }
                })
                .collect();
            json!({"name": name, "id": format!("{}/backendAddressPools/{name}", r.id),
                "properties": {"provisioningState": "Succeeded", "backendAddresses": addresses}})
        })
        .collect();
    let mut frontend = json!({"name": "appGwPublicFrontendIp", "id": format!("{}/frontendIPConfigurations/appGwPublicFrontendIp", r.id), "properties": {}});
    if let Some(ip) = &g.public_ip {
        frontend["properties"]["publicIPAddress"] = reference(ip);
    }
    Parts::new(
        Value::Null,
        json!({
            "sku": {"name": g.sku.name, "tier": g.sku.tier, "capacity": g.capacity},
            "operationalState": "Running",
            "provisioningState": "Succeeded",
            "backendAddressPools": pools,
            "frontendIPConfigurations": [frontend],
            "httpListeners": [],
            "requestRoutingRules": [],
        }),
    )
}

pub(super) fn nat_gateway(n: &NatGateway) -> Parts {
    let mut properties = json!({"idleTimeoutInMinutes": 4, "provisioningState": "Succeeded"});
    if !n.subnets.is_empty() {
        properties["subnets"] = n.subnets.iter().map(|s| reference(s)).collect();
    }
    if !n.public_ips.is_empty() {
        properties["publicIpAddresses"] = n.public_ips.iter().map(|s| reference(s)).collect();
    }
    Parts::new(json!({"name": "Standard"}), properties)
}

pub(super) fn vnet_gateway(r: &Resource, g: &VnetGateway) -> Parts {
    let mut config = json!({"privateIPAllocationMethod": "Dynamic"});
    if let Some(ip) = &g.public_ip {
        config["publicIPAddress"] = reference(ip);
    }
    Parts::new(
        Value::Null,
        json!({
            "gatewayType": "Vpn",
            "vpnType": "RouteBased",
            "vpnGatewayGeneration": "Generation1",
            "sku": {"name": g.sku.name, "tier": g.sku.name, "capacity": 2},
            "activeActive": false,
            "enableBgp": false,
            "provisioningState": "Succeeded",
            "ipConfigurations": [{"name": "default", "id": format!("{}/ipConfigurations/default", r.id), "properties": config}],
        }),
    )
}

pub(super) fn connection(r: &Resource, c: &Connection) -> Parts {
    let local = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/localNetworkGateways/lgw-{}",
        r.subscription_id, r.resource_group, r.name
    );
    Parts::new(
        Value::Null,
        json!({
            "connectionType": "IPsec",
            "connectionProtocol": "IKEv2",
            "virtualNetworkGateway1": reference(&c.gateway),
            "localNetworkGateway2": reference(&local),
            "routingWeight": 0,
            "connectionStatus": if c.shared_key_set { "Connected" } else { "NotConnected" },
            "provisioningState": "Succeeded",
        }),
    )
}

pub(super) fn private_endpoint(r: &Resource, p: &PrivateEndpoint) -> Parts {
    let description = match p.status {
        "Approved" => "Auto-Approved",
        "Pending" => "Awaiting approval",
        "Rejected" => "Rejected by the resource owner",
        _ => "Resource deleted",
    };
    let mut properties = json!({
        "provisioningState": "Succeeded",
        "privateLinkServiceConnections": [{
            "name": r.name,
            "id": format!("{}/privateLinkServiceConnections/{}", r.id, r.name),
            "properties": {
                "privateLinkServiceId": p.target,
                "groupIds": [p.group_id],
                "privateLinkServiceConnectionState": {"status": p.status, "description": description, "actionsRequired": "None"},
                "provisioningState": "Succeeded",
            },
        }],
        "manualPrivateLinkServiceConnections": [],
        "customDnsConfigs": [],
        "networkInterfaces": p.nic.iter().map(|n| reference(n)).collect::<Vec<_>>(),
    });
    if let Some(subnet) = &p.subnet {
        properties["subnet"] = reference(subnet);
    }
    Parts::new(Value::Null, properties)
}

pub(super) fn circuit(r: &Resource, c: &ErCircuitDetails) -> Parts {
    Parts::new(
        json!({"name": "Standard_MeteredData", "tier": "Standard", "family": "MeteredData"}),
        json!({
            "circuitProvisioningState": "Enabled",
            "serviceProviderProvisioningState": if c.provisioned { "Provisioned" } else { "NotProvisioned" },
            "serviceProviderProperties": {"serviceProviderName": c.provider, "peeringLocation": c.peering_location, "bandwidthInMbps": c.circuit.bandwidth_mbps},
            "serviceKey": uuid_from(r.hash, "service-key", 0),
            "allowClassicOperations": false,
            "peerings": [],
            "provisioningState": "Succeeded",
        }),
    )
}

pub(super) fn ddos_plan(r: &Resource, p: &DdosPlan) -> Parts {
    let mut properties =
        json!({"provisioningState": "Succeeded", "resourceGuid": uuid_from(r.hash, "ddos", 0)});
    if !p.virtual_networks.is_empty() {
        properties["virtualNetworks"] = p.virtual_networks.iter().map(|v| reference(v)).collect();
    }
    Parts::new(Value::Null, properties)
}
