//! Resource Graph: `POST /providers/Microsoft.ResourceGraph/resources`. Runs the KQL it is sent
//! (the subset [`kql`] understands; anything else is a `400 InvalidQuery`) over the estate's
//! `Resources` or `ResourceContainers` (subscriptions and resource groups), the right side of a
//! `join` scoped to the same subscriptions as the query, pages with opaque
//! `$skipToken`s, and enforces the per-principal quota (15 requests per 5 s window,
//! time-scaled) with `x-ms-user-quota-*` headers.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;
use uuid::Uuid;

use super::arm::ArmRequest;
use super::auth::authorize;
use super::error::{ApiError, ApiResult};
use super::kql::{self, JoinTable, Plan, Table};
use super::paging::{decode_token, encode_token};
use super::rng::{hash_str, hash2};
use super::server::Shared;
use super::stats::Api;
use super::throttle::{WindowOutcome, hh_mm_ss, retry_seconds, scaled};

/// Requests per window per principal, as documented.
pub const QUOTA: u32 = 15;
/// The documented window.
pub const WINDOW: Duration = Duration::from_secs(5);

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryRequest {
    query: String,
    #[serde(default)]
    subscriptions: Option<Vec<String>>,
    #[serde(default)]
    management_groups: Option<Vec<String>>,
    #[serde(default)]
    options: Option<QueryOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryOptions {
    #[serde(rename = "$top")]
    top: Option<i64>,
    #[serde(rename = "$skip")]
    skip: Option<i64>,
    #[serde(rename = "$skipToken")]
    skip_token: Option<String>,
    result_format: Option<String>,
}

#[derive(Debug, Serialize)]
struct QueryResponse {
    #[serde(rename = "totalRecords")]
    total_records: usize,
    count: usize,
    #[serde(rename = "resultTruncated")]
    result_truncated: &'static str,
    #[serde(rename = "$skipToken", skip_serializing_if = "Option::is_none")]
    skip_token: Option<String>,
    data: Value,
    facets: Vec<Value>,
}

/// Handles one query.
pub async fn query(state: &Shared, request: ArmRequest) -> ApiResult {
    let quota = throttle(state, &request.principal.client_id)?;
    let mut response = run(state, &request)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    quota_headers(&mut response, quota.remaining, quota.resets_after);
    Ok(response)
}

/// Counts the request against the principal's window; without throttling the full quota is
/// reported.
fn throttle(state: &Shared, principal: &str) -> Result<WindowOutcome, ApiError> {
    let window = scaled(WINDOW, state.config.time_scale);
    if !state.config.throttling {
        return Ok(WindowOutcome {
            allowed: true,
            remaining: QUOTA,
            resets_after: window,
        });
    }
    let outcome = state.lock_arg_quota().hit(principal, Instant::now());
    if outcome.allowed {
        return Ok(outcome);
    }
    state.stats.throttled(Api::ResourceGraph);
    Err(throttled_error(0, outcome.resets_after))
}

/// The 429 of an exhausted quota.
pub fn throttled_error(remaining: u32, resets_after: Duration) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RateLimiting",
        "Please provide below info when asking for support: timestamp = …, correlationId = …. Rate limit exceeded; retry after the quota resets.",
    )
    .header("retry-after", retry_seconds(resets_after).to_string())
    .header("x-ms-user-quota-remaining", remaining.to_string())
    .header("x-ms-user-quota-resets-after", hh_mm_ss(resets_after))
}

fn quota_headers(response: &mut Response, remaining: u32, resets_after: Duration) {
    let headers = response.headers_mut();
    headers.insert("x-ms-user-quota-remaining", HeaderValue::from(remaining));
    if let Ok(v) = HeaderValue::from_str(&hh_mm_ss(resets_after)) {
        headers.insert("x-ms-user-quota-resets-after", v);
    }
}

