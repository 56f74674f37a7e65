//! Azure Cost Management: the daily actual and amortized cost of a subscription (or of a
//! configured billing scope, filtered to the subscription), per resource group, service and
//! meter category; and each resource's cost over a window.
//!
//! `POST {arm}/{scope}/providers/Microsoft.CostManagement/query?api-version=2023-11-01` with
//! `timeframe: Custom`, daily granularity and the `Cost` sum ([`request`]). `ActualCost` and
//! `AmortizedCost` are queried concurrently and merged by natural key ([`merge`]). Pages are
//! followed by POSTing the same body to `properties.nextLink` (or the top-level `nextLink`)
//! until there is none; `204 No Content` means no rows. Columns are read by name ([`parse`]).
//! Every query asks for pages of [`PAGE_ROWS`] rows (`$top`).
//!
//! **Grouping.** The API accepts at most two groupings. AzCops groups by `ResourceGroupName`
//! and `ServiceName` and records the service name as the meter category: Cost Management's
//! `ServiceName` dimension *is* the meter category of the usage records for nearly every
//! meter, and a third dimension would need a second query per cost type, which doubles the
//! query units (the per-tenant budget of 600 an hour is what limits how many subscriptions an
//! hourly run can cover) and still could not be joined back exactly — two differently grouped
//! answers share no key below the resource group. Should an answer carry a `MeterCategory`
//! column (a different query, a simulator), it is used. The natural key of a [`CostRow`] is
//! therefore (date, resource group, service name, meter category), consistently.
//!
//! **Query units.** A query costs one unit per calendar month its period touches
//! ([`query_units`]); ranges are queried a month at a time ([`DateRange::months`]), so a
//! backfill of any length fits the budget and each request costs one unit per page.
//!
//! **Per resource.** [`collect_by_resource`] ([`by_resource`]) sums each resource's cost per
//! service over a window ([`DateRange::resource_cost_window`]: 30 complete days ending three
//! days ago) with `granularity: None`, grouped by `ResourceId` and `ServiceName`; charges
//! without a resource are kept with an empty id. [`DateRange::restated`] names the recent
//! days whose daily costs Azure still restates, for collecting them again.
//!
//! **Daily, for a few resources.** [`daily_by_resource`] reads the daily amortized cost of the
//! resources whose recommendations were carried out, around the change, for realised savings.

pub mod by_resource;
pub mod daily_by_resource;
pub mod merge;
pub mod parse;
pub mod request;

use chrono::{NaiveDate, Utc};
use futures::TryStreamExt;
use url::Url;

pub use by_resource::{
    ResourceCostEntry, ResourceCostRow, collect_by_resource, merge_by_resource, parse_resource_rows,
};
pub use merge::{CostRow, merge};
pub use parse::{CostEntry, ParseError, QueryResult, parse_rows, parse_usage_date};
pub use request::{
    CostType, DateRange, query_definition, query_definition_by_resource,
    query_definition_daily_for_resources, query_units,
};

use super::client::{AzureClient, CallContext};
use super::error::AzureError;
use super::paging::PostPaging;

/// The api-version used.
pub const API_VERSION: &str = "2023-11-01";

/// Rows asked for per page (`$top`). Without it the query answers 1,000 rows a page; it
/// accepts `$top` (a Cost Management engineer in Azure/azure-sdk-for-go#8319, and the
/// `nextLink` of a `$top=2` query keeps it: Azure/azure-rest-api-specs#23405) and users of
/// newer api-versions see pages of 5,000 rows (Azure/azure-sdk-for-python#30603, #39242).
/// Every page is charged the query's units, so a 2,000-resource subscription's per-resource
/// window costs a third of the units it would in 1,000-row pages.
pub const PAGE_ROWS: usize = 5000;

/// `POST {arm}/{scope}/providers/Microsoft.CostManagement/query` with the api-version and
/// [`PAGE_ROWS`].
fn query_url(client: &AzureClient, scope: &CostScope) -> Result<Url, AzureError> {
    let path = format!("/{}/providers/Microsoft.CostManagement/query", scope.path);
    let top = PAGE_ROWS.to_string();
    client.arm_url(&path, &[("api-version", API_VERSION), ("$top", &top)])
}

/// Why a cost collection failed.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// The request failed (HTTP, throttling, query budget, token, …).
    #[error("Cost Management {cost_type:?} query: {source}")]
    Azure {
        cost_type: CostType,
        #[source]
        source: AzureError,
    },
    /// An answer could not be read.
    #[error("Cost Management {cost_type:?} answer: {source}")]
    Parse {
        cost_type: CostType,
        #[source]
        source: ParseError,
    },
    /// The scope is not one Cost Management knows.
    #[error("invalid Cost Management scope: {0}")]
    InvalidScope(String),
    /// `to` is before `from`.
    #[error("invalid date range {from}..={to}")]
    InvalidRange { from: NaiveDate, to: NaiveDate },
}

impl CostError {
    /// True when running the collection again later may succeed (transient Azure failures,
    /// throttling, an exhausted query budget).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Azure { source, .. } => source.is_retryable(),
            Self::Parse { .. } | Self::InvalidScope(_) | Self::InvalidRange { .. } => false,
        }
    }
}

