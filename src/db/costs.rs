//! The `costs_daily` aggregate: actual and amortized cost per subscription, day, resource
//! group, service and meter category, and the summaries built on it.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Listed, Page};

pub mod focus;
mod rollups;

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

/// Where a cost row sorts in lists: newest day first, then by AzCops subscription, resource
/// group, service, meter category and id (ascending).
pub type CostKey = (NaiveDate, Uuid, String, String, String, Uuid);

impl CostDay {
    /// Its place in the list order.
    pub fn key(&self) -> CostKey {
        (
            self.date,
            self.subscription_db_id,
            self.resource_group.clone(),
            self.service_name.clone(),
            self.meter_category.clone(),
            self.id,
        )
    }
}

/// How many cost rows match `f` (the cost list's and the FOCUS export's total).
pub async fn count(conn: &mut PgConnection, f: &CostFilter) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM costs_daily c JOIN subscriptions s ON s.id = c.subscription_db_id
               WHERE ($1::uuid IS NULL OR c.tenant_id = $1)
                 AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
                 AND ($3::date IS NULL OR c.date >= $3) AND ($4::date IS NULL OR c.date <= $4)
                 AND ($5::text IS NULL OR c.service_name = $5) AND ($6::text IS NULL OR c.resource_group = $6)"#,
        f.tenant_id, f.subscription, f.from, f.to, f.service_name, f.resource_group,
    )
    .fetch_one(conn)
    .await
}

/// A page of cost rows, newest day first, and the total when asked for. After a cursor, the
/// index on (tenant, day) starts at the cursor's day; only that day's rows before the cursor
/// are read and dropped.
pub async fn list(
    conn: &mut PgConnection,
    f: &CostFilter,
    page: &Page<CostKey>,
) -> Result<Listed<CostDay>, sqlx::Error> {
    let total = if page.count {
        Some(count(conn, f).await?)
    } else {
        None
    };
    let after = page.after();
    let rows = sqlx::query_as!(
        CostDay,
        r#"SELECT c.id, c.tenant_id, c.subscription_db_id, s.subscription_id, c.date, c.resource_group,
                  c.service_name, c.meter_category, c.cost, c.amortized_cost, c.currency, c.created_at, c.updated_at
           FROM costs_daily c JOIN subscriptions s ON s.id = c.subscription_db_id
           WHERE ($1::uuid IS NULL OR c.tenant_id = $1)
             AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
             AND ($3::date IS NULL OR c.date >= $3) AND ($4::date IS NULL OR c.date <= $4)
             AND ($5::text IS NULL OR c.service_name = $5) AND ($6::text IS NULL OR c.resource_group = $6)
             AND ($7::date IS NULL OR c.date <= $7)
             AND ($7::date IS NULL OR c.date < $7
                  OR (c.subscription_db_id, c.resource_group, c.service_name, c.meter_category, c.id)
                     > ($8::uuid, $9::text, $10::text, $11::text, $12::uuid))
           ORDER BY c.date DESC, c.subscription_db_id, c.resource_group, c.service_name, c.meter_category, c.id
           LIMIT $13 OFFSET $14"#,
        f.tenant_id, f.subscription, f.from, f.to, f.service_name, f.resource_group,
        after.map(|k| k.0), after.map(|k| k.1), after.map(|k| k.2.as_str()), after.map(|k| k.3.as_str()),
        after.map(|k| k.4.as_str()), after.map(|k| k.5), page.fetch(), page.offset(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Listed { rows, total })
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
/// rollups (README "Cost storage"), so no daily cost row is read; with a resource group
/// filter, which the rollups do not keep, from the daily rows ([`summary_from_rows`]).
pub async fn summary(conn: &mut PgConnection, f: &CostFilter) -> Result<Summary, sqlx::Error> {
    match (f.from, f.to, &f.resource_group) {
        (Some(from), Some(to), None) => {
            let plan = rollups::Plan::of(from, to, Utc::now().date_naive());
            rollups::summary(conn, f, (from, to), &plan).await
        }
        _ => summary_from_rows(conn, f).await,
    }
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

/// Sums per resource group (and currency) of the rows `f` selects, largest actual cost first;
/// `""` holds the charges outside any resource group. From the daily rows: the rollups do not
/// keep the resource group, so this reads every row of the window (the summary asks for it only
/// when the caller does).
pub async fn by_resource_group(
    conn: &mut PgConnection,
    f: &CostFilter,
) -> Result<Vec<Sum<String>>, sqlx::Error> {
    Ok(sqlx::query!(
        r#"SELECT c.resource_group, c.currency, sum(c.cost) AS "cost!", sum(c.amortized_cost) AS "amortized!"
           FROM costs_daily c JOIN subscriptions s ON s.id = c.subscription_db_id
           WHERE ($1::uuid IS NULL OR c.tenant_id = $1)
             AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
             AND c.date >= $3 AND c.date <= $4
             AND ($5::text IS NULL OR c.service_name = $5) AND ($6::text IS NULL OR c.resource_group = $6)
           GROUP BY c.resource_group, c.currency
           ORDER BY sum(c.cost) DESC, c.resource_group, c.currency"#,
        f.tenant_id, f.subscription, f.from, f.to, f.service_name, f.resource_group,
    )
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| Sum { key: r.resource_group, currency: r.currency, cost: r.cost, amortized_cost: r.amortized })
    .collect())
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
