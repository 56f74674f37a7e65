//! Where Azure is: the ARM endpoint and its token scope, the Monitor data plane template and
//! scope, and the public Retail Prices endpoint, as configured.

use url::Url;

use crate::azure::config::AzureConfig;

/// The public Retail Prices endpoint.
pub const DEFAULT_RETAIL_PRICES_URL: &str = "https://prices.azure.com/api/retail/prices";

/// Where Azure is: ARM, the Monitor data plane template (`{region}` replaced), the public
/// Retail Prices endpoint, and scopes.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub arm: Url,
    pub monitor: String,
    pub arm_scope: String,
    pub monitor_scope: String,
    /// The Retail Prices endpoint (no query): requests and `NextPageLink`s of
    /// [`super::Api::RetailPrices`] must have exactly its origin and path. `None` only when the
    /// default could not be parsed (it always can): price queries then fail.
    pub retail_prices: Option<Url>,
}

impl Endpoints {
    /// Endpoints with the ARM scope derived from the ARM endpoint (`{arm}/.default`) and the
    /// public Retail Prices endpoint.
    pub fn new(arm: Url, monitor: impl Into<String>, monitor_scope: impl Into<String>) -> Self {
        let arm_scope = format!("{}/.default", arm.as_str().trim_end_matches('/'));
        Self {
            arm,
            monitor: monitor.into(),
            arm_scope,
            monitor_scope: monitor_scope.into(),
            retail_prices: Url::parse(DEFAULT_RETAIL_PRICES_URL).ok(),
        }
    }

    /// The same endpoints with another Retail Prices endpoint (its query, if any, dropped).
    pub fn with_retail_prices(mut self, mut url: Url) -> Self {
        url.set_query(None);
        url.set_fragment(None);
        self.retail_prices = Some(url);
        self
    }

    /// The endpoints of `config`.
    pub fn from_config(config: &AzureConfig) -> Self {
        let mut endpoints = Self::new(
            config.arm_endpoint.clone(),
            config.monitor_endpoint.clone(),
            config.monitor_scope.clone(),
        );
        if let Some(scope) = config
            .arm_scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            endpoints.arm_scope = scope.to_owned();
        }
        endpoints.with_retail_prices(config.retail_prices_url.clone())
    }
}
