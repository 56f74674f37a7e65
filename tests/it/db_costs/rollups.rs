//! The rollups of `costs_daily`: kept by its statement triggers in the writing transaction,
//! nothing written when nothing changed, and a summary read from them equal, to the last
//! digit, to one summed from the daily rows, without reading a daily row.

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::costs::{self, CostFilter, NewCostRow};
use azcops::db::partitions;
use azcops::db::{self, Scope};

use super::{day, month, tenant_and_subscription, today};

fn row(date: NaiveDate, group: &str, service: &str, amount: &str) -> NewCostRow {
    NewCostRow {
        date,
        resource_group: group.into(),
        service_name: service.into(),
        meter_category: service.into(),
        cost: amount.parse().expect("decimal"),
        amortized_cost: amount.parse().expect("decimal"),
        currency: "EUR".into(),
    }
}

/// Upserts `rows` and deletes what the window `from..=to` no longer holds, as an ingestion of
/// the tenant does. Returns rows written and deleted.
async fn deliver(
    pool: &PgPool,
    (tenant, sub): (Uuid, Uuid),
    (from, to): (NaiveDate, NaiveDate),
    rows: &[NewCostRow],
) -> (u64, u64) {
    let mut tx = db::begin(pool, Scope::Tenant(tenant)).await.expect("tx");
    let written = costs::upsert(&mut tx, tenant, sub, rows)
        .await
        .expect("upsert");
    let deleted = costs::delete_absent(&mut tx, sub, from, to, rows)
        .await
        .expect("delete absent");
    tx.commit().await.expect("commit");
    (written, deleted)
}

/// A rollup row: (table, day or month, service, sum).
type Rollup = (String, NaiveDate, String, Decimal);

/// Every rollup row, and its xmin (which transaction wrote it last).
async fn rollups(pool: &PgPool) -> Vec<(Rollup, String)> {
    rollup_rows(
        pool,
        "SELECT 'by_service', date, service_name, cost, xmin::text FROM costs_daily_by_service
         UNION ALL SELECT 'totals', date, '', cost, xmin::text FROM costs_daily_totals
         UNION ALL SELECT 'monthly', month, service_name, cost, xmin::text FROM costs_monthly_by_service
         ORDER BY 1, 2, 3",
    )
    .await
}

/// Every tenant rollup row, named as [`rollups`] names its per-subscription twin.
async fn tenant_rollups(pool: &PgPool) -> Vec<(Rollup, String)> {
    rollup_rows(
        pool,
        "SELECT 'by_service', date, service_name, cost, xmin::text FROM costs_tenant_daily_by_service
         UNION ALL SELECT 'totals', date, '', cost, xmin::text FROM costs_tenant_daily_totals
         UNION ALL SELECT 'monthly', month, service_name, cost, xmin::text FROM costs_tenant_monthly_by_service
         ORDER BY 1, 2, 3",
    )
    .await
}

async fn rollup_rows(pool: &PgPool, sql: &'static str) -> Vec<(Rollup, String)> {
    let rows: Vec<(String, NaiveDate, String, Decimal, String)> =
        sqlx::query_as(sql).fetch_all(pool).await.expect("rollups");
    rows.into_iter()
        .map(|(t, d, s, c, xmin)| ((t, d, s, c), xmin))
        .collect()
}

