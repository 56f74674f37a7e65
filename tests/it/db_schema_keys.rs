//! The schema can be distributed by tenant (Citus: Azure Database for PostgreSQL elastic
//! clusters, Azure Cosmos DB for PostgreSQL), checked over the catalogue: every table with a
//! `tenant_id` keys on it (primary key, unique constraints and indexes, foreign keys between
//! tenant tables), and every table without one is a known global table. Also: the migration
//! that added `tenant_id` to the keys keeps the data, and the keys keep each row in its tenant.

use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::MIGRATOR;
use azcops::db::audit::NO_TENANT;

/// The tables that hold no tenant's data, so have no `tenant_id` (README "Toward Citus"): the
/// distribution anchor `tenants` and the Azure reference caches (Citus reference tables), the
/// log of Azure's shared quotas (Cost Management's query units kept per Entra tenant, Resource
/// Graph's requests per principal — not per AzCops tenant; shared by every instance, kept on
/// the coordinator), and the migration runner's own table.
const GLOBAL_TABLES: [&str; 9] = [
    "_sqlx_migrations",
    "azure_quota_holds",
    "azure_quota_spend",
    "costs_all_tenants_daily_by_service",
    "costs_all_tenants_monthly_by_service",
    "reference_refreshes",
    "retail_prices",
    "tenants",
    "vm_sizes",
];

/// The migration that added `tenant_id` to every tenant table's keys.
const TENANT_KEYS_MIGRATION: i64 = 20261207090000;

/// Every way a table breaks distribution by `tenant_id`, one line per offender. A unique index
/// counts its key columns only (not INCLUDE), partial ones too; a foreign key between tenant
/// tables must pair `tenant_id` with `tenant_id`; a SET NULL / SET DEFAULT action must not
/// clear `tenant_id`; a global table must not reference a tenant table.
const OFFENDERS: &str = r#"
WITH tables AS (
    SELECT c.oid AS relid, c.relname,
           (SELECT a.attnum FROM pg_attribute a
            WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS tenant_att
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
),
tenant_tables AS (SELECT * FROM tables WHERE tenant_att IS NOT NULL)
SELECT t.relname || ': tenant_id is nullable'
FROM tenant_tables t JOIN pg_attribute a ON a.attrelid = t.relid AND a.attnum = t.tenant_att
WHERE NOT a.attnotnull
UNION ALL
SELECT t.relname || ': tenant_id is ' || format_type(a.atttypid, a.atttypmod) || ', not uuid'
FROM tenant_tables t JOIN pg_attribute a ON a.attrelid = t.relid AND a.attnum = t.tenant_att
WHERE a.atttypid <> 'uuid'::regtype
UNION ALL
SELECT t.relname || ': no primary key'
FROM tenant_tables t
WHERE NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = t.relid AND k.contype = 'p')
UNION ALL
SELECT t.relname || ': unique index ' || i.indexrelid::regclass::text || ' ('
       || pg_get_indexdef(i.indexrelid) || ') lacks tenant_id'
FROM tenant_tables t JOIN pg_index i ON i.indrelid = t.relid
WHERE i.indisunique AND NOT (t.tenant_att = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]))
UNION ALL
SELECT t.relname || ': exclusion constraint ' || x.conname || ' lacks tenant_id'
FROM tenant_tables t JOIN pg_constraint x ON x.conrelid = t.relid AND x.contype = 'x'
WHERE NOT (t.tenant_att = ANY (x.conkey))
UNION ALL
SELECT t.relname || ': foreign key ' || f.conname || ' (' || pg_get_constraintdef(f.oid)
       || ') does not pair tenant_id with ' || r.relname || '.tenant_id'
FROM tenant_tables t
JOIN pg_constraint f ON f.conrelid = t.relid AND f.contype = 'f'
JOIN tenant_tables r ON r.relid = f.confrelid
WHERE NOT EXISTS (SELECT 1 FROM unnest(f.conkey, f.confkey) AS k(col, ref)
                  WHERE k.col = t.tenant_att AND k.ref = r.tenant_att)
