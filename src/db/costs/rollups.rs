//! The cost summary read from the rollups of `costs_daily` (README "Cost storage"):
//! `costs_monthly_by_service` for the months, `costs_daily_by_service` for single days (and
//! the trend of one service), `costs_daily_totals` for the trend; without a subscription
//! filter their tenant-level twins (`costs_tenant_*`), which hold one row per tenant where
//! those hold one per subscription; for the operator over every tenant, the all-tenant
//! `costs_all_tenants_*`, which hold one row per day or month and service. Numeric sums are
//! exact, so
//! the answer is the one summed from the daily rows, to the last digit.

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use sqlx::PgConnection;

use super::{CostFilter, Sum, Summary, totals};

/// Which rollup rows add up to a window's sums per service: the monthly rows of `months`, plus
/// the day rows of `added`, less the day rows of `subtracted`. A month the window covers
/// whole is read from the monthly rollup. A month it covers in part is read either as its days
/// inside the window, or as its monthly row less its days outside the window, whichever reads
/// fewer days: the last 30 days are mostly a whole month less a few days, and the days of the
/// current month after today hold no cost yet, so they count as free.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Plan {
    months: Vec<NaiveDate>,
    added: Vec<NaiveDate>,
    subtracted: Vec<NaiveDate>,
}

