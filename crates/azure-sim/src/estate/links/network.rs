//! NICs to VMs (within the size's limit) or to private endpoints, subnets to NAT gateways,
//! virtual networks to DDoS plans, public IPs to NICs, NAT gateways and gateways, load balancer
//! pools to NICs, connections to VPN gateways.

use super::super::kinds::IpBinding;
use super::super::plan::Plant;
use super::super::resource::{Details, Resource, ResourceKind as K};
use super::{Index, link_rng, pick};

pub(super) fn nics(res: &mut [Resource], plants: &[Plant], index: &Index) {
    let vms = index.of(K::VirtualMachine);
    let mut room: Vec<u32> = vms
        .iter()
        .map(|i| res[*i].vm().map_or(0, |v| v.size.max_nics))
        .collect();
    let subnets = subnet_ids(res, index);
    let (mut for_endpoints, mut spare) = (Vec::new(), Vec::new());
    for n in index.of(K::NetworkInterface) {
        let mut r = link_rng(&res[n]);
        let roll = r.next_f64();
        let subnet = pick(&mut r, subnets.len(), |_| true).map(|k| subnets[k].clone());
        let vm = match plants[n] {
            Plant::OrphanedNic => None,
            _ if roll < 0.72 => pick(&mut r, vms.len(), |k| room[k] > 0),
            _ => None,
        };
        if let Some(k) = vm {
            room[k] -= 1;
            let (nic_id, vm_id) = (res[n].id.clone(), res[vms[k]].id.clone());
            if let Details::VirtualMachine(v) = &mut res[vms[k]].details {
                v.nics.push(nic_id);
            }
            set_nic(res, n, |nic| nic.virtual_machine = Some(vm_id));
        } else if plants[n] != Plant::OrphanedNic {
            if roll < 0.85 {
                &mut for_endpoints
            } else {
                &mut spare
            }
            .push(n);
        }
        set_nic(res, n, |nic| nic.subnet = subnet);
    }
    for_endpoints.reverse();
    spare.reverse();
    for e in index.of(K::PrivateEndpoint) {
        let Some(n) = for_endpoints.pop().or_else(|| spare.pop()) else {
            continue;
        };
        let (nic_id, pe_id) = (res[n].id.clone(), res[e].id.clone());
        let subnet = match &res[n].details {
            Details::NetworkInterface(nic) => nic.subnet.clone(),
            _ => None,
        };
        set_nic(res, n, |nic| nic.private_endpoint = Some(pe_id));
        if let Details::PrivateEndpoint(pe) = &mut res[e].details {
            pe.nic = Some(nic_id);
            pe.subnet = subnet;
        }
    }
}

fn set_nic(res: &mut [Resource], n: usize, f: impl FnOnce(&mut super::super::kinds::Nic)) {
    if let Details::NetworkInterface(nic) = &mut res[n].details {
        f(nic);
    }
}

/// Ids of the subnets VMs and endpoints can use (not `GatewaySubnet`).
fn subnet_ids(res: &[Resource], index: &Index) -> Vec<String> {
    let mut ids = Vec::new();
    for v in index.of(K::VirtualNetwork) {
        if let Details::VirtualNetwork(vnet) = &res[v].details {
            for s in vnet.subnets.iter().filter(|s| s.name != "GatewaySubnet") {
                ids.push(format!("{}/subnets/{}", res[v].id, s.name));
            }
        }
    }
    ids
}

/// NAT gateways to subnets and DDoS plans to virtual networks, both ends.
pub(super) fn subnets(res: &mut [Resource], plants: &[Plant], index: &Index) {
    let vnets = index.of(K::VirtualNetwork);
    let mut free: Vec<(usize, usize)> = Vec::new();
    for (k, v) in vnets.iter().enumerate() {
        if let Details::VirtualNetwork(vnet) = &res[*v].details {
            let usable = vnet.subnets.iter().enumerate();
            free.extend(
                usable
                    .filter(|(_, s)| s.name != "GatewaySubnet")
                    .map(|(j, _)| (k, j)),
            );
        }
    }
    let mut taken = vec![false; free.len()];
    for g in index.of(K::NatGateway) {
        let mut r = link_rng(&res[g]);
        if plants[g] == Plant::OrphanedNat || !r.chance(0.7) {
            continue;
        }
        for _ in 0..1 + r.below(2) {
            let Some(f) = pick(&mut r, free.len(), |f| !taken[f]) else {
                break;
            };
            taken[f] = true;
            let (k, j) = free[f];
            let gateway = res[g].id.clone();
            let subnet = if let Details::VirtualNetwork(vnet) = &mut res[vnets[k]].details {
                vnet.subnets[j].nat_gateway = Some(gateway);
                format!("{}/subnets/{}", res[vnets[k]].id, vnet.subnets[j].name)
            } else {
                continue;
            };
            if let Details::NatGateway(nat) = &mut res[g].details {
                nat.subnets.push(subnet);
            }
        }
    }
    for p in index.of(K::DdosProtectionPlan) {
        let mut r = link_rng(&res[p]);
        if plants[p] == Plant::UnassociatedDdos || !r.chance(0.5) {
            continue;
        }
        for _ in 0..1 + r.below(2) {
            let free_vnet = |k: usize| matches!(&res[vnets[k]].details, Details::VirtualNetwork(v) if v.ddos_plan.is_none());
            let Some(k) = pick(&mut r, vnets.len(), free_vnet) else {
                break;
            };
            let (plan, vnet_id) = (res[p].id.clone(), res[vnets[k]].id.clone());
            if let Details::VirtualNetwork(vnet) = &mut res[vnets[k]].details {
                vnet.ddos_plan = Some(plan);
            }
            if let Details::DdosProtectionPlan(ddos) = &mut res[p].details {
                ddos.virtual_networks.push(vnet_id);
            }
        }
    }
}

