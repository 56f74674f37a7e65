//! `/api/v1/costs/anomalies`: the cost anomalies detection found (list, one), a person's
//! acknowledgement (`PATCH`: acknowledged, expected, or open again; audited), and detection on
//! request (`POST …/detect`, admins). Detection itself is [`crate::anomalies`].

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::Days;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::costs::MAX_RANGE_DAYS;
use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::pagination::{Paginated, Paging, QueryId};
use super::recommendations::tenant_filter;
use super::resources::text_filter;
use super::{AppState, Caller};
use crate::db::anomalies::{self, Anomaly, AnomalyFilter, AnomalyKey};
use crate::db::audit::{Action, Entry};
use crate::db::subscriptions;

const MAX_REASON_CHARS: usize = 2000;

/// The anomaly routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/costs/anomalies", get(list))
        .route("/costs/anomalies/detect", post(detect))
        .route("/costs/anomalies/{id}", get(read).patch(update))
}

/// How bad an anomaly is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

/// Where an anomaly is in its review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnomalyStatus {
    Open,
    Acknowledged,
    Expected,
}

impl AnomalyStatus {
    fn as_str(self) -> &'static str {
        match self {
            AnomalyStatus::Open => "open",
            AnomalyStatus::Acknowledged => "acknowledged",
            AnomalyStatus::Expected => "expected",
        }
    }
}

/// Filters and paging for anomalies. Dates are `YYYY-MM-DD`, both ends included: anomalies
/// whose days overlap `from..=to`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListAnomalies {
    /// Only this tenant's (operators); a tenant caller always sees only its own.
    pub tenant_id: Option<Uuid>,
    /// An AzCops subscription id or the Azure subscription id.
    pub subscription_id: Option<Uuid>,
    /// Anomalies of this service's series, or with this service among their contributors.
    #[param(min_length = 1, max_length = 400)]
    pub service_name: Option<String>,
    #[param(inline)]
    pub severity: Option<Severity>,
    #[param(inline)]
    pub status: Option<AnomalyStatus>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    #[param(minimum = 1, maximum = 4_294_967_295_i64)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<i64>,
    /// The `next_cursor` of the page before (with the same filters), instead of `page`.
    #[param(min_length = 1, max_length = 4096)]
    pub cursor: Option<String>,
    /// Count all matching rows into `total` and `total_pages` (a full count, which costs what
    /// reading every matching row costs). Default: false, and `total` is null.
    pub include_total: Option<bool>,
}

impl ListAnomalies {
    fn filter(&self, tenant_id: Option<Uuid>) -> Result<AnomalyFilter, ApiError> {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(ApiError::BadRequest(format!(
                    "from ({from}) is after to ({to})"
                )));
            }
            if (to - from).num_days() >= MAX_RANGE_DAYS as i64 {
                return Err(ApiError::BadRequest(format!(
                    "the date range may cover at most {MAX_RANGE_DAYS} days"
                )));
            }
        }
        let lower = |s: Option<&str>| s.map(str::to_owned);
        Ok(AnomalyFilter {
            tenant_id,
            subscription: self.subscription_id,
            service_name: text_filter("service_name", self.service_name.clone(), false)?,
            severity: lower(self.severity.map(|s| match s {
                Severity::Low => "low",
                Severity::Medium => "medium",
                Severity::High => "high",
            })),
            status: lower(self.status.map(AnomalyStatus::as_str)),
            from: self.from,
            to: self.to,
        })
    }
}

/// Lists cost anomalies, latest end first.
///
/// By page number, or by `cursor` (a page's `next_cursor`).
#[utoipa::path(get, path = "/api/v1/costs/anomalies", operation_id = "listCostAnomalies", tag = "costs",
    params(ListAnomalies),
    responses((status = 200, description = "One page of anomalies, latest end day first, then by id (descending).", body = Paginated<Anomaly>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut p): Query<ListAnomalies>,
) -> Result<Json<Paginated<Anomaly>>, ApiError> {
    let paging = Paging {
        page: p.page,
        page_size: p.page_size,
        cursor: p.cursor.take(),
        include_total: p.include_total,
    };
    let tenant_id = tenant_filter(&caller, p.tenant_id);
    let filter = p.filter(tenant_id.flatten())?;
    let query = QueryId::of("cost_anomalies", &filter);
    let page = paging.read::<AnomalyKey>(query)?;
    if tenant_id.is_none() {
        return Ok(Json(Paginated::empty(&page)));
    }
    let mut tx = state.begin(caller.scope).await?;
    let listed = anomalies::list(&mut tx, &filter, &page).await?;
    tx.commit().await?;
    Ok(Json(Paginated::new(listed, &page, query, Anomaly::key)?))
}

/// Reads one anomaly.
#[utoipa::path(get, path = "/api/v1/costs/anomalies/{id}", operation_id = "getCostAnomaly", tag = "costs",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The anomaly with its contributors.", body = Anomaly),
        (status = 404, description = "No anomaly with this id that the caller may see.")))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Anomaly>, ApiError> {
    let mut tx = state.begin(caller.scope).await?;
    let anomaly = anomalies::get(&mut tx, caller.tenant(), id)
        .await?
        .ok_or(ApiError::NotFound("anomaly"))?;
    tx.commit().await?;
    Ok(Json(anomaly))
}

