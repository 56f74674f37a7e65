//! PostgreSQL access: the pool, migrations, tenant-scoped transactions, and one module per
//! aggregate with free `async fn`s taking `&mut PgConnection`.
//!
//! Every transaction that touches tenant data starts with [`begin`], which switches to the
//! `azcops_app` role and records whose rows it may see, so PostgreSQL's row-level security
//! stands behind each query's own tenant filter.

pub mod anomalies;
pub mod audit;
pub mod conditions;
pub mod containers;
pub mod costs;
pub mod entra;
pub mod export_jobs;
pub mod ingestion;
pub mod metrics;
pub mod partitions;
pub mod quota_log;
pub mod recommendations;
pub mod reference;
pub mod resource_costs;
pub mod resource_daily_costs;
pub mod resources;
pub mod rule_settings;
pub mod runtime_login;
pub mod subscriptions;
pub mod suppressions;
pub mod tenants;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A pooled connection idle at least this long is pinged before it is handed out, so one that
/// PostgreSQL or the network closed meanwhile (a restart, a failover, an idle timeout) is
/// replaced instead of failing the request. One busy a moment ago is not: under load that ping
/// was a round trip in every request (sqlx's default pings every time).
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The schema migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

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

/// How a transaction's statements are planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planning {
    /// PostgreSQL's default: a prepared statement may reuse a generic plan. What writes need:
    /// each foreign key check of a row is a prepared statement of its own, and planning it again
    /// for every row cost a fifth of ingestion's PostgreSQL time (`BENCHMARKS.md`, issue 13).
    Cached,
    /// Every execution planned for its values. What the API's list and summary queries need:
    /// they are catch-all (`$1 IS NULL OR col = $1`), and a generic plan of them ignores the
    /// filters actually given (8x slower measured, `scripts/bench api`).
    EachExecution,
    /// One generic plan per session and statement, whatever PostgreSQL's estimates say. Only
    /// for statements that name just the filters given and whose best plan is the same for
    /// every value ([`resources::planning`]): left to choose, PostgreSQL keeps planning a
    /// median tenant's list for its values, because the generic plan's estimate is the
    /// average tenant's.
    Generic,
}

/// Begins a transaction under the `azcops_app` role, limited by row-level security to `scope`,
/// with [`Planning::Cached`] plans.
pub async fn begin(
    pool: &PgPool,
    scope: Scope,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_planned(pool, scope, Planning::Cached).await
}

impl Planning {
    /// PostgreSQL's `plan_cache_mode` for it.
    fn plan_cache_mode(self) -> &'static str {
        match self {
            Planning::Cached => "auto",
            Planning::EachExecution => "force_custom_plan",
            Planning::Generic => "force_generic_plan",
        }
    }
}

/// Plans the rest of the transaction on `conn` as `planning` says (instead of as it began).
pub async fn plan_rest(conn: &mut PgConnection, planning: Planning) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT set_config('plan_cache_mode', $1, true)")
        .bind(planning.plan_cache_mode())
        .execute(conn)
        .await?;
    Ok(())
}

/// [`begin`], planned as `planning` says.
pub async fn begin_planned(
    pool: &PgPool,
    scope: Scope,
    planning: Planning,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_checked(pool, scope, planning, false).await
}

/// SQLSTATE of a caller's transaction whose tenant is no longer registered
/// ([`begin_for_caller`]).
pub const TENANT_NOT_REGISTERED: &str = "AZ404";
/// SQLSTATE of a caller's transaction whose tenant is deactivated ([`begin_for_caller`]).
pub const TENANT_DEACTIVATED: &str = "AZ403";

/// A transaction on behalf of an API caller: [`Planning::EachExecution`], and for
/// [`Scope::Tenant`] the tenant must still be registered and active, checked in the statement
/// that begins the transaction (else it fails with [`TENANT_NOT_REGISTERED`] or
/// [`TENANT_DEACTIVATED`]). So the API may remember which tenant an Entra tenant is, and a
/// request needs one transaction, not a lookup and then its own.
pub async fn begin_for_caller(
    pool: &PgPool,
    scope: Scope,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_for_caller_planned(pool, scope, Planning::EachExecution).await
}

