//! Network: interfaces, public IPs, virtual networks, load balancers, application, NAT and VPN
//! gateways and their connections, private endpoints, ExpressRoute circuits, DDoS plans.

use crate::catalog::{AppGatewaySku, ErCircuit, GatewaySku};

#[derive(Debug, Clone)]
pub struct Nic {
    pub virtual_machine: Option<String>,
    /// The private endpoint this interface was created for.
    pub private_endpoint: Option<String>,
    pub private_ip: String,
    pub public_ip: Option<String>,
    pub subnet: Option<String>,
}

/// What a public IP is bound to (`None` = orphaned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpBinding {
    /// An IP configuration of a NIC or gateway.
    IpConfiguration(String),
    NatGateway(String),
    None,
}

#[derive(Debug, Clone)]
pub struct PublicIp {
    pub address: String,
    /// `Standard` or `Basic` (retired).
    pub sku: &'static str,
    pub binding: IpBinding,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub name: &'static str,
    pub prefix: String,
    pub nat_gateway: Option<String>,
}

#[derive(Debug, Clone)]
pub struct VirtualNetwork {
    pub address_prefix: String,
    pub subnets: Vec<Subnet>,
    pub ddos_plan: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LoadBalancer {
    /// `Standard` or `Basic` (retired).
    pub sku: &'static str,
    /// Backend pools, each with the NIC IP configurations in it (empty: a backendless pool).
    pub pools: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct AppGateway {
    pub sku: AppGatewaySku,
    pub capacity: u32,
    /// Backend pools, each with its backend addresses (IPs or FQDNs).
    pub pools: Vec<Vec<String>>,
    pub public_ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NatGateway {
    /// Subnet ids using it.
    pub subnets: Vec<String>,
    pub public_ips: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct VnetGateway {
    pub sku: GatewaySku,
    /// Connections naming it (`microsoft.network/connections`).
    pub connections: Vec<String>,
    pub public_ip: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub gateway: String,
    pub shared_key_set: bool,
}

#[derive(Debug, Clone)]
pub struct PrivateEndpoint {
    /// The private link resource (a storage account or SQL server).
    pub target: String,
    /// `blob` or `sqlServer`.
    pub group_id: &'static str,
    /// `Approved`, `Pending`, `Rejected` or `Disconnected`.
    pub status: &'static str,
    pub nic: Option<String>,
    pub subnet: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ErCircuitDetails {
    pub circuit: ErCircuit,
    pub provider: &'static str,
    pub peering_location: &'static str,
    /// `serviceProviderProvisioningState = Provisioned`.
    pub provisioned: bool,
}

#[derive(Debug, Clone)]
pub struct DdosPlan {
    pub virtual_networks: Vec<String>,
}

impl AppGateway {
    /// Whether no pool has a backend target.
    pub fn backendless(&self) -> bool {
        self.pools.iter().all(Vec::is_empty)
    }
}

impl LoadBalancer {
    /// Whether no pool has a member.
    pub fn backendless(&self) -> bool {
        self.pools.iter().all(Vec::is_empty)
    }
}
