//! The host's HTTP side: requests under the route prefix that match an HTTP function are
//! forwarded to the handler unchanged (as `enableForwardingHttpRequest` does) and its answer
//! returned unchanged (a `503` instead when shutdown abandons the request); a path with dot
//! segments or encoded separators is a `400`, so nothing outside the prefix reaches the
//! handler. `POST /admin/functions/{name}` (with the admin key and a JSON body) fires any other
//! function on demand.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::time::Instant;
use uuid::Uuid;

use super::admin::AdminKey;
use super::invoke::{HOST_VERSION, Invoker, Outcome, record};
use super::queues::QueueTrigger;
use super::routes::{self, Route};
use super::timers::Timer;

/// The largest request body forwarded (the HTTP trigger's limit).
const MAX_BODY: usize = 100 * 1024 * 1024;

/// The body of the `503` a request gets when shutdown abandons it.
const ABANDONED: &str = "the host is shutting down: the request was abandoned";

/// Headers that belong to one connection and are never forwarded.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "upgrade",
    "content-length",
];

/// Everything the HTTP side needs.
#[derive(Debug, Clone)]
pub struct HttpState {
    pub route_prefix: String,
    pub routes: Arc<Vec<Route>>,
    pub timers: Arc<HashMap<String, Timer>>,
    pub queues: Arc<HashMap<String, QueueTrigger>>,
    pub invoker: Invoker,
    pub admin_key: AdminKey,
}

/// The host's router.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/admin/functions/{name}", post(admin))
        .fallback(forward)
        .with_state(state)
}

/// `POST /admin/functions/{name}` with `{"input": "…"}`: fires the function in the background
/// and answers 202, as the real host does; 401 without the admin key, 415 without JSON.
async fn admin(
    State(state): State<HttpState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    if let Err(status) = state.admin_key.check(&headers) {
        tracing::warn!(function = %name, status = status.as_u16(), "admin request refused");
        return status;
    }
    let input = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("input").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    let invoker = state.invoker.clone();
    if let Some(timer) = state.timers.get(&name).cloned() {
        tokio::spawn(async move { timer.fire(&invoker, None).await });
    } else if let Some(queue) = state.queues.get(&name).cloned() {
        tokio::spawn(async move { queue.invoke_text(&invoker, &input).await });
    } else {
        return StatusCode::NOT_FOUND;
    }
    tracing::info!(function = %name, "function fired on demand");
    StatusCode::ACCEPTED
}

/// Forwards a request for an HTTP function to the handler.
async fn forward(State(state): State<HttpState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().as_str().to_owned();
    if let Err(refused) = routes::check_path(&path) {
        tracing::warn!(http.path = %path, reason = %refused, "request path refused");
        return (StatusCode::BAD_REQUEST, refused.to_string()).into_response();
    }
    let Some(route) = routes::find(&state.routes, &state.route_prefix, &method, &path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let function = route.function.clone();
    let running = state.invoker.in_flight.enter();
    let id = Uuid::new_v4();
    let started = Instant::now();
    let sent = running
        .unless_abandoned(send(&state.invoker, id, request))
        .await;
    let (outcome, response) = match sent {
        Some(Ok(response)) => (outcome_of(response.status()), response),
        Some(Err(error)) => (
            Outcome::Error(error.clone()),
            (StatusCode::BAD_GATEWAY, error).into_response(),
        ),
        None => (
            Outcome::Abandoned,
            (StatusCode::SERVICE_UNAVAILABLE, ABANDONED).into_response(),
        ),
    };
    record(&function, id, started, &outcome);
    response
}

fn outcome_of(status: StatusCode) -> Outcome {
    if status.is_server_error() {
        Outcome::Failed(status)
    } else {
        Outcome::Succeeded(status)
    }
}

async fn send(invoker: &Invoker, id: Uuid, request: Request) -> Result<Response, String> {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| format!("reading the request body: {e}"))?;
    let base = invoker.base_url().await?;
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), ToString::to_string);
    let mut headers = copy_headers(&parts.headers);
    headers.insert(
        HeaderName::from_static("x-azure-functions-invocationid"),
        id.to_string().parse().map_err(|_| "invalid id")?,
    );
    headers.insert(
        HeaderName::from_static("x-azure-functions-hostversion"),
        axum::http::HeaderValue::from_static(HOST_VERSION),
    );
    let mut outgoing = invoker
        .client
        .request(parts.method, format!("{base}{target}"))
        .headers(headers);
    if !body.is_empty() {
        outgoing = outgoing.body(body);
    }
    let answer = outgoing.send().await.map_err(|e| format!("{e:#}"))?;
    let status = answer.status();
    let headers = copy_headers(answer.headers());
    let bytes = answer
        .bytes()
        .await
        .map_err(|e| format!("reading the handler's answer: {e:#}"))?;
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// All headers but the hop-by-hop ones.
fn copy_headers(headers: &HeaderMap) -> HeaderMap {
    let mut copy = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            copy.append(name.clone(), value.clone());
        }
    }
    copy
}
