//! Builders of small hand-made contexts for the rules' unit tests.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::input::{
    ConditionSince, Context, CostWindow, Json, MetricState, MetricStats, Resource, ResourceCost,
    RetailPrice, VmSize,
};
use super::{Evaluation, Finding, evaluate};

/// The tests' clock.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

/// `days` (fractional) before [`now`].
pub(crate) fn days_ago(days: f64) -> DateTime<Utc> {
    now() - Duration::seconds((days * 86_400.0) as i64)
}

/// An empty USD context at [`now`] with default settings and a cost window.
pub(crate) fn ctx() -> Context {
    Context {
        subscription_id: "sub".into(),
        currency: "USD".into(),
        now: now(),
        cost_window: Some(CostWindow {
            start: now().date_naive() - Duration::days(33),
            end: now().date_naive() - Duration::days(4),
        }),
        ..Context::default()
    }
}

/// The id of resource `name` of `arm_type` (e.g. `Microsoft.Compute/disks`) in group `rg`.
pub(crate) fn id(arm_type: &str, name: &str) -> String {
    format!("/subscriptions/sub/resourcegroups/rg/providers/{arm_type}/{name}").to_ascii_lowercase()
}

/// A resource in `westeurope`, group `rg`, with `properties`.
pub(crate) fn resource(arm_type: &str, name: &str, properties: Value) -> Resource {
    Resource {
        resource_id: id(arm_type, name),
        name: name.into(),
        resource_type: arm_type.to_ascii_lowercase(),
        kind: None,
        location: "westeurope".into(),
        resource_group: "rg".into(),
        sku: None,
        tags: [("cost-center".to_owned(), "cc-1".to_owned())].into(),
        properties: Some(to_json(properties)),
    }
}

/// The same resource with an ARM `sku`.
pub(crate) fn with_sku(mut r: Resource, sku: Value) -> Resource {
    r.sku = Some(to_json(sku));
    r
}

/// A VM of `size` in `power` state (`running`, `stopped`, `deallocated`) on `os`.
pub(crate) fn vm(name: &str, size: &str, power: &str, os: &str) -> Resource {
    resource(
        "Microsoft.Compute/virtualMachines",
        name,
        json!({
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {"osDisk": {"osType": os, "managedDisk": {"id": id("Microsoft.Compute/disks", &format!("{name}-os"))}}, "dataDisks": []},
            "networkProfile": {"networkInterfaces": [{"id": id("Microsoft.Network/networkInterfaces", &format!("{name}-nic"))}]},
            "extended": {"instanceView": {"powerState": {"code": format!("PowerState/{power}")}}},
        }),
    )
}

/// One cost row.
pub(crate) fn cost(resource_id: &str, service: &str, amortized: &str) -> ResourceCost {
    let amount: Decimal = amortized.parse().unwrap_or_default();
    ResourceCost {
        resource_id: resource_id.into(),
        service_name: service.into(),
        amortized: amount,
        actual: amount,
    }
}

/// A metric with data: `p95`, `max`, `min` (and `avg` = p95), over `samples` hours.
pub(crate) fn metric(
    resource_id: &str,
    name: &str,
    p95: f64,
    max: f64,
    min: f64,
    samples: u32,
) -> MetricStats {
    MetricStats {
        resource_id: resource_id.into(),
        metric: name.into(),
        state: MetricState::Data,
        avg: Some(p95),
        max: Some(max),
        min: Some(min),
        p95: Some(p95),
        samples,
        unit: String::new(),
    }
}

/// A metric in a state without values.
pub(crate) fn metric_state(resource_id: &str, name: &str, state: MetricState) -> MetricStats {
    MetricStats {
        resource_id: resource_id.into(),
        metric: name.into(),
        state,
        avg: None,
        max: None,
        min: None,
        p95: None,
        samples: 0,
        unit: String::new(),
    }
}

