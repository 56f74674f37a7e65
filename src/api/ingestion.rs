//! `/api/v1/ingestion`: trigger an ingestion (one queue message per subscription, `202` with the
//! run id), follow a run's status, and list runs.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::pagination::{Paginated, Paging, QueryId};
use super::{AppState, Caller};
use crate::db::audit::{Action, Entry};
use crate::db::ingestion::{self, Item, NewRun, Run, Trigger};
use crate::db::subscriptions;
use crate::ingestion::fanout::{self, CostWindow};
use crate::ingestion::message::{IngestMessage, MAX_COST_WINDOW_DAYS, Mode, SCHEMA_VERSION};

/// The ingestion routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ingestion/trigger", post(trigger))
        .route("/ingestion/status/{run_id}", get(status))
        .route("/ingestion/runs", get(runs))
}

/// What to ingest.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    /// The tenant (operators only; a tenant caller's own tenant is implied).
    pub tenant_id: Option<Uuid>,
    /// AzCops or Azure subscription ids; default every active subscription of the tenant.
    #[serde(default)]
    pub subscription_ids: Vec<Uuid>,
    /// `full` (default) or `cost` (`evaluate` is `POST /api/v1/rules/evaluate`'s).
    pub mode: Option<Mode>,
    /// Cost window (both or neither; default yesterday).
    pub cost_from: Option<NaiveDate>,
    pub cost_to: Option<NaiveDate>,
}

/// The accepted run.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub run_id: Uuid,
    pub status: &'static str,
    pub subscriptions: usize,
    pub status_url: String,
}

/// A run with its items.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunStatus {
    #[serde(flatten)]
    pub run: Run,
    pub items: Vec<Item>,
}

fn window(body: &TriggerRequest) -> Result<CostWindow, ApiError> {
    let message = IngestMessage {
        v: SCHEMA_VERSION,
        run_id: None,
        tenant_id: Uuid::nil(),
        subscription_id: Uuid::nil(),
        mode: Mode::Cost,
        cost_from: body.cost_from,
        cost_to: body.cost_to,
        stage: None,
        deferrals: 0,
    };
    IngestMessage::parse(&message.to_text()).map_err(|e| {
        ApiError::BadRequest(format!(
            "{e} (both cost_from and cost_to, at most {MAX_COST_WINDOW_DAYS} days)"
        ))
    })?;
    Ok(CostWindow {
        from: body.cost_from,
        to: body.cost_to,
    })
}

/// Starts an ingestion: creates a run and enqueues one message per subscription (admins).
/// A tenant has at most one run per mode queued or running: another trigger meanwhile is a
/// `409` naming that run. Every accepted trigger is audited.
#[utoipa::path(post, path = "/api/v1/ingestion/trigger", operation_id = "triggerIngestion", tag = "ingestion",
    request_body = TriggerRequest,
    responses((status = 202, description = "The run is queued: one message per subscription.", body = Accepted),
        (status = 403, description = "Only admins trigger ingestion."),
        (status = 404, description = "A `tenant_id` the caller may not manage, or a subscription id that is not an active subscription of the tenant."),
        (status = 400, description = "A malformed body, a bad cost window, or mode `evaluate`."),
        (status = 409, description = "A run of the tenant in this mode is still queued or running (named in the message)."),
        (status = 503, description = "The ingestion queue or the database cannot be reached.")))]
pub async fn trigger(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    caller.require_admin()?;
    let body = parse_body(&body)?;
    let tenant_id = caller.tenant_for(body.tenant_id, "triggers an ingestion")?;
    let window = window(&body)?;
    let mode = body.mode.unwrap_or(Mode::Full);
    if mode == Mode::Evaluate {
        return Err(ApiError::BadRequest(
            "mode `evaluate` collects nothing: use POST /api/v1/rules/evaluate".into(),
        ));
    }
    let accepted = start_run(
        &state,
        &caller,
        tenant_id,
        mode,
        window,
        &body.subscription_ids,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}

/// Creates a run of `mode` for the tenant's active subscriptions (all, or `subscription_ids`)
/// and enqueues one message per subscription; the run is audited. A run of the same mode still
/// queued or running is a `409` naming it.
pub(super) async fn start_run(
    state: &AppState,
    caller: &Caller,
    tenant_id: Uuid,
    mode: Mode,
    window: CostWindow,
    subscription_ids: &[Uuid],
) -> Result<Accepted, ApiError> {
    let mut tx = state.begin(caller.scope).await?;
    let found = subscriptions::active_for_ingestion(&mut tx, tenant_id, subscription_ids).await?;
    check_found(subscription_ids, &found)?;
    let queue = state.queue.clone().ok_or(ApiError::Unavailable(
        "the ingestion queue is not configured",
    ))?;
    if let Some(running) = ingestion::lock_run_in_progress(&mut tx, tenant_id, mode).await? {
        return Err(ApiError::Conflict(format!(
            "run {running} of this tenant in {} mode is still queued or running; \
             try again once it has finished",
            mode_name(mode)
        )));
    }
    let new = NewRun {
        tenant_id,
        mode,
        trigger: Trigger::Api,
        schedule_slot: None,
        requested_by: Some(&caller.principal),
        cost_from: window.from,
        cost_to: window.to,
        subscriptions: &found,
    };
    let run_id = ingestion::create_run(&mut tx, &new)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("run not created")))?;
    let azure_ids: Vec<Uuid> = found.iter().map(|(_, azure)| *azure).collect();
    let after = serde_json::json!({
        "trigger": Trigger::Api, "mode": mode, "subscriptions": azure_ids,
        "cost_from": window.from, "cost_to": window.to,
    });
    let entry = Entry::new(Action::Create, "ingestion_run", run_id, None, Some(&after));
    crate::db::audit::record(&mut tx, &caller.audit(entry, tenant_id)).await?;
    tx.commit().await?;
    let texts = fanout::messages(run_id, tenant_id, mode, window, &azure_ids);
    let pool = state
        .db
        .pool()
        .await
        .map_err(|_| ApiError::Unavailable("the database is unavailable, try again shortly"))?;
    fanout::send_all(pool, queue.as_ref(), run_id, texts)
        .await
        .map_err(|e| ApiError::QueueUnavailable(e.context(format!("enqueueing run {run_id}"))))?;
    Ok(Accepted {
        run_id,
        status: "queued",
        subscriptions: found.len(),
        status_url: format!("/api/v1/ingestion/status/{run_id}"),
    })
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Full => "full",
        Mode::Cost => "cost",
        Mode::Evaluate => "evaluate",
    }
}

