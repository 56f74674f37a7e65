//! Realised savings (PHASE3 §3): for an executed recommendation, or an approved one whose
//! finding resolved, the resource's mean daily amortized cost before the change against after
//! it, × 30.44 days a month.
//!
//! **Daily, 14 days each side** ([`Basis::Daily`]): full runs collect the daily cost of changed
//! resources (`crate::db::resource_daily_costs`), so "before" is the mean of the 14 days before
//! the day of the change and "after" the mean of the 14 days after it (the day itself is in
//! neither). Once the days before are covered, a resource that cost nothing then is
//! `unmeasurable`; until the days after are covered, `pending`.
//!
//! **Cost windows, the fallback** ([`Basis::CostWindow`]): while no daily costs cover the days
//! before the change (e.g. their collection failed), the 30-day per-resource windows are used:
//! "before" is the latest window of the resource that ended before the day of the change
//! (captured at the change, so later restatements do not move it), and "after" the latest
//! window of its subscription, once it starts after that day and ends at least 14 days after
//! it (a resource without rows in it cost nothing: deleted). Without a "before" window the
//! savings are `unmeasurable`; without an "after" window yet, `pending`.
//!
//! Only the subscription's latest window is looked at: windows are the 30 days ending three
//! days before a full run, so a later window also starts later, and when the latest does not
//! qualify no earlier one does. It is found once per subscription (a step back along each
//! partition's primary key), not once per recommendation; looking for "the latest window that
//! qualifies" per recommendation walked every row of the subscription's recent windows
//! whenever none did (1.4–1.8 s for a tenant with a thousand executed recommendations,
//! `BENCHMARKS.md`, issue 15). The changed recommendations themselves come from a partial
//! index (migration `20261214000100`).
//!
//! **Kept** (migration `20261217000000`): [`store`] keeps each changed recommendation's
//! measurement in `recommendation_realised`, and triggers remove it when its inputs change (the
//! recommendation's change, or its subscription's per-resource costs). The summary reads the kept
//! ones and measures only those without one; measuring them all on each request spent 6–24 ms
//! planning the query below (`BENCHMARKS.md`, issue 15).
//!
//! **Added up** (migration `20261221000000`): statement triggers keep each tenant's kept
//! measurements summed per rule, estimate currency, measurement and measured currency in
//! `recommendation_realised_cells`, with a cell of the changed recommendations not measured yet.
//! A summary without a subscription filter reads those cells ([`figures`]); adding up the
//! largest tenant's 1,094 changed recommendations on each request cost about 2.8 ms of
//! PostgreSQL.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::resource_daily_costs::DAYS_EACH_SIDE;

/// Days in an average month.
pub const DAYS_PER_MONTH: Decimal = Decimal::from_parts(3044, 0, 0, false, 2);

/// Days after the change that the "after" window must reach.
pub const DAYS_AFTER: i32 = 14;

/// Captures the cost baseline of each recommendation in `ids` as of its change
/// (`executed_at`, else `resolved_at`): left NULL, i.e. unmeasurable, without a window.
pub(crate) async fn capture_baselines(
    conn: &mut PgConnection,
    ids: &[Uuid],
) -> Result<(), sqlx::Error> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        r#"UPDATE recommendations r SET baseline_daily_cost = b.daily, baseline_currency = b.currency,
                  baseline_window_start = b.window_start, baseline_window_end = b.window_end
           FROM (SELECT r2.id, w.window_start, w.window_end, w.daily, w.currency
                 FROM recommendations r2
                 LEFT JOIN LATERAL (
                     SELECT min(c.window_start) AS window_start, c.window_end,
                            round(sum(c.amortized_cost) / (c.window_end - min(c.window_start) + 1), 6) AS daily,
                            min(c.currency) AS currency
                     FROM resource_costs c
                     WHERE c.tenant_id = r2.tenant_id AND c.subscription_db_id = r2.subscription_db_id
                       AND c.resource_id = r2.resource_id
                       AND c.window_end < (coalesce(r2.executed_at, r2.resolved_at) AT TIME ZONE 'UTC')::date
                     GROUP BY c.window_end ORDER BY c.window_end DESC LIMIT 1) w ON true
                 WHERE r2.id = ANY($1)) b
           WHERE r.id = b.id"#,
        ids,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether realised savings could be measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "realised_measurement", rename_all = "snake_case")]
