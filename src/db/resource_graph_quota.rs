//! Resource Graph's request quota log (`resource_graph_requests`, `resource_graph_holds`): the
//! requests each principal sent and until when Azure asked it to hold, shared by every Function
//! instance. The same shape as the Cost Management query budget's log
//! ([`super::cost_query_budget`]): a caller locks the principal with [`lock_principal`] inside a
//! short transaction, reads and extends the log, and commits; the database's clock is the one
//! clock the instances share. The quota's rules are the Azure client's; this is only storage.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// Takes the principal's advisory lock for the transaction and returns the database's clock.
pub async fn lock_principal(
    conn: &mut PgConnection,
    principal: &str,
) -> Result<DateTime<Utc>, sqlx::Error> {
    let key = format!("azcops.resource_graph_quota:{principal}");
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        .execute(&mut *conn)
        .await?;
    let now = sqlx::query_scalar!(r#"SELECT clock_timestamp() AS "now!""#)
        .fetch_one(&mut *conn)
        .await?;
    Ok(now)
}

/// Forgets the principal's requests at or before `before` (they no longer count).
pub async fn delete_expired(
    conn: &mut PgConnection,
    principal: &str,
    before: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "DELETE FROM resource_graph_requests WHERE principal = $1 AND sent_at <= $2",
        principal,
        before
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The principal's requests after `since` as (time, requests), oldest first.
pub async fn requests(
    conn: &mut PgConnection,
    principal: &str,
    since: DateTime<Utc>,
) -> Result<Vec<(DateTime<Utc>, u32)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT sent_at, requests FROM resource_graph_requests
          WHERE principal = $1 AND sent_at > $2
          ORDER BY sent_at",
        principal,
        since
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.sent_at, u32::try_from(r.requests).unwrap_or(0)))
        .collect())
}

/// Until when the principal is held (Azure's last reset or retry-after), if ever.
pub async fn hold_until(
    conn: &mut PgConnection,
    principal: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT hold_until FROM resource_graph_holds WHERE principal = $1",
        principal
    )
    .fetch_optional(&mut *conn)
    .await
}

/// Logs `requests` sent at `at`; `observed` when learnt from Azure's header rather than sent.
pub async fn record(
    conn: &mut PgConnection,
    principal: &str,
    at: DateTime<Utc>,
    requests: u32,
    observed: bool,
) -> Result<(), sqlx::Error> {
    let requests = i32::try_from(requests).unwrap_or(i32::MAX);
    sqlx::query!(
        "INSERT INTO resource_graph_requests (principal, sent_at, requests, observed)
         VALUES ($1, $2, $3, $4)",
        principal,
        at,
        requests,
        observed
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Holds the principal until `until`, or later if it is already held longer.
pub async fn hold(
    conn: &mut PgConnection,
    principal: &str,
    until: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO resource_graph_holds (principal, hold_until) VALUES ($1, $2)
         ON CONFLICT (principal)
         DO UPDATE SET hold_until = GREATEST(resource_graph_holds.hold_until, EXCLUDED.hold_until)",
        principal,
        until
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
