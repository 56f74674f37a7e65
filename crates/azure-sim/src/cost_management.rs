//! Cost Management: `POST /subscriptions/{sub}/providers/Microsoft.CostManagement/query`.
//! Pages rows through `properties.nextLink` (the client POSTs the same body to it), 1,000 rows
//! a page or `$top` up to the largest page ([`page_size`]), and charges query units per tenant
//! for every page: 1 per calendar month queried, windows of 12 / 10 s, 60 / min and 600 / h
//! (time-scaled), reported in the `x-ms-ratelimit-microsoft.costmanagement-qpu-*` headers.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use super::arm::ArmRequest;
use super::auth::authorize;
use super::cost_query::{CostQuery, CostTable};
use super::error::{ApiError, ApiResult};
use super::paging::{decode_token, encode_token};
use super::rng::{hash_str, hash2, uuid_from};
use super::server::Shared;
use super::stats::Api;
use super::throttle::{QPU_WINDOWS, QpuLimiter, retry_seconds};

const CONSUMED: &str = "x-ms-ratelimit-microsoft.costmanagement-qpu-consumed";
const REMAINING: &str = "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining";
const RETRY_AFTER: &str = "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after";

/// Handles one query (or one page of it).
pub async fn query(state: &Shared, request: &ArmRequest, subscription: &str) -> ApiResult {
    let action = "Microsoft.CostManagement/query/action";
    let sub = authorize(&state.estate, &request.principal, subscription, action)?;
    let query = CostQuery::parse(&request.body, state.estate.today())?;
    let size = page_size(state, request)?;
    let tenant = state.estate.home_tenant(sub).unwrap_or_default();
    let remaining = charge(state, tenant, query.months())?;
    let canonical: Value = serde_json::from_slice(&request.body).unwrap_or_default();
    let fingerprint = hash2(hash_str(&canonical.to_string()), sub.as_u128() as u64);
    let offset = match request.param("$skiptoken") {
        Some(token) => decode_token(token, fingerprint)?,
        None => 0,
    };
    let table = compute(state, query, (sub, size), fingerprint).await?;
    let mut response = page(state, request, &table, (sub, fingerprint), (offset, size));
    let headers = response.headers_mut();
    headers.insert(CONSUMED, HeaderValue::from(remaining.0));
    if let Ok(v) = HeaderValue::from_str(&remaining_header(remaining.1)) {
        headers.insert(REMAINING, v);
    }
    Ok(response)
}

/// Rows a page without `$top`: what the query answers when the client does not ask.
const DEFAULT_PAGE: usize = 1000;

/// `$top` (at most the configured largest page), or [`DEFAULT_PAGE`]. Azure accepts `$top` on
/// the query and keeps it in `nextLink` (Azure/azure-rest-api-specs#23405); the largest pages
/// users report hold 5,000 rows (Azure/azure-sdk-for-python#30603). Its cap is not documented,
/// so a larger value gets the largest page rather than an error.
fn page_size(state: &Shared, request: &ArmRequest) -> Result<usize, ApiError> {
    let largest = state.config.cost_page_size.max(1);
    let Some(top) = request.param("$top") else {
        return Ok(DEFAULT_PAGE.min(largest));
    };
    match top.parse::<usize>() {
        Ok(top) if top > 0 => Ok(top.min(largest)),
        _ => Err(ApiError::bad_request(
            "BadRequest",
            format!("Invalid $top value '{top}': it must be a positive integer."),
        )),
    }
}

/// Charges the query's units; `(consumed, remaining per window)`.
fn charge(state: &Shared, tenant: Uuid, qpu: u32) -> Result<(u32, [u32; 3]), ApiError> {
    if !(state.config.throttling && state.config.cost_throttling) {
        return Ok((qpu, QpuLimiter::unlimited()));
    }
    let outcome = state.lock_qpu().charge(tenant, qpu, Instant::now());
    if !outcome.allowed {
        state.stats.throttled(Api::CostManagement);
        return Err(throttled_error(outcome.retry_after)
            .header(REMAINING, remaining_header(outcome.remaining)));
    }
    state.stats.qpu(&tenant.to_string(), qpu);
    Ok((qpu, outcome.remaining))
}

/// The 429 of exhausted query units, as users observe it.
pub fn throttled_error(retry_after: Duration) -> ApiError {
    let seconds = retry_seconds(retry_after).to_string();
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "429",
        "Too many requests. Please retry.",
    )
    .header(RETRY_AFTER, seconds.clone())
    .header("retry-after", seconds)
}

fn remaining_header(remaining: [u32; 3]) -> String {
    QPU_WINDOWS
        .iter()
        .zip(remaining)
        .map(|((name, _, _), left)| format!("{name}:{left}"))
        .collect::<Vec<_>>()
        .join(",")
}

async fn compute(
    state: &Shared,
    query: CostQuery,
    (sub, size): (Uuid, usize),
    fingerprint: u64,
) -> Result<Arc<CostTable>, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let run = || Arc::new(query.run(&state.estate, sub));
        // Only results that span pages are read again.
        state
            .cost_cache
            .get_or_compute_if(fingerprint, run, |t| t.rows.len() > size)
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerError",
            "The query failed.",
        )
    })
}

fn page(
    state: &Shared,
    request: &ArmRequest,
    table: &CostTable,
    (sub, fingerprint): (Uuid, u64),
    (offset, size): (usize, usize),
) -> Response {
    let start = offset.min(table.rows.len());
    let end = (start + size).min(table.rows.len());
    let next_link = (end < table.rows.len()).then(|| {
        format!(
            "{}{}?api-version={}{}&$skiptoken={}",
            state.base_url.as_str().trim_end_matches('/'),
            request.path,
            request.api_version(),
            request
                .param("$top")
                .map(|_| format!("&$top={size}"))
                .unwrap_or_default(),
            encode_token(end, fingerprint)
        )
    });
    let name = uuid_from(fingerprint, "cost-query", 0);
    let columns: Vec<Value> = table
        .columns
        .iter()
        .map(|(n, t)| json!({"name": n, "type": t}))
        .collect();
    let body = json!({
        "id": format!("subscriptions/{sub}/providers/Microsoft.CostManagement/Query/{name}"),
        "name": name,
        "type": "microsoft.costmanagement/Query",
        "properties": {
            "nextLink": next_link,
            "columns": columns,
            "rows": &table.rows[start..end],
        },
    });
    Json(body).into_response()
}
