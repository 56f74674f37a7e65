//! `GET /api/v1/costs/export.csv`: daily cost rows as CSV, with the list's filters and order.

use axum::extract::State;
use axum::response::Response;
use chrono::NaiveDate;
use futures::future::BoxFuture;
use serde::Deserialize;
use sqlx::PgConnection;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{Export, Record, respond};
use crate::api::costs::filter;
use crate::api::error::ApiError;
use crate::api::extract::Query;
use crate::api::{AppState, Caller};
use crate::db::costs::{self, CostDay, CostFilter, CostKey};
use crate::db::{Listed, Page};

/// The cost list's filters (`GET /api/v1/costs`), without paging. Dates are `YYYY-MM-DD`, both
/// ends included.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportCosts {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// An AzCops subscription id or the Azure subscription id.
    pub subscription_id: Option<Uuid>,
    #[param(min_length = 1, max_length = 400)]
    pub service_name: Option<String>,
    #[param(min_length = 1, max_length = 400)]
    pub resource_group: Option<String>,
}

impl ExportCosts {
    /// The filter these parameters give `caller` (400 on a bad value).
    pub fn filter(self, caller: &Caller) -> Result<CostFilter, ApiError> {
        filter(
            caller,
            (self.from, self.to),
            self.subscription_id,
            self.service_name,
            self.resource_group,
        )
    }
}

/// The cost rows a filter selects, in the list's order (through the list's own query).
pub struct Costs(pub CostFilter);

impl Export for Costs {
    type Key = CostKey;
    type Row = CostDay;
    const NAME: &'static str = "costs";
    const HEADER: &'static [&'static str] = &[
        "id",
        "tenant_id",
        "subscription_db_id",
        "subscription_id",
        "date",
        "resource_group",
        "service_name",
        "meter_category",
        "cost",
        "amortized_cost",
        "currency",
        "created_at",
        "updated_at",
    ];

    fn read<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        page: &'a Page<CostKey>,
    ) -> BoxFuture<'a, Result<Listed<CostDay>, sqlx::Error>> {
        Box::pin(costs::list(conn, &self.0, page))
    }

    fn key(&self, row: &CostDay) -> CostKey {
        row.key()
    }

    fn write(c: &CostDay, out: &mut Record) {
        out.text(c.id);
        out.text(c.tenant_id);
        out.text(c.subscription_db_id);
        out.text(c.subscription_id);
        out.text(c.date);
        out.text(&c.resource_group);
        out.text(&c.service_name);
        out.text(&c.meter_category);
        out.number(c.cost);
        out.number(c.amortized_cost);
        out.text(&c.currency);
        out.time(Some(c.created_at));
        out.time(Some(c.updated_at));
    }
}

/// Exports daily cost rows as CSV.
///
/// Every row the list (`GET /api/v1/costs`) selects with the same filters, in its order,
/// streamed; amounts are exact decimals. Columns as the README's "Exports (CSV)" lists them.
#[utoipa::path(get, path = "/api/v1/costs/export.csv", operation_id = "exportCosts", tag = "costs",
    params(ExportCosts),
    responses((status = 200, description = "Every matching daily cost row as CSV (RFC 4180, UTF-8, header row), newest day first, then by AzCops subscription, resource group, service, meter category and id.", body = String, content_type = "text/csv"),
        (status = 422, description = "More rows than a synchronous export streams (`AZCOPS_EXPORT_SYNC_MAX_ROWS`): narrow the filters or use an export job.")))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ExportCosts>,
) -> Result<Response, ApiError> {
    let filter = p.filter(&caller)?;
    respond(&state, caller.scope, Costs(filter), false).await
}
