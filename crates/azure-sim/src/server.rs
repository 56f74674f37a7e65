//! The simulator's HTTP server: shared state, the router (Entra ID token endpoints, the `/_sim`
//! control endpoints, and the ARM/Monitor front door as fallback) and the ARM correlation
//! headers on every response.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

use super::auth::TokenStore;
use super::cost_query::CostTable;
use super::estate::Estate;
use super::faults::{FaultConfig, Faults};
use super::paging::ResultCache;
use super::resource_graph;
use super::retail_prices::PriceLists;
use super::stats::Stats;
use super::throttle::{FixedWindow, QpuLimiter, scaled};
use super::{SimConfig, arm, identity, truth};

/// Everything the handlers share.
#[derive(Debug)]
pub struct SimState {
    pub config: SimConfig,
    pub estate: Arc<Estate>,
    /// Where clients reach the simulator; `nextLink`s are built on it.
    pub base_url: Url,
    pub tokens: TokenStore,
    pub faults: Faults,
    pub stats: Stats,
    pub arg_cache: ResultCache<Arc<Vec<u32>>>,
    pub cost_cache: ResultCache<Arc<CostTable>>,
    /// Retail price lists, built once per currency.
    pub price_lists: PriceLists,
    arg_quota: Mutex<FixedWindow>,
    qpu: Mutex<QpuLimiter>,
}

/// The state as handlers receive it.
pub type Shared = Arc<SimState>;

impl SimState {
    /// Fresh state over `estate`.
    pub fn new(config: SimConfig, estate: Arc<Estate>, base_url: Url) -> Self {
        Self {
            tokens: TokenStore::new(config.token_lifetime),
            faults: Faults::new(config.faults.clone()),
            stats: Stats::default(),
            arg_cache: ResultCache::new(32),
            cost_cache: ResultCache::new(8),
            price_lists: PriceLists::default(),
            arg_quota: Mutex::new(arg_window(&config)),
            qpu: Mutex::new(QpuLimiter::new(config.time_scale)),
            config,
            estate,
            base_url,
        }
    }

    /// Resource Graph's per-principal windows.
    pub fn lock_arg_quota(&self) -> MutexGuard<'_, FixedWindow> {
        self.arg_quota.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Cost Management's per-tenant query units.
    pub fn lock_qpu(&self) -> MutexGuard<'_, QpuLimiter> {
        self.qpu.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Zeroes the counters and restarts every throttling window.
    pub fn reset(&self) {
        self.stats.reset();
        *self.lock_arg_quota() = arg_window(&self.config);
        *self.lock_qpu() = QpuLimiter::new(self.config.time_scale);
    }
}

fn arg_window(config: &SimConfig) -> FixedWindow {
    FixedWindow::new(
        resource_graph::QUOTA,
        scaled(resource_graph::WINDOW, config.time_scale),
    )
}

/// The simulator's routes.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route(
            "/{tenant}/oauth2/v2.0/token",
            post(identity::client_credentials),
        )
        .route("/msi/token", get(identity::managed_identity))
        .route("/_sim/stats", get(stats))
        .route("/_sim/reset", post(reset))
        .route("/_sim/faults", get(get_faults).post(set_faults))
        .route("/_sim/estate", get(estate_summary))
        .route(
            "/_sim/subscriptions/{subscription}/move",
            post(move_subscription),
        )
        .route("/_sim/resources/tags", post(set_tags))
        .route("/_sim/costs/anomalies", post(inject_cost_anomaly))
        .fallback(arm::dispatch)
        .layer(middleware::from_fn(request_ids))
        .with_state(state)
}

async fn stats(State(state): State<Shared>) -> Response {
    Json(state.stats.snapshot()).into_response()
}

async fn reset(State(state): State<Shared>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}

async fn get_faults(State(state): State<Shared>) -> Response {
    Json(state.faults.config()).into_response()
}

async fn set_faults(State(state): State<Shared>, body: axum::body::Bytes) -> Response {
    let config = serde_json::from_slice::<FaultConfig>(&body)
        .map_err(|e| e.to_string())
        .and_then(|c| c.validate().map(|()| c));
    match config {
        Ok(config) => {
            tracing::info!(faults = ?config, "sim faults changed");
            state.faults.set(config.clone());
            Json(config).into_response()
        }
        Err(message) => {
            let body = json!({"error": {"code": "InvalidFaults", "message": message}});
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
    }
}

/// `POST /_sim/subscriptions/{id}/move` with `{"tenant_id": "…"}`: a subscription transfer.
async fn move_subscription(
    State(state): State<Shared>,
    Path(subscription): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let refuse = |status: StatusCode, code: &str, message: String| {
        let body = json!({"error": {"code": code, "message": message}});
        (status, Json(body)).into_response()
    };
    let Ok(subscription) = Uuid::parse_str(&subscription) else {
        return refuse(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("no subscription {subscription}"),
        );
    };
    let tenant = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v.get("tenant_id")?
            .as_str()
            .and_then(|t| Uuid::parse_str(t).ok())
    });
    let Some(tenant) = tenant else {
        let message = r#"the body must be {"tenant_id": "<guid>"}"#.to_owned();
        return refuse(StatusCode::BAD_REQUEST, "InvalidMove", message);
    };
    if !state.estate.move_subscription(subscription, tenant) {
        return refuse(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("no subscription {subscription}"),
        );
    }
    tracing::info!(%subscription, %tenant, "sim subscription moved");
    Json(json!({"subscription_id": subscription, "tenant_id": tenant})).into_response()
}

