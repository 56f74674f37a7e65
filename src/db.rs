//! PostgreSQL access: the pool, migrations, tenant-scoped transactions, and one module per
//! aggregate with free `async fn`s taking `&mut PgConnection`.
//!
//! Every transaction that touches tenant data starts with [`begin`], which switches to the
//! `azcops_app` role and records whose rows it may see, so PostgreSQL's row-level security
//! stands behind each query's own tenant filter.

pub mod audit;
pub mod subscriptions;
pub mod tenants;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

/// The schema migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool that connects on first use, so start-up never waits for the database.
pub fn lazy_pool(
    url: &SecretString,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = url.expose_secret().parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_lazy_with(options.application_name("azcops")))
}

/// Whose rows a transaction may see and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every tenant (the operator's admins, timers, ingestion of a message whose tenant is checked).
    Operator,
    /// One tenant, by its `tenants.id`.
    Tenant(Uuid),
    /// Only the tenant row registered for this Entra ID tenant: used to find who a caller is.
    CallerLookup(Uuid),
}

/// Begins a transaction under the `azcops_app` role, limited by row-level security to `scope`.
pub async fn begin(
    pool: &PgPool,
    scope: Scope,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (operator, tenant, caller) = match scope {
        Scope::Operator => ("on", String::new(), String::new()),
        Scope::Tenant(id) => ("off", id.to_string(), String::new()),
        Scope::CallerLookup(tid) => ("off", String::new(), tid.to_string()),
    };
    sqlx::query(
        "SELECT set_config('role', 'azcops_app', true), \
                set_config('azcops.operator', $1, true), \
                set_config('azcops.tenant_id', $2, true), \
                set_config('azcops.caller_azure_tenant_id', $3, true)",
    )
    .bind(operator)
    .bind(tenant)
    .bind(caller)
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

/// Offset pagination as the API exposes it: `page` from 1, `page_size` rows a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: u32,
    pub page_size: u32,
}

impl Page {
    /// Rows to skip.
    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.page_size)
    }

    /// Rows to return.
    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }
}

/// Where the database URL comes from.
#[derive(Debug, Clone)]
pub enum UrlSource {
    /// Given directly (`DATABASE_URL`).
    Direct(SecretString),
    /// Read from a Key Vault secret with the managed identity.
    KeyVault {
        vault: url::Url,
        secret: String,
        client_id: Option<String>,
    },
}

/// The pool, created on first use: reading a Key Vault secret is slow, and the custom handler
/// must answer the host's readiness probe before that.
pub struct Database {
    pool: tokio::sync::OnceCell<PgPool>,
    source: UrlSource,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl Database {
    /// A database reached through `source`; nothing is connected yet.
    pub fn new(source: UrlSource, max_connections: u32, acquire_timeout: Duration) -> Self {
        Self {
            pool: tokio::sync::OnceCell::new(),
            source,
            max_connections,
            acquire_timeout,
        }
    }

    /// A database over an existing pool (tests, tools).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool: tokio::sync::OnceCell::new_with(Some(pool)),
            source: UrlSource::Direct(SecretString::from("")),
            max_connections: 1,
            acquire_timeout: Duration::from_secs(5),
        }
    }

    /// The pool, resolving the URL the first time. A failure is retried on the next call.
    pub async fn pool(&self) -> anyhow::Result<&PgPool> {
        self.pool
            .get_or_try_init(|| async {
                let url = match &self.source {
                    UrlSource::Direct(url) => url.clone(),
                    UrlSource::KeyVault {
                        vault,
                        secret,
                        client_id,
                    } => {
                        let credential = crate::secrets::managed_identity(client_id.as_deref())?;
                        crate::secrets::read_secret(vault, secret, credential).await?
                    }
                };
                Ok(lazy_pool(&url, self.max_connections, self.acquire_timeout)?)
            })
            .await
    }
}