pub enum Measurement {
    /// Both sides known.
    Measured,
    /// The baseline is known; no cost window after the change yet.
    Pending,
    /// No per-resource cost before the change.
    Unmeasurable,
}

impl Measurement {
    fn as_str(self) -> &'static str {
        match self {
            Self::Measured => "measured",
            Self::Pending => "pending",
            Self::Unmeasurable => "unmeasurable",
        }
    }
}

/// What the two sides were measured from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The resource's daily cost, 14 days each side of the change.
    Daily,
    /// 30-day per-resource cost windows before and after the change (the fallback).
    CostWindow,
}

/// What one change saved.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Realised {
    pub measurement: Measurement,
    pub basis: Basis,
    /// The currency of the costs (may differ from the estimate's, e.g. Advisor's USD).
    pub currency: Option<String>,
    #[serde(with = "rust_decimal::serde::float_option")]
    #[schema(value_type = Option<f64>)]
    pub baseline_daily_cost: Option<Decimal>,
    pub baseline_window_start: Option<NaiveDate>,
    pub baseline_window_end: Option<NaiveDate>,
    #[serde(with = "rust_decimal::serde::float_option")]
    #[schema(value_type = Option<f64>)]
    pub after_daily_cost: Option<Decimal>,
    pub after_window_start: Option<NaiveDate>,
    pub after_window_end: Option<NaiveDate>,
    /// (before − after) × 30.44, when measured.
    #[serde(with = "rust_decimal::serde::float_option")]
    #[schema(value_type = Option<f64>)]
    pub monthly_savings: Option<Decimal>,
}

/// One recommendation whose savings count as realised, with both sides of its measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct RealisedRow {
    pub id: Uuid,
    pub rule_id: String,
    pub category: String,
    pub estimated_monthly_savings: Option<Decimal>,
    pub estimate_currency: String,
    pub baseline_daily_cost: Option<Decimal>,
    pub baseline_currency: Option<String>,
    pub baseline_window_start: Option<NaiveDate>,
    pub baseline_window_end: Option<NaiveDate>,
    pub after_daily_cost: Option<Decimal>,
    pub after_window_start: Option<NaiveDate>,
    pub after_window_end: Option<NaiveDate>,
    /// The day of the change (UTC).
    pub change_day: NaiveDate,
    /// Mean daily cost over the 14 days before the change, when daily costs cover them.
    pub daily_before: Option<Decimal>,
    /// Mean daily cost over the 14 days after the change, when daily costs cover them.
    pub daily_after: Option<Decimal>,
    pub daily_currency: Option<String>,
}

/// What a summary adds up of changed recommendations of one rule with the same estimate
/// currency, measurement and measured currency: how many, and their estimates and measured
/// savings summed.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub rule_id: String,
    pub estimate_currency: String,
    /// The recommendations it adds up (1 for one measured at the request).
    pub count: i64,
    pub estimated_monthly_savings: Option<Decimal>,
    pub measurement: Measurement,
    /// The currency of the measured costs, when any were.
    pub currency: Option<String>,
    pub monthly_savings: Option<Decimal>,
}

impl RealisedRow {
    /// What a summary adds up of this row.
    pub fn figure(&self) -> Figure {
        let realised = self.realised();
        Figure {
            rule_id: self.rule_id.clone(),
            estimate_currency: self.estimate_currency.clone(),
            count: 1,
            estimated_monthly_savings: self.estimated_monthly_savings,
            measurement: realised.measurement,
            currency: realised.currency,
            monthly_savings: realised.monthly_savings,
        }
    }

    /// The measurement of this row.
    pub fn realised(&self) -> Realised {
        match self.daily_before {
            Some(before) => self.daily(before),
            None => self.windowed(),
        }
    }

    fn daily(&self, before: Decimal) -> Realised {
        let side = Duration::days(i64::from(DAYS_EACH_SIDE));
        let measurement = match self.daily_after {
            _ if before.is_zero() => Measurement::Unmeasurable,
            None => Measurement::Pending,
            Some(_) => Measurement::Measured,
        };
        let measured = measurement == Measurement::Measured;
        Realised {
            measurement,
            basis: Basis::Daily,
            currency: self
                .daily_currency
                .clone()
                .or_else(|| self.baseline_currency.clone()),
            baseline_daily_cost: Some(before),
            baseline_window_start: Some(self.change_day - side),
            baseline_window_end: Some(self.change_day - Duration::days(1)),
            after_daily_cost: self.daily_after,
            after_window_start: Some(self.change_day + Duration::days(1)),
            after_window_end: Some(self.change_day + side),
            monthly_savings: self
                .daily_after
                .filter(|_| measured)
                .map(|after| ((before - after) * DAYS_PER_MONTH).round_dp(2)),
        }
    }

