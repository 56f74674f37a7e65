use serde_json::{Value, json};

use crate::rules::testing::*;
use crate::rules::{Context, MetricState, SavingsBasis};

fn disk(name: &str, sku: &str, state: &str, extra: Value) -> crate::rules::Resource {
    let mut props = json!({"diskState": state, "diskSizeGB": 128, "timeCreated": days_ago(400.0)});
    if let (Some(p), Value::Object(more)) = (props.as_object_mut(), extra) {
        p.extend(more);
    }
    with_sku(
        resource("Microsoft.Compute/disks", name, props),
        json!({"name": sku}),
    )
}

fn disk_prices(c: &mut Context) {
    c.prices.extend([
        disk_price("Premium SSD Managed Disks", "P10", "19.71"),
        disk_price("Standard SSD Managed Disks", "E10", "9.60"),
        disk_price("Standard HDD Managed Disks", "S10", "5.89"),
    ]);
}

#[test]
fn a_disk_unattached_for_seven_days_fires_with_its_cost() {
    let mut c = ctx();
    let d = disk(
        "d1",
        "Premium_LRS",
        "Unattached",
        json!({"LastOwnershipUpdateTime": days_ago(7.0)}),
    );
    c.costs.push(cost(&d.resource_id, "Storage", "19.44"));
    c.resources.push(d.clone());
    let f = outcome(&c, "disk.unattached", &d.resource_id).finding();
    assert_eq!(
        (f.action, f.monthly_savings),
        ("delete", Some(dec("19.44")))
    );
    assert_eq!(f.evidence["min_days"], json!(7.0));
}

#[test]
fn a_disk_detached_less_than_seven_days_ago_or_attached_does_not_fire() {
    let mut c = ctx();
    let young = disk(
        "d1",
        "Premium_LRS",
        "Unattached",
        json!({"LastOwnershipUpdateTime": days_ago(6.9)}),
    );
    let attached = disk("d2", "Premium_LRS", "Attached", json!({}));
    c.resources.extend([young.clone(), attached.clone()]);
    assert_eq!(
        outcome(&c, "disk.unattached", &young.resource_id),
        Outcome::Passed
    );
    assert_eq!(
        outcome(&c, "disk.unattached", &attached.resource_id),
        Outcome::Passed
    );
}

#[test]
fn a_never_attached_disk_is_unattached_since_its_creation_and_priced_at_retail_without_cost() {
    let mut c = ctx();
    disk_prices(&mut c);
    let d = disk("d1", "Premium_LRS", "Unattached", json!({}));
    c.resources.push(d.clone());
    let f = outcome(&c, "disk.unattached", &d.resource_id).finding();
    assert_eq!(f.savings_basis, SavingsBasis::Retail);
    assert_eq!(f.monthly_savings, Some(dec("19.71")));
    c.prices.clear();
    let f = outcome(&c, "disk.unattached", &d.resource_id).finding();
    assert_eq!(
        (f.monthly_savings, f.savings_basis),
        (None, SavingsBasis::None)
    );
    assert_eq!(f.confidence, 0.6);
}

#[test]
fn a_disk_without_state_or_any_date_is_skipped() {
    let mut c = ctx();
    let mut d = disk("d1", "Premium_LRS", "Unattached", json!({}));
    set(&mut d, &["timeCreated"], Value::Null);
    let mut unknown = disk("d2", "Premium_LRS", "", json!({}));
    set(&mut unknown, &["diskState"], Value::Null);
    c.resources.extend([d.clone(), unknown.clone()]);
    assert_eq!(
        outcome(&c, "disk.unattached", &d.resource_id),
        Outcome::Skipped("no_condition_history")
    );
    assert_eq!(
        outcome(&c, "disk.unattached", &unknown.resource_id),
        Outcome::Skipped("disk_state_unknown")
    );
    c.conditions
        .push(condition(&d.resource_id, "disk_unattached", days_ago(8.0)));
    assert!(outcome(&c, "disk.unattached", &d.resource_id).fired());
}