/// A USD pay-as-you-go price in `westeurope`.
pub(crate) fn price(
    service: &str,
    product: &str,
    sku: &str,
    meter: &str,
    unit: &str,
    unit_price: &str,
) -> RetailPrice {
    RetailPrice {
        currency: "USD".into(),
        region: "westeurope".into(),
        service_name: service.into(),
        product_name: product.into(),
        sku_name: sku.into(),
        arm_sku_name: String::new(),
        meter_name: meter.into(),
        unit_of_measure: unit.into(),
        unit_price: unit_price.parse().unwrap_or_default(),
        price_type: "Consumption".into(),
    }
}

/// The Linux (or Windows) hourly price of a VM size.
pub(crate) fn vm_price(size: &str, windows: bool, hourly: &str) -> RetailPrice {
    let stem = size.trim_start_matches("Standard_").replace('_', " ");
    let product = if windows {
        "Virtual Machines Series Windows"
    } else {
        "Virtual Machines Series"
    };
    let mut p = price("Virtual Machines", product, &stem, &stem, "1 Hour", hourly);
    p.arm_sku_name = size.into();
    p
}

/// A VM size of `westeurope`.
pub(crate) fn size(
    name: &str,
    family: &str,
    vcpus: u32,
    memory_gb: f64,
    disks: u32,
    nics: u32,
) -> VmSize {
    VmSize {
        location: "westeurope".into(),
        name: name.into(),
        family: family.into(),
        vcpus,
        memory_gb,
        max_data_disks: disks,
        max_nics: nics,
    }
}

/// A managed disk price of `tier` (`P10`) for `product`.
pub(crate) fn disk_price(product: &str, tier: &str, monthly: &str) -> RetailPrice {
    let sku = format!("{tier} LRS");
    price(
        "Storage",
        product,
        &sku,
        &format!("{sku} Disk"),
        "1/Month",
        monthly,
    )
}

pub(crate) fn condition(
    resource_id: &str,
    condition: &str,
    since: DateTime<Utc>,
) -> ConditionSince {
    ConditionSince {
        resource_id: resource_id.into(),
        condition: condition.into(),
        since,
    }
}

/// How one rule judged one resource.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Fired(Box<Finding>),
    Passed,
    Skipped(&'static str),
    NotEvaluated,
}

impl Outcome {
    /// The finding, or a panic naming what happened instead.
    pub(crate) fn finding(self) -> Finding {
        match self {
            Self::Fired(f) => *f,
            other => panic!("expected a finding, got {other:?}"),
        }
    }

    pub(crate) fn fired(&self) -> bool {
        matches!(self, Self::Fired(_))
    }
}

/// What `rule_id` made of `resource_id` in an evaluation of `ctx`.
pub(crate) fn outcome(ctx: &Context, rule_id: &str, resource_id: &str) -> Outcome {
    outcome_of(&evaluate(ctx), rule_id, resource_id)
}

pub(crate) fn outcome_of(e: &Evaluation, rule_id: &str, resource_id: &str) -> Outcome {
    if !e.evaluated_rules.contains(rule_id) {
        return Outcome::NotEvaluated;
    }
    if let Some(reason) = e.skip_reason(rule_id, resource_id) {
        return Outcome::Skipped(reason);
    }
    e.findings
        .iter()
        .find(|f| f.rule_id == rule_id && f.resource_id == resource_id)
        .map_or(Outcome::Passed, |f| Outcome::Fired(Box::new(f.clone())))
}

/// A decimal from text.
pub(crate) fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

/// The rules' [`Json`] of a `serde_json` value.
pub(crate) fn to_json(value: Value) -> Json {
    serde_json::from_value(value).expect("any JSON value converts")
}

/// Sets the property at `path` (objects are created on the way).
pub(crate) fn set(r: &mut Resource, path: &[&str], value: Value) {
    let mut properties: Value = r.properties.as_ref().map_or_else(
        || json!({}),
        |p| serde_json::to_value(p).expect("serializes"),
    );
    let mut at = &mut properties;
    for key in path {
        at = &mut at[*key];
    }
    *at = value;
    r.properties = Some(to_json(properties));
}
