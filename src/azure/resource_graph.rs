//! Azure Resource Graph: the inventory of one or many subscriptions, with `properties` and each
//! resource's group's tags (joined from the `ResourceContainers` table in the same query, see
//! [`containers`]), and the waste and rightsizing candidates of the KQL library ([`queries`]).
//!
//! `POST {arm}/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01` with
//! [`QueryRequest`]: 1,000 rows a page (`options.$top`), the next page asked for by re-sending
//! the same query and subscriptions with `options.$skipToken` until the answer has none. One
//! request may name many subscriptions (Resource Graph's quota is per query, not per
//! subscription), so callers can batch them.
//!
//! Pages are mapped ([`mapper`]) as they arrive: [`inventory_pages`] is a stream of mapped
//! pages, so a large estate can be written page by page in bounded memory;
//! [`collect_inventory`] gathers them all. A result that Resource Graph reports as truncated
//! without a `$skipToken` is an error rather than a silently short inventory (a short
//! inventory would mark live resources deleted).

pub mod containers;
pub mod mapper;
pub mod queries;
pub mod wire;

use futures::{Stream, StreamExt, TryStreamExt, stream};

pub use containers::{Container, ContainerKind};
pub use mapper::{Candidate, Resource, RowError, coerce_tags};
pub use queries::NamedQuery;
pub use wire::{PAGE_SIZE, QueryRequest, QueryResponse};

use super::client::{Api, AzureClient, CallContext};
use super::error::AzureError;

/// The api-version used.
pub const API_VERSION: &str = "2022-10-01";

/// Why a Resource Graph collection failed.
#[derive(Debug, thiserror::Error)]
pub enum ResourceGraphError {
    /// The request failed (HTTP, throttling, token, …).
    #[error("Resource Graph query `{query}`: {source}")]
    Azure {
        query: &'static str,
        #[source]
        source: AzureError,
    },
    /// A row could not be mapped.
    #[error("Resource Graph query `{query}`: {source}")]
    Row {
        query: &'static str,
        #[source]
        source: RowError,
    },
    /// Resource Graph cut the result short and gave no `$skipToken` to continue.
    #[error("Resource Graph query `{query}`: result truncated without a $skipToken")]
    Truncated { query: &'static str },
    /// The same `$skipToken` came back twice: paging would never end.
    #[error("Resource Graph query `{query}`: the same $skipToken was returned twice")]
    RepeatedSkipToken { query: &'static str },
}

impl ResourceGraphError {
    /// True when running the collection again later may succeed (transient Azure failures).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Azure { source, .. } => source.is_retryable(),
            Self::Row { .. } | Self::Truncated { .. } | Self::RepeatedSkipToken { .. } => false,
        }
    }
}

/// The rows of one library query.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CandidateSet {
    /// The query's name in the library (`unattached_disks`, `vms`, …).
    pub name: &'static str,
    pub candidates: Vec<Candidate>,
}

/// The subscriptions of a query for logs: the id when there is one, else how many (a long
/// list would swamp the log line).
fn scope_label(subscriptions: &[String]) -> String {
    match subscriptions {
        [one] => one.clone(),
        many => format!("{} subscriptions", many.len()),
    }
}

/// The query endpoint.
pub fn resources_url(client: &AzureClient) -> Result<url::Url, AzureError> {
    client.arm_url(
        "/providers/Microsoft.ResourceGraph/resources",
        &[("api-version", API_VERSION)],
    )
}

/// The raw pages of `query` over `subscriptions`, requested one after the other as the stream
/// is polled. Failures are not logged here: the consumer reports them.
pub fn query_pages<'a>(
    client: &'a AzureClient,
    ctx: &'a CallContext,
    query: NamedQuery,
    subscriptions: &[String],
) -> impl Stream<Item = Result<QueryResponse, ResourceGraphError>> + 'a {
    let first = QueryRequest::new(query.kql, subscriptions);
    stream::try_unfold(Some(first), move |state| async move {
        let Some(request) = state else {
            return Ok(None);
        };
        let page = fetch_page(client, ctx, query.name, &request).await?;
        let next = next_request(query.name, &request, &page)?;
        Ok(Some((page, next)))
    })
}

async fn fetch_page(
    client: &AzureClient,
    ctx: &CallContext,
    name: &'static str,
    request: &QueryRequest,
) -> Result<QueryResponse, ResourceGraphError> {
    let azure = |source| ResourceGraphError::Azure {
        query: name,
        source,
    };
    let url = resources_url(client).map_err(azure)?;
    client
        .post(ctx, Api::ResourceGraph, url, request)
        .await
        .map_err(azure)
}

/// The request of the page after `page`, or `None` at the end.
fn next_request(
    name: &'static str,
    request: &QueryRequest,
    page: &QueryResponse,
) -> Result<Option<QueryRequest>, ResourceGraphError> {
    match page.next_token() {
        Some(token) if request.options.skip_token.as_deref() == Some(token) => {
            Err(ResourceGraphError::RepeatedSkipToken { query: name })
        }
        Some(token) => Ok(Some(request.next_page(token))),
        None if page.truncated() => Err(ResourceGraphError::Truncated { query: name }),
        None => Ok(None),
    }
}

