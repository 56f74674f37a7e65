//! Retail prices as the rules read them: the tenant's currency, `Consumption` items only (no
//! reservations), never a Spot or Low Priority twin, per region and service; and a price's
//! unit turned into a monthly amount the way Azure prorates (730 hours a month). Which meter
//! prices which resource is in [`meters`].

pub(crate) mod meters;

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::input::RetailPrice;

/// Hours in Azure's billing month.
pub(crate) const HOURS_PER_MONTH: Decimal = Decimal::from_parts(730, 0, 0, false, 0);

/// A resource's monthly list price, with the item it came from (for the evidence).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Price<'a> {
    pub monthly: Decimal,
    pub item: &'a RetailPrice,
}

impl Price<'_> {
    /// The item as evidence.
    pub(crate) fn evidence(&self) -> Value {
        json!({
            "product": self.item.product_name,
            "sku": self.item.sku_name,
            "meter": self.item.meter_name,
            "unit_price": self.item.unit_price.to_string(),
            "unit": self.item.unit_of_measure,
            "monthly": super::finding::cents(self.monthly).to_string(),
        })
    }
}

/// The prices of one currency, by region and service.
#[derive(Debug, Default)]
pub(crate) struct PriceBook<'a> {
    by_service: HashMap<(String, String), Vec<&'a RetailPrice>>,
    /// The same items by region, service and `armSkuName` (a region prices thousands of VM
    /// meters; a VM rule looks up a few sizes per VM).
    by_arm_sku: HashMap<(String, String, String), Vec<&'a RetailPrice>>,
}

/// Whether an item is a discounted, evictable twin of a meter.
fn spot_or_low_priority(p: &RetailPrice) -> bool {
    let spot = |s: &str| s.contains("Spot") || s.contains("Low Priority");
    spot(&p.sku_name) || spot(&p.meter_name) || spot(&p.product_name)
}

impl<'a> PriceBook<'a> {
    pub(crate) fn new(prices: &'a [RetailPrice], currency: &str) -> Self {
        let mut by_service: HashMap<(String, String), Vec<&'a RetailPrice>> = HashMap::new();
        for p in prices {
            if p.currency.eq_ignore_ascii_case(currency)
                && p.price_type.eq_ignore_ascii_case("Consumption")
                && !spot_or_low_priority(p)
            {
                let key = (
                    p.region.to_ascii_lowercase(),
                    p.service_name.to_ascii_lowercase(),
                );
                by_service.entry(key).or_default().push(p);
            }
        }
        let mut by_arm_sku: HashMap<(String, String, String), Vec<&'a RetailPrice>> =
            HashMap::new();
        for items in by_service.values_mut() {
            // A stable choice among equal matches, whatever order the prices came in.
            items.sort_by(|a, b| {
                (&a.product_name, &a.sku_name, &a.meter_name, a.unit_price).cmp(&(
                    &b.product_name,
                    &b.sku_name,
                    &b.meter_name,
                    b.unit_price,
                ))
            });
            for p in items.iter().filter(|p| !p.arm_sku_name.is_empty()) {
                let key = (
                    p.region.to_ascii_lowercase(),
                    p.service_name.to_ascii_lowercase(),
                    p.arm_sku_name.to_ascii_lowercase(),
                );
                by_arm_sku.entry(key).or_default().push(p);
            }
        }
        Self {
            by_service,
            by_arm_sku,
        }
    }

