//! `/api/v1/costs`: daily cost rows, and `/api/v1/costs/summary`: totals, a breakdown by
//! service (and, on request, by resource group) and a daily trend for a window (default the
//! last 30 days).

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Query};
use super::pagination::{Paginated, Paging, QueryId};
use super::resources::text_filter;
use super::{AppState, Caller};
use crate::db::costs::{self, CostDay, CostFilter, Sum};

/// Longest window a list or summary may cover.
pub const MAX_RANGE_DAYS: u64 = 366;
/// The summary window when none is given.
pub const DEFAULT_SUMMARY_DAYS: u64 = 30;

/// The cost routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/costs", get(list))
        .route("/costs/summary", get(summary))
}

/// Filters and paging for cost rows. Dates are `YYYY-MM-DD`, both ends included.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListCosts {
    /// Only this tenant's (operators; default every tenant). A tenant caller always sees only
    /// its own: naming another tenant matches nothing.
    pub tenant_id: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// An AzCops subscription id or the Azure subscription id.
    pub subscription_id: Option<Uuid>,
    #[param(min_length = 1, max_length = 400)]
    pub service_name: Option<String>,
    #[param(min_length = 1, max_length = 400)]
    pub resource_group: Option<String>,
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

impl ListCosts {
    fn paging(&mut self) -> Paging {
        Paging {
            page: self.page,
            page_size: self.page_size,
            cursor: self.cursor.take(),
            include_total: self.include_total,
        }
    }
}

/// The window and filters of a summary. Dates are `YYYY-MM-DD`, both ends included.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SummaryParams {
    /// Only this tenant's (operators; default every tenant). A tenant caller always sees only
    /// its own: naming another tenant matches nothing.
    pub tenant_id: Option<Uuid>,
    /// Default: 29 days before `to`.
    pub from: Option<NaiveDate>,
    /// Default: today (UTC).
    pub to: Option<NaiveDate>,
    pub subscription_id: Option<Uuid>,
    #[param(min_length = 1, max_length = 400)]
    pub service_name: Option<String>,
    #[param(min_length = 1, max_length = 400)]
    pub resource_group: Option<String>,
    /// `resource_group`: also break the window down by resource group (`by_resource_group`).
    /// Summed from the daily cost rows (the other figures come from rollups), so asked for
    /// only where it is shown.
    #[param(inline)]
    pub group_by: Option<SummaryGroup>,
}

/// A breakdown the summary adds on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SummaryGroup {
    /// `by_resource_group`.
    ResourceGroup,
}

fn check_range(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<(), ApiError> {
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(ApiError::BadRequest(format!(
                "from ({from}) is after to ({to})"
            )));
        }
        if (to - from).num_days() >= MAX_RANGE_DAYS as i64 {
            return Err(ApiError::BadRequest(format!(
                "the date range may cover at most {MAX_RANGE_DAYS} days"
            )));
        }
    }
    Ok(())
}

/// Narrows `filter` to the tenant an operator names (none: every tenant). A tenant caller
/// always sees its own only; naming another tenant matches nothing, as the recommendation
/// lists answer (an empty page, a zero summary: row-level security would hide it anyway).
fn narrow_to_named_tenant(caller: &Caller, named: Option<Uuid>, filter: &mut CostFilter) {
    match super::recommendations::tenant_filter(caller, named) {
        Some(tenant) => filter.tenant_id = tenant,
        None => filter.subscription = Some(Uuid::nil()),
    }
}

/// The cost filter of a list, a summary or an export (for the caller's tenant).
pub(super) fn filter(
    caller: &Caller,
    (from, to): (Option<NaiveDate>, Option<NaiveDate>),
    subscription: Option<Uuid>,
    service_name: Option<String>,
    resource_group: Option<String>,
) -> Result<CostFilter, ApiError> {
    check_range(from, to)?;
    Ok(CostFilter {
        tenant_id: caller.tenant(),
        subscription,
        from,
        to,
        service_name: text_filter("service_name", service_name, false)?,
        resource_group: text_filter("resource_group", resource_group, true)?,
    })
}

/// Lists daily cost rows, newest first.
///
/// By page number, or by `cursor` (a page's `next_cursor`) at the cost of a first page however
/// deep; `total` is counted only on request
/// (`include_total=true`).
#[utoipa::path(get, path = "/api/v1/costs", operation_id = "listCosts", tag = "costs", params(ListCosts),
    responses((status = 200, description = "One page of daily cost rows, newest day first, then by AzCops subscription, resource group, service, meter category and id.", body = Paginated<CostDay>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut p): Query<ListCosts>,
) -> Result<Json<Paginated<CostDay>>, ApiError> {
    let paging = p.paging();
    let mut filter = filter(
        &caller,
        (p.from, p.to),
        p.subscription_id,
        p.service_name,
        p.resource_group,
    )?;
    narrow_to_named_tenant(&caller, p.tenant_id, &mut filter);
    let query = QueryId::of("costs", &filter);
    let page = paging.read(query)?;
    let mut tx = state.begin(caller.scope).await?;
    let listed = costs::list(&mut tx, &filter, &page).await?;
    tx.commit().await?;
    Ok(Json(Paginated::new(listed, &page, query, CostDay::key)?))
}

