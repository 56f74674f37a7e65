//! The cost model: each resource's charges per day, from the list prices of
//! [`crate::catalog`] and the resource's history (a VM is billed until it was deallocated, a
//! resource from the hour it was created). Every line (resource × day × service) is a whole
//! number of cents in the billing currency, so any grouping of the same lines (per resource
//! over a window, or per resource group × service × day) sums to the same cents.
//!
//! Reserved VMs differ by cost type: actual cost shows a monthly reservation purchase on the
//! 1st (with no resource id and no resource group), amortized cost spreads that fee over the
//! month's days on the VM itself, to the cent.
//!
//! Nothing is stored: lines are computed on demand for a subscription and a date range.

mod rates;

use chrono::{Datelike, Months, NaiveDate};
use uuid::Uuid;

pub use rates::{LICENSES, Service, billed_hours, daily_rate, hourly_usd, service};

use super::catalog::per_usd;
use super::estate::{Estate, Resource};
use super::rng::uuid_from;

/// Euro to dollar, for the `…USD` aggregations of EUR tenants.
pub use super::catalog::EUR_TO_USD;

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

/// One line of cost: a resource's (or its reservation purchase's) charge for one service on
/// one day.
#[derive(Debug, Clone, Copy)]
pub struct CostLine<'a> {
    pub resource: &'a Resource,
    pub date: NaiveDate,
    /// In the billing currency, whole cents.
    pub cents: i64,
    /// The same charge in US dollars, whole cents.
    pub usd_cents: i64,
    pub service: Service,
    /// A reservation purchase (actual cost only): no resource id, no resource group.
    pub purchase: bool,
    /// Usage covered by a reservation.
    pub reserved: bool,
}

impl CostLine<'_> {
    /// The amount in the billing currency.
    pub fn amount(&self) -> f64 {
        self.cents as f64 / 100.0
    }
}

fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

/// The monthly fee of the reservation covering a reserved VM (60 % of pay-as-you-go), in the
/// billing currency `per_usd`, whole cents.
fn reservation_fee_cents(r: &Resource, per_usd: f64) -> i64 {
    cents(daily_rate(r) * 30.0 * 0.6 * per_usd)
}

/// The monthly fee of the reservation covering a reserved VM, in USD.
pub fn reservation_fee(r: &Resource) -> f64 {
    reservation_fee_cents(r, 1.0) as f64 / 100.0
}

/// The reservation order a reserved VM's purchases are billed to.
pub fn reservation_order_id(r: &Resource) -> String {
    format!(
        "/providers/microsoft.capacity/reservationorders/{}",
        uuid_from(r.hash, "reservation-order", 0)
    )
}

fn reserved(r: &Resource) -> bool {
    r.vm().is_some_and(|vm| vm.reserved)
}

/// Whether a reserved VM's reservation bills `date`'s month: from the first month the VM
/// fully existed.
fn reservation_covers(r: &Resource, date: NaiveDate) -> bool {
    r.created.date_naive() <= date.with_day(1).unwrap_or(date)
}

fn days_in_month(date: NaiveDate) -> u32 {
    let first = date.with_day(1).unwrap_or(date);
    let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
    (next - first).num_days() as u32
}

