//! `GET /api/v1/recommendations/export.csv`: recommendations as CSV, with the list's filters
//! and order.

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
use crate::api::recommendations::{ListRecommendations, SortBy, Source, tenant_filter};
use crate::api::{AppState, Caller};
use crate::db::recommendations::query::{
    self, Recommendation, RecommendationFilter, RecommendationKey,
};
use crate::db::recommendations::{Level, Status, expire_snoozes};
use crate::db::{Listed, Page};

/// The recommendation list's filters and order (`GET /api/v1/recommendations`), without
/// paging.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportRecommendations {
    /// Only this tenant's (operators); a tenant caller always sees only its own.
    pub tenant_id: Option<Uuid>,
    /// An AzCops subscription id or the Azure subscription id.
    pub subscription_id: Option<Uuid>,
    pub status: Option<Status>,
    #[param(min_length = 1, max_length = 400)]
    pub category: Option<String>,
    #[param(min_length = 1, max_length = 400)]
    pub rule_id: Option<String>,
    #[param(inline)]
    pub source: Option<Source>,
    #[param(min_length = 1, max_length = 400)]
    pub resource_group: Option<String>,
    /// The ARM id of the resource.
    #[param(min_length = 1, max_length = 400)]
    pub resource_id: Option<String>,
    /// Only findings about resources carrying this tag.
    #[param(min_length = 1, max_length = 400)]
    pub tag_key: Option<String>,
    /// With `tag_key`: only those whose tag has this value (exact).
    #[param(min_length = 1, max_length = 400)]
    pub tag_value: Option<String>,
    /// Only those estimated to save at least this much a month (in their currency).
    #[param(minimum = 0)]
    pub min_savings: Option<f64>,
    pub risk: Option<Level>,
    /// Include suppressed findings and those of disabled rules (default false).
    pub include_suppressed: Option<bool>,
    /// Include Advisor recommendations superseded by a rule finding (default false).
    pub include_superseded: Option<bool>,
    #[param(inline)]
    pub sort: Option<SortBy>,
}

impl From<ExportRecommendations> for ListRecommendations {
    fn from(p: ExportRecommendations) -> Self {
        ListRecommendations {
            tenant_id: p.tenant_id,
            subscription_id: p.subscription_id,
            status: p.status,
            category: p.category,
            rule_id: p.rule_id,
            source: p.source,
            resource_group: p.resource_group,
            resource_id: p.resource_id,
            tag_key: p.tag_key,
            tag_value: p.tag_value,
            min_savings: p.min_savings,
            risk: p.risk,
            include_suppressed: p.include_suppressed,
            include_superseded: p.include_superseded,
            sort: p.sort,
            page: None,
            page_size: None,
            cursor: None,
            include_total: None,
        }
    }
}

impl ExportRecommendations {
    /// The filter these parameters give `caller` at `at`, and whether it selects nothing (a
    /// tenant caller naming another tenant); 400 on a bad value.
    pub fn filter(
        self,
        caller: &Caller,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<(RecommendationFilter, bool), ApiError> {
        let tenant_id = tenant_filter(caller, self.tenant_id);
        let filter = ListRecommendations::from(self).filter(tenant_id.flatten(), at)?;
        Ok((filter, tenant_id.is_none()))
    }
}

/// The recommendations a filter selects, in the list's order (through the list's own query).
pub struct Recommendations(pub RecommendationFilter);

impl Export for Recommendations {
    type Key = RecommendationKey;
    type Row = Recommendation;
    const NAME: &'static str = "recommendations";
    const HEADER: &'static [&'static str] = &[
        "id",
        "tenant_id",
        "subscription_db_id",
        "subscription_id",
        "source",
        "rule_id",
        "category",
        "action",
        "variant",
        "resource_db_id",
        "resource_id",
        "resource_name",
        "resource_type",
        "resource_group",
        "title",
        "description",
        "estimated_monthly_savings",
        "currency",
        "savings_basis",
        "confidence",
        "risk",
        "effort",
        "status",
        "regressed",
        "snoozed_until",
        "first_detected_at",
        "last_detected_at",
        "absent_evaluations",
        "approved_at",
        "executed_at",
        "executed_reference",
        "resolved_at",
        "superseded_by",
        "suppressed",
        "created_at",
        "updated_at",
    ];

    /// As the list does, the first batch first reopens the snoozes that have ended.
    fn read<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        page: &'a Page<RecommendationKey>,
    ) -> BoxFuture<'a, Result<Listed<Recommendation>, sqlx::Error>> {
        Box::pin(async move {
            if page.after().is_none() {
                expire_snoozes(conn, self.0.tenant_id, self.0.at).await?;
            }
            query::list(conn, &self.0, page).await
        })
    }

    fn key(&self, row: &Recommendation) -> RecommendationKey {
        row.key(self.0.sort)
    }

    fn write(r: &Recommendation, out: &mut Record) {
        out.text(r.id);
        out.text(r.tenant_id);
        out.text(r.subscription_db_id);
        out.text(r.subscription_id);
        out.text(&r.source);
        out.text(&r.rule_id);
        out.text(&r.category);
        out.text(&r.action);
        out.text(&r.variant);
        out.opt_text(r.resource_db_id);
        out.opt_text(r.resource_id.as_ref());
        out.opt_text(r.resource_name.as_ref());
        out.opt_text(r.resource_type.as_ref());
        out.opt_text(r.resource_group.as_ref());
        out.text(&r.title);
        out.opt_text(r.description.as_ref());
        out.opt_number(r.estimated_monthly_savings);
        out.text(&r.currency);
        out.text(&r.savings_basis);
        out.number(r.confidence);
        out.text(level(r.risk));
        out.text(level(r.effort));
        out.text(r.status.as_str());
        out.text(r.regressed);
        out.time(r.snoozed_until);
        out.time(Some(r.first_detected_at));
        out.time(Some(r.last_detected_at));
        out.number(r.absent_evaluations);
        out.time(r.approved_at);
        out.time(r.executed_at);
        out.opt_text(r.executed_reference.as_ref());
        out.time(r.resolved_at);
        out.opt_text(r.superseded_by);
        out.text(r.suppressed);
        out.time(Some(r.created_at));
        out.time(Some(r.updated_at));
    }
}

fn level(level: Level) -> &'static str {
    match level {
        Level::Low => "low",
        Level::Medium => "medium",
        Level::High => "high",
    }
}

/// Exports recommendations as CSV.
///
/// Every recommendation the list (`GET /api/v1/recommendations`) selects with the same filters,
/// in its order (`sort`), streamed; savings are exact decimals. Columns as the README's
/// "Exports (CSV)" lists them.
#[utoipa::path(get, path = "/api/v1/recommendations/export.csv", operation_id = "exportRecommendations",
    tag = "recommendations", params(ExportRecommendations),
    responses((status = 200, description = "Every matching recommendation as CSV (RFC 4180, UTF-8, header row), largest savings first unless `sort` says otherwise (then by id, descending).", body = String, content_type = "text/csv"),
        (status = 422, description = "More rows than a synchronous export streams (`AZCOPS_EXPORT_SYNC_MAX_ROWS`): narrow the filters or use an export job.")))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ExportRecommendations>,
) -> Result<Response, ApiError> {
    let (filter, empty) = params.filter(&caller, state.now())?;
    respond(&state, caller.scope, Recommendations(filter), empty).await
}
