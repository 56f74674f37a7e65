//! The planted conditions hold in what the simulator serves: metrics (an idle VM's CPU stays
//! under 5 %, an oversized one fits its target), costs (an unattached disk is billed, a long
//! deallocated VM is not), and retail prices agree with the costs to the cent.

use std::collections::HashMap;

use azure_sim::catalog::{self, vm_size};
use azure_sim::estate::{Details, Resource};
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ARM, METRICS, Sim, cost_body, series, small};

/// The planted rule ids of every resource of a subscription.
async fn rules_by_resource(s: &Sim, sub: uuid::Uuid) -> HashMap<String, Vec<Value>> {
    s.truth(sub)
        .await
        .into_iter()
        .map(|t| {
            let id = t["resource_id"].as_str().unwrap_or_default().to_owned();
            (id, t["conditions"].as_array().cloned().unwrap_or_default())
        })
        .collect()
}

fn has(rules: &HashMap<String, Vec<Value>>, id: &str, rule: &str) -> bool {
    rules
        .get(id)
        .is_some_and(|c| c.iter().any(|c| c["rule_id"] == rule))
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

/// One batch per resource (any namespace), over 72 hours.
async fn metrics_of(s: &Sim, token: &str, r: &Resource, namespace: &str, names: &str) -> Value {
    let reply = s
        .batch(
            token,
            (r.location, r.subscription_id),
            (namespace, names),
            &[&r.id],
            72,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body
}

#[tokio::test]
async fn planted_metric_conditions_hold_in_the_served_metrics_and_others_do_not() {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(0), METRICS).await;
    let sub = s.subscription(0, 0);
    let rules = rules_by_resource(&s, sub).await;
    let e = &s.handle.estate;
    for r in e.resources_of(sub) {
        let id = r.id.as_str();
        match &r.details {
            Details::VirtualMachine(vm) => {
                let body = metrics_of(
                    &s,
                    &token,
                    r,
                    "Microsoft.Compute/virtualMachines",
                    "Percentage CPU,Available Memory Bytes",
                )
                .await;
                let (avg, peak) = (
                    series(&body, 0, 0, "average"),
                    series(&body, 0, 0, "maximum"),
                );
                if !vm.is_running() {
                    assert!(avg.is_empty(), "{id}: no data while not running");
                    continue;
                }
                assert_eq!(avg.len(), 72, "{id}");
                let used = |available: f64| {
                    1.0 - available / (f64::from(vm.size.memory_gb) * 1_073_741_824.0)
                };
                let most_used = used(min(&series(&body, 0, 1, "minimum")));
                if has(&rules, id, "vm.idle") {
                    assert!(max(&peak) < 5.0, "{id}: idle");
                } else if has(&rules, id, "vm.rightsize") {
                    let target = vm.rightsize_target.expect("a target");
                    assert!(max(&peak) < 30.0 && most_used < 0.5, "{id}: oversized");
                    let needed = f64::from(vm.size.vcpus) * max(&peak) / 80.0;
                    assert!(needed <= f64::from(target.vcpus), "{id}: the target fits");
                } else {
                    assert!(min(&avg) >= 30.0, "{id}: neither idle nor oversized");
                }
            }
            Details::Disk(d) if d.sku == "Premium_LRS" && d.managed_by.is_some() => {
                let body = metrics_of(
                    &s,
                    &token,
                    r,
                    "Microsoft.Compute/disks",
                    "Composite Disk Read Operations/sec,Composite Disk Write Operations/sec",
                )
                .await;
                let ops: Vec<f64> = series(&body, 0, 0, "maximum")
                    .iter()
                    .zip(series(&body, 0, 1, "maximum"))
                    .map(|(r, w)| r + w)
                    .collect();
                let iops = f64::from(catalog::disk_tier(d.sku, d.size_gb).expect("tier").iops);
                if has(&rules, id, "disk.premium_underused") {
                    assert!(
                        !ops.is_empty() && max(&ops) < 0.05 * iops,
                        "{id}: underused"
                    );
                } else if !ops.is_empty() {
                    assert!(min(&ops) >= 0.05 * iops * 0.7, "{id}: used");
                }
            }
            Details::AppServicePlan(_) => {
                let body = metrics_of(
                    &s,
                    &token,
                    r,
                    "Microsoft.Web/serverfarms",
                    "CpuPercentage,MemoryPercentage",
                )
                .await;
                let (cpu, memory) = (
                    series(&body, 0, 0, "maximum"),
                    series(&body, 0, 1, "maximum"),
                );
                let oversized = max(&cpu) < 30.0 && max(&memory) < 50.0;
                assert_eq!(oversized, has(&rules, id, "asp.oversized"), "{id}");
            }
            Details::SqlDatabase(_) => {
                let body = metrics_of(
                    &s,
                    &token,
                    r,
                    "Microsoft.Sql/servers/databases",
                    "dtu_consumption_percent,cpu_percent",
                )
                .await;
                let dtu = series(&body, 0, 0, "maximum");
                let underused = !dtu.is_empty() && max(&dtu) < 40.0;
                let dtu_sku = r.to_graph_json()["kind"] == "v12.0,user";
                assert_eq!(
                    underused && dtu_sku,
                    has(&rules, id, "sql.dtu_underused"),
                    "{id}"
                );
                assert_eq!(
                    series(&body, 0, 1, "average").len(),
                    72,
                    "{id}: cpu_percent always"
                );
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn planted_cost_conditions_hold_in_the_served_costs() {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(0), ARM).await;
    let sub = s.subscription(0, 0);
    let rules = rules_by_resource(&s, sub).await;
    let to = s.handle.estate.today() - Duration::days(3);
    let from = to - Duration::days(29);
    let mut body = cost_body("AmortizedCost", from, to, &["ResourceId", "ServiceName"]);
    body["dataset"]["granularity"] = json!("None");
    let (_, rows, _) = s.cost_all(&token, sub, &body).await;
    let cost = |id: &str, service: &str| -> f64 {
        let id = id.to_ascii_lowercase();
        rows.iter()
            .filter(|r| r[1] == id.as_str() && r[2] == service)
            .filter_map(|r| r[0].as_f64())
            .sum()
    };
    let e = &s.handle.estate;
    for r in e.resources_of(sub) {
        let id = r.id.as_str();
        let since = |rule: &str| {
            rules[id]
                .iter()
                .find(|c| c["rule_id"] == rule)
                .and_then(|c| c["since"].as_str())
                .map(str::to_owned)
        };
        if has(&rules, id, "disk.unattached") {
            assert!(
                cost(id, "Storage") > 0.0,
                "{id}: an unattached disk is billed"
            );
        }
        if has(&rules, id, "vm.long_deallocated") {
            let since = since("vm.long_deallocated").unwrap_or_default();
            if since.as_str() < from.to_string().as_str() {
                assert_eq!(
                    cost(id, "Virtual Machines"),
                    0.0,
                    "{id}: deallocated before the window"
                );
            }
        }
        if has(&rules, id, "vm.stopped_allocated") {
            assert!(
                cost(id, "Virtual Machines") > 0.0,
                "{id}: stopped but allocated is billed"
            );
        }
        if let Some(vm) = r
            .vm()
            .filter(|v| v.sql_vm.as_ref().is_some_and(|(_, payg)| *payg))
        {
            let registration = vm.sql_vm.as_ref().map_or("", |(id, _)| id);
            assert!(
                has(&rules, registration, "sqlvm.no_ahb"),
                "{registration}: a pay-as-you-go SQL VM"
            );
            if vm.is_running() {
                assert!(
                    cost(id, "Virtual Machines Licenses") > 0.0,
                    "{id}: the SQL licence"
                );
            }
        }
        for rule in [
            "asp.empty",
            "lb.backendless",
            "natgw.orphaned",
            "vnetgw.idle",
            "pe.unused",
            "er.unprovisioned",
            "sql.pool_empty",
            "publicip.orphaned",
        ] {
            if has(&rules, id, rule) {
                let total: f64 = rows
                    .iter()
                    .filter(|x| x[1] == id.to_ascii_lowercase().as_str())
                    .filter_map(|x| x[0].as_f64())
                    .sum();
                assert!(total > 0.0, "{id}: {rule} costs money");
            }
        }
    }
}

/// The consumption price of a VM size for an OS, from the Retail Prices API.
async fn vm_price(s: &Sim, currency: &str, region: &str, size: &str, windows: bool) -> f64 {
    let filter = format!(
        "armRegionName eq '{region}' and armSkuName eq '{size}' and priceType eq 'Consumption'"
    );
    let mut url = s.url("api/retail/prices");
    url.query_pairs_mut()
        .append_pair("currencyCode", &format!("'{currency}'"))
        .append_pair("$filter", &filter);
    let items = s.get_public(url).await.body["Items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let family = vm_size(size).expect("known size");
    let product = if windows {
        format!("{} Windows", family.product)
    } else {
        family.product.to_owned()
    };
    items
        .iter()
        .find(|i| {
            i["productName"] == product.as_str() && i["skuName"] == family.meter_stem().as_str()
        })
        .and_then(|i| i["retailPrice"].as_f64())
        .expect("a consumption price")
}

#[tokio::test]
async fn retail_prices_times_hours_are_the_served_costs_of_vms_in_every_currency() {
    let s = Sim::start(azure_sim::SimConfig {
        estate: azure_sim::EstateConfig {
            tenants: 4,
            subscriptions_per_tenant: 1,
            ..small().estate
        },
        ..small()
    })
    .await;
    let (first, last) = s.handle.estate.cost_data_range();
    let days = (last - first).num_days() + 1;
    for tenant in [0, 3] {
        let sub = s.subscription(tenant, 0);
        let currency = s.handle.estate.currency_of(sub);
        let token = s.token(s.tenant(tenant), ARM).await;
        let mut body = cost_body("ActualCost", first, last, &["ResourceId", "ServiceName"]);
        body["dataset"]["granularity"] = json!("None");
        let (_, rows, _) = s.cost_all(&token, sub, &body).await;
        let mut checked = 0;
        for r in s.handle.estate.resources_of(sub) {
            let Some(vm) = r
                .vm()
                .filter(|v| v.is_running() && !v.reserved && r.created.date_naive() < first)
            else {
                continue;
            };
            let price = vm_price(
                &s,
                currency,
                r.location,
                vm.size.name,
                vm.pays_windows_licence(),
            )
            .await;
            let served: f64 = rows
                .iter()
                .filter(|x| {
                    x[1] == r.id.to_ascii_lowercase().as_str() && x[2] == "Virtual Machines"
                })
                .filter_map(|x| x[0].as_f64())
                .sum();
            let expected = days as f64 * catalog::round_cents(price * 24.0);
            assert!(
                (served - expected).abs() <= 0.01 * days as f64,
                "{}: {served} vs {expected} {currency}",
                r.id
            );
            checked += 1;
        }
        assert!(checked > 0, "{currency}: some VM was checked");
    }
}
