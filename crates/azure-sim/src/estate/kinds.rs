//! The kind-specific details of resources: compute (VMs, disks, snapshots, scale sets, SQL VMs),
//! network (interfaces, addresses, gateways, endpoints, circuits) and data and web (App
//! Service, SQL Database, storage). Links between resources are ARM ids, set when the estate
//! is generated so both ends agree (a disk's `managedBy` names the VM that lists the disk).

mod compute;
mod data;
mod network;

pub use compute::{Disk, DiskState, PowerState, Snapshot, SqlVm, Utilisation, Vm, Vmss};
pub use data::{
    AppServicePlan, ElasticPool, SqlDatabase, SqlServer, SqlSku, StorageAccount, WebSite,
};
pub use network::{
    AppGateway, Connection, DdosPlan, ErCircuitDetails, IpBinding, LoadBalancer, NatGateway, Nic,
    PrivateEndpoint, PublicIp, Subnet, VirtualNetwork, VnetGateway,
};