    fn windowed(&self) -> Realised {
        let measurement = match (self.baseline_daily_cost, self.after_daily_cost) {
            (None, _) => Measurement::Unmeasurable,
            (Some(_), None) => Measurement::Pending,
            (Some(_), Some(_)) => Measurement::Measured,
        };
        let monthly_savings = match (self.baseline_daily_cost, self.after_daily_cost) {
            (Some(before), Some(after)) => Some(((before - after) * DAYS_PER_MONTH).round_dp(2)),
            _ => None,
        };
        Realised {
            measurement,
            basis: Basis::CostWindow,
            currency: self.baseline_currency.clone(),
            baseline_daily_cost: self.baseline_daily_cost,
            baseline_window_start: self.baseline_window_start,
            baseline_window_end: self.baseline_window_end,
            after_daily_cost: self.after_daily_cost,
            after_window_start: self.after_window_start,
            after_window_end: self.after_window_end,
            monthly_savings,
        }
    }
}

/// The recommendations whose savings count as realised among `ids`, or all of those visible
/// under `filter` (tenant and subscription only) when `ids` is `None`; superseded Advisor
/// recommendations are left out (their group counts once).
pub async fn rows(
    conn: &mut PgConnection,
    filter: &super::query::SummaryFilter,
    ids: Option<&[Uuid]>,
) -> Result<Vec<RealisedRow>, sqlx::Error> {
    sqlx::query_as!(
        RealisedRow,
        r#"WITH changed AS (
               SELECT r.id, r.tenant_id, r.subscription_db_id, r.resource_id, r.rule_id, r.category,
                      r.estimated_monthly_savings, r.currency, r.baseline_daily_cost, r.baseline_currency,
                      r.baseline_window_start, r.baseline_window_end,
                      (coalesce(r.executed_at, r.resolved_at) AT TIME ZONE 'UTC')::date AS day
               FROM recommendations r
               JOIN subscriptions s ON s.id = r.subscription_db_id
               WHERE (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
                 AND r.superseded_by IS NULL
                 AND ($1::uuid IS NULL OR r.tenant_id = $1)
                 AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
                 AND ($3::uuid[] IS NULL OR r.id = ANY($3))
                 AND ($4 OR r.id NOT IN (SELECT h.id FROM recommendations_hidden($5) h))),
           latest AS (
               SELECT subs.tenant_id, subs.subscription_db_id, w.window_start, w.window_end
               FROM (SELECT DISTINCT tenant_id, subscription_db_id FROM changed) subs
               CROSS JOIN LATERAL (
                   SELECT c.window_start, c.window_end FROM resource_costs c
                   WHERE c.tenant_id = subs.tenant_id AND c.subscription_db_id = subs.subscription_db_id
                   ORDER BY c.window_end DESC LIMIT 1) w)
           SELECT ch.id AS "id!", ch.rule_id AS "rule_id!", ch.category AS "category!",
                  ch.estimated_monthly_savings, ch.currency AS "estimate_currency!",
                  ch.baseline_daily_cost, ch.baseline_currency, ch.baseline_window_start, ch.baseline_window_end,
                  a.daily AS "after_daily_cost?", a.window_start AS "after_window_start?",
                  a.window_end AS "after_window_end?", ch.day AS "change_day!",
                  CASE WHEN cov.covered_from <= ch.day - $7::integer AND cov.covered_to >= ch.day - 1
                       THEN dc.before END AS "daily_before?",
                  CASE WHEN cov.covered_from <= ch.day + 1 AND cov.covered_to >= ch.day + $7::integer
                       THEN dc.after END AS "daily_after?",
                  dc.currency AS "daily_currency?"
           FROM changed ch
           LEFT JOIN latest l ON l.tenant_id = ch.tenant_id AND l.subscription_db_id = ch.subscription_db_id
           LEFT JOIN LATERAL (
               SELECT l.window_start, l.window_end,
                      round(coalesce((SELECT sum(c.amortized_cost) FROM resource_costs c
                                      WHERE c.tenant_id = ch.tenant_id AND c.subscription_db_id = ch.subscription_db_id
                                        AND c.window_end = l.window_end AND c.resource_id = ch.resource_id), 0)
                            / (l.window_end - l.window_start + 1), 6) AS daily
               WHERE l.window_start > ch.day AND l.window_end >= ch.day + $6::integer) a
                  ON ch.baseline_daily_cost IS NOT NULL
           LEFT JOIN resource_daily_cost_coverage cov
                  ON cov.tenant_id = ch.tenant_id AND cov.subscription_db_id = ch.subscription_db_id
                 AND cov.resource_id = ch.resource_id
           LEFT JOIN LATERAL (
               SELECT round(coalesce(sum(d.amortized_cost) FILTER (WHERE d.date < ch.day), 0) / $7::integer, 6) AS before,
                      round(coalesce(sum(d.amortized_cost) FILTER (WHERE d.date > ch.day), 0) / $7::integer, 6) AS after,
                      min(d.currency) AS currency
               FROM resource_daily_costs d
               WHERE d.tenant_id = ch.tenant_id AND d.subscription_db_id = ch.subscription_db_id
                 AND d.resource_id = ch.resource_id
                 AND d.date BETWEEN ch.day - $7::integer AND ch.day + $7::integer) dc ON cov.resource_id IS NOT NULL
           ORDER BY ch.id"#,
        filter.tenant_id,
        filter.subscription,
        ids,
        filter.include_suppressed,
        filter.at,
        DAYS_AFTER,
        DAYS_EACH_SIDE,
    )
    .fetch_all(conn)
    .await
}