UNION ALL
SELECT t.relname || ': foreign key ' || f.conname || ' (' || pg_get_constraintdef(f.oid)
       || ') would set tenant_id to NULL or its default'
FROM tenant_tables t JOIN pg_constraint f ON f.conrelid = t.relid AND f.contype = 'f'
WHERE t.tenant_att = ANY (f.conkey)
  AND (f.confupdtype IN ('n', 'd')
       OR f.confdeltype IN ('n', 'd')
          AND (coalesce(cardinality(f.confdelsetcols), 0) = 0 OR t.tenant_att = ANY (f.confdelsetcols)))
UNION ALL
SELECT g.relname || ': foreign key ' || f.conname || ' references tenant table ' || r.relname
FROM tables g
JOIN pg_constraint f ON f.conrelid = g.relid AND f.contype = 'f'
JOIN tenant_tables r ON r.relid = f.confrelid
WHERE g.tenant_att IS NULL
ORDER BY 1
"#;

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn every_tenant_table_keys_on_tenant_id(pool: PgPool) {
    let offenders: Vec<String> = sqlx::query_scalar(OFFENDERS)
        .fetch_all(&pool)
        .await
        .expect("the catalogue query");
    assert!(
        offenders.is_empty(),
        "a table distributed by tenant_id needs tenant_id NOT NULL and in every primary key, \
         unique constraint or index and foreign key between tenant tables; {} offender(s):\n{}",
        offenders.len(),
        offenders.join("\n")
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_tables_without_tenant_id_are_the_global_ones(pool: PgPool) {
    let global: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                           AND a.attname = 'tenant_id' AND NOT a.attisdropped)
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("the catalogue query");
    assert_eq!(
        global, GLOBAL_TABLES,
        "a table without tenant_id is shared by every tenant (a Citus reference table): give a \
         table of tenant data a tenant_id, or add a truly global table to GLOBAL_TABLES and to \
         the README's Citus section"
    );
}

/// The README's Citus section says how each tenant table is distributed: every table with a
/// `tenant_id` must be named in its row of distributed tables.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_readme_distributes_every_tenant_table(pool: PgPool) {
    let tenant_tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                       AND a.attname = 'tenant_id' AND NOT a.attisdropped)
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("the catalogue query");
    let readme = include_str!("../../README.md");
    let distributed = readme
        .lines()
        .find(|l| l.contains("create_distributed_table('subscriptions', 'tenant_id')"))
        .expect("the README's row of distributed tables");
    let missing: Vec<&String> = tenant_tables
        .iter()
        .filter(|t| !distributed.contains(&format!("`{t}`")))
        .collect();
    assert!(
        tenant_tables.len() > 20 && missing.is_empty(),
        "tables with tenant_id missing from the README's distributed tables: {missing:?}"
    );
}

/// A tenant with a subscription, written as the owner (row-level security does not apply).
async fn tenant_and_subscription(pool: &PgPool) -> (Uuid, Uuid) {
    sqlx::query_as(
        "WITH t AS (INSERT INTO tenants (name, azure_tenant_id) VALUES ('t', gen_random_uuid())
                    RETURNING id)
         INSERT INTO subscriptions (tenant_id, subscription_id, display_name)
         SELECT id, gen_random_uuid(), 's' FROM t RETURNING tenant_id, id",
    )
    .fetch_one(pool)
    .await
    .expect("tenant and subscription")
}

/// Which schema [`seed`] writes to.
#[derive(Clone, Copy)]
enum Schema {
    /// Before the tenant keys migration (and before resources carried their subscription's
    /// Azure id).
    BeforeTenantKeys,
    /// Every migration applied.
    Current,
}

