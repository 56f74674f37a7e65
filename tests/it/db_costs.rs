//! The cost tables partitioned by month (README "Cost storage"): the migration keeps every
//! row, partitions are made ahead and for any month written, rows waiting in DEFAULT move into
//! their month's partition, retention drops whole expired partitions only, row-level security
//! holds through the partitioned parents, and the rollups that the summary reads follow every
//! write and add up to what the daily rows say.

mod rollups;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use chrono::{Datelike, Months, NaiveDate, Utc};
use futures::future::BoxFuture;
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use azcops::api::{AppState, Authn};
use azcops::db::partitions::{self, Retention};
use azcops::db::{self, Database, MIGRATOR, Scope};
use azcops::ingestion::fanout::Enqueue;

/// The migration that partitioned the cost tables.
const PARTITIONS_MIGRATION: i64 = 20261207100000;

/// The tables partitioned by month.
const PARTITIONED: [&str; 5] = [
    "costs_daily",
    "costs_daily_by_service",
    "costs_daily_totals",
    "costs_monthly_by_service",
    "resource_costs",
];

/// The rollups the summary reads without a subscription filter: partitioned by month until
/// migration 20261220000000, plain tables since (one index range per read, no partition to plan).
const SUMMARY_ROLLUPS: [&str; 5] = [
    "costs_tenant_daily_by_service",
    "costs_tenant_daily_totals",
    "costs_tenant_monthly_by_service",
    "costs_all_tenants_daily_by_service",
    "costs_all_tenants_monthly_by_service",
];

fn day(text: &str) -> NaiveDate {
    text.parse().expect("a date")
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The first day of the month `offset` months from today's (negative: before).
fn month(offset: i32) -> NaiveDate {
    let first = today().with_day(1).expect("first day");
    if offset >= 0 {
        first.checked_add_months(Months::new(offset.unsigned_abs()))
    } else {
        first.checked_sub_months(Months::new(offset.unsigned_abs()))
    }
    .expect("month")
}

/// A tenant with a subscription, written as the owner: (tenant, subscription row id, Azure id).
async fn tenant_and_subscription(pool: &PgPool) -> (Uuid, Uuid, Uuid) {
    sqlx::query_as(
        "WITH t AS (INSERT INTO tenants (name, azure_tenant_id) VALUES ('t', gen_random_uuid())
                    RETURNING id)
         INSERT INTO subscriptions (tenant_id, subscription_id, display_name)
         SELECT id, gen_random_uuid(), 's' FROM t RETURNING tenant_id, id, subscription_id",
    )
    .fetch_one(pool)
    .await
    .expect("tenant and subscription")
}

/// One cost row of `date`, written as the owner.
async fn cost(pool: &PgPool, (tenant, sub): (Uuid, Uuid), date: NaiveDate, amount: &str) {
    sqlx::query(
        "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, service_name, cost, amortized_cost)
         VALUES ($1, $2, $3, 'Storage', $4::numeric, $4::numeric)",
    )
    .bind(tenant)
    .bind(sub)
    .bind(date)
    .bind(amount)
    .execute(pool)
    .await
    .expect("cost row");
}

/// The partitions of `table`, by name.
async fn partitions_of(pool: &PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = $1::regclass ORDER BY 1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("partitions")
}

/// Where each cost row is: (partition, date), by date.
async fn placement(pool: &PgPool) -> Vec<(String, NaiveDate)> {
    sqlx::query_as("SELECT tableoid::regclass::text, date FROM costs_daily ORDER BY date, 1")
        .fetch_all(pool)
        .await
        .expect("placement")
}

fn partition(table: &str, month: NaiveDate) -> String {
    format!("{table}_{}", month.format("%Y_%m"))
}

