//! The `costs_daily` aggregate: actual and amortized cost per subscription, day, resource
//! group, service and meter category, and the summaries built on it.

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Page;

/// One day of cost for one (subscription, resource group, service, meter category).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CostDay {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub subscription_db_id: Uuid,
    /// The Azure subscription id.
    pub subscription_id: Uuid,
    pub date: NaiveDate,
    pub resource_group: String,
    pub service_name: String,
    pub meter_category: String,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub cost: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub amortized_cost: Decimal,
    pub currency: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One day of cost to write: the natural key (date, resource group, service, meter category)
/// and the amounts (mapped from Cost Management's rows by the ingestion pipeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCostRow {
    pub date: NaiveDate,
    /// Lower-cased; empty for charges outside any resource group.
    pub resource_group: String,
    pub service_name: String,
    pub meter_category: String,
    /// ActualCost.
    pub cost: Decimal,
    /// AmortizedCost.
    pub amortized_cost: Decimal,
    /// ISO currency code of both amounts.
    pub currency: String,
}

/// Which cost rows a list or summary covers; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct CostFilter {
    pub tenant_id: Option<Uuid>,
    /// An AzCops subscription id or an Azure subscription id.
    pub subscription: Option<Uuid>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub service_name: Option<String>,
    pub resource_group: Option<String>,
}

/// A page of cost rows, newest day first, and the total.
pub async fn list(
    conn: &mut PgConnection,
    f: &CostFilter,
    page: Page,
) -> Result<(Vec<CostDay>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM costs_daily c JOIN subscriptions s ON s.id = c.subscription_db_id
           WHERE ($1::uuid IS NULL OR c.tenant_id = $1)
             AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
             AND ($3::date IS NULL OR c.date >= $3) AND ($4::date IS NULL OR c.date <= $4)
             AND ($5::text IS NULL OR c.service_name = $5) AND ($6::text IS NULL OR c.resource_group = $6)"#,
        f.tenant_id, f.subscription, f.from, f.to, f.service_name, f.resource_group,
    )
    .fetch_one(&mut *conn)
    .await?;
    let items = sqlx::query_as!(
        CostDay,
        r#"SELECT c.id, c.tenant_id, c.subscription_db_id, s.subscription_id, c.date, c.resource_group,
                  c.service_name, c.meter_category, c.cost, c.amortized_cost, c.currency, c.created_at, c.updated_at
           FROM costs_daily c JOIN subscriptions s ON s.id = c.subscription_db_id
           WHERE ($1::uuid IS NULL OR c.tenant_id = $1)
             AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
             AND ($3::date IS NULL OR c.date >= $3) AND ($4::date IS NULL OR c.date <= $4)
             AND ($5::text IS NULL OR c.service_name = $5) AND ($6::text IS NULL OR c.resource_group = $6)
           ORDER BY c.date DESC, s.subscription_id, c.resource_group, c.service_name, c.meter_category
           LIMIT $7 OFFSET $8"#,
        f.tenant_id, f.subscription, f.from, f.to, f.service_name, f.resource_group, page.limit(), page.offset(),
    )
    .fetch_all(conn)
    .await?;
    Ok((items, total))
}

/// Actual and amortized cost of one group (a service, a day, or everything) in one currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Sum<K> {
    pub key: K,
    pub currency: String,
    pub cost: Decimal,
    pub amortized_cost: Decimal,
}

/// Totals per currency, per service and per day for the rows `f` selects.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub totals: Vec<Sum<()>>,
    pub by_service: Vec<Sum<String>>,
    pub daily: Vec<Sum<NaiveDate>>,
}

/// Sums the rows `f` selects (its `from` and `to` must be set by the caller). Read from the
/// rollups (README "Cost storage"): whole months from the monthly one, the days at either edge
/// and the daily trend from the daily ones, so no daily cost row is read. With a resource
/// group filter, which the rollups do not keep, from the daily rows ([`summary_from_rows`]).
pub async fn summary(conn: &mut PgConnection, f: &CostFilter) -> Result<Summary, sqlx::Error> {
    match (f.from, f.to, &f.resource_group) {
        (Some(from), Some(to), None) => summary_from_rollups(conn, f, from, to).await,
        _ => summary_from_rows(conn, f).await,
    }
}