/// Where costs are queried: a subscription, or a billing scope (billing account, profile,
/// invoice section, customer, department, enrollment account, management group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostScope {
    path: String,
    /// The subscription to filter a wider scope to.
    subscription_filter: Option<String>,
}

impl CostScope {
    /// `subscriptions/{id}`.
    pub fn subscription(subscription_id: &str) -> Self {
        Self {
            path: format!("subscriptions/{subscription_id}"),
            subscription_filter: None,
        }
    }

    /// The configured `billing_scope` of `subscription_id` (a path like
    /// `providers/Microsoft.Billing/billingAccounts/{id}/customers/{id}`, with or without a
    /// leading `/`), or the subscription itself when there is none. A wider scope is
    /// filtered to the subscription.
    pub fn for_subscription(
        subscription_id: &str,
        billing_scope: Option<&str>,
    ) -> Result<Self, CostError> {
        let Some(scope) = billing_scope.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Self::subscription(subscription_id));
        };
        let path = scope.trim_matches('/').to_owned();
        let lower = path.to_ascii_lowercase();
        let known = [
            "subscriptions/",
            "providers/microsoft.billing/",
            "providers/microsoft.management/managementgroups/",
        ];
        let safe = !path.contains(['?', '#', '\\'])
            && !path
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..");
        if !safe || !known.iter().any(|k| lower.starts_with(k)) {
            return Err(CostError::InvalidScope(path));
        }
        let same = lower == format!("subscriptions/{}", subscription_id.to_ascii_lowercase());
        Ok(Self {
            path,
            subscription_filter: (!same).then(|| subscription_id.to_owned()),
        })
    }

    /// The scope path, without a leading `/`.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// Yesterday's (UTC) costs of `scope`.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = ctx.subscription_id.as_deref(), azure.scope = scope.path()))]
pub async fn collect(
    client: &AzureClient,
    ctx: &CallContext,
    scope: &CostScope,
) -> Result<Vec<CostRow>, CostError> {
    let range = DateRange::yesterday(Utc::now());
    collect_months(client, ctx, scope, range).await
}

/// The costs of `scope` for the days `from..=to` (UTC), queried a calendar month at a time.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = ctx.subscription_id.as_deref(), azure.scope = scope.path(), from = %from, to = %to))]
pub async fn collect_range(
    client: &AzureClient,
    ctx: &CallContext,
    scope: &CostScope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<CostRow>, CostError> {
    let range = DateRange::new(from, to).ok_or(CostError::InvalidRange { from, to })?;
    collect_months(client, ctx, scope, range).await
}

async fn collect_months(
    client: &AzureClient,
    ctx: &CallContext,
    scope: &CostScope,
    range: DateRange,
) -> Result<Vec<CostRow>, CostError> {
    let mut rows = Vec::new();
    for month in range.months() {
        let (actual, amortized) = futures::try_join!(
            query(client, ctx, scope, CostType::ActualCost, month),
            query(client, ctx, scope, CostType::AmortizedCost, month),
        )?;
        rows.extend(merge(actual, amortized));
    }
    Ok(rows)
}

/// Every row of one cost type over `range` (within one month), all pages.
pub async fn query(
    client: &AzureClient,
    ctx: &CallContext,
    scope: &CostScope,
    cost_type: CostType,
    range: DateRange,
) -> Result<Vec<CostEntry>, CostError> {
    let azure = |source| CostError::Azure { cost_type, source };
    let url = query_url(client, scope).map_err(azure)?;
    let body = query_definition(cost_type, range, scope.subscription_filter.as_deref());
    let units = query_units(range.from, range.to);
    let next: fn(&Option<QueryResult>) -> Option<String> =
        |page| page.as_ref().and_then(QueryResult::next_link);
    let pages: Vec<Option<QueryResult>> = client
        .post_pages(ctx, PostPaging::cost_query(units), url, &body, next)
        .try_collect()
        .await
        .map_err(azure)?;
    let mut entries = Vec::new();
    for page in pages.iter().flatten() {
        let rows = parse_rows(page, range.from)
            .map_err(|source| CostError::Parse { cost_type, source })?;
        entries.extend(rows);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_is_its_own_scope_unfiltered() {
        let scope = CostScope::for_subscription("s1", None).unwrap();
        assert_eq!(scope.path(), "subscriptions/s1");
        assert_eq!(scope.subscription_filter, None);
        let same = CostScope::for_subscription("S1", Some("/subscriptions/s1/")).unwrap();
        assert_eq!(same.subscription_filter, None);
    }

    #[test]
    fn a_billing_scope_is_filtered_to_the_subscription() {
        let scope = CostScope::for_subscription(
            "s1",
            Some("/providers/Microsoft.Billing/billingAccounts/42/customers/7"),
        )
        .unwrap();
        assert_eq!(
            scope.path(),
            "providers/Microsoft.Billing/billingAccounts/42/customers/7"
        );
        assert_eq!(scope.subscription_filter.as_deref(), Some("s1"));
    }

    #[test]
    fn unknown_or_unsafe_scopes_are_refused() {
        for bad in [
            "tenants/x",
            "subscriptions/s1/../../x",
            "providers/Microsoft.Billing/a?b=c",
            "subscriptions//x",
        ] {
            let err = CostScope::for_subscription("s1", Some(bad)).unwrap_err();
            assert!(!err.is_retryable(), "{bad}");
        }
    }
}
