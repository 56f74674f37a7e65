//! The Azure Retail Prices API: public list prices per region, SKU and meter.
//!
//! `GET {AZCOPS_AZURE_RETAIL_PRICES_URL}?api-version=2023-01-01-preview&currencyCode='EUR'
//! &$filter=armRegionName eq '…' and serviceName eq '…' and priceType eq 'Consumption'
//! and (armSkuName eq '…' or …)` ([`filter`]; a long SKU list becomes several requests).
//! The API is unauthenticated: the client sends no `Authorization` header to it
//! ([`crate::azure::client::Api::RetailPrices`]) but still retries 5xx and honours 429s.
//!
//! **Paging.** An answer holds at most 1,000 items (the documented page size; nothing here
//! relies on it) and a `NextPageLink` to the next page. A link is followed only when it has
//! exactly the configured endpoint's scheme, host, port and path (Azure writes the default
//! port out, `https://prices.azure.com:443/…`); any other link fails the query rather than
//! making AzCops fetch an address an answer chose. A link seen before, or more than
//! [`MAX_PAGES`] pages, also fails it: paging would not end.
//!
//! Items in another currency than asked for fail the query (a cache would otherwise mix
//! currencies); items without a meter, price or start date are skipped and counted.

pub mod filter;
pub mod wire;

use std::collections::HashSet;

use url::Url;

pub use filter::{MAX_SKUS_PER_REQUEST, PriceQuery, literal};
pub use wire::{PricePage, RetailPrice, map_price};

use super::client::{Api, AzureClient, CallContext};
use super::error::{AzureError, one_line};

/// The api-version used (the preview is the current one, and the only one with savings plans).
pub const API_VERSION: &str = "2023-01-01-preview";

/// The most pages one request's paging may take (a million prices).
pub const MAX_PAGES: usize = 1000;

/// Why prices could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PriceError {
    /// The request failed (HTTP, throttling, timeout, an unreadable page, …).
    #[error("Retail Prices: {0}")]
    Azure(#[from] AzureError),
    /// The query cannot be turned into a safe filter.
    #[error("Retail Prices query: {0}")]
    InvalidQuery(String),
    /// A `NextPageLink` is not a URL of the configured endpoint.
    #[error("Retail Prices: NextPageLink `{0}` is not under the configured endpoint")]
    ForeignLink(String),
    /// A `NextPageLink` came back a second time.
    #[error("Retail Prices: NextPageLink `{0}` was returned twice")]
    RepeatedLink(String),
    /// Paging went on for more than [`MAX_PAGES`] pages.
    #[error("Retail Prices: more than {MAX_PAGES} pages")]
    TooManyPages,
    /// Items came in another currency than the one asked for.
    #[error("Retail Prices: asked for {expected}, got {found}")]
    CurrencyMismatch { expected: String, found: String },
}

impl PriceError {
    /// True when asking again later may succeed (transient HTTP failures, throttling).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Azure(e) => e.is_retryable(),
            Self::InvalidQuery(_)
            | Self::ForeignLink(_)
            | Self::RepeatedLink(_)
            | Self::TooManyPages
            | Self::CurrencyMismatch { .. } => false,
        }
    }
}

/// The prices `query` selects, every page of every chunk, in the API's order.
#[tracing::instrument(skip_all, err, fields(azure.region = %query.region, azure.service = %query.service_name, skus = query.arm_sku_names.len()))]
pub async fn query_prices(
    client: &AzureClient,
    ctx: &CallContext,
    query: &PriceQuery,
) -> Result<Vec<RetailPrice>, PriceError> {
    let currency = query.currency_code()?;
    let mut prices = Vec::new();
    for filter in query.filters()? {
        prices.extend(query_filter(client, ctx, &currency, &filter).await?);
    }
    tracing::debug!(prices = prices.len(), "retail prices read");
    Ok(prices)
}

/// The first page's URL of one filter.
pub fn prices_url(client: &AzureClient, currency: &str, filter: &str) -> Result<Url, PriceError> {
    let currency = format!("'{currency}'");
    Ok(client.retail_prices_url(&[
        ("api-version", API_VERSION),
        ("currencyCode", currency.as_str()),
        ("$filter", filter),
    ])?)
}

async fn query_filter(
    client: &AzureClient,
    ctx: &CallContext,
    currency: &str,
    filter: &str,
) -> Result<Vec<RetailPrice>, PriceError> {
    let mut url = prices_url(client, currency, filter)?;
    let mut seen = HashSet::from([url.to_string()]);
    let (mut prices, mut skipped) = (Vec::new(), 0usize);
    loop {
        let page: PricePage = client.get(ctx, Api::RetailPrices, url).await?;
        let page_currency = page.billing_currency.as_deref().unwrap_or(currency);
        for item in &page.items {
            match map_price(item, page_currency) {
                Some(price) if !price.currency.eq_ignore_ascii_case(currency) => {
                    return Err(PriceError::CurrencyMismatch {
                        expected: currency.to_owned(),
                        found: one_line(&price.currency, 10),
                    });
                }
                Some(price) => prices.push(price),
                None => skipped += 1,
            }
        }
        let Some(link) = page.next_link() else { break };
        url = next_url(client, link, &mut seen)?;
    }
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "retail price items without meter, price or start date were skipped"
        );
    }
    Ok(prices)
}

/// The URL of `link` when it may be followed: under the configured endpoint, not seen
/// before, within [`MAX_PAGES`].
fn next_url(
    client: &AzureClient,
    link: &str,
    seen: &mut HashSet<String>,
) -> Result<Url, PriceError> {
    let shown = || one_line(link, 300);
    let url = Url::parse(link).map_err(|_| PriceError::ForeignLink(shown()))?;
    if !client.is_retail_prices_url(&url) {
        return Err(PriceError::ForeignLink(shown()));
    }
    if !seen.insert(url.to_string()) {
        return Err(PriceError::RepeatedLink(shown()));
    }
    if seen.len() > MAX_PAGES {
        return Err(PriceError::TooManyPages);
    }
    Ok(url)
}
