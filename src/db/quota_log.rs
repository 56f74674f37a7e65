//! The log of Azure's shared quotas (`azure_quota_spend`, `azure_quota_holds`): per quota and
//! key (an Entra tenant for Cost Management's query units, a principal for Resource Graph's
//! requests), what was spent when and until when Azure asked the key to hold, shared by every
//! Function instance. A caller locks the key with [`lock`] inside a short transaction, reads
//! and extends the log, and commits; the database's clock is the one clock the instances share.
//! The quotas' rules belong to the Azure client's query budget; this is only storage.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Which quota a log entry counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    /// Cost Management's query units, keyed by Entra tenant.
    CostManagement,
    /// Resource Graph's requests, keyed by principal.
    ResourceGraph,
}

impl QuotaKind {
    /// The name stored in the `quota` column.
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaKind::CostManagement => "cost_management",
            QuotaKind::ResourceGraph => "resource_graph",
        }
    }
}

/// Takes the key's advisory lock for the transaction and returns the database's clock.
pub async fn lock(
    conn: &mut PgConnection,
    quota: QuotaKind,
    key: &str,
) -> Result<DateTime<Utc>, sqlx::Error> {
    let lock = format!("azcops.quota:{}:{key}", quota.as_str());
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        lock
    )
    .execute(&mut *conn)
    .await?;
    let now = sqlx::query_scalar!(r#"SELECT clock_timestamp() AS "now!""#)
        .fetch_one(&mut *conn)
        .await?;
    Ok(now)
}

/// Forgets the key's spending at or before `before` (it no longer counts in any window).
pub async fn delete_expired(
    conn: &mut PgConnection,
    quota: QuotaKind,
    key: &str,
    before: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM azure_quota_spend WHERE quota = $1 AND key = $2 AND spent_at <= $3",
        quota.as_str(),
        key,
        before
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The key's spending after `since` as (time, units), oldest first.
pub async fn spending(
    conn: &mut PgConnection,
    quota: QuotaKind,
    key: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, u32)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT spent_at, units FROM azure_quota_spend
          WHERE quota = $1 AND key = $2 AND spent_at > $3
          ORDER BY spent_at",
        quota.as_str(),
        key,
        since
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.spent_at, u32::try_from(r.units).unwrap_or(0)))
        .collect())
}

/// Until when the key is held (Azure's last retry-after or quota reset), if ever.
pub async fn hold_until(
    conn: &mut PgConnection,
    quota: QuotaKind,
    key: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT hold_until FROM azure_quota_holds WHERE quota = $1 AND key = $2",
        quota.as_str(),
        key
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Logs `units` spent at `at`; `observed` when learnt from Azure's counters rather than acquired.
pub async fn record(
    conn: &mut PgConnection,
    quota: QuotaKind,
    key: &str,
    (at, units): (DateTime<Utc>, u32),
    observed: bool,
) -> Result<(), sqlx::Error> {
    let units = i32::try_from(units).unwrap_or(i32::MAX);
    sqlx::query!(
        "INSERT INTO azure_quota_spend (quota, key, spent_at, units, observed)
         VALUES ($1, $2, $3, $4, $5)",
        quota.as_str(),
        key,
        at,
        units,
        observed
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Holds the key until `until`, or later if it is already held longer.
pub async fn hold(
    conn: &mut PgConnection,
    quota: QuotaKind,
    key: &str,
    until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO azure_quota_holds (quota, key, hold_until) VALUES ($1, $2, $3)
         ON CONFLICT (quota, key)
         DO UPDATE SET hold_until = GREATEST(azure_quota_holds.hold_until, EXCLUDED.hold_until)",
        quota.as_str(),
        key,
        until
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