/// Maps the rows of one page.
pub fn map_page(
    name: &'static str,
    page: &QueryResponse,
) -> Result<Vec<Resource>, ResourceGraphError> {
    page.data
        .iter()
        .enumerate()
        .map(|(index, row)| mapper::map_row(index, row))
        .collect::<Result<_, _>>()
        .map_err(|source| ResourceGraphError::Row {
            query: name,
            source,
        })
}

/// Maps the rows of one page of a candidate query.
pub fn map_candidate_page(
    name: &'static str,
    page: &QueryResponse,
) -> Result<Vec<Candidate>, ResourceGraphError> {
    page.data
        .iter()
        .enumerate()
        .map(|(index, row)| mapper::map_candidate(index, row))
        .collect::<Result<_, _>>()
        .map_err(|source| ResourceGraphError::Row {
            query: name,
            source,
        })
}

/// The full inventory ([`queries::ALL_RESOURCES`]) of `subscriptions`, one mapped page (up to
/// 1,000 resources) at a time.
pub fn inventory_pages<'a>(
    client: &'a AzureClient,
    ctx: &'a CallContext,
    subscriptions: &[String],
) -> impl Stream<Item = Result<Vec<Resource>, ResourceGraphError>> + 'a {
    let query = NamedQuery {
        name: "all_resources",
        kql: queries::ALL_RESOURCES,
    };
    query_pages(client, ctx, query, subscriptions).map(move |page| map_page(query.name, &page?))
}

/// The full inventory of `subscriptions`, every page collected.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = %scope_label(subscriptions)))]
pub async fn collect_inventory(
    client: &AzureClient,
    ctx: &CallContext,
    subscriptions: &[String],
) -> Result<Vec<Resource>, ResourceGraphError> {
    let pages: Vec<Vec<Resource>> = inventory_pages(client, ctx, subscriptions)
        .try_collect()
        .await?;
    Ok(pages.into_iter().flatten().collect())
}

/// Every row of one library query.
async fn run_query(
    client: &AzureClient,
    ctx: &CallContext,
    query: NamedQuery,
    subscriptions: &[String],
) -> Result<CandidateSet, ResourceGraphError> {
    let pages: Vec<Vec<Candidate>> = query_pages(client, ctx, query, subscriptions)
        .map(|page| map_candidate_page(query.name, &page?))
        .try_collect()
        .await?;
    let candidates = pages.into_iter().flatten().collect();
    Ok(CandidateSet {
        name: query.name,
        candidates,
    })
}

/// Runs `library` concurrently; the first failure fails the whole set.
async fn run_all(
    client: &AzureClient,
    ctx: &CallContext,
    library: &[NamedQuery],
    subscriptions: &[String],
) -> Result<Vec<CandidateSet>, ResourceGraphError> {
    let runs = library
        .iter()
        .map(|query| run_query(client, ctx, *query, subscriptions));
    futures::future::try_join_all(runs).await
}

/// Every row of one library query over `subscriptions`.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = %scope_label(subscriptions), azure.query = query.name))]
pub async fn collect_query(
    client: &AzureClient,
    ctx: &CallContext,
    query: NamedQuery,
    subscriptions: &[String],
) -> Result<CandidateSet, ResourceGraphError> {
    run_query(client, ctx, query, subscriptions).await
}

/// The five waste queries ([`queries::WASTE`]), run concurrently, in library order.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = %scope_label(subscriptions)))]
pub async fn collect_waste_candidates(
    client: &AzureClient,
    ctx: &CallContext,
    subscriptions: &[String],
) -> Result<Vec<CandidateSet>, ResourceGraphError> {
    run_all(client, ctx, &queries::WASTE, subscriptions).await
}

/// The three rightsizing queries ([`queries::RIGHTSIZING`]), run concurrently, in library
/// order.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = %scope_label(subscriptions)))]
pub async fn collect_rightsizing_candidates(
    client: &AzureClient,
    ctx: &CallContext,
    subscriptions: &[String],
) -> Result<Vec<CandidateSet>, ResourceGraphError> {
    run_all(client, ctx, &queries::RIGHTSIZING, subscriptions).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(value: serde_json::Value) -> QueryResponse {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn paging_continues_with_the_token_and_stops_without_one() {
        let request = QueryRequest::new("q", &["s".into()]);
        let next = next_request("q", &request, &page(json!({"$skipToken": "t1"}))).unwrap();
        assert_eq!(next.unwrap().options.skip_token.as_deref(), Some("t1"));
        assert_eq!(next_request("q", &request, &page(json!({}))).unwrap(), None);
    }

    #[test]
    fn truncation_without_a_token_and_a_repeated_token_are_errors() {
        let request = QueryRequest::new("q", &[]);
        let truncated = page(json!({"resultTruncated": "true"}));
        assert!(matches!(
            next_request("q", &request, &truncated),
            Err(ResourceGraphError::Truncated { .. })
        ));
        let second = request.next_page("t");
        let same = page(json!({"$skipToken": "t"}));
        let err = next_request("q", &second, &same).unwrap_err();
        assert!(matches!(err, ResourceGraphError::RepeatedSkipToken { .. }));
        assert!(!err.is_retryable());
    }

    #[test]
    fn a_bad_row_fails_the_page_with_its_index() {
        let bad = page(json!({"data": [{"id": "/subscriptions/s"}, {"name": "no id"}]}));
        let err = map_page("q", &bad).unwrap_err();
        assert!(err.to_string().contains("row 1"), "{err}");
    }
}
