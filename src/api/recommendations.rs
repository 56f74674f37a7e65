//! `/api/v1/recommendations`: Advisor's recommendations and the rule engine's findings, their
//! summary, and one with its evidence and timeline; transitions are in [`transitions`].
//!
//! Every read first reopens the snoozes that have ended ([`recommendations::expire_snoozes`]),
//! so a dismissal never outlives its `until`. Suppressed findings, those of rules the tenant
//! disabled, and Advisor recommendations superseded by a rule finding about the same resource
//! and action are left out of lists and totals unless asked for.

pub mod transitions;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::pagination::{self, Paginated};
use super::resources::text_filter;
use super::{AppState, Caller};
use crate::db::recommendations::query::{
    self, Event, Recommendation, RecommendationFilter, Sort, SummaryFilter,
};
use crate::db::recommendations::realised::{self, Measurement, Realised};
use crate::db::recommendations::{self, Level, Status};

/// The recommendation routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/recommendations", get(list))
        .route("/recommendations/summary", get(summary))
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
fn tenant_filter(caller: &Caller, named: Option<Uuid>) -> Option<Option<Uuid>> {
    match caller.tenant() {
        Some(own) if named.is_some_and(|t| t != own) => None,
        Some(own) => Some(Some(own)),
        None => Some(named),
    }
}

impl ListRecommendations {
    fn filter(
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
#[utoipa::path(get, path = "/api/v1/recommendations", operation_id = "listRecommendations",
    tag = "recommendations", params(ListRecommendations),
    responses((status = 200, description = "One page of recommendations, largest savings first unless `sort` says otherwise.", body = Paginated<Recommendation>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListRecommendations>,
) -> Result<Json<Paginated<Recommendation>>, ApiError> {
    let page = pagination::page(params.page, params.page_size)?;
    let at = state.now();
    let Some(tenant_id) = tenant_filter(&caller, params.tenant_id) else {
        params.filter(None, at)?;
        return Ok(Json(Paginated::new(Vec::new(), page, 0)));
    };
    let filter = params.filter(tenant_id, at)?;
    let mut tx = state.begin(caller.scope).await?;
    recommendations::expire_snoozes(&mut tx, at).await?;
    let (items, total) = query::list(&mut tx, &filter, page).await?;
    tx.commit().await?;
    Ok(Json(Paginated::new(items, page, total)))
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
    recommendations::expire_snoozes(&mut tx, at).await?;
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

/// What a summary covers.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    /// Only this tenant's (operators); a tenant caller always sees only its own.
    pub tenant_id: Option<Uuid>,
    /// An AzCops subscription id or the Azure subscription id.
    pub subscription_id: Option<Uuid>,
    /// Count suppressed findings and those of disabled rules too (default false).
    pub include_suppressed: Option<bool>,
}

/// Count and estimated monthly savings of a group of recommendations in one currency.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Savings {
    /// The category, rule id or status the group is of (absent in per-currency totals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub currency: String,
    pub count: i64,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub monthly_savings: Decimal,
}

/// Realised savings of a group of recommendations in one currency.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct RealisedSavings {
    /// The rule id (absent in per-currency totals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// The currency of the measured costs (of the estimates where unmeasurable).
    pub currency: String,
    /// Executed recommendations, and approved ones whose finding resolved.
    pub count: i64,
    pub measured: i64,
    /// Baseline known, no cost window after the change yet.
    pub pending: i64,
    /// No per-resource cost before the change.
    pub unmeasurable: i64,
    /// What the measured ones were estimated to save a month.
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub estimated_monthly_savings: Decimal,
    /// What the measured ones saved a month.
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub realised_monthly_savings: Decimal,
    /// realised ÷ estimated over the measured ones (null without any).
    pub accuracy: Option<f64>,
}

/// Open and realised savings. "Open" is what is still to act on: status `open` or `approved`.
/// Every group of an Advisor recommendation and a rule finding counts once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendationSummary {
    /// Per currency.
    pub open: Vec<Savings>,
    pub open_by_category: Vec<Savings>,
    pub open_by_rule: Vec<Savings>,
    /// Every status, per currency.
    pub by_status: Vec<Savings>,
    /// Per currency.
    pub realised: Vec<RealisedSavings>,
    /// Per rule and currency, with the rule's accuracy.
    pub realised_by_rule: Vec<RealisedSavings>,
}