/// Public IPs to VM NICs, NAT gateways, VPN gateways and application gateways (or nothing).
pub(super) fn public_ips(res: &mut [Resource], plants: &[Plant], index: &Index) {
    let nics: Vec<usize> = index
        .of(K::NetworkInterface)
        .into_iter()
        .filter(|n| matches!(&res[*n].details, Details::NetworkInterface(x) if x.virtual_machine.is_some()))
        .collect();
    let (nats, gateways, appgws) = (
        index.of(K::NatGateway),
        index.of(K::VirtualNetworkGateway),
        index.of(K::ApplicationGateway),
    );
    for p in index.of(K::PublicIp) {
        let mut r = link_rng(&res[p]);
        let roll = r.next_f64();
        let ip = res[p].id.clone();
        let binding = match plants[p] {
            Plant::OrphanedIp => IpBinding::None,
            _ if roll < 0.5 => bind_nic(res, &nics, &mut r, ip),
            _ if roll < 0.62 => pick(&mut r, nats.len(), |_| true).map_or(IpBinding::None, |k| {
                let nat = res[nats[k]].id.clone();
                if let Details::NatGateway(n) = &mut res[nats[k]].details {
                    n.public_ips.push(ip);
                }
                IpBinding::NatGateway(nat)
            }),
            _ if roll < 0.72 => bind_gateway(res, &gateways, &mut r, ip),
            _ if roll < 0.78 => bind_appgw(res, &appgws, &mut r, ip),
            _ => IpBinding::None,
        };
        if let Details::PublicIp(pip) = &mut res[p].details {
            pip.binding = binding;
        }
    }
}

fn bind_nic(
    res: &mut [Resource],
    nics: &[usize],
    r: &mut crate::rng::SplitMix64,
    ip: String,
) -> IpBinding {
    let free = |k: usize| matches!(&res[nics[k]].details, Details::NetworkInterface(n) if n.public_ip.is_none());
    let Some(k) = pick(r, nics.len(), free) else {
        return IpBinding::None;
    };
    let config = format!("{}/ipConfigurations/ipconfig1", res[nics[k]].id);
    set_nic(res, nics[k], |n| n.public_ip = Some(ip));
    IpBinding::IpConfiguration(config)
}

fn bind_gateway(
    res: &mut [Resource],
    gws: &[usize],
    r: &mut crate::rng::SplitMix64,
    ip: String,
) -> IpBinding {
    let free = |k: usize| matches!(&res[gws[k]].details, Details::VirtualNetworkGateway(g) if g.public_ip.is_none());
    let Some(k) = pick(r, gws.len(), free) else {
        return IpBinding::None;
    };
    let config = format!("{}/ipConfigurations/default", res[gws[k]].id);
    if let Details::VirtualNetworkGateway(g) = &mut res[gws[k]].details {
        g.public_ip = Some(ip);
    }
    IpBinding::IpConfiguration(config)
}

fn bind_appgw(
    res: &mut [Resource],
    gws: &[usize],
    r: &mut crate::rng::SplitMix64,
    ip: String,
) -> IpBinding {
    let free = |k: usize| matches!(&res[gws[k]].details, Details::ApplicationGateway(g) if g.public_ip.is_none());
    let Some(k) = pick(r, gws.len(), free) else {
        return IpBinding::None;
    };
    let config = format!(
        "{}/frontendIPConfigurations/appGwPublicFrontendIp",
        res[gws[k]].id
    );
    if let Details::ApplicationGateway(g) = &mut res[gws[k]].details {
        g.public_ip = Some(ip);
    }
    IpBinding::IpConfiguration(config)
}

/// Backend pools of load balancers get VM NICs' IP configurations, or stay empty.
pub(super) fn load_balancers(res: &mut [Resource], plants: &[Plant], index: &Index) {
    let configs: Vec<String> = index
        .of(K::NetworkInterface)
        .into_iter()
        .filter(|n| matches!(&res[*n].details, Details::NetworkInterface(x) if x.virtual_machine.is_some()))
        .map(|n| format!("{}/ipConfigurations/ipconfig1", res[n].id))
        .collect();
    for l in index.of(K::LoadBalancer) {
        let mut r = link_rng(&res[l]);
        if plants[l] == Plant::BackendlessLb || !r.chance(0.75) {
            continue;
        }
        if let Details::LoadBalancer(lb) = &mut res[l].details {
            for pool in &mut lb.pools {
                for _ in 0..1 + r.below(3) {
                    if let Some(k) = pick(&mut r, configs.len(), |_| true)
                        && !pool.contains(&configs[k])
                    {
                        pool.push(configs[k].clone());
                    }
                }
            }
        }
    }
}

/// Each connection names a VPN gateway (never the one planted idle, when there is another).
pub(super) fn connections(res: &mut [Resource], plants: &[Plant], index: &Index) {
    let gateways = index.of(K::VirtualNetworkGateway);
    for c in index.of(K::Connection) {
        let mut r = link_rng(&res[c]);
        let usable = |k: usize| plants[gateways[k]] != Plant::IdleGateway;
        let Some(k) =
            pick(&mut r, gateways.len(), usable).or_else(|| pick(&mut r, gateways.len(), |_| true))
        else {
            continue;
        };
        let (gateway, connection) = (res[gateways[k]].id.clone(), res[c].id.clone());
        if let Details::VirtualNetworkGateway(g) = &mut res[gateways[k]].details {
            g.connections.push(connection);
        }
        if let Details::Connection(conn) = &mut res[c].details {
            conn.gateway = gateway;
        }
    }
}
