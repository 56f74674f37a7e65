//! The connectors over HTTP, against small purpose-built stand-ins for Azure that answer in
//! the shapes of the official examples: Resource Graph `$skipToken` paging, Cost Management
//! `nextLink` paging with the same body, Advisor `nextLink` paging across an empty page, and
//! Monitor batches with a per-metric error and a failing batch.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::response::Response;
use azcops::azure::client::{AzureClient, CallContext, Endpoints};
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
mod cost_paging;
mod monitor_batches;
mod resource_graph_paging;
mod subscription_home;

pub(super) const SUB: &str = "11111111-1111-1111-1111-111111111111";

/// A request as the stand-in received it.
#[derive(Debug, Clone)]
pub(super) struct Received {
    pub(super) method: String,
    /// Path and decoded query, e.g. `/x?api-version=1&$filter=Category eq 'Cost'`.
    pub(super) target: String,
    pub(super) body: Value,
}

type Log = Arc<Mutex<Vec<Received>>>;

/// Serves every request with `answer(request, base URL)`, recording it first.
pub(super) async fn serve(answer: fn(&Received, &str) -> Response) -> (Url, Log) {
    let log: Log = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (recorder, link_base) = (Arc::clone(&log), base.clone());
    let app = Router::new().fallback(move |request: Request| {
        let (log, base) = (Arc::clone(&recorder), link_base.clone());
        async move {
            let received = record(request).await;
            log.lock().expect("log").push(received.clone());
            answer(&received, &base)
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
    let endpoints = Endpoints::new(
        azure.clone(),
        azure.as_str(),
        "https://metrics.monitor.azure.com/.default",
    );
    let tokens = TokenCache::new(Arc::new(FixedToken));
    AzureClient::new(
        reqwest::Client::new(),
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
