//! Azure's shared quotas kept in PostgreSQL, shared by every Function instance: the Azure
//! client's [`QpuBudget`] over the log in `crate::db::quota_log` (Cost Management's query
//! units per Entra tenant, Resource Graph's requests per principal). Each look at a key's log
//! runs in a short transaction holding a transaction-scoped advisory lock on the key, so
//! concurrent instances see each other's spending and holds. No lock is held while waiting or
//! while the request runs.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use sqlx::{PgConnection, PgPool};

use crate::azure::error::AzureError;
use crate::azure::qpu_budget::{
    Decide, Decision, QpuBudget, QpuLimits, QpuWindow, Quota, QuotaLog, RESOURCE_GRAPH_QUOTA,
    Spend, horizon,
};
use crate::db::Database;
use crate::db::quota_log::{self, QuotaKind};

/// A [`QpuBudget`] kept in PostgreSQL.
#[derive(Clone)]
pub struct PgQpuBudget {
    pool: PoolSource,
    limits: QpuLimits,
    resource_graph: QpuWindow,
}

#[derive(Clone)]
enum PoolSource {
    Pool(PgPool),
    Database(Arc<Database>),
}

/// A key's log as read under its lock.
struct Read {
    now: DateTime<Utc>,
    spent: Vec<Spend>,
    hold_until: Option<DateTime<Utc>>,
}

impl PgQpuBudget {
    /// A budget over `pool` with Cost Management's `limits` and Resource Graph's documented
    /// quota.
    pub fn new(pool: PgPool, limits: QpuLimits) -> Self {
        Self {
            pool: PoolSource::Pool(pool),
            limits,
            resource_graph: RESOURCE_GRAPH_QUOTA,
        }
    }

    /// A budget over the application's database, whose pool is created on first use.
    pub fn lazy(db: Arc<Database>, limits: QpuLimits) -> Self {
        Self {
            pool: PoolSource::Database(db),
            limits,
            resource_graph: RESOURCE_GRAPH_QUOTA,
        }
    }

    /// The same budget with Resource Graph's quota per principal `window`.
    pub fn with_resource_graph_quota(mut self, window: QpuWindow) -> Self {
        self.resource_graph = window;
        self
    }

    async fn pool(&self, quota: Quota, key: &str) -> Result<&PgPool, AzureError> {
        match &self.pool {
            PoolSource::Pool(pool) => Ok(pool),
            PoolSource::Database(db) => db.pool().await.map_err(|e| AzureError::Budget {
                quota,
                key: key.to_owned(),
                detail: format!("database unavailable: {e:#}"),
                retryable: true,
            }),
        }
    }

    async fn try_update(
        &self,
        pool: &PgPool,
        quota: Quota,
        key: &str,
        decide: &Decide<'_>,
    ) -> Result<Decision, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let log = read(&mut tx, quota, key, horizon(self.windows(quota))).await?;
        let decision = decide(&QuotaLog {
            now: log.now,
            spent: &log.spent,
            hold_until: log.hold_until,
        });
        write(&mut tx, quota, key, log.now, &decision).await?;
        tx.commit().await?;
        Ok(decision)
    }
}

/// Locks `key`'s log of `quota`, forgets what is older than `horizon` and reads the rest.
async fn read(
    conn: &mut PgConnection,
    quota: Quota,
    key: &str,
    horizon: Duration,
) -> Result<Read, sqlx::Error> {
    let horizon = chrono::Duration::from_std(horizon).unwrap_or(chrono::Duration::hours(1));
    let kind = kind(quota);
    let now = quota_log::lock(conn, kind, key).await?;
    quota_log::delete_expired(conn, kind, key, now - horizon).await?;
    Ok(Read {
        now,
        spent: quota_log::spending(conn, kind, key, now - horizon).await?,
        hold_until: quota_log::hold_until(conn, kind, key).await?,
    })
}

/// Adds what `decision` says to `key`'s log of `quota`.
async fn write(
    conn: &mut PgConnection,
    quota: Quota,
    key: &str,
    now: DateTime<Utc>,
    decision: &Decision,
) -> Result<(), sqlx::Error> {
    let (spend, observed) = (decision.spend, decision.observed);
    let at = decision.spent_at.unwrap_or(now).min(now);
    let kind = kind(quota);
    if spend > 0 {
        quota_log::record(conn, kind, key, (at, spend), observed).await?;
    }
    if let Some(until) = decision.hold_until {
        quota_log::hold(conn, kind, key, until).await?;
    }
    Ok(())
}

/// The log's name for `quota`.
fn kind(quota: Quota) -> QuotaKind {
    match quota {
        Quota::CostManagement => QuotaKind::CostManagement,
        Quota::ResourceGraph => QuotaKind::ResourceGraph,
    }
}

impl QpuBudget for PgQpuBudget {
    fn limits(&self) -> &QpuLimits {
        &self.limits
    }

    fn resource_graph_quota(&self) -> &QpuWindow {
        &self.resource_graph
    }

    fn update<'a>(
        &'a self,
        quota: Quota,
        key: &'a str,
        decide: &'a Decide<'a>,
    ) -> BoxFuture<'a, Result<Decision, AzureError>> {
        Box::pin(async move {
            let pool = self.pool(quota, key).await?;
            self.try_update(pool, quota, key, decide)
                .await
                .map_err(|e| AzureError::Budget {
                    quota,
                    key: key.to_owned(),
                    detail: format!("database: {e}"),
                    retryable: true,
                })
        })
    }
}
