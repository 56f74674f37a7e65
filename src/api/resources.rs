//! `/api/v1/resources`: the inventory, filtered and paginated in a stable order.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::pagination::{Paginated, Paging, QueryId};
use super::{AppState, Caller};
use crate::db::resources::{self, Resource, ResourceFilter};

/// The resource routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/resources", get(list))
        .route("/resources/{id}", get(read))
}

/// Filters and paging for the resource list. Text filters compare case-insensitively.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListResources {
    /// ARM type, e.g. `Microsoft.Compute/virtualMachines`.
    #[serde(rename = "type")]
    #[param(min_length = 1, max_length = 400)]
    pub resource_type: Option<String>,
    #[param(min_length = 1, max_length = 400)]
    pub location: Option<String>,
    #[param(min_length = 1, max_length = 400)]
    pub resource_group: Option<String>,
    /// An AzCops subscription id or the Azure subscription id.
    pub subscription_id: Option<Uuid>,
    /// Only resources carrying this tag.
    #[param(min_length = 1, max_length = 400)]
    pub tag_key: Option<String>,
    /// With `tag_key`: only resources whose tag has this value (exact).
    #[param(min_length = 1, max_length = 400)]
    pub tag_value: Option<String>,
    /// Include resources no longer in the inventory (default false).
    pub include_deleted: Option<bool>,
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

/// A text filter: trimmed, 1–400 characters, lower-cased when the stored value is.
pub fn text_filter(
    name: &str,
    value: Option<String>,
    lower: bool,
) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 400 {
        return Err(ApiError::BadRequest(format!(
            "{name} must be 1 to 400 characters"
        )));
    }
    Ok(Some(if lower {
        value.to_lowercase()
    } else {
        value.to_owned()
    }))
}

impl ListResources {
    fn paging(&mut self) -> Paging {
        Paging {
            page: self.page,
            page_size: self.page_size,
            cursor: self.cursor.take(),
            include_total: self.include_total,
        }
    }

    /// The filter these parameters select (for the caller's tenant).
    pub(super) fn filter(self, caller: &Caller) -> Result<ResourceFilter, ApiError> {
        if self.tag_value.is_some() && self.tag_key.is_none() {
            return Err(ApiError::BadRequest("tag_value needs tag_key".into()));
        }
        Ok(ResourceFilter {
            tenant_id: caller.tenant(),
            subscription: self.subscription_id,
            resource_type: text_filter("type", self.resource_type, true)?,
            location: text_filter("location", self.location, true)?,
            resource_group: text_filter("resource_group", self.resource_group, true)?,
            tag_key: text_filter("tag_key", self.tag_key, false)?,
            tag_value: text_filter("tag_value", self.tag_value, false)?,
            include_deleted: self.include_deleted.unwrap_or(false),
        })
    }
}

/// Lists resources.
///
/// By page number, or by `cursor` (a page's `next_cursor`) at the cost of a first page however
/// deep; `total` is counted only on request
/// (`include_total=true`).
#[utoipa::path(get, path = "/api/v1/resources", operation_id = "listResources", tag = "resources",
    params(ListResources),
    responses((status = 200, description = "One page of the inventory, ordered by resource id (then id).", body = Paginated<Resource>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut params): Query<ListResources>,
) -> Result<Json<Paginated<Resource>>, ApiError> {
    let paging = params.paging();
    let filter = params.filter(&caller)?;
    let query = QueryId::of("resources", &filter);
    let page = paging.read(query)?;
    let planning = resources::planning(&filter, &page);
    let mut tx = state.begin_planned(caller.scope, planning).await?;
    let listed = resources::list(&mut tx, &filter, &page).await?;
    crate::db::end_read(tx);
    Ok(Json(Paginated::new(listed, &page, query, Resource::key)?))
}

/// Reads one resource with its properties.
#[utoipa::path(get, path = "/api/v1/resources/{id}", operation_id = "getResource", tag = "resources",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The resource with its properties.", body = Resource),
        (status = 404, description = "No resource with this id that the caller may see.")))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Resource>, ApiError> {
    let mut tx = state.begin(caller.scope).await?;
    let resource = resources::get(&mut tx, caller.tenant(), id)
        .await?
        .ok_or(ApiError::NotFound("resource"))?;
    crate::db::end_read(tx);
    Ok(Json(resource))
}