/// A month's fee spread over its days in whole cents that add up to the fee exactly.
fn amortized_share(fee: i64, date: NaiveDate) -> i64 {
    let days = i64::from(days_in_month(date));
    let day = i64::from(date.day0());
    fee / days + i64::from(day < fee % days)
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
    let fx = per_usd(estate.currency_of(subscription)).unwrap_or(1.0);
    for resource in estate.resources_of(subscription) {
        let mut date = from;
        while date <= to {
            let scale = (fx, estate.cost_factor(resource, date));
            emit(resource, date, cost_type, scale, &mut f);
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
    }
}

/// Emits one resource's lines of one day; `scale` is (billing currency per dollar, the
/// injected anomaly's factor of its usage charges).
fn emit<'a>(
    r: &'a Resource,
    date: NaiveDate,
    cost_type: CostType,
    (fx, factor): (f64, f64),
    f: &mut impl FnMut(CostLine<'a>),
) {
    let line = |service, usd: f64, purchase| CostLine {
        resource: r,
        date,
        cents: cents(usd * factor * fx),
        usd_cents: cents(usd * factor),
        service,
        purchase,
        reserved: reserved(r),
    };
    let own_service = service(r.kind());
    let (own, licence) = hourly_usd(r);
    let hours = billed_hours(r, date);
    let mut lines = [None, None];
    if reserved(r) {
        if reservation_covers(r, date) {
            let fee = reservation_fee_cents(r, fx);
            let usd_fee = reservation_fee_cents(r, 1.0);
            lines[0] = match cost_type {
                CostType::AmortizedCost => Some(CostLine {
                    cents: amortized_share(fee, date),
                    usd_cents: amortized_share(usd_fee, date),
                    ..line(own_service, 0.0, false)
                }),
                _ if date.day() == 1 => Some(CostLine {
                    cents: fee,
                    usd_cents: usd_fee,
                    ..line(own_service, 0.0, true)
                }),
                _ => None,
            };
        }
    } else if hours > 0.0 {
        lines[0] = Some(line(
            own_service,
            own * hours * rates::day_factor(r, date),
            false,
        ));
    }
    if licence > 0.0 && hours > 0.0 {
        lines[1] = Some(line(LICENSES, licence * hours, false));
    }
    for l in lines.into_iter().flatten().filter(|l| l.cents != 0) {
        f(l);
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
        let mut total = 0;
        for_each_line(self, subscription, cost_type, (from, to), |line| {
            total += line.cents
        });
        total as f64 / 100.0
    }

    /// One resource's cost of `cost_type` between `from` and `to` (inclusive), in cents of the
    /// billing currency (its reservation purchases are not its own: they have no resource id).
    pub fn resource_cost_cents(
        &self,
        resource: &Resource,
        cost_type: CostType,
        (from, to): (NaiveDate, NaiveDate),
    ) -> i64 {
        let (first, last) = self.cost_data_range();
        let fx = per_usd(self.currency_of(resource.subscription_id)).unwrap_or(1.0);
        let mut total = 0;
        let mut date = from.max(first);
        while date <= to.min(last) {
            let scale = (fx, self.cost_factor(resource, date));
            emit(resource, date, cost_type, scale, &mut |l: CostLine<'_>| {
                if !l.purchase {
                    total += l.cents;
                }
            });
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        total
    }

    /// Plants the demo's cost anomaly (`azure-sim --plant-cost-anomaly`): `days_ago` days
    /// before today, the charges of the first tenant's first subscription's costliest resource
    /// that day (not a reserved one: its fee is not usage) are multiplied so the subscription's
    /// amortized cost of the day at least doubles, a spike any detector flags. `None` when that
    /// day has no cost data or no such resource.
    pub fn plant_cost_anomaly(&self, days_ago: u32) -> Option<crate::estate::CostAnomaly> {
        let sub = self.subscriptions_of(self.tenants().first()?.id).next()?.id;
        let date = self
            .today()
            .checked_sub_days(chrono::Days::new(days_ago.into()))?;
        let total_cents = 100.0 * self.expected_cost(sub, CostType::AmortizedCost, date, date);
        let (resource, cents) = self
            .resources_of(sub)
            .iter()
            .filter(|r| !reserved(r))
            .map(|r| {
                (
                    r,
                    self.resource_cost_cents(r, CostType::AmortizedCost, (date, date)),
                )
            })
            .max_by_key(|(_, cents)| *cents)?;
        if cents <= 0 {
            return None;
        }
        let factor = (1.0 + total_cents / cents as f64).ceil().clamp(2.0, 1000.0);
        self.inject_cost_anomaly(&resource.id, date, factor)
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
        let has_reserved = estate.resources_of(sub).iter().any(reserved);
        let first_actual = estate.expected_cost(sub, CostType::ActualCost, feb(1), feb(1));
        let first_amortized = estate.expected_cost(sub, CostType::AmortizedCost, feb(1), feb(1));
        assert_eq!(has_reserved, first_actual > first_amortized + 0.01);
    }

    #[test]
    fn the_planted_anomaly_at_least_doubles_its_subscriptions_cost_that_day_only() {
        let estate = estate();
        let sub = estate
            .subscriptions_of(estate.tenants()[0].id)
            .next()
            .expect("a subscription")
            .id;
        let day = estate.today() - chrono::Duration::days(6);
        let before = day.pred_opt().expect("date");
        let cost = |d| estate.expected_cost(sub, CostType::AmortizedCost, d, d);
        let (plain_day, plain_before) = (cost(day), cost(before));
        let planted = estate.plant_cost_anomaly(6).expect("planted");
        assert_eq!((planted.subscription_id, planted.date), (sub, day));
        assert!(
            cost(day) >= 2.0 * plain_day - 0.01,
            "{} vs {plain_day}",
            cost(day)
        );
        assert_eq!(cost(before), plain_before);
        assert_eq!(estate.cost_anomalies(), vec![planted]);
        assert!(
            estate.plant_cost_anomaly(0).is_none(),
            "today has no cost data"
        );
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

    #[test]
    fn an_amortized_fee_adds_up_to_the_cent_over_its_month() {
        let feb = NaiveDate::from_ymd_opt(2025, 2, 1).expect("date");
        let total: i64 = (0..28)
            .map(|d| amortized_share(10_001, feb + chrono::Duration::days(d)))
            .sum();
        assert_eq!(total, 10_001);
    }

    #[test]
    fn a_deallocated_vm_stops_costing_compute_when_it_was_deallocated() {
        let estate = Estate::generate(&EstateConfig {
            today: Some(NaiveDate::from_ymd_opt(2025, 3, 15).expect("date")),
            cost_days: 300,
            resources_per_subscription: 120,
            ..EstateConfig::default()
        });
        let (first, last) = estate.cost_data_range();
        let vm = estate
            .resources()
            .iter()
            .find(|r| {
                r.vm().is_some_and(|v| {
                    v.power == crate::estate::PowerState::Deallocated
                        && v.power_since.date_naive() > first
                        && v.power_since.date_naive() < last
                })
            })
            .expect("a VM deallocated within the cost window");
        let since = vm.vm().map(|v| v.power_since.date_naive()).unwrap_or(first);
        let after = since.succ_opt().unwrap_or(since);
        assert!(
            estate.resource_cost_cents(
                vm,
                CostType::ActualCost,
                (first, since.pred_opt().unwrap_or(since))
            ) > 0
        );
        assert_eq!(
            estate.resource_cost_cents(vm, CostType::ActualCost, (after, last)),
            0
        );
    }
}
