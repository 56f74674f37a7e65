//! Export jobs: `POST /api/v1/exports` queues a large export (any list, or costs in FOCUS),
//! `GET /api/v1/exports` lists the tenant's jobs, `GET /api/v1/exports/{id}` gives one with,
//! once written, a short-lived read-only download link: a SAS of the file's blob when the lake
//! is a blob container, else a link `GET /api/v1/exports/{id}/download` serves (its signature
//! stands for the token; see [`crate::api::export::runtime::ExportJobs::download_link`]).

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use object_store::ObjectStoreExt;

use super::Format;
use super::costs::ExportCosts;
use super::recommendations::ExportRecommendations;
use super::resources::ExportResources;
use crate::api::error::ApiError;
use crate::api::export::runtime::link::LinkError;
use crate::api::export::runtime::worker::file_name;
use crate::api::extract::{Json, Path, Query};
use crate::api::pagination::{Paginated, Paging, QueryId};
use crate::api::{AppState, Caller};
use crate::db::Scope;
use crate::db::export_jobs::{self, ExportJob};

/// The export job routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/exports", get(list).post(create))
        .route("/exports/{id}", get(show))
        .route("/exports/{id}/download", get(download))
}

/// What an export job exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum What {
    /// Daily cost rows, as `GET /api/v1/costs/export.csv`.
    Costs,
    /// Daily cost rows in FOCUS 1.2, as `GET /api/v1/costs/export.focus.csv`.
    Focus,
    /// The inventory, as `GET /api/v1/resources/export.csv`.
    Resources,
    /// Recommendations, as `GET /api/v1/recommendations/export.csv`.
    Recommendations,
}

impl What {
    fn as_str(self) -> &'static str {
        match self {
            What::Costs => "costs",
            What::Focus => "focus",
            What::Resources => "resources",
            What::Recommendations => "recommendations",
        }
    }
}

/// An export to run as a job.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExport {
    pub what: What,
    /// `csv` (default) or `jsonl`.
    pub format: Option<Format>,
    /// The filters of the matching synchronous export (e.g. `{"from": "2026-11-01", "to":
    /// "2026-11-30"}` for costs), as an object; none exports everything.
    #[schema(value_type = Option<Object>)]
    pub filters: Option<serde_json::Value>,
    /// The tenant (operators only; a tenant caller's own tenant is implied).
    pub tenant_id: Option<Uuid>,
}

/// A download link.
#[derive(Debug, Serialize, ToSchema)]
pub struct Download {
    /// The URL to GET, no token needed: with a blob lake (Azure, Azurite) a read-only SAS URL
    /// of the file's blob in the lake's storage account (in Azure a user-delegation SAS); with
    /// a local folder lake the handler's own path and query, `/api/v1/exports/{id}/download?…`.
    pub url: String,
    pub expires_at: DateTime<Utc>,
    /// The file's name: `{what}.{csv|jsonl}.gz` (gzip).
    pub file_name: String,
}

/// An export job, and a download link once it succeeded.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportJobView {
    #[serde(flatten)]
    pub job: ExportJob,
    /// A short-lived download link of the compressed file; null until the job succeeded.
    pub download: Option<Download>,
}

/// Filters and paging of the job list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListExports {
    /// Only this tenant's (operators); a tenant caller always sees only its own.
    pub tenant_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 4_294_967_295_i64)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<i64>,
    /// The `next_cursor` of the page before (with the same filters), instead of `page`: the
    /// page after it, at the cost of a first page however deep. Another list's or filter's
    /// cursor is a 400.
    #[param(min_length = 1, max_length = 4096)]
    pub cursor: Option<String>,
    /// Count all matching rows into `total` and `total_pages` (a full count, which costs what
    /// reading every matching row costs). Default: false, and `total` is null.
    pub include_total: Option<bool>,
}

/// The signed link's query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DownloadQuery {
    /// The job's tenant.
    pub tenant: Uuid,
    /// When the link stops working (Unix seconds).
    pub expires: i64,
    /// The link's signature.
    #[param(max_length = 100)]
    pub sig: String,
}