/// Every row of the cost tables, as text, in a stable order.
async fn snapshot(pool: &PgPool) -> Vec<String> {
    let mut rows = Vec::new();
    for table in ["costs_daily", "resource_costs"] {
        let sql = format!("SELECT '{table}: ' || to_jsonb(t)::text FROM {table} t ORDER BY 1");
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
async fn the_partitioning_migration_keeps_every_row_and_builds_the_rollups(pool: PgPool) {
    let previous = MIGRATOR
        .iter()
        .map(|m| m.version)
        .filter(|v| *v < PARTITIONS_MIGRATION)
        .max()
        .expect("migrations before the partitioning");
    MIGRATOR.run_to(previous, &pool).await.expect("migrate");
    let (tenant, sub, _) = tenant_and_subscription(&pool).await;
    sqlx::query(
        "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name,
                                  meter_category, cost, amortized_cost, currency)
         SELECT $1, $2, d::date, 'rg' || g % 2, 'svc' || g % 3, 'm' || g, g * 1.25 + 0.000001,
                g * 0.5, CASE WHEN g = 5 THEN 'USD' ELSE 'EUR' END
         FROM generate_series('2019-03-30'::date, '2019-05-02', '1 day') d, generate_series(1, 5) g
         UNION ALL
         SELECT $1, $2, current_date - 1, '', 'svc0', '', 3, 3, 'EUR'",
    )
    .bind(tenant)
    .bind(sub)
    .execute(&pool)
    .await
    .expect("daily costs");
    sqlx::query(
        "INSERT INTO resource_costs (tenant_id, subscription_db_id, window_end, resource_id, window_start, cost)
         VALUES ($1, $2, '2019-04-30', '/r/1', '2019-04-01', 7.5), ($1, $2, '2019-05-31', '', '2019-05-02', 1)",
    )
    .bind(tenant)
    .bind(sub)
    .execute(&pool)
    .await
    .expect("resource costs");
    let before = snapshot(&pool).await;

    MIGRATOR
        .run_to(PARTITIONS_MIGRATION, &pool)
        .await
        .expect("the partitioning migration");

    assert_eq!(snapshot(&pool).await, before, "every row is kept as it was");
    let parts = partitions_of(&pool, "costs_daily").await;
    for name in [
        "costs_daily_2019_03",
        "costs_daily_2019_04",
        "costs_daily_2019_05",
        "costs_daily_default",
    ] {
        assert!(parts.contains(&name.to_owned()), "{name} in {parts:?}");
    }
    let in_default: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM costs_daily_default) + (SELECT count(*) FROM resource_costs_default)",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(in_default, 0, "each row is in its month's partition");
    let sums: Vec<Decimal> = sqlx::query_scalar(
        "SELECT sum(cost) FROM costs_daily UNION ALL SELECT sum(cost) FROM costs_daily_by_service
         UNION ALL SELECT sum(cost) FROM costs_daily_totals UNION ALL SELECT sum(cost) FROM costs_monthly_by_service",
    )
    .fetch_all(&pool)
    .await
    .expect("sums");
    assert!(sums[0] > Decimal::ZERO);
    assert_eq!(sums, [sums[0]; 4], "the rollups add up to the daily rows");
}

/// The migration that added the tenant rollups.
const TENANT_ROLLUPS_MIGRATION: i64 = 20261215100000;

