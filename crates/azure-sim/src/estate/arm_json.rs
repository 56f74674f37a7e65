//! A resource as a row of Resource Graph's `Resources` table: the ARM object with `properties`,
//! `sku`, `kind`, `managedBy`, a lower-case `type` (as Resource Graph returns it) and the tags
//! in their wire form. Each kind's `properties` follow the shape ARM returns for it.

mod compute;
mod data;
mod network;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Details, Resource};

/// The parts that differ by kind: `kind`, `sku`, `managedBy` and `properties`.
pub(super) struct Parts {
    pub kind: &'static str,
    pub sku: Value,
    pub managed_by: String,
    pub properties: Value,
}

impl Parts {
    pub(super) fn new(sku: Value, properties: Value) -> Self {
        Self {
            kind: "",
            sku,
            managed_by: String::new(),
            properties,
        }
    }

    pub(super) fn kind(self, kind: &'static str) -> Self {
        Self { kind, ..self }
    }
}

pub(super) fn graph_object(r: &Resource) -> Value {
    let parts = match &r.details {
        Details::VirtualMachine(vm) => compute::vm(r, vm),
        Details::Disk(d) => compute::disk(r, d),
        Details::Snapshot(s) => compute::snapshot(r, s),
        Details::VirtualMachineScaleSet(s) => compute::vmss(r, s),
        Details::SqlVirtualMachine(s) => compute::sql_vm(s),
        Details::NetworkInterface(n) => network::nic(r, n),
        Details::PublicIp(p) => network::public_ip(p),
        Details::VirtualNetwork(v) => network::vnet(r, v),
        Details::LoadBalancer(lb) => network::load_balancer(r, lb),
        Details::ApplicationGateway(g) => network::app_gateway(r, g),
        Details::NatGateway(n) => network::nat_gateway(n),
        Details::VirtualNetworkGateway(g) => network::vnet_gateway(r, g),
        Details::Connection(c) => network::connection(r, c),
        Details::PrivateEndpoint(p) => network::private_endpoint(r, p),
        Details::ExpressRouteCircuit(c) => network::circuit(r, c),
        Details::DdosProtectionPlan(p) => network::ddos_plan(r, p),
        Details::AppServicePlan(p) => data::plan(p),
        Details::WebSite(s) => data::site(r, s),
        Details::SqlServer(s) => data::sql_server(r, s),
        Details::SqlDatabase(d) => data::sql_database(r, d),
        Details::ElasticPool(p) => data::elastic_pool(r, p),
        Details::StorageAccount(s) => data::storage_account(r, s),
        Details::ClassicStorageAccount(s) => data::classic_storage(r, s),
    };
    json!({
        "id": r.id,
        "name": r.name,
        "type": r.kind().arm_type().to_ascii_lowercase(),
        "tenantId": r.tenant_id,
        "kind": parts.kind,
        "location": r.location,
        "resourceGroup": r.resource_group,
        "subscriptionId": r.subscription_id,
        "managedBy": parts.managed_by,
        "sku": parts.sku,
        "plan": null,
        "properties": parts.properties,
        "tags": r.tags.to_json(),
        "identity": null,
        "zones": null,
        "extendedLocation": null,
    })
}

/// `{"id": …}`, the shape of every ARM reference.
pub(super) fn reference(id: &str) -> Value {
    json!({ "id": id })
}

/// The last segment of an ARM id (its name).
pub(super) fn name_of(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or_default()
}

/// ARM's timestamp format, with 7 fractional digits as .NET writes them.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
        .replace('Z', "0Z")
}
