//! The query budget in PostgreSQL (`cost_query_spend`, `cost_query_holds`), shared by every
//! Function instance. Each check runs in a short transaction holding a transaction-scoped
//! advisory lock on the tenant, so concurrent instances see each other's spending; the
//! database's clock is the one clock they share. No lock is held while waiting or while the
//! query runs.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};

use super::{
    QpuBudget, QpuLimits, QpuObservation, Spend, check_units, units_to_tighten, wait_needed,
};
use crate::azure::error::AzureError;
use crate::db::Database;

/// A [`QpuBudget`] kept in PostgreSQL.
#[derive(Clone)]
pub struct PgQpuBudget {
    pool: PoolSource,
    limits: QpuLimits,
}

#[derive(Clone)]
enum PoolSource {
    Pool(PgPool),
    Database(Arc<Database>),
}

impl PgQpuBudget {
    /// A budget over `pool` with `limits`.
    pub fn new(pool: PgPool, limits: QpuLimits) -> Self {
        Self {
            pool: PoolSource::Pool(pool),
            limits,
        }
    }

    /// A budget over the application's database, whose pool is created on first use.
    pub fn lazy(db: Arc<Database>, limits: QpuLimits) -> Self {
        Self {
            pool: PoolSource::Database(db),
            limits,
        }
    }

    async fn pool(&self, tenant_id: &str) -> Result<&PgPool, AzureError> {
        match &self.pool {
            PoolSource::Pool(pool) => Ok(pool),
            PoolSource::Database(db) => db.pool().await.map_err(|e| AzureError::Budget {
                tenant_id: tenant_id.to_owned(),
                detail: format!("database unavailable: {e:#}"),
                retryable: true,
            }),
        }
    }

    /// Records `units` if they fit now; otherwise how long to wait.
    async fn try_acquire(
        &self,
        pool: &PgPool,
        tenant_id: &str,
        units: u32,
    ) -> Result<Duration, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let now = lock_tenant(&mut tx, tenant_id).await?;
        delete_expired(&mut tx, tenant_id, now - horizon(&self.limits)).await?;
        let spent = spending(&mut tx, tenant_id, now - horizon(&self.limits)).await?;
        let hold = hold_until(&mut tx, tenant_id).await?;
        let wait = wait_needed(&self.limits, &spent, hold, now, units);
        if wait.is_zero() {
            record(&mut tx, tenant_id, now, units, false).await?;
        }
        tx.commit().await?;
        Ok(wait)
    }

    async fn try_observe(
        &self,
        pool: &PgPool,
        tenant_id: &str,
        observation: &QpuObservation,
    ) -> Result<(), sqlx::Error> {
        let mut tx = pool.begin().await?;
        let now = lock_tenant(&mut tx, tenant_id).await?;
        let spent = spending(&mut tx, tenant_id, now - horizon(&self.limits)).await?;
        let extra = units_to_tighten(&self.limits, &spent, now, observation);
        if extra > 0 {
            record(&mut tx, tenant_id, now, extra, true).await?;
        }
        if let Some(wait) = observation.retry_after {
            let until = now + chrono::Duration::from_std(wait).unwrap_or_default();
            hold(&mut tx, tenant_id, until).await?;
        }
        tx.commit().await
    }
}

impl QpuBudget for PgQpuBudget {
    fn acquire<'a>(
        &'a self,
        tenant_id: &'a str,
        units: u32,
    ) -> BoxFuture<'a, Result<Duration, AzureError>> {
        Box::pin(async move {
            check_units(&self.limits, tenant_id, units)?;
            let pool = self.pool(tenant_id).await?;
            let mut waited = Duration::ZERO;
            loop {
                let wait = self
                    .try_acquire(pool, tenant_id, units)
                    .await
                    .map_err(|e| db_error(tenant_id, &e))?;
                if wait.is_zero() {
                    return Ok(waited);
                }
                tracing::debug!(
                    tenant_id,
                    units,
                    wait_ms = wait.as_millis() as u64,
                    "waiting for Cost Management query budget"
                );
                tokio::time::sleep(wait).await;
                waited += wait;
            }
        })
    }

    fn observe<'a>(
        &'a self,
        tenant_id: &'a str,
        observation: &'a QpuObservation,
    ) -> BoxFuture<'a, Result<(), AzureError>> {
        Box::pin(async move {
            let pool = self.pool(tenant_id).await?;
            self.try_observe(pool, tenant_id, observation)
                .await
                .map_err(|e| db_error(tenant_id, &e))
        })
    }
}

fn db_error(tenant_id: &str, error: &sqlx::Error) -> AzureError {
    AzureError::Budget {
        tenant_id: tenant_id.to_owned(),
        detail: format!("database: {error}"),
        retryable: true,
    }
}

fn horizon(limits: &QpuLimits) -> chrono::Duration {
    chrono::Duration::from_std(limits.horizon()).unwrap_or(chrono::Duration::hours(1))
}

/// Takes the tenant's advisory lock for the transaction and returns the database's clock.
async fn lock_tenant(
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

async fn delete_expired(
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

/// The tenant's spending after `since`, oldest first.
async fn spending(
    conn: &mut PgConnection,
    tenant_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<Spend>, sqlx::Error> {
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

async fn hold_until(
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

async fn record(
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

async fn hold(
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