async fn run(state: &Shared, request: &ArmRequest) -> ApiResult {
    let body: QueryRequest = serde_json::from_slice(&request.body).map_err(|e| {
        ApiError::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid: {e}"),
        )
    })?;
    let plan =
        Arc::new(kql::parse(&body.query).map_err(|e| {
            ApiError::bad_request("InvalidQuery", format!("Query is invalid: {e}"))
        })?);
    let subscriptions = scope(state, request, &body)?;
    let fingerprint = subscriptions
        .iter()
        .fold(hash_str(&body.query), |h, s| hash2(h, s.as_u128() as u64));
    let page = Page::from_options(body.options.unwrap_or_default(), fingerprint)?;
    let joined = join_tables(state, &plan, &subscriptions)?;
    let matching = matching(state, plan.clone(), subscriptions, fingerprint).await?;
    let limited = plan.limit.map_or(matching.len(), |l| l.min(matching.len()));
    let now = state.estate.reference_now();
    let rows: Vec<Value> = matching
        [page.offset.min(limited)..(page.offset + page.top).min(limited)]
        .iter()
        .map(|i| {
            let row = graph_row(state, plan.table, *i);
            plan.project(plan.augment(row, now, &joined), now)
        })
        .collect();
    let next = page.offset + rows.len();
    let response = QueryResponse {
        total_records: limited,
        count: rows.len(),
        // Like Resource Graph, `limit` truncates and disables paging.
        result_truncated: if plan.limit.is_some() {
            "true"
        } else {
            "false"
        },
        skip_token: (plan.limit.is_none() && next < limited)
            .then(|| encode_token(next, fingerprint)),
        data: if page.table {
            to_table(&plan, rows)
        } else {
            Value::Array(rows)
        },
        facets: Vec::new(),
    };
    Ok(Json(response).into_response())
}

/// Which page a request asks for.
struct Page {
    offset: usize,
    top: usize,
    table: bool,
}

impl Page {
    fn from_options(options: QueryOptions, fingerprint: u64) -> Result<Self, ApiError> {
        let top = options.top.unwrap_or(100);
        if !(1..=1000).contains(&top) {
            let message = format!("The $top option must be between 1 and 1000, got {top}.");
            return Err(ApiError::bad_request("BadRequest", message));
        }
        let offset = match &options.skip_token {
            Some(token) => decode_token(token, fingerprint)?,
            None => usize::try_from(options.skip.unwrap_or(0))
                .map_err(|_| ApiError::bad_request("BadRequest", "$skip must not be negative."))?,
        };
        let table =
            matches!(options.result_format.as_deref(), Some(f) if f.eq_ignore_ascii_case("table"));
        Ok(Self {
            offset,
            top: top as usize,
            table,
        })
    }
}

