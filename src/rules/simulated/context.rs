//! A subscription of the simulated estate as the rules' context: Resource Graph rows,
//! per-resource costs (amortized and actual, per service) over the 30 days ending 3 days ago,
//! 14 days of hourly metric statistics computed as the platform computes them (disks' consumed
//! percentages derived from the composite metrics), every region's VM sizes and the retail price
//! list, and a condition history that has watched the estate since it was created.

use std::collections::BTreeMap;

use azure_sim::Estate;
use azure_sim::catalog::{REGIONS, VM_SIZES, per_usd};
use azure_sim::costs::{CostType, for_each_line};
use azure_sim::estate::{Details, DiskState, IpBinding, PowerState};
use azure_sim::metrics::namespaces::for_kind;
use azure_sim::metrics::series::hourly;
use azure_sim::retail_prices::items::price_list;
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use crate::rules::Settings;
use crate::rules::input::*;
use crate::rules::props::number;

pub(super) fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

fn tags(v: &Value) -> BTreeMap<String, String> {
    let parsed;
    let object = match v {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).unwrap_or_default();
            &parsed
        }
        other => other,
    };
    object
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn resource(r: &azure_sim::estate::Resource) -> Resource {
    let row = r.to_graph_json();
    let some = |v: &Value| (!v.is_null()).then(|| v.clone());
    Resource {
        resource_id: text(&row, "id").to_ascii_lowercase(),
        name: text(&row, "name"),
        resource_type: text(&row, "type").to_ascii_lowercase(),
        kind: Some(text(&row, "kind")).filter(|k| !k.is_empty()),
        location: text(&row, "location").to_ascii_lowercase(),
        resource_group: text(&row, "resourceGroup").to_ascii_lowercase(),
        sku: some(&row["sku"]).map(crate::rules::testing::to_json),
        tags: tags(&row["tags"]).into_iter().collect(),
        properties: some(&row["properties"]).map(crate::rules::testing::to_json),
    }
}

fn costs(estate: &Estate, sub: Uuid, window: (NaiveDate, NaiveDate)) -> Vec<ResourceCost> {
    let mut rows: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for (cost_type, amortized) in [
        (CostType::AmortizedCost, true),
        (CostType::ActualCost, false),
    ] {
        for_each_line(estate, sub, cost_type, window, |line| {
            if line.purchase {
                return;
            }
            let key = (
                line.resource.id.to_ascii_lowercase(),
                line.service.0.to_owned(),
            );
            let entry = rows.entry(key).or_default();
            if amortized {
                entry.0 += line.cents
            } else {
                entry.1 += line.cents
            }
        });
    }
    rows.into_iter()
        .map(
            |((resource_id, service_name), (amortized, actual))| ResourceCost {
                resource_id,
                service_name,
                amortized: Decimal::new(amortized, 2),
                actual: Decimal::new(actual, 2),
            },
        )
        .collect()
}

/// Statistics as the platform computes them: mean and nearest-rank p95 of the hourly values,
/// max and min of the hourly maxima and minima.
fn stats(resource_id: &str, metric: &str, points: &[(f64, f64, f64)]) -> MetricStats {
    let mut values: Vec<f64> = points.iter().map(|p| p.0).collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n.max(1));
    let data = n > 0;
    MetricStats {
        resource_id: resource_id.to_owned(),
        metric: metric.to_owned(),
        state: if data {
            MetricState::Data
        } else {
            MetricState::NoData
        },
        avg: data.then(|| values.iter().sum::<f64>() / n as f64),
        max: points.iter().map(|p| p.2).reduce(f64::max),
        min: points.iter().map(|p| p.1).reduce(f64::min),
        p95: data.then(|| values[rank - 1]),
        samples: n as u32,
        unit: String::new(),
    }
}

