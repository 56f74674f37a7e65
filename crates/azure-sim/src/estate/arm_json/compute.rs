//! `properties` of VMs, managed disks, snapshots, scale sets and SQL VM registrations.

use serde_json::{Value, json};

use super::super::Resource;
use super::super::kinds::{Disk, Snapshot, SqlVm, Vm, Vmss};
use super::{Parts, name_of, timestamp};
use crate::catalog::disk_tier;
use crate::rng::uuid_from;

fn image(vm: &Vm) -> Value {
    match (vm.os_type, vm.sql_vm.is_some()) {
        (_, true) => {
            json!({"publisher": "MicrosoftSQLServer", "offer": "sql2022-ws2022", "sku": "standard-gen2", "version": "latest"})
        }
        ("Windows", _) => {
            json!({"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer", "sku": "2022-datacenter-azure-edition", "version": "latest"})
        }
        _ => {
            json!({"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server", "version": "latest"})
        }
    }
}

fn os_disk(r: &Resource, vm: &Vm) -> Value {
    let name = format!("{}_OsDisk_1", r.name);
    let mut disk = json!({"osType": vm.os_type, "name": name, "createOption": "FromImage", "caching": "ReadWrite", "deleteOption": "Detach"});
    if vm.unmanaged_disks {
        let account = format!(
            "st{}",
            r.name.replace('-', "").chars().take(20).collect::<String>()
        );
        disk["vhd"] =
            json!({"uri": format!("https://{account}.blob.core.windows.net/vhds/{name}.vhd")});
        disk["deleteOption"] = json!("Detach");
    } else if let Some(id) = &vm.os_disk {
        disk["name"] = json!(name_of(id));
        disk["managedDisk"] = json!({"id": id});
    } else {
        disk["caching"] = json!("ReadOnly");
        disk["diffDiskSettings"] = json!({"option": "Local", "placement": "ResourceDisk"});
        disk["managedDisk"] = json!({"storageAccountType": "Standard_LRS"});
        disk["deleteOption"] = json!("Delete");
    }
    disk
}

pub(super) fn vm(r: &Resource, vm: &Vm) -> Parts {
    let (code, display) = vm.power.code();
    let data_disks: Vec<Value> = vm
        .data_disks
        .iter()
        .enumerate()
        .map(|(lun, id)| {
            json!({"lun": lun, "name": name_of(id), "createOption": "Attach", "caching": "None",
                "managedDisk": {"id": id}, "toBeDetached": false, "deleteOption": "Detach"})
        })
        .collect();
    let nics: Vec<Value> = vm
        .nics
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"id": id, "properties": {"primary": i == 0}}))
        .collect();
    let mut properties = json!({
        "vmId": vm.vm_id,
        "provisioningState": "Succeeded",
        "timeCreated": timestamp(r.created),
        "hardwareProfile": {"vmSize": vm.size.name},
        "storageProfile": {"imageReference": image(vm), "osDisk": os_disk(r, vm), "dataDisks": data_disks},
        "osProfile": {"computerName": r.name, "adminUsername": "azureuser"},
        "networkProfile": {"networkInterfaces": nics},
        "extended": {"instanceView": {"computerName": r.name, "osName": if vm.os_type == "Windows" { "Windows Server 2022 Datacenter" } else { "ubuntu" },
            "powerState": {"code": code, "displayStatus": display, "level": "Info"}}},
    });
    if vm.hybrid_benefit {
        properties["licenseType"] = json!("Windows_Server");
    }
    Parts::new(Value::Null, properties)
}

fn sku_tier(sku: &str) -> &str {
    sku.split('_').next().unwrap_or_default()
}

pub(super) fn disk(r: &Resource, d: &Disk) -> Parts {
    let tier = disk_tier(d.sku, d.size_gb);
    let mut properties = json!({
        "diskState": d.state.as_str(),
        "diskSizeGB": d.size_gb,
        "diskSizeBytes": u64::from(d.size_gb) << 30,
        "diskIOPSReadWrite": tier.map_or(500, |t| t.iops),
        "diskMBpsReadWrite": tier.map_or(60, |t| t.mbps),
        "timeCreated": timestamp(r.created),
        "provisioningState": "Succeeded",
        "uniqueId": uuid_from(r.hash, "disk", 0),
        "networkAccessPolicy": "AllowAll",
        "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
        "creationData": {"createOption": if d.os_type.is_some() { "FromImage" } else { "Empty" }},
    });
    if let Some(since) = d.ownership_since {
        properties["LastOwnershipUpdateTime"] = json!(timestamp(since));
    }
    if let Some(os) = d.os_type {
        properties["osType"] = json!(os);
    }
    if let Some(t) = tier.filter(|t| t.sku != "Standard_LRS") {
        properties["tier"] = json!(t.name);
    }
    Parts {
        managed_by: d.managed_by.clone().unwrap_or_default(),
        ..Parts::new(json!({"name": d.sku, "tier": sku_tier(d.sku)}), properties)
    }
}

pub(super) fn snapshot(r: &Resource, s: &Snapshot) -> Parts {
    Parts::new(
        json!({"name": s.sku, "tier": sku_tier(s.sku)}),
        json!({
            "diskSizeGB": s.size_gb,
            "diskSizeBytes": u64::from(s.size_gb) << 30,
            "timeCreated": timestamp(r.created),
            "incremental": s.sku == "Standard_LRS" && s.size_gb < 256,
            "diskState": "Unattached",
            "provisioningState": "Succeeded",
            "uniqueId": uuid_from(r.hash, "snapshot", 0),
            "creationData": {"createOption": "Copy", "sourceResourceId": s.source_disk,
                "sourceUniqueId": uuid_from(crate::rng::hash_str(&s.source_disk.to_ascii_lowercase()), "disk", 0)},
        }),
    )
}

pub(super) fn vmss(r: &Resource, s: &Vmss) -> Parts {
    Parts::new(
        json!({"name": s.size.name, "tier": "Standard", "capacity": s.capacity}),
        json!({
            "orchestrationMode": "Uniform",
            "upgradePolicy": {"mode": "Manual"},
            "provisioningState": "Succeeded",
            "uniqueId": uuid_from(r.hash, "vmss", 0),
            "timeCreated": timestamp(r.created),
            "virtualMachineProfile": {"storageProfile": {"osDisk": {"createOption": "FromImage", "caching": "ReadWrite", "managedDisk": {"storageAccountType": "Premium_LRS"}}}},
        }),
    )
}

pub(super) fn sql_vm(s: &SqlVm) -> Parts {
    Parts::new(
        Value::Null,
        json!({
            "virtualMachineResourceId": s.virtual_machine,
            "sqlServerLicenseType": s.license_type,
            "sqlManagement": "Full",
            "leastPrivilegeMode": "Enabled",
            "sqlImageOffer": "SQL2022-WS2022",
            "sqlImageSku": "Standard",
            "provisioningState": "Succeeded",
        }),
    )
}