/// Summarises recommendations.
#[utoipa::path(get, path = "/api/v1/recommendations/summary", operation_id = "getRecommendationSummary",
    tag = "recommendations", params(SummaryParams),
    responses((status = 200, description = "Open savings by currency, category, rule and status; realised savings and each rule's accuracy.", body = RecommendationSummary)))]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<SummaryParams>,
) -> Result<Json<RecommendationSummary>, ApiError> {
    let at = state.now();
    let Some(tenant_id) = tenant_filter(&caller, params.tenant_id) else {
        return Ok(Json(build_summary(&[], &[])));
    };
    let filter = SummaryFilter {
        tenant_id,
        subscription: params.subscription_id,
        include_suppressed: params.include_suppressed.unwrap_or(false),
        at,
    };
    let mut tx = state.begin(caller.scope).await?;
    recommendations::expire_snoozes(&mut tx, at).await?;
    let cells = query::cells(&mut tx, &filter).await?;
    let realised = realised::rows(&mut tx, &filter, None).await?;
    tx.commit().await?;
    Ok(Json(build_summary(&cells, &realised)))
}

fn build_summary(cells: &[query::Cell], rows: &[realised::RealisedRow]) -> RecommendationSummary {
    let open = |c: &&query::Cell| matches!(c.status, Status::Open | Status::Approved);
    RecommendationSummary {
        open: add_up(cells.iter().filter(open), |_| None),
        open_by_category: add_up(cells.iter().filter(open), |c| Some(c.category.clone())),
        open_by_rule: add_up(cells.iter().filter(open), |c| Some(c.rule_id.clone())),
        by_status: add_up(cells.iter(), |c| Some(c.status.as_str().to_owned())),
        realised: add_up_realised(rows, |_| None),
        realised_by_rule: add_up_realised(rows, |r| Some(r.rule_id.clone())),
    }
}

fn add_up<'a>(
    cells: impl Iterator<Item = &'a query::Cell>,
    key: impl Fn(&query::Cell) -> Option<String>,
) -> Vec<Savings> {
    let mut groups: BTreeMap<(Option<String>, String), Savings> = BTreeMap::new();
    for cell in cells {
        let group = groups
            .entry((key(cell), cell.currency.clone()))
            .or_insert_with(|| Savings {
                key: key(cell),
                currency: cell.currency.clone(),
                ..Savings::default()
            });
        group.count += cell.count;
        group.monthly_savings += cell.savings;
    }
    groups.into_values().collect()
}

fn add_up_realised(
    rows: &[realised::RealisedRow],
    key: impl Fn(&realised::RealisedRow) -> Option<String>,
) -> Vec<RealisedSavings> {
    let mut groups: BTreeMap<(Option<String>, String), RealisedSavings> = BTreeMap::new();
    for row in rows {
        let measured = row.realised();
        let currency = measured
            .currency
            .clone()
            .unwrap_or_else(|| row.estimate_currency.clone());
        let group = groups
            .entry((key(row), currency.clone()))
            .or_insert_with(|| RealisedSavings {
                rule_id: key(row),
                currency,
                ..RealisedSavings::default()
            });
        group.count += 1;
        match measured.measurement {
            Measurement::Pending => group.pending += 1,
            Measurement::Unmeasurable => group.unmeasurable += 1,
            Measurement::Measured => {
                group.measured += 1;
                group.realised_monthly_savings += measured.monthly_savings.unwrap_or_default();
                // Accuracy compares like with like: an estimate in another currency (Advisor's
                // USD for a EUR bill) is left out of it.
                if measured.currency.as_deref() == Some(row.estimate_currency.as_str()) {
                    group.estimated_monthly_savings +=
                        row.estimated_monthly_savings.unwrap_or_default();
                }
            }
        }
    }
    let mut out: Vec<RealisedSavings> = groups.into_values().collect();
    for group in &mut out {
        group.accuracy = (!group.estimated_monthly_savings.is_zero())
            .then(|| group.realised_monthly_savings / group.estimated_monthly_savings)
            .and_then(|a| a.round_dp(4).to_f64());
    }
    out
}
