//! The public Retail Prices API: no token, `NextPageLink` paging, the OData filter subset and
//! its case rules per api-version, currencies, errors, and prices that agree with the costs.

use azure_sim::{FaultConfig, SimConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;

use crate::support::{Sim, small};

fn prices_url(s: &Sim, params: &[(&str, &str)]) -> Url {
    let mut url = s.url("api/retail/prices");
    for (k, v) in params {
        url.query_pairs_mut().append_pair(k, v);
    }
    url
}

/// Every item of a query, following `NextPageLink`; `(items, pages)`.
async fn all_items(s: &Sim, mut url: Url) -> (Vec<Value>, usize) {
    let (mut items, mut pages) = (Vec::new(), 0);
    loop {
        let r = s.get_public(url).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let page = r.body["Items"].as_array().expect("Items");
        assert_eq!(r.body["Count"], json!(page.len()));
        assert_eq!(r.body["CustomerEntityType"], "Retail");
        items.extend(page.iter().cloned());
        pages += 1;
        match r.body["NextPageLink"].as_str() {
            Some(next) => url = Url::parse(next).expect("absolute NextPageLink"),
            None => return (items, pages),
        }
    }
}

const VM_FILTER: &str = "serviceName eq 'Virtual Machines' and armRegionName eq 'westeurope'";

#[tokio::test]
async fn prices_need_no_token_and_page_by_next_page_link_with_skip() {
    let s = Sim::start(SimConfig {
        prices_page_size: 50,
        ..small()
    })
    .await;
    let url = prices_url(
        &s,
        &[
            ("api-version", "2023-01-01-preview"),
            ("$filter", VM_FILTER),
        ],
    );
    let first = s.get_public(url.clone()).await;
    let next = first.body["NextPageLink"].as_str().expect("a next page");
    assert!(
        next.ends_with("&$skip=50") && next.contains("$filter=serviceName%20eq%20"),
        "{next}"
    );
    let (items, pages) = all_items(&s, url).await;
    // 21 sizes × (Linux, Windows) × (pay-as-you-go, Spot) + 2 reservations each.
    assert_eq!(items.len(), 21 * 6);
    assert_eq!(pages, items.len().div_ceil(50));
    let keys = [
        "currencyCode",
        "tierMinimumUnits",
        "retailPrice",
        "unitPrice",
        "armRegionName",
        "location",
        "effectiveStartDate",
        "meterId",
        "meterName",
        "productId",
        "skuId",
        "productName",
        "skuName",
        "serviceName",
        "serviceId",
        "serviceFamily",
        "unitOfMeasure",
        "type",
        "isPrimaryMeterRegion",
        "armSkuName",
    ];
    for item in &items {
        assert!(keys.iter().all(|k| item.get(*k).is_some()), "{item}");
    }
    assert!(
        items
            .iter()
            .any(|i| i["type"] == "Reservation" && i["reservationTerm"] == "1 Year")
    );
    assert!(
        items.iter().any(|i| i["savingsPlan"].is_array()),
        "the preview shows savings plans"
    );
    assert_eq!(s.handle.stats().requests.retail_prices, 1 + pages as u64);
}

#[tokio::test]
async fn filters_combine_with_and_or_and_parentheses_and_values_are_case_sensitive_from_2023() {
    let s = Sim::start(small()).await;
    let filter = "armRegionName eq 'eastus' and priceType eq 'Consumption' and \
                  (armSkuName eq 'Standard_D2s_v5' or armSkuName eq 'Standard_D4s_v5') and \
                  productName eq 'Virtual Machines Dsv5 Series' and skuName eq 'D2s v5'";
    let (items, _) = all_items(&s, prices_url(&s, &[("$filter", filter)])).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        (
            items[0]["retailPrice"].as_f64(),
            items[0]["unitOfMeasure"].as_str()
        ),
        (Some(0.096), Some("1 Hour"))
    );
    let lower = "serviceName eq 'virtual machines' and armRegionName eq 'westeurope'";
    let (new, _) = all_items(
        &s,
        prices_url(
            &s,
            &[("api-version", "2023-01-01-preview"), ("$filter", lower)],
        ),
    )
    .await;
    assert!(
        new.is_empty(),
        "2023-01-01-preview compares values case-sensitively"
    );
    let (old, _) = all_items(
        &s,
        prices_url(&s, &[("api-version", "2021-10-01"), ("$filter", lower)]),
    )
    .await;
    assert_eq!(old.len(), 21 * 6, "earlier versions do not");
    for bad in [
        "armSkuName in ('Standard_D2s_v5')",
        "contains(productName, 'Windows')",
        "serviceName ne 'Storage'",
        "(serviceName eq 'Storage'",
    ] {
        let r = s.get_public(prices_url(&s, &[("$filter", bad)])).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            r.body,
            json!({"Error": {"Code": "BadRequest", "Message": "Invalid OData parameters supplied"}})
        );
    }
}

#[tokio::test]
async fn every_billing_currency_is_served_and_others_are_refused() {
    let s = Sim::start(small()).await;
    let filter = "serviceName eq 'Storage' and armRegionName eq 'westeurope' and skuName eq 'P10 LRS' and meterName eq 'P10 LRS Disk'";
    let (usd, _) = all_items(&s, prices_url(&s, &[("$filter", filter)])).await;
    let (eur, _) = all_items(
        &s,
        prices_url(&s, &[("currencyCode", "'EUR'"), ("$filter", filter)]),
    )
    .await;
    assert_eq!((usd.len(), eur.len()), (1, 1));
    assert_eq!(eur[0]["currencyCode"], "EUR");
    let ratio = eur[0]["retailPrice"].as_f64().unwrap_or_default()
        / usd[0]["retailPrice"].as_f64().unwrap_or(1.0);
    assert!((ratio * azure_sim::catalog::EUR_TO_USD - 1.0).abs() < 1e-9);
    let yen = s
        .get_public(prices_url(&s, &[("currencyCode", "'JPY'")]))
        .await;
    assert_eq!(yen.status, StatusCode::BAD_REQUEST);
    let unknown = s
        .get_public(prices_url(&s, &[("api-version", "2099-01-01")]))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_prices_api_is_subject_to_injected_faults() {
    let s = Sim::start(small()).await;
    s.handle
        .set_faults(FaultConfig {
            rate_5xx: 1.0,
            ..FaultConfig::default()
        })
        .expect("valid faults");
    let r = s.get_public(prices_url(&s, &[])).await;
    assert!(r.status.is_server_error(), "{}", r.status);
    assert_eq!(s.handle.stats().faults.server_error, 1);
}
