//! Actual and amortized cost side by side: one [`CostRow`] per natural key (date, resource
//! group, service name, meter category), rows of one view only kept with the other at zero.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use super::parse::CostEntry;

/// The daily cost of one service in one resource group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostRow {
    pub date: NaiveDate,
    /// Lower-cased; empty for charges outside any resource group (e.g. purchases).
    pub resource_group: String,
    pub service_name: String,
    pub meter_category: String,
    /// ActualCost.
    pub cost: Decimal,
    /// AmortizedCost.
    pub amortized_cost: Decimal,
    /// The billing currency of the amounts (ISO code).
    pub currency: String,
}

type Key = (NaiveDate, String, String, String);

fn key(entry: &CostEntry) -> Key {
    (
        entry.date,
        entry.resource_group.clone(),
        entry.service_name.clone(),
        entry.meter_category.clone(),
    )
}

/// Merges the amortized entries onto the actual ones by natural key, in key order. Entries
/// with the same key within one view (a group reported in two cases) are summed. The currency
/// is the actual entry's, else the amortized one's.
pub fn merge(actual: Vec<CostEntry>, amortized: Vec<CostEntry>) -> Vec<CostRow> {
    let mut rows: BTreeMap<Key, CostRow> = BTreeMap::new();
    for entry in actual {
        let row = rows.entry(key(&entry)).or_insert_with(|| empty_row(&entry));
        row.cost += entry.cost;
    }
    for entry in amortized {
        let row = rows.entry(key(&entry)).or_insert_with(|| empty_row(&entry));
        row.amortized_cost += entry.cost;
    }
    rows.into_values().collect()
}

fn empty_row(entry: &CostEntry) -> CostRow {
    CostRow {
        date: entry.date,
        resource_group: entry.resource_group.clone(),
        service_name: entry.service_name.clone(),
        meter_category: entry.meter_category.clone(),
        cost: Decimal::ZERO,
        amortized_cost: Decimal::ZERO,
        currency: entry.currency.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(day: u32, rg: &str, service: &str, cost: i64, currency: &str) -> CostEntry {
        CostEntry {
            date: NaiveDate::from_ymd_opt(2024, 5, day).unwrap(),
            resource_group: rg.into(),
            service_name: service.into(),
            meter_category: service.into(),
            cost: Decimal::new(cost, 2),
            currency: currency.into(),
        }
    }

    #[test]
    fn rows_in_both_views_are_merged_on_the_natural_key() {
        let rows = merge(
            vec![entry(1, "rg", "Storage", 1000, "EUR")],
            vec![entry(1, "rg", "Storage", 900, "EUR")],
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].cost, Decimal::new(1000, 2));
        assert_eq!(rows[0].amortized_cost, Decimal::new(900, 2));
        assert_eq!(rows[0].currency, "EUR");
    }

    #[test]
    fn actual_only_and_amortized_only_rows_are_kept_with_zero_on_the_other_side() {
        let rows = merge(
            vec![entry(1, "rg", "Reservations", 50000, "USD")],
            vec![entry(1, "rg", "Virtual Machines", 1644, "USD")],
        );
        assert_eq!(rows.len(), 2);
        let reservation = rows
            .iter()
            .find(|r| r.service_name == "Reservations")
            .unwrap();
        assert_eq!(
            (reservation.cost, reservation.amortized_cost),
            (Decimal::new(50000, 2), Decimal::ZERO)
        );
        let vm = rows
            .iter()
            .find(|r| r.service_name == "Virtual Machines")
            .unwrap();
        assert_eq!(
            (vm.cost, vm.amortized_cost),
            (Decimal::ZERO, Decimal::new(1644, 2))
        );
        assert_eq!(vm.currency, "USD");
    }

    #[test]
    fn different_days_groups_and_services_stay_apart_and_duplicates_are_summed() {
        let rows = merge(
            vec![
                entry(1, "rg", "Storage", 100, "USD"),
                entry(2, "rg", "Storage", 200, "USD"),
                entry(1, "rg2", "Storage", 300, "USD"),
                entry(1, "rg", "Storage", 5, "USD"),
            ],
            vec![],
        );
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].cost, Decimal::new(105, 2));
        assert!(rows.iter().all(|r| r.amortized_cost.is_zero()));
    }
}
