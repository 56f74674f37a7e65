use serde_json::json;

use crate::rules::testing::*;
use crate::rules::{Context, MetricState, SavingsBasis};

const GIB: f64 = 1_073_741_824.0;
const MBIT_HOUR: f64 = 1e6 / 8.0 * 3600.0;

/// A running D4s_v5 with CPU p95 / max, network out p95 (Mbps) and memory available (GiB).
fn running_vm(c: &mut Context, cpu: (f64, f64), net_mbps: f64, available_gib: f64) -> String {
    let v = vm("vm1", "Standard_D4s_v5", "running", "Linux");
    let id = v.resource_id.clone();
    c.metrics
        .push(metric(&id, "Percentage CPU", cpu.0, cpu.1, 0.1, 336));
    c.metrics.push(metric(
        &id,
        "Network Out Total",
        net_mbps * MBIT_HOUR,
        1e9,
        0.0,
        336,
    ));
    c.metrics.push(metric(
        &id,
        "Available Memory Bytes",
        12.0 * GIB,
        16.0 * GIB,
        available_gib * GIB,
        336,
    ));
    c.costs.push(cost(&id, "Virtual Machines", "138.24"));
    c.resources.push(v);
    c.vm_sizes.extend([
        size("Standard_D2s_v5", "standardDSv5Family", 2, 8.0, 4, 2),
        size("Standard_D4s_v5", "standardDSv5Family", 4, 16.0, 8, 2),
        size("Standard_D8s_v5", "standardDSv5Family", 8, 32.0, 16, 4),
        size("Standard_E2s_v5", "standardESv5Family", 2, 16.0, 4, 2),
    ]);
    c.prices.extend([
        vm_price("Standard_D2s_v5", false, "0.096"),
        vm_price("Standard_D4s_v5", false, "0.192"),
        vm_price("Standard_D8s_v5", false, "0.384"),
        vm_price("Standard_E2s_v5", false, "0.05"),
    ]);
    id
}

#[test]
fn an_idle_vm_fires_with_its_cost() {
    let mut c = ctx();
    let v = running_vm(&mut c, (4.99, 19.99), 9.99, 10.0);
    let f = outcome(&c, "vm.idle", &v).finding();
    assert_eq!(
        (f.action, f.monthly_savings),
        ("shutdown", Some(dec("138.24")))
    );
    assert_eq!(f.savings_basis, SavingsBasis::ResourceCost);
    assert!(
        (f.evidence["network_out_p95_mbps"]
            .as_f64()
            .unwrap_or_default()
            - 9.99)
            .abs()
            < 1e-9
    );
    assert_eq!(f.evidence["max_cpu_p95_percent"], json!(5.0));
}

#[test]
fn a_vm_at_any_idle_threshold_is_not_idle() {
    for (cpu, net) in [((5.0, 10.0), 1.0), ((1.0, 20.0), 1.0), ((1.0, 10.0), 10.0)] {
        let mut c = ctx();
        let v = running_vm(&mut c, cpu, net, 10.0);
        assert_eq!(outcome(&c, "vm.idle", &v), Outcome::Passed, "{cpu:?} {net}");
    }
}

#[test]
fn idle_needs_72_hours_of_both_metrics_and_a_running_vm() {
    let mut c = ctx();
    let v = running_vm(&mut c, (1.0, 2.0), 0.1, 10.0);
    c.metrics[0].samples = 71;
    assert_eq!(
        outcome(&c, "vm.idle", &v),
        Outcome::Skipped("too_few_samples")
    );
    c.metrics[0].samples = 72;
    assert!(outcome(&c, "vm.idle", &v).fired());
    c.metrics[1] = metric_state(&v, "Network Out Total", MetricState::Failed);
    assert_eq!(
        outcome(&c, "vm.idle", &v),
        Outcome::Skipped("metric_failed")
    );
    c.metrics[1] = metric_state(&v, "Network Out Total", MetricState::NoData);
    assert_eq!(
        outcome(&c, "vm.idle", &v),
        Outcome::Skipped("metric_no_data")
    );
    c.metrics.remove(1);
    assert_eq!(
        outcome(&c, "vm.idle", &v),
        Outcome::Skipped("metric_missing")
    );
    set(
        &mut c.resources[0],
        &["extended", "instanceView", "powerState", "code"],
        json!("PowerState/deallocated"),
    );
    assert_eq!(
        outcome(&c, "vm.idle", &v),
        Outcome::Passed,
        "a deallocated VM is not idle"
    );
}