fn metrics(estate: &Estate, r: &azure_sim::estate::Resource, props: &Json) -> Vec<MetricStats> {
    let Some(namespace) = for_kind(r.kind()) else {
        return Vec::new();
    };
    let end = estate.reference_now().timestamp().div_euclid(3600);
    let hours = end - 14 * 24..end;
    let series = |name: &str| -> Vec<Option<(f64, f64, f64)>> {
        let def = namespace.metric(name).expect("a served metric");
        hours.clone().map(|h| hourly(estate, r, &def, h)).collect()
    };
    let id = r.id.to_ascii_lowercase();
    let present = |s: Vec<Option<(f64, f64, f64)>>| s.into_iter().flatten().collect::<Vec<_>>();
    match namespace.name {
        "Microsoft.Compute/disks" => {
            let consumed = |read: &str, write: &str, capacity: f64| {
                let values: Vec<(f64, f64, f64)> = series(read)
                    .into_iter()
                    .zip(series(write))
                    .filter_map(|(r, w)| Some((r?.0 + w?.0) / capacity * 100.0))
                    .map(|v| (v, v, v))
                    .collect();
                values
            };
            let iops = number(props, &["diskIOPSReadWrite"]).unwrap_or(1.0);
            let mbps = number(props, &["diskMBpsReadWrite"]).unwrap_or(1.0) * 1_048_576.0;
            vec![
                stats(
                    &id,
                    "IOPS Consumed Percentage",
                    &consumed(
                        "Composite Disk Read Operations/sec",
                        "Composite Disk Write Operations/sec",
                        iops,
                    ),
                ),
                stats(
                    &id,
                    "MBps Consumed Percentage",
                    &consumed(
                        "Composite Disk Read Bytes/sec",
                        "Composite Disk Write Bytes/sec",
                        mbps,
                    ),
                ),
            ]
        }
        _ => namespace
            .metrics
            .iter()
            .map(|def| {
                let mut points = present(series(def.name));
                if def.name == "Network Out Total" {
                    points = points
                        .into_iter()
                        .map(|(a, _, _)| (a * 60.0, a * 60.0, a * 60.0))
                        .collect();
                }
                stats(&id, def.name, &points)
            })
            .collect(),
    }
}

/// A history that has watched the estate since it was created.
fn conditions(r: &azure_sim::estate::Resource) -> Vec<ConditionSince> {
    let held = match &r.details {
        Details::VirtualMachine(vm) => match vm.power {
            PowerState::Stopped => Some(("vm_stopped", vm.power_since)),
            PowerState::Deallocated => Some(("vm_deallocated", vm.power_since)),
            PowerState::Running => None,
        },
        Details::Disk(d) if d.state == DiskState::Unattached => {
            Some(("disk_unattached", d.ownership_since.unwrap_or(r.created)))
        }
        Details::PublicIp(p) if p.binding == IpBinding::None => {
            Some(("public_ip_unassociated", r.created))
        }
        Details::ExpressRouteCircuit(c) if !c.provisioned => {
            Some(("expressroute_not_provisioned", r.created))
        }
        _ => None,
    };
    held.into_iter()
        .map(|(condition, since)| ConditionSince {
            resource_id: r.id.to_ascii_lowercase(),
            condition: condition.into(),
            since,
        })
        .collect()
}

fn prices(currency: &str) -> Vec<RetailPrice> {
    let dec =
        |v: &Value| Decimal::from_f64_retain(v.as_f64().unwrap_or_default()).unwrap_or_default();
    price_list(currency, per_usd(currency).unwrap_or(1.0), false)
        .iter()
        .map(|i| RetailPrice {
            currency: text(i, "currencyCode"),
            region: text(i, "armRegionName"),
            service_name: text(i, "serviceName"),
            product_name: text(i, "productName"),
            sku_name: text(i, "skuName"),
            arm_sku_name: text(i, "armSkuName"),
            meter_name: text(i, "meterName"),
            unit_of_measure: text(i, "unitOfMeasure"),
            unit_price: dec(&i["unitPrice"]),
            price_type: text(i, "type"),
        })
        .collect()
}

pub(super) fn context(
    estate: &Estate,
    sub: &azure_sim::estate::Subscription,
    settings: Settings,
) -> Context {
    let end = estate.reference_now().date_naive() - Duration::days(3);
    let window = (end - Duration::days(29), end);
    let currency = estate.currency_of(sub.id);
    let sim = estate.resources_of(sub.id);
    let resources: Vec<Resource> = sim.iter().map(resource).collect();
    Context {
        subscription_id: sub.id.to_string(),
        currency: currency.into(),
        now: estate.reference_now(),
        metrics: sim
            .iter()
            .zip(&resources)
            .flat_map(|(s, r)| metrics(estate, s, r.props()))
            .collect(),
        conditions: sim.iter().flat_map(conditions).collect(),
        resources,
        subscription_tags: sub
            .tags
            .to_map()
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect(),
        resource_group_tags: sub
            .resource_groups
            .iter()
            .map(|g| {
                (
                    g.name.to_ascii_lowercase(),
                    g.tags
                        .to_map()
                        .into_iter()
                        .map(|(k, v)| (k.into(), v.into()))
                        .collect(),
                )
            })
            .collect(),
        cost_window: Some(CostWindow {
            start: window.0,
            end: window.1,
        }),
        costs: costs(estate, sub.id, window),
        vm_sizes: REGIONS
            .iter()
            .flat_map(|(region, _)| {
                VM_SIZES.iter().map(|s| VmSize {
                    location: (*region).into(),
                    name: s.name.into(),
                    family: s.family.into(),
                    vcpus: s.vcpus,
                    memory_gb: f64::from(s.memory_gb),
                    max_data_disks: s.max_data_disks,
                    max_nics: s.max_nics,
                })
            })
            .collect(),
        prices: prices(currency),
        settings,
    }
}