/// The figures of the recommendations whose savings count as realised under `filter`.
///
/// Without a subscription filter they are read from the tenant's (or every tenant's) realised
/// cells (migration `20261221000000`), less what suppressions and disabled rules hide: tens of
/// rows, not one per changed recommendation. Should some changed recommendation have no kept
/// measurement (between a write of its costs and the evaluation that measures them again), or
/// with a subscription filter, they are [`figures_of_recommendations`].
pub async fn figures(
    conn: &mut PgConnection,
    filter: &super::query::SummaryFilter,
) -> Result<Vec<Figure>, sqlx::Error> {
    let cells = match (filter.tenant_id, filter.subscription) {
        (_, Some(_)) => return figures_of_recommendations(conn, filter).await,
        (Some(tenant_id), None) => tenant_cells(conn, tenant_id, filter).await?,
        (None, None) => every_tenants_cells(conn, filter).await?,
    };
    let mut out = Vec::with_capacity(cells.len());
    for cell in cells {
        let measurement = match cell.measurement.as_str() {
            "measured" => Measurement::Measured,
            "pending" => Measurement::Pending,
            "unmeasurable" => Measurement::Unmeasurable,
            // Changed recommendations without a kept measurement: measured now, with the rest,
            // by statements with optional filters, which need a plan for their values (the
            // transaction may keep generic plans: `query::summary_planning`).
            _ => {
                crate::db::plan_rest(conn, crate::db::Planning::EachExecution).await?;
                return figures_of_recommendations(conn, filter).await;
            }
        };
        out.push(Figure {
            rule_id: cell.rule_id,
            estimate_currency: cell.estimate_currency,
            count: cell.count,
            estimated_monthly_savings: Some(cell.estimated),
            measurement,
            currency: Some(cell.currency).filter(|c| !c.is_empty()),
            monthly_savings: (measurement == Measurement::Measured).then_some(cell.savings),
        });
    }
    Ok(out)
}

/// One realised cell as a summary reads it: the kept sums less what is hidden.
struct RealisedCell {
    rule_id: String,
    estimate_currency: String,
    measurement: String,
    currency: String,
    count: i64,
    estimated: Decimal,
    savings: Decimal,
}

