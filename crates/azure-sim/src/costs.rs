//! The cost model: each resource has a deterministic daily cost, consistent with the inventory
//! (deallocated VMs and NICs cost nothing, disks by size and SKU, …). Reserved VMs differ by cost
//! type: actual cost shows a monthly reservation purchase on the 1st (with no resource group),
//! amortized cost spreads that fee over the month's days on the VM itself.
//!
//! Nothing is stored: lines are computed on demand for a subscription and a date range.

use chrono::{Datelike, Months, NaiveDate};
use uuid::Uuid;

use super::estate::{Details, Estate, Resource, ResourceKind};
use super::rng::{hash2, unit, uuid_from};

/// Cost Management's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostType {
    ActualCost,
    AmortizedCost,
    /// The legacy type: the same amounts as actual cost.
    Usage,
}

impl CostType {
    /// Parses the request's `type` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "actualcost" => Some(Self::ActualCost),
            "amortizedcost" => Some(Self::AmortizedCost),
            "usage" => Some(Self::Usage),
            _ => None,
        }
    }
}

/// One line of cost: a resource (or its reservation purchase) on one day.
#[derive(Debug, Clone, Copy)]
pub struct CostLine<'a> {
    pub resource: &'a Resource,
    pub date: NaiveDate,
    pub amount: f64,
    /// A reservation purchase (actual cost only).
    pub purchase: bool,
    /// Usage covered by a reservation.
    pub reserved: bool,
}

/// Euro to dollar, for the `…USD` aggregations of EUR tenants.
pub const EUR_TO_USD: f64 = 1.08;

/// The pay-as-you-go cost of one day of `r` (zero for what is free or stopped).
pub fn daily_rate(r: &Resource) -> f64 {
    match &r.details {
        Details::VirtualMachine(vm) if vm.running => {
            let licence = if vm.os_type == "Windows" { 1.4 } else { 1.0 };
            vm.size.hourly_price * 24.0 * licence
        }
        Details::VirtualMachine(_) | Details::NetworkInterface(_) => 0.0,
        Details::Disk(d) => f64::from(d.size_gb) * disk_gb_month(d.sku) / 30.0,
        Details::PublicIp(p) => {
            if p.sku == "Standard" {
                0.12
            } else {
                0.096
            }
        }
        Details::Snapshot(s) => f64::from(s.size_gb) * 0.05 / 30.0,
        Details::AppServicePlan(p) => p.hourly_price * 24.0 * f64::from(p.workers),
        Details::SqlDatabase(d) => d.daily_price,
        Details::StorageAccount(s) => s.daily_price,
    }
}

fn disk_gb_month(sku: &str) -> f64 {
    match sku {
        "Premium_LRS" => 0.135,
        "StandardSSD_LRS" => 0.075,
        _ => 0.045,
    }
}

/// The monthly fee of the reservation covering a reserved VM (60 % of pay-as-you-go).
pub fn reservation_fee(r: &Resource) -> f64 {
    let rate = daily_rate(r) * 30.0 * 0.6;
    (rate * 100.0).round() / 100.0
}

/// The reservation order a reserved VM's purchases are billed to.
pub fn reservation_order_id(r: &Resource) -> String {
    format!(
        "/providers/microsoft.capacity/reservationorders/{}",
        uuid_from(r.hash, "reservation-order", 0)
    )
}

/// `(service name, meter category)` of a resource's usage.
pub fn service(kind: ResourceKind) -> (&'static str, &'static str) {
    match kind {
        ResourceKind::VirtualMachine => ("Virtual Machines", "Virtual Machines"),
        ResourceKind::PublicIp | ResourceKind::NetworkInterface => {
            ("Virtual Network", "Virtual Network")
        }
        ResourceKind::AppServicePlan => ("Azure App Service", "Azure App Service"),
        ResourceKind::SqlDatabase => ("SQL Database", "SQL Database"),
        ResourceKind::Disk | ResourceKind::Snapshot | ResourceKind::StorageAccount => {
            ("Storage", "Storage")
        }
    }
}

/// The day's cost of `r`, before reservations: usage-billed services vary from day to day.
fn day_cost(r: &Resource, date: NaiveDate) -> f64 {
    let base = daily_rate(r);
    let jitter = unit(hash2(r.hash, date.num_days_from_ce() as u64));
    match r.kind() {
        ResourceKind::StorageAccount | ResourceKind::SqlDatabase => base * (0.85 + 0.3 * jitter),
        _ => base,
    }
}

fn exists_on(r: &Resource, date: NaiveDate) -> bool {
    let created = match &r.details {
        // A reservation is billed for whole months: from the first month the VM fully existed.
        Details::VirtualMachine(vm) if vm.reserved => {
            return vm.time_created.date_naive() <= date.with_day(1).unwrap_or(date);
        }
        Details::VirtualMachine(vm) => vm.time_created,
        Details::Disk(d) => d.time_created,
        Details::Snapshot(s) => s.time_created,
        _ => return true,
    };
    created.date_naive() <= date
}

