//! `/api/v1/tenants`: register, list, read, change and delete tenants.
//!
//! Operator admins manage every tenant; a customer tenant's callers see only their own.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::get;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::pagination::{Paginated, Paging, QueryId};
use super::{AppState, Caller};
use crate::db::audit::{Action, Entry};
use crate::db::tenants::{self, NewTenant, Tenant, TenantChanges, TenantType};

const TARGET: &str = "tenant";

/// The tenant routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tenants", get(list).post(create))
        .route("/tenants/{id}", get(read).patch(update).delete(remove))
}

/// A tenant to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Display name, 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// The Entra ID tenant id.
    pub azure_tenant_id: Uuid,
    /// Defaults to `external`.
    #[serde(rename = "type")]
    pub tenant_type: Option<TenantType>,
    /// Defaults to true.
    pub is_active: Option<bool>,
}

/// Changes to a tenant; absent fields are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub tenant_type: Option<TenantType>,
    pub is_active: Option<bool>,
}

/// Paging for the tenant list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListTenants {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 4_294_967_295_i64)]
    pub page: Option<i64>,
    /// 1–500, default 50.
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

impl ListTenants {
    fn paging(&mut self) -> Paging {
        Paging {
            page: self.page,
            page_size: self.page_size,
            cursor: self.cursor.take(),
            include_total: self.include_total,
        }
    }
}

/// Trims a display name and checks its length.
pub fn valid_name(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::BadRequest(format!(
            "{field} must be 1 to 200 characters"
        )));
    }
    Ok(name.to_owned())
}

/// Registers a tenant (operator admins only).
#[utoipa::path(post, path = "/api/v1/tenants", operation_id = "createTenant", tag = "tenants",
    request_body = CreateTenant,
    responses((status = 201, description = "The tenant registered, at the `Location` given.", body = Tenant),
        (status = 403, description = "Only operator admins register tenants."),
        (status = 409, description = "A tenant with this `azure_tenant_id` is already registered.")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateTenant>,
) -> Result<(StatusCode, [(header::HeaderName, String); 1], Json<Tenant>), ApiError> {
    caller.require_operator_admin()?;
    let new = NewTenant {
        name: valid_name("name", &body.name)?,
        azure_tenant_id: body.azure_tenant_id,
        tenant_type: body.tenant_type.unwrap_or(TenantType::External),
        is_active: body.is_active.unwrap_or(true),
    };
    let mut tx = state.begin(caller.scope).await?;
    let tenant = tenants::insert(&mut tx, &new).await?;
    let entry = Entry::new(Action::Create, TARGET, tenant.id, None, Some(&tenant));
    crate::db::audit::record(&mut tx, &caller.audit(entry, tenant.id)).await?;
    tx.commit().await?;
    let location = format!("/api/v1/tenants/{}", tenant.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(tenant),
    ))
}

/// Lists the tenants the caller may see.
///
/// By page number, or by `cursor` (a page's `next_cursor`) at the cost of a first page however
/// deep; `total` is counted only on request
/// (`include_total=true`).
#[utoipa::path(get, path = "/api/v1/tenants", operation_id = "listTenants", tag = "tenants",
    params(ListTenants),
    responses((status = 200, description = "One page of the tenants the caller may see, by name (then id).", body = Paginated<Tenant>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut params): Query<ListTenants>,
) -> Result<Json<Paginated<Tenant>>, ApiError> {
    let only = caller.tenant();
    let query = QueryId::of("tenants", &only);
    let page = params.paging().read(query)?;
    let mut tx = state.begin(caller.scope).await?;
    let listed = tenants::list(&mut tx, only, &page).await?;
    tx.commit().await?;
    Ok(Json(Paginated::new(listed, &page, query, Tenant::key)?))
}

fn visible(caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    match caller.tenant() {
        Some(own) if own != id => Err(ApiError::NotFound(TARGET)),
        _ => Ok(()),
    }
}

/// Reads one tenant.
#[utoipa::path(get, path = "/api/v1/tenants/{id}", operation_id = "getTenant", tag = "tenants",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The tenant.", body = Tenant),
        (status = 404, description = "No tenant with this id that the caller may see.")))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Tenant>, ApiError> {
    visible(&caller, id)?;
    let mut tx = state.begin(caller.scope).await?;
    let tenant = tenants::get(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    tx.commit().await?;
    Ok(Json(tenant))
}

/// Changes a tenant (operator admins only).
#[utoipa::path(patch, path = "/api/v1/tenants/{id}", operation_id = "updateTenant", tag = "tenants",
    params(("id" = Uuid, Path)), request_body = UpdateTenant,
    responses((status = 200, description = "The tenant as changed.", body = Tenant),
        (status = 403, description = "Only operator admins change tenants."),
        (status = 404, description = "No tenant with this id that the caller may see.")))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateTenant>,
) -> Result<Json<Tenant>, ApiError> {
    visible(&caller, id)?;
    caller.require_operator_admin()?;
    let changes = TenantChanges {
        name: body
            .name
            .as_deref()
            .map(|n| valid_name("name", n))
            .transpose()?,
        tenant_type: body.tenant_type,
        is_active: body.is_active,
    };
    let mut tx = state.begin(caller.scope).await?;
    let before = tenants::lock(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    let after = tenants::update(&mut tx, id, &changes)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    if after != before {
        let entry = Entry::new(Action::Update, TARGET, id, Some(&before), Some(&after));
        crate::db::audit::record(&mut tx, &caller.audit(entry, id)).await?;
    }
    tx.commit().await?;
    Ok(Json(after))
}

/// Deletes a tenant that has no subscriptions left (operator admins only).
#[utoipa::path(delete, path = "/api/v1/tenants/{id}", operation_id = "deleteTenant", tag = "tenants",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "The tenant is deleted."),
        (status = 403, description = "Only operator admins delete tenants."),
        (status = 404, description = "No tenant with this id that the caller may see."),
        (status = 409, description = "The tenant still has subscriptions.")))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    visible(&caller, id)?;
    caller.require_operator_admin()?;
    let mut tx = state.begin(caller.scope).await?;
    let deleted = tenants::delete(&mut tx, id)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    let entry = Entry::new(Action::Delete, TARGET, id, Some(&deleted), None);
    crate::db::audit::record(&mut tx, &caller.audit(entry, id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