/// The tenant rollups and the all-tenant rollups differ in no row from sums of the daily rows
/// (cost, amortized cost and row count, every group present in both), read as the owner
/// (every tenant).
pub(super) async fn assert_tenant_rollups_exact(pool: &PgPool) {
    let differing: Vec<String> = sqlx::query_scalar(
        "SELECT 'day ' || concat_ws(' ', tenant_id, date, service_name, currency, x.c, r.cost, x.n, r.row_count)
         FROM (SELECT tenant_id, date, service_name, currency, sum(cost) AS c, sum(amortized_cost) AS a,
                      count(*)::integer AS n
               FROM costs_daily GROUP BY 1, 2, 3, 4) x
         FULL JOIN costs_tenant_daily_by_service r USING (tenant_id, date, service_name, currency)
         WHERE (x.c, x.a, x.n) IS DISTINCT FROM (r.cost, r.amortized_cost, r.row_count)
         UNION ALL
         SELECT 'total ' || concat_ws(' ', tenant_id, date, currency, x.c, r.cost)
         FROM (SELECT tenant_id, date, currency, sum(cost) AS c, sum(amortized_cost) AS a
               FROM costs_daily GROUP BY 1, 2, 3) x
         FULL JOIN costs_tenant_daily_totals r USING (tenant_id, date, currency)
         WHERE (x.c, x.a) IS DISTINCT FROM (r.cost, r.amortized_cost)
         UNION ALL
         SELECT 'month ' || concat_ws(' ', tenant_id, month, service_name, currency, x.c, r.cost, x.n, r.row_count)
         FROM (SELECT tenant_id, date_trunc('month', date)::date AS month, service_name, currency,
                      sum(cost) AS c, sum(amortized_cost) AS a, count(*)::integer AS n
               FROM costs_daily GROUP BY 1, 2, 3, 4) x
         FULL JOIN costs_tenant_monthly_by_service r USING (tenant_id, month, service_name, currency)
         WHERE (x.c, x.a, x.n) IS DISTINCT FROM (r.cost, r.amortized_cost, r.row_count)",
    )
    .fetch_all(pool)
    .await
    .expect("tenant rollups against the daily rows");
    assert!(differing.is_empty(), "{differing:#?}");
    // The all-tenant rollups, applied at each commit, and nothing left queued.
    let differing: Vec<String> = sqlx::query_scalar(
        "SELECT 'all day ' || concat_ws(' ', date, service_name, currency, x.c, r.cost, x.n, r.row_count)
         FROM (SELECT date, service_name, currency, sum(cost) AS c, sum(amortized_cost) AS a,
                      count(*) AS n
               FROM costs_daily GROUP BY 1, 2, 3) x
         FULL JOIN costs_all_tenants_daily_by_service r USING (date, service_name, currency)
         WHERE (x.c, x.a, x.n) IS DISTINCT FROM (r.cost, r.amortized_cost, r.row_count)
         UNION ALL
         SELECT 'all month ' || concat_ws(' ', month, service_name, currency, x.c, r.cost, x.n, r.row_count)
         FROM (SELECT date_trunc('month', date)::date AS month, service_name, currency,
                      sum(cost) AS c, sum(amortized_cost) AS a, count(*) AS n
               FROM costs_daily GROUP BY 1, 2, 3) x
         FULL JOIN costs_all_tenants_monthly_by_service r USING (month, service_name, currency)
         WHERE (x.c, x.a, x.n) IS DISTINCT FROM (r.cost, r.amortized_cost, r.row_count)
         UNION ALL
         SELECT 'queued ' || count(*) FROM costs_all_tenants_pending HAVING count(*) > 0",
    )
    .fetch_all(pool)
    .await
    .expect("all-tenant rollups against the daily rows");
    assert!(differing.is_empty(), "{differing:#?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM costs_tenant_daily_by_service")
        .fetch_one(pool)
        .await
        .expect("count");
    let expected: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT DISTINCT tenant_id, date, service_name, currency FROM costs_daily) k",
    )
    .fetch_one(pool)
    .await
    .expect("count");
    assert_eq!(rows, expected);
}

/// With one subscription, the tenant rollups hold the subscription's sums; and they add up to
/// the daily rows.
async fn assert_tenant_rollups_mirror(pool: &PgPool) {
    let (subscription, tenant) = (rollups(pool).await, tenant_rollups(pool).await);
    assert_eq!(sums(&tenant), sums(&subscription));
    assert_tenant_rollups_exact(pool).await;
}

/// The rollup rows without their xmin, amounts as text without trailing zeros.
fn sums(rows: &[(Rollup, String)]) -> Vec<(&str, NaiveDate, &str, String)> {
    rows.iter()
        .map(|((t, d, s, c), _)| (t.as_str(), *d, s.as_str(), c.normalize().to_string()))
        .collect()
}

