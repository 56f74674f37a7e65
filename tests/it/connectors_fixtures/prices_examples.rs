//! Retail Prices: the documented answer (see SOURCES.md: reproduced from Microsoft Learn, there
//! is no spec example) read into exact prices, its `NextPageLink` accepted for the default
//! endpoint.

use std::str::FromStr;

use azcops::azure::client::{Api, DEFAULT_RETAIL_PRICES_URL};
use azcops::azure::retail_prices::{PricePage, RetailPrice, map_price};
use chrono::{TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use url::Url;

use super::body;

pub(super) fn prices_vm(example: &Value) {
    assert!(!Api::RetailPrices.authenticated());
    let page: PricePage = serde_json::from_value(body(example).clone()).expect("price page");
    assert_eq!(page.billing_currency.as_deref(), Some("USD"));
    assert_eq!(page.count, Some(2));
    let prices: Vec<RetailPrice> = page
        .items
        .iter()
        .map(|item| map_price(item, "USD").expect("a complete price"))
        .collect();
    let spot = &prices[0];
    assert_eq!(
        spot.retail_price,
        Decimal::from_str("0.176346").expect("decimal")
    );
    assert_eq!(spot.unit_price, spot.retail_price);
    assert_eq!(
        (
            spot.region.as_str(),
            spot.arm_sku_name.as_str(),
            spot.sku_name.as_str()
        ),
        ("westeurope", "Standard_D14", "D14 Spot")
    );
    assert_eq!(
        (
            spot.meter_id.as_str(),
            spot.meter_name.as_str(),
            spot.unit_of_measure.as_str()
        ),
        (
            "000009d0-057f-5f2b-b7e9-9e26add324a8",
            "D14/DS14 Spot",
            "1 Hour"
        )
    );
    assert_eq!(
        (
            spot.service_name.as_str(),
            spot.service_family.as_str(),
            spot.price_type.as_str()
        ),
        ("Virtual Machines", "Compute", "Consumption")
    );
    assert_eq!(
        spot.effective_start,
        Utc.with_ymd_and_hms(2020, 8, 1, 0, 0, 0).unwrap()
    );
    assert_eq!(spot.tier_minimum_units, Decimal::ZERO);
    assert!(spot.is_primary_meter_region && spot.currency == "USD");
    // The savings plan rates are not the pay-as-you-go price.
    let plan = &prices[1];
    assert_eq!(
        plan.retail_price,
        Decimal::from_str("0.6").expect("decimal")
    );
    assert_eq!(plan.region, "southindia");
    // Azure writes the default port out; the link is still the configured endpoint's.
    let link = Url::parse(page.next_link().expect("a next page")).expect("url");
    let endpoint = Url::parse(DEFAULT_RETAIL_PRICES_URL).expect("url");
    assert_eq!(link.origin(), endpoint.origin());
    assert_eq!(link.path(), endpoint.path());
    assert!(link.query().is_some_and(|q| q.contains("$skip=1000")));
}
