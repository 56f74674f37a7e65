//! `GET /api/v1/recommendations/summary`: open savings by currency, category, rule and status,
//! and realised savings with each rule's accuracy; every Advisor + rule group counted once.

use std::collections::BTreeMap;

use axum::extract::State;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::super::error::ApiError;
use super::super::extract::{Json, Query};
use super::super::{AppState, Caller};
use super::tenant_filter;
use crate::db::recommendations::query::{self, SummaryFilter};
use crate::db::recommendations::realised::{self, Figure, Measurement};
use crate::db::recommendations::{self, Status};

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
    let mut tx = state
        .begin_planned(caller.scope, query::summary_planning(&filter))
        .await?;
    recommendations::expire_snoozes(&mut tx, filter.tenant_id, at).await?;
    let cells = query::cells(&mut tx, &filter).await?;
    let realised = realised::figures(&mut tx, &filter).await?;
    tx.commit().await?;
    Ok(Json(build_summary(&cells, &realised)))
}

fn build_summary(cells: &[query::Cell], figures: &[Figure]) -> RecommendationSummary {
    let open = |c: &&query::Cell| matches!(c.status, Status::Open | Status::Approved);
    RecommendationSummary {
        open: add_up(cells.iter().filter(open), |_| None),
        open_by_category: add_up(cells.iter().filter(open), |c| Some(c.category.clone())),
        open_by_rule: add_up(cells.iter().filter(open), |c| Some(c.rule_id.clone())),
        by_status: add_up(cells.iter(), |c| Some(c.status.as_str().to_owned())),
        realised: add_up_realised(figures, |_| None),
        realised_by_rule: add_up_realised(figures, |f| Some(f.rule_id.clone())),
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
    figures: &[Figure],
    key: impl Fn(&Figure) -> Option<String>,
) -> Vec<RealisedSavings> {
    let mut groups: BTreeMap<(Option<String>, String), RealisedSavings> = BTreeMap::new();
    for figure in figures {
        let currency = figure
            .currency
            .clone()
            .unwrap_or_else(|| figure.estimate_currency.clone());
        let group = groups
            .entry((key(figure), currency.clone()))
            .or_insert_with(|| RealisedSavings {
                rule_id: key(figure),
                currency,
                ..RealisedSavings::default()
            });
        group.count += figure.count;
        match figure.measurement {
            Measurement::Pending => group.pending += figure.count,
            Measurement::Unmeasurable => group.unmeasurable += figure.count,
            Measurement::Measured => {
                group.measured += figure.count;
                group.realised_monthly_savings += figure.monthly_savings.unwrap_or_default();
                // Accuracy compares like with like: an estimate in another currency (Advisor's
                // USD for a EUR bill) is left out of it.
                if figure.currency.as_deref() == Some(figure.estimate_currency.as_str()) {
                    group.estimated_monthly_savings +=
                        figure.estimated_monthly_savings.unwrap_or_default();
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
