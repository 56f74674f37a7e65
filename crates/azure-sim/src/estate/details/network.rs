//! Own attributes of network resources (their links come later).

use super::super::kinds::{
    AppGateway, Connection, DdosPlan, ErCircuitDetails, LoadBalancer, NatGateway, Nic,
    PrivateEndpoint, PublicIp, Subnet, VirtualNetwork, VnetGateway,
};
use super::super::plan::Plant;
use crate::catalog::{APP_GATEWAY_SKUS, ER_CIRCUITS, VPN_GATEWAY_SKUS};
use crate::rng::SplitMix64;

pub(super) fn nic(r: &mut SplitMix64) -> Nic {
    Nic {
        virtual_machine: None,
        private_endpoint: None,
        private_ip: format!("10.{}.{}.{}", r.below(16), r.below(256), 4 + r.below(250)),
        public_ip: None,
        subnet: None,
    }
}

pub(super) fn public_ip(r: &mut SplitMix64) -> PublicIp {
    PublicIp {
        address: format!("20.{}.{}.{}", r.below(256), r.below(256), 1 + r.below(254)),
        sku: if r.chance(0.9) { "Standard" } else { "Basic" },
        binding: super::super::kinds::IpBinding::None,
    }
}

pub(super) fn vnet(r: &mut SplitMix64) -> VirtualNetwork {
    let second = r.below(250) + 1;
    let names = ["default", "app", "data", "GatewaySubnet"];
    let count = 2 + r.below(3) as usize;
    VirtualNetwork {
        address_prefix: format!("10.{second}.0.0/16"),
        subnets: names[..count]
            .iter()
            .enumerate()
            .map(|(i, name)| Subnet {
                name,
                prefix: format!("10.{second}.{i}.0/24"),
                nat_gateway: None,
            })
            .collect(),
        ddos_plan: None,
    }
}

pub(super) fn load_balancer(r: &mut SplitMix64, plant: Plant) -> LoadBalancer {
    let standard = plant == Plant::BackendlessLb || r.chance(0.7);
    LoadBalancer {
        sku: if standard { "Standard" } else { "Basic" },
        pools: vec![Vec::new(); 1 + r.below(2) as usize],
    }
}

pub(super) fn app_gateway(r: &mut SplitMix64, plant: Plant) -> AppGateway {
    let sku = if r.chance(0.3) {
        APP_GATEWAY_SKUS[r.below(3) as usize]
    } else {
        APP_GATEWAY_SKUS[3 + r.below(2) as usize]
    };
    let filled = plant != Plant::BackendlessAppGw && r.chance(0.75);
    let pools = (0..1 + r.below(2))
        .map(|_| {
            if !filled {
                return Vec::new();
            }
            (0..1 + r.below(3))
                .map(|_| {
                    if r.chance(0.5) {
                        format!("10.{}.{}.{}", r.below(16), r.below(256), 4 + r.below(250))
                    } else {
                        format!("app-{:04x}.azurewebsites.net", r.below(0x10000))
                    }
                })
                .collect()
        })
        .collect();
    AppGateway {
        capacity: if sku.v1 { 2 } else { 1 + r.below(3) as u32 },
        sku,
        pools,
        public_ip: None,
    }
}

pub(super) fn nat_gateway() -> NatGateway {
    NatGateway {
        subnets: Vec::new(),
        public_ips: Vec::new(),
    }
}

pub(super) fn vnet_gateway(r: &mut SplitMix64) -> VnetGateway {
    VnetGateway {
        sku: r.pick(&VPN_GATEWAY_SKUS),
        connections: Vec::new(),
        public_ip: None,
    }
}

pub(super) fn connection(r: &mut SplitMix64) -> Connection {
    Connection {
        gateway: String::new(),
        shared_key_set: r.chance(0.9),
    }
}

pub(super) fn private_endpoint(r: &mut SplitMix64, plant: Plant) -> PrivateEndpoint {
    let status = match (plant, r.next_f64()) {
        (Plant::PendingEndpoint, _) => "Pending",
        (_, x) if x < 0.7 => "Approved",
        (_, x) if x < 0.82 => "Pending",
        (_, x) if x < 0.91 => "Rejected",
        _ => "Disconnected",
    };
    PrivateEndpoint {
        target: String::new(),
        group_id: "blob",
        status,
        nic: None,
        subnet: None,
    }
}

pub(super) fn circuit(r: &mut SplitMix64, plant: Plant) -> ErCircuitDetails {
    ErCircuitDetails {
        circuit: r.pick(&ER_CIRCUITS),
        provider: r.pick(&["Equinix", "Megaport", "AT&T Netbond"]),
        peering_location: r.pick(&["Amsterdam", "London", "Silicon Valley"]),
        provisioned: plant != Plant::UnprovisionedCircuit && r.chance(0.75),
    }
}

pub(super) fn ddos_plan() -> DdosPlan {
    DdosPlan {
        virtual_networks: Vec::new(),
    }
}
