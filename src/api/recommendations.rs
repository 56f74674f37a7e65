//! `/api/v1/recommendations`: Advisor's recommendations and the rule engine's findings, their
//! summary, and one with its evidence and timeline; transitions are in [`transitions`].
//!
//! Every read first reopens the snoozes that have ended ([`recommendations::expire_snoozes`]),
//! so a dismissal never outlives its `until`. Suppressed findings, those of rules the tenant
//! disabled, and Advisor recommendations superseded by a rule finding about the same resource
//! and action are left out of lists and totals unless asked for.

pub mod summary;
pub mod transitions;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::pagination::{self, Paginated, Paging, QueryId};
use super::resources::text_filter;
use super::{AppState, Caller};
use crate::db::Page;
use crate::db::recommendations::query::{
    self, Event, Recommendation, RecommendationFilter, RecommendationKey, Sort, SummaryFilter,
};
use crate::db::recommendations::realised::{self, Realised};
use crate::db::recommendations::{self, Level, Status};

/// The recommendation routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recommendations", get(list))
        .route("/recommendations/summary", get(summary::summary))
        .route("/recommendations/{id}", get(read))
        .route(
            "/recommendations/{id}/transition",
            post(transitions::transition),
        )
        .route("/recommendations/transitions", post(transitions::bulk))
}

/// Where a recommendation comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// AzCops' rule engine.
    Rule,
    /// Azure Advisor.
    Advisor,
}

/// How a list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortBy {
    /// Largest estimated monthly savings first (the default).
    Savings,
    /// Most recently first detected first.
    Detected,
    /// Most confident first.
    Confidence,
}

/// Filters, order and paging for the recommendation list. Text filters compare exactly
/// (resource group and resource id case-insensitively).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListRecommendations {
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
    #[param(minimum = 1, maximum = 4_294_967_295_i64)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<i64>,
    /// The `next_cursor` of the page before (with the same filters and sort), instead of
    /// `page`: the page after it, at the cost of a first page however deep. Another list's,
    /// filter's or sort's cursor is a 400.
    #[param(min_length = 1, max_length = 4096)]
    pub cursor: Option<String>,
    /// Count all matching rows into `total` and `total_pages` (a full count, which costs what
    /// reading every matching row costs). Default: false, and `total` is null.
    pub include_total: Option<bool>,
}

/// A non-negative amount from a query parameter.
fn amount(name: &str, value: Option<f64>) -> Result<Option<Decimal>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    if !value.is_finite() || !(0.0..=1e12).contains(&value) {
        return Err(ApiError::BadRequest(format!(
            "{name} must be a number from 0 to 1e12"
        )));
    }
    Ok(Decimal::from_f64_retain(value))
}

/// The tenant a list or summary covers: the caller's own (`None` when it named another:
/// the answer is then empty), or the one an operator names, or every tenant.
pub(super) fn tenant_filter(caller: &Caller, named: Option<Uuid>) -> Option<Option<Uuid>> {
    match caller.tenant() {
        Some(own) if named.is_some_and(|t| t != own) => None,
        Some(own) => Some(Some(own)),
        None => Some(named),
    }
}

impl ListRecommendations {
    fn paging(&mut self) -> Paging {
        Paging {
            page: self.page,
            page_size: self.page_size,
            cursor: self.cursor.take(),
            include_total: self.include_total,
        }
    }

