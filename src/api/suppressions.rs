//! `/api/v1/suppressions`: what a tenant hides from its recommendation lists and totals
//! (PHASE3 §3). Everyone reads them; admins create, change and remove them, each change
//! audited. A suppressed finding keeps its status; `include_suppressed=true` shows it.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::pagination::{Paginated, Paging, QueryId};
use super::resources::text_filter;
use super::{AppState, Caller};
use crate::db::audit::{self, Action, Entry};
use crate::db::suppressions::{
    self, NewSuppression, Suppression, SuppressionChanges, SuppressionFilter, SuppressionKind,
    SuppressionScope, SuppressionTarget,
};

const TARGET: &str = "suppression";
/// Longest snooze.
pub const MAX_SNOOZE_DAYS: i64 = 365;
const MAX_REASON_CHARS: usize = 2000;

/// The suppression routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/suppressions", get(list).post(create))
        .route(
            "/suppressions/{id}",
            axum::routing::patch(update).delete(remove),
        )
}

/// A suppression to create. The scope says which of `subscription_id`, `resource_group`,
/// `resource_id`, `tag_key` and `tag_value` it needs (and allows); the target which of
/// `rule_id` and `category`; a snooze needs `expires_at`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSuppression {
    /// The tenant: required for operator callers, implied for tenant callers.
    pub tenant_id: Option<Uuid>,
    pub scope: SuppressionScope,
    /// Scope `subscription` (required) or `resource_group` (optional): an AzCops or Azure id.
    pub subscription_id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 400)]
    pub resource_group: Option<String>,
    /// Scope `resource`: the ARM id.
    #[schema(min_length = 1, max_length = 400)]
    pub resource_id: Option<String>,
    #[schema(min_length = 1, max_length = 400)]
    pub tag_key: Option<String>,
    #[schema(min_length = 1, max_length = 400)]
    pub tag_value: Option<String>,
    pub target: SuppressionTarget,
    #[schema(min_length = 1, max_length = 400)]
    pub rule_id: Option<String>,
    #[schema(min_length = 1, max_length = 400)]
    pub category: Option<String>,
    pub kind: SuppressionKind,
    /// Kind `snooze` (required): in the future, at most 365 days ahead.
    pub expires_at: Option<DateTime<Utc>>,
    /// Why (1–2000 characters).
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// Changes to a suppression's duration or reason; absent fields are kept. Scope and target
/// are fixed: remove it and create another.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSuppression {
    pub kind: Option<SuppressionKind>,
    /// Required when it becomes a snooze.
    pub expires_at: Option<DateTime<Utc>>,
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: Option<String>,
}

/// Filters and paging for the suppression list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListSuppressions {
    /// Only this tenant's (operators); a tenant caller always sees only its own.
    pub tenant_id: Option<Uuid>,
    /// Only those in force now (true) or only ended snoozes (false).
    pub active: Option<bool>,
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

impl ListSuppressions {
    fn paging(&mut self) -> Paging {
        Paging {
            page: self.page,
            page_size: self.page_size,
            cursor: self.cursor.take(),
            include_total: self.include_total,
        }
    }
}

fn valid_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::BadRequest(format!(
            "reason must be 1 to {MAX_REASON_CHARS} characters"
        )));
    }
    Ok(reason.to_owned())
}

fn valid_expiry(
    kind: SuppressionKind,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    match (kind, expires_at) {
        (SuppressionKind::Exclude, None) => Ok(None),
        (SuppressionKind::Exclude, Some(_)) => Err(ApiError::BadRequest(
            "expires_at is only for snoozes; an exclusion lasts until removed".into(),
        )),
        (SuppressionKind::Snooze, None) => {
            Err(ApiError::BadRequest("a snooze needs expires_at".into()))
        }
        (SuppressionKind::Snooze, Some(at))
            if at <= now || at > now + Duration::days(MAX_SNOOZE_DAYS) =>
        {
            Err(ApiError::BadRequest(format!(
                "expires_at must be in the future and at most {MAX_SNOOZE_DAYS} days ahead"
            )))
        }
        (SuppressionKind::Snooze, at) => Ok(at),
    }
}

