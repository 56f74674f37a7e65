//! The runtime login, set up as the README's "Deployment" section says (`CREATE ROLE … LOGIN;
//! GRANT azcops_runtime TO …`): it owns nothing and can only become `azcops_app`, so a
//! compromised process cannot switch off the audit log's triggers, delete audit rows, read
//! another tenant's rows past row-level security, or create objects; and the application works
//! through it as it does through the owner.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use azcops::azure::qpu_budget::{QpuBudget, QpuLimits, QpuObservation, UserQuotaObservation};
use azcops::db::{self, Database, Planning, Scope, UrlSource};
use azcops::ingestion::qpu_budget::PgQpuBudget;

use crate::support::TestApp;

/// A fresh login of `azcops_runtime` (roles are cluster-wide: the name is unique per test) and
/// the options to connect to `pool`'s database as it.
async fn runtime_login(pool: &PgPool) -> (String, PgConnectOptions) {
    let name = format!("azcops_rt_test_{}", Uuid::new_v4().simple());
    for statement in [
        format!("CREATE ROLE {name} LOGIN"),
        format!("GRANT azcops_runtime TO {name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
            .expect("setup");
    }
    let options = pool.connect_options().as_ref().clone().username(&name);
    (name, options)
}

/// Drops the login once nothing is connected as it any more.
async fn drop_login(pool: &PgPool, name: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {name}")))
        .execute(pool)
        .await
        .expect("dropping the test login");
}

/// Two tenants with a subscription and an audit row each, written as the owner.
async fn two_tenants(pool: &PgPool) -> [Uuid; 2] {
    let mut tenants = [Uuid::nil(); 2];
    for tenant in &mut tenants {
        *tenant = sqlx::query_scalar(
            "WITH t AS (INSERT INTO tenants (name, azure_tenant_id) \
                        VALUES ('t', gen_random_uuid()) RETURNING id), \
                  s AS (INSERT INTO subscriptions (tenant_id, subscription_id, display_name) \
                        SELECT id, gen_random_uuid(), 's' FROM t), \
                  a AS (INSERT INTO audit_logs (tenant_id, action, actor, target_type, target_id) \
                        SELECT id, 'create', 'me', 'tenant', id::text FROM t) \
             SELECT id FROM t",
        )
        .fetch_one(pool)
        .await
        .expect("seed");
    }
    tenants
}

/// Runs `sql` and returns the SQLSTATE it failed with (panics if it succeeded).
async fn refused(conn: &mut PgConnection, sql: &str) -> String {
    let err = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .expect_err(&format!("`{sql}` must be refused"));
    err.as_database_error()
        .and_then(|e| e.code())
        .map(|code| code.into_owned())
        .unwrap_or_else(|| panic!("`{sql}`: not a database error: {err}"))
}

/// SQLSTATE 42501: insufficient_privilege (also "must be owner of table").
const DENIED: &str = "42501";

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_runtime_login_cannot_touch_triggers_audit_rows_or_row_level_security(pool: PgPool) {
    let [a, b] = two_tenants(&pool).await;
    let (name, options) = runtime_login(&pool).await;
    let runtime = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("login");
    let mut conn = runtime.acquire().await.expect("connection");

    // As itself, the login holds no table privileges (NOINHERIT): only SET ROLE azcops_app.
    assert_eq!(
        refused(&mut conn, "SELECT count(*) FROM subscriptions").await,
        DENIED
    );
    assert_eq!(
        refused(&mut conn, "SET ROLE postgres").await,
        DENIED,
        "the login can become azcops_app only"
    );
    for role in ["", "SET ROLE azcops_app; "] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("RESET ROLE; {role}SELECT 1")))
            .execute(&mut *conn)
            .await
            .expect("switching roles");
        for sql in [
            "ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_append_only",
            "ALTER TABLE audit_logs DISABLE TRIGGER ALL",
            "ALTER TABLE subscriptions DISABLE ROW LEVEL SECURITY",
            "ALTER TABLE subscriptions NO FORCE ROW LEVEL SECURITY",
            "DROP POLICY subscriptions_isolation ON subscriptions",
            "DELETE FROM audit_logs",
            "UPDATE audit_logs SET actor = 'someone else'",
            "TRUNCATE audit_logs",
            "CREATE TABLE planted (id int)",
            "CREATE TEMPORARY TABLE planted (id int)",
            "CREATE FUNCTION planted() RETURNS int LANGUAGE sql AS 'SELECT 1'",
            "ALTER ROLE azcops_app BYPASSRLS",
        ] {
            assert_eq!(refused(&mut conn, sql).await, DENIED, "{role}{sql}");
        }
    }

    // Under azcops_app, tenant A's scope sees tenant A's rows only, and switching row-level
    // security off is an error, not a way round it.
    sqlx::query("RESET ROLE")
        .execute(&mut *conn)
        .await
        .expect("reset");
    drop(conn);
    let mut tx = db::begin(&runtime, Scope::Tenant(a)).await.expect("begin");
    let seen: Vec<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM subscriptions")
        .fetch_all(&mut *tx)
        .await
        .expect("select");
    assert_eq!(seen, vec![a]);
    sqlx::query("SET LOCAL row_security = off")
        .execute(&mut *tx)
        .await
        .expect("the setting itself may be changed");
    assert_eq!(
        refused(&mut tx, "SELECT count(*) FROM subscriptions").await,
        DENIED,
        "row_security = off must fail for a role subject to row-level security"
    );
    tx.rollback().await.expect("rollback");

    let audit_rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE tenant_id = ANY($1)")
            .bind(vec![a, b])
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(audit_rows, 2, "no audit row was deleted");
    let bypass: Vec<String> = sqlx::query_scalar(
        "SELECT rolname FROM pg_roles WHERE rolname IN ('azcops_app', 'azcops_runtime', $1) \
         AND (rolbypassrls OR rolsuper OR rolcreaterole OR rolcreatedb)",
    )
    .bind(&name)
    .fetch_all(&pool)
    .await
    .expect("roles");
    assert!(
        bypass.is_empty(),
        "roles with privileged attributes: {bypass:?}"
    );
    let owned: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM pg_class WHERE relowner = ANY(r.ids)) \
              + (SELECT count(*) FROM pg_proc WHERE proowner = ANY(r.ids)) \
              + (SELECT count(*) FROM pg_namespace WHERE nspowner = ANY(r.ids)) \
         FROM (SELECT array_agg(oid) AS ids FROM pg_roles \
               WHERE rolname IN ('azcops_app', 'azcops_runtime', $1)) r",
    )
    .bind(&name)
    .fetch_one(&pool)
    .await
    .expect("ownership");
    assert_eq!(owned, 0, "the runtime roles own nothing");

    runtime.close().await;
    drop_login(&pool, &name).await;
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_api_and_the_query_budget_work_through_the_runtime_login(pool: PgPool) {
    let (name, options) = runtime_login(&pool).await;
    let runtime = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .expect("runtime pool");

    let app = TestApp::new(runtime.clone()).await;
    let op = app.operator();
    let created = app
        .call(
            Method::POST,
            "/api/v1/tenants",
            Some(&op),
            Some(json!({"name": "Contoso", "azure_tenant_id": Uuid::new_v4()})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.id();
    let patched = app
        .call(
            Method::PATCH,
            &format!("/api/v1/tenants/{id}"),
            Some(&op),
            Some(json!({"name": "Contoso Ltd"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    let listed = app
        .call(Method::GET, "/api/v1/tenants", Some(&op), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE target_id = $1")
        .bind(id.to_string())
        .fetch_one(&pool)
        .await
        .expect("audit");
    assert_eq!(
        audit, 2,
        "create and update were audited through the runtime login"
    );

    // The Cost Management query budget runs as the login itself, under its advisory lock.
    let budget = PgQpuBudget::new(runtime.clone(), QpuLimits::new(12, 60, 600));
    let tenant = Uuid::new_v4().to_string();
    let waited = budget.acquire(&tenant, 2).await.expect("acquire");
    assert!(waited.is_zero());
    let observation = QpuObservation {
        charged: 2,
        retry_after: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    budget
        .observe(&tenant, &observation)
        .await
        .expect("observe");
    // So does Resource Graph's request quota, per principal.
    let principal = Uuid::new_v4().to_string();
    let waited = budget.acquire_request(&principal).await.expect("acquire");
    assert!(waited.is_zero());
    let used_up = UserQuotaObservation {
        remaining: Some(0),
        resets_after: Some(Duration::from_secs(1)),
        retry_after: None,
    };
    budget
        .observe_user_quota(&principal, &used_up)
        .await
        .expect("observe");

    drop(app);
    runtime.close().await;
    drop_login(&pool, &name).await;
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn serving_in_azure_refuses_the_owner_login_and_accepts_the_runtime_login(pool: PgPool) {
    use sqlx::ConnectOptions;

    let (name, runtime_options) = runtime_login(&pool).await;
    let database = |options: &PgConnectOptions| {
        let url = SecretString::from(options.to_url_lossy().to_string());
        Database::new(UrlSource::Direct(url), 1, Duration::from_secs(5)).refusing_owner_login(true)
    };

    // The owner (here the superuser that ran the migrations).
    let owner = database(pool.connect_options().as_ref());
    let err = owner
        .pool()
        .await
        .expect_err("the owner's login must be refused");
    let message = format!("{err:#}");
    assert!(
        message.contains("superuser") && message.contains("azcops_runtime"),
        "{message}"
    );

    // A login that owns a table (an administrator that is no superuser, as in Azure).
    let owner_name = format!("azcops_owner_test_{}", Uuid::new_v4().simple());
    for statement in [
        format!("CREATE ROLE {owner_name} LOGIN"),
        format!("CREATE TABLE owned_{owner_name} (id int)"),
        format!("ALTER TABLE owned_{owner_name} OWNER TO {owner_name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .expect("setup");
    }
    let table_owner = database(&runtime_options.clone().username(&owner_name));
    let err = table_owner
        .pool()
        .await
        .expect_err("a table owner must be refused");
    assert!(format!("{err:#}").contains("owns the schema"), "{err:#}");

    let runtime = database(&runtime_options);
    let mut tx = db::begin(runtime.pool().await.expect("pool"), Scope::Operator)
        .await
        .expect("the runtime login is accepted");
    sqlx::query("SELECT count(*) FROM tenants")
        .execute(&mut *tx)
        .await
        .expect("select");
    tx.rollback().await.expect("rollback");

    runtime.pool().await.expect("pool").close().await;
    drop(owner);
    drop(table_owner);
    drop_login(&pool, &name).await;
    for statement in [
        format!("DROP TABLE owned_{owner_name}"),
        format!("DROP ROLE {owner_name}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .expect("cleanup");
    }
}

/// The pool's sessions never JIT-compile: short queries whose estimate crossed JIT's threshold
/// spent most of their time compiling (390 of 550 ms for the recommendations list's
/// hidden-recommendations subquery). The API's transactions plan each query for its values;
/// the others (ingestion's writes) let PostgreSQL reuse plans.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_pools_sessions_use_custom_plans_and_no_jit(pool: PgPool) {
    use sqlx::ConnectOptions;

    let url = SecretString::from(pool.connect_options().to_url_lossy().to_string());
    // One connection: every transaction below runs on the same session, so a setting one of
    // them leaked would show in the next.
    let database = Database::new(UrlSource::Direct(url), 1, Duration::from_secs(5));
    let app = database.pool().await.expect("the pool");
    let settings = "SELECT current_setting('jit'), current_setting('plan_cache_mode')";
    let read = |planning: Option<Planning>| async move {
        let mut tx = match planning {
            Some(planning) => db::begin_planned(app, Scope::Operator, planning).await,
            None => db::begin(app, Scope::Operator).await,
        }
        .expect("a transaction");
        let got: (String, String) = sqlx::query_as(settings)
            .fetch_one(&mut *tx)
            .await
            .expect("settings");
        tx.commit().await.expect("commit");
        got
    };
    let owned = |(a, b): (&str, &str)| (a.to_owned(), b.to_owned());
    // The API's catch-all queries are planned for their values; writes reuse plans (the
    // per-row foreign key checks), also right after an API transaction on the same session.
    assert_eq!(
        read(Some(Planning::EachExecution)).await,
        owned(("off", "force_custom_plan"))
    );
    assert_eq!(read(None).await, owned(("off", "auto")));
    assert_eq!(
        read(Some(Planning::EachExecution)).await,
        owned(("off", "force_custom_plan"))
    );
    assert_eq!(read(Some(Planning::Cached)).await, owned(("off", "auto")));
    assert_eq!(
        read(Some(Planning::Generic)).await,
        owned(("off", "force_generic_plan"))
    );
    assert_eq!(read(None).await, owned(("off", "auto")));
}

/// A pooled session that PostgreSQL ended while it sat idle (as a restart or a failover ends
/// every session) is pinged before it is handed out and replaced: the next transaction works on
/// a new session. The pool pings only sessions idle for [`db::PING_AFTER_IDLE`], so a busy pool
/// spends no round trip per request on it.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_pooled_session_ended_while_idle_is_replaced_before_it_is_handed_out(pool: PgPool) {
    use sqlx::ConnectOptions;

    let url = SecretString::from(pool.connect_options().to_url_lossy().to_string());
    let database = Database::new(UrlSource::Direct(url), 1, Duration::from_secs(5));
    let app = database.pool().await.expect("the pool");
    let backend = || async move {
        let mut tx = db::begin(app, Scope::Operator)
            .await
            .expect("a transaction");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await
            .expect("its backend");
        tx.commit().await.expect("commit");
        pid
    };
    let first = backend().await;
    assert_eq!(first, backend().await, "one session, reused");
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
        .bind(first)
        .fetch_one(&pool)
        .await
        .expect("terminate");
    assert!(ended, "PostgreSQL ended the pool's session");
    tokio::time::sleep(db::PING_AFTER_IDLE + Duration::from_millis(100)).await;
    let second = backend().await;
    assert_ne!(first, second, "a new session replaced the ended one");
}

/// A caller's transaction checks its tenant in the statement that begins it: refused with
/// the SQLSTATE the API turns into a 403, and the session (the pool's only one) is left idle,
/// not in an aborted transaction, so the next transaction on it works.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_callers_transaction_is_refused_for_an_inactive_tenant_and_leaves_the_session_usable(
    pool: PgPool,
) {
    use sqlx::ConnectOptions;

    let [a, b] = two_tenants(&pool).await;
    sqlx::query("UPDATE tenants SET is_active = false WHERE id = $1")
        .bind(a)
        .execute(&pool)
        .await
        .expect("deactivate");
    let url = SecretString::from(pool.connect_options().to_url_lossy().to_string());
    let database = Database::new(UrlSource::Direct(url), 1, Duration::from_secs(5));
    let app = database.pool().await.expect("the pool");
    let code = |e: sqlx::Error| {
        e.as_database_error()
            .and_then(|d| d.code())
            .map(|c| c.into_owned())
    };
    let refused = db::begin_for_caller(app, Scope::Tenant(a))
        .await
        .err()
        .map(code);
    assert_eq!(refused, Some(Some(db::TENANT_DEACTIVATED.to_owned())));
    let missing = db::begin_for_caller(app, Scope::Tenant(Uuid::new_v4()))
        .await
        .err()
        .map(code);
    assert_eq!(missing, Some(Some(db::TENANT_NOT_REGISTERED.to_owned())));

    let mut tx = db::begin_for_caller(app, Scope::Tenant(b))
        .await
        .expect("an active tenant");
    let seen: (Option<Uuid>, String, bool) = sqlx::query_as(
        "SELECT (SELECT id FROM tenants), current_setting('plan_cache_mode'), \
                pg_current_xact_id_if_assigned() IS NULL AND now() = transaction_timestamp()",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("a query in it");
    assert_eq!(
        seen.0,
        Some(b),
        "row-level security limits it to its tenant"
    );
    assert_eq!(seen.1, "force_custom_plan");
    tx.rollback().await.expect("rollback");
    // Plain transactions do not check: ingestion and timers act for tenants whatever their state.
    let mut tx = db::begin(app, Scope::Tenant(a)).await.expect("not checked");
    let own: Option<Uuid> = sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_optional(&mut *tx)
        .await
        .expect("read");
    assert_eq!(own, Some(a));
    tx.commit().await.expect("commit");
}