#[sqlx::test(migrations = false)]
async fn the_tenant_rollups_migration_fills_them_from_the_subscription_rollups(pool: PgPool) {
    let previous = MIGRATOR
        .iter()
        .map(|m| m.version)
        .filter(|v| *v < TENANT_ROLLUPS_MIGRATION)
        .max()
        .expect("migrations before the tenant rollups");
    MIGRATOR.run_to(previous, &pool).await.expect("migrate");
    // Two tenants, the first with two subscriptions.
    let (tenant, _, _) = tenant_and_subscription(&pool).await;
    tenant_and_subscription(&pool).await;
    sqlx::query(
        "INSERT INTO subscriptions (tenant_id, subscription_id, display_name)
         VALUES ($1, gen_random_uuid(), 's2')",
    )
    .bind(tenant)
    .execute(&pool)
    .await
    .expect("second subscription");
    // Months with partitions, and one (2019-06) whose rows wait in DEFAULT.
    partitions::ensure_months_of(
        &pool,
        [day("2019-03-30"), day("2019-04-15"), day("2019-05-02")],
    )
    .await
    .expect("partitions");
    sqlx::query(
        "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name,
                                  meter_category, cost, amortized_cost, currency)
         SELECT s.tenant_id, s.id, d::date, 'rg' || g % 2, 'svc' || g % 3, 'm' || g, g * 1.25 + 0.000001,
                g * 0.5, CASE WHEN g = 5 THEN 'USD' ELSE 'EUR' END
         FROM subscriptions s, generate_series('2019-03-30'::date, '2019-05-02', '1 day') d,
              generate_series(1, 5) g
         UNION ALL
         SELECT s.tenant_id, s.id, '2019-06-10', '', 'svc0', '', 3, 3, 'EUR' FROM subscriptions s",
    )
    .execute(&pool)
    .await
    .expect("daily costs");

    MIGRATOR
        .run_to(TENANT_ROLLUPS_MIGRATION, &pool)
        .await
        .expect("the tenant rollups migration");
    // And the later ones: the all-tenant rollups' fills them from the tenant rollups.
    MIGRATOR.run(&pool).await.expect("the later migrations");

    rollups::assert_tenant_rollups_exact(&pool).await;
    for table in PARTITIONED {
        let parts = partitions_of(&pool, table).await;
        for name in ["2019_03", "2019_04", "2019_05", "default"] {
            assert!(parts.contains(&format!("{table}_{name}")), "{parts:?}");
        }
        assert!(!parts.contains(&format!("{table}_2019_06")), "{parts:?}");
    }
    let (tenants, june): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(DISTINCT tenant_id) FROM costs_tenant_monthly_by_service),
                (SELECT count(*) FROM costs_tenant_daily_by_service WHERE date = '2019-06-10')",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!(
        (tenants, june),
        (2, 2),
        "June 2019, which waits in DEFAULT in the partitioned tables, is summed as well"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn every_cost_table_has_its_months_ahead_and_a_default_partition(pool: PgPool) {
    for table in PARTITIONED {
        let kind: String =
            sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE oid = $1::regclass")
                .bind(table)
                .fetch_one(&pool)
                .await
                .expect("relkind");
        assert_eq!(kind, "p", "{table} is partitioned");
        let parts = partitions_of(&pool, table).await;
        for offset in -1..=3 {
            let name = partition(table, month(offset));
            assert!(parts.contains(&name), "{name} in {parts:?}");
        }
        assert!(parts.contains(&format!("{table}_default")), "{parts:?}");
    }
    for table in SUMMARY_ROLLUPS {
        let kind: String =
            sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE oid = $1::regclass")
                .bind(table)
                .fetch_one(&pool)
                .await
                .expect("relkind");
        assert_eq!(kind, "r", "{table} is a plain table");
    }

    // The daily upkeep makes the months around its day ready (here a day years ahead).
    let later = day("2031-06-10");
    let done = partitions::maintain(&pool, later, Retention::KeepAll)
        .await
        .expect("maintain");
    assert_eq!(
        done.created,
        5 * 5,
        "May to September 2031, for each of the 5 tables"
    );
    for table in PARTITIONED {
        let parts = partitions_of(&pool, table).await;
        for name in ["2031_05", "2031_06", "2031_09"] {
            assert!(parts.contains(&format!("{table}_{name}")), "{parts:?}");
        }
        assert!(!parts.contains(&format!("{table}_2031_10")), "{parts:?}");
    }
    let again = partitions::maintain(&pool, later, Retention::KeepAll)
        .await
        .expect("maintain again");
    assert_eq!(again.created, 0, "nothing to create the second time");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_write_for_an_old_month_gets_its_partition(pool: PgPool) {
    let (tenant, sub, _) = tenant_and_subscription(&pool).await;
    let old = [day("2019-03-31"), day("2019-05-01"), day("2019-05-31")];

    // What an ingestion does before it writes (a backfill of old months).
    let created = partitions::ensure_months_of(&pool, old)
        .await
        .expect("ensure");
    assert_eq!(
        created,
        2 * 5,
        "March and May 2019 (not April), 5 tables each"
    );
    for date in old {
        cost(&pool, (tenant, sub), date, "1.5").await;
    }
    assert_eq!(
        placement(&pool).await,
        [
            ("costs_daily_2019_03".to_owned(), old[0]),
            ("costs_daily_2019_05".to_owned(), old[1]),
            ("costs_daily_2019_05".to_owned(), old[2]),
        ]
    );
    let april = partitions_of(&pool, "costs_daily").await;
    assert!(!april.contains(&"costs_daily_2019_04".to_owned()));
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'costs_daily_2019_03'::regclass ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("indexes");
    assert_eq!(
        names,
        [
            "costs_daily_2019_03_list_idx",
            "costs_daily_2019_03_natural_key",
            "costs_daily_2019_03_pkey",
            "costs_daily_2019_03_tenant_date_idx"
        ],
        "named after the partition"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn rows_waiting_in_default_move_into_their_months_partition(pool: PgPool) {
    let (tenant, sub, _) = tenant_and_subscription(&pool).await;
    let (may, july) = (day("2018-05-20"), day("2018-07-02"));
    cost(&pool, (tenant, sub), may, "2.25").await;
    cost(&pool, (tenant, sub), july, "4").await;
    cost(&pool, (tenant, sub), today(), "1").await;
    let default = "costs_daily_default".to_owned();
    assert_eq!(
        placement(&pool).await[..2],
        [(default.clone(), may), (default, july)]
    );

    // The partition of a month whose rows sit in DEFAULT: PostgreSQL would refuse it, the
    // rows are moved first.
    partitions::ensure_months_of(&pool, [may])
        .await
        .expect("may");
    // The daily upkeep moves whatever else DEFAULT holds.
    let done = partitions::maintain(&pool, today(), Retention::KeepAll)
        .await
        .expect("maintain");
    assert_eq!(done.drained, 5, "July 2018, for each of the 5 tables");

    let placed = placement(&pool).await;
    assert_eq!(
        placed[..2],
        [
            ("costs_daily_2018_05".to_owned(), may),
            ("costs_daily_2018_07".to_owned(), july)
        ]
    );
    assert_eq!(placed.len(), 3, "no row lost or doubled");
    let (left, total): (i64, Decimal) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM costs_daily_default), (SELECT sum(cost) FROM costs_daily)",
    )
    .fetch_one(&pool)
    .await
    .expect("counts");
    assert_eq!((left, total), (0, "7.25".parse().expect("decimal")));
    for rollup in [
        "costs_monthly_by_service",
        "costs_tenant_monthly_by_service",
    ] {
        let sql =
            format!("SELECT sum(cost) FROM {rollup} WHERE month IN ('2018-05-01', '2018-07-01')");
        let sum: Decimal = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&pool)
            .await
            .expect("rollup");
        assert_eq!(
            sum,
            "6.25".parse().expect("decimal"),
            "{rollup}: the rollups moved too"
        );
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn retention_drops_only_whole_expired_partitions(pool: PgPool) {
    let (tenant, sub, _) = tenant_and_subscription(&pool).await;
    let expired = month(-13);
    let kept = month(-12);
    for date in [day("2019-02-10"), expired, kept, today()] {
        partitions::ensure_months_of(&pool, [date])
            .await
            .expect("ensure");
        cost(&pool, (tenant, sub), date, "1").await;
    }
    // A row of an expired month that waited in DEFAULT goes too, once in its partition.
    cost(&pool, (tenant, sub), day("2018-12-24"), "1").await;

    let mut tx = db::begin(&pool, Scope::Operator).await.expect("tx");
    let refused = partitions::drop_expired(&mut tx, 11)
        .await
        .expect_err("less than a year");
    assert!(
        refused.to_string().contains("at least 12 months"),
        "{refused}"
    );
    drop(tx);
    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
    let refused = partitions::drop_expired(&mut tx, 12)
        .await
        .expect_err("a tenant's transaction");
    assert!(refused.to_string().contains("operator"), "{refused}");
    drop(tx);

    let done = partitions::maintain(&pool, today(), Retention::Months(12))
        .await
        .expect("maintain");
    for table in PARTITIONED {
        for gone in [day("2018-12-01"), day("2019-02-01"), expired] {
            assert!(
                done.dropped.contains(&partition(table, gone)),
                "{} in {:?}",
                partition(table, gone),
                done.dropped
            );
        }
    }
    assert_eq!(done.dropped.len(), 3 * 5, "{:?}", done.dropped);
    let dates: Vec<NaiveDate> = placement(&pool).await.into_iter().map(|(_, d)| d).collect();
    assert_eq!(dates, [kept, today()], "the kept months keep their rows");
    for table in PARTITIONED {
        let parts = partitions_of(&pool, table).await;
        assert!(parts.contains(&partition(table, kept)), "{parts:?}");
        assert!(parts.contains(&format!("{table}_default")), "{parts:?}");
    }
    for rollup in [
        "costs_monthly_by_service",
        "costs_tenant_monthly_by_service",
        "costs_all_tenants_monthly_by_service",
    ] {
        let sql = format!("SELECT month FROM {rollup} ORDER BY month");
        let months: Vec<NaiveDate> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .expect("rollup months");
        assert_eq!(
            months,
            [kept, month(0)],
            "{rollup}: the rollups of dropped months went with them"
        );
    }
    for rollup in [
        "costs_tenant_daily_by_service",
        "costs_tenant_daily_totals",
        "costs_all_tenants_daily_by_service",
    ] {
        let sql = format!("SELECT DISTINCT date FROM {rollup} ORDER BY date");
        let days: Vec<NaiveDate> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_all(&pool)
            .await
            .expect("rollup days");
        assert_eq!(
            days,
            [kept, today()],
            "{rollup}: the days of the dropped months were deleted"
        );
    }
    rollups::assert_tenant_rollups_exact(&pool).await;
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_tenant_cannot_read_or_write_another_tenants_costs_through_the_parents(pool: PgPool) {
    let (tenant_a, sub_a, _) = tenant_and_subscription(&pool).await;
    let (tenant_b, sub_b, _) = tenant_and_subscription(&pool).await;
    for (tenant, sub, amount) in [(tenant_a, sub_a, "1"), (tenant_b, sub_b, "20")] {
        cost(&pool, (tenant, sub), today(), amount).await;
        cost(&pool, (tenant, sub), day("2019-01-01"), amount).await;
    }

    let mut tx = db::begin(&pool, Scope::Tenant(tenant_a)).await.expect("tx");
    for table in PARTITIONED.into_iter().chain(SUMMARY_ROLLUPS) {
        if table.starts_with("costs_all_tenants_") {
            let sql = format!("SELECT count(*) FROM {table}");
            let all: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&mut *tx)
                .await
                .expect(table);
            assert_eq!(
                all, 0,
                "{table}: sums over every tenant, none visible to a tenant"
            );
            continue;
        }
        let sql = format!("SELECT count(*) FILTER (WHERE tenant_id <> $1), count(*) FROM {table}");
        let (foreign, all): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(tenant_a)
            .fetch_one(&mut *tx)
            .await
            .expect(table);
        assert_eq!(foreign, 0, "{table}: none of B's rows through the parent");
        if table != "resource_costs" {
            assert!(all > 0, "{table}: A's own rows are visible");
        }
    }
    let total: Decimal = sqlx::query_scalar("SELECT sum(cost) FROM costs_daily")
        .fetch_one(&mut *tx)
        .await
        .expect("sum");
    assert_eq!(total, Decimal::from(2));
    let written = sqlx::query(
        "INSERT INTO costs_daily (tenant_id, subscription_db_id, date) VALUES ($1, $2, current_date)",
    )
    .bind(tenant_b)
    .bind(sub_b)
    .execute(&mut *tx)
    .await
    .expect_err("a row of B");
    assert!(
        written.to_string().contains("row-level security"),
        "{written}"
    );
    drop(tx);

    // A partition is reached only through its parent: the application has no grant on it.
    let this_month = partition("costs_daily", month(0));
    for table in [this_month.as_str(), "costs_daily_default"] {
        let mut tx = db::begin(&pool, Scope::Operator).await.expect("tx");
        let sql = format!("SELECT count(*) FROM {table}");
        let err = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *tx)
            .await
            .expect_err(table);
        assert!(err.to_string().contains("permission denied"), "{err}");
    }
    // Nor may it write the rollups itself, or manage partitions as a tenant.
    let mut tx = db::begin(&pool, Scope::Tenant(tenant_a)).await.expect("tx");
    let err = sqlx::query("DELETE FROM costs_daily_totals")
        .execute(&mut *tx)
        .await
        .expect_err("rollups are read-only");
    assert!(err.to_string().contains("permission denied"), "{err}");
    drop(tx);
    for rollup in [
        "costs_tenant_daily_by_service",
        "costs_tenant_daily_totals",
        "costs_tenant_monthly_by_service",
    ] {
        let mut tx = db::begin(&pool, Scope::Tenant(tenant_a)).await.expect("tx");
        let sql = format!("UPDATE {rollup} SET cost = 0");
        let err = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .expect_err("tenant rollups are read-only");
        assert!(err.to_string().contains("permission denied"), "{err}");
    }
    let mut tx = db::begin(&pool, Scope::Tenant(tenant_a)).await.expect("tx");
    let err = partitions::ensure(&mut tx, month(7), month(7))
        .await
        .expect_err("an operator's work");
    assert!(err.to_string().contains("operator"), "{err}");
}

/// A queue that takes every message and keeps none.
struct NoQueue;

impl Enqueue for NoQueue {
    fn send(&self, _text: String) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn send_after(
        &self,
        _text: String,
        _delay: std::time::Duration,
    ) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_daily_timer_drains_default_and_drops_the_months_past_the_retention(pool: PgPool) {
    let (tenant, sub, _) = tenant_and_subscription(&pool).await;
    cost(&pool, (tenant, sub), day("2019-06-30"), "1").await;
    cost(&pool, (tenant, sub), today(), "2").await;
    let state = AppState::new(Database::from_pool(pool.clone()), Authn::Disabled)
        .with_queue(Arc::new(NoQueue))
        .with_cost_retention(Retention::Months(24));
    let router = azcops::server::handler_router(state);
    let payload = json!({
        "Data": {"timer": {"Schedule": {"AdjustForDST": true}, "ScheduleStatus": null, "IsPastDue": false}},
        "Metadata": {"sys": {"MethodName": "ingest-daily", "UtcNow": Utc::now().to_rfc3339(),
            "RandGuid": Uuid::new_v4().to_string()}}
    });
    let request = crate::support::request(Method::POST, "/ingest-daily", None, Some(payload));
    let reply = crate::support::send(&router, request).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let line = reply.body["Logs"][0].as_str().expect("a log line");
    assert!(
        line.contains("cost partitions: 0 created ahead, 5 for rows in DEFAULT, 5 dropped"),
        "{line}"
    );
    let dates: Vec<NaiveDate> = placement(&pool).await.into_iter().map(|(_, d)| d).collect();
    assert_eq!(dates, [today()], "June 2019 went, whole, past 24 months");
    assert!(
        !partitions_of(&pool, "costs_daily")
            .await
            .contains(&"costs_daily_2019_06".to_owned())
    );
}