/// The rows of `now` that `before` holds, with the same xmin: not rewritten since.
fn unchanged<'a>(
    before: &[(Rollup, String)],
    now: &'a [(Rollup, String)],
) -> Vec<(&'a str, NaiveDate, &'a str)> {
    now.iter()
        .filter(|a| before.contains(a))
        .map(|((t, d, s, _), _)| (t.as_str(), *d, s.as_str()))
        .collect()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_rollups_follow_every_write_and_a_second_delivery_writes_nothing(pool: PgPool) {
    let (tenant, sub, _) = tenant_and_subscription(&pool).await;
    let (jan, feb) = (day("2026-01-31"), day("2026-02-01"));
    partitions::ensure_months_of(&pool, [jan, feb])
        .await
        .expect("partitions");
    let window = (jan, feb);
    let first = [
        row(jan, "rg-a", "Storage", "1.25"),
        row(jan, "rg-b", "Storage", "2"),
        row(jan, "rg-a", "Compute", "10"),
        row(feb, "rg-a", "Storage", "3"),
    ];
    assert_eq!(deliver(&pool, (tenant, sub), window, &first).await, (4, 0));
    let before = rollups(&pool).await;
    let tenant_before = tenant_rollups(&pool).await;
    assert_tenant_rollups_mirror(&pool).await;
    assert_eq!(
        sums(&before),
        [
            ("by_service", jan, "Compute", "10".to_owned()),
            ("by_service", jan, "Storage", "3.25".to_owned()),
            ("by_service", feb, "Storage", "3".to_owned()),
            ("monthly", day("2026-01-01"), "Compute", "10".to_owned()),
            ("monthly", day("2026-01-01"), "Storage", "3.25".to_owned()),
            ("monthly", feb, "Storage", "3".to_owned()),
            ("totals", jan, "", "13.25".to_owned()),
            ("totals", feb, "", "3".to_owned()),
        ]
    );

    // The same answer delivered again: no cost row, hence no rollup row, is written.
    assert_eq!(deliver(&pool, (tenant, sub), window, &first).await, (0, 0));
    assert_eq!(rollups(&pool).await, before, "not a row rewritten");
    assert_eq!(
        tenant_rollups(&pool).await,
        tenant_before,
        "not a tenant row rewritten"
    );

    // January's compute restated: the day and month are recomputed, and the storage rows,
    // whose sums did not change, are not rewritten; nor is anything of February.
    let restated = [
        row(jan, "rg-a", "Storage", "1.25"),
        row(jan, "rg-b", "Storage", "2"),
        row(jan, "rg-a", "Compute", "12"),
        row(feb, "rg-a", "Storage", "3"),
    ];
    assert_eq!(
        deliver(&pool, (tenant, sub), window, &restated).await,
        (1, 0)
    );
    let after = rollups(&pool).await;
    let tenant_after = tenant_rollups(&pool).await;
    assert_tenant_rollups_mirror(&pool).await;
    assert_eq!(
        unchanged(&tenant_before, &tenant_after),
        unchanged(&before, &after),
        "the tenant rows rewritten are those of the subscription"
    );
    assert_eq!(
        unchanged(&before, &after),
        [
            ("by_service", jan, "Storage"),
            ("by_service", feb, "Storage"),
            ("monthly", day("2026-01-01"), "Storage"),
            ("monthly", feb, "Storage"),
            ("totals", feb, ""),
        ]
    );

    // A group gone from January: its sums follow.
    let fewer = [
        row(jan, "rg-a", "Storage", "1.25"),
        row(jan, "rg-a", "Compute", "12"),
        row(feb, "rg-a", "Storage", "3"),
    ];
    assert_eq!(deliver(&pool, (tenant, sub), window, &fewer).await, (0, 1));
    assert_tenant_rollups_mirror(&pool).await;
    assert_eq!(
        sums(&rollups(&pool).await),
        [
            ("by_service", jan, "Compute", "12".to_owned()),
            ("by_service", jan, "Storage", "1.25".to_owned()),
            ("by_service", feb, "Storage", "3".to_owned()),
            ("monthly", day("2026-01-01"), "Compute", "12".to_owned()),
            ("monthly", day("2026-01-01"), "Storage", "1.25".to_owned()),
            ("monthly", feb, "Storage", "3".to_owned()),
            ("totals", jan, "", "13.25".to_owned()),
            ("totals", feb, "", "3".to_owned()),
        ]
    );

    // February gone from the answer: its rollups go.
    assert_eq!(deliver(&pool, (tenant, sub), (feb, feb), &[]).await, (0, 1));
    let left = rollups(&pool).await;
    assert!(left.iter().all(|((_, d, _, _), _)| *d < feb), "{left:?}");
    assert_eq!(left.len(), 5);
    assert_tenant_rollups_mirror(&pool).await;
}

/// Two tenants, two subscriptions each (one billing in two currencies), 401 days of rows with
/// gaps, a service with rows on the first three days of a month only and one whose rows cost
/// nothing, some rows restated and deleted afterwards, written as the owner. Returns the first tenant,
/// its first subscription's row id and Azure id.
async fn estate(pool: &PgPool) -> (Uuid, Uuid, Uuid) {
    let (tenant_a, sub_a, azure_a) = tenant_and_subscription(pool).await;
    let (tenant_b, _, _) = tenant_and_subscription(pool).await;
    sqlx::query(
        "INSERT INTO subscriptions (tenant_id, subscription_id, display_name)
         VALUES ($1, gen_random_uuid(), 'usd'), ($2, gen_random_uuid(), 'usd')",
    )
    .bind(tenant_a)
    .bind(tenant_b)
    .execute(pool)
    .await
    .expect("subscriptions");
    let from = today().checked_sub_days(Days::new(400)).expect("date");
    partitions::ensure_months_of(pool, from.iter_days().take(401))
        .await
        .expect("partitions");
    sqlx::query(
        "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name,
                                  meter_category, cost, amortized_cost, currency)
         SELECT s.tenant_id, s.id, d::date, 'rg-' || g % 3, 'svc-' || g % 4, 'm-' || g,
                (abs(hashtext(s.id::text || d::text || g)) % 100000000) / 1000000.0,
                (abs(hashtext(d::text || g || s.id::text)) % 100000000) / 1000000.0,
                CASE WHEN s.display_name = 'usd' AND g % 2 = 0 THEN 'USD' ELSE 'EUR' END
         FROM subscriptions s, generate_series($1::date, current_date, '1 day') d, generate_series(1, 8) g
         WHERE abs(hashtext(s.id::text || d::text || g)) % 10 <> 0
         UNION ALL -- a service of the first days of each month only, one that costs nothing
         SELECT s.tenant_id, s.id, d::date, '', CASE WHEN extract(day FROM d) <= 3 THEN 'early' ELSE 'free' END,
                '', CASE WHEN extract(day FROM d) <= 3 THEN 2.5 ELSE 0 END, 0, 'EUR'
         FROM subscriptions s, generate_series($1::date, current_date, '1 day') d
         WHERE extract(day FROM d) <= 3 OR extract(day FROM d) % 10 = 7",
    )
    .bind(from)
    .execute(pool)
    .await
    .expect("daily costs");
    for restate in [
        "UPDATE costs_daily SET cost = cost + 1.5 WHERE extract(day FROM date) IN (1, 15, 28)",
        "DELETE FROM costs_daily WHERE extract(day FROM date) IN (2, 31) AND service_name = 'svc-1'",
    ] {
        sqlx::query(restate).execute(pool).await.expect(restate);
    }
    (tenant_a, sub_a, azure_a)
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_summary_from_the_rollups_equals_the_summary_from_the_daily_rows(pool: PgPool) {
    let (tenant_a, sub_a, azure_a) = estate(&pool).await;
    let t = today();
    let days_before = |n: u64| t.checked_sub_days(Days::new(n)).expect("date");
    let plus = |d: NaiveDate, n: u64| d.checked_add_days(Days::new(n)).expect("date");
    // A month without its first three days: read as the month less them.
    let late_month = (plus(month(-3), 3), month(-2).pred_opt().expect("date"));
    // Ending today (whole months less days, the future free) and in the past (days read,
    // or a month less its days), with whole months or none, over one month, two or thirteen.
    let windows = [
        (days_before(365), t),
        (days_before(364), t),
        (days_before(29), t),
        (t, t),
        (month(0), t),
        (month(-3), month(-1).pred_opt().expect("date")),
        (plus(month(-5), 14), plus(month(-2), 9)),
        (plus(month(-4), 20), plus(month(-3), 5)),
        late_month,
        (month(-12), days_before(40)),
    ];
    let filters = [
        (None, None),
        (Some(azure_a), None),
        (Some(sub_a), Some("svc-1")),
        (None, Some("svc-2")),
    ];
    let (mut compared, mut with_rows) = (0, 0);
    assert_tenant_rollups_exact(&pool).await;
    // Without a subscription filter from the tenant rollups (a tenant, the operator over one
    // tenant or every tenant), with one from the per-subscription rollups.
    for (scope, tenant) in [
        (Scope::Tenant(tenant_a), Some(tenant_a)),
        (Scope::Operator, Some(tenant_a)),
        (Scope::Operator, None),
    ] {
        let mut tx = db::begin(&pool, scope).await.expect("tx");
        for (from, to) in windows {
            for (subscription, service) in filters {
                let filter = CostFilter {
                    tenant_id: tenant,
                    subscription,
                    from: Some(from),
                    to: Some(to),
                    service_name: service.map(str::to_owned),
                    resource_group: None,
                };
                let rolled = costs::summary(&mut tx, &filter).await.expect("rollups");
                let summed = costs::summary_from_rows(&mut tx, &filter)
                    .await
                    .expect("rows");
                assert_eq!(
                    rolled, summed,
                    "{scope:?} {from}..{to} {subscription:?} {service:?}"
                );
                compared += 1;
                with_rows += usize::from(!rolled.by_service.is_empty());
            }
        }
        let everything = CostFilter {
            tenant_id: tenant,
            from: Some(days_before(365)),
            to: Some(t),
            ..CostFilter::default()
        };
        let year = costs::summary(&mut tx, &everything).await.expect("summary");
        assert_eq!(year.totals.len(), 2, "EUR and USD: {:?}", year.totals);
        let late = CostFilter {
            from: Some(late_month.0),
            to: Some(late_month.1),
            ..everything
        };
        let services = costs::summary(&mut tx, &late)
            .await
            .expect("summary")
            .by_service;
        let names: Vec<&str> = services.iter().map(|s| s.key.as_str()).collect();
        assert!(!names.contains(&"early"), "no row in the window: {names:?}");
        let free = services.iter().find(|s| s.key == "free");
        assert!(
            free.is_some_and(|s| s.cost.is_zero()),
            "listed though it cost nothing: {names:?}"
        );
    }
    assert_eq!(compared, 3 * 10 * 4);
    assert!(
        with_rows > compared - 8,
        "{with_rows} of {compared} windows have costs"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_summary_reads_no_daily_row_unless_filtered_by_resource_group(pool: PgPool) {
    let (tenant_a, _, _) = estate(&pool).await;
    // Were a daily row read, this would fail with "permission denied".
    sqlx::query("REVOKE SELECT ON costs_daily FROM azcops_app")
        .execute(&pool)
        .await
        .expect("revoke");
    let year = CostFilter {
        tenant_id: Some(tenant_a),
        from: today().checked_sub_days(Days::new(364)),
        to: Some(today()),
        ..CostFilter::default()
    };
    for scope in [Scope::Tenant(tenant_a), Scope::Operator] {
        let mut tx = db::begin(&pool, scope).await.expect("tx");
        let filter = CostFilter {
            tenant_id: (scope != Scope::Operator).then_some(tenant_a),
            ..year.clone()
        };
        let summary = costs::summary(&mut tx, &filter)
            .await
            .expect("from the rollups");
        assert!(
            summary.daily.len() > 300 && summary.totals.len() == 2,
            "{summary:?}"
        );
    }
    let mut tx = db::begin(&pool, Scope::Tenant(tenant_a)).await.expect("tx");
    let by_group = CostFilter {
        resource_group: Some("rg-1".into()),
        ..year
    };
    let err = costs::summary(&mut tx, &by_group)
        .await
        .expect_err("a resource group filter reads the daily rows");
    assert!(err.to_string().contains("permission denied"), "{err}");
}

/// Every summary the tenant `scope` may ask for over `windows`, compared with the one summed
/// from the daily rows (with and without a service, for the tenant and for one subscription).
async fn assert_summaries_equal(
    pool: &PgPool,
    scope: Scope,
    tenant: Option<Uuid>,
    subscription: Uuid,
    windows: &[(NaiveDate, NaiveDate)],
) -> usize {
    let mut tx = db::begin(pool, scope).await.expect("tx");
    let mut with_rows = 0;
    for (from, to) in windows.iter().copied() {
        for (sub, service) in [
            (None, None),
            (None, Some("svc-2")),
            (Some(subscription), None),
        ] {
            let filter = CostFilter {
                tenant_id: tenant,
                subscription: sub,
                from: Some(from),
                to: Some(to),
                service_name: service.map(str::to_owned),
                resource_group: None,
            };
            let rolled = costs::summary(&mut tx, &filter).await.expect("rollups");
            let summed = costs::summary_from_rows(&mut tx, &filter)
                .await
                .expect("rows");
            assert_eq!(rolled, summed, "{scope:?} {from}..{to} {sub:?} {service:?}");
            with_rows += usize::from(!rolled.by_service.is_empty());
        }
    }
    with_rows
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_tenant_rollups_stay_exact_through_reingestion_retention_and_isolation(pool: PgPool) {
    let (tenant_a, sub_a, _) = estate(&pool).await;
    let (tenant_b, sub_b): (Uuid, Uuid) = sqlx::query_as(
        "SELECT tenant_id, id FROM subscriptions WHERE tenant_id <> $1 ORDER BY display_name LIMIT 1",
    )
    .bind(tenant_a)
    .fetch_one(&pool)
    .await
    .expect("tenant b");
    let t = today();
    let days_before = |n: u64| t.checked_sub_days(Days::new(n)).expect("date");
    let windows = [
        (days_before(29), t),
        (days_before(365), t),
        (month(-3), month(-1).pred_opt().expect("date")),
        (days_before(60), days_before(45)),
    ];

    // Re-ingestion of the last 40 days of a subscription of each tenant: rows restated, new
    // groups (a service, a currency), and the rest of the window deleted.
    let (from, to) = (days_before(40), days_before(2));
    for (n, (tenant, sub)) in [(tenant_a, sub_a), (tenant_b, sub_b)]
        .into_iter()
        .enumerate()
    {
        let mut rows: Vec<NewCostRow> = from
            .iter_days()
            .take_while(|d| *d <= to)
            .flat_map(|d| {
                [
                    row(d, "rg-0", "svc-2", "4.5"),
                    row(d, "rg-1", "new-service", "0.000001"),
                ]
            })
            .collect();
        for r in rows.iter_mut().skip(n).step_by(7) {
            r.currency = "USD".into();
        }
        let (written, deleted) = deliver(&pool, (tenant, sub), (from, to), &rows).await;
        assert!(written > 0 && deleted > 0, "{written} {deleted}");
        assert_tenant_rollups_exact(&pool).await;
    }
    // Re-delivered as is: nothing written anywhere.
    let before = tenant_rollups(&pool).await;
    let rows: Vec<NewCostRow> = from
        .iter_days()
        .take_while(|d| *d <= to)
        .flat_map(|d| {
            [
                row(d, "rg-0", "svc-2", "4.5"),
                row(d, "rg-1", "new-service", "0.000001"),
            ]
        })
        .enumerate()
        .map(|(i, mut r)| {
            if i % 7 == 0 {
                r.currency = "USD".into();
            }
            r
        })
        .collect();
    assert_eq!(
        deliver(&pool, (tenant_a, sub_a), (from, to), &rows).await,
        (0, 0)
    );
    assert_eq!(
        tenant_rollups(&pool).await,
        before,
        "not a tenant row rewritten"
    );

    // Each tenant sees its own tenant rollups only, and its summaries add up.
    for (tenant, sub) in [(tenant_a, sub_a), (tenant_b, sub_b)] {
        let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
        for rollup in [
            "costs_tenant_daily_by_service",
            "costs_tenant_daily_totals",
            "costs_tenant_monthly_by_service",
        ] {
            let sql =
                format!("SELECT count(*) FILTER (WHERE tenant_id <> $1), count(*) FROM {rollup}");
            let (foreign, all): (i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(tenant)
                .fetch_one(&mut *tx)
                .await
                .expect(rollup);
            assert_eq!(foreign, 0, "{rollup}: no other tenant's row");
            assert!(all > 0, "{rollup}: its own rows");
        }
        drop(tx);
        let with_rows =
            assert_summaries_equal(&pool, Scope::Tenant(tenant), None, sub, &windows).await;
        assert!(with_rows >= windows.len() * 2, "{with_rows}");
    }
    assert_summaries_equal(&pool, Scope::Operator, None, sub_b, &windows).await;

    // A subscription deleted: its rows go (by cascade), and with them its share of the tenant's.
    sqlx::query("DELETE FROM subscriptions WHERE id = $1")
        .bind(sub_b)
        .execute(&pool)
        .await
        .expect("delete subscription");
    assert_tenant_rollups_exact(&pool).await;

    // Retention: the expired months go whole from every partitioned table, and their rows from
    // the tenant rollups.
    let done = partitions::maintain(&pool, t, partitions::Retention::Months(12))
        .await
        .expect("retention");
    assert!(
        done.dropped.contains(&format!(
            "costs_daily_totals_{}",
            month(-13).format("%Y_%m")
        )),
        "{:?}",
        done.dropped
    );
    assert_tenant_rollups_exact(&pool).await;
    assert_summaries_equal(
        &pool,
        Scope::Tenant(tenant_a),
        Some(tenant_a),
        sub_a,
        &windows,
    )
    .await;
    assert_summaries_equal(&pool, Scope::Operator, None, sub_a, &windows).await;
}

/// The ten days ending today, their months' partitions made.
async fn last_ten_days(pool: &PgPool) -> Vec<NaiveDate> {
    let days: Vec<NaiveDate> = today()
        .checked_sub_days(Days::new(9))
        .expect("date")
        .iter_days()
        .take(10)
        .collect();
    partitions::ensure_months_of(pool, days.iter().copied())
        .await
        .expect("partitions");
    days
}

/// One row of `amount` for Storage and one for Compute on each of `days`.
fn two_services(days: &[NaiveDate], amount: &str) -> Vec<NewCostRow> {
    days.iter()
        .flat_map(|d| {
            [
                row(*d, "rg", "Storage", amount),
                row(*d, "rg", "Compute", amount),
            ]
        })
        .collect()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn concurrent_ingestions_of_one_tenants_subscriptions_keep_its_rollups_exact(pool: PgPool) {
    let (tenant, sub_1, _) = tenant_and_subscription(&pool).await;
    let sub_2: Uuid = sqlx::query_scalar(
        "INSERT INTO subscriptions (tenant_id, subscription_id, display_name)
         VALUES ($1, gen_random_uuid(), 's2') RETURNING id",
    )
    .bind(tenant)
    .fetch_one(&pool)
    .await
    .expect("second subscription");
    let days = last_ten_days(&pool).await;
    let rows = |amount: &str| two_services(&days, amount);
    // The first holds its transaction open after writing; the second writes the same tenant
    // days meanwhile (it waits for the first's tenant lock), then both commit.
    let mut first = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
    costs::upsert(&mut first, tenant, sub_1, &rows("1.5"))
        .await
        .expect("upsert");
    let second = {
        let pool = pool.clone();
        let rows = rows("2.25");
        tokio::spawn(async move {
            let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
            costs::upsert(&mut tx, tenant, sub_2, &rows)
                .await
                .expect("upsert");
            tx.commit().await.expect("commit");
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "the second waits for the tenant's lock"
    );
    costs::upsert(&mut first, tenant, sub_1, &rows("1.75"))
        .await
        .expect("restated in the same transaction");
    first.commit().await.expect("commit");
    second.await.expect("second");
    assert_tenant_rollups_exact(&pool).await;
    let total: Decimal =
        sqlx::query_scalar("SELECT sum(cost) FROM costs_tenant_monthly_by_service")
            .fetch_one(&pool)
            .await
            .expect("total");
    assert_eq!(
        total,
        Decimal::from(80),
        "10 days x 2 services x (1.75 + 2.25)"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn without_a_subscription_filter_the_summary_reads_only_the_tenant_rollups(pool: PgPool) {
    let (tenant_a, sub_a, _) = estate(&pool).await;
    // Were a per-subscription rollup row read, this would fail with "permission denied".
    sqlx::query(
        "REVOKE SELECT ON costs_daily, costs_daily_by_service, costs_daily_totals,
                          costs_monthly_by_service FROM azcops_app",
    )
    .execute(&pool)
    .await
    .expect("revoke");
    let t = today();
    let windows = [
        (t.checked_sub_days(Days::new(364)).expect("date"), t),
        (t.checked_sub_days(Days::new(29)).expect("date"), t),
        (
            month(-2),
            month(-2).checked_add_days(Days::new(2)).expect("date"),
        ),
    ];
    for (scope, tenant) in [
        (Scope::Tenant(tenant_a), None),
        (Scope::Tenant(tenant_a), Some(tenant_a)),
        (Scope::Operator, Some(tenant_a)),
        (Scope::Operator, None),
    ] {
        let mut tx = db::begin(&pool, scope).await.expect("tx");
        for (from, to) in windows {
            for service in [None, Some("svc-2")] {
                let filter = CostFilter {
                    tenant_id: tenant,
                    from: Some(from),
                    to: Some(to),
                    service_name: service.map(str::to_owned),
                    ..CostFilter::default()
                };
                let summary = costs::summary(&mut tx, &filter)
                    .await
                    .expect("from the tenant rollups");
                assert!(!summary.daily.is_empty() && !summary.by_service.is_empty());
            }
        }
    }
    let mut tx = db::begin(&pool, Scope::Tenant(tenant_a)).await.expect("tx");
    let one = CostFilter {
        subscription: Some(sub_a),
        from: Some(windows[1].0),
        to: Some(t),
        ..CostFilter::default()
    };
    let err = costs::summary(&mut tx, &one)
        .await
        .expect_err("a subscription filter reads the per-subscription rollups");
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_operator_over_every_tenant_reads_only_the_all_tenant_rollups(pool: PgPool) {
    let (tenant_a, _, _) = estate(&pool).await;
    assert_tenant_rollups_exact(&pool).await;
    let t = today();
    let windows = [
        (t.checked_sub_days(Days::new(364)).expect("date"), t),
        (t.checked_sub_days(Days::new(29)).expect("date"), t),
        (
            month(-2),
            month(-2).checked_add_days(Days::new(2)).expect("date"),
        ),
    ];
    let filter = |(from, to): (NaiveDate, NaiveDate), service: Option<&str>| CostFilter {
        from: Some(from),
        to: Some(to),
        service_name: service.map(str::to_owned),
        ..CostFilter::default()
    };
    let mut expected = Vec::new();
    let mut tx = db::begin(&pool, Scope::Operator).await.expect("tx");
    for window in windows {
        for service in [None, Some("svc-2")] {
            let summed = costs::summary_from_rows(&mut tx, &filter(window, service))
                .await
                .expect("rows");
            assert!(!summed.daily.is_empty() && !summed.by_service.is_empty());
            expected.push(summed);
        }
    }
    tx.rollback().await.expect("rollback");
    // Were a daily, per-subscription or tenant rollup row read, this would fail with
    // "permission denied".
    sqlx::query(
        "REVOKE SELECT ON costs_daily, costs_daily_by_service, costs_daily_totals,
                          costs_monthly_by_service, costs_tenant_daily_by_service,
                          costs_tenant_daily_totals, costs_tenant_monthly_by_service FROM azcops_app",
    )
    .execute(&pool)
    .await
    .expect("revoke");
    let mut tx = db::begin(&pool, Scope::Operator).await.expect("tx");
    let mut expected = expected.into_iter();
    for window in windows {
        for service in [None, Some("svc-2")] {
            let rolled = costs::summary(&mut tx, &filter(window, service))
                .await
                .expect("from the all-tenant rollups");
            assert_eq!(Some(rolled), expected.next(), "{window:?} {service:?}");
        }
    }
    // They hold sums over every tenant: a tenant's transaction reads none of them.
    let mut tx = db::begin(&pool, Scope::Tenant(tenant_a)).await.expect("tx");
    let seen: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM costs_all_tenants_daily_by_service)
              + (SELECT count(*) FROM costs_all_tenants_monthly_by_service)",
    )
    .fetch_one(&mut *tx)
    .await
    .expect("count");
    assert_eq!(seen, 0, "all-tenant rollup rows visible to a tenant");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn tenants_writing_the_same_days_do_not_wait_for_each_other_and_keep_the_all_tenant_sums_exact(
    pool: PgPool,
) {
    let days = last_ten_days(&pool).await;
    let rows = |amount: &str| two_services(&days, amount);
    let mut tenants = Vec::new();
    for _ in 0..6 {
        tenants.push(tenant_and_subscription(&pool).await);
    }
    // The first tenant's transaction stays open after writing the same days and services as
    // every other tenant: the others' writes and commits do not wait for it (the all-tenant rows
    // are changed at each commit, not by the writing statement).
    let (first_tenant, first_sub, _) = tenants[0];
    let mut first = db::begin(&pool, Scope::Tenant(first_tenant))
        .await
        .expect("tx");
    costs::upsert(&mut first, first_tenant, first_sub, &rows("1.5"))
        .await
        .expect("upsert");
    let others = tenants[1..].iter().map(|(tenant, sub, _)| {
        let (pool, tenant, sub, rows) = (pool.clone(), *tenant, *sub, rows("2.25"));
        tokio::spawn(async move {
            let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
            costs::upsert(&mut tx, tenant, sub, &rows)
                .await
                .expect("upsert");
            costs::upsert(&mut tx, tenant, sub, &rows)
                .await
                .expect("the same rows again");
            tx.commit().await.expect("commit");
        })
    });
    let others: Vec<_> = others.collect();
    let waited = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        for other in others {
            other.await.expect("another tenant");
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "another tenant's commit waited for the open transaction"
    );
    costs::upsert(&mut first, first_tenant, first_sub, &rows("1.75"))
        .await
        .expect("restated in the same transaction");
    first.commit().await.expect("commit");
    assert_tenant_rollups_exact(&pool).await;
    let total: Decimal =
        sqlx::query_scalar("SELECT sum(cost) FROM costs_all_tenants_monthly_by_service")
            .fetch_one(&pool)
            .await
            .expect("total");
    assert_eq!(
        total,
        Decimal::from(20)
            * ("1.75".parse::<Decimal>().expect("decimal")
                + Decimal::from(5) * "2.25".parse::<Decimal>().expect("decimal")),
        "10 days x 2 services x (1.75 + 5 x 2.25)"
    );
}
