//! `GET /api/v1/costs/forecast`: daily amortized cost forecast for a tenant or one of its
//! subscriptions, up to 92 days ahead with 80 % and 95 % intervals, and the month-end total
//! (month-to-date actual + forecast). The method is [`crate::analytics::forecast`].

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Query};
use super::recommendations::tenant_filter;
use super::{AppState, Caller};
use crate::analytics::Decomposition;
use crate::analytics::detect::{Settings, detect_with};
use crate::analytics::forecast::{Forecast, Level, MAX_HORIZON, forecast_from};
use crate::analytics::series::{HISTORY_DAYS, daily};
use crate::db::anomalies::inputs;

/// The forecast route.
pub fn router() -> Router<AppState> {
    Router::new().route("/costs/forecast", get(read))
}

/// An interval level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum IntervalLevel {
    #[serde(rename = "80")]
    P80,
    #[serde(rename = "95")]
    P95,
}

/// Scope and horizon of a forecast.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ForecastParams {
    /// The tenant (operators only, and required for them).
    pub tenant_id: Option<Uuid>,
    /// An AzCops or Azure subscription id; absent: the whole tenant.
    pub subscription_id: Option<Uuid>,
    /// Days after the last complete day (1–92); default: to the end of the month.
    #[param(minimum = 1, maximum = 92)]
    pub horizon_days: Option<i64>,
    /// Only this interval (the other's bounds are null); default both.
    #[param(inline)]
    pub interval: Option<IntervalLevel>,
    /// Days of actual cost returned in `history` (0–90, default 30).
    #[param(minimum = 0, maximum = 90)]
    pub history_days: Option<i64>,
}

/// One day of actual cost.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActualDay {
    pub date: NaiveDate,
    pub actual: f64,
}

/// One forecast day.
#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastDay {
    pub date: NaiveDate,
    pub forecast: f64,
    pub lower_80: Option<f64>,
    pub upper_80: Option<f64>,
    pub lower_95: Option<f64>,
    pub upper_95: Option<f64>,
}

/// The month's total: what was spent so far and what the forecast adds.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthEnd {
    /// `YYYY-MM`.
    pub month: String,
    pub actual_to_date: f64,
    pub forecast_remaining: f64,
    pub total: f64,
    pub lower_80: Option<f64>,
    pub upper_80: Option<f64>,
    pub lower_95: Option<f64>,
    pub upper_95: Option<f64>,
}