/// A deallocated VM `vm1` whose OS disk is `d` (reserved since `days` ago).
fn on_vm(c: &mut Context, sku: &str, power: &str, days: f64) -> String {
    let v = vm("vm1", "Standard_D2s_v5", power, "Linux");
    let state = if power == "deallocated" {
        "Reserved"
    } else {
        "Attached"
    };
    let d = disk(
        "vm1-os",
        sku,
        state,
        json!({"LastOwnershipUpdateTime": days_ago(days)}),
    );
    c.costs.push(cost(&d.resource_id, "Storage", "19.44"));
    disk_prices(c);
    c.resources.extend([v, d.clone()]);
    d.resource_id
}

#[test]
fn a_premium_disk_of_a_vm_deallocated_30_days_moves_to_standard_hdd() {
    let mut c = ctx();
    let d = on_vm(&mut c, "Premium_LRS", "deallocated", 30.0);
    let f = outcome(&c, "disk.on_deallocated_vm", &d).finding();
    assert_eq!(
        (f.action, f.variant.as_str()),
        ("change_tier", "Standard_LRS")
    );
    assert_eq!(f.savings_basis, SavingsBasis::PriceRatio);
    // 19.44 × (1 − 5.89 / 19.71) = 13.63
    assert_eq!(f.monthly_savings, Some(dec("13.63")));
}

#[test]
fn disks_on_deallocated_vms_stop_at_29_days_standard_hdd_and_running_vms() {
    for (sku, power, days) in [
        ("Premium_LRS", "deallocated", 29.9),
        ("Standard_LRS", "deallocated", 60.0),
        ("StandardSSD_LRS", "running", 60.0),
    ] {
        let mut c = ctx();
        let d = on_vm(&mut c, sku, power, days);
        assert_eq!(
            outcome(&c, "disk.on_deallocated_vm", &d),
            Outcome::Passed,
            "{sku} {power} {days}"
        );
    }
    let mut c = ctx();
    let d = on_vm(&mut c, "StandardSSD_LRS", "deallocated", 60.0);
    c.prices.clear();
    assert_eq!(
        outcome(&c, "disk.on_deallocated_vm", &d),
        Outcome::Skipped("no_price")
    );
}

fn consumed(c: &mut Context, d: &str, iops: f64, mbps: f64) {
    c.metrics
        .push(metric(d, "IOPS Consumed Percentage", iops, 10.0, 0.0, 336));
    c.metrics
        .push(metric(d, "MBps Consumed Percentage", mbps, 10.0, 0.0, 336));
}

#[test]
fn an_underused_premium_disk_of_a_running_vm_moves_to_standard_ssd() {
    let mut c = ctx();
    let d = on_vm(&mut c, "Premium_LRS", "running", 100.0);
    consumed(&mut c, &d, 4.99, 4.99);
    let f = outcome(&c, "disk.premium_underused", &d).finding();
    assert_eq!(f.variant, "StandardSSD_LRS");
    // 19.44 × (1 − 9.60 / 19.71) = 9.97
    assert_eq!(f.monthly_savings, Some(dec("9.97")));
    assert_eq!(f.evidence["max_iops_percent"], json!(5.0));
}

#[test]
fn a_premium_disk_at_five_percent_or_of_a_stopped_vm_is_not_underused() {
    for (iops, mbps, power) in [
        (5.0, 1.0, "running"),
        (1.0, 5.0, "running"),
        (1.0, 1.0, "deallocated"),
    ] {
        let mut c = ctx();
        let d = on_vm(&mut c, "Premium_LRS", power, 100.0);
        consumed(&mut c, &d, iops, mbps);
        assert_eq!(
            outcome(&c, "disk.premium_underused", &d),
            Outcome::Passed,
            "{iops} {mbps} {power}"
        );
    }
    let mut c = ctx();
    let d = on_vm(&mut c, "Premium_LRS", "running", 100.0);
    c.metrics
        .push(metric(&d, "IOPS Consumed Percentage", 1.0, 2.0, 0.0, 336));
    c.metrics.push(metric_state(
        &d,
        "MBps Consumed Percentage",
        MetricState::Failed,
    ));
    assert_eq!(
        outcome(&c, "disk.premium_underused", &d),
        Outcome::Skipped("metric_failed")
    );
}

