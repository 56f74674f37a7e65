//! The Cost Management query budget's log (`cost_query_spend`, `cost_query_holds`): the units
//! each Entra tenant spent and until when Azure asked it to hold, shared by every Function
//! instance. A caller locks the tenant with [`lock_tenant`] inside a short transaction, reads
//! and extends the log, and commits; the database's clock is the one clock the instances share.
//! The budget's rules are the Azure client's (the query budget of the Azure client); this is only storage.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Takes the tenant's advisory lock for the transaction and returns the database's clock.
pub async fn lock_tenant(
    conn: &mut PgConnection,
    tenant_id: &str,
) -> Result<DateTime<Utc>, sqlx::Error> {
    let key = format!("azcops.cost_query_budget:{tenant_id}");
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        .execute(&mut *conn)
        .await?;
    let now = sqlx::query_scalar!(r#"SELECT clock_timestamp() AS "now!""#)
        .fetch_one(&mut *conn)
        .await?;
    Ok(now)
}

/// Forgets the tenant's spending at or before `before` (it no longer counts in any window).
pub async fn delete_expired(
    conn: &mut PgConnection,
    tenant_id: &str,
    before: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM cost_query_spend WHERE azure_tenant_id = $1 AND spent_at <= $2",
        tenant_id,
        before
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The tenant's spending after `since` as (time, units), oldest first.
pub async fn spending(
    conn: &mut PgConnection,
    tenant_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, u32)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT spent_at, units FROM cost_query_spend
          WHERE azure_tenant_id = $1 AND spent_at > $2
          ORDER BY spent_at",
        tenant_id,
        since
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.spent_at, u32::try_from(r.units).unwrap_or(0)))
        .collect())
}

/// Until when the tenant is held (Azure's last retry-after), if ever.
pub async fn hold_until(
    conn: &mut PgConnection,
    tenant_id: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT hold_until FROM cost_query_holds WHERE azure_tenant_id = $1",
        tenant_id
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Logs `units` spent at `at`; `observed` when learnt from Azure's counters rather than acquired.
pub async fn record(
    conn: &mut PgConnection,
    tenant_id: &str,
    at: DateTime<Utc>,
    units: u32,
    observed: bool,
) -> Result<(), sqlx::Error> {
    let units = i32::try_from(units).unwrap_or(i32::MAX);
    sqlx::query!(
        "INSERT INTO cost_query_spend (azure_tenant_id, spent_at, units, observed) VALUES ($1, $2, $3, $4)",
        tenant_id,
        at,
        units,
        observed
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Holds the tenant until `until`, or later if it is already held longer.
pub async fn hold(
    conn: &mut PgConnection,
    tenant_id: &str,
    until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO cost_query_holds (azure_tenant_id, hold_until) VALUES ($1, $2)
         ON CONFLICT (azure_tenant_id)
         DO UPDATE SET hold_until = GREATEST(cost_query_holds.hold_until, EXCLUDED.hold_until)",
        tenant_id,
        until
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