/// A forecast.
#[derive(Debug, Serialize, ToSchema)]
pub struct CostForecast {
    /// `tenant` or `subscription`.
    pub scope: &'static str,
    /// The AzCops id of the subscription (null for the tenant, or for a subscription the
    /// tenant does not have: then the forecast is of no cost).
    pub subscription_id: Option<Uuid>,
    /// Null when there is no cost at all.
    pub currency: Option<String>,
    pub last_actual_date: NaiveDate,
    /// `stl_ets`, `seasonal_median` or `none`.
    pub method: &'static str,
    pub history: Vec<ActualDay>,
    pub points: Vec<ForecastDay>,
    pub month_end: MonthEnd,
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn bounds(show: bool, (lo, hi): (f64, f64)) -> (Option<f64>, Option<f64>) {
    if show {
        (Some(cents(lo)), Some(cents(hi)))
    } else {
        (None, None)
    }
}

fn check(p: &ForecastParams, to_month_end: usize) -> Result<(usize, usize), ApiError> {
    let horizon = match p.horizon_days {
        None => to_month_end.max(1),
        Some(h) if (1..=MAX_HORIZON as i64).contains(&h) => h as usize,
        Some(h) => {
            return Err(ApiError::BadRequest(format!(
                "horizon_days must be between 1 and {MAX_HORIZON}, got {h}"
            )));
        }
    };
    let history = match p.history_days {
        None => 30,
        Some(h) if (0..=HISTORY_DAYS as i64).contains(&h) => h as usize,
        Some(h) => {
            return Err(ApiError::BadRequest(format!(
                "history_days must be between 0 and {HISTORY_DAYS}, got {h}"
            )));
        }
    };
    Ok((horizon, history))
}

/// The last day of `day`'s month.
fn month_last_day(day: NaiveDate) -> NaiveDate {
    let (y, m) = if day.month() == 12 {
        (day.year() + 1, 1)
    } else {
        (day.year(), day.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .unwrap_or(day)
}

/// Forecasts daily amortized cost.
#[utoipa::path(get, path = "/api/v1/costs/forecast", operation_id = "getCostForecast", tag = "costs",
    params(ForecastParams),
    responses((status = 200, description = "The forecast of each day, with intervals, and the month-end total.", body = CostForecast),
        (status = 409, description = "`mixed_currencies`: the tenant's subscriptions are billed in several currencies; ask per subscription.")))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<ForecastParams>,
) -> Result<Json<CostForecast>, ApiError> {
    let last = state.now().date_naive() - Days::new(1);
    let month_end = month_last_day(last + Days::new(1));
    let to_month_end = usize::try_from((month_end - last).num_days()).unwrap_or(0);
    let (horizon, history_days) = check(&p, to_month_end)?;
    let from = last - Days::new(HISTORY_DAYS - 1);
    // Like a list's filters: another tenant's, or a subscription the tenant does not have,
    // is a forecast of nothing (no cost), never an error that would tell it exists.
    let tenant_id = match tenant_filter(&caller, p.tenant_id) {
        Some(Some(tenant)) => Some(tenant),
        Some(None) => {
            return Err(ApiError::BadRequest(
                "tenant_id is required when an operator reads a forecast".into(),
            ));
        }
        None => None,
    };
    let mut tx = state.begin(caller.scope).await?;
    let subscription = match (tenant_id, p.subscription_id) {
        (Some(tenant_id), Some(id)) => inputs::subscription_db_id(&mut tx, tenant_id, id).await?,
        _ => None,
    };
    let rows = match tenant_id {
        Some(tenant_id) if p.subscription_id.is_none() || subscription.is_some() => {
            inputs::daily_totals(&mut tx, tenant_id, subscription, (from, last)).await?
        }
        _ => Vec::new(),
    };
    tx.commit().await?;
    let mut currencies: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    currencies.sort_unstable();
    currencies.dedup();
    if currencies.len() > 1 {
        return Err(ApiError::ConflictCode {
            code: "mixed_currencies",
            message: format!(
                "the tenant's costs are in {}: ask for one subscription's forecast",
                currencies.join(", ")
            ),
        });
    }
    let currency = currencies.first().map(|c| (*c).to_owned());
    let points: Vec<(NaiveDate, f64)> = rows.iter().map(|r| (r.0, r.2)).collect();
    let values = daily(from, last, &points);
    // Days before the first cost are not history (a subscription registered lately).
    let first = values
        .iter()
        .position(|v| *v != 0.0)
        .unwrap_or(values.len());
    let observed = &values[first..];
    let dec = Decomposition::of(observed);
    let shift = detect_with(observed, &dec, &Settings::default())
        .anomalies
        .iter()
        .rev()
        .find(|a| a.days() >= 2)
        .map(|a| a.start);
    let f = forecast_from(&dec, horizon.max(to_month_end), shift);
    let month_start = (last + Days::new(1)).with_day(1).unwrap_or(last);
    let actual_to_date: f64 = (0..values.len())
        .filter(|i| from + Days::new(*i as u64) >= month_start)
        .map(|i| values[i])
        .sum();
    Ok(Json(CostForecast {
        scope: if p.subscription_id.is_some() {
            "subscription"
        } else {
            "tenant"
        },
        subscription_id: subscription,
        currency,
        last_actual_date: last,
        method: f.method.as_str(),
        history: (values.len() - history_days.min(values.len())..values.len())
            .map(|i| ActualDay {
                date: from + Days::new(i as u64),
                actual: cents(values[i]),
            })
            .collect(),
        points: days(&f, last, horizon, p.interval),
        month_end: month_total(&f, (month_end, to_month_end), actual_to_date, p.interval),
    }))
}

fn days(
    f: &Forecast,
    last: NaiveDate,
    horizon: usize,
    only: Option<IntervalLevel>,
) -> Vec<ForecastDay> {
    let (show80, show95) = (
        only != Some(IntervalLevel::P95),
        only != Some(IntervalLevel::P80),
    );
    (0..horizon.min(f.horizon()))
        .map(|h| {
            let (lower_80, upper_80) = bounds(show80, f.interval(h, Level::P80));
            let (lower_95, upper_95) = bounds(show95, f.interval(h, Level::P95));
            ForecastDay {
                date: last + Days::new(h as u64 + 1),
                forecast: cents(f.mean[h]),
                lower_80,
                upper_80,
                lower_95,
                upper_95,
            }
        })
        .collect()
}

fn month_total(
    f: &Forecast,
    (month_end, remaining_days): (NaiveDate, usize),
    actual: f64,
    only: Option<IntervalLevel>,
) -> MonthEnd {
    let (show80, show95) = (
        only != Some(IntervalLevel::P95),
        only != Some(IntervalLevel::P80),
    );
    let (rest, lo80, hi80) = f.sum(0..remaining_days, Level::P80);
    let (_, lo95, hi95) = f.sum(0..remaining_days, Level::P95);
    let (lower_80, upper_80) = bounds(show80, (actual + lo80, actual + hi80));
    let (lower_95, upper_95) = bounds(show95, (actual + lo95, actual + hi95));
    MonthEnd {
        month: month_end.format("%Y-%m").to_string(),
        actual_to_date: cents(actual),
        forecast_remaining: cents(rest),
        total: cents(actual + rest),
        lower_80,
        upper_80,
        lower_95,
        upper_95,
    }
}