    /// The filter these parameters select, judged at `at`.
    pub(super) fn filter(
        self,
        tenant_id: Option<Uuid>,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<RecommendationFilter, ApiError> {
        if self.tag_value.is_some() && self.tag_key.is_none() {
            return Err(ApiError::BadRequest("tag_value needs tag_key".into()));
        }
        Ok(RecommendationFilter {
            tenant_id,
            subscription: self.subscription_id,
            status: self.status,
            category: text_filter("category", self.category, false)?,
            rule_id: text_filter("rule_id", self.rule_id, false)?,
            source: self.source.map(|s| match s {
                Source::Rule => "rule".to_owned(),
                Source::Advisor => "advisor".to_owned(),
            }),
            resource_group: text_filter("resource_group", self.resource_group, true)?,
            resource_id: text_filter("resource_id", self.resource_id, true)?,
            tag_key: text_filter("tag_key", self.tag_key, false)?,
            tag_value: text_filter("tag_value", self.tag_value, false)?,
            min_savings: amount("min_savings", self.min_savings)?,
            risk: self.risk,
            include_suppressed: self.include_suppressed.unwrap_or(false),
            include_superseded: self.include_superseded.unwrap_or(false),
            sort: match self.sort {
                None | Some(SortBy::Savings) => Sort::Savings,
                Some(SortBy::Detected) => Sort::Detected,
                Some(SortBy::Confidence) => Sort::Confidence,
            },
            at,
        })
    }
}

/// Lists recommendations.
///
/// By page number, or by `cursor` (a page's `next_cursor`) at the cost of a first page however
/// deep; `total` is counted only on request
/// (`include_total=true`).
#[utoipa::path(get, path = "/api/v1/recommendations", operation_id = "listRecommendations",
    tag = "recommendations", params(ListRecommendations),
    responses((status = 200, description = "One page of recommendations, largest savings first unless `sort` says otherwise (then by id, descending).", body = Paginated<Recommendation>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut params): Query<ListRecommendations>,
) -> Result<Json<Paginated<Recommendation>>, ApiError> {
    let paging = params.paging();
    let at = state.now();
    let tenant_id = tenant_filter(&caller, params.tenant_id);
    let filter = params.filter(tenant_id.flatten(), at)?;
    // The time changes with every request: the cursor keeps to the rest.
    let id = QueryId::of(
        "recommendations",
        &RecommendationFilter {
            at: chrono::DateTime::UNIX_EPOCH,
            ..filter.clone()
        },
    );
    let page: Page<RecommendationKey> = paging.read(id)?;
    if page
        .after()
        .is_some_and(|(rank, _)| !filter.sort.ranks_by(*rank))
    {
        return Err(pagination::invalid_cursor());
    }
    if tenant_id.is_none() {
        return Ok(Json(Paginated::empty(&page)));
    }
    let mut tx = state
        .begin_planned(caller.scope, query::list_planning(&filter, &page))
        .await?;
    recommendations::expire_snoozes(&mut tx, filter.tenant_id, at).await?;
    let listed = query::list(&mut tx, &filter, &page).await?;
    tx.commit().await?;
    let sort = filter.sort;
    Ok(Json(Paginated::new(listed, &page, id, |r| r.key(sort))?))
}

/// A recommendation with its evidence, group, timeline and realised savings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendationDetail {
    #[serde(flatten)]
    pub recommendation: Recommendation,
    /// The observed values next to the thresholds that fired (rule findings).
    pub evidence: Value,
    /// What Advisor said (Advisor recommendations).
    pub details: Value,
    /// The Advisor recommendations this rule finding leads (its group besides itself).
    pub group: Vec<Uuid>,
    /// Every status change, oldest first.
    pub timeline: Vec<Event>,
    /// For executed recommendations and approved ones whose finding resolved.
    pub realised: Option<Realised>,
}

/// Reads one recommendation.
#[utoipa::path(get, path = "/api/v1/recommendations/{id}", operation_id = "getRecommendation",
    tag = "recommendations", params(("id" = Uuid, Path)),
    responses((status = 200, description = "The recommendation with its evidence, group, timeline and realised savings.", body = RecommendationDetail),
        (status = 404, description = "No recommendation with this id that the caller may see.")))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<RecommendationDetail>, ApiError> {
    let at = state.now();
    let mut tx = state.begin(caller.scope).await?;
    recommendations::expire_snoozes(&mut tx, caller.tenant(), at).await?;
    let detail = query::get(&mut tx, caller.tenant(), id, at)
        .await?
        .ok_or(ApiError::NotFound("recommendation"))?;
    let tenant_id = detail.recommendation.tenant_id;
    let timeline = query::timeline(&mut tx, tenant_id, id).await?;
    let group = query::superseded(&mut tx, tenant_id, id).await?;
    let filter = SummaryFilter {
        tenant_id: Some(tenant_id),
        subscription: None,
        include_suppressed: true,
        at,
    };
    let realised = realised::rows(&mut tx, &filter, Some(&[id])).await?;
    tx.commit().await?;
    Ok(Json(RecommendationDetail {
        recommendation: detail.recommendation,
        evidence: detail.evidence,
        details: detail.details,
        group,
        timeline,
        realised: realised.first().map(|r| r.realised()),
    }))
}