/// Checks `filters` as the synchronous export of `what` would for `caller`.
fn check_filters(
    what: What,
    filters: &serde_json::Value,
    caller: &Caller,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let bad = |e: serde_json::Error| ApiError::BadRequest(format!("invalid filters: {e}"));
    match what {
        What::Costs | What::Focus => {
            serde_json::from_value::<ExportCosts>(filters.clone())
                .map_err(bad)?
                .filter(caller)?;
        }
        What::Resources => {
            serde_json::from_value::<ExportResources>(filters.clone())
                .map_err(bad)?
                .filter(caller)?;
        }
        What::Recommendations => {
            serde_json::from_value::<ExportRecommendations>(filters.clone())
                .map_err(bad)?
                .filter(caller, at)?;
        }
    }
    Ok(())
}

async fn view(state: &AppState, job: ExportJob) -> ExportJobView {
    let download = match (&state.export_jobs, job.status.as_str(), &job.lake_path) {
        (Some(jobs), "succeeded", Some(path)) => {
            let link = jobs
                .download_link(job.tenant_id, job.id, path, state.now())
                .await;
            Some(Download {
                url: link.url,
                expires_at: link.expires_at,
                file_name: file_name(&job),
            })
        }
        _ => None,
    };
    ExportJobView { job, download }
}

/// Starts an export job.
///
/// The export runs through the queue and writes one gzip-compressed file (CSV or JSON Lines)
/// to the lake under the tenant's prefix, beside a `focus-metadata.json` for FOCUS; poll `GET
/// /api/v1/exports/{id}` for its status, row count, SHA-256 and download link.
#[utoipa::path(post, path = "/api/v1/exports", operation_id = "createExport", tag = "exports",
    request_body = CreateExport,
    responses((status = 202, description = "The job is queued.", body = ExportJobView),
        (status = 400, description = "A malformed body or invalid filters."),
        (status = 404, description = "A `tenant_id` the caller may not use."),
        (status = 503, description = "Export jobs are not configured (queue and lake), or the queue cannot be reached.")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: CreateExport = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))?;
    let tenant_id = caller.tenant_for(body.tenant_id, "starts an export job")?;
    let filters = body
        .filters
        .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
    if !filters.is_object() {
        return Err(ApiError::BadRequest("filters must be an object".into()));
    }
    let as_tenant = Caller {
        scope: Scope::Tenant(tenant_id),
        ..caller.clone()
    };
    check_filters(body.what, &filters, &as_tenant, state.now())?;
    let jobs = state.export_jobs.clone().ok_or(ApiError::Unavailable(
        "export jobs are not configured on this instance (a queue and AZCOPS_LAKE_URL)",
    ))?;
    let format = body.format.unwrap_or(Format::Csv);
    // An operator may name any tenant (one that does not exist is the 404 below); a tenant's
    // caller names its own, checked as its other requests are.
    let mut tx = if caller.scope == Scope::Operator {
        state.begin_unchecked(Scope::Tenant(tenant_id)).await?
    } else {
        state.begin(Scope::Tenant(tenant_id)).await?
    };
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)")
        .bind(tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        return Err(ApiError::NotFound("tenant"));
    }
    let job = export_jobs::create(
        &mut tx,
        tenant_id,
        body.what.as_str(),
        format.as_str(),
        &filters,
        &caller.principal,
    )
    .await?;
    tx.commit().await?;
    if let Err(e) = jobs.enqueue(tenant_id, job.id).await {
        let mut tx = state.begin_unchecked(Scope::Tenant(tenant_id)).await?;
        export_jobs::fail(
            &mut tx,
            job.id,
            "the export queue could not be reached",
            true,
        )
        .await?;
        tx.commit().await?;
        return Err(ApiError::QueueUnavailable(e));
    }
    tracing::info!(export.id = %job.id, what = body.what.as_str(), format = format.as_str(), "export job queued");
    let location = format!("/api/v1/exports/{}", job.id);
    let mut response = (StatusCode::ACCEPTED, Json(view(&state, job).await)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Lists export jobs, newest first.
#[utoipa::path(get, path = "/api/v1/exports", operation_id = "listExports", tag = "exports",
    params(ListExports),
    responses((status = 200, description = "One page of the tenant's export jobs, newest first.", body = Paginated<ExportJobView>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ListExports>,
) -> Result<Json<Paginated<ExportJobView>>, ApiError> {
    let paging = Paging {
        page: p.page,
        page_size: p.page_size,
        cursor: p.cursor,
        include_total: p.include_total,
    };
    let tenant_id = match (caller.tenant(), p.tenant_id) {
        (Some(own), Some(named)) if own != named => None,
        (Some(own), _) => Some(Some(own)),
        (None, named) => Some(named),
    };
    let query = QueryId::of("exports", &tenant_id);
    let page = paging.read(query)?;
    let Some(tenant_id) = tenant_id else {
        return Ok(Json(Paginated::empty(&page)));
    };
    let mut tx = state.begin(caller.scope).await?;
    let listed = export_jobs::list(&mut tx, tenant_id, &page).await?;
    tx.commit().await?;
    let page = Paginated::new(listed, &page, query, ExportJob::key)?;
    Ok(Json(Paginated {
        items: futures::future::join_all(page.items.into_iter().map(|j| view(&state, j))).await,
        page: page.page,
        page_size: page.page_size,
        total: page.total,
        total_pages: page.total_pages,
        next_cursor: page.next_cursor,
    }))
}

/// Gets an export job.
///
/// Its status (`queued`, `running`, `succeeded`, `failed` with `error`), row count, size and
/// SHA-256 of the compressed file, and once it succeeded a download link valid for
/// `AZCOPS_EXPORT_LINK_TTL_SECS` (a new one at each call).
#[utoipa::path(get, path = "/api/v1/exports/{id}", operation_id = "getExport", tag = "exports",
    params(("id" = Uuid, Path, description = "The export job id.")),
    responses((status = 200, description = "The job.", body = ExportJobView),
        (status = 404, description = "No such job of the caller's tenant.")))]
pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<ExportJobView>, ApiError> {
    let mut tx = state.begin(caller.scope).await?;
    let job = export_jobs::get(&mut tx, id).await?;
    tx.commit().await?;
    let job = job.ok_or(ApiError::NotFound("export"))?;
    Ok(Json(view(&state, job).await))
}

/// Downloads a finished export's file.
///
/// The link `GET /api/v1/exports/{id}` hands out: its signature and expiry stand for a token
/// (none is needed). The body is the gzip-compressed file as written.
#[utoipa::path(get, path = "/api/v1/exports/{id}/download", operation_id = "downloadExport", tag = "exports",
    params(("id" = Uuid, Path, description = "The export job id."), DownloadQuery),
    security(()),
    responses((status = 200, description = "The compressed file.", body = String, content_type = "application/gzip"),
        (status = 400, description = "A malformed id or link query."),
        (status = 403, description = "The link is altered, expired, signed with another key, or export jobs are not configured on this instance."),
        (status = 404, description = "No such finished job.")))]
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    Query(q): Query<DownloadQuery>,
) -> Result<Response, ApiError> {
    // Without export jobs there is no key: no link can be valid here.
    let jobs = state.export_jobs.clone().ok_or(ApiError::Forbidden(
        "this download link is not valid on this instance (export jobs are not configured)",
    ))?;
    jobs.links
        .verify(q.tenant, id, q.expires, &q.sig, state.now())
        .map_err(|e| match e {
            LinkError::Expired => ApiError::Forbidden(
                "this download link has expired: GET /api/v1/exports/{id} gives a new one",
            ),
            LinkError::Invalid => ApiError::Forbidden("this download link is not valid"),
        })?;
    let mut tx = state.begin(Scope::Tenant(q.tenant)).await?;
    let job = export_jobs::get(&mut tx, id).await?;
    tx.commit().await?;
    let job = job
        .filter(|j| j.status == "succeeded")
        .ok_or(ApiError::NotFound("export"))?;
    let path = job.lake_path.clone().ok_or(ApiError::NotFound("export"))?;
    let lake = jobs.lake().await.map_err(ApiError::internal)?;
    let got = lake
        .store()
        .get(&object_store::path::Path::from(path))
        .await
        .map_err(|e| match e {
            object_store::Error::NotFound { .. } => ApiError::NotFound("export file"),
            other => ApiError::internal(anyhow::anyhow!(crate::storage::redact_sas(
                &other.to_string()
            ))),
        })?;
    let stream = futures::TryStreamExt::map_err(got.into_stream(), std::io::Error::other);
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}-{}\"",
        job.id,
        file_name(&job)
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
