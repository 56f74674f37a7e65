//! The daily amortized cost of the resources whose recommendations were carried out, around
//! the change ([`super::recommendations::realised`] measures 14 days before it against 14 days
//! after it), with the days each resource's collection covers: a covered day without a row
//! cost nothing.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

/// Days measured on each side of a change.
pub const DAYS_EACH_SIDE: i32 = 14;

/// Days after the last measured day that it is collected again: Azure restates recent days.
pub const RESTATED_DAYS: i32 = 3;

/// How long after a change its resource's daily cost is still looked for (a subscription not
/// ingested for a while still gets its measurement).
pub const TRACKED_DAYS: i32 = 60;

/// One resource's amortized cost on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDailyCost {
    /// Lower-cased ARM id.
    pub resource_id: String,
    pub date: NaiveDate,
    pub amortized_cost: Decimal,
    pub currency: String,
}

/// A resource whose realised savings still need daily costs: the first and last day it was
/// changed on (a resource may carry several carried-out recommendations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub resource_id: String,
    pub first_change: NaiveDate,
    pub last_change: NaiveDate,
}

/// The resources of the subscription whose carried-out recommendations (executed, or approved
/// and resolved) changed within [`TRACKED_DAYS`] before `today` and whose daily costs do not
/// yet cover 14 days before the change to 14 days after it, plus the restated days.
pub async fn tracked(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    today: NaiveDate,
) -> Result<Vec<Tracked>, sqlx::Error> {
    sqlx::query_as!(
        Tracked,
        r#"SELECT r.resource_id AS "resource_id!", min(p.day) AS "first_change!", max(p.day) AS "last_change!"
           FROM recommendations r
           CROSS JOIN LATERAL (SELECT (coalesce(r.executed_at, r.resolved_at) AT TIME ZONE 'UTC')::date AS day) p
           LEFT JOIN resource_daily_cost_coverage c
                  ON c.tenant_id = r.tenant_id AND c.subscription_db_id = r.subscription_db_id
                 AND c.resource_id = r.resource_id
           WHERE r.tenant_id = $1 AND r.subscription_db_id = $2 AND r.resource_id IS NOT NULL
             AND r.resource_id <> ''
             AND (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
             AND p.day >= $3::date - $4::integer
             AND (c.resource_id IS NULL OR c.covered_from > p.day - $5::integer
                  OR c.covered_to < p.day + $5::integer + $6::integer)
           GROUP BY r.resource_id
           ORDER BY r.resource_id"#,
        tenant_id,
        subscription_db_id,
        today,
        TRACKED_DAYS,
        DAYS_EACH_SIDE,
        RESTATED_DAYS,
    )
    .fetch_all(conn)
    .await
}

/// Replaces the daily costs of `resource_ids` on the days `from..=to` with `rows` (the complete
/// answer for them) and extends each resource's coverage by those days (or starts it again
/// there, when the days do not join what it covered).
pub async fn replace(
    conn: &mut PgConnection,
    (tenant_id, subscription_db_id): (Uuid, Uuid),
    (from, to): (NaiveDate, NaiveDate),
    resource_ids: &[String],
    rows: &[NewDailyCost],
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM resource_daily_costs
         WHERE tenant_id = $1 AND subscription_db_id = $2 AND resource_id = ANY($3)
           AND date BETWEEN $4 AND $5",
        tenant_id,
        subscription_db_id,
        resource_ids,
        from,
        to,
    )
    .execute(&mut *conn)
    .await?;
    let ids: Vec<String> = rows.iter().map(|r| r.resource_id.clone()).collect();
    let dates: Vec<NaiveDate> = rows.iter().map(|r| r.date).collect();
    let amounts: Vec<Decimal> = rows.iter().map(|r| r.amortized_cost).collect();
    let currencies: Vec<String> = rows.iter().map(|r| r.currency.clone()).collect();
    sqlx::query!(
        "INSERT INTO resource_daily_costs
             (tenant_id, subscription_db_id, resource_id, date, amortized_cost, currency)
         SELECT $1, $2, * FROM unnest($3::text[], $4::date[], $5::numeric[], $6::text[])",
        tenant_id,
        subscription_db_id,
        &ids,
        &dates,
        &amounts,
        &currencies,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO resource_daily_cost_coverage
             (tenant_id, subscription_db_id, resource_id, covered_from, covered_to)
         SELECT $1, $2, id, $4, $5 FROM unnest($3::text[]) AS id
         ON CONFLICT (tenant_id, subscription_db_id, resource_id) DO UPDATE SET
             covered_from = CASE WHEN resource_daily_cost_coverage.covered_to >= $4 - 1
                                  AND resource_daily_cost_coverage.covered_from <= $5 + 1
                                 THEN least(resource_daily_cost_coverage.covered_from, $4) ELSE $4 END,
             covered_to = CASE WHEN resource_daily_cost_coverage.covered_to >= $4 - 1
                                AND resource_daily_cost_coverage.covered_from <= $5 + 1
                               THEN greatest(resource_daily_cost_coverage.covered_to, $5) ELSE $5 END,
             collected_at = now()",
        tenant_id,
        subscription_db_id,
        resource_ids,
        from,
        to,
    )
    .execute(conn)
    .await?;
    Ok(())
}
