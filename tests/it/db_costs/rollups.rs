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
    let rows: Vec<(String, NaiveDate, String, Decimal, String)> = sqlx::query_as(
        "SELECT 'by_service', date, service_name, cost, xmin::text FROM costs_daily_by_service
         UNION ALL SELECT 'totals', date, '', cost, xmin::text FROM costs_daily_totals
         UNION ALL SELECT 'monthly', month, service_name, cost, xmin::text FROM costs_monthly_by_service
         ORDER BY 1, 2, 3",
    )
    .fetch_all(pool)
    .await
    .expect("rollups");
    rows.into_iter()
        .map(|(t, d, s, c, xmin)| ((t, d, s, c), xmin))
        .collect()
}

/// The rollup rows without their xmin, amounts as text without trailing zeros.
fn sums(rows: &[(Rollup, String)]) -> Vec<(&str, NaiveDate, &str, String)> {
    rows.iter()
        .map(|((t, d, s, c), _)| (t.as_str(), *d, s.as_str(), c.normalize().to_string()))
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
    let unchanged: Vec<_> = after
        .iter()
        .filter(|a| before.contains(a))
        .map(|((t, d, s, _), _)| (t.as_str(), *d, s.as_str()))
        .collect();
    assert_eq!(
        unchanged,
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
    for (scope, tenant) in [
        (Scope::Tenant(tenant_a), Some(tenant_a)),
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
    assert_eq!(compared, 2 * 10 * 4);
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