/// Refuses a field the scope or target does not use, and asks for one it needs.
fn fields_fit(body: &CreateSuppression) -> Result<(), ApiError> {
    use SuppressionScope as S;
    let given = [
        ("subscription_id", body.subscription_id.is_some()),
        ("resource_group", body.resource_group.is_some()),
        ("resource_id", body.resource_id.is_some()),
        ("tag_key", body.tag_key.is_some()),
        ("tag_value", body.tag_value.is_some()),
        ("rule_id", body.rule_id.is_some()),
        ("category", body.category.is_some()),
    ];
    let (needed, allowed): (&[&str], &[&str]) = match body.scope {
        S::Tenant => (&[], &[]),
        S::Subscription => (&["subscription_id"], &["subscription_id"]),
        S::ResourceGroup => (&["resource_group"], &["resource_group", "subscription_id"]),
        S::Resource => (&["resource_id"], &["resource_id"]),
        S::Tag => (&["tag_key", "tag_value"], &["tag_key", "tag_value"]),
    };
    let (target_field, target_name): (&[&str], &str) = match body.target {
        SuppressionTarget::Rule => (&["rule_id"], "rule"),
        SuppressionTarget::Category => (&["category"], "category"),
        SuppressionTarget::All => (&[], "all"),
    };
    for (field, present) in given {
        let wanted = needed.contains(&field) || target_field.contains(&field);
        let permitted = allowed.contains(&field) || target_field.contains(&field);
        if wanted && !present {
            return Err(ApiError::BadRequest(format!(
                "{field} is required for this scope and target (target {target_name})"
            )));
        }
        if present && !permitted {
            return Err(ApiError::BadRequest(format!(
                "{field} does not apply to this scope and target (target {target_name})"
            )));
        }
    }
    Ok(())
}

/// Creates a suppression (admins).
#[utoipa::path(post, path = "/api/v1/suppressions", operation_id = "createSuppression", tag = "suppressions",
    request_body = CreateSuppression,
    responses((status = 201, description = "The suppression, at the `Location` given.", body = Suppression),
        (status = 403, description = "Only admins create suppressions."),
        (status = 404, description = "No tenant or subscription with this id that the caller may manage.")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateSuppression>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<Suppression>,
    ),
    ApiError,
> {
    caller.require_admin()?;
    let tenant_id = caller.tenant_for(body.tenant_id, "creates a suppression")?;
    fields_fit(&body)?;
    let now = state.now();
    let mut tx = state.begin(caller.scope).await?;
    let subscription_db_id = match body.subscription_id {
        Some(id) => Some(
            suppressions::subscription_of(&mut tx, tenant_id, id)
                .await?
                .ok_or(ApiError::NotFound("subscription"))?,
        ),
        None => None,
    };
    let new = NewSuppression {
        tenant_id,
        scope: body.scope,
        subscription_db_id,
        resource_group: text_filter("resource_group", body.resource_group, true)?,
        resource_id: text_filter("resource_id", body.resource_id, true)?,
        tag_key: text_filter("tag_key", body.tag_key, false)?,
        tag_value: text_filter("tag_value", body.tag_value, false)?,
        target: body.target,
        rule_id: text_filter("rule_id", body.rule_id, false)?,
        category: text_filter("category", body.category, false)?,
        kind: body.kind,
        expires_at: valid_expiry(body.kind, body.expires_at, now)?,
        reason: valid_reason(&body.reason)?,
        author: caller.principal.clone(),
    };
    let created = suppressions::insert(&mut tx, &new).await?;
    let entry = Entry::new(Action::Create, TARGET, created.id, None, Some(&created));
    audit::record(&mut tx, &caller.audit(entry, tenant_id)).await?;
    tx.commit().await?;
    let location = format!("/api/v1/suppressions/{}", created.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(created),
    ))
}