#[test]
fn an_oversized_vm_moves_to_the_cheapest_fitting_size_of_its_family() {
    let mut c = ctx();
    // 4 vCPUs at p95 29 % need 1.45 vCPUs at 80 %; 16 GB at 37.5 % use need 7.5 GB at 80 %.
    let v = running_vm(&mut c, (29.0, 60.0), 50.0, 10.0);
    let f = outcome(&c, "vm.rightsize", &v).finding();
    assert_eq!(f.variant, "Standard_D2s_v5");
    assert_eq!(f.action, "resize");
    assert_eq!(f.savings_basis, SavingsBasis::PriceRatio);
    assert_eq!(
        f.monthly_savings,
        Some(dec("69.12")),
        "138.24 × (1 − 0.096 / 0.192)"
    );
    assert_eq!(f.evidence["price_ratio"], "0.5");
    assert_eq!(f.fingerprint, format!("vm.rightsize|{v}|standard_d2s_v5"));
}

#[test]
fn rightsizing_stops_at_the_cpu_memory_and_data_disk_edges() {
    // p95 30 % is not under the threshold; memory use of exactly 50 % is not either.
    for (cpu, available) in [(30.0, 12.0), (10.0, 8.0)] {
        let mut c = ctx();
        let v = running_vm(&mut c, (cpu, 60.0), 50.0, available);
        assert_eq!(outcome(&c, "vm.rightsize", &v), Outcome::Passed);
    }
    // p95 41 % of 4 vCPUs needs 2.05 vCPUs at 80 %: no smaller D size fits (the cheaper E
    // size is of another family).
    let mut c = ctx();
    c.settings.rules.insert(
        "vm.rightsize".into(),
        crate::rules::RuleSettings {
            enabled: true,
            thresholds: [("max_cpu_p95_percent".into(), 60.0)].into(),
        },
    );
    let v = running_vm(&mut c, (41.0, 60.0), 50.0, 10.0);
    assert_eq!(outcome(&c, "vm.rightsize", &v), Outcome::Passed);
    // p95 40 % needs exactly 2 vCPUs at 80 %: the D2s_v5 fits.
    c.metrics[0].p95 = Some(40.0);
    assert_eq!(
        outcome(&c, "vm.rightsize", &v).finding().variant,
        "Standard_D2s_v5"
    );
    // Five data disks do not fit a D2s_v5 (four).
    let mut c = ctx();
    let v = running_vm(&mut c, (10.0, 60.0), 50.0, 12.0);
    let disk = json!({"managedDisk": {"id": "/x"}});
    set(
        &mut c.resources[0],
        &["storageProfile", "dataDisks"],
        json!([disk, disk, disk, disk, disk]),
    );
    assert_eq!(outcome(&c, "vm.rightsize", &v), Outcome::Passed);
}

#[test]
fn an_idle_vm_is_shut_down_not_resized() {
    let mut c = ctx();
    let v = running_vm(&mut c, (2.0, 4.0), 0.1, 12.0);
    assert!(outcome(&c, "vm.idle", &v).fired());
    assert_eq!(outcome(&c, "vm.rightsize", &v), Outcome::Passed);
    c.settings.rules.insert(
        "vm.idle".into(),
        crate::rules::RuleSettings {
            enabled: false,
            ..Default::default()
        },
    );
    assert!(outcome(&c, "vm.rightsize", &v).fired());
}

