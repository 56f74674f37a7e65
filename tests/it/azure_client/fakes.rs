//! Stand-ins for Azure: an HTTP server that records what it receives and answers with a
//! closure, a raw TCP server for broken connections and bodies, an Entra token endpoint, and
//! the client under test wired to them with short waits.

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use azcops::azure::client::{AzureClient, CallContext, Endpoints};
use azcops::azure::credentials::{StaticClientSecret, TokenCache, client_secret_source};
use azcops::azure::qpu_budget::{MemoryQpuBudget, QpuBudget};
use azcops::azure::throttle::RetryPolicy;
use secrecy::SecretString;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use url::Url;

/// The Entra tenant every test calls for.
pub const TENANT: &str = "00000000-0000-0000-0000-0000000000aa";
/// The client secret the token endpoint expects.
pub const CLIENT_SECRET: &str = "client-s3cret-value";

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub body: String,
    pub at: SystemTime,
    /// 0 for the first request.
    pub index: usize,
    /// The fake's own base URL, without a trailing slash (to build links).
    pub base: String,
}

/// A running fake: its base URL and what it received.
pub struct Fake {
    pub url: Url,
    log: Arc<Mutex<Vec<Received>>>,
}

impl Fake {
    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().expect("log").clone()
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        self.log.lock().expect("log").len()
    }
}

/// Serves every request with `answer` on 127.0.0.1, recording it first.
pub async fn serve<F, Fut>(answer: F) -> Fake
where
    F: Fn(Received) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let log: Arc<Mutex<Vec<Received>>> = Arc::default();
    let recorder = Arc::clone(&log);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = Url::parse(&format!(
        "http://{}",
        listener.local_addr().expect("address")
    ))
    .expect("url");
    let base = url.as_str().trim_end_matches('/').to_owned();
    let app = Router::new().fallback(move |request: Request| {
        let (answer, log, base) = (answer.clone(), Arc::clone(&recorder), base.clone());
        async move {
            let received = record(&log, request, base).await;
            answer(received).await
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    Fake { url, log }
}

async fn record(log: &Mutex<Vec<Received>>, request: Request, base: String) -> Received {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.expect("request body");
    let mut log = log.lock().expect("log");
    let received = Received {
        method: parts.method.to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map(ToString::to_string)
            .unwrap_or_default(),
        authorization: parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: SystemTime::now(),
        index: log.len(),
        base,
    };
    log.push(received.clone());
    received
}

/// Serves `app` on 127.0.0.1 and returns its base URL.
async fn spawn(app: Router) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    Url::parse(&format!("http://{addr}")).expect("url")
}

/// A JSON answer with `status` and extra headers.
pub fn reply(status: u16, headers: &[(&str, String)], body: serde_json::Value) -> Response {
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header("content-type", "application/json")
        .header("x-ms-request-id", "req-0001");
    for (name, value) in headers {
        response = response.header(*name, value.as_str());
    }
    response
        .body(Body::from(body.to_string()))
        .expect("response")
}

/// What the raw server does with one connection.
#[derive(Clone, Copy)]
pub enum Raw {
    /// Reads the request and closes the socket without answering.
    Close,
    /// Writes these bytes (a complete or deliberately broken answer) and closes.
    Send(&'static str),
}

/// A TCP server answering the n-th connection with `script[n]` (the last one repeats).
pub async fn raw_server(script: Vec<Raw>) -> (Url, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = Url::parse(&format!("http://{}", listener.local_addr().expect("addr"))).expect("url");
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let step = script[n.min(script.len() - 1)];
            let mut buffer = vec![0u8; 16 * 1024];
            let mut read = 0;
            while !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buffer[read..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => read += n,
                }
            }
            if let Raw::Send(bytes) = step {
                let _ = socket.write_all(bytes.as_bytes()).await;
                let _ = socket.flush().await;
            }
            drop(socket);
        }
    });
    (url, connections)
}

/// An Entra v2 token endpoint issuing `tok-1`, `tok-2`, … valid for `lifetime_secs`.
pub struct TokenServer {
    pub authority: Url,
    issued: Arc<AtomicUsize>,
    pub lifetime_secs: Arc<AtomicU64>,
    pub delay_ms: Arc<AtomicU64>,
}

#[derive(Clone)]
struct TokenState {
    issued: Arc<AtomicUsize>,
    lifetime_secs: Arc<AtomicU64>,
    delay_ms: Arc<AtomicU64>,
}

impl TokenServer {
    /// Starts a token endpoint issuing hour-long tokens.
    pub async fn start() -> Self {
        let state = TokenState {
            issued: Arc::default(),
            lifetime_secs: Arc::new(AtomicU64::new(3599)),
            delay_ms: Arc::default(),
        };
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(issue))
            .with_state(state.clone());
        Self {
            authority: spawn(app).await,
            issued: state.issued,
            lifetime_secs: state.lifetime_secs,
            delay_ms: state.delay_ms,
        }
    }

    /// Tokens issued so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }
}

async fn issue(State(state): State<TokenState>, form: String) -> Response {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(form.as_bytes())
        .into_owned()
        .collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("client_secret") != Some(CLIENT_SECRET)
        || field("grant_type") != Some("client_credentials")
    {
        let body = json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.", "trace_id": form});
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    tokio::time::sleep(Duration::from_millis(state.delay_ms.load(Ordering::SeqCst))).await;
    let n = state.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let body = json!({"token_type": "Bearer", "expires_in": state.lifetime_secs.load(Ordering::SeqCst), "access_token": format!("tok-{n}")});
    axum::Json(body).into_response()
}

/// Short waits for tests: backoff 10 ms → 200 ms, 2 s per request, 5 attempts.
pub fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        request_timeout: Duration::from_secs(2),
        max_throttle_wait: Duration::from_secs(10),
    }
}

/// The client under test: ARM and Monitor at `azure`, tokens from `tokens` (secret
/// [`CLIENT_SECRET`]), `policy`, and `budget`.
pub fn client(
    azure: &Url,
    tokens: &TokenServer,
    policy: RetryPolicy,
    budget: Arc<dyn QpuBudget>,
) -> AzureClient {
    let http = reqwest::Client::new();
    let secret = Arc::new(StaticClientSecret(SecretString::from(CLIENT_SECRET)));
    let source = client_secret_source(
        http.clone(),
        tokens.authority.clone(),
        "app-id".into(),
        secret,
    );
    let endpoints = Endpoints::new(
        azure.clone(),
        azure.as_str(),
        "https://metrics.monitor.azure.com/.default",
    );
    AzureClient::new(http, TokenCache::new(source), endpoints, policy, budget)
}

/// A client with the quick policy and an in-memory budget, and its token server.
pub async fn quick_client(azure: &Url) -> (AzureClient, TokenServer) {
    let tokens = TokenServer::start().await;
    let budget = Arc::new(MemoryQpuBudget::default());
    (client(azure, &tokens, quick_policy(), budget), tokens)
}

/// A context for [`TENANT`] and one subscription.
pub fn context() -> CallContext {
    CallContext::new(TENANT).with_subscription("11111111-1111-1111-1111-111111111111")
}

/// Seconds between two receive times.
pub fn gap(earlier: &Received, later: &Received) -> Duration {
    later.at.duration_since(earlier.at).unwrap_or_default()
}