impl Plan {
    /// The plan for `from..=to`, `today` telling which days have no cost yet.
    pub(super) fn of(from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Self {
        Self::by_month(from, to, today).unwrap_or_else(|| Plan {
            added: from.iter_days().take_while(|d| *d <= to).collect(),
            ..Plan::default()
        })
    }

    /// `None` only at the ends of the calendar.
    fn by_month(from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Option<Self> {
        let mut plan = Plan::default();
        let mut month = from.with_day(1)?;
        while month <= to {
            let next = month.checked_add_months(Months::new(1))?;
            let days = || month.iter_days().take_while(|d| *d < next);
            let inside: Vec<NaiveDate> = days().filter(|d| (from..=to).contains(d)).collect();
            let outside: Vec<NaiveDate> = days().filter(|d| !(from..=to).contains(d)).collect();
            let to_read = outside.iter().filter(|d| **d <= today).count();
            if outside.is_empty() {
                plan.months.push(month);
            } else if to_read < inside.len() {
                plan.months.push(month);
                plan.subtracted.extend(outside);
            } else {
                plan.added.extend(inside);
            }
            month = next;
        }
        Some(plan)
    }
}

/// [`super::summary`] from the rollups, for `from..=to` read as `plan` says (no resource group
/// filter: the rollups do not keep it). A service is listed when it has rows in the window
/// (the rollups count them), even if they sum to zero, as from the daily rows. Without a
/// subscription filter, from the tenant rollups (one row per tenant, not per subscription), or
/// for the operator over every tenant from the all-tenant rollups; with one, from the
/// per-subscription rollups.
pub(super) async fn summary(
    conn: &mut PgConnection,
    f: &CostFilter,
    (from, to): (NaiveDate, NaiveDate),
    plan: &Plan,
) -> Result<Summary, sqlx::Error> {
    if f.subscription.is_none() && f.tenant_id.is_none() && operator(conn).await? {
        return all_tenants_summary(conn, f, (from, to), plan).await;
    }
    if f.subscription.is_none() {
        return tenant_summary(conn, f, (from, to), plan).await;
    }
    let by_service = sqlx::query_as!(
        ServiceRow,
        r#"SELECT x.service_name AS "service_name!", x.currency AS "currency!",
                  sum(x.cost) AS "cost!", sum(x.amortized_cost) AS "amortized!"
           FROM (SELECT m.service_name, m.currency, m.cost, m.amortized_cost, m.row_count
                 FROM costs_monthly_by_service m
                 WHERE m.month = ANY($3::date[])
                   AND ($1::uuid IS NULL OR m.tenant_id = $1)
                   AND ($2::uuid IS NULL OR m.subscription_db_id IN
                        (SELECT s.id FROM subscriptions s WHERE s.id = $2 OR s.subscription_id = $2))
                   AND ($6::text IS NULL OR m.service_name = $6)
                 UNION ALL
                 SELECT d.service_name, d.currency, d.cost, d.amortized_cost, d.row_count
                 FROM costs_daily_by_service d
                 WHERE d.date = ANY($4::date[])
                   AND ($1::uuid IS NULL OR d.tenant_id = $1)
                   AND ($2::uuid IS NULL OR d.subscription_db_id IN
                        (SELECT s.id FROM subscriptions s WHERE s.id = $2 OR s.subscription_id = $2))
                   AND ($6::text IS NULL OR d.service_name = $6)
                 UNION ALL
                 SELECT d.service_name, d.currency, -d.cost, -d.amortized_cost, -d.row_count
                 FROM costs_daily_by_service d
                 WHERE d.date = ANY($5::date[])
                   AND ($1::uuid IS NULL OR d.tenant_id = $1)
                   AND ($2::uuid IS NULL OR d.subscription_db_id IN
                        (SELECT s.id FROM subscriptions s WHERE s.id = $2 OR s.subscription_id = $2))
                   AND ($6::text IS NULL OR d.service_name = $6)) x
           GROUP BY x.service_name, x.currency
           HAVING sum(x.row_count) > 0
           ORDER BY sum(x.cost) DESC, x.service_name, x.currency"#,
        f.tenant_id,
        f.subscription,
        &plan.months,
        &plan.added,
        &plan.subtracted,
        f.service_name,
    )
    .fetch_all(&mut *conn)
    .await?;
    // One service: its days per service; otherwise the day totals.
    let daily = sqlx::query_as!(
        DayRow,
        r#"SELECT x.date AS "date!", x.currency AS "currency!",
                  sum(x.cost) AS "cost!", sum(x.amortized_cost) AS "amortized!"
           FROM (SELECT t.date, t.currency, t.cost, t.amortized_cost
                 FROM costs_daily_totals t
                 WHERE $5::text IS NULL AND t.date >= $3 AND t.date <= $4
                   AND ($1::uuid IS NULL OR t.tenant_id = $1)
                   AND ($2::uuid IS NULL OR t.subscription_db_id IN
                        (SELECT s.id FROM subscriptions s WHERE s.id = $2 OR s.subscription_id = $2))
                 UNION ALL
                 SELECT d.date, d.currency, d.cost, d.amortized_cost
                 FROM costs_daily_by_service d
                 WHERE d.service_name = $5 AND d.date >= $3 AND d.date <= $4
                   AND ($1::uuid IS NULL OR d.tenant_id = $1)
                   AND ($2::uuid IS NULL OR d.subscription_db_id IN
                        (SELECT s.id FROM subscriptions s WHERE s.id = $2 OR s.subscription_id = $2))) x
           GROUP BY x.date, x.currency
           ORDER BY x.date, x.currency"#,
        f.tenant_id,
        f.subscription,
        from,
        to,
        f.service_name,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(summary_of(by_service, daily))
}

/// [`summary`] from the tenant rollups (`costs_tenant_*`): the same plan, without the
/// subscription dimension, so an operator over every tenant sums one row per tenant.
async fn tenant_summary(
    conn: &mut PgConnection,
    f: &CostFilter,
    (from, to): (NaiveDate, NaiveDate),
    plan: &Plan,
) -> Result<Summary, sqlx::Error> {
    let by_service = sqlx::query_as!(
        ServiceRow,
        r#"SELECT x.service_name AS "service_name!", x.currency AS "currency!",
                  sum(x.cost) AS "cost!", sum(x.amortized_cost) AS "amortized!"
           FROM (SELECT m.service_name, m.currency, m.cost, m.amortized_cost, m.row_count
                 FROM costs_tenant_monthly_by_service m
                 WHERE m.month = ANY($2::date[])
                   AND ($1::uuid IS NULL OR m.tenant_id = $1)
                   AND ($5::text IS NULL OR m.service_name = $5)
                 UNION ALL
                 SELECT d.service_name, d.currency, d.cost, d.amortized_cost, d.row_count
                 FROM costs_tenant_daily_by_service d
                 WHERE d.date = ANY($3::date[])
                   AND ($1::uuid IS NULL OR d.tenant_id = $1)
                   AND ($5::text IS NULL OR d.service_name = $5)
                 UNION ALL
                 SELECT d.service_name, d.currency, -d.cost, -d.amortized_cost, -d.row_count
                 FROM costs_tenant_daily_by_service d
                 WHERE d.date = ANY($4::date[])
                   AND ($1::uuid IS NULL OR d.tenant_id = $1)
                   AND ($5::text IS NULL OR d.service_name = $5)) x
           GROUP BY x.service_name, x.currency
           HAVING sum(x.row_count) > 0
           ORDER BY sum(x.cost) DESC, x.service_name, x.currency"#,
        f.tenant_id,
        &plan.months,
        &plan.added,
        &plan.subtracted,
        f.service_name,
    )
    .fetch_all(&mut *conn)
    .await?;
    // One service: its days per service; otherwise the day totals.
    let daily = sqlx::query_as!(
        DayRow,
        r#"SELECT x.date AS "date!", x.currency AS "currency!",
                  sum(x.cost) AS "cost!", sum(x.amortized_cost) AS "amortized!"
           FROM (SELECT t.date, t.currency, t.cost, t.amortized_cost
                 FROM costs_tenant_daily_totals t
                 WHERE $4::text IS NULL AND t.date >= $2 AND t.date <= $3
                   AND ($1::uuid IS NULL OR t.tenant_id = $1)
                 UNION ALL
                 SELECT d.date, d.currency, d.cost, d.amortized_cost
                 FROM costs_tenant_daily_by_service d
                 WHERE d.service_name = $4 AND d.date >= $2 AND d.date <= $3
                   AND ($1::uuid IS NULL OR d.tenant_id = $1)) x
           GROUP BY x.date, x.currency
           ORDER BY x.date, x.currency"#,
        f.tenant_id,
        from,
        to,
        f.service_name,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(summary_of(by_service, daily))
}

/// Whether the transaction acts for the operator (a tenant's transaction without a tenant
/// filter still reads its own tenant rollups: row-level security hides the all-tenant ones).
async fn operator(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT azcops_is_operator() AS "operator!""#)
        .fetch_one(conn)
        .await
}

/// [`summary`] for the operator over every tenant, from the all-tenant rollups
/// (`costs_all_tenants_*`): the same plan, one row per day or month and service. Row-level
/// security lets only the operator read them.
async fn all_tenants_summary(
    conn: &mut PgConnection,
    f: &CostFilter,
    (from, to): (NaiveDate, NaiveDate),
    plan: &Plan,
) -> Result<Summary, sqlx::Error> {
    let by_service = sqlx::query_as!(
        ServiceRow,
        r#"SELECT x.service_name AS "service_name!", x.currency AS "currency!",
                  sum(x.cost) AS "cost!", sum(x.amortized_cost) AS "amortized!"
           FROM (SELECT m.service_name, m.currency, m.cost, m.amortized_cost, m.row_count
                 FROM costs_all_tenants_monthly_by_service m
                 WHERE m.month = ANY($1::date[])
                   AND ($4::text IS NULL OR m.service_name = $4)
                 UNION ALL
                 SELECT d.service_name, d.currency, d.cost, d.amortized_cost, d.row_count
                 FROM costs_all_tenants_daily_by_service d
                 WHERE d.date = ANY($2::date[])
                   AND ($4::text IS NULL OR d.service_name = $4)
                 UNION ALL
                 SELECT d.service_name, d.currency, -d.cost, -d.amortized_cost, -d.row_count
                 FROM costs_all_tenants_daily_by_service d
                 WHERE d.date = ANY($3::date[])
                   AND ($4::text IS NULL OR d.service_name = $4)) x
           GROUP BY x.service_name, x.currency
           HAVING sum(x.row_count) > 0
           ORDER BY sum(x.cost) DESC, x.service_name, x.currency"#,
        &plan.months,
        &plan.added,
        &plan.subtracted,
        f.service_name,
    )
    .fetch_all(&mut *conn)
    .await?;
    // The day's services added up (one service: its own days).
    let daily = sqlx::query_as!(
        DayRow,
        r#"SELECT d.date AS "date!", d.currency AS "currency!",
                  sum(d.cost) AS "cost!", sum(d.amortized_cost) AS "amortized!"
           FROM costs_all_tenants_daily_by_service d
           WHERE d.date >= $1 AND d.date <= $2
             AND ($3::text IS NULL OR d.service_name = $3)
           GROUP BY d.date, d.currency
           ORDER BY d.date, d.currency"#,
        from,
        to,
        f.service_name,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(summary_of(by_service, daily))
}

/// A per-service sum as the rollup queries return it.
struct ServiceRow {
    service_name: String,
    currency: String,
    cost: Decimal,
    amortized: Decimal,
}

/// A per-day sum as the rollup queries return it.
struct DayRow {
    date: NaiveDate,
    currency: String,
    cost: Decimal,
    amortized: Decimal,
}

/// The summary of the per-service and per-day rows (per-currency totals added up from the former).
fn summary_of(by_service: Vec<ServiceRow>, daily: Vec<DayRow>) -> Summary {
    let by_service: Vec<Sum<String>> = by_service
        .into_iter()
        .map(|r| Sum {
            key: r.service_name,
            currency: r.currency,
            cost: r.cost,
            amortized_cost: r.amortized,
        })
        .collect();
    Summary {
        totals: totals(&by_service),
        by_service,
        daily: daily
            .into_iter()
            .map(|r| Sum {
                key: r.date,
                currency: r.currency,
                cost: r.cost,
                amortized_cost: r.amortized,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn days(from: &str, to: &str) -> Vec<NaiveDate> {
        day(from)
            .iter_days()
            .take_while(|d| *d <= day(to))
            .collect()
    }

    fn plan(from: &str, to: &str, today: &str) -> Plan {
        Plan::of(day(from), day(to), day(today))
    }

    #[test]
    fn the_last_30_days_are_last_months_total_less_its_first_days() {
        assert_eq!(
            plan("2026-11-06", "2026-12-05", "2026-12-05"),
            Plan {
                months: vec![day("2026-11-01"), day("2026-12-01")],
                added: vec![],
                subtracted: [
                    days("2026-11-01", "2026-11-05"),
                    days("2026-12-06", "2026-12-31")
                ]
                .concat(),
            }
        );
        assert_eq!(
            plan("2026-11-20", "2026-12-19", "2026-12-19"),
            Plan {
                months: vec![day("2026-12-01")],
                added: days("2026-11-20", "2026-11-30"),
                subtracted: days("2026-12-20", "2026-12-31"),
            },
            "11 days in November are fewer than the 19 outside"
        );
    }

    #[test]
    fn whole_months_come_from_the_monthly_rollup() {
        assert_eq!(
            plan("2025-12-06", "2026-12-05", "2026-12-05"),
            Plan {
                months: [
                    vec![day("2025-12-01")],
                    (1..=12)
                        .map(|m| NaiveDate::from_ymd_opt(2026, m, 1).unwrap())
                        .collect(),
                ]
                .concat(),
                added: vec![],
                subtracted: [
                    days("2025-12-01", "2025-12-05"),
                    days("2026-12-06", "2026-12-31")
                ]
                .concat(),
            }
        );
        assert_eq!(
            plan("2026-02-01", "2026-02-28", "2026-12-05"),
            Plan {
                months: vec![day("2026-02-01")],
                ..Plan::default()
            }
        );
    }

    #[test]
    fn a_few_days_in_the_past_are_read_as_days() {
        assert_eq!(
            plan("2026-03-10", "2026-03-12", "2026-12-05"),
            Plan {
                added: days("2026-03-10", "2026-03-12"),
                ..Plan::default()
            }
        );
        assert_eq!(
            plan("2026-12-05", "2026-12-05", "2026-12-05"),
            Plan {
                added: vec![day("2026-12-05")],
                ..Plan::default()
            },
            "today alone: one day to read, not the month less four"
        );
    }
}
