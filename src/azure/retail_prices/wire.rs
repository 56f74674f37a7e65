//! The Retail Prices answer: `{"BillingCurrency", "CustomerEntityId", "CustomerEntityType",
//! "Items": […], "NextPageLink", "Count"}` (PascalCase envelope, camelCase items), and one
//! item mapped to a [`RetailPrice`]. Prices are exact decimals (the shortest text of the
//! JSON number); an item without a meter, a price or a start date is skipped by the caller.

use chrono::{DateTime, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::azure::cost_management::parse::parse_amount;

/// One page of prices.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PricePage {
    #[serde(rename = "BillingCurrency", default)]
    pub billing_currency: Option<String>,
    #[serde(rename = "CustomerEntityId", default)]
    pub customer_entity_id: Option<String>,
    #[serde(rename = "CustomerEntityType", default)]
    pub customer_entity_type: Option<String>,
    /// Kept as JSON so that one odd item cannot fail its page.
    #[serde(rename = "Items", default)]
    pub items: Vec<Value>,
    #[serde(rename = "NextPageLink", default)]
    pub next_page_link: Option<String>,
    #[serde(rename = "Count", default)]
    pub count: Option<u64>,
}

impl PricePage {
    /// The next page's link, if any (an empty one counts as none).
    pub fn next_link(&self) -> Option<&str> {
        self.next_page_link
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
    }
}

/// The retail price of one meter of one SKU in one region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetailPrice {
    /// ISO code of the amounts.
    pub currency: String,
    /// `armRegionName` (e.g. `westeurope`); empty for global meters.
    pub region: String,
    pub service_name: String,
    pub service_family: String,
    pub product_name: String,
    pub sku_name: String,
    pub arm_sku_name: String,
    pub meter_id: String,
    pub meter_name: String,
    /// E.g. `1 Hour`, `1 GB/Month`.
    pub unit_of_measure: String,
    pub unit_price: Decimal,
    pub retail_price: Decimal,
    /// The tier's lower bound in units (tiered meters have one item per tier).
    pub tier_minimum_units: Decimal,
    /// The item's `type`: `Consumption`, `Reservation`, `DevTestConsumption`.
    pub price_type: String,
    pub effective_start: DateTime<Utc>,
    /// False for the copies of a meter listed under other regions.
    pub is_primary_meter_region: bool,
}

/// The price of `item`, or `None` when it lacks a meter id, a unit or retail price, or a
/// start date. `page_currency` stands in for an item without `currencyCode`.
pub fn map_price(item: &Value, page_currency: &str) -> Option<RetailPrice> {
    let text = |key: &str| item[key].as_str().unwrap_or_default().trim().to_owned();
    let amount = |key: &str| match &item[key] {
        Value::Null => None,
        value => parse_amount(value),
    };
    let meter_id = text("meterId");
    if meter_id.is_empty() {
        return None;
    }
    let currency = Some(text("currencyCode"))
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| page_currency.to_owned());
    Some(RetailPrice {
        currency: currency.to_ascii_uppercase(),
        region: text("armRegionName"),
        service_name: text("serviceName"),
        service_family: text("serviceFamily"),
        product_name: text("productName"),
        sku_name: text("skuName"),
        arm_sku_name: text("armSkuName"),
        meter_id,
        meter_name: text("meterName"),
        unit_of_measure: text("unitOfMeasure"),
        unit_price: amount("unitPrice")?,
        retail_price: amount("retailPrice")?,
        tier_minimum_units: amount("tierMinimumUnits").unwrap_or_default(),
        price_type: text("type"),
        effective_start: date_time(item["effectiveStartDate"].as_str()?)?,
        is_primary_meter_region: item["isPrimaryMeterRegion"].as_bool().unwrap_or(true),
    })
}

/// RFC 3339, or a date-time without an offset (read as UTC).
fn date_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|d| d.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::str::FromStr;

    fn item() -> Value {
        json!({"currencyCode": "EUR", "tierMinimumUnits": 0.0, "retailPrice": 0.0864,
            "unitPrice": 0.0864, "armRegionName": "westeurope", "location": "EU West",
            "effectiveStartDate": "2021-06-01T00:00:00Z", "meterId": "m-1", "meterName": "D2s v3",
            "productName": "Virtual Machines DSv3 Series", "skuName": "D2s v3",
            "serviceName": "Virtual Machines", "serviceFamily": "Compute", "unitOfMeasure": "1 Hour",
            "type": "Consumption", "isPrimaryMeterRegion": true, "armSkuName": "Standard_D2s_v3"})
    }

    #[test]
    fn an_item_maps_to_an_exact_price() {
        let price = map_price(&item(), "USD").unwrap();
        assert_eq!(price.retail_price, Decimal::from_str("0.0864").unwrap());
        assert_eq!(price.currency, "EUR");
        assert_eq!(
            price.effective_start.to_rfc3339(),
            "2021-06-01T00:00:00+00:00"
        );
        assert_eq!(
            (price.price_type.as_str(), price.arm_sku_name.as_str()),
            ("Consumption", "Standard_D2s_v3")
        );
        assert!(price.is_primary_meter_region);
    }

    #[test]
    fn items_without_meter_price_or_date_are_skipped() {
        for key in ["meterId", "retailPrice", "unitPrice", "effectiveStartDate"] {
            let mut broken = item();
            broken.as_object_mut().unwrap().remove(key);
            assert_eq!(map_price(&broken, "EUR"), None, "{key}");
        }
        let mut bad_date = item();
        bad_date["effectiveStartDate"] = json!("soon");
        assert_eq!(map_price(&bad_date, "EUR"), None);
        let mut no_currency = item();
        no_currency.as_object_mut().unwrap().remove("currencyCode");
        no_currency["effectiveStartDate"] = json!("2021-06-01T00:00:00");
        let price = map_price(&no_currency, "eur").unwrap();
        assert_eq!(price.currency, "EUR");
        assert_eq!(price.tier_minimum_units, Decimal::ZERO);
    }

    #[test]
    fn an_empty_next_page_link_ends_paging() {
        let page: PricePage = serde_json::from_value(json!({"BillingCurrency": "USD",
            "CustomerEntityId": "Default", "CustomerEntityType": "Retail", "Items": [],
            "NextPageLink": null, "Count": 0}))
        .unwrap();
        assert_eq!(page.next_link(), None);
        let page: PricePage = serde_json::from_value(json!({"NextPageLink": " "})).unwrap();
        assert_eq!(page.next_link(), None);
    }
}