/// The tenant's realised cells: a statement that names only the tenant, so that its plan can be
/// kept (`query::summary_planning`).
async fn tenant_cells(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    filter: &super::query::SummaryFilter,
) -> Result<Vec<RealisedCell>, sqlx::Error> {
    sqlx::query_as!(
        RealisedCell,
        r#"WITH parts AS (
               SELECT c.rule_id, c.estimate_currency, c.measurement, c.currency, c.count,
                      c.estimated_monthly_savings, c.monthly_savings
               FROM recommendation_realised_cells c
               WHERE c.tenant_id = $1
               UNION ALL
               SELECT p.rule_id, p.estimate_currency, p.measurement, p.currency, p.count,
                      p.estimated_monthly_savings, p.monthly_savings
               FROM recommendation_realised_pending p
               WHERE p.tenant_id = $1
               UNION ALL
               SELECT r.rule_id, r.currency, coalesce(m.measurement::text, ''), coalesce(m.currency, ''),
                      -1, -coalesce(r.estimated_monthly_savings, 0), -coalesce(m.monthly_savings, 0)
               FROM recommendations_hidden($3) h
               CROSS JOIN LATERAL (
                   SELECT r.tenant_id, r.id, r.rule_id, r.currency, r.estimated_monthly_savings
                   FROM recommendations r
                   WHERE r.id = h.id AND r.tenant_id = $1
                     AND (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
                     AND r.superseded_by IS NULL
                   OFFSET 0) r
               LEFT JOIN recommendation_realised m ON m.tenant_id = r.tenant_id AND m.recommendation_id = r.id
               WHERE NOT $2)
           SELECT p.rule_id AS "rule_id!", p.estimate_currency AS "estimate_currency!",
                  p.measurement AS "measurement!", p.currency AS "currency!",
                  sum(p.count)::bigint AS "count!", sum(p.estimated_monthly_savings) AS "estimated!",
                  sum(p.monthly_savings) AS "savings!"
           FROM parts p
           GROUP BY p.rule_id, p.estimate_currency, p.measurement, p.currency
           HAVING sum(p.count) <> 0"#,
        tenant_id,
        filter.include_suppressed,
        filter.at,
    )
    .fetch_all(conn)
    .await
}

/// Every tenant's realised cells (an operator's summary of all tenants).
async fn every_tenants_cells(
    conn: &mut PgConnection,
    filter: &super::query::SummaryFilter,
) -> Result<Vec<RealisedCell>, sqlx::Error> {
    sqlx::query_as!(
        RealisedCell,
        r#"WITH parts AS (
               SELECT c.rule_id, c.estimate_currency, c.measurement, c.currency, c.count,
                      c.estimated_monthly_savings, c.monthly_savings
               FROM recommendation_realised_cells c
               UNION ALL
               SELECT p.rule_id, p.estimate_currency, p.measurement, p.currency, p.count,
                      p.estimated_monthly_savings, p.monthly_savings
               FROM recommendation_realised_pending p
               UNION ALL
               SELECT r.rule_id, r.currency, coalesce(m.measurement::text, ''), coalesce(m.currency, ''),
                      -1, -coalesce(r.estimated_monthly_savings, 0), -coalesce(m.monthly_savings, 0)
               FROM recommendations_hidden($2) h
               CROSS JOIN LATERAL (
                   SELECT r.tenant_id, r.id, r.rule_id, r.currency, r.estimated_monthly_savings
                   FROM recommendations r
                   WHERE r.id = h.id
                     AND (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
                     AND r.superseded_by IS NULL
                   OFFSET 0) r
               LEFT JOIN recommendation_realised m ON m.tenant_id = r.tenant_id AND m.recommendation_id = r.id
               WHERE NOT $1)
           SELECT p.rule_id AS "rule_id!", p.estimate_currency AS "estimate_currency!",
                  p.measurement AS "measurement!", p.currency AS "currency!",
                  sum(p.count)::bigint AS "count!", sum(p.estimated_monthly_savings) AS "estimated!",
                  sum(p.monthly_savings) AS "savings!"
           FROM parts p
           GROUP BY p.rule_id, p.estimate_currency, p.measurement, p.currency
           HAVING sum(p.count) <> 0"#,
        filter.include_suppressed,
        filter.at,
    )
    .fetch_all(conn)
    .await
}