/// A person's review of an anomaly.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnomalyUpdate {
    /// `acknowledged`, `expected`, or `open` to reopen.
    pub status: AnomalyStatus,
    /// Why (up to 2000 characters).
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
    /// The status the caller saw: when it is no longer the status, `409 status_changed`.
    pub expected_status: Option<AnomalyStatus>,
}

/// Acknowledges an anomaly, marks it expected, or reopens it (audited).
#[utoipa::path(patch, path = "/api/v1/costs/anomalies/{id}", operation_id = "updateCostAnomaly", tag = "costs",
    params(("id" = Uuid, Path)), request_body = AnomalyUpdate,
    responses((status = 200, description = "The anomaly after the change.", body = Anomaly),
        (status = 403, description = "Readers change nothing (AzCops.Approver or AzCops.Admin)."),
        (status = 404, description = "No anomaly with this id that the caller may see."),
        (status = 409, description = "`status_changed`: not in `expected_status` any more; `invalid_transition`: it already has this status.")))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<AnomalyUpdate>,
) -> Result<Json<Anomaly>, ApiError> {
    caller.require_approver()?;
    let reason = body
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    if reason.is_some_and(|r| r.chars().count() > MAX_REASON_CHARS) {
        return Err(ApiError::BadRequest(format!(
            "reason may have at most {MAX_REASON_CHARS} characters"
        )));
    }
    if reason.is_some_and(|r| r.contains('\0')) {
        return Err(ApiError::BadRequest("reason may not contain U+0000".into()));
    }
    let now = state.now();
    let mut tx = state.begin(caller.scope).await?;
    let (tenant_id, status) = anomalies::lock(&mut tx, caller.tenant(), id)
        .await?
        .ok_or(ApiError::NotFound("anomaly"))?;
    if let Some(expected) = body.expected_status.filter(|e| e.as_str() != status) {
        return Err(ApiError::ConflictCode {
            code: "status_changed",
            message: format!(
                "the anomaly is {status}, not {} as expected",
                expected.as_str()
            ),
        });
    }
    let to = body.status.as_str();
    if to == status {
        return Err(ApiError::ConflictCode {
            code: "invalid_transition",
            message: format!("the anomaly is already {status}"),
        });
    }
    let before = anomalies::get(&mut tx, Some(tenant_id), id).await?;
    anomalies::set_status(
        &mut tx,
        (tenant_id, id),
        to,
        reason,
        (&caller.principal, now),
    )
    .await?;
    let after = anomalies::get(&mut tx, Some(tenant_id), id)
        .await?
        .ok_or(ApiError::NotFound("anomaly"))?;
    let image = |a: Option<&Anomaly>| {
        a.map(|a| serde_json::json!({"status": a.status, "status_reason": a.status_reason}))
    };
    let entry = Entry::new(
        Action::Update,
        "cost_anomaly",
        id,
        image(before.as_ref()).as_ref(),
        image(Some(&after)).as_ref(),
    );
    crate::db::audit::record(&mut tx, &caller.audit(entry, tenant_id)).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Which subscriptions to run detection for.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DetectRequest {
    /// The tenant (operators only; a tenant caller's own tenant is implied).
    pub tenant_id: Option<Uuid>,
    /// An AzCops or Azure subscription id; default every active subscription of the tenant.
    pub subscription_id: Option<Uuid>,
}

/// What a detection run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetectAccepted {
    /// `done`: detection ran before the answer.
    pub status: &'static str,
    pub subscriptions: usize,
    /// Anomalies stored (new or found again).
    pub anomalies: usize,
}

/// Runs anomaly detection now over the last 90 days of the tenant's subscriptions (or one).
#[utoipa::path(post, path = "/api/v1/costs/anomalies/detect", operation_id = "detectCostAnomalies", tag = "costs",
    request_body = DetectRequest,
    responses((status = 202, description = "Detection ran; what it stored.", body = DetectAccepted),
        (status = 403, description = "Only AzCops.Admin runs detection."),
        (status = 404, description = "The named subscription is not one of the tenant's active subscriptions.")))]
pub async fn detect(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<DetectRequest>,
) -> Result<(StatusCode, Json<DetectAccepted>), ApiError> {
    caller.require_admin()?;
    let tenant_id = caller.tenant_for(body.tenant_id, "runs detection")?;
    let last_day = state.now().date_naive() - Days::new(1);
    let ids: Vec<Uuid> = body.subscription_id.into_iter().collect();
    let mut tx = state.begin(caller.scope).await?;
    let subs = subscriptions::active_for_ingestion(&mut tx, tenant_id, &ids).await?;
    if subs.is_empty() && !ids.is_empty() {
        return Err(ApiError::NotFound("subscription"));
    }
    let mut stored = 0;
    for (db_id, _) in &subs {
        let report =
            crate::anomalies::detect_subscription(&mut tx, tenant_id, *db_id, last_day).await?;
        stored += report.anomalies;
    }
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(DetectAccepted {
            status: "done",
            subscriptions: subs.len(),
            anomalies: stored,
        }),
    ))
}
