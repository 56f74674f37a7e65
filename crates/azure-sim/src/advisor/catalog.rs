//! The recommendations of a subscription, derived from its resources and shaped like the
//! 2023-01-01 / 2025-01-01 examples. `extendedProperties` values are strings; savings vary on
//! purpose: some items carry `savingsAmount` and `annualSavingsAmount`, some only the annual
//! amount (always so for reservations), some neither.

use std::collections::BTreeMap;

use chrono::Duration;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::catalog::per_usd;
use crate::costs::daily_rate;
use crate::estate::{Details, Estate, Resource, Utilisation, Vm, timestamp};
use crate::rng::{hash_str, hash2, uuid_from};

/// A recommendation type: its id, category and texts.
struct RecType {
    id: &'static str,
    category: &'static str,
    problem: &'static str,
    solution: &'static str,
}

/// Advisor's own id for "Right-size or shutdown underutilized virtual machines".
const VM_RIGHTSIZE: RecType = RecType {
    id: "e10b1381-5f0a-47ff-8c7b-37bd13d7c974",
    category: "Cost",
    problem: "Right-size or shutdown underutilized virtual machines",
    solution: "Right-size or shutdown underutilized virtual machines",
};
/// Advisor's own id for virtual machine reservation purchases.
const VM_RESERVATION: RecType = RecType {
    id: "84b1a508-fc21-49da-979e-96894f1665df",
    category: "Cost",
    problem: "Buy virtual machine reserved instances to save money over pay-as-you-go costs",
    solution: "Buy virtual machine reserved instances to save money over pay-as-you-go costs",
};
// The type ids below are the simulator's own.
const UNATTACHED_DISK: RecType = RecType {
    id: "48eda464-1485-4dcf-a674-d0905df5054a",
    category: "Cost",
    problem: "Unattached managed disks incur storage costs",
    solution: "Delete or snapshot unattached managed disks",
};
const AVAILABILITY: RecType = RecType {
    id: "651c7925-17a3-42e5-85cd-73bd095cf27f",
    category: "HighAvailability",
    problem: "Use Availability zones for better resiliency and availability",
    solution: "Use Availability zones for better resiliency and availability",
};
const SOFT_DELETE: RecType = RecType {
    id: "8ac84e06-4a55-4a0b-9d77-1e2ba5ee2f1a",
    category: "Security",
    problem: "Enable Soft Delete to protect your blob data",
    solution: "Enable Soft Delete to protect your blob data",
};

/// One recommendation before it becomes JSON.
struct Item<'a> {
    resource_id: String,
    impacted: (&'static str, String),
    kind: &'static RecType,
    impact: &'static str,
    extended: BTreeMap<&'static str, String>,
    seed: u64,
    resource: Option<&'a Resource>,
}

/// Every recommendation of a subscription, in a stable order.
pub fn recommendations(estate: &Estate, subscription: Uuid) -> Vec<Value> {
    let currency = estate.currency_of(subscription);
    let mut items: Vec<Item<'_>> = Vec::new();
    for r in estate.resources_of(subscription) {
        items.extend(for_resource(r, currency));
    }
    items.extend(reservations(estate, subscription, currency));
    items.iter().map(|item| to_json(estate, item)).collect()
}

fn for_resource<'a>(r: &'a Resource, currency: &'static str) -> Option<Item<'a>> {
    let monthly = daily_rate(r) * 30.0 * per_usd(currency).unwrap_or(1.0);
    let payg_vm = |vm: &Vm| vm.is_running() && !vm.reserved;
    match &r.details {
        Details::VirtualMachine(vm) if payg_vm(vm) && vm.utilisation == Utilisation::Idle => {
            let extended = vm_extended(r, vm.size.name, "Shutdown", monthly, currency);
            Some(item(r, &VM_RIGHTSIZE, "High", extended))
        }
        // Advisor knows about two thirds of the oversized VMs the rules find.
        Details::VirtualMachine(Vm {
            rightsize_target: Some(target),
            ..
        }) if r.vm().is_some_and(payg_vm) && !r.hash.is_multiple_of(3) => {
            let vm = r.vm()?;
            let ratio = target.hourly(vm.pays_windows_licence())
                / vm.size.hourly(vm.pays_windows_licence());
            let extended = vm_extended(
                r,
                vm.size.name,
                target.name,
                monthly * (1.0 - ratio),
                currency,
            );
            Some(item(r, &VM_RIGHTSIZE, "Medium", extended))
        }
        Details::VirtualMachine(_) if r.hash % 4 == 1 => {
            Some(item(r, &AVAILABILITY, "Low", BTreeMap::new()))
        }
        Details::Disk(d) if d.managed_by.is_none() => {
            let mut extended = savings(r.hash, monthly, currency);
            extended.insert("diskSizeGB", d.size_gb.to_string());
            extended.insert("sku", d.sku.to_owned());
            Some(item(r, &UNATTACHED_DISK, "Medium", extended))
        }
        Details::StorageAccount(_) if r.hash.is_multiple_of(2) => {
            Some(item(r, &SOFT_DELETE, "Low", BTreeMap::new()))
        }
        _ => None,
    }
}

