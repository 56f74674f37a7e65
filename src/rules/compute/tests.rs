use serde_json::json;

use crate::rules::SavingsBasis;
use crate::rules::testing::*;

#[test]
fn a_vm_stopped_for_a_day_fires_with_its_compute_cost() {
    let mut c = ctx();
    let v = vm("vm1", "Standard_D2s_v5", "stopped", "Linux");
    c.conditions
        .push(condition(&v.resource_id, "vm_stopped", days_ago(1.0)));
    c.costs
        .push(cost(&v.resource_id, "Virtual Machines", "69.12"));
    c.costs.push(cost(&v.resource_id, "Bandwidth", "3.00"));
    c.resources.push(v.clone());
    let f = outcome(&c, "vm.stopped_allocated", &v.resource_id).finding();
    assert_eq!(f.monthly_savings, Some(dec("69.12")));
    assert_eq!(f.savings_basis, SavingsBasis::ResourceCost);
    assert_eq!(f.action, "stop");
    assert_eq!(f.evidence["min_days"], json!(1.0));
}

#[test]
fn a_vm_stopped_for_less_than_a_day_or_running_does_not_fire() {
    let mut c = ctx();
    let v = vm("vm1", "Standard_D2s_v5", "stopped", "Linux");
    c.conditions
        .push(condition(&v.resource_id, "vm_stopped", days_ago(0.99)));
    let running = vm("vm2", "Standard_D2s_v5", "running", "Linux");
    c.resources.extend([v.clone(), running.clone()]);
    assert_eq!(
        outcome(&c, "vm.stopped_allocated", &v.resource_id),
        Outcome::Passed
    );
    assert_eq!(
        outcome(&c, "vm.stopped_allocated", &running.resource_id),
        Outcome::Passed
    );
}

#[test]
fn a_stopped_vm_without_history_or_power_state_is_skipped() {
    let mut c = ctx();
    let v = vm("vm1", "Standard_D2s_v5", "stopped", "Linux");
    let mut unknown = vm("vm2", "Standard_D2s_v5", "running", "Linux");
    unknown.properties = Some(to_json(
        json!({"hardwareProfile": {"vmSize": "Standard_D2s_v5"}}),
    ));
    c.resources.extend([v.clone(), unknown.clone()]);
    assert_eq!(
        outcome(&c, "vm.stopped_allocated", &v.resource_id),
        Outcome::Skipped("no_condition_history")
    );
    assert_eq!(
        outcome(&c, "vm.stopped_allocated", &unknown.resource_id),
        Outcome::Skipped("power_state_unknown")
    );
}

#[test]
fn a_stopped_vm_without_cost_is_priced_at_its_os_retail_price_with_less_confidence() {
    let mut c = ctx();
    let v = vm("vm1", "Standard_D2s_v5", "stopped", "Windows");
    c.conditions
        .push(condition(&v.resource_id, "vm_stopped", days_ago(3.0)));
    c.prices.extend([
        vm_price("Standard_D2s_v5", false, "0.096"),
        vm_price("Standard_D2s_v5", true, "0.188"),
    ]);
    c.resources.push(v.clone());
    let f = outcome(&c, "vm.stopped_allocated", &v.resource_id).finding();
    assert_eq!(f.savings_basis, SavingsBasis::Retail);
    assert_eq!(f.monthly_savings, Some(dec("137.24")), "0.188 × 730");
    assert_eq!(f.confidence, 0.7);
    assert_eq!(
        f.evidence["retail_price"]["product"],
        "Virtual Machines Series Windows"
    );
}