/// [`begin_for_caller`], planned as `planning` says ([`Planning::Generic`] for a read whose
/// statements name only the filters given, so their plans are kept).
pub async fn begin_for_caller_planned(
    pool: &PgPool,
    scope: Scope,
    planning: Planning,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    begin_checked(pool, scope, planning, true).await
}

async fn begin_checked(
    pool: &PgPool,
    scope: Scope,
    planning: Planning,
    check_tenant: bool,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let (operator, tenant, caller) = match scope {
        Scope::Operator => ("on", String::new(), String::new()),
        Scope::Tenant(id) => ("off", id.to_string(), String::new()),
        Scope::CallerLookup(tid) => ("off", String::new(), tid.to_string()),
    };
    let plan_cache_mode = planning.plan_cache_mode();
    // One round trip: the settings, the tenant's check and `BEGIN` as one simple query. Every
    // value is a fixed word or a formatted `Uuid` (hex digits and dashes): nothing to quote.
    // The statements before `BEGIN` run in the query's implicit transaction, which `BEGIN`
    // turns into the explicit one, settings kept; should one of them fail, PostgreSQL ends that
    // transaction and the connection goes back to the pool idle (a failure after `BEGIN` would
    // leave it in an aborted transaction: sqlx rolls back only what it saw begin).
    let mut statement = format!(
        "SELECT set_config('role', 'azcops_app', true), \
                set_config('azcops.operator', '{operator}', true), \
                set_config('azcops.tenant_id', '{tenant}', true), \
                set_config('azcops.caller_azure_tenant_id', '{caller}', true), \
                set_config('plan_cache_mode', '{plan_cache_mode}', true); "
    );
    if let (true, Scope::Tenant(id)) = (check_tenant, scope) {
        statement.push_str(&format!("SELECT azcops_require_active_tenant('{id}'); "));
    }
    statement.push_str("BEGIN");
    pool.begin_with(sqlx::AssertSqlSafe(statement)).await
}

/// Ends a transaction that only read, without a round trip of its own: it is dropped, so sqlx
/// queues its `ROLLBACK` and sends it with the check it makes of every connection going back
/// to the pool (a `Sync` and its answer, which sqlx 0.9 always sends). A `COMMIT` would be one
/// more round trip before that check, a quarter of a page's round trips (`BENCHMARKS.md`,
/// issue 15, twelfth pass). Nothing is lost: the transaction wrote nothing, and its settings
/// were local to it. The connection goes back to the pool only once the `ROLLBACK` is answered.
pub fn end_read(tx: Transaction<'static, Postgres>) {
    drop(tx);
}

/// One page of a list to read: `size` rows from where `start` says, and whether to count every
/// matching row as well.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<K> {
    /// Rows a page holds.
    pub size: u32,
    pub start: Start<K>,
    /// Count every matching row (a second query, as costly as reading them all).
    pub count: bool,
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Start<K> {
    /// Page number `n` (from 1): after `(n - 1) * size` rows, which are read and dropped.
    Number(u32),
    /// Right after the row whose sort key this is (a cursor): an index finds it directly.
    After(K),
}

impl<K> Page<K> {
    /// Rows to skip: none after a cursor.
    pub fn offset(&self) -> i64 {
        match self.start {
            Start::Number(n) => (i64::from(n) - 1) * i64::from(self.size),
            Start::After(_) => 0,
        }
    }

    /// Rows to read: one more than the page holds, which tells whether another page follows.
    pub fn fetch(&self) -> i64 {
        i64::from(self.size) + 1
    }

    /// The sort key the page starts after, if it starts at a cursor.
    pub fn after(&self) -> Option<&K> {
        match &self.start {
            Start::After(key) => Some(key),
            Start::Number(_) => None,
        }
    }
}

