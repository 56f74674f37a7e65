//! The ingestion side of the database: bulk idempotent upserts, deleted resources, and run
//! tracking with the status derived from the items.

use chrono::{DateTime, Duration, NaiveDate, SubsecRound, Utc};
use rust_decimal::Decimal;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::costs::{self, NewCostRow};
use azcops::db::ingestion::{self, ItemStatus, NewRun, Outcome, Start, Trigger};
use azcops::db::recommendations::{self, AdvisorRow};
use azcops::db::resources::{self, NewResource};
use azcops::db::{self, Scope};
use azcops::ingestion::failure::Failure;
use azcops::ingestion::message::Mode;

async fn tenant_and_subscription(pool: &PgPool) -> (Uuid, Uuid, Uuid) {
    let tenant: Uuid = sqlx::query_scalar(
        "INSERT INTO tenants (name, azure_tenant_id) VALUES ('t', gen_random_uuid()) RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("tenant");
    let azure_sub = Uuid::new_v4();
    let sub: Uuid =
        sqlx::query_scalar("INSERT INTO subscriptions (tenant_id, subscription_id, display_name) VALUES ($1, $2, 's') RETURNING id")
            .bind(tenant)
            .bind(azure_sub)
            .fetch_one(pool)
            .await
            .expect("subscription");
    (tenant, sub, azure_sub)
}

fn resource(name: &str) -> NewResource {
    NewResource {
        resource_id: format!(
            "/subscriptions/x/resourcegroups/rg/providers/microsoft.compute/disks/{name}"
        ),
        name: name.to_owned(),
        resource_type: "microsoft.compute/disks".into(),
        kind: None,
        location: Some("westeurope".into()),
        resource_group: Some("rg".into()),
        sku: Some(json!({"name": "Premium_LRS"})),
        tags: json!({"env": "prod"}),
        properties: Some(json!({"diskState": "Unattached"})),
    }
}

async fn snapshot(
    pool: &PgPool,
) -> Vec<(String, Option<DateTime<Utc>>, DateTime<Utc>, DateTime<Utc>)> {
    sqlx::query_as("SELECT name, deleted_at, last_seen_at, updated_at FROM resources ORDER BY name")
        .fetch_all(pool)
        .await
        .expect("resources")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_second_upsert_of_the_same_inventory_changes_nothing(pool: PgPool) {
    let (tenant, sub, azure_sub) = tenant_and_subscription(&pool).await;
    let seen = Utc::now();
    let rows = [resource("a"), resource("b")];
    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
    assert_eq!(
        resources::upsert(&mut tx, tenant, sub, seen, &rows)
            .await
            .expect("upsert"),
        2
    );
    tx.commit().await.expect("commit");
    let before = snapshot(&pool).await;
    let azure_ids: Vec<Uuid> =
        sqlx::query_scalar("SELECT subscription_id FROM resources ORDER BY name")
            .fetch_all(&pool)
            .await
            .expect("azure ids");
    assert_eq!(
        azure_ids,
        [azure_sub, azure_sub],
        "each row carries its subscription's Azure id"
    );

    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
    assert_eq!(
        resources::upsert(&mut tx, tenant, sub, seen, &rows)
            .await
            .expect("upsert"),
        0,
        "nothing rewritten"
    );
    tx.commit().await.expect("commit");
    assert_eq!(
        snapshot(&pool).await,
        before,
        "identical rows, updated_at included"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn resources_missing_from_a_fresh_inventory_are_marked_deleted_and_come_back(pool: PgPool) {
    let (tenant, sub, _) = tenant_and_subscription(&pool).await;
    // PostgreSQL keeps microseconds.
    let second = Utc::now().trunc_subsecs(6);
    let first = second - Duration::hours(24);
    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
    resources::upsert(&mut tx, tenant, sub, first, &[resource("a"), resource("b")])
        .await
        .expect("upsert");
    resources::upsert(&mut tx, tenant, sub, second, &[resource("a")])
        .await
        .expect("upsert");
    assert_eq!(
        resources::mark_missing_deleted(&mut tx, sub, second)
            .await
            .expect("mark"),
        1
    );
    tx.commit().await.expect("commit");
    let rows = snapshot(&pool).await;
    assert!(
        rows[0].1.is_none() && rows[1].1.is_some(),
        "b is deleted, a is not: {rows:?}"
    );

    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
    resources::upsert(
        &mut tx,
        tenant,
        sub,
        second + Duration::hours(1),
        &[resource("b")],
    )
    .await
    .expect("upsert");
    tx.commit().await.expect("commit");
    assert!(
        snapshot(&pool).await[1].1.is_none(),
        "seen again: no longer deleted"
    );

    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
    resources::upsert(&mut tx, tenant, sub, first, &[resource("a")])
        .await
        .expect("late redelivery");
    tx.commit().await.expect("commit");
    assert_eq!(
        snapshot(&pool).await[0].2,
        second,
        "an older delivery never moves last_seen_at back"
    );
}

fn cost(day: u32, amount: &str) -> NewCostRow {
    NewCostRow {
        date: NaiveDate::from_ymd_opt(2026, 11, day).expect("date"),
        resource_group: "rg".into(),
        service_name: "Storage".into(),
        meter_category: "Storage".into(),
        cost: amount.parse().expect("decimal"),
        amortized_cost: amount.parse().expect("decimal"),
        currency: "EUR".into(),
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn cost_rows_are_upserted_idempotently_and_corrected(pool: PgPool) {
    let (tenant, sub, _) = tenant_and_subscription(&pool).await;
    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
    assert_eq!(
        costs::upsert(&mut tx, tenant, sub, &[cost(1, "1.10"), cost(2, "2.20")])
            .await
            .expect("upsert"),
        2
    );
    assert_eq!(
        costs::upsert(&mut tx, tenant, sub, &[cost(1, "1.10"), cost(2, "2.20")])
            .await
            .expect("upsert"),
        0
    );
    assert_eq!(
        costs::upsert(&mut tx, tenant, sub, &[cost(2, "2.25")])
            .await
            .expect("upsert"),
        1,
        "a late correction"
    );
    tx.commit().await.expect("commit");
    let total: Decimal = sqlx::query_scalar("SELECT sum(cost) FROM costs_daily")
        .fetch_one(&pool)
        .await
        .expect("sum");
    assert_eq!(total, "3.35".parse::<Decimal>().expect("decimal"));
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn advisor_upserts_link_resources_and_never_touch_the_workflow_status(pool: PgPool) {
    let (tenant, sub, _) = tenant_and_subscription(&pool).await;
    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await.expect("tx");
    resources::upsert(&mut tx, tenant, sub, Utc::now(), &[resource("a")])
        .await
        .expect("resource");
    let row = AdvisorRow {
        external_id: "/subscriptions/x/providers/microsoft.advisor/recommendations/1".into(),
        resource_id: Some(resource("a").resource_id),
        rule_id: "advisor:abc".into(),
        category: "cost".into(),
        title: "Delete the unattached disk".into(),
        description: None,
        monthly_savings: "12.5".parse().expect("decimal"),
        currency: "EUR".into(),
        confidence: "0.9".parse().expect("decimal"),
        details: json!({"impact": "High"}),
    };
    recommendations::upsert_advisor(&mut tx, tenant, sub, std::slice::from_ref(&row))
        .await
        .expect("insert");
    sqlx::query("UPDATE recommendations SET status = 'approved'")
        .execute(&mut *tx)
        .await
        .expect("approve");
    let changed = AdvisorRow {
        monthly_savings: "15".parse().expect("decimal"),
        ..row
    };
    assert_eq!(
        recommendations::upsert_advisor(&mut tx, tenant, sub, &[changed])
            .await
            .expect("update"),
        1
    );
    tx.commit().await.expect("commit");
    let (status, savings, linked): (String, Decimal, bool) = sqlx::query_as(
        "SELECT status::text, estimated_monthly_savings, resource_db_id IS NOT NULL FROM recommendations",
    )
    .fetch_one(&pool)
    .await
    .expect("row");
    assert_eq!(
        (status.as_str(), savings, linked),
        ("approved", Decimal::from(15), true)
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_timer_slot_gets_one_run_and_the_status_follows_the_items(pool: PgPool) {
    let (tenant, sub_a, azure_a) = tenant_and_subscription(&pool).await;
    let azure_b = Uuid::new_v4();
    let subs = [(sub_a, azure_a), (sub_a, azure_b)];
    let slot = Some(Utc::now());
    let new = NewRun {
        tenant_id: tenant,
        mode: Mode::Full,
        trigger: Trigger::Timer,
        schedule_slot: slot,
        requested_by: None,
        cost_from: None,
        cost_to: None,
        subscriptions: &subs,
    };
    let mut tx = db::begin(&pool, Scope::Operator).await.expect("tx");
    let run = ingestion::create_run(&mut tx, &new)
        .await
        .expect("create")
        .expect("a new run");
    assert_eq!(
        ingestion::create_run(&mut tx, &new).await.expect("again"),
        None,
        "same slot: no second run"
    );
    let status = |run: Option<ingestion::Run>| run.expect("run").status;
    assert_eq!(
        status(
            ingestion::get_run(&mut tx, Some(tenant), run)
                .await
                .expect("get")
        ),
        "queued"
    );

    let Start::Started {
        item_id: a,
        attempt,
    } = ingestion::start_item(&mut tx, run, azure_a)
        .await
        .expect("start")
    else {
        panic!("a starts")
    };
    assert_eq!(attempt, 1);
    assert_eq!(
        status(ingestion::get_run(&mut tx, None, run).await.expect("get")),
        "running"
    );
    ingestion::finish_item(
        &mut tx,
        a,
        ItemStatus::Succeeded,
        &Outcome {
            resources: 3,
            ..Outcome::default()
        },
    )
    .await
    .expect("finish");
    assert_eq!(
        ingestion::start_item(&mut tx, run, azure_a)
            .await
            .expect("again"),
        Start::AlreadyDone
    );
    assert_eq!(
        ingestion::start_item(&mut tx, run, Uuid::new_v4())
            .await
            .expect("unknown"),
        Start::NoSuchItem
    );

    let Start::Started { item_id: b, .. } = ingestion::start_item(&mut tx, run, azure_b)
        .await
        .expect("start")
    else {
        panic!("b starts")
    };
    let failure = Outcome {
        error: Some(Failure::AZURE_FORBIDDEN.into()),
        ..Outcome::default()
    };
    ingestion::finish_item(&mut tx, b, ItemStatus::Failed, &failure)
        .await
        .expect("finish");
    let finished = ingestion::get_run(&mut tx, None, run)
        .await
        .expect("get")
        .expect("run");
    assert_eq!(
        (
            finished.status.as_str(),
            finished.items_succeeded,
            finished.items_failed
        ),
        ("partially_failed", 1, 1)
    );
    assert!(finished.finished_at.is_some());
    let items = ingestion::items(&mut tx, run).await.expect("items");
    assert!(
        items
            .iter()
            .any(|i| i.error_code.as_deref() == Some("azure_forbidden")
                && i.error.as_deref() == Some(Failure::AZURE_FORBIDDEN.message))
    );
    assert_eq!(
        ingestion::get_run(&mut tx, Some(Uuid::new_v4()), run)
            .await
            .expect("other tenant")
            .map(|r| r.id),
        None
    );
}
