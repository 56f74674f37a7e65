//! What the rules read besides the inventory: per-resource costs, metric statistics, container
//! tags, condition history and the global reference caches. Writes are idempotent (a second
//! delivery rewrites no row), tenant tables sit behind row-level security, and reference data
//! is shared by every tenant.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rust_decimal::Decimal;
use sqlx::PgPool;

use azcops::db::conditions::{self, Observed};
use azcops::db::containers::{self, ContainerKind, NewContainer};
use azcops::db::metrics::{self, MetricState, NewMetric, Stats};
use azcops::db::reference::{self, RetailPrice, VmSize};
use azcops::db::resource_costs::{self, NewResourceCost, Window};
use azcops::db::{self, Scope};

use crate::support::tenant_and_subscription;

fn at(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 2, 0, 0).unwrap()
}

fn cost(resource_id: &str, service: &str, amount: i64) -> NewResourceCost {
    NewResourceCost {
        resource_id: resource_id.into(),
        service_name: service.into(),
        resource_group: if resource_id.is_empty() { "" } else { "rg" }.into(),
        cost: Decimal::new(amount, 2),
        amortized_cost: Decimal::new(amount + 1, 2),
        currency: "EUR".into(),
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn resource_costs_are_idempotent_and_keep_charges_without_a_resource(pool: PgPool) {
    let (tenant, sub) = tenant_and_subscription(&pool).await;
    let window = Window {
        start: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
        end: NaiveDate::from_ymd_opt(2026, 11, 29).unwrap(),
    };
    let rows = [
        cost(
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/disks/d1",
            "Storage",
            1234,
        ),
        cost(
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/disks/d1",
            "Bandwidth",
            5,
        ),
        cost("", "Reservations", 99_900),
    ];
    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.unwrap();
    assert_eq!(
        resource_costs::upsert(&mut tx, tenant, sub, window, &rows)
            .await
            .unwrap(),
        3
    );
    assert_eq!(
        resource_costs::upsert(&mut tx, tenant, sub, window, &rows)
            .await
            .unwrap(),
        0,
        "a second delivery rewrites no row"
    );
    let latest = resource_costs::latest_for_subscription(&mut tx, tenant, sub)
        .await
        .unwrap();
    assert_eq!(
        latest.len(),
        2,
        "one row per resource, services summed: {latest:?}"
    );
    assert_eq!(
        latest[0].resource_id, "",
        "the purchase is kept under no resource"
    );
    assert_eq!(latest[0].cost, Decimal::new(99_900, 2));
    assert_eq!(latest[1].cost, Decimal::new(1239, 2));
    assert_eq!(latest[1].amortized_cost, Decimal::new(1241, 2));
    assert_eq!(
        (latest[1].window_start, latest[1].window_end),
        (window.start, window.end)
    );

    let keep = [("".to_owned(), "Reservations".to_owned())];
    assert_eq!(
        resource_costs::delete_absent(&mut tx, tenant, sub, window, &keep)
            .await
            .unwrap(),
        2
    );
    tx.commit().await.unwrap();
}

fn metric(resource: &str, name: &str, state: MetricState, p95: f64) -> NewMetric {
    NewMetric {
        resource_id: resource.into(),
        metric: name.into(),
        namespace: "Microsoft.Compute/virtualMachines".into(),
        window_start: at(15),
        window_end: at(29),
        unit: "Percent".into(),
        state,
        stats: (state == MetricState::Data).then_some(Stats {
            avg: 1.0,
            max: 9.0,
            min: 0.5,
            p95,
            samples: 336,
        }),
        error: (state == MetricState::Failed).then(|| "azure_throttled".to_owned()),
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn metric_rows_keep_their_state_and_a_redelivery_writes_nothing(pool: PgPool) {
    let (tenant, sub) = tenant_and_subscription(&pool).await;
    let rows = [
        metric("/vm/a", "Percentage CPU", MetricState::Data, 3.5),
        metric("/vm/b", "Percentage CPU", MetricState::NoData, 0.0),
        metric("/vm/c", "Percentage CPU", MetricState::Failed, 0.0),
    ];
    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.unwrap();
    assert_eq!(
        metrics::upsert(&mut tx, tenant, sub, &rows).await.unwrap(),
        3
    );
    assert_eq!(
        metrics::upsert(&mut tx, tenant, sub, &rows).await.unwrap(),
        0
    );
    let stored = metrics::for_subscription(&mut tx, tenant, sub)
        .await
        .unwrap();
    assert_eq!(stored, rows, "read back as written");
    // The next run's call fails for /vm/a: its row says so; no stale figures remain.
    let failed = [metric("/vm/a", "Percentage CPU", MetricState::Failed, 0.0)];
    assert_eq!(
        metrics::upsert(&mut tx, tenant, sub, &failed)
            .await
            .unwrap(),
        1
    );
    let stored = metrics::for_subscription(&mut tx, tenant, sub)
        .await
        .unwrap();
    assert_eq!(stored[0].state, MetricState::Failed);
    assert_eq!(stored[0].stats, None);
    tx.rollback().await.unwrap();

    let err = sqlx::query(
        "INSERT INTO resource_metrics (tenant_id, subscription_db_id, resource_id, metric, namespace, window_start, window_end, state)
         VALUES ($1, $2, 'x', 'm', 'n', now(), now(), 'data')",
    )
    .bind(tenant)
    .bind(sub)
    .execute(&pool)
    .await
    .expect_err("a data row without statistics is refused");
    assert!(
        err.to_string().contains("resource_metrics_data_has_values"),
        "{err}"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_condition_keeps_its_first_sighting_until_it_ends(pool: PgPool) {
    let (tenant, sub) = tenant_and_subscription(&pool).await;
    let disk = "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/disks/d";
    let hint = at(1) - Duration::days(20);
    let observed = |hint| {
        vec![Observed {
            resource_id: disk.into(),
            condition: "disk_unattached".into(),
            since_hint: hint,
        }]
    };
    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.unwrap();
    assert_eq!(
        conditions::observe(&mut tx, tenant, sub, at(1), &observed(Some(hint)))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        conditions::observe(&mut tx, tenant, sub, at(1), &observed(Some(hint)))
            .await
            .unwrap(),
        0,
        "the same inventory again changes nothing"
    );
    conditions::observe(&mut tx, tenant, sub, at(2), &observed(Some(hint)))
        .await
        .unwrap();
    assert_eq!(
        conditions::end_unseen(&mut tx, tenant, sub, at(2))
            .await
            .unwrap(),
        0
    );
    let held = conditions::for_subscription(&mut tx, tenant, sub)
        .await
        .unwrap();
    assert_eq!(
        (held[0].first_seen_at, held[0].last_seen_at),
        (at(1), at(2))
    );
    assert_eq!(held[0].since(), hint, "Azure's own earlier time wins");

    // The disk is attached on day 3: the condition ends; detached again on day 4, a new clock.
    assert_eq!(
        conditions::end_unseen(&mut tx, tenant, sub, at(3))
            .await
            .unwrap(),
        1
    );
    conditions::observe(&mut tx, tenant, sub, at(4), &observed(None))
        .await
        .unwrap();
    let held = conditions::for_subscription(&mut tx, tenant, sub)
        .await
        .unwrap();
    assert_eq!(held[0].since(), at(4));
    tx.commit().await.unwrap();
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn containers_are_replaced_and_hidden_from_other_tenants(pool: PgPool) {
    let (tenant, sub) = tenant_and_subscription(&pool).await;
    let (other, _) = tenant_and_subscription(&pool).await;
    let rg = |name: &str, cc: Option<&str>| NewContainer {
        container_id: format!("/subscriptions/s/resourcegroups/{name}"),
        kind: ContainerKind::ResourceGroup,
        resource_group: name.into(),
        name: name.into(),
        tags: cc
            .map(|cc| [("cost-center".to_owned(), cc.to_owned())].into())
            .unwrap_or_default(),
    };
    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.unwrap();
    let first = [rg("a", Some("CC-1")), rg("b", None)];
    assert_eq!(
        containers::replace(&mut tx, tenant, sub, at(1), &first)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        containers::replace(&mut tx, tenant, sub, at(1), &first)
            .await
            .unwrap(),
        0
    );
    containers::replace(&mut tx, tenant, sub, at(2), &[rg("a", Some("CC-2"))])
        .await
        .unwrap();
    let tags = containers::tags_for_subscription(&mut tx, tenant, sub)
        .await
        .unwrap();
    assert_eq!(tags.len(), 1, "b is gone: {tags:?}");
    assert_eq!(tags[0].tags["cost-center"], "CC-2");
    tx.commit().await.unwrap();

    let mut tx = db::begin(&pool, Scope::Tenant(other)).await.unwrap();
    for (table, query) in [
        (
            "resource_containers",
            "SELECT count(*) FROM resource_containers",
        ),
        ("resource_costs", "SELECT count(*) FROM resource_costs"),
        ("resource_metrics", "SELECT count(*) FROM resource_metrics"),
        (
            "resource_conditions",
            "SELECT count(*) FROM resource_conditions",
        ),
    ] {
        let n: i64 = sqlx::query_scalar(query).fetch_one(&mut *tx).await.unwrap();
        assert_eq!(n, 0, "{table} rows of another tenant are invisible");
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn every_table_with_a_tenant_id_is_behind_row_level_security(pool: PgPool) {
    let unprotected: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id')
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        unprotected.is_empty(),
        "tenant tables without forced RLS: {unprotected:?}"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn reference_data_is_shared_and_refreshed_by_one_claimant_a_day(pool: PgPool) {
    let (a, _) = tenant_and_subscription(&pool).await;
    let (b, _) = tenant_and_subscription(&pool).await;
    let size = VmSize {
        location: "westeurope".into(),
        name: "Standard_D2s_v5".into(),
        family: "standardDSv5Family".into(),
        tier: Some("Standard".into()),
        vcpus: 2,
        memory_gb: 8.0,
        max_data_disks: 4,
        max_nics: 2,
    };
    let price = RetailPrice {
        currency: "EUR".into(),
        region: "westeurope".into(),
        meter_id: "m-1".into(),
        product_name: "Virtual Machines DSv5 Series".into(),
        sku_name: "D2s v5".into(),
        price_type: "Consumption".into(),
        tier_minimum_units: Decimal::ZERO,
        service_name: "Virtual Machines".into(),
        service_family: "Compute".into(),
        arm_sku_name: "Standard_D2s_v5".into(),
        meter_name: "D2s v5".into(),
        unit_of_measure: "1 Hour".into(),
        unit_price: Decimal::new(96, 3),
        retail_price: Decimal::new(96, 3),
        effective_start: Some(at(1)),
        is_primary_meter_region: true,
    };
    let mut tx = db::begin(&pool, Scope::Tenant(a)).await.unwrap();
    assert!(
        reference::claim(&mut tx, "vm_sizes", "westeurope", at(1), 86_400)
            .await
            .unwrap()
    );
    assert!(
        !reference::claim(&mut tx, "vm_sizes", "westeurope", at(1), 86_400)
            .await
            .unwrap(),
        "claimed once"
    );
    assert_eq!(
        reference::upsert_vm_sizes(&mut tx, std::slice::from_ref(&size), at(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        reference::upsert_vm_sizes(&mut tx, std::slice::from_ref(&size), at(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        reference::upsert_prices(&mut tx, std::slice::from_ref(&price), at(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        reference::upsert_prices(&mut tx, std::slice::from_ref(&price), at(1))
            .await
            .unwrap(),
        0
    );
    reference::finish(&mut tx, "vm_sizes", "westeurope", true)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Tenant B reads what tenant A's ingestion cached, and may refresh only a day later.
    let mut tx = db::begin(&pool, Scope::Tenant(b)).await.unwrap();
    assert_eq!(
        reference::vm_sizes(&mut tx, "westeurope").await.unwrap(),
        [size]
    );
    assert_eq!(
        reference::prices(&mut tx, "EUR", "westeurope", "Virtual Machines")
            .await
            .unwrap(),
        [price]
    );
    assert!(
        !reference::claim(
            &mut tx,
            "vm_sizes",
            "westeurope",
            at(1) + Duration::hours(23),
            86_400
        )
        .await
        .unwrap()
    );
    assert!(
        reference::claim(
            &mut tx,
            "vm_sizes",
            "westeurope",
            at(2) + Duration::hours(1),
            86_400
        )
        .await
        .unwrap()
    );
    // A failed refresh is released at once.
    reference::finish(&mut tx, "vm_sizes", "westeurope", false)
        .await
        .unwrap();
    assert!(
        reference::claim(
            &mut tx,
            "vm_sizes",
            "westeurope",
            at(2) + Duration::hours(1),
            86_400
        )
        .await
        .unwrap()
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_restated_window_drops_the_rows_azure_no_longer_reports_and_keeps_other_days(
    pool: PgPool,
) {
    use azcops::db::costs::{self, NewCostRow};
    let (tenant, sub) = tenant_and_subscription(&pool).await;
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    let row = |d, service: &str| NewCostRow {
        date: day(d),
        resource_group: "rg".into(),
        service_name: service.into(),
        meter_category: service.into(),
        cost: Decimal::ONE,
        amortized_cost: Decimal::ONE,
        currency: "EUR".into(),
    };
    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.unwrap();
    let first = [
        row(1, "Storage"),
        row(2, "Storage"),
        row(2, "Bandwidth"),
        row(3, "Storage"),
    ];
    costs::upsert(&mut tx, tenant, sub, &first).await.unwrap();
    // Azure restates days 2..3: day 2's bandwidth charge is gone.
    let restated = [row(2, "Storage"), row(3, "Storage")];
    costs::upsert(&mut tx, tenant, sub, &restated)
        .await
        .unwrap();
    let deleted = costs::delete_absent(&mut tx, sub, day(2), day(3), &restated)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    let left: Vec<(NaiveDate, String)> =
        sqlx::query_as("SELECT date, service_name FROM costs_daily ORDER BY date, service_name")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
    let expected: Vec<(NaiveDate, String)> = [(1, "Storage"), (2, "Storage"), (3, "Storage")]
        .into_iter()
        .map(|(d, s)| (day(d), s.to_owned()))
        .collect();
    assert_eq!(left, expected, "day 1 is outside the window and stays");
}