/// An empty body means "every active subscription, full mode".
fn parse_body(bytes: &[u8]) -> Result<TriggerRequest, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(TriggerRequest::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))
}

/// Every requested id must be one of the tenant's active subscriptions.
fn check_found(requested: &[Uuid], found: &[(Uuid, Uuid)]) -> Result<(), ApiError> {
    let missing: Vec<String> = requested
        .iter()
        .filter(|id| !found.iter().any(|(db, azure)| db == *id || azure == *id))
        .map(Uuid::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::NotFoundNamed(format!(
            "no active subscription of the tenant has id {}",
            missing.join(", ")
        )));
    }
    if found.is_empty() {
        return Err(ApiError::BadRequest(
            "the tenant has no active subscriptions to ingest".into(),
        ));
    }
    Ok(())
}

/// A run's status and items.
#[utoipa::path(get, path = "/api/v1/ingestion/status/{run_id}", operation_id = "getIngestionRun", tag = "ingestion",
    params(("run_id" = Uuid, Path)),
    responses((status = 200, description = "The run's status and its items, one per subscription.", body = RunStatus),
        (status = 404, description = "No run with this id that the caller may see.")))]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    Path(run_id): Path<Uuid>,
) -> Result<Json<RunStatus>, ApiError> {
    let mut tx = state.begin(caller.scope).await?;
    let run = ingestion::get_run(&mut tx, caller.tenant(), run_id)
        .await?
        .ok_or(ApiError::NotFound("ingestion run"))?;
    let items = ingestion::items(&mut tx, run_id).await?;
    tx.commit().await?;
    Ok(Json(RunStatus { run, items }))
}

/// Paging for the run list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListRuns {
    #[param(minimum = 1, maximum = 4_294_967_295_i64)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<i64>,
    /// The `next_cursor` of the page before, instead of `page`: the page after it, at the cost
    /// of a first page however deep. Another list's or caller's cursor is a 400.
    #[param(min_length = 1, max_length = 4096)]
    pub cursor: Option<String>,
    /// Count all matching rows into `total` and `total_pages` (a full count, which costs what
    /// reading every matching row costs). Default: false, and `total` is null.
    pub include_total: Option<bool>,
}

impl ListRuns {
    fn paging(&mut self) -> Paging {
        Paging {
            page: self.page,
            page_size: self.page_size,
            cursor: self.cursor.take(),
            include_total: self.include_total,
        }
    }
}

/// Runs, newest first.
///
/// By page number, or by `cursor` (a page's `next_cursor`) at the cost of a first page however
/// deep; `total` is counted only on request
/// (`include_total=true`).
#[utoipa::path(get, path = "/api/v1/ingestion/runs", operation_id = "listIngestionRuns", tag = "ingestion",
    params(ListRuns),
    responses((status = 200, description = "One page of runs, newest first (then by id, descending).", body = Paginated<Run>)))]
pub async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut p): Query<ListRuns>,
) -> Result<Json<Paginated<Run>>, ApiError> {
    let tenant_id = caller.tenant();
    let query = QueryId::of("ingestion runs", &tenant_id);
    let page = p.paging().read(query)?;
    let mut tx = state.begin(caller.scope).await?;
    let listed = ingestion::list_runs(&mut tx, tenant_id, &page).await?;
    tx.commit().await?;
    Ok(Json(Paginated::new(listed, &page, query, Run::key)?))
}