fn snapshot(name: &str, sku: &str, age_days: f64, source: &str) -> crate::rules::Resource {
    with_sku(
        resource(
            "Microsoft.Compute/snapshots",
            name,
            json!({"diskSizeGB": 64, "timeCreated": days_ago(age_days), "creationData": {"createOption": "Copy", "sourceResourceId": source}}),
        ),
        json!({"name": sku}),
    )
}

fn snapshot_prices(c: &mut Context) {
    c.prices.extend([
        price(
            "Storage",
            "Standard HDD Managed Disks",
            "Snapshots LRS",
            "LRS Snapshots",
            "1 GB/Month",
            "0.05",
        ),
        price(
            "Storage",
            "Premium SSD Managed Disks",
            "Snapshots LRS",
            "LRS Snapshots",
            "1 GB/Month",
            "0.12",
        ),
    ]);
}

#[test]
fn a_snapshot_of_90_days_is_stale_and_one_of_89_is_not() {
    let mut c = ctx();
    snapshot_prices(&mut c);
    let old = snapshot("old", "Standard_LRS", 90.0, "");
    let young = snapshot("young", "Standard_LRS", 89.9, "");
    c.costs.push(cost(&old.resource_id, "Storage", "3.16"));
    c.resources.extend([old.clone(), young.clone()]);
    let f = outcome(&c, "snapshot.stale", &old.resource_id).finding();
    assert_eq!(f.monthly_savings, Some(dec("3.16")));
    assert_eq!(
        outcome(&c, "snapshot.stale", &young.resource_id),
        Outcome::Passed
    );
}

#[test]
fn a_premium_snapshot_saves_the_standard_price_ratio_of_its_cost() {
    let mut c = ctx();
    snapshot_prices(&mut c);
    let p = snapshot("p", "Premium_LRS", 5.0, "");
    let s = snapshot("s", "Standard_LRS", 5.0, "");
    c.costs.push(cost(&p.resource_id, "Storage", "7.57"));
    c.resources.extend([p.clone(), s.clone()]);
    let f = outcome(&c, "snapshot.premium", &p.resource_id).finding();
    assert_eq!(f.variant, "Standard_LRS");
    // 7.57 × (1 − 0.05 / 0.12) = 4.415 → 4.42
    assert_eq!(f.monthly_savings, Some(dec("4.42")));
    assert_eq!(
        outcome(&c, "snapshot.premium", &s.resource_id),
        Outcome::Passed
    );
    c.costs.clear();
    let f = outcome(&c, "snapshot.premium", &p.resource_id).finding();
    assert_eq!(
        (f.savings_basis, f.monthly_savings),
        (SavingsBasis::Retail, Some(dec("4.48")))
    );
}

#[test]
fn a_snapshot_whose_source_is_gone_fires_from_30_days() {
    let mut c = ctx();
    let gone = id("Microsoft.Compute/disks", "deleted");
    let kept = disk("kept", "Premium_LRS", "Attached", json!({}));
    let orphan = snapshot("orphan", "Standard_LRS", 30.0, &gone);
    let young = snapshot("young", "Standard_LRS", 29.9, &gone);
    let fine = snapshot(
        "fine",
        "Standard_LRS",
        300.0,
        &kept.resource_id.to_uppercase(),
    );
    let elsewhere = snapshot(
        "elsewhere",
        "Standard_LRS",
        300.0,
        "/subscriptions/other/resourceGroups/x/providers/Microsoft.Compute/disks/y",
    );
    c.resources.extend([
        kept,
        orphan.clone(),
        young.clone(),
        fine.clone(),
        elsewhere.clone(),
    ]);
    assert!(outcome(&c, "snapshot.orphaned_source", &orphan.resource_id).fired());
    assert_eq!(
        outcome(&c, "snapshot.orphaned_source", &young.resource_id),
        Outcome::Passed
    );
    assert_eq!(
        outcome(&c, "snapshot.orphaned_source", &fine.resource_id),
        Outcome::Passed
    );
    assert_eq!(
        outcome(&c, "snapshot.orphaned_source", &elsewhere.resource_id),
        Outcome::Skipped("source_outside_subscription")
    );
}