/// How a window splits over the monthly rollup: the whole months inside it and the days
/// before and after them (the whole window, when it holds no whole month). Bounds included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Split {
    /// The first days of the first and of the last whole month.
    months: Option<(NaiveDate, NaiveDate)>,
    head: Option<(NaiveDate, NaiveDate)>,
    tail: Option<(NaiveDate, NaiveDate)>,
}

impl Split {
    fn of(from: NaiveDate, to: NaiveDate) -> Self {
        Self::with_months(from, to).unwrap_or(Split {
            months: None,
            head: Some((from, to)),
            tail: None,
        })
    }

    /// `None` when the window holds no whole month.
    fn with_months(from: NaiveDate, to: NaiveDate) -> Option<Self> {
        let month = |d: NaiveDate| d.with_day(1);
        let first = if from.day() == 1 {
            from
        } else {
            month(from)?.checked_add_months(Months::new(1))?
        };
        let last = if to.succ_opt().is_none_or(|next| next.day() == 1) {
            month(to)?
        } else {
            month(to)?.checked_sub_months(Months::new(1))?
        };
        if first > last {
            return None;
        }
        let last_end = last.checked_add_months(Months::new(1))?.pred_opt()?;
        let head = if from < first {
            Some((from, first.pred_opt()?))
        } else {
            None
        };
        let tail = if last_end < to {
            Some((last_end.succ_opt()?, to))
        } else {
            None
        };
        Some(Split {
            months: Some((first, last)),
            head,
            tail,
        })
    }
}

