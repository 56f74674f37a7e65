//! The read API over ingested data: resources, costs and the cost summary, with their filters,
//! bad input and tenant isolation.

use axum::http::{Method, StatusCode};
use chrono::{Days, Utc};
use serde_json::{Value, json};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::support::{READER, TestApp};

/// Resources and costs of one subscription, written as ingestion would (as the superuser).
async fn seed(app: &TestApp, tenant: Uuid, subscription: Uuid, prefix: &str) {
    let resources = [
        (
            "vm-1",
            "microsoft.compute/virtualmachines",
            "westeurope",
            "rg-app",
            json!({"cost-center": "42", "env": "prod"}),
            false,
        ),
        (
            "disk-1",
            "microsoft.compute/disks",
            "westeurope",
            "rg-app",
            json!({"env": "prod"}),
            false,
        ),
        (
            "ip-1",
            "microsoft.network/publicipaddresses",
            "eastus",
            "rg-net",
            json!({}),
            false,
        ),
        (
            "old-vm",
            "microsoft.compute/virtualmachines",
            "eastus",
            "rg-old",
            json!({}),
            true,
        ),
    ];
    for (name, kind, location, rg, tags, deleted) in resources {
        sqlx::query(
            "INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type, location, resource_group, tags, properties, deleted_at)
             VALUES ($1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2), $3, $4, $5, $6, $7, $8, '{\"a\":1}', CASE WHEN $9 THEN now() END)",
        )
        .bind(tenant)
        .bind(subscription)
        .bind(format!("/subscriptions/{prefix}/resourcegroups/{rg}/providers/{kind}/{name}"))
        .bind(name)
        .bind(kind)
        .bind(location)
        .bind(rg)
        .bind(tags)
        .bind(deleted)
        .execute(&app.pool)
        .await
        .expect("resource");
    }
    let today = Utc::now().date_naive();
    for offset in [1u64, 2, 40] {
        for (service, cost, amortized) in [
            ("Virtual Machines", "10.50", "12.25"),
            ("Storage", "1.25", "1.25"),
        ] {
            sqlx::query(
                "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name, meter_category, cost, amortized_cost, currency)
                 VALUES ($1, $2, $3, 'rg-app', $4, $4, $5::numeric, $6::numeric, 'EUR')",
            )
            .bind(tenant)
            .bind(subscription)
            .bind(today.checked_sub_days(Days::new(offset)).expect("date"))
            .bind(service)
            .bind(cost)
            .bind(amortized)
            .execute(&app.pool)
            .await
            .expect("cost");
        }
    }
}