/// What a list query read for a [`Page`]: up to `size + 1` rows, and the count when asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed<T> {
    pub rows: Vec<T>,
    pub total: Option<i64>,
}

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::ClientOptions;

use crate::secrets::{self, SecretError, VaultName};

/// Where the database URL comes from (see `config::Config::database_source` for how the
/// settings choose).
///
/// With Key Vault, the secret is read once, on the first [`Database::pool`] call, and the pool
/// built from it is kept for the life of the process; a failed read is retried by the next
/// call. A rotated secret is therefore picked up on restart, not while running.
#[derive(Debug, Clone)]
pub enum UrlSource {
    /// Given directly (`DATABASE_URL`).
    Direct(SecretString),
    /// The whole URL is the value of a Key Vault secret, read with the managed identity
    /// (`client_id` for a user-assigned one).
    KeyVault {
        vault: url::Url,
        secret: String,
        client_id: Option<String>,
    },
    /// `url` (`DATABASE_URL`, which has no password) with its password set to the value of a
    /// Key Vault secret, read with the managed identity (`client_id` for a user-assigned one).
    /// The password is applied with [`PgConnectOptions::password`], so it is used verbatim and
    /// needs no URL encoding.
    KeyVaultPassword {
        url: SecretString,
        vault: url::Url,
        secret: String,
        client_id: Option<String>,
    },
}

/// How the pool logs in to PostgreSQL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Login {
    /// With the URL's password (or the one read from Key Vault), if any.
    #[default]
    Password,
    /// With an Entra ID token of the managed identity (`client_id` for a user-assigned one) as
    /// the password, refreshed before it expires (see [`entra`]).
    Entra { client_id: Option<String> },
}

/// The pool, created on first use: reading a Key Vault secret is slow, and the custom handler
/// must answer the host's readiness probe before that.
pub struct Database {
    pool: tokio::sync::OnceCell<PgPool>,
    source: UrlSource,
    login: Login,
    /// Refuse connections of a login that owns the schema (see [`runtime_login`]).
    refuse_owner: bool,
    /// The credential for Key Vault and Entra ID logins; `None` is the managed identity,
    /// created on first use.
    credential: Option<Arc<dyn TokenCredential>>,
    /// HTTP options of the Key Vault client (the SDK's defaults in production).
    client_options: ClientOptions,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl Database {
    /// A database reached through `source`; nothing is connected yet. A Key Vault secret is
    /// read with the managed identity, which is created on first use.
    pub fn new(source: UrlSource, max_connections: u32, acquire_timeout: Duration) -> Self {
        Self {
            pool: tokio::sync::OnceCell::new(),
            source,
            login: Login::Password,
            refuse_owner: false,
            credential: None,
            client_options: ClientOptions::default(),
            max_connections,
            acquire_timeout,
        }
    }

    /// Like [`Database::new`], but a Key Vault secret (and an Entra ID login's token) is read
    /// with `credential` (in place of the managed identity, so any `client_id` is unused) and a
    /// Key Vault client made
    /// with `client_options`: for tests and tools that bring their own identity or transport.
    pub fn with_credential(
        source: UrlSource,
        credential: Arc<dyn TokenCredential>,
        client_options: ClientOptions,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Self {
        Self {
            credential: Some(credential),
            client_options,
            ..Self::new(source, max_connections, acquire_timeout)
        }
    }

    /// Logs in as `login` says (by default with a password).
    pub fn with_login(mut self, login: Login) -> Self {
        self.login = login;
        self
    }

    /// Refuses every connection whose login owns the schema, bypasses row-level security or
    /// cannot become `azcops_app` (for serving in Azure; never for `azcops migrate`).
    pub fn refusing_owner_login(mut self, refuse: bool) -> Self {
        self.refuse_owner = refuse;
        self
    }

    /// A database over an existing pool (tests, tools).
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool: tokio::sync::OnceCell::new_with(Some(pool)),
            ..Self::new(
                UrlSource::Direct(SecretString::from("")),
                1,
                Duration::from_secs(5),
            )
        }
    }