/// One row in each table whose keys the migration changed, referencing each other.
async fn seed(pool: &PgPool, tenant: Uuid, sub: Uuid, schema: Schema) -> (Uuid, Uuid) {
    let resource = match schema {
        Schema::BeforeTenantKeys => {
            "INSERT INTO resources (tenant_id, subscription_db_id, resource_id, name, type)
             VALUES ($1, $2, '/subscriptions/s/disks/d', 'd', 'disk') RETURNING id"
        }
        Schema::Current => {
            "INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type)
             VALUES ($1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2),
                     '/subscriptions/s/disks/d', 'd', 'disk') RETURNING id"
        }
    };
    let (resource, recommendation): (Uuid, Uuid) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "WITH res AS ({resource}),
         rec AS (
             INSERT INTO recommendations (tenant_id, subscription_db_id, resource_db_id, rule_id,
                                          source, external_id, category, title, confidence_score)
             SELECT $1, $2, id, 'advisor:x', 'advisor', 'x', 'cost', 'Delete disk', 0.9 FROM res
             RETURNING id),
         ev AS (
             INSERT INTO recommendation_events (tenant_id, recommendation_id, at, actor, kind,
                                                from_status, to_status)
             SELECT $1, id, now(), 'me', 'decision', 'open', 'dismissed' FROM rec),
         cost AS (
             INSERT INTO costs_daily (tenant_id, subscription_db_id, date, cost)
             VALUES ($1, $2, '2026-11-01', 1.5)),
         supp AS (
             INSERT INTO suppressions (tenant_id, scope, subscription_db_id, target, kind, reason,
                                       author)
             VALUES ($1, 'subscription', $2, 'all', 'exclude', 'test', 'me')),
         run AS (
             INSERT INTO ingestion_runs (tenant_id, mode, trigger) VALUES ($1, 'full', 'api')
             RETURNING id),
         item AS (
             INSERT INTO ingestion_run_items (run_id, tenant_id, subscription_db_id, subscription_id)
             SELECT run.id, $1, $2, gen_random_uuid() FROM run),
         audit AS (
             INSERT INTO audit_logs (tenant_id, action, actor, target_type, target_id)
             VALUES ($1, 'create', 'me', 'tenant', $1::text),
                    (DEFAULT, 'create', 'ingestion', 'rejected_message', 'queue'))
         SELECT res.id, rec.id FROM res, rec"
    )))
    .bind(tenant)
    .bind(sub)
    .fetch_one(pool)
    .await
    .expect("seed");
    (resource, recommendation)
}

/// Every row of the tables the migration changed, as text, in a stable order.
async fn snapshot(pool: &PgPool) -> Vec<String> {
    let mut rows = Vec::new();
    for table in [
        "subscriptions",
        "resources",
        "costs_daily",
        "recommendations",
        "recommendation_events",
        "suppressions",
        "ingestion_runs",
        "ingestion_run_items",
        "audit_logs",
    ] {
        let sql = format!(
            "SELECT '{table}: ' || (to_jsonb(t) - 'tenant_id')::text FROM {table} t ORDER BY 1"
        );
        let found: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(pool)
            .await
            .expect("snapshot");
        assert!(!found.is_empty(), "{table} was seeded");
        rows.extend(found);
    }
    rows
}

