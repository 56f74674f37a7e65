//! The Azure Retail Prices API: `GET /api/retail/prices`, public (no token), with an optional
//! `api-version` (`2021-10-01-preview`, `2021-10-01`, `2023-01-01-preview`), `currencyCode`
//! (`'EUR'` with or without quotes; USD by default), an OData `$filter` ([`filter`]) and `$skip`.
//! The answer is `{BillingCurrency, CustomerEntityId, CustomerEntityType, Items, NextPageLink,
//! Count}`, 1,000 items a page (configurable), `NextPageLink` the same request with `$skip`
//! advanced. Prices are the catalogue's, so they agree with the costs the simulator bills.
//! A filter outside the subset is a `400` with the service's own error shape,
//! `{"Error":{"Code","Message"}}`.

pub mod filter;
pub mod items;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::arm::ArmRequest;
use super::catalog::per_usd;
use super::server::Shared;

/// The api-versions the service accepts (none is accepted too).
pub const API_VERSIONS: [&str; 3] = ["2021-10-01-preview", "2021-10-01", "2023-01-01-preview"];

/// One currency's price list, with or without savings plans.
type PriceList = Arc<Vec<Value>>;

/// The price lists already built, by currency and whether savings plans are shown.
#[derive(Debug, Default)]
pub struct PriceLists(Mutex<HashMap<(String, bool), PriceList>>);

impl PriceLists {
    fn get(&self, currency: &str, savings_plans: bool) -> Option<PriceList> {
        let rate = per_usd(currency)?;
        let key = (currency.to_owned(), savings_plans);
        let mut lists = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let list = lists
            .entry(key)
            .or_insert_with(|| Arc::new(items::price_list(currency, rate, savings_plans)));
        Some(list.clone())
    }
}

fn error(message: &str) -> Response {
    let body = json!({"Error": {"Code": "BadRequest", "Message": message}});
    (StatusCode::BAD_REQUEST, Json(body)).into_response()
}

/// Handles one page.
pub fn list(state: &Shared, request: &ArmRequest) -> Response {
    let version = request.param("api-version");
    if version.is_some_and(|v| !API_VERSIONS.contains(&v)) {
        return error("Invalid api-version supplied");
    }
    let currency = request
        .param("currencyCode")
        .unwrap_or("USD")
        .trim_matches('\'')
        .to_ascii_uppercase();
    let case_sensitive = version.is_some_and(|v| v >= "2023-01-01");
    let filter = match request.param("$filter").filter(|f| !f.trim().is_empty()) {
        Some(text) => match filter::parse(text) {
            Some(f) => Some(f),
            None => return error("Invalid OData parameters supplied"),
        },
        None => None,
    };
    let Ok(skip) = request.param("$skip").unwrap_or("0").parse::<usize>() else {
        return error("Invalid OData parameters supplied");
    };
    let primary_only = request
        .param("meterRegion")
        .is_some_and(|m| m.trim_matches('\'').eq_ignore_ascii_case("primary"));
    let savings_plans = version == Some("2023-01-01-preview");
    let Some(list) = state.price_lists.get(&currency, savings_plans) else {
        return error("Invalid currency code supplied");
    };
    let matching: Vec<&Value> = list
        .iter()
        .filter(|i| !primary_only || i["isPrimaryMeterRegion"] == true)
        .filter(|i| filter.as_ref().is_none_or(|f| f.matches(i, case_sensitive)))
        .collect();
    let size = state.config.prices_page_size.max(1);
    let page: Vec<&Value> = matching.iter().skip(skip).take(size).copied().collect();
    let next =
        (skip + page.len() < matching.len()).then(|| next_link(state, request, skip + page.len()));
    Json(json!({
        "BillingCurrency": currency,
        "CustomerEntityId": "Default",
        "CustomerEntityType": "Retail",
        "Items": page,
        "NextPageLink": next,
        "Count": page.len(),
    }))
    .into_response()
}

/// The request's own URL with `$skip` set to `skip` (absolute, on the simulator's base URL;
/// `$` kept literal and spaces as `%20`, as the service writes its links).
fn next_link(state: &Shared, request: &ArmRequest, skip: usize) -> String {
    let encode = |v: &str| -> String {
        url::form_urlencoded::byte_serialize(v.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let mut pairs: Vec<String> = request
        .query
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("$skip"))
        .map(|(k, v)| {
            let key = match k.strip_prefix('$') {
                Some(rest) => format!("${}", encode(rest)),
                None => encode(k),
            };
            format!("{key}={}", encode(v))
        })
        .collect();
    pairs.push(format!("$skip={skip}"));
    format!(
        "{}{}?{}",
        state.base_url.as_str().trim_end_matches('/'),
        request.path,
        pairs.join("&")
    )
}