    /// The pool, resolving the URL (and reading Key Vault, or getting the first Entra ID
    /// token) the first time. A failure is retried on the next call; its message names the
    /// vault and secret, never the value.
    pub async fn pool(&self) -> anyhow::Result<&PgPool> {
        self.pool
            .get_or_try_init(|| async {
                // JIT compilation is off: the queries are short, and when the planner's
                // estimate crossed JIT's threshold (the hidden-recommendations subquery of
                // every recommendations request) compiling took 390 of 550 ms. How plans are
                // cached is each transaction's choice ([`begin_planned`]).
                let options = self
                    .connect_options()
                    .await?
                    .application_name("azcops")
                    .options([("jit", "off")]);
                let pool_options = PgPoolOptions::new()
                    .max_connections(self.max_connections)
                    .acquire_timeout(self.acquire_timeout)
                    .test_before_acquire(false)
                    .before_acquire(|conn, meta| {
                        Box::pin(async move {
                            if meta.idle_for >= PING_AFTER_IDLE {
                                sqlx::Connection::ping(conn).await?;
                            }
                            Ok(true)
                        })
                    });
                let Login::Entra { client_id } = &self.login else {
                    return self.checked(pool_options.connect_lazy_with(options)).await;
                };
                let credential = match &self.credential {
                    Some(credential) => Arc::clone(credential),
                    None => secrets::managed_identity(client_id.as_deref()).map_err(|e| {
                        anyhow::anyhow!(
                            "the managed identity for the database: {}",
                            secrets::describe(&e)
                        )
                    })?,
                };
                let token = entra::token(credential.as_ref()).await?;
                let pool = pool_options.connect_lazy_with(entra::with_token(&options, &token));
                entra::spawn_refresh(pool.clone(), options, credential, token.expires_at);
                self.checked(pool).await
            })
            .await
    }

    /// `pool`, once its login has passed [`runtime_login::check`] when owner logins are
    /// refused. A pool that fails is closed, which also ends its token refresh task.
    async fn checked(&self, pool: PgPool) -> anyhow::Result<PgPool> {
        if self.refuse_owner {
            let result = async {
                let mut conn = pool.acquire().await?;
                runtime_login::check(&mut conn).await
            }
            .await;
            if let Err(e) = result {
                pool.close().await;
                return Err(e);
            }
        }
        Ok(pool)
    }

    async fn connect_options(&self) -> anyhow::Result<PgConnectOptions> {
        match &self.source {
            UrlSource::Direct(url) => Ok(url.expose_secret().parse()?),
            UrlSource::KeyVault {
                vault,
                secret,
                client_id,
            } => {
                let url = self.read_secret(vault, secret, client_id).await?;
                // sqlx's parse errors can quote parts of the URL: only say that it failed.
                url.expose_secret().parse().map_err(|_| {
                    anyhow::anyhow!(
                        "Key Vault {}: secret `{secret}` is not a PostgreSQL URL (value not shown)",
                        VaultName::of(vault)
                    )
                })
            }
            UrlSource::KeyVaultPassword {
                url,
                vault,
                secret,
                client_id,
            } => {
                let options: PgConnectOptions = url.expose_secret().parse()?;
                let password = self.read_secret(vault, secret, client_id).await?;
                Ok(options.password(password.expose_secret()))
            }
        }
    }

    async fn read_secret(
        &self,
        vault: &url::Url,
        secret: &str,
        client_id: &Option<String>,
    ) -> Result<SecretString, SecretError> {
        let credential = match &self.credential {
            Some(credential) => Arc::clone(credential),
            None => secrets::managed_identity(client_id.as_deref()).map_err(|e| {
                SecretError::Client {
                    vault: VaultName::of(vault),
                    name: secret.to_owned(),
                    detail: secrets::describe(&e),
                }
            })?,
        };
        secrets::read_secret(vault, secret, credential, self.client_options.clone()).await
    }
}