#[sqlx::test(migrations = false)]
async fn the_tenant_keys_migration_keeps_every_row(pool: PgPool) {
    let previous = MIGRATOR
        .iter()
        .map(|m| m.version)
        .filter(|v| *v < TENANT_KEYS_MIGRATION)
        .max()
        .expect("migrations before the tenant keys");
    MIGRATOR.run_to(previous, &pool).await.expect("migrate");
    let (tenant, sub) = tenant_and_subscription(&pool).await;
    seed(&pool, tenant, sub, Schema::BeforeTenantKeys).await;
    let before = snapshot(&pool).await;

    // Only up to it: a later migration changing these tables must not change the snapshot.
    MIGRATOR
        .run_to(TENANT_KEYS_MIGRATION, &pool)
        .await
        .expect("the tenant keys migration");

    assert_eq!(snapshot(&pool).await, before, "every row is kept as it was");
    let tenants: Vec<Option<Uuid>> =
        sqlx::query_scalar("SELECT tenant_id FROM audit_logs ORDER BY actor")
            .fetch_all(&pool)
            .await
            .expect("audit rows");
    assert_eq!(
        tenants,
        [Some(NO_TENANT), Some(tenant)],
        "the audit row of no tenant has the nil tenant"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn deleting_a_referenced_row_clears_the_reference_but_not_the_tenant(pool: PgPool) {
    let (tenant, sub) = tenant_and_subscription(&pool).await;
    let (resource, recommendation) = seed(&pool, tenant, sub, Schema::Current).await;

    sqlx::query("DELETE FROM resources WHERE id = $1")
        .bind(resource)
        .execute(&pool)
        .await
        .expect("delete the resource");
    let kept: (Uuid, Option<Uuid>) =
        sqlx::query_as("SELECT tenant_id, resource_db_id FROM recommendations WHERE id = $1")
            .bind(recommendation)
            .fetch_one(&pool)
            .await
            .expect("the recommendation stays");
    assert_eq!(kept, (tenant, None));

    sqlx::query("DELETE FROM subscriptions WHERE id = $1")
        .bind(sub)
        .execute(&pool)
        .await
        .expect("delete the subscription");
    let items: Vec<(Uuid, Option<Uuid>)> =
        sqlx::query_as("SELECT tenant_id, subscription_db_id FROM ingestion_run_items")
            .fetch_all(&pool)
            .await
            .expect("run items");
    assert_eq!(items, [(tenant, None)], "the run's history stays, unlinked");
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM recommendations) + (SELECT count(*) FROM costs_daily)
              + (SELECT count(*) FROM suppressions)",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(left, 0, "the subscription's rows went with it");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_row_cannot_point_at_another_tenants_resource_or_run(pool: PgPool) {
    let (tenant_a, sub_a) = tenant_and_subscription(&pool).await;
    let (tenant_b, sub_b) = tenant_and_subscription(&pool).await;
    seed(&pool, tenant_a, sub_a, Schema::Current).await;
    let (resource_a, run_a): (Uuid, Uuid) = sqlx::query_as(
        "SELECT (SELECT id FROM resources), (SELECT id FROM ingestion_runs WHERE tenant_id = $1)",
    )
    .bind(tenant_a)
    .fetch_one(&pool)
    .await
    .expect("tenant A's rows");

    let attempts = [
        (
            "INSERT INTO recommendations (tenant_id, subscription_db_id, resource_db_id, rule_id,
                                          category, title, confidence_score)
             VALUES ($1, $2, $3, 'r', 'c', 't', 0.5)",
            resource_a,
            "recommendations_resource_db_id_fkey",
        ),
        (
            "INSERT INTO ingestion_run_items (tenant_id, subscription_db_id, run_id, subscription_id)
             VALUES ($1, $2, $3, gen_random_uuid())",
            run_a,
            "ingestion_run_items_run_id_fkey",
        ),
    ];
    for (sql, foreign, constraint) in attempts {
        let err = sqlx::query(sql)
            .bind(tenant_b)
            .bind(sub_b)
            .bind(foreign)
            .execute(&pool)
            .await
            .expect_err(constraint);
        assert_eq!(
            err.as_database_error().and_then(|e| e.constraint()),
            Some(constraint)
        );
    }
    let err = sqlx::query(
        "INSERT INTO ingestion_run_items (tenant_id, subscription_db_id, run_id, subscription_id)
         SELECT $1, $2, id, gen_random_uuid() FROM ingestion_runs WHERE tenant_id = $1",
    )
    .bind(tenant_a)
    .bind(sub_b)
    .execute(&pool)
    .await
    .expect_err("an item of A cannot name B's subscription");
    assert_eq!(
        err.as_database_error().and_then(|e| e.constraint()),
        Some("ingestion_run_items_subscription_db_id_fkey")
    );
}
