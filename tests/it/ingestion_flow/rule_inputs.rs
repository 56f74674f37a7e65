//! Issue 13: a full run stores what the rules read — per-resource costs that add up to the
//! resource-group × service costs of the same window, metric statistics with an explicit state,
//! container tags, condition history — and refreshes the shared VM-size and price caches at
//! most once a day, a failing prices API failing nothing else.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use sqlx::PgPool;
use url::Url;

use azcops::azure::cost_management::DateRange;
use azcops::azure::throttle::RetryPolicy;
use azure_sim::SimHandle;

use crate::support::pipeline::{Pipeline, TENANT, simulator};
use crate::support::sim_azure;

async fn full_run(p: &Pipeline) {
    p.fire_daily().await;
    let texts = p.drain().await;
    p.process(&texts, 2).await;
    assert!(
        p.item_statuses().await.iter().all(|s| s == "succeeded"),
        "{:?}",
        p.item_statuses().await
    );
}

async fn scalar(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

fn subscriptions(sim: &SimHandle) -> Vec<uuid::Uuid> {
    sim.estate.tenants()[0].subscription_ids.clone()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn per_resource_costs_add_up_to_the_resource_group_and_service_costs_of_the_window(
    pool: PgPool,
) {
    let sim = simulator(2, 60).await;
    let p = Pipeline::new(pool.clone(), &sim).await;
    full_run(&p).await;
    // The same 30 days as daily rows, through an ad-hoc cost message per subscription.
    let window = DateRange::resource_cost_window(Utc::now());
    for sub in subscriptions(&sim) {
        let text = json!({
            "v": 1, "tenant_id": TENANT, "subscription_id": sub, "mode": "cost",
            "cost_from": window.from, "cost_to": window.to,
        });
        p.deliver_until_done(&text.to_string()).await;
    }
    let compare = "
        WITH r AS (SELECT subscription_db_id, resource_group, service_name,
                          sum(cost) AS cost, sum(amortized_cost) AS amortized
                   FROM resource_costs WHERE window_start = $1 AND window_end = $2 GROUP BY 1, 2, 3),
             d AS (SELECT subscription_db_id, resource_group, service_name,
                          sum(cost) AS cost, sum(amortized_cost) AS amortized
                   FROM costs_daily WHERE date BETWEEN $1 AND $2 GROUP BY 1, 2, 3)
        SELECT count(*) AS groups,
               count(*) FILTER (WHERE r.cost IS NULL OR d.cost IS NULL
                                OR abs(r.cost - d.cost) > 0.01 OR abs(r.amortized - d.amortized) > 0.01)
                   AS differing,
               coalesce(sum(r.cost), 0)::float8 AS total
        FROM r FULL JOIN d USING (subscription_db_id, resource_group, service_name)";
    let (groups, differing, total): (i64, i64, f64) = sqlx::query_as(compare)
        .bind(window.from)
        .bind(window.to)
        .fetch_one(&pool)
        .await
        .expect("compare");
    assert!(groups > 10 && total > 0.0, "{groups} groups, {total}");
    assert_eq!(differing, 0, "of {groups} resource group × service sums");
    let purchases = scalar(
        &pool,
        "SELECT count(*) FROM resource_costs WHERE resource_id = '' AND cost > 0",
    )
    .await;
    eprintln!(
        "rule_inputs: {groups} resource group × service sums equal to the cent over {}..{}; {purchases} charge(s) without a resource kept",
        window.from, window.to
    );
}

/// The subscription's stored containers are its own row, with ARM's tags, and one row per
/// resource group holding resources, with that group's tags; the group without resources is
/// not stored (no resource inherits from it).
async fn check_containers(pool: &PgPool, sim: &SimHandle, sub: uuid::Uuid) {
    let stored: Vec<(String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT c.kind, c.resource_group, c.tags FROM resource_containers c
         JOIN subscriptions s ON s.id = c.subscription_db_id
         WHERE s.subscription_id = $1 ORDER BY c.kind DESC, c.resource_group",
    )
    .bind(sub)
    .fetch_all(pool)
    .await
    .expect("containers");
    let subscription = sim.estate.subscription(sub).expect("subscription");
    let holding: BTreeSet<String> = sim
        .estate
        .resources_of(sub)
        .iter()
        .map(|r| r.resource_group.to_ascii_lowercase())
        .collect();
    assert!(
        holding.len() < subscription.resource_groups.len(),
        "the estate has a group without resources"
    );
    let mut expected = vec![(
        "subscription".to_owned(),
        String::new(),
        json!(subscription.tags.to_map()),
    )];
    let mut groups: Vec<_> = subscription
        .resource_groups
        .iter()
        .filter(|g| holding.contains(&g.name.to_ascii_lowercase()))
        .map(|g| {
            (
                "resource_group".to_owned(),
                g.name.to_ascii_lowercase(),
                json!(g.tags.to_map()),
            )
        })
        .collect();
    groups.sort_by(|a, b| a.1.cmp(&b.1));
    expected.extend(groups);
    assert_eq!(stored, expected);
}

/// The resources `tag.missing` must find: no `cost-center` on the resource, its group or its
/// subscription, as the estate has them.
fn untagged_everywhere(sim: &SimHandle, sub: uuid::Uuid) -> BTreeSet<String> {
    let subscription = sim.estate.subscription(sub).expect("subscription");
    let group_has = |name: &str| {
        subscription
            .resource_groups
            .iter()
            .any(|g| g.name.eq_ignore_ascii_case(name) && g.tags.cost_center.is_some())
    };
    sim.estate
        .resources_of(sub)
        .iter()
        .filter(|r| {
            r.tags.cost_center.is_none()
                && !group_has(&r.resource_group)
                && subscription.tags.cost_center.is_none()
        })
        .map(|r| r.id.to_ascii_lowercase())
        .collect()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn metrics_containers_and_conditions_match_the_estate(pool: PgPool) {
    let sim = simulator(2, 80).await;
    let p = Pipeline::new(pool.clone(), &sim).await;
    sim.reset();
    full_run(&p).await;
    // Per subscription, Resource Graph answered the inventory's one page (80 resources) and
    // nothing else: the containers' tags came with its rows and with ARM's answer to the
    // home-tenant check, one `GET /subscriptions/{id}` an item.
    let requests = sim.stats().requests;
    let subs = subscriptions(&sim).len() as u64;
    assert_eq!(
        (requests.resource_graph, requests.subscriptions),
        (subs, subs),
        "{requests:?}"
    );
    let window_start = Utc::now() - chrono::Duration::days(14);
    for sub in subscriptions(&sim) {
        for r in sim.estate.resources_of(sub) {
            let Some(vm) = r.vm() else { continue };
            let row: (String, i32) = sqlx::query_as(
                "SELECT state, samples FROM resource_metrics
                 WHERE resource_id = $1 AND metric = 'Percentage CPU'",
            )
            .bind(r.id.to_ascii_lowercase())
            .fetch_one(&pool)
            .await
            .expect("every VM has a CPU row");
            if vm.is_running() && vm.power_since < window_start {
                assert_eq!(row.0, "data", "{}", r.id);
                assert!(row.1 >= 72, "{}: {} hourly samples", r.id, row.1);
            } else if !vm.is_running() && vm.power_since < window_start {
                assert_eq!(row.0, "no_data", "a VM off all along has no data: {}", r.id);
            }
        }
        check_containers(&pool, &sim, sub).await;
        let unattached: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM resource_conditions c JOIN subscriptions s ON s.id = c.subscription_db_id
             WHERE s.subscription_id = $1 AND c.condition = 'disk_unattached'",
        )
        .bind(sub)
        .fetch_one(&pool)
        .await
        .expect("conditions");
        assert_eq!(
            unattached as usize,
            sim.estate.expected_unattached_disks(sub)
        );
    }
    let failed = scalar(
        &pool,
        "SELECT count(*) FROM resource_metrics WHERE state = 'failed'",
    )
    .await;
    assert_eq!(failed, 0, "no metric call failed here");
    let namespaces = scalar(
        &pool,
        "SELECT count(DISTINCT namespace) FROM resource_metrics",
    )
    .await;
    assert!(
        namespaces >= 4,
        "VMs, disks, plans, databases: {namespaces}"
    );
    // What a resource inherits is read from those containers: `tag.missing` fires on exactly
    // the resources without `cost-center` on themselves, their group and their subscription.
    let flagged: BTreeSet<String> =
        sqlx::query_scalar("SELECT resource_id FROM recommendations WHERE rule_id = 'tag.missing'")
            .fetch_all(&pool)
            .await
            .expect("findings")
            .into_iter()
            .collect();
    let expected: BTreeSet<String> = subscriptions(&sim)
        .into_iter()
        .flat_map(|sub| untagged_everywhere(&sim, sub))
        .collect();
    let inherited: usize = subscriptions(&sim)
        .into_iter()
        .map(|sub| {
            let resources = sim.estate.resources_of(sub).iter();
            resources.filter(|r| r.tags.cost_center.is_none()).count()
        })
        .sum();
    assert!(
        !expected.is_empty() && inherited > expected.len(),
        "some untagged resources inherit the tag, some do not: {inherited} vs {}",
        expected.len()
    );
    assert_eq!(flagged, expected);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn reference_data_is_fetched_once_a_day_and_read_by_the_next_run(pool: PgPool) {
    let sim = simulator(2, 80).await;
    let p = Pipeline::new(pool.clone(), &sim).await;
    full_run(&p).await;
    let sizes = scalar(&pool, "SELECT count(*) FROM vm_sizes").await;
    let prices = scalar(
        &pool,
        "SELECT count(*) FROM retail_prices WHERE service_name = 'Virtual Machines'",
    )
    .await;
    assert!(sizes > 0 && prices > 0, "sizes {sizes}, VM prices {prices}");
    let regions_without_sizes = scalar(
        &pool,
        "SELECT count(DISTINCT r.location) FROM resources r
         WHERE r.type = 'microsoft.compute/virtualmachines'
           AND NOT EXISTS (SELECT 1 FROM vm_sizes v WHERE v.location = r.location)",
    )
    .await;
    assert_eq!(regions_without_sizes, 0);
    let sizes_without_price = scalar(
        &pool,
        "SELECT count(DISTINCT r.properties->'hardwareProfile'->>'vmSize') FROM resources r
         WHERE r.type = 'microsoft.compute/virtualmachines'
           AND NOT EXISTS (SELECT 1 FROM retail_prices p
                           WHERE p.region = r.location AND p.arm_sku_name = r.properties->'hardwareProfile'->>'vmSize')",
    )
    .await;
    assert_eq!(sizes_without_price, 0, "every VM size in use is priced");
    let calls = |sim: &SimHandle| {
        let requests = &sim.stats().requests;
        (requests.resource_skus, requests.retail_prices)
    };
    let first = calls(&sim);
    assert!(first.0 > 0 && first.1 > 0, "{first:?}");

    // The next run (another item, as another instance would) finds the caches fresh.
    sqlx::query("UPDATE ingestion_runs SET schedule_slot = schedule_slot - interval '1 day'")
        .execute(&pool)
        .await
        .expect("free the slot");
    full_run(&p).await;
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM ingestion_runs").await,
        2
    );
    assert_eq!(calls(&sim), first, "no SKU or price call the same day");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_failing_prices_api_fails_only_the_price_refresh(pool: PgPool) {
    let sim = simulator(1, 60).await;
    let policy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    // Nothing listens on port 9: every price request fails to connect.
    let dead = Url::parse("http://127.0.0.1:9/api/retail/prices").expect("url");
    let azure = sim_azure::app_registration_client_with(&sim, "azcops-prices-down", policy, |e| {
        e.with_retail_prices(dead)
    });
    let p = Pipeline::with_azure(pool.clone(), &sim, azure).await;
    full_run(&p).await;
    assert_eq!(scalar(&pool, "SELECT count(*) FROM retail_prices").await, 0);
    assert!(scalar(&pool, "SELECT count(*) FROM vm_sizes").await > 0);
    assert!(scalar(&pool, "SELECT count(*) FROM resource_costs").await > 0);
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM reference_refreshes WHERE source = 'retail_prices'"
        )
        .await,
        0,
        "a failed refresh is released for the next ingestion"
    );
}

/// The per-resource cost window moves once a day: a second full run the same day (an ad-hoc
/// re-ingestion) keeps the stored window and spends none of the tenant's query units on it,
/// while a subscription without a stored window gets it queried again.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_per_resource_cost_window_is_queried_once_a_day(pool: PgPool) {
    let sim = simulator(2, 80).await;
    let p = Pipeline::new(pool.clone(), &sim).await;
    let cost_calls = |sim: &SimHandle| sim.stats().requests.cost_management;
    let windows = "SELECT string_agg(DISTINCT window_end::text, ',') FROM resource_costs";
    let versions = "SELECT string_agg(xmin::text, ',' ORDER BY subscription_db_id, resource_id, service_name) FROM resource_costs";
    let free_slot = "UPDATE ingestion_runs SET schedule_slot = schedule_slot - interval '1 day'";

    full_run(&p).await;
    let first = cost_calls(&sim);
    let stored: String = sqlx::query_scalar(windows).fetch_one(&pool).await.unwrap();
    let rows: String = sqlx::query_scalar(versions).fetch_one(&pool).await.unwrap();
    assert_eq!(
        stored,
        DateRange::resource_cost_window(Utc::now()).to.to_string()
    );

    sqlx::query(free_slot).execute(&pool).await.expect("slot");
    full_run(&p).await;
    let second = cost_calls(&sim) - first;
    assert!(second > 0, "the restated days are read again");
    assert!(
        second < first,
        "no per-resource query the same day: {second} calls, {first} the first time"
    );
    let again: String = sqlx::query_scalar(versions).fetch_one(&pool).await.unwrap();
    assert_eq!(again, rows, "the stored window is kept, not rewritten");

    // Without a stored window (a new subscription, or one emptied) it is queried again.
    sqlx::query("DELETE FROM resource_costs")
        .execute(&pool)
        .await
        .expect("delete");
    sqlx::query(free_slot).execute(&pool).await.expect("slot");
    full_run(&p).await;
    let third = cost_calls(&sim) - first - second;
    assert_eq!(third, first, "the window is queried again");
    assert_eq!(
        sqlx::query_scalar::<_, String>(windows)
            .fetch_one(&pool)
            .await
            .unwrap(),
        stored
    );
}