/// [`figures`] from the changed recommendations themselves: their kept measurements added up by
/// PostgreSQL (one row per rule, currencies and measurement, not one per recommendation), and a
/// measurement made now of those without one.
pub async fn figures_of_recommendations(
    conn: &mut PgConnection,
    filter: &super::query::SummaryFilter,
) -> Result<Vec<Figure>, sqlx::Error> {
    let kept = sqlx::query!(
        r#"SELECT r.rule_id, r.currency, m.measurement AS "measurement?: Measurement",
                  m.currency AS "measured_currency?", count(*) AS "count!",
                  sum(r.estimated_monthly_savings) AS estimated_monthly_savings,
                  sum(m.monthly_savings) AS monthly_savings,
                  array_agg(r.id) FILTER (WHERE m.recommendation_id IS NULL) AS unmeasured
           FROM recommendations r
           JOIN subscriptions s ON s.id = r.subscription_db_id
           LEFT JOIN recommendation_realised m ON m.tenant_id = r.tenant_id AND m.recommendation_id = r.id
           WHERE (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
             AND r.superseded_by IS NULL
             AND ($1::uuid IS NULL OR r.tenant_id = $1)
             AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
             AND ($3 OR r.id NOT IN (SELECT h.id FROM recommendations_hidden($4) h))
           GROUP BY r.rule_id, r.currency, m.measurement, m.currency"#,
        filter.tenant_id,
        filter.subscription,
        filter.include_suppressed,
        filter.at,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(kept.len());
    let mut unmeasured = Vec::new();
    for row in kept {
        match row.measurement {
            Some(measurement) => out.push(Figure {
                rule_id: row.rule_id,
                estimate_currency: row.currency,
                count: row.count,
                estimated_monthly_savings: row.estimated_monthly_savings,
                measurement,
                currency: row.measured_currency,
                monthly_savings: row.monthly_savings,
            }),
            None => unmeasured.extend(row.unmeasured.unwrap_or_default()),
        }
    }
    if !unmeasured.is_empty() {
        let measured = rows(conn, filter, Some(&unmeasured)).await?;
        out.extend(measured.iter().map(RealisedRow::figure));
    }
    Ok(out)
}

/// Measures the recommendations whose savings count as realised among `ids`, or all of those
/// under `filter` (tenant and subscription) when `ids` is `None`, and keeps their measurements.
/// A measurement is kept only while its recommendation still counts as realised and is not
/// superseded (the realised cells rely on it): the recommendations are locked until the
/// transaction ends, so a change of one waits, and then forgets the measurement. Returns how
/// many measurements were written (an unchanged one is left alone).
pub(crate) async fn store(
    conn: &mut PgConnection,
    filter: &super::query::SummaryFilter,
    ids: Option<&[Uuid]>,
) -> Result<u64, sqlx::Error> {
    let all = super::query::SummaryFilter {
        include_suppressed: true,
        ..filter.clone()
    };
    let measured = rows(conn, &all, ids).await?;
    if measured.is_empty() {
        return Ok(0);
    }
    let count = measured.len();
    let (mut ids, mut kinds, mut currencies, mut savings) = (
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
        Vec::with_capacity(count),
    );
    for row in &measured {
        let realised = row.realised();
        ids.push(row.id);
        kinds.push(realised.measurement.as_str());
        currencies.push(realised.currency);
        savings.push(realised.monthly_savings);
    }
    let result = sqlx::query!(
        r#"INSERT INTO recommendation_realised
               (tenant_id, recommendation_id, subscription_db_id, rule_id, estimate_currency,
                estimated_monthly_savings, measurement, currency, monthly_savings)
           SELECT r.tenant_id, r.id, r.subscription_db_id, r.rule_id, r.currency,
                  r.estimated_monthly_savings, x.measurement::realised_measurement, x.currency, x.savings
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::numeric[]) AS x(id, measurement, currency, savings)
           JOIN recommendations r ON r.id = x.id
           WHERE (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
             AND r.superseded_by IS NULL
           FOR SHARE OF r
           ON CONFLICT (tenant_id, recommendation_id) DO UPDATE SET
               subscription_db_id = EXCLUDED.subscription_db_id, rule_id = EXCLUDED.rule_id,
               estimate_currency = EXCLUDED.estimate_currency,
               estimated_monthly_savings = EXCLUDED.estimated_monthly_savings,
               measurement = EXCLUDED.measurement, currency = EXCLUDED.currency,
               monthly_savings = EXCLUDED.monthly_savings, measured_at = now()
           WHERE (recommendation_realised.subscription_db_id, recommendation_realised.rule_id,
                  recommendation_realised.estimate_currency,
                  recommendation_realised.estimated_monthly_savings,
                  recommendation_realised.measurement, recommendation_realised.currency,
                  recommendation_realised.monthly_savings)
                 IS DISTINCT FROM (EXCLUDED.subscription_db_id, EXCLUDED.rule_id,
                                   EXCLUDED.estimate_currency, EXCLUDED.estimated_monthly_savings,
                                   EXCLUDED.measurement, EXCLUDED.currency, EXCLUDED.monthly_savings)"#,
        &ids,
        &kinds as &[&str],
        &currencies as &[Option<String>],
        &savings as &[Option<Decimal>],
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Measures and keeps, subscription by subscription, what no kept measurement covers: every
/// changed recommendation of any tenant without one (after the migration that began keeping
/// them, a restore or a bulk load). `azcops migrate` runs it; otherwise each evaluation keeps
/// its subscription's. Returns the measurements written.
pub async fn store_unmeasured(pool: &sqlx::PgPool, at: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let mut tx = crate::db::begin(pool, crate::db::Scope::Operator).await?;
    let subscriptions = sqlx::query!(
        r#"SELECT DISTINCT r.tenant_id, r.subscription_db_id FROM recommendations r
           WHERE (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
             AND NOT EXISTS (SELECT 1 FROM recommendation_realised m
                             WHERE m.tenant_id = r.tenant_id AND m.recommendation_id = r.id)"#
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut written = 0;
    for sub in subscriptions {
        let mut tx = crate::db::begin(pool, crate::db::Scope::Tenant(sub.tenant_id)).await?;
        let filter = super::query::SummaryFilter {
            tenant_id: Some(sub.tenant_id),
            subscription: Some(sub.subscription_db_id),
            include_suppressed: true,
            at,
        };
        written += store(&mut tx, &filter, None).await?;
        tx.commit().await?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(before: Option<i64>, after: Option<i64>) -> RealisedRow {
        RealisedRow {
            id: Uuid::nil(),
            rule_id: "disk.unattached".into(),
            category: "waste".into(),
            estimated_monthly_savings: Some(Decimal::from(300)),
            estimate_currency: "EUR".into(),
            baseline_daily_cost: before.map(Decimal::from),
            baseline_currency: Some("EUR".into()),
            baseline_window_start: None,
            baseline_window_end: None,
            after_daily_cost: after.map(Decimal::from),
            after_window_start: None,
            after_window_end: None,
            change_day: NaiveDate::from_ymd_opt(2026, 11, 15).unwrap(),
            daily_before: None,
            daily_after: None,
            daily_currency: None,
        }
    }

    #[test]
    fn daily_costs_around_the_change_come_first() {
        let mut daily = row(Some(10), Some(2));
        daily.daily_before = Some(Decimal::from(7));
        let pending = daily.realised();
        assert_eq!(
            (pending.measurement, pending.basis),
            (Measurement::Pending, Basis::Daily)
        );
        assert_eq!(
            pending.baseline_window_start,
            NaiveDate::from_ymd_opt(2026, 11, 1)
        );
        assert_eq!(
            pending.baseline_window_end,
            NaiveDate::from_ymd_opt(2026, 11, 14)
        );
        assert_eq!(pending.monthly_savings, None);
        daily.daily_after = Some(Decimal::from(1));
        let measured = daily.realised();
        assert_eq!(measured.measurement, Measurement::Measured);
        assert_eq!(
            measured.after_window_end,
            NaiveDate::from_ymd_opt(2026, 11, 29)
        );
        // (7 − 1) × 30.44
        assert_eq!(measured.monthly_savings, Some(Decimal::new(18264, 2)));
        daily.daily_before = Some(Decimal::ZERO);
        assert_eq!(daily.realised().measurement, Measurement::Unmeasurable);
    }

    #[test]
    fn savings_are_the_daily_difference_times_an_average_month() {
        let measured = row(Some(10), Some(2)).realised();
        assert_eq!(measured.measurement, Measurement::Measured);
        assert_eq!(measured.basis, Basis::CostWindow);
        assert_eq!(measured.monthly_savings, Some(Decimal::new(24352, 2)));
        assert_eq!(
            row(Some(10), None).realised().measurement,
            Measurement::Pending
        );
        let none = row(None, Some(3)).realised();
        assert_eq!(none.measurement, Measurement::Unmeasurable);
        assert_eq!(none.monthly_savings, None);
    }
}
