//! Azure Advisor: the cost recommendations of a subscription.
//!
//! `GET {arm}/subscriptions/{sub}/providers/Microsoft.Advisor/recommendations
//! ?api-version=2023-01-01&$filter=Category eq 'Cost'`, following `nextLink` until it is
//! absent (a page may be empty and still link on). Each item is mapped by [`mapper`]: monthly
//! savings from `extendedProperties.savingsAmount`, else `annualSavingsAmount / 12`, else an
//! estimate from the impact, with the path recorded in
//! [`AdvisorRecommendation::savings_source`]; confidence from the impact. Items of another
//! category (should the filter be ignored) are dropped.

pub mod mapper;

use futures::{Stream, TryStreamExt};

pub use mapper::{
    AdvisorRecommendation, RecommendationWire, SavingsSource, confidence, map_recommendation,
    monthly_savings,
};

use super::client::{Api, AzureClient, CallContext};
use super::error::AzureError;

/// The api-version used.
pub const API_VERSION: &str = "2023-01-01";

/// The category AzCops collects.
pub const COST_FILTER: &str = "Category eq 'Cost'";

/// Why an Advisor collection failed.
#[derive(Debug, thiserror::Error)]
pub enum AdvisorError {
    /// The request failed (HTTP, throttling, token, an unreadable page, …).
    #[error("Advisor recommendations: {0}")]
    Azure(#[from] AzureError),
    /// The subscription id cannot be put in a URL path.
    #[error("invalid subscription id `{0}`")]
    InvalidSubscription(String),
}

impl AdvisorError {
    /// True when running the collection again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Azure(e) => e.is_retryable(),
            Self::InvalidSubscription(_) => false,
        }
    }
}

/// The first page's URL.
pub fn recommendations_url(
    client: &AzureClient,
    subscription_id: &str,
) -> Result<url::Url, AdvisorError> {
    let valid = !subscription_id.is_empty()
        && subscription_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        return Err(AdvisorError::InvalidSubscription(
            subscription_id.to_owned(),
        ));
    }
    let path =
        format!("/subscriptions/{subscription_id}/providers/Microsoft.Advisor/recommendations");
    Ok(client.arm_url(
        &path,
        &[("api-version", API_VERSION), ("$filter", COST_FILTER)],
    )?)
}

/// The cost recommendations of `subscription_id`, one mapped page at a time. Failures are
/// not logged here: the consumer reports them.
pub fn recommendation_pages<'a>(
    client: &'a AzureClient,
    ctx: &'a CallContext,
    subscription_id: &str,
) -> impl Stream<Item = Result<Vec<AdvisorRecommendation>, AdvisorError>> + 'a {
    let first = recommendations_url(client, subscription_id);
    futures::stream::once(async move { first })
        .map_ok(move |url| {
            client
                .get_pages::<RecommendationWire>(ctx, Api::Advisor, url)
                .map_err(AdvisorError::from)
        })
        .try_flatten()
        .map_ok(map_page)
}

/// Maps a page, keeping the `Cost` category only.
pub fn map_page(items: Vec<RecommendationWire>) -> Vec<AdvisorRecommendation> {
    items
        .into_iter()
        .map(map_recommendation)
        .filter(|r| r.category.eq_ignore_ascii_case("Cost"))
        .collect()
}

/// Every cost recommendation of `subscription_id`.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = subscription_id))]
pub async fn collect(
    client: &AzureClient,
    ctx: &CallContext,
    subscription_id: &str,
) -> Result<Vec<AdvisorRecommendation>, AdvisorError> {
    let pages: Vec<Vec<AdvisorRecommendation>> = recommendation_pages(client, ctx, subscription_id)
        .try_collect()
        .await?;
    let recommendations: Vec<_> = pages.into_iter().flatten().collect();
    tracing::debug!(
        count = recommendations.len(),
        "Advisor cost recommendations collected"
    );
    Ok(recommendations)
}
