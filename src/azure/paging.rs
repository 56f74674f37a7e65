//! Paging helpers, as streams of pages so each page is processed as it arrives and memory
//! stays bounded. Pages are followed until the link is absent, never by counting records (a
//! page may be empty and still have a link):
//! - [`AzureClient::get_pages`]: ARM lists, `{"value":[…],"nextLink"}`, GET each `nextLink`;
//! - [`AzureClient::post_pages`]: a POSTed query, paged as its [`PostPaging`] says: the same
//!   body to each link ([`PostPaging::cost_query`]: Cost Management, whose `next` reads
//!   `properties.nextLink` or `nextLink`, see [`cost_next_link`]), or the same URL and body with
//!   `options.$skipToken` set to the previous page's `$skipToken` ([`PostPaging::skip_token`]:
//!   Resource Graph).
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// The same method and body to the link.
    Link,
    /// The same URL and body, with `options.$skipToken` set.
    SkipToken,
}

/// How a POSTed query is paged: the API it is charged to, the query units each page acquires
/// (for [`Api::CostManagement`]; 1 elsewhere) and how the next page is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostPaging {
    pub api: Api,
    pub units: u32,
    pub follow: Follow,
}

impl PostPaging {
    /// The same body POSTed to each link, one unit a page.
    pub fn link(api: Api) -> Self {
        Self {
            api,
            units: 1,
            follow: Follow::Link,
        }
    }

    /// A Cost Management query reading `units` months of data: the same body POSTed to each
    /// link, `units` acquired from the tenant's budget for every page.
    pub fn cost_query(units: u32) -> Self {
        Self {
            units,
            ..Self::link(Api::CostManagement)
        }
    }

    /// The same URL and body again, with `options.$skipToken` set (Resource Graph).
    pub fn skip_token(api: Api) -> Self {
        Self {
            follow: Follow::SkipToken,
            ..Self::link(api)
        }
    }
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

    /// The pages of POSTing `body` (for [`Follow::SkipToken`], a JSON object) to `url`, then
    /// of asking for the page after what `next` finds in each, as `paging` says.
    pub fn post_pages<'a, B, T>(
        &'a self,
        ctx: &'a CallContext,
        paging: PostPaging,
        url: Url,
        body: &'a B,
        next: fn(&T) -> Option<String>,
    ) -> impl Stream<Item = Result<T, AzureError>> + 'a
    where
        B: Serialize + Sync + ?Sized,
        T: DeserializeOwned + 'a,
    {
        let first = encode(body)
            .map(|body| Call::new(paging.api, Method::POST, url, Some(body), paging.units));
        self.pages(ctx, first, next, paging.follow)
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
/// top-level `nextLink` the spec also declares (a `next` for [`AzureClient::post_pages`]
/// over `serde_json::Value` pages).
pub fn cost_next_link(page: &serde_json::Value) -> Option<String> {
    [&page["properties"]["nextLink"], &page["nextLink"]]
        .into_iter()
        .find_map(|link| link.as_str().filter(|l| !l.is_empty()).map(str::to_owned))
}