#[test]
fn rightsizing_without_sizes_or_prices_is_skipped_and_without_cost_uses_retail() {
    let mut c = ctx();
    let v = running_vm(&mut c, (10.0, 60.0), 50.0, 12.0);
    c.vm_sizes.clear();
    assert_eq!(
        outcome(&c, "vm.rightsize", &v),
        Outcome::Skipped("no_vm_size")
    );
    let mut c = ctx();
    let v = running_vm(&mut c, (10.0, 60.0), 50.0, 12.0);
    c.prices.clear();
    assert_eq!(
        outcome(&c, "vm.rightsize", &v),
        Outcome::Skipped("no_price")
    );
    let mut c = ctx();
    let v = running_vm(&mut c, (10.0, 60.0), 50.0, 12.0);
    c.costs.clear();
    let f = outcome(&c, "vm.rightsize", &v).finding();
    assert_eq!(f.savings_basis, SavingsBasis::Retail);
    assert_eq!(
        f.monthly_savings,
        Some(dec("70.08")),
        "(0.192 − 0.096) × 730"
    );
    assert_eq!(f.confidence, 0.55);
}

#[test]
fn a_windows_vm_is_resized_at_windows_prices() {
    let mut c = ctx();
    let v = running_vm(&mut c, (10.0, 60.0), 50.0, 12.0);
    set(
        &mut c.resources[0],
        &["storageProfile", "osDisk", "osType"],
        json!("Windows"),
    );
    c.prices.extend([
        vm_price("Standard_D2s_v5", true, "0.188"),
        vm_price("Standard_D4s_v5", true, "0.376"),
    ]);
    let f = outcome(&c, "vm.rightsize", &v).finding();
    assert_eq!(f.evidence["target_price"]["unit_price"], "0.188");
}

fn scale_set(c: &mut Context, capacity: u32, cpu_p95: f64, available_gib: f64) -> String {
    let s = with_sku(
        resource("Microsoft.Compute/virtualMachineScaleSets", "ss", json!({})),
        json!({"name": "Standard_D2s_v5", "tier": "Standard", "capacity": capacity}),
    );
    let id = s.resource_id.clone();
    c.metrics
        .push(metric(&id, "Percentage CPU", cpu_p95, 40.0, 1.0, 336));
    c.metrics.push(metric(
        &id,
        "Available Memory Bytes",
        5.0 * GIB,
        8.0 * GIB,
        available_gib * GIB,
        336,
    ));
    c.costs.push(cost(&id, "Virtual Machines", "276.48"));
    c.vm_sizes
        .push(size("Standard_D2s_v5", "standardDSv5Family", 2, 8.0, 4, 2));
    c.prices.push(vm_price("Standard_D2s_v5", false, "0.096"));
    c.resources.push(s);
    id
}

#[test]
fn an_underused_scale_set_scales_in_to_what_carries_its_load() {
    let mut c = ctx();
    // p95 20 %, memory 25 % used: 4 × 0.25 / 0.8 → 2 instances.
    let s = scale_set(&mut c, 4, 20.0, 6.0);
    let f = outcome(&c, "vmss.underused", &s).finding();
    assert_eq!(f.evidence["target_capacity"], json!(2.0));
    assert_eq!(f.monthly_savings, Some(dec("138.24")));
    assert_eq!((f.action, f.variant.as_str()), ("resize", ""));
}

#[test]
fn a_scale_set_at_the_thresholds_or_of_one_instance_is_not_underused() {
    for (capacity, cpu, available) in [(4, 30.0, 6.0), (4, 10.0, 4.0), (1, 5.0, 7.0)] {
        let mut c = ctx();
        let s = scale_set(&mut c, capacity, cpu, available);
        assert_eq!(
            outcome(&c, "vmss.underused", &s),
            Outcome::Passed,
            "{capacity} {cpu} {available}"
        );
    }
}