/// `POST /_sim/costs/anomalies` with `{"resource_id": "…", "date": "YYYY-MM-DD", "factor": 4.0}`:
/// multiplies the resource's charges that day (a cost anomaly to detect; listed at
/// `/_sim/estate` under `cost_anomalies`).
async fn inject_cost_anomaly(State(state): State<Shared>, body: axum::body::Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        let id = v.get("resource_id")?.as_str()?.to_owned();
        let date = chrono::NaiveDate::parse_from_str(v.get("date")?.as_str()?, "%Y-%m-%d").ok()?;
        let factor = v
            .get("factor")?
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)?;
        Some((id, date, factor))
    });
    let Some((resource_id, date, factor)) = parsed else {
        let message = r#"the body must be {"resource_id": "<ARM id>", "date": "YYYY-MM-DD", "factor": <number ≥ 0>}"#;
        let body = json!({"error": {"code": "InvalidCostAnomaly", "message": message}});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    match state.estate.inject_cost_anomaly(&resource_id, date, factor) {
        Some(injected) => {
            tracing::info!(resource_id, %date, factor, "sim cost anomaly injected");
            Json(injected).into_response()
        }
        None => {
            let body = json!({"error": {"code": "ResourceNotFound", "message": format!("no resource {resource_id}")}});
            (StatusCode::NOT_FOUND, Json(body)).into_response()
        }
    }
}

/// `POST /_sim/resources/tags` with `{"resource_id": "…", "tags": {"name": "value"}}`: replaces
/// the resource's tags, as a user tagging it would (a test then watches a finding resolve).
async fn set_tags(State(state): State<Shared>, body: axum::body::Bytes) -> Response {
    let parsed = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        let id = v.get("resource_id")?.as_str()?.to_owned();
        let tags = v.get("tags")?.as_object()?.clone();
        tags.values().all(Value::is_string).then_some((id, tags))
    });
    let Some((resource_id, tags)) = parsed else {
        let message =
            r#"the body must be {"resource_id": "<ARM id>", "tags": {"<name>": "<value>"}}"#;
        let body = json!({"error": {"code": "InvalidTags", "message": message}});
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    if !state.estate.set_tags(&resource_id, tags) {
        let body = json!({"error": {"code": "ResourceNotFound", "message": format!("no resource {resource_id}")}});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    }
    tracing::info!(%resource_id, "sim resource tagged");
    StatusCode::NO_CONTENT.into_response()
}

/// Tenants and subscriptions, so a demo knows which ids to register, and the ground truth
/// ([`truth`]): every resource's planted conditions, for `?subscription={id}` only if given.
async fn estate_summary(
    State(state): State<Shared>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let estate = &state.estate;
    let only = match params.get("subscription").map(|s| Uuid::parse_str(s)) {
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            let body = json!({"error": {"code": "InvalidSubscriptionId", "message": "subscription must be a GUID"}});
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
        None => None,
    };
    let conditions: Vec<truth::ResourceTruth> = estate
        .subscriptions()
        .iter()
        .filter(|s| only.is_none_or(|id| id == s.id))
        .flat_map(|s| estate.ground_truth(s.id))
        .collect();
    let thresholds: serde_json::Map<String, Value> = truth::THRESHOLD_DAYS
        .iter()
        .map(|(rule, days)| ((*rule).to_owned(), json!(days)))
        .chain([(
            "snapshot.stale".to_owned(),
            json!(truth::STALE_SNAPSHOT_DAYS),
        )])
        .collect();
    let tenants: Vec<Value> = estate
        .tenants()
        .iter()
        .map(|t| {
            let subscriptions: Vec<Value> = estate
                .subscriptions_of(t.id)
                .map(|s| json!({"id": s.id, "display_name": s.display_name, "resources": estate.resources_of(s.id).len()}))
                .collect();
            json!({"id": t.id, "name": t.name, "currency": t.currency, "subscriptions": subscriptions})
        })
        .collect();
    Json(json!({
        "today": estate.today(),
        "reference_now": estate.reference_now(),
        "operator_tenant_id": estate.operator_tenant_id(),
        "managed_identity_client_id": estate.msi_client_id(),
        "resources": estate.resources().len(),
        "tenants": tenants,
        "threshold_days": thresholds,
        "conditions": conditions,
        "cost_anomalies": estate.cost_anomalies(),
    }))
    .into_response()
}

/// ARM's correlation headers, and one debug line per request.
async fn request_ids(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let correlation =
        header_uuid(request.headers(), "x-ms-correlation-request-id").unwrap_or_else(Uuid::new_v4);
    let echo = request
        .headers()
        .get("x-ms-return-client-request-id")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"))
        .then(|| request.headers().get("x-ms-client-request-id").cloned())
        .flatten();
    let mut response = next.run(request).await;
    let request_id = Uuid::new_v4();
    let routing = format!(
        "SIMULATED:{}:{request_id}",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    );
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ms-request-id", request_id.to_string()),
        ("x-ms-correlation-request-id", correlation.to_string()),
        ("x-ms-routing-request-id", routing),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    if let Some(client_request_id) = echo {
        headers.insert("x-ms-client-request-id", client_request_id);
    }
    tracing::debug!(%method, path, status = response.status().as_u16(), duration_ms = started.elapsed().as_millis() as u64, "sim request");
    response
}

fn header_uuid(headers: &HeaderMap, name: &str) -> Option<Uuid> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v).ok())
}
