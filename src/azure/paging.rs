//! Paging helpers, as streams of pages so each page is processed as it arrives and memory
//! stays bounded. Pages are followed until the link is absent, never by counting records (a
//! page may be empty and still have a link):
//! - [`AzureClient::get_pages`]: ARM lists, `{"value":[…],"nextLink"}`, GET each `nextLink`;
//! - [`AzureClient::post_pages`] / [`AzureClient::cost_query_pages`]: POST the same body to
//!   each link (Cost Management; the caller's `next` reads `properties.nextLink` or `nextLink`,
//!   see [`cost_next_link`]);
//! - [`AzureClient::post_skip_token_pages`]: Resource Graph, the same URL and body with
//!   `options.$skipToken` set to the previous page's `$skipToken`.
//!
//! A failed page ends the stream after yielding its error.

use futures::Stream;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

use super::client::{Api, AzureClient, Call, CallContext, encode};
use super::error::AzureError;

/// An ARM list page.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
struct ArmPage<T> {
    #[serde(default = "Vec::new")]
    value: Vec<T>,
    #[serde(rename = "nextLink")]
    next_link: Option<String>,
}

/// How to ask for the page after a link or token.
#[derive(Clone, Copy)]
enum Follow {
    /// The same method and body to the link.
    Link,
    /// The same URL and body, with `options.$skipToken` set.
    SkipToken,
}

impl AzureClient {
    /// The items of an ARM list at `url`, a page at a time, following `nextLink` with GET.
    pub fn get_pages<'a, T: DeserializeOwned + 'a>(
        &'a self,
        ctx: &'a CallContext,
        api: Api,
        url: Url,
    ) -> impl Stream<Item = Result<Vec<T>, AzureError>> + 'a {
        let first = Ok(Call::new(api, Method::GET, url, None, 1));
        let next: fn(&ArmPage<T>) -> Option<String> = |page| page.next_link.clone();
        futures::StreamExt::map(self.pages(ctx, first, next, Follow::Link), |page| {
            page.map(|p| p.value)
        })
    }

    /// The pages of POSTing `body` to `url` and then the same body to each link `next` finds.
    pub fn post_pages<'a, B, T>(
        &'a self,
        ctx: &'a CallContext,
        api: Api,
        url: Url,
        body: &'a B,
        next: fn(&T) -> Option<String>,
    ) -> impl Stream<Item = Result<T, AzureError>> + 'a
    where
        B: Serialize + Sync + ?Sized,
        T: DeserializeOwned + 'a,
    {
        let first = encode(body).map(|body| Call::new(api, Method::POST, url, Some(body), 1));
        self.pages(ctx, first, next, Follow::Link)
    }

    /// [`AzureClient::post_pages`] for a Cost Management query reading `units` months of data
    /// (acquired from the tenant's budget for every page).
    pub fn cost_query_pages<'a, B, T>(
        &'a self,
        ctx: &'a CallContext,
        url: Url,
        body: &'a B,
        units: u32,
        next: fn(&T) -> Option<String>,
    ) -> impl Stream<Item = Result<T, AzureError>> + 'a
    where
        B: Serialize + Sync + ?Sized,
        T: DeserializeOwned + 'a,
    {
        let first = encode(body)
            .map(|body| Call::new(Api::CostManagement, Method::POST, url, Some(body), units));
        self.pages(ctx, first, next, Follow::Link)
    }

    /// The pages of POSTing `body` (a JSON object) to `url`, then again with
    /// `options.$skipToken` set to what `next` finds in the previous page (Resource Graph).
    pub fn post_skip_token_pages<'a, B, T>(
        &'a self,
        ctx: &'a CallContext,
        api: Api,
        url: Url,
        body: &'a B,
        next: fn(&T) -> Option<String>,
    ) -> impl Stream<Item = Result<T, AzureError>> + 'a
    where
        B: Serialize + Sync + ?Sized,
        T: DeserializeOwned + 'a,
    {
        let first = encode(body).map(|body| Call::new(api, Method::POST, url, Some(body), 1));
        self.pages(ctx, first, next, Follow::SkipToken)
    }

    fn pages<'a, T: DeserializeOwned + 'a>(
        &'a self,
        ctx: &'a CallContext,
        first: Result<Call, AzureError>,
        next: fn(&T) -> Option<String>,
        follow: Follow,
    ) -> impl Stream<Item = Result<T, AzureError>> + 'a {
        futures::stream::unfold(Some(first), move |state| async move {
            let call = match state? {
                Ok(call) => call,
                Err(error) => return Some((Err(error), None)),
            };
            match self.execute::<T>(ctx, &call).await {
                Ok(page) => {
                    let link = next(&page).filter(|link| !link.trim().is_empty());
                    let state = link.map(|link| following(&call, &link, follow));
                    Some((Ok(page), state))
                }
                Err(error) => Some((Err(error), None)),
            }
        })
    }
}

/// The call for the page after `call`, given the link or token the page returned.
fn following(call: &Call, link: &str, follow: Follow) -> Result<Call, AzureError> {
    let mut next = call.clone();
    match follow {
        Follow::Link => {
            next.url = Url::parse(link)
                .map_err(|e| AzureError::InvalidUrl(format!("nextLink is not a URL: {e}")))?;
        }
        Follow::SkipToken => {
            let body = next.body.as_deref().unwrap_or(b"{}");
            let mut json: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| AzureError::Encode(e.to_string()))?;
            let object = json.as_object_mut().ok_or_else(|| {
                AzureError::Encode("a $skipToken query body must be an object".into())
            })?;
            let options = object
                .entry("options")
                .or_insert_with(|| serde_json::json!({}));
            let options = options
                .as_object_mut()
                .ok_or_else(|| AzureError::Encode("`options` must be an object".into()))?;
            options.insert("$skipToken".into(), link.into());
            next.body = Some(encode(&json)?);
        }
    }
    Ok(next)
}

/// The link to the next page of a Cost Management query answer: `properties.nextLink`, or the
/// top-level `nextLink` the spec also declares (a `next` for [`AzureClient::cost_query_pages`]
/// over `serde_json::Value` pages).
pub fn cost_next_link(page: &serde_json::Value) -> Option<String> {
    [&page["properties"]["nextLink"], &page["nextLink"]]
        .into_iter()
        .find_map(|link| link.as_str().filter(|l| !l.is_empty()).map(str::to_owned))
}
