//! The connectors over HTTP, against small purpose-built stand-ins for Azure that answer in
//! the shapes of the official examples: Resource Graph `$skipToken` paging (inventory and
//! containers), Cost Management `nextLink` paging with the same body (daily and per
//! resource), Advisor and Resource SKUs `nextLink` paging, Monitor batches per namespace with
//! a per-metric error and a failing batch, and the public Retail Prices API (no token,
//! `NextPageLink` held to the endpoint, throttling).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::response::Response;
use azcops::azure::client::{AzureClient, CallContext, Endpoints, same_origin_redirects};
use azcops::azure::credentials::{AccessToken, TokenCache, TokenSource};
use azcops::azure::error::AzureError;
use azcops::azure::qpu_budget::MemoryQpuBudget;
use azcops::azure::throttle::RetryPolicy;
use chrono::{Duration, Utc};
use futures::future::BoxFuture;
use secrecy::SecretString;
use serde_json::Value;
use tokio::net::TcpListener;
use url::Url;

mod advisor_paging;
mod cost_by_resource;
mod cost_paging;
mod monitor_batches;
mod monitor_resources;
mod resource_containers;
mod resource_graph_paging;
mod resource_skus;
mod retail_prices;
mod subscription_home;

pub(super) const SUB: &str = "11111111-1111-1111-1111-111111111111";

/// A request as the stand-in received it.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub(super) method: String,
    /// Path and decoded query, e.g. `/x?api-version=1&$filter=Category eq 'Cost'`.
    pub(super) target: String,
    /// The query as sent, still percent-encoded.
    pub(super) raw_query: String,
    /// The `Authorization` header, if any.
    pub(super) authorization: Option<String>,
    pub(super) body: Value,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// Serves every request with `answer(request, base URL)`, recording it first.
pub(super) async fn serve(answer: fn(&Received, &str) -> Response) -> (Url, Log) {
    serve_numbered(Arc::new(move |request, base, _| answer(request, base))).await
}

/// An answer that also gets the request's number (0 for the first the stand-in received).
pub(super) type Numbered = Arc<dyn Fn(&Received, &str, usize) -> Response + Send + Sync>;

/// Serves every request with `answer(request, base URL, number)`, recording it first.
pub(super) async fn serve_numbered(answer: Numbered) -> (Url, Log) {
    let log: Log = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (recorder, link_base) = (Arc::clone(&log), base.clone());
    let app = Router::new().fallback(move |request: Request| {
        let (log, base, answer) = (
            Arc::clone(&recorder),
            link_base.clone(),
            Arc::clone(&answer),
        );
        async move {
            let received = record(request).await;
            let number = {
                let mut log = log.lock().expect("log");
                log.push(received.clone());
                log.len() - 1
            };
            answer(&received, &base, number)
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (Url::parse(&base).expect("url"), log)
}

pub(super) async fn record(request: Request) -> Received {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.expect("body");
    let query: String =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
    Received {
        method: parts.method.to_string(),
        target: format!("{}?{query}", parts.uri.path()),
        raw_query: parts.uri.query().unwrap_or_default().to_owned(),
        authorization: parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

pub(super) fn reply(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("response")
}

/// Hands out one fixed token.
struct FixedToken;

impl TokenSource for FixedToken {
    fn fetch<'a>(
        &'a self,
        _tenant_id: &'a str,
        _scope: &'a str,
    ) -> BoxFuture<'a, Result<AccessToken, AzureError>> {
        Box::pin(async {
            Ok(AccessToken {
                secret: SecretString::from("test-token"),
                expires_at: Utc::now() + Duration::hours(1),
            })
        })
    }
}

/// A client with ARM and the Monitor data plane both at `azure`, and no retries.
pub(super) fn client(azure: &Url) -> AzureClient {
    let policy = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    client_with(azure, policy)
}

/// A client that retries quickly: 3 attempts, backoff from 10 ms, throttle waits up to 5 s.
pub(super) fn retrying_client(azure: &Url) -> AzureClient {
    let policy = RetryPolicy {
        max_attempts: 3,
        base_delay: std::time::Duration::from_millis(10),
        max_delay: std::time::Duration::from_millis(50),
        request_timeout: std::time::Duration::from_secs(10),
        max_throttle_wait: std::time::Duration::from_secs(5),
    };
    client_with(azure, policy)
}

/// A client with ARM and the Monitor data plane at `azure` and the Retail Prices endpoint at
/// `{azure}/api/retail/prices`, retrying as `policy` says.
pub(super) fn client_with(azure: &Url, policy: RetryPolicy) -> AzureClient {
    let prices = azure.join("/api/retail/prices").expect("prices url");
    let endpoints = Endpoints::new(
        azure.clone(),
        azure.as_str(),
        "https://metrics.monitor.azure.com/.default",
    )
    .with_retail_prices(prices);
    let tokens = TokenCache::new(Arc::new(FixedToken));
    // The production client's redirect policy: only redirects to the same origin are followed.
    let http = reqwest::Client::builder()
        .redirect(same_origin_redirects())
        .build()
        .expect("http client");
    AzureClient::new(
        http,
        tokens,
        endpoints,
        policy,
        Arc::new(MemoryQpuBudget::default()),
    )
}

pub(super) fn context() -> CallContext {
    CallContext::new("tenant-1").with_subscription(SUB)
}

pub(super) fn received(log: &Log) -> Vec<Received> {
    log.lock().expect("log").clone()
}
