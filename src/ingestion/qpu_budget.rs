//! The Cost Management query budget kept in PostgreSQL, shared by every Function instance:
//! the Azure client's [`QpuBudget`] over the log in `crate::db::cost_query_budget`. Each look
//! at a tenant's log runs in a short transaction holding a transaction-scoped advisory lock on
//! the tenant, so concurrent instances see each other's spending. No lock is held while
//! waiting or while the query runs.

use std::sync::Arc;

use futures::future::BoxFuture;
use sqlx::PgPool;

use crate::azure::error::AzureError;
use crate::azure::qpu_budget::{Decide, Decision, QpuBudget, QpuLimits, TenantLog};
use crate::db::{Database, cost_query_budget as log};

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

    async fn try_update(
        &self,
        pool: &PgPool,
        tenant_id: &str,
        decide: &Decide<'_>,
    ) -> Result<Decision, sqlx::Error> {
        let mut tx = pool.begin().await?;
        let now = log::lock_tenant(&mut tx, tenant_id).await?;
        let horizon =
            chrono::Duration::from_std(self.limits.horizon()).unwrap_or(chrono::Duration::hours(1));
        log::delete_expired(&mut tx, tenant_id, now - horizon).await?;
        let spent = log::spending(&mut tx, tenant_id, now - horizon).await?;
        let hold_until = log::hold_until(&mut tx, tenant_id).await?;
        let decision = decide(&TenantLog {
            now,
            spent: &spent,
            hold_until,
        });
        if decision.spend > 0 {
            log::record(&mut tx, tenant_id, now, decision.spend, decision.observed).await?;
        }
        if let Some(until) = decision.hold_until {
            log::hold(&mut tx, tenant_id, until).await?;
        }
        tx.commit().await?;
        Ok(decision)
    }
}

impl QpuBudget for PgQpuBudget {
    fn limits(&self) -> &QpuLimits {
        &self.limits
    }

    fn update<'a>(
        &'a self,
        tenant_id: &'a str,
        decide: &'a Decide<'a>,
    ) -> BoxFuture<'a, Result<Decision, AzureError>> {
        Box::pin(async move {
            let pool = self.pool(tenant_id).await?;
            self.try_update(pool, tenant_id, decide)
                .await
                .map_err(|e| AzureError::Budget {
                    tenant_id: tenant_id.to_owned(),
                    detail: format!("database: {e}"),
                    retryable: true,
                })
        })
    }
}