fn item<'a>(
    r: &'a Resource,
    kind: &'static RecType,
    impact: &'static str,
    extended: BTreeMap<&'static str, String>,
) -> Item<'a> {
    Item {
        resource_id: r.id.clone(),
        impacted: (r.kind().arm_type(), r.name.clone()),
        kind,
        impact,
        extended,
        seed: hash2(r.hash, hash_str(kind.id)),
        resource: Some(r),
    }
}

fn vm_extended(
    r: &Resource,
    current: &str,
    target: &str,
    monthly: f64,
    currency: &str,
) -> BTreeMap<&'static str, String> {
    let mut extended = savings(r.hash, monthly, currency);
    extended.insert("currentSku", current.to_owned());
    extended.insert("targetSku", target.to_owned());
    extended.insert(
        "recommendationType",
        if target == "Shutdown" {
            "Shutdown"
        } else {
            "SkuChange"
        }
        .to_owned(),
    );
    extended.insert("regionId", r.location.to_owned());
    extended.insert("roleName", r.name.clone());
    extended.insert("subscriptionId", r.subscription_id.to_string());
    extended.insert("MaxCpuP95", format!("{}", 1 + r.hash % 4));
    extended.insert("lookbackPeriod", "7".to_owned());
    extended
}

/// Savings keys, varied on purpose (see the module comment).
fn savings(seed: u64, monthly: f64, currency: &str) -> BTreeMap<&'static str, String> {
    let mut extended = BTreeMap::new();
    match seed % 10 {
        0..=5 => {
            extended.insert("savingsAmount", format!("{monthly:.2}"));
            extended.insert("annualSavingsAmount", format!("{:.2}", monthly * 12.0));
        }
        6 | 7 => {
            extended.insert("annualSavingsAmount", format!("{:.2}", monthly * 12.0));
        }
        _ => {}
    }
    extended.insert("savingsCurrency", currency.to_owned());
    extended
}

/// One reservation recommendation per VM size with at least two pay-as-you-go running VMs.
fn reservations(estate: &Estate, subscription: Uuid, currency: &'static str) -> Vec<Item<'static>> {
    let mut by_size: BTreeMap<&str, (u32, f64, &str)> = BTreeMap::new();
    for r in estate.resources_of(subscription) {
        if let Some(vm) = r.vm().filter(|vm| vm.is_running() && !vm.reserved) {
            let entry = by_size.entry(vm.size.name).or_insert((0, 0.0, r.location));
            entry.0 += 1;
            entry.1 += daily_rate(r) * 365.0 * 0.4 * per_usd(currency).unwrap_or(1.0);
        }
    }
    by_size
        .into_iter()
        .filter(|(_, (count, _, _))| *count >= 2)
        .map(|(size, (count, annual, region))| {
            let extended = BTreeMap::from([
                ("annualSavingsAmount", format!("{annual:.2}")),
                ("savingsCurrency", currency.to_owned()),
                ("term", "P3Y".to_owned()),
                ("lookbackPeriod", "30".to_owned()),
                ("vmSize", size.to_owned()),
                ("region", region.to_owned()),
                ("displayQty", count.to_string()),
                ("scope", "Single".to_owned()),
                ("reservationType", "VirtualMachines".to_owned()),
            ]);
            Item {
                resource_id: format!("/subscriptions/{subscription}"),
                impacted: (
                    "Microsoft.Subscriptions/subscriptions",
                    subscription.to_string(),
                ),
                kind: &VM_RESERVATION,
                impact: "Medium",
                extended,
                seed: hash2(subscription.as_u128() as u64, hash_str(size)),
                resource: None,
            }
        })
        .collect()
}

fn to_json(estate: &Estate, item: &Item<'_>) -> Value {
    let name = uuid_from(item.seed, "advisor", 0);
    let updated = estate.reference_now()
        - Duration::hours(3 + (item.seed % 40) as i64)
        - Duration::seconds((item.seed % 3600) as i64);
    let (singular, plural) = match item.resource {
        Some(r) => singular_plural(r),
        None => ("Subscription", "Subscriptions"),
    };
    json!({
        "id": format!("{}/providers/Microsoft.Advisor/recommendations/{name}", item.resource_id),
        "name": name,
        "type": "Microsoft.Advisor/recommendations",
        "properties": {
            "category": item.kind.category,
            "impact": item.impact,
            "impactedField": item.impacted.0,
            "impactedValue": item.impacted.1,
            "lastUpdated": timestamp(updated),
            "recommendationTypeId": item.kind.id,
            "shortDescription": {"problem": item.kind.problem, "solution": item.kind.solution},
            "extendedProperties": item.extended,
            "resourceMetadata": {
                "resourceId": item.resource_id,
                "source": item.resource_id,
                "action": {"additionalProperties": {"actionType": "Document", "link": "https://aka.ms/advisor", "caption": item.kind.solution, "description": item.kind.solution}},
                "singular": singular,
                "plural": plural,
            },
            "suppressionIds": [],
            "learnMoreLink": "https://aka.ms/advisor",
            "potentialBenefits": if item.kind.category == "Cost" { "Save money" } else { "Improve resiliency and security" },
        },
    })
}

fn singular_plural(r: &Resource) -> (&'static str, &'static str) {
    match &r.details {
        Details::VirtualMachine(_) => ("Virtual machine", "Virtual machines"),
        Details::Disk(_) => ("Disk", "Disks"),
        Details::StorageAccount(_) => ("Storage account", "Storage accounts"),
        _ => ("Resource", "Resources"),
    }
}