/// [`summary`] from the rollups (no resource group filter: the rollups do not keep it).
pub async fn summary_from_rollups(
    conn: &mut PgConnection,
    f: &CostFilter,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Summary, sqlx::Error> {
    let split = Split::of(from, to);
    let (months, head, tail) = (split.months.unzip(), split.head.unzip(), split.tail.unzip());
    let by_service = sqlx::query!(
        r#"SELECT x.service_name AS "service_name!", x.currency AS "currency!",
                  sum(x.cost) AS "cost!", sum(x.amortized_cost) AS "amortized!"
           FROM (SELECT m.service_name, m.currency, m.cost, m.amortized_cost
                 FROM costs_monthly_by_service m
                 WHERE $3::date IS NOT NULL AND m.month >= $3 AND m.month <= $4
                   AND ($1::uuid IS NULL OR m.tenant_id = $1)
                   AND ($2::uuid IS NULL OR m.subscription_db_id IN
                        (SELECT s.id FROM subscriptions s WHERE s.id = $2 OR s.subscription_id = $2))
                   AND ($9::text IS NULL OR m.service_name = $9)
                 UNION ALL
                 SELECT d.service_name, d.currency, d.cost, d.amortized_cost
                 FROM costs_daily_by_service d
                 WHERE $5::date IS NOT NULL AND d.date >= $5 AND d.date <= $6
                   AND ($1::uuid IS NULL OR d.tenant_id = $1)
                   AND ($2::uuid IS NULL OR d.subscription_db_id IN
                        (SELECT s.id FROM subscriptions s WHERE s.id = $2 OR s.subscription_id = $2))
                   AND ($9::text IS NULL OR d.service_name = $9)
                 UNION ALL
                 SELECT d.service_name, d.currency, d.cost, d.amortized_cost
                 FROM costs_daily_by_service d
                 WHERE $7::date IS NOT NULL AND d.date >= $7 AND d.date <= $8
                   AND ($1::uuid IS NULL OR d.tenant_id = $1)
                   AND ($2::uuid IS NULL OR d.subscription_db_id IN
                        (SELECT s.id FROM subscriptions s WHERE s.id = $2 OR s.subscription_id = $2))
                   AND ($9::text IS NULL OR d.service_name = $9)) x
           GROUP BY x.service_name, x.currency
           ORDER BY sum(x.cost) DESC, x.service_name, x.currency"#,
        f.tenant_id, f.subscription, months.0, months.1, head.0, head.1, tail.0, tail.1, f.service_name,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Sum { key: r.service_name, currency: r.currency, cost: r.cost, amortized_cost: r.amortized })
    .collect::<Vec<_>>();
    // One service: its days per service; otherwise the day totals.
    let daily = sqlx::query!(
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
        f.tenant_id, f.subscription, from, to, f.service_name,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Sum { key: r.date, currency: r.currency, cost: r.cost, amortized_cost: r.amortized })
    .collect::<Vec<_>>();
    Ok(Summary {
        totals: totals(&by_service),
        by_service,
        daily,
    })
}

/// [`summary`] from the daily cost rows: what a resource group filter needs, and the reference
/// the rollups are tested against.
pub async fn summary_from_rows(
    conn: &mut PgConnection,
    f: &CostFilter,
) -> Result<Summary, sqlx::Error> {
    let by_service = sqlx::query!(
        r#"SELECT c.service_name, c.currency, sum(c.cost) AS "cost!", sum(c.amortized_cost) AS "amortized!"
           FROM costs_daily c JOIN subscriptions s ON s.id = c.subscription_db_id
           WHERE ($1::uuid IS NULL OR c.tenant_id = $1)
             AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
             AND c.date >= $3 AND c.date <= $4
             AND ($5::text IS NULL OR c.service_name = $5) AND ($6::text IS NULL OR c.resource_group = $6)
           GROUP BY c.service_name, c.currency
           ORDER BY sum(c.cost) DESC, c.service_name, c.currency"#,
        f.tenant_id, f.subscription, f.from, f.to, f.service_name, f.resource_group,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Sum { key: r.service_name, currency: r.currency, cost: r.cost, amortized_cost: r.amortized })
    .collect::<Vec<_>>();
    let daily = sqlx::query!(
        r#"SELECT c.date, c.currency, sum(c.cost) AS "cost!", sum(c.amortized_cost) AS "amortized!"
           FROM costs_daily c JOIN subscriptions s ON s.id = c.subscription_db_id
           WHERE ($1::uuid IS NULL OR c.tenant_id = $1)
             AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
             AND c.date >= $3 AND c.date <= $4
             AND ($5::text IS NULL OR c.service_name = $5) AND ($6::text IS NULL OR c.resource_group = $6)
           GROUP BY c.date, c.currency
           ORDER BY c.date, c.currency"#,
        f.tenant_id, f.subscription, f.from, f.to, f.service_name, f.resource_group,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Sum { key: r.date, currency: r.currency, cost: r.cost, amortized_cost: r.amortized })
    .collect::<Vec<_>>();
    Ok(Summary {
        totals: totals(&by_service),
        by_service,
        daily,
    })
}

/// Adds per-service sums up per currency (no second query over the same rows).
fn totals(by_service: &[Sum<String>]) -> Vec<Sum<()>> {
    let mut totals: Vec<Sum<()>> = Vec::new();
    for s in by_service {
        match totals.iter_mut().find(|t| t.currency == s.currency) {
            Some(t) => {
                t.cost += s.cost;
                t.amortized_cost += s.amortized_cost;
            }
            None => totals.push(Sum {
                key: (),
                currency: s.currency.clone(),
                cost: s.cost,
                amortized_cost: s.amortized_cost,
            }),
        }
    }
    totals
}

/// Inserts or updates a batch of one subscription's cost rows in one statement; unchanged
/// rows are left alone. Returns rows written.
pub async fn upsert(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    rows: &[NewCostRow],
) -> Result<u64, sqlx::Error> {
    let dates: Vec<NaiveDate> = rows.iter().map(|r| r.date).collect();
    let text = |f: fn(&NewCostRow) -> &str| {
        rows.iter()
            .map(|r| f(r).to_owned())
            .collect::<Vec<String>>()
    };
    let costs: Vec<Decimal> = rows.iter().map(|r| r.cost).collect();
    let amortized: Vec<Decimal> = rows.iter().map(|r| r.amortized_cost).collect();
    let result = sqlx::query!(
        r#"INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name, meter_category,
                                   cost, amortized_cost, currency)
           SELECT $1, $2, c.date, c.resource_group, c.service_name, c.meter_category, c.cost, c.amortized, c.currency
           FROM UNNEST($3::date[], $4::text[], $5::text[], $6::text[], $7::numeric[], $8::numeric[], $9::text[])
                AS c(date, resource_group, service_name, meter_category, cost, amortized, currency)
           ON CONFLICT (subscription_db_id, date, resource_group, service_name, meter_category, tenant_id) DO UPDATE SET
               cost = EXCLUDED.cost, amortized_cost = EXCLUDED.amortized_cost, currency = EXCLUDED.currency
           WHERE (costs_daily.cost, costs_daily.amortized_cost, costs_daily.currency)
                 IS DISTINCT FROM (EXCLUDED.cost, EXCLUDED.amortized_cost, EXCLUDED.currency)"#,
        tenant_id,
        subscription_db_id,
        &dates,
        &text(|r| &r.resource_group),
        &text(|r| &r.service_name),
        &text(|r| &r.meter_category),
        &costs,
        &amortized,
        &text(|r| &r.currency),
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Deletes the subscription's rows dated `from..=to` whose natural key is not among `keep`: the
/// window's answer is complete, so a row it no longer holds was restated away (else a day Azure
/// restated would keep a charge it no longer shows). Returns rows deleted. `NOT IN` over the
/// keys (never null) is a hashed anti-join, linear in the rows.
pub async fn delete_absent(
    conn: &mut PgConnection,
    subscription_db_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
    keep: &[NewCostRow],
) -> Result<u64, sqlx::Error> {
    let dates: Vec<NaiveDate> = keep.iter().map(|r| r.date).collect();
    let text = |f: fn(&NewCostRow) -> &str| -> Vec<String> {
        keep.iter().map(|r| f(r).to_owned()).collect()
    };
    let result = sqlx::query!(
        r#"DELETE FROM costs_daily c
           WHERE c.subscription_db_id = $1 AND c.date BETWEEN $2 AND $3
             AND (c.date, c.resource_group, c.service_name, c.meter_category) NOT IN
                 (SELECT k.date, k.resource_group, k.service_name, k.meter_category
                  FROM UNNEST($4::date[], $5::text[], $6::text[], $7::text[])
                       AS k(date, resource_group, service_name, meter_category))"#,
        subscription_db_id,
        from,
        to,
        &dates,
        &text(|r| &r.resource_group),
        &text(|r| &r.service_name),
        &text(|r| &r.meter_category),
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn split(from: &str, to: &str) -> Split {
        Split::of(day(from), day(to))
    }

    fn range(from: &str, to: &str) -> Option<(NaiveDate, NaiveDate)> {
        Some((day(from), day(to)))
    }

    #[test]
    fn a_window_splits_into_whole_months_and_the_days_at_its_edges() {
        assert_eq!(
            split("2025-12-06", "2026-12-05"),
            Split {
                months: range("2026-01-01", "2026-11-01"),
                head: range("2025-12-06", "2025-12-31"),
                tail: range("2026-12-01", "2026-12-05"),
            }
        );
        assert_eq!(
            split("2026-02-01", "2026-02-28"),
            Split {
                months: range("2026-02-01", "2026-02-01"),
                head: None,
                tail: None,
            },
            "exactly one month"
        );
        assert_eq!(
            split("2024-01-01", "2024-03-15"),
            Split {
                months: range("2024-01-01", "2024-02-01"),
                head: None,
                tail: range("2024-03-01", "2024-03-15"),
            }
        );
    }

    #[test]
    fn a_window_without_a_whole_month_is_all_edge() {
        for (from, to) in [
            ("2026-11-06", "2026-12-05"),
            ("2026-12-01", "2026-12-05"),
            ("2026-11-02", "2026-11-30"),
            ("2026-12-05", "2026-12-05"),
        ] {
            assert_eq!(
                split(from, to),
                Split {
                    months: None,
                    head: range(from, to),
                    tail: None,
                },
                "{from}..{to}"
            );
        }
    }
}