/// The subscriptions a request covers, each checked against the caller's tenant.
fn scope(state: &Shared, request: &ArmRequest, body: &QueryRequest) -> Result<Vec<Uuid>, ApiError> {
    let estate = &state.estate;
    let principal = &request.principal;
    let action = "Microsoft.ResourceGraph/resources/read";
    let mut ids: Vec<Uuid> = match (&body.subscriptions, &body.management_groups) {
        (Some(subs), _) if !subs.is_empty() => subs
            .iter()
            .map(|s| authorize(estate, principal, s, action))
            .collect::<Result<_, _>>()?,
        (_, Some(groups)) if !groups.is_empty() => {
            let mut ids = Vec::new();
            for group in groups {
                // The tenant root group is named after the tenant id.
                let tenant = Uuid::parse_str(group)
                    .ok()
                    .and_then(|t| estate.tenant(t))
                    .ok_or_else(|| {
                        ApiError::new(
                            StatusCode::FORBIDDEN,
                            "AuthorizationFailed",
                            format!(
                                "The client does not have access to management group '{group}'."
                            ),
                        )
                    })?;
                for sub in estate.subscriptions_of(tenant.id) {
                    ids.push(authorize(estate, principal, &sub.id.to_string(), action)?);
                }
            }
            ids
        }
        _ => estate
            .subscriptions()
            .iter()
            .filter(|s| principal.operator || estate.home_tenant(s.id) == Some(principal.tenant_id))
            .map(|s| s.id)
            .collect(),
    };
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Indices (into the estate's resources) of the rows, in result order; cached per request.
async fn matching(
    state: &Shared,
    plan: Arc<Plan>,
    subscriptions: Vec<Uuid>,
    fingerprint: u64,
) -> Result<Arc<Vec<u32>>, ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        state.arg_cache.get_or_compute(fingerprint, || {
            Arc::new(evaluate(&state, &plan, &subscriptions))
        })
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

fn evaluate(state: &Shared, plan: &Plan, subscriptions: &[Uuid]) -> Vec<u32> {
    let estate = &state.estate;
    let now = estate.reference_now();
    let mut rows: Vec<(u32, Option<String>)> = Vec::new();
    let type_literal = plan.type_literal();
    let mut consider = |i: u32, row: &dyn Fn() -> Value| {
        if !plan.needs_rows() {
            rows.push((i, None));
            return;
        }
        let row = row();
        if plan.matches(&row, now) {
            let key = (!plan.orders_by_id_ascending())
                .then(|| plan.order_key(&row, now))
                .flatten();
            rows.push((i, key));
        }
    };
    for sub in subscriptions {
        if plan.table == Table::ResourceContainers {
            for i in estate.container_rows(*sub) {
                consider(i, &|| estate.container_json(i));
            }
            continue;
        }
        for i in estate.resource_range(*sub) {
            let resource = &estate.resources()[i];
            if type_literal.is_some_and(|t| !resource.kind().arm_type().eq_ignore_ascii_case(t)) {
                continue;
            }
            consider(i as u32, &|| estate.graph_json(resource));
        }
    }
    if let Some((_, descending)) = plan
        .order
        .as_ref()
        .filter(|_| !plan.orders_by_id_ascending())
    {
        rows.sort_by(|a, b| a.1.cmp(&b.1));
        if *descending {
            rows.reverse();
        }
    }
    rows.into_iter().map(|(i, _)| i).collect()
}

/// The right sides of the plan's joins over `subscriptions` (a few dozen containers each for
/// the library's query, so they are built again for every page rather than cached).
fn join_tables(
    state: &Shared,
    plan: &Plan,
    subscriptions: &[Uuid],
) -> Result<Vec<JoinTable>, ApiError> {
    let estate = &state.estate;
    let now = estate.reference_now();
    plan.joins
        .iter()
        .map(|join| {
            let rows = subscriptions.iter().flat_map(|sub| match join.right.table {
                Table::ResourceContainers => estate.container_rows(*sub),
                Table::Resources => estate
                    .resource_range(*sub)
                    .map(|i| i as u32)
                    .collect::<Vec<_>>(),
            });
            let rows = rows.map(|i| graph_row(state, join.right.table, i));
            join.index(rows, now).map_err(|e| {
                ApiError::bad_request("InvalidQuery", format!("Query is invalid: {e}"))
            })
        })
        .collect()
}

/// A row of `table`, its `tenantId` the subscription's current home (it may have moved).
fn graph_row(state: &Shared, table: Table, index: u32) -> Value {
    if table == Table::ResourceContainers {
        return state.estate.container_json(index);
    }
    let resource = &state.estate.resources()[index as usize];
    let mut row = state.estate.graph_json(resource);
    let home = state.estate.home_tenant(resource.subscription_id);
    if let (Some(home), Some(object)) = (home, row.as_object_mut()) {
        object.insert("tenantId".into(), Value::String(home.to_string()));
    }
    row
}

fn to_table(plan: &Plan, page: Vec<Value>) -> Value {
    let columns = plan.table_columns(page.first());
    let rows: Vec<Value> = page
        .iter()
        .map(|row| {
            Value::Array(
                columns
                    .iter()
                    .map(|(name, _)| row.get(name).cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        })
        .collect();
    let columns: Vec<Value> = columns
        .iter()
        .map(|(name, kind)| json!({"name": name, "type": kind}))
        .collect();
    json!({"columns": columns, "rows": rows})
}