/// A deallocated VM with a reserved OS disk and a NIC holding a public IP.
fn deallocated(c: &mut crate::rules::Context, since: f64) -> String {
    let v = vm("vm1", "Standard_D2s_v5", "deallocated", "Linux");
    let disk = resource(
        "Microsoft.Compute/disks",
        "vm1-os",
        json!({"diskState": "Reserved", "diskSizeGB": 128, "LastOwnershipUpdateTime": days_ago(since)}),
    );
    let ip_id = id("Microsoft.Network/publicIPAddresses", "vm1-ip");
    let nic = resource(
        "Microsoft.Network/networkInterfaces",
        "vm1-nic",
        json!({"virtualMachine": {"id": v.resource_id}, "ipConfigurations": [{"properties": {"publicIPAddress": {"id": ip_id}}}]}),
    );
    let ip = resource(
        "Microsoft.Network/publicIPAddresses",
        "vm1-ip",
        json!({"ipConfiguration": {"id": "x"}}),
    );
    c.costs.push(cost(&disk.resource_id, "Storage", "19.44"));
    c.costs
        .push(cost(&ip.resource_id, "Virtual Network", "3.60"));
    c.resources.extend([v.clone(), disk, nic, ip]);
    v.resource_id
}

#[test]
fn a_vm_deallocated_for_30_days_fires_with_its_disks_and_ips_cost() {
    let mut c = ctx();
    let v = deallocated(&mut c, 30.0);
    let f = outcome(&c, "vm.long_deallocated", &v).finding();
    assert_eq!(f.monthly_savings, Some(dec("23.04")));
    assert_eq!(f.savings_basis, SavingsBasis::ResourceCost);
    assert_eq!(f.evidence["parts"].as_object().map(|p| p.len()), Some(2));
}

#[test]
fn a_vm_deallocated_for_29_days_does_not_fire() {
    let mut c = ctx();
    let v = deallocated(&mut c, 29.9);
    assert_eq!(outcome(&c, "vm.long_deallocated", &v), Outcome::Passed);
}

#[test]
fn the_earlier_of_history_and_the_reserved_disks_dates_the_deallocation() {
    let mut c = ctx();
    let v = deallocated(&mut c, 10.0);
    c.conditions
        .push(condition(&v, "vm_deallocated", days_ago(45.0)));
    assert!(outcome(&c, "vm.long_deallocated", &v).fired());
    let mut c = ctx();
    let v = deallocated(&mut c, 45.0);
    c.conditions
        .push(condition(&v, "vm_deallocated", days_ago(10.0)));
    assert!(outcome(&c, "vm.long_deallocated", &v).fired());
}

#[test]
fn a_deallocated_vm_with_nothing_billed_is_under_the_floor_unless_the_floor_is_zero() {
    let mut c = ctx();
    let mut v = vm("vm1", "Standard_D2s_v5", "deallocated", "Linux");
    set(&mut v, &["storageProfile"], json!({}));
    c.conditions
        .push(condition(&v.resource_id, "vm_deallocated", days_ago(60.0)));
    c.resources.push(v.clone());
    let e = crate::rules::evaluate(&c);
    assert_eq!(
        outcome_of(&e, "vm.long_deallocated", &v.resource_id),
        Outcome::Passed
    );
    assert_eq!(e.below_floor, 1);
    c.settings.min_monthly_savings = dec("0");
    let f = outcome(&c, "vm.long_deallocated", &v.resource_id).finding();
    assert_eq!(f.monthly_savings, Some(dec("0")));
}

#[test]
fn a_deallocated_vm_without_history_or_reserved_disks_is_skipped() {
    let mut c = ctx();
    let v = vm("vm1", "Standard_D2s_v5", "deallocated", "Linux");
    c.resources.push(v.clone());
    assert_eq!(
        outcome(&c, "vm.long_deallocated", &v.resource_id),
        Outcome::Skipped("no_condition_history")
    );
}

#[test]
fn a_cost_without_service_names_counts_as_a_vms_compute() {
    let mut c = ctx();
    let v = vm("vm1", "Standard_D2s_v5", "stopped", "Linux");
    c.conditions
        .push(condition(&v.resource_id, "vm_stopped", days_ago(2.0)));
    c.costs.push(cost(&v.resource_id, "", "70.00"));
    c.resources.push(v.clone());
    let f = outcome(&c, "vm.stopped_allocated", &v.resource_id).finding();
    assert_eq!(
        (f.monthly_savings, f.savings_basis),
        (Some(dec("70.00")), SavingsBasis::ResourceCost)
    );
}