fn names(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().expect("name").to_owned())
        .collect()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn resources_are_filtered_and_paginated_in_a_stable_order(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (tenant, tid) = app.tenant("A").await;
    let sub = app.subscription(tenant, "prod").await;
    seed(&app, tenant, sub, "a").await;
    let reader = app.token(tid, &[READER]);
    let get = |q: &str| {
        // Lists counted (`total` is checked); a single resource (`/{id}`) as it is.
        let uri = match q.chars().next() {
            None => "/api/v1/resources?include_total=true".to_owned(),
            Some('?') => format!("/api/v1/resources{q}&include_total=true"),
            Some(_) => format!("/api/v1/resources{q}"),
        };
        let (app, reader) = (&app, &reader);
        async move { app.get(&uri, reader).await }
    };

    let all = get("").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(
        names(&all.body),
        ["disk-1", "vm-1", "ip-1"],
        "ordered by resource id, deleted hidden"
    );
    assert!(
        all.body["items"][0].get("properties").is_none(),
        "lists leave properties out"
    );
    assert_eq!(
        names(&get("?type=Microsoft.Compute/virtualMachines").await.body),
        ["vm-1"]
    );
    assert_eq!(names(&get("?location=EastUS").await.body), ["ip-1"]);
    assert_eq!(
        names(&get("?resource_group=RG-APP").await.body),
        ["disk-1", "vm-1"]
    );
    assert_eq!(names(&get("?tag_key=cost-center").await.body), ["vm-1"]);
    assert_eq!(
        names(&get("?tag_key=env&tag_value=prod").await.body),
        ["disk-1", "vm-1"]
    );
    assert_eq!(
        names(
            &get("?include_deleted=true&type=microsoft.compute/virtualmachines")
                .await
                .body
        ),
        ["vm-1", "old-vm"]
    );
    assert_eq!(
        names(&get(&format!("?subscription_id={sub}")).await.body).len(),
        3
    );
    assert_eq!(
        names(
            &get(&format!("?subscription_id={}", Uuid::new_v4()))
                .await
                .body
        )
        .len(),
        0
    );
    let page = get("?page=2&page_size=2").await;
    assert_eq!(
        (page.body["total"].as_i64(), names(&page.body)),
        (Some(3), vec!["ip-1".to_owned()])
    );

    let id = all.body["items"][2]["id"].as_str().expect("id");
    let one = get(&format!("/{id}")).await;
    assert_eq!(
        one.body["properties"]["a"], 1,
        "the single view has properties"
    );

    // The row's copy of the Azure subscription id, the stored JSON and the times, as a client
    // reads them in the list and in the single view.
    let azure_id: Uuid =
        sqlx::query_scalar("SELECT subscription_id FROM subscriptions WHERE id = $1")
            .bind(sub)
            .fetch_one(&app.pool)
            .await
            .expect("azure id");
    let vm = &all.body["items"][1];
    let vm_alone = get(&format!("/{}", vm["id"].as_str().expect("id")))
        .await
        .body;
    for view in [vm, &vm_alone] {
        assert_eq!(view["name"], "vm-1");
        assert_eq!(view["subscription_id"], azure_id.to_string(), "{view}");
        assert_eq!(view["subscription_db_id"], sub.to_string(), "{view}");
        assert_eq!(view["tags"], json!({"cost-center": "42", "env": "prod"}));
        assert_eq!(view["sku"], Value::Null);
        assert_eq!(view["deleted_at"], Value::Null);
        for time in ["first_seen_at", "last_seen_at", "created_at", "updated_at"] {
            let text = view[time].as_str().expect("a time");
            assert!(
                chrono::DateTime::parse_from_rfc3339(text).is_ok() && text.ends_with('Z'),
                "{time}: {text}"
            );
        }
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn costs_are_filtered_by_date_service_and_group(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (tenant, tid) = app.tenant("A").await;
    let sub = app.subscription(tenant, "prod").await;
    seed(&app, tenant, sub, "a").await;
    let reader = app.token(tid, &[READER]);
    let today = Utc::now().date_naive();
    let from = today.checked_sub_days(Days::new(7)).expect("date");

    let all = app.get("/api/v1/costs?include_total=true", &reader).await;
    assert_eq!(all.body["total"], 6);
    let recent = app
        .get(
            &format!("/api/v1/costs?from={from}&to={today}&include_total=true"),
            &reader,
        )
        .await;
    assert_eq!(recent.body["total"], 4);
    assert_eq!(recent.body["items"][0]["currency"], "EUR");
    let storage = app
        .get(
            &format!("/api/v1/costs?from={from}&service_name=Storage&resource_group=RG-APP&include_total=true"),
            &reader,
        )
        .await;
    assert_eq!(storage.body["total"], 2);
    assert_eq!(storage.body["items"][0]["cost"], 1.25);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_summary_totals_the_window_by_service_and_day(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (tenant, tid) = app.tenant("A").await;
    let sub = app.subscription(tenant, "prod").await;
    seed(&app, tenant, sub, "a").await;
    let reply = app
        .get("/api/v1/costs/summary", &app.token(tid, &[READER]))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["currency"], "EUR");
    assert_eq!(
        body["total_cost"], 23.5,
        "two days of 10.50 + 1.25; the row 40 days ago is outside"
    );
    assert_eq!(body["total_amortized_cost"], 27.0);
    assert_eq!(body["by_service"][0]["service_name"], "Virtual Machines");
    assert_eq!(body["by_service"][0]["cost"], 21.0);
    let daily = body["daily"].as_array().expect("daily");
    assert_eq!(
        daily.len(),
        30,
        "one point for each day of the default window"
    );
    assert_eq!(daily.iter().filter(|d| d["cost"] != 0.0).count(), 2);
    assert_eq!(
        daily.last().expect("today")["date"],
        Utc::now().date_naive().to_string()
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn bad_filters_are_400s_with_the_envelope(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let op = app.operator();
    for uri in [
        "/api/v1/costs?from=2026-02-01&to=2026-01-01",
        "/api/v1/costs?from=2024-01-01&to=2026-01-01",
        "/api/v1/costs?from=yesterday",
        "/api/v1/costs?from=2026-02-30",
        "/api/v1/costs/summary?from=2026-03-01&to=2026-02-01",
        "/api/v1/costs/summary?to=2026-13-01",
        "/api/v1/resources?subscription_id=42",
        "/api/v1/resources?include_deleted=perhaps",
        "/api/v1/resources?tag_value=prod",
        "/api/v1/resources?type=",
        "/api/v1/resources?colour=blue",
        "/api/v1/resources/not-a-uuid",
    ] {
        let reply = app.get(uri, &op).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn another_tenants_inventory_and_costs_stay_invisible(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, a_tid) = app.tenant("A").await;
    let (b, _) = app.tenant("B").await;
    let sub_a = app.subscription(a, "a").await;
    let sub_b = app.subscription(b, "b").await;
    seed(&app, a, sub_a, "a").await;
    seed(&app, b, sub_b, "b").await;
    let reader_a = app.token(a_tid, &[READER]);

    let resources = app
        .get("/api/v1/resources?include_total=true", &reader_a)
        .await;
    assert_eq!(resources.body["total"], 3);
    let theirs = app
        .get(
            &format!("/api/v1/resources?subscription_id={sub_b}&include_total=true"),
            &reader_a,
        )
        .await;
    assert_eq!(theirs.body["total"], 0);
    let b_resource: Uuid =
        sqlx::query_scalar("SELECT id FROM resources WHERE tenant_id = $1 LIMIT 1")
            .bind(b)
            .fetch_one(&app.pool)
            .await
            .expect("b resource");
    let direct = app
        .get(&format!("/api/v1/resources/{b_resource}"), &reader_a)
        .await;
    direct.assert_error(StatusCode::NOT_FOUND, "not_found");
    let costs = app
        .get(
            &format!("/api/v1/costs?subscription_id={sub_b}&include_total=true"),
            &reader_a,
        )
        .await;
    assert_eq!(costs.body["total"], 0);
    let summary = app.get("/api/v1/costs/summary", &reader_a).await;
    assert_eq!(summary.body["total_cost"], 23.5, "only A's costs");

    let operator = app
        .get("/api/v1/resources?include_total=true", &app.operator())
        .await;
    assert_eq!(operator.body["total"], 6, "the operator sees both tenants");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn ingestion_runs_of_another_tenant_stay_invisible(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (a, a_tid) = app.tenant("A").await;
    let (b, _) = app.tenant("B").await;
    let sub_b = app.subscription(b, "b").await;
    app.subscription(a, "a").await;
    let azure_b: Uuid =
        sqlx::query_scalar("SELECT subscription_id FROM subscriptions WHERE id = $1")
            .bind(sub_b)
            .fetch_one(&app.pool)
            .await
            .expect("sub");
    let mut tx = azcops::db::begin(&app.pool, azcops::db::Scope::Operator)
        .await
        .expect("tx");
    let subs = [(sub_b, azure_b)];
    let new = azcops::db::ingestion::NewRun {
        tenant_id: b,
        mode: azcops::ingestion::message::Mode::Full,
        trigger: azcops::db::ingestion::Trigger::Api,
        schedule_slot: None,
        requested_by: None,
        cost_from: None,
        cost_to: None,
        subscriptions: &subs,
    };
    let run = azcops::db::ingestion::create_run(&mut tx, &new)
        .await
        .expect("create")
        .expect("run");
    tx.commit().await.expect("commit");
    let admin_a = app.token(a_tid, &[crate::support::ADMIN]);

    let status = app
        .get(&format!("/api/v1/ingestion/status/{run}"), &admin_a)
        .await;
    status.assert_error(StatusCode::NOT_FOUND, "not_found");
    let runs = app
        .get("/api/v1/ingestion/runs?include_total=true", &admin_a)
        .await;
    assert_eq!(runs.body["total"], 0);
    let trigger = app
        .post(
            "/api/v1/ingestion/trigger",
            &admin_a,
            json!({"tenant_id": b}),
        )
        .await;
    trigger.assert_error(StatusCode::NOT_FOUND, "not_found");
    let theirs = app
        .post(
            "/api/v1/ingestion/trigger",
            &admin_a,
            json!({"subscription_ids": [sub_b]}),
        )
        .await;
    theirs.assert_error(StatusCode::NOT_FOUND, "not_found");
    let op = app.operator();
    let seen = app
        .get(&format!("/api/v1/ingestion/status/{run}"), &op)
        .await;
    assert_eq!(seen.body["status"], "queued", "the operator sees it");
    let reader = app.token(a_tid, &[READER]);
    let forbidden = app
        .call(
            Method::POST,
            "/api/v1/ingestion/trigger",
            Some(&reader),
            None,
        )
        .await;
    forbidden.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let no_queue = app
        .call(
            Method::POST,
            "/api/v1/ingestion/trigger",
            Some(&admin_a),
            None,
        )
        .await;
    no_queue.assert_error(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable");
    let bad = app.get("/api/v1/ingestion/status/nope", &op).await;
    bad.assert_error(StatusCode::BAD_REQUEST, "bad_request");
}

/// A resource read ends without a `COMMIT` of its own: its `ROLLBACK` goes with the pool's check
/// of the returned connection (`db::end_read`). On a pool of one connection, each request gets
/// the connection the one before it left, and sees its own tenant's rows only, never the
/// settings of the request before.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn reads_ended_without_commit_leave_the_connection_clean_for_the_next_caller(pool: PgPool) {
    let options = pool.connect_options().as_ref().clone();
    let one = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("a pool of one connection");
    let app = TestApp::new(one).await;
    let (a, a_tid) = app.tenant("A").await;
    let (b, b_tid) = app.tenant("B").await;
    let a_sub = app.subscription(a, "prod").await;
    let b_sub = app.subscription(b, "prod").await;
    seed(&app, a, a_sub, "a").await;
    seed(&app, b, b_sub, "b").await;
    let (reader_a, reader_b) = (app.token(a_tid, &[READER]), app.token(b_tid, &[READER]));
    let operator = app.operator();
    let tenants = |body: &Value| {
        let mut ids: Vec<String> = body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["tenant_id"].as_str().expect("tenant_id").to_owned())
            .collect();
        ids.dedup();
        ids
    };
    let b_resource = app.get("/api/v1/resources", &reader_b).await.body["items"][0]["id"]
        .as_str()
        .expect("a resource of B")
        .to_owned();

    for _ in 0..10 {
        let listed = app.get("/api/v1/resources", &reader_a).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        assert_eq!(tenants(&listed.body), [a.to_string()]);

        let other = app
            .get(&format!("/api/v1/resources/{b_resource}"), &reader_a)
            .await;
        other.assert_error(StatusCode::NOT_FOUND, "not_found");

        let own = app
            .get(&format!("/api/v1/resources/{b_resource}"), &reader_b)
            .await;
        assert_eq!(own.status, StatusCode::OK, "{}", own.body);

        let listed = app.get("/api/v1/resources", &reader_b).await;
        assert_eq!(tenants(&listed.body), [b.to_string()]);

        let everyone = app.get("/api/v1/resources", &operator).await;
        assert_eq!(everyone.status, StatusCode::OK, "{}", everyone.body);
        assert_eq!(everyone.body["items"].as_array().expect("items").len(), 6);
    }
    // The one connection, once back in the pool: no transaction, none of a caller's settings.
    let mut conn = app.pool.acquire().await.expect("the connection, returned");
    // A simple query: its statement starts its transaction unless one is already open.
    let row = sqlx::raw_sql(
        "SELECT now() <> statement_timestamp(), current_user::text, \
                nullif(current_setting('azcops.tenant_id', true), '')",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("the connection's state");
    let (in_transaction, role, tenant): (bool, String, Option<String>) =
        (row.get(0), row.get(1), row.get(2));
    assert!(!in_transaction, "no transaction left open");
    assert_ne!(role, "azcops_app", "the caller's role is gone");
    assert_eq!(tenant, None, "the caller's tenant is gone");
}
