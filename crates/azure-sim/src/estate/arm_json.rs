//! A resource as a row of Resource Graph's `Resources` table: the ARM object with `properties`,
//! `sku`, `kind`, `managedBy`, a lower-case `type` (as Resource Graph returns it) and the tags
//! in their wire form.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::{Details, Disk, IpBinding, Nic, Resource, Snapshot, SqlDatabase, StorageAccount};
use crate::rng::uuid_from;

/// The parts that differ by kind: `kind`, `sku`, `managedBy` and `properties`.
struct Parts<'a> {
    kind: &'static str,
    sku: Value,
    managed_by: &'a str,
    properties: Value,
}

impl<'a> Parts<'a> {
    fn new(sku: Value, properties: Value) -> Self {
        Self {
            kind: "",
            sku,
            managed_by: "",
            properties,
        }
    }
}

pub(super) fn graph_object(r: &Resource) -> Value {
    let parts = match &r.details {
        Details::VirtualMachine(vm) => Parts::new(Value::Null, vm_properties(r, vm)),
        Details::Disk(d) => disk(d),
        Details::PublicIp(p) => {
            Parts::new(json!({"name": p.sku, "tier": "Regional"}), ip_properties(p))
        }
        Details::NetworkInterface(n) => Parts::new(Value::Null, nic_properties(r, n)),
        Details::Snapshot(s) => snapshot(s),
        Details::AppServicePlan(p) => Parts {
            kind: "app",
            ..Parts::new(
                json!({"name": p.sku_name, "tier": p.tier, "size": p.sku_name, "capacity": p.workers}),
                json!({"numberOfWorkers": p.workers, "status": "Ready", "numberOfSites": 1 + r.hash % 5}),
            )
        },
        Details::SqlDatabase(d) => sql_database(r, d),
        Details::StorageAccount(s) => storage_account(r, s),
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

fn disk(d: &Disk) -> Parts<'_> {
    let sku = json!({"name": d.sku, "tier": d.sku.split('_').next().unwrap_or_default()});
    let properties = json!({
        "diskState": if d.managed_by.is_some() { "Attached" } else { "Unattached" },
        "diskSizeGB": d.size_gb,
        "diskSizeBytes": u64::from(d.size_gb) << 30,
        "timeCreated": timestamp(d.time_created),
        "provisioningState": "Succeeded",
        "creationData": {"createOption": "Empty"},
    });
    Parts {
        managed_by: d.managed_by.as_deref().unwrap_or(""),
        ..Parts::new(sku, properties)
    }
}

fn nic_properties(r: &Resource, n: &Nic) -> Value {
    let mut properties = json!({
        "provisioningState": "Succeeded",
        "ipConfigurations": [{
            "name": "ipconfig1",
            "id": format!("{}/ipConfigurations/ipconfig1", r.id),
            "properties": {"privateIPAddress": n.private_ip, "privateIPAllocationMethod": "Dynamic"},
        }],
    });
    if let Some(vm) = &n.virtual_machine {
        properties["virtualMachine"] = json!({"id": vm});
    }
    properties
}

fn snapshot(s: &Snapshot) -> Parts<'static> {
    Parts::new(
        json!({"name": "Standard_LRS", "tier": "Standard"}),
        json!({
            "diskSizeGB": s.size_gb,
            "timeCreated": timestamp(s.time_created),
            "incremental": s.size_gb < 256,
            "provisioningState": "Succeeded",
            "creationData": {"createOption": "Copy", "sourceResourceId": s.source_disk},
        }),
    )
}

fn sql_database(r: &Resource, d: &SqlDatabase) -> Parts<'static> {
    let mut sku = json!({"name": d.sku_name, "tier": d.tier, "capacity": d.capacity});
    if let Some(family) = d.family {
        sku["family"] = json!(family);
    }
    let properties = json!({
        "status": "Online",
        "currentServiceObjectiveName": d.sku_name,
        "maxSizeBytes": 34_359_738_368u64,
        "databaseId": uuid_from(r.hash, "sql-database", 0),
    });
    let kind = if d.family.is_some() {
        "v12.0,user,vcore"
    } else {
        "v12.0,user"
    };
    Parts {
        kind,
        ..Parts::new(sku, properties)
    }
}

fn storage_account(r: &Resource, s: &StorageAccount) -> Parts<'static> {
    let tier = if s.sku.starts_with("Premium") {
        "Premium"
    } else {
        "Standard"
    };
    let properties = json!({
        "accessTier": s.access_tier,
        "provisioningState": "Succeeded",
        "primaryEndpoints": {"blob": format!("https://{}.blob.core.windows.net/", r.name)},
    });
    Parts {
        kind: "StorageV2",
        ..Parts::new(json!({"name": s.sku, "tier": tier}), properties)
    }
}

fn vm_properties(r: &Resource, vm: &super::Vm) -> Value {
    let (code, display) = if vm.running {
        ("PowerState/running", "VM running")
    } else {
        ("PowerState/deallocated", "VM deallocated")
    };
    json!({
        "vmId": vm.vm_id,
        "provisioningState": "Succeeded",
        "timeCreated": timestamp(vm.time_created),
        "hardwareProfile": {"vmSize": vm.size.name},
        "storageProfile": {"osDisk": {"osType": vm.os_type, "name": format!("{}_OsDisk_1", r.name), "createOption": "FromImage"}},
        "osProfile": {"computerName": r.name},
        "extended": {"instanceView": {"powerState": {"code": code, "displayStatus": display, "level": "Info"}}},
    })
}

fn ip_properties(p: &super::PublicIp) -> Value {
    let mut properties = json!({
        "ipAddress": p.address,
        "publicIPAllocationMethod": "Static",
        "publicIPAddressVersion": "IPv4",
        "provisioningState": "Succeeded",
    });
    match &p.binding {
        IpBinding::IpConfiguration(id) => properties["ipConfiguration"] = json!({"id": id}),
        IpBinding::NatGateway(id) => properties["natGateway"] = json!({"id": id}),
        IpBinding::None => {}
    }
    properties
}

/// ARM's timestamp format, with 7 fractional digits as .NET writes them.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
        .replace('Z', "0Z")
}