fn days_in_month(date: NaiveDate) -> u32 {
    let first = date.with_day(1).unwrap_or(date);
    let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
    (next - first).num_days() as u32
}

/// Calls `f` with every non-zero cost line of a subscription between `from` and `to`
/// (inclusive), clipped to the days that have cost data.
pub fn for_each_line<'a>(
    estate: &'a Estate,
    subscription: Uuid,
    cost_type: CostType,
    (from, to): (NaiveDate, NaiveDate),
    mut f: impl FnMut(CostLine<'a>),
) {
    let (first, last) = estate.cost_data_range();
    let (from, to) = (from.max(first), to.min(last));
    for resource in estate.resources_of(subscription) {
        let mut date = from;
        while date <= to {
            if exists_on(resource, date) {
                emit(resource, date, cost_type, &mut f);
            }
            date = date.succ_opt().unwrap_or(date);
            if date == NaiveDate::MAX {
                break;
            }
        }
    }
}

fn emit<'a>(
    r: &'a Resource,
    date: NaiveDate,
    cost_type: CostType,
    f: &mut impl FnMut(CostLine<'a>),
) {
    let reserved = r.vm().is_some_and(|vm| vm.reserved);
    let line = |amount, purchase| CostLine {
        resource: r,
        date,
        amount,
        purchase,
        reserved,
    };
    if !reserved {
        let amount = day_cost(r, date);
        if amount > 0.0 {
            f(line(amount, false));
        }
        return;
    }
    match cost_type {
        CostType::AmortizedCost => f(line(
            reservation_fee(r) / f64::from(days_in_month(date)),
            false,
        )),
        CostType::ActualCost | CostType::Usage if date.day() == 1 => {
            f(line(reservation_fee(r), true))
        }
        CostType::ActualCost | CostType::Usage => {}
    }
}

impl Estate {
    /// The first and last day with cost data: `cost_days` days ending yesterday.
    pub fn cost_data_range(&self) -> (NaiveDate, NaiveDate) {
        let last = self.today().pred_opt().unwrap_or(self.today());
        let first = last - chrono::Duration::days(i64::from(self.config().cost_days.max(1)) - 1);
        (first, last)
    }

    /// The subscription's total cost of `cost_type` between `from` and `to` (inclusive).
    pub fn expected_cost(
        &self,
        subscription: Uuid,
        cost_type: CostType,
        from: NaiveDate,
        to: NaiveDate,
    ) -> f64 {
        let mut total = 0.0;
        for_each_line(self, subscription, cost_type, (from, to), |line| {
            total += line.amount
        });
        total
    }

    /// The currency of a subscription's cost data.
    pub fn currency_of(&self, subscription: Uuid) -> &'static str {
        self.subscription(subscription)
            .and_then(|s| self.tenant(s.tenant_id))
            .map(|t| t.currency)
            .unwrap_or("USD")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estate::EstateConfig;

    fn estate() -> Estate {
        let today = NaiveDate::from_ymd_opt(2025, 3, 15).expect("date");
        Estate::generate(&EstateConfig {
            today: Some(today),
            cost_days: 60,
            resources_per_subscription: 120,
            ..EstateConfig::default()
        })
    }

    #[test]
    fn actual_and_amortized_agree_over_a_whole_month_but_not_on_its_first_day() {
        let estate = estate();
        let sub = estate.subscriptions()[0].id;
        let feb = |d| NaiveDate::from_ymd_opt(2025, 2, d).expect("date");
        let actual = estate.expected_cost(sub, CostType::ActualCost, feb(1), feb(28));
        let amortized = estate.expected_cost(sub, CostType::AmortizedCost, feb(1), feb(28));
        assert!((actual - amortized).abs() < 1e-6, "{actual} vs {amortized}");
        let has_reserved = estate
            .resources_of(sub)
            .iter()
            .any(|r| r.vm().is_some_and(|v| v.reserved));
        let first_actual = estate.expected_cost(sub, CostType::ActualCost, feb(1), feb(1));
        let first_amortized = estate.expected_cost(sub, CostType::AmortizedCost, feb(1), feb(1));
        assert_eq!(has_reserved, first_actual > first_amortized + 0.01);
    }

    #[test]
    fn there_is_no_cost_data_for_today() {
        let estate = estate();
        let sub = estate.subscriptions()[0].id;
        assert_eq!(
            estate.expected_cost(sub, CostType::ActualCost, estate.today(), estate.today()),
            0.0
        );
        let (first, last) = estate.cost_data_range();
        assert_eq!((last - first).num_days(), 59);
    }
}
