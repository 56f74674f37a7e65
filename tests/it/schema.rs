//! What the database itself enforces: the recommendation status machine, the append-only
//! audit log, natural keys, `updated_at`, and row-level security.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use azcops::db::{self, Scope};

async fn tenant_with_subscription(conn: &mut PgConnection) -> (Uuid, Uuid) {
    let tenant: Uuid = sqlx::query_scalar(
        "INSERT INTO tenants (name, azure_tenant_id) VALUES ('t', gen_random_uuid()) RETURNING id",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("insert");
    let sub: Uuid = sqlx::query_scalar(
        "INSERT INTO subscriptions (tenant_id, subscription_id, display_name) VALUES ($1, gen_random_uuid(), 's') RETURNING id",
    )
    .bind(tenant)
    .fetch_one(&mut *conn)
    .await
    .expect("insert");
    (tenant, sub)
}

async fn recommendation(conn: &mut PgConnection, tenant: Uuid, sub: Uuid) -> Uuid {
    sqlx::query_scalar(
        "INSERT INTO recommendations (tenant_id, subscription_db_id, rule_id, category, title, confidence_score)
         VALUES ($1, $2, 'unattached-disk', 'waste', 'Delete disk', 0.9) RETURNING id",
    )
    .bind(tenant)
    .bind(sub)
    .fetch_one(conn)
    .await
    .expect("insert")
}

async fn set_status(conn: &mut PgConnection, id: Uuid, status: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE recommendations SET status = $2::recommendation_status,
                executed_reference = CASE WHEN $2 = 'executed' THEN 'CHG-1' END
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .execute(conn)
    .await
    .map(|_| ())
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn every_allowed_recommendation_transition_is_accepted(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let (tenant, sub) = tenant_with_subscription(&mut conn).await;
    let paths: [&[&str]; 4] = [
        &["approved", "executed"],
        &["rejected", "open", "dismissed", "open"],
        &["approved", "rejected", "open"],
        &["dismissed", "open", "approved"],
    ];
    for path in paths {
        let id = recommendation(&mut conn, tenant, sub).await;
        for status in path {
            set_status(&mut conn, id, status)
                .await
                .unwrap_or_else(|e| panic!("{path:?} at {status}: {e}"));
        }
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn refused_recommendation_transitions_raise_the_named_constraint(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let (tenant, sub) = tenant_with_subscription(&mut conn).await;
    let refused = [
        (&[][..], "executed"),
        (&["approved", "executed"][..], "open"),
        (&["approved", "executed"][..], "rejected"),
        (&["rejected"][..], "approved"),
        (&["dismissed"][..], "approved"),
        (&["approved"][..], "dismissed"),
        (&["approved"][..], "open"),
        // The system's transitions, without the system's setting.
        (&[][..], "resolved"),
        (&["rejected"][..], "resolved"),
    ];
    for (setup, target) in refused {
        let id = recommendation(&mut conn, tenant, sub).await;
        for status in setup {
            set_status(&mut conn, id, status).await.unwrap();
        }
        let err = set_status(&mut conn, id, target)
            .await
            .expect_err(&format!("{setup:?} → {target} must be refused"));
        let db_err = err.as_database_error().expect("a database error");
        assert_eq!(
            db_err.constraint(),
            Some("recommendations_status_transition"),
            "{setup:?} → {target}"
        );
    }
    let err = sqlx::query(
        "INSERT INTO recommendations (tenant_id, subscription_db_id, rule_id, category, title, confidence_score, status)
         VALUES ($1, $2, 'r', 'c', 't', 0.5, 'approved')",
    )
    .bind(tenant)
    .bind(sub)
    .execute(&mut *conn)
    .await
    .expect_err("a new recommendation must start open");
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("recommendations_status_transition")
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn audit_logs_refuse_update_delete_and_truncate(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("INSERT INTO audit_logs (action, actor, target_type, target_id) VALUES ('create', 'me', 'tenant', 'x')")
        .execute(&mut *conn)
        .await
        .unwrap();
    for statement in [
        "UPDATE audit_logs SET actor = 'someone else'",
        "DELETE FROM audit_logs",
        "TRUNCATE audit_logs",
    ] {
        let err = sqlx::query(statement)
            .execute(&mut *conn)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("append-only"),
            "{statement}: {err}"
        );
    }
    let actor: String = sqlx::query_scalar("SELECT actor FROM audit_logs")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(actor, "me");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn natural_keys_are_unique(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let (tenant, sub) = tenant_with_subscription(&mut conn).await;
    let resource = "INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type) VALUES ($1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2), '/subscriptions/x/disk', 'd', 'disk')";
    sqlx::query(resource)
        .bind(tenant)
        .bind(sub)
        .execute(&mut *conn)
        .await
        .unwrap();
    let err = sqlx::query(resource)
        .bind(tenant)
        .bind(sub)
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("resources_subscription_resource_id_key")
    );

    // costs_daily is partitioned by month: the violation names the month's copy of the key.
    let november = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
    let mut tx = db::begin(&pool, Scope::Operator).await.unwrap();
    db::partitions::ensure(&mut tx, november, november)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let cost = "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name, meter_category, cost)
                VALUES ($1, $2, '2026-11-01', 'rg', 'Storage', 'Disks', 1.5)";
    sqlx::query(cost)
        .bind(tenant)
        .bind(sub)
        .execute(&mut *conn)
        .await
        .unwrap();
    let err = sqlx::query(cost)
        .bind(tenant)
        .bind(sub)
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("costs_daily_2026_11_natural_key")
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_row_cannot_point_at_another_tenants_subscription(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let (_, sub_a) = tenant_with_subscription(&mut conn).await;
    let (tenant_b, _) = tenant_with_subscription(&mut conn).await;
    let err = sqlx::query("INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type) VALUES ($1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2), 'r', 'n', 't')")
        .bind(tenant_b)
        .bind(sub_a)
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("resources_subscription_azure_fkey")
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_resource_carries_its_own_subscriptions_azure_id_and_keeps_it(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let (tenant, sub) = tenant_with_subscription(&mut conn).await;
    let insert = "INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type)
                  VALUES ($1, $2, $3, $4, 'n', 't')";
    // Another Azure id than the subscription's: refused.
    let err = sqlx::query(insert)
        .bind(tenant)
        .bind(sub)
        .bind(Uuid::new_v4())
        .bind("r-wrong")
        .execute(&mut *conn)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("resources_subscription_azure_fkey")
    );
    let azure_id: Uuid =
        sqlx::query_scalar("SELECT subscription_id FROM subscriptions WHERE id = $1")
            .bind(sub)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    sqlx::query(insert)
        .bind(tenant)
        .bind(sub)
        .bind(azure_id)
        .bind("r-right")
        .execute(&mut *conn)
        .await
        .unwrap();
    // The subscription's Azure id can no longer change under the copy.
    let err =
        sqlx::query("UPDATE subscriptions SET subscription_id = gen_random_uuid() WHERE id = $1")
            .bind(sub)
            .execute(&mut *conn)
            .await
            .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("resources_subscription_azure_fkey")
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn updated_at_is_maintained_by_the_database(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let (tenant, _) = tenant_with_subscription(&mut conn).await;
    sqlx::query("UPDATE tenants SET updated_at = '2000-01-01', name = 'renamed' WHERE id = $1")
        .bind(tenant)
        .execute(&mut *conn)
        .await
        .unwrap();
    let (created, updated): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("SELECT created_at, updated_at FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert!(
        updated >= created,
        "the trigger overrides whatever the statement set"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn row_level_security_hides_rows_without_the_tenant_setting(pool: PgPool) {
    let mut conn = pool.acquire().await.unwrap();
    let (tenant_a, _) = tenant_with_subscription(&mut conn).await;
    let (tenant_b, _) = tenant_with_subscription(&mut conn).await;
    drop(conn);

    // As the application role but with no tenant set: nothing at all.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL ROLE azcops_app")
        .execute(&mut *tx)
        .await
        .unwrap();
    for query in [
        "SELECT count(*) FROM tenants",
        "SELECT count(*) FROM subscriptions",
    ] {
        let n: i64 = sqlx::query_scalar(query).fetch_one(&mut *tx).await.unwrap();
        assert_eq!(n, 0, "{query} without a tenant setting");
    }
    tx.rollback().await.unwrap();

    // Scoped to tenant A: only A's rows, even without a WHERE clause.
    let mut tx = db::begin(&pool, Scope::Tenant(tenant_a)).await.unwrap();
    let seen: Vec<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM subscriptions")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, [tenant_a]);
    let tenants: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM tenants")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(tenants, [tenant_a]);
    let err = sqlx::query("INSERT INTO subscriptions (tenant_id, subscription_id, display_name) VALUES ($1, gen_random_uuid(), 'x')")
        .bind(tenant_b)
        .execute(&mut *tx)
        .await
        .expect_err("writing into another tenant is refused");
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    let mut tx = db::begin(&pool, Scope::Operator).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM subscriptions")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 2, "the operator sees every tenant");
}

/// Every function of a trigger with transition tables or of a deferred constraint trigger
/// (those that run queries: the summary cells and the cost rollups) plans once per session, whatever the transaction
/// that fires it says: under the API's `force_custom_plan` it re-planned its queries on every
/// request (migration 20261216000100). A `CREATE OR REPLACE` that forgets the setting fails
/// here.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn query_running_trigger_functions_keep_their_plans_whatever_the_transaction_says(
    pool: PgPool,
) {
    let functions: Vec<(String, Option<Vec<String>>)> = sqlx::query_as(
        "SELECT DISTINCT p.proname::text, p.proconfig
         FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE NOT t.tgisinternal AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpgsql')
           AND (t.tgoldtable IS NOT NULL OR t.tgnewtable IS NOT NULL OR t.tgdeferrable)
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("catalogue");
    let names: Vec<&str> = functions.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"recommendations_queue_summary_deltas")
            && names.contains(&"recommendation_summary_apply_pending")
            && names.contains(&"costs_daily_refresh_rollups"),
        "{names:?}"
    );
    for (name, config) in &functions {
        let config = config.clone().unwrap_or_default();
        assert!(
            config.iter().any(|c| c == "plan_cache_mode=auto"),
            "{name}: {config:?}"
        );
    }
}

/// The hidden-recommendations set (suppressions and disabled rules) is a PL/pgSQL function with
/// one generic plan per session: inlined as a SQL function, it was planned again inside every
/// recommendation list, count, summary and single view under the API's `force_custom_plan`
/// (migration 20261219000000). A `CREATE OR REPLACE` back to SQL, or without the setting,
/// fails here.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_hidden_recommendations_function_keeps_one_plan_per_session(pool: PgPool) {
    let (language, config): (String, Option<Vec<String>>) = sqlx::query_as(
        "SELECT l.lanname::text, p.proconfig FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
         WHERE p.proname = 'recommendations_hidden'",
    )
    .fetch_one(&pool)
    .await
    .expect("catalogue");
    assert_eq!(language, "plpgsql", "a SQL function would be inlined");
    assert_eq!(
        config,
        Some(vec!["plan_cache_mode=force_generic_plan".to_owned()])
    );
}