/// Actual and amortized cost in one currency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Amount {
    pub currency: String,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub cost: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub amortized_cost: Decimal,
}

/// One service's share of the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceCost {
    pub service_name: String,
    #[serde(flatten)]
    pub amount: Amount,
}

/// One resource group's share of the window.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResourceGroupCost {
    /// As in the cost rows; empty for charges outside any resource group.
    pub resource_group: String,
    #[serde(flatten)]
    pub amount: Amount,
}

/// One day of the trend.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyCost {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub amount: Amount,
}

/// The cost summary of a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct CostSummary {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The currency of every row, or null when the window mixes currencies (see `totals`).
    pub currency: Option<String>,
    /// Total actual cost when there is one currency.
    #[schema(value_type = Option<f64>)]
    pub total_cost: Option<f64>,
    /// Total amortized cost when there is one currency.
    #[schema(value_type = Option<f64>)]
    pub total_amortized_cost: Option<f64>,
    /// Totals per currency.
    pub totals: Vec<Amount>,
    /// By service, largest actual cost first.
    pub by_service: Vec<ServiceCost>,
    /// By resource group (and currency), largest actual cost first: only with
    /// `group_by=resource_group`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_resource_group: Option<Vec<ResourceGroupCost>>,
    /// Every day of the window, zero where there was no cost.
    pub daily: Vec<DailyCost>,
}

fn amount<K>(sum: &Sum<K>) -> Amount {
    Amount {
        currency: sum.currency.clone(),
        cost: sum.cost,
        amortized_cost: sum.amortized_cost,
    }
}

/// Fills the days without rows with zero so the trend has one point a day (when the window has
/// one currency; with several, only the days that have rows are listed, per currency).
fn daily_trend(
    from: NaiveDate,
    to: NaiveDate,
    sums: &[Sum<NaiveDate>],
    currency: Option<&str>,
) -> Vec<DailyCost> {
    let Some(currency) = currency else {
        return sums
            .iter()
            .map(|s| DailyCost {
                date: s.key,
                amount: amount(s),
            })
            .collect();
    };
    from.iter_days()
        .take_while(|d| *d <= to)
        .map(|date| match sums.iter().find(|s| s.key == date) {
            Some(s) => DailyCost {
                date,
                amount: amount(s),
            },
            None => DailyCost {
                date,
                amount: Amount {
                    currency: currency.to_owned(),
                    cost: Decimal::ZERO,
                    amortized_cost: Decimal::ZERO,
                },
            },
        })
        .collect()
}

/// Summarises cost for a window.
#[utoipa::path(get, path = "/api/v1/costs/summary", operation_id = "getCostSummary", tag = "costs",
    params(SummaryParams),
    responses((status = 200, description = "Totals, breakdown by service (and by resource group with `group_by=resource_group`) and one point per day for the window.", body = CostSummary)))]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<SummaryParams>,
) -> Result<Json<CostSummary>, ApiError> {
    let to = p.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = match p.from {
        Some(from) => from,
        None => to
            .checked_sub_days(Days::new(DEFAULT_SUMMARY_DAYS - 1))
            .unwrap_or(NaiveDate::MIN),
    };
    let mut filter = filter(
        &caller,
        (Some(from), Some(to)),
        p.subscription_id,
        p.service_name,
        p.resource_group,
    )?;
    narrow_to_named_tenant(&caller, p.tenant_id, &mut filter);
    let mut tx = state.begin(caller.scope).await?;
    let sums = costs::summary(&mut tx, &filter).await?;
    let by_resource_group = match p.group_by {
        Some(SummaryGroup::ResourceGroup) => {
            Some(costs::by_resource_group(&mut tx, &filter).await?)
        }
        None => None,
    };
    tx.commit().await?;
    let single = match sums.totals.as_slice() {
        [only] => Some(only),
        _ => None,
    };
    let currency = single.map(|t| t.currency.clone());
    Ok(Json(CostSummary {
        from,
        to,
        total_cost: total(&sums.totals, single, |t| t.cost),
        total_amortized_cost: total(&sums.totals, single, |t| t.amortized_cost),
        daily: daily_trend(from, to, &sums.daily, currency.as_deref()),
        currency,
        totals: sums.totals.iter().map(amount).collect(),
        by_service: sums
            .by_service
            .iter()
            .map(|s| ServiceCost {
                service_name: s.key.clone(),
                amount: amount(s),
            })
            .collect(),
        by_resource_group: by_resource_group.map(|groups| {
            groups
                .iter()
                .map(|g| ResourceGroupCost {
                    resource_group: g.key.clone(),
                    amount: amount(g),
                })
                .collect()
        }),
    }))
}

/// The single currency's total, zero when nothing was spent, `None` when currencies are mixed.
fn total(
    totals: &[Sum<()>],
    single: Option<&Sum<()>>,
    pick: fn(&Sum<()>) -> Decimal,
) -> Option<f64> {
    let value = match single {
        Some(t) => pick(t),
        None if totals.is_empty() => Decimal::ZERO,
        None => return None,
    };
    Some(rust_decimal::prelude::ToPrimitive::to_f64(&value).unwrap_or(0.0))
}
