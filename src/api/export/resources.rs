//! `GET /api/v1/resources/export.csv`: the inventory as CSV, with the list's filters and order.

use axum::extract::State;
use axum::response::Response;
use futures::future::BoxFuture;
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{Export, Record, respond};
use crate::api::error::ApiError;
use crate::api::extract::Query;
use crate::api::resources::ListResources;
use crate::api::{AppState, Caller};
use crate::db::resources::{self, Resource, ResourceFilter, ResourceKey};
use crate::db::{Listed, Page};

/// The resource list's filters (`GET /api/v1/resources`), without paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportResources {
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
}

impl From<ExportResources> for ListResources {
    fn from(p: ExportResources) -> Self {
        ListResources {
            resource_type: p.resource_type,
            location: p.location,
            resource_group: p.resource_group,
            subscription_id: p.subscription_id,
            tag_key: p.tag_key,
            tag_value: p.tag_value,
            include_deleted: p.include_deleted,
            page: None,
            page_size: None,
            cursor: None,
            include_total: None,
        }
    }
}

impl ExportResources {
    /// The filter these parameters give `caller` (400 on a bad value).
    pub fn filter(self, caller: &Caller) -> Result<ResourceFilter, ApiError> {
        ListResources::from(self).filter(caller)
    }
}

/// The resources a filter selects, in the list's order.
pub struct Resources(pub ResourceFilter);

impl Export for Resources {
    type Key = ResourceKey;
    type Row = Resource;
    const NAME: &'static str = "resources";
    const HEADER: &'static [&'static str] = &[
        "id",
        "tenant_id",
        "subscription_db_id",
        "subscription_id",
        "resource_id",
        "name",
        "type",
        "kind",
        "location",
        "resource_group",
        "sku",
        "tags",
        "first_seen_at",
        "last_seen_at",
        "deleted_at",
        "created_at",
        "updated_at",
    ];

    fn read<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        page: &'a Page<ResourceKey>,
    ) -> BoxFuture<'a, Result<Listed<Resource>, sqlx::Error>> {
        Box::pin(resources::list(conn, &self.0, page))
    }

    fn key(&self, row: &Resource) -> ResourceKey {
        row.key()
    }

    fn write(r: &Resource, out: &mut Record) {
        out.text(r.id);
        out.text(r.tenant_id);
        out.text(r.subscription_db_id);
        out.text(r.subscription_id);
        out.text(&r.resource_id);
        out.text(&r.name);
        out.text(&r.resource_type);
        out.opt_text(r.kind.as_ref());
        out.opt_text(r.location.as_ref());
        out.opt_text(r.resource_group.as_ref());
        out.opt_text(r.sku.as_ref());
        out.text(&r.tags);
        out.time(Some(r.first_seen_at));
        out.time(Some(r.last_seen_at));
        out.time(r.deleted_at);
        out.time(Some(r.created_at));
        out.time(Some(r.updated_at));
    }
}

/// Exports the inventory as CSV.
///
/// Every resource the list (`GET /api/v1/resources`) selects with the same filters, in its
/// order, streamed; columns as the README's "Exports (CSV)" lists them.
#[utoipa::path(get, path = "/api/v1/resources/export.csv", operation_id = "exportResources", tag = "resources",
    params(ExportResources),
    responses((status = 200, description = "Every matching resource as CSV (RFC 4180, UTF-8, header row), ordered by resource id (then id).", body = String, content_type = "text/csv"),
        (status = 422, description = "More rows than a synchronous export streams (`AZCOPS_EXPORT_SYNC_MAX_ROWS`): narrow the filters or use an export job.")))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ExportResources>,
) -> Result<Response, ApiError> {
    let filter = params.filter(&caller)?;
    respond(&state, caller.scope, Resources(filter), false).await
}
