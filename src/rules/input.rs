//! What the rules read: one subscription's loaded context, in plain owned types the caller
//! fills from wherever it keeps them (the rules know no database, no Azure client and no
//! ingestion type). Ids, types, resource groups and regions are compared lower-cased, as Resource
//! Graph hands them over; the rules lower-case again where a value comes from inside
//! `properties` (ARM keeps the provider's casing there).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::settings::Settings;

/// ARM JSON as the rules hold it (see [`super::props`]).
pub type Json = simd_json::OwnedValue;

/// Everything one evaluation of one subscription reads.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Lower-cased subscription id (a snapshot whose source disk lives in another
    /// subscription cannot be judged from this inventory).
    pub subscription_id: String,
    /// The tenant's billing currency: the currency of `costs`, of `prices` used and of every
    /// finding's savings.
    pub currency: String,
    /// The evaluation's clock (ages and durations are measured against it).
    pub now: DateTime<Utc>,
    /// The subscription's resources, deleted ones left out.
    pub resources: Vec<Resource>,
    /// The subscription's own tags.
    pub subscription_tags: BTreeMap<String, String>,
    /// Each resource group's tags, by lower-cased resource group name.
    pub resource_group_tags: BTreeMap<String, BTreeMap<String, String>>,
    /// The cost window, when per-resource costs were collected at all. `None` means costs are
    /// unknown (every cost-based saving falls back to retail prices); `Some` with no row for a
    /// resource means the resource was not billed in the window, or is newer than it.
    pub cost_window: Option<CostWindow>,
    /// Per-resource costs over `cost_window`, one row per resource and service.
    pub costs: Vec<ResourceCost>,
    /// The latest metric statistics, one row per resource and metric.
    pub metrics: Vec<MetricStats>,
    /// Since when each tracked condition has held, one row per resource and condition.
    pub conditions: Vec<ConditionSince>,
    /// VM sizes of the regions the subscription's VMs and scale sets are in.
    pub vm_sizes: Vec<VmSize>,
    /// Pay-as-you-go retail prices (any currency; the rules read those in `currency`).
    pub prices: Vec<RetailPrice>,
    /// The tenant's thresholds and switches.
    pub settings: Settings,
}

/// One resource as Resource Graph's `Resources` table returns it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// Lower-cased ARM id.
    pub resource_id: String,
    /// As Azure returns it (shown in titles).
    pub name: String,
    /// Lower-cased ARM type, e.g. `microsoft.compute/disks`.
    pub resource_type: String,
    pub kind: Option<String>,
    /// Lower-cased region, e.g. `westeurope`.
    pub location: String,
    /// Lower-cased resource group name.
    pub resource_group: String,
    /// ARM `sku` as returned (`{"name": "Premium_LRS", "tier": "Premium"}`).
    pub sku: Option<Json>,
    /// `(name, value)` as returned (a vector: a subscription's every resource is held at once,
    /// and most have a handful of tags).
    pub tags: Vec<(String, String)>,
    /// ARM `properties` as returned (VMs with `extended.instanceView.powerState`).
    pub properties: Option<Json>,
}

/// The window of complete days the costs cover (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CostWindow {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// One resource's cost of one service over the cost window, in the tenant's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceCost {
    /// Lower-cased ARM id.
    pub resource_id: String,
    /// Cost Management's `ServiceName` (`Virtual Machines`, `Virtual Machines Licenses`, …);
    /// "" when not known (then the parts of a cost that a rule reads per service — a SQL VM's
    /// licence — fall back to retail prices).
    pub service_name: String,
    pub amortized: Decimal,
    pub actual: Decimal,
}

/// Whether a metric's statistics mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricState {
    /// Statistics of `samples` hourly points.
    Data,
    /// Azure answered without a value (e.g. a VM that was not running).
    NoData,
    /// The call or the metric failed: never read as an idle resource.
    Failed,
}

/// The statistics of one metric of one resource over the metric window (14 days, hourly).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricStats {
    /// Lower-cased ARM id.
    pub resource_id: String,
    /// Azure Monitor's metric name, e.g. `Percentage CPU` (compared case-insensitively).
    pub metric: String,
    pub state: MetricState,
    /// Mean of the hourly values.
    pub avg: Option<f64>,
    /// Largest hourly maximum.
    pub max: Option<f64>,
    /// Smallest hourly minimum.
    pub min: Option<f64>,
    /// Nearest-rank 95th percentile of the hourly values.
    pub p95: Option<f64>,
    /// Hours with data.
    pub samples: u32,
    /// `Percent`, `Bytes`, …
    pub unit: String,
}

/// Since when a tracked condition (`disk_unattached`, `vm_deallocated`, …) has held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionSince {
    /// Lower-cased ARM id.
    pub resource_id: String,
    pub condition: String,
    pub since: DateTime<Utc>,
}

/// One VM size offered in a region (Resource SKUs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmSize {
    /// Lower-cased region.
    pub location: String,
    /// `Standard_D4s_v5` (compared case-insensitively).
    pub name: String,
    /// `standardDSv5Family`.
    pub family: String,
    pub vcpus: u32,
    pub memory_gb: f64,
    pub max_data_disks: u32,
    pub max_nics: u32,
}

/// One Retail Prices API item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetailPrice {
    pub currency: String,
    /// `armRegionName`, lower-cased.
    pub region: String,
    pub service_name: String,
    pub product_name: String,
    pub sku_name: String,
    pub arm_sku_name: String,
    pub meter_name: String,
    /// `1 Hour`, `1/Month`, `1/Day`, `1 GB/Month`.
    pub unit_of_measure: String,
    pub unit_price: Decimal,
    /// Only `Consumption` items are read.
    pub price_type: String,
}