/// Lists suppressions.
///
/// By page number, or by `cursor` (a page's `next_cursor`) at the cost of a first page however
/// deep; `total` is counted only on request
/// (`include_total=true`).
#[utoipa::path(get, path = "/api/v1/suppressions", operation_id = "listSuppressions", tag = "suppressions",
    params(ListSuppressions),
    responses((status = 200, description = "One page of suppressions, newest first (then by id, descending).", body = Paginated<Suppression>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut params): Query<ListSuppressions>,
) -> Result<Json<Paginated<Suppression>>, ApiError> {
    let paging = params.paging();
    let (tenant_id, elsewhere) = match caller.tenant() {
        Some(own) => (Some(own), params.tenant_id.is_some_and(|t| t != own)),
        None => (params.tenant_id, false),
    };
    let filter = SuppressionFilter {
        tenant_id,
        active: params.active,
        at: state.now(),
    };
    // The time changes with every request: the cursor keeps to the rest.
    let query = QueryId::of(
        "suppressions",
        &SuppressionFilter {
            at: DateTime::UNIX_EPOCH,
            ..filter
        },
    );
    let page = paging.read(query)?;
    if elsewhere {
        return Ok(Json(Paginated::empty(&page)));
    }
    let mut tx = state.begin(caller.scope).await?;
    let listed = suppressions::list(&mut tx, filter, &page).await?;
    tx.commit().await?;
    Ok(Json(Paginated::new(
        listed,
        &page,
        query,
        Suppression::key,
    )?))
}

/// Changes how long a suppression lasts, or its reason (admins).
#[utoipa::path(patch, path = "/api/v1/suppressions/{id}", operation_id = "updateSuppression", tag = "suppressions",
    params(("id" = Uuid, Path)), request_body = UpdateSuppression,
    responses((status = 200, description = "The suppression as changed.", body = Suppression),
        (status = 403, description = "Only admins change suppressions."),
        (status = 404, description = "No suppression with this id that the caller may see.")))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateSuppression>,
) -> Result<Json<Suppression>, ApiError> {
    caller.require_admin()?;
    let now = state.now();
    let mut tx = state.begin(caller.scope).await?;
    let before = suppressions::lock(&mut tx, caller.tenant(), id)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    let kind = body.kind.unwrap_or(before.kind);
    let expires_at = match (body.expires_at, kind) {
        (None, SuppressionKind::Snooze) if body.kind.is_none() => before.expires_at,
        (given, _) => valid_expiry(kind, given, now)?,
    };
    let changes = SuppressionChanges {
        kind,
        expires_at,
        reason: valid_reason(body.reason.as_deref().unwrap_or(&before.reason))?,
        author: caller.principal.clone(),
    };
    let after = suppressions::update(&mut tx, id, &changes).await?;
    if after != before {
        let entry = Entry::new(Action::Update, TARGET, id, Some(&before), Some(&after));
        audit::record(&mut tx, &caller.audit(entry, after.tenant_id)).await?;
    }
    tx.commit().await?;
    Ok(Json(after))
}

/// Removes a suppression (admins): its findings show again.
#[utoipa::path(delete, path = "/api/v1/suppressions/{id}", operation_id = "deleteSuppression", tag = "suppressions",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "The suppression is removed."),
        (status = 403, description = "Only admins remove suppressions."),
        (status = 404, description = "No suppression with this id that the caller may see.")))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    let mut tx = state.begin(caller.scope).await?;
    let existing = suppressions::lock(&mut tx, caller.tenant(), id)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    suppressions::delete(&mut tx, id).await?;
    let entry = Entry::new(Action::Delete, TARGET, id, Some(&existing), None);
    audit::record(&mut tx, &caller.audit(entry, existing.tenant_id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