    /// The first item of `service` in `region` with `armSkuName` `arm_sku` that `matches`.
    pub(crate) fn find_arm_sku(
        &self,
        region: &str,
        service: &str,
        arm_sku: &str,
        matches: impl Fn(&RetailPrice) -> bool,
    ) -> Option<&'a RetailPrice> {
        let key = (
            region.to_ascii_lowercase(),
            service.to_ascii_lowercase(),
            arm_sku.trim().to_ascii_lowercase(),
        );
        self.by_arm_sku
            .get(&key)?
            .iter()
            .copied()
            .find(|p| matches(p))
    }

    /// The first item of `service` in `region` that `matches`.
    pub(crate) fn find(
        &self,
        region: &str,
        service: &str,
        matches: impl Fn(&RetailPrice) -> bool,
    ) -> Option<&'a RetailPrice> {
        let key = (region.to_ascii_lowercase(), service.to_ascii_lowercase());
        self.by_service
            .get(&key)?
            .iter()
            .copied()
            .find(|p| matches(p))
    }

    /// The monthly price of `quantity` units (GB for a per-GB meter, instances otherwise) of
    /// the first matching item.
    pub(crate) fn monthly(
        &self,
        region: &str,
        service: &str,
        quantity: Decimal,
        matches: impl Fn(&RetailPrice) -> bool,
    ) -> Option<Price<'a>> {
        let item = self.find(region, service, matches)?;
        let monthly = monthly_amount(item)?.checked_mul(quantity)?;
        Some(Price { monthly, item })
    }
}

/// One unit's monthly amount of a price: `1 Hour` × 730, `1/Day` × 730 ÷ 24, `1/Month` as is,
/// `1 GB/Month` per GB; a leading count (`100 Hours`) divides. `None` for other units.
pub(crate) fn monthly_amount(p: &RetailPrice) -> Option<Decimal> {
    let unit = p.unit_of_measure.trim();
    let digits: String = unit.chars().take_while(char::is_ascii_digit).collect();
    let count: Decimal = if digits.is_empty() {
        Decimal::ONE
    } else {
        digits.parse().ok()?
    };
    if count.is_zero() {
        return None;
    }
    let rest = unit[digits.len()..]
        .trim()
        .trim_start_matches('/')
        .trim()
        .to_ascii_lowercase();
    // Multiplied before divided, so `1/Day` × 730 ÷ 24 stays exact where it can.
    let (times, per) = match rest.as_str() {
        "hour" | "hours" => (HOURS_PER_MONTH, Decimal::ONE),
        "day" | "days" => (HOURS_PER_MONTH, Decimal::from(24)),
        "month" | "months" | "gb/month" => (Decimal::ONE, Decimal::ONE),
        _ => return None,
    };
    p.unit_price.checked_mul(times)?.checked_div(count * per)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::price;

    #[test]
    fn units_become_monthly_amounts() {
        let m = |unit: &str, p: &str| monthly_amount(&price("Storage", "x", "x", "x", unit, p));
        assert_eq!(m("1 Hour", "0.01"), Some(Decimal::new(730, 2)));
        assert_eq!(m("100 Hours", "1"), Some(Decimal::new(730, 2)));
        assert_eq!(m("1/Month", "19.71"), Some(Decimal::new(1971, 2)));
        assert_eq!(m("1 GB/Month", "0.05"), Some(Decimal::new(5, 2)));
        assert_eq!(m("1/Day", "2.4"), Some(Decimal::new(73, 0)));
        assert_eq!(m("10K", "1"), None);
        assert_eq!(m("0 Hours", "1"), None);
    }

    #[test]
    fn the_book_reads_one_currency_consumption_and_no_spot() {
        let mut spot = price(
            "Virtual Machines",
            "Virtual Machines Dsv5 Series",
            "D2s v5 Spot",
            "D2s v5 Spot",
            "1 Hour",
            "0.02",
        );
        spot.arm_sku_name = "Standard_D2s_v5".into();
        let mut payg = price(
            "Virtual Machines",
            "Virtual Machines Dsv5 Series",
            "D2s v5",
            "D2s v5",
            "1 Hour",
            "0.096",
        );
        payg.arm_sku_name = "Standard_D2s_v5".into();
        let mut reserved = payg.clone();
        reserved.price_type = "Reservation".into();
        let mut euro = payg.clone();
        euro.currency = "EUR".into();
        let prices = vec![spot, reserved, euro, payg];
        let book = PriceBook::new(&prices, "usd");
        let found = book.find("WestEurope", "virtual machines", |p| {
            p.arm_sku_name == "Standard_D2s_v5"
        });
        assert_eq!(found.map(|p| p.unit_price), Some(Decimal::new(96, 3)));
        assert!(book.find("eastus", "Virtual Machines", |_| true).is_none());
    }
}
