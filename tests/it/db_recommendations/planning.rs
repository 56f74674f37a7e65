//! The recommendation list's statements: one text per combination of filters, order and cursor;
//! a tenant's list with no other filter is planned once per session ([`Planning::Generic`];
//! issue 15: planning the catch-all list took as long as running it), one filtered on a column
//! its order's index does not hold is planned for its values each time.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::recommendations::Status;
use azcops::db::recommendations::query::{self, RecommendationFilter, RecommendationKey, Sort};
use azcops::db::{self, Database, Page, Planning, Scope, Start, UrlSource};

use crate::support::findings::{Estate, day, finding};

/// A tenant with one open disk finding per name.
async fn tenant_with_findings(pool: &PgPool, names: &[&str]) -> Uuid {
    let estate = Estate::create(pool).await;
    let mut findings = Vec::new();
    for name in names {
        let disk = estate.disk(pool, "rg", name, json!({})).await;
        findings.push(finding("disk.unattached", &disk, "delete"));
    }
    estate
        .evaluate(pool, day(1), &findings, &["disk.unattached"])
        .await;
    estate.tenant
}

/// (generic, custom) plans of the session's prepared list statements whose text has `part`
/// and not `not`.
async fn list_plans(app: &PgPool, part: &str, not: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT coalesce(sum(generic_plans), 0)::bigint, coalesce(sum(custom_plans), 0)::bigint \
         FROM pg_prepared_statements \
         WHERE statement LIKE 'SELECT r.id, r.tenant_id, r.subscription_db_id,%' \
           AND strpos(statement, $1) > 0 AND strpos(statement, $2) = 0",
    )
    .bind(part)
    .bind(not)
    .fetch_one(app)
    .await
    .expect("prepared statements")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_tenants_list_is_planned_once_per_session_a_filtered_one_each_time(pool: PgPool) {
    use sqlx::ConnectOptions;

    let url = SecretString::from(pool.connect_options().to_url_lossy().to_string());
    // One connection, so every list below runs on the same session.
    let database = Database::new(UrlSource::Direct(url), 1, Duration::from_secs(5));
    let app = database.pool().await.expect("the pool");
    let tenants = [
        tenant_with_findings(&pool, &["a", "b", "c"]).await,
        tenant_with_findings(&pool, &["d"]).await,
    ];
    let first: Page<RecommendationKey> = Page {
        size: 2,
        start: Start::Number(1),
        count: false,
    };
    let filter = |tenant: Uuid, status: Option<Status>| RecommendationFilter {
        tenant_id: Some(tenant),
        subscription: None,
        status,
        category: None,
        rule_id: None,
        source: None,
        resource_group: None,
        resource_id: None,
        tag_key: None,
        tag_value: None,
        min_savings: None,
        risk: None,
        include_suppressed: false,
        include_superseded: false,
        sort: Sort::Savings,
        at: day(2),
    };
    // As the API lists: in a transaction planned as `query::list_planning` says.
    let list = |filter: RecommendationFilter, page: Page<RecommendationKey>| async move {
        let tenant = filter.tenant_id.expect("a tenant's list");
        let planning = query::list_planning(&filter, &page);
        let mut tx = db::begin_for_caller_planned(app, Scope::Tenant(tenant), planning)
            .await
            .expect("tx");
        let listed = query::list(&mut tx, &filter, &page).await.expect("list");
        tx.commit().await.expect("commit");
        listed.rows
    };
    assert_eq!(
        query::list_planning(&filter(tenants[0], None), &first),
        Planning::Generic
    );
    assert_eq!(
        query::list_planning(&filter(tenants[0], Some(Status::Open)), &first),
        Planning::EachExecution
    );
    let counted = Page {
        count: true,
        ..first.clone()
    };
    assert_eq!(
        query::list_planning(&filter(tenants[0], None), &counted),
        Planning::EachExecution,
        "the count's statement has optional filters"
    );
    let second_by_number = Page {
        start: Start::Number(2),
        ..first.clone()
    };
    assert_eq!(
        query::list_planning(&filter(tenants[0], None), &second_by_number),
        Planning::EachExecution,
        "an OFFSET's plan depends on it"
    );

    for round in 0..6 {
        let rows = list(filter(tenants[0], None), first.clone()).await;
        assert_eq!(
            rows.len(),
            3,
            "a page of two and the row telling another follows"
        );
        assert!(
            rows.iter().all(|r| r.tenant_id == tenants[0]),
            "round {round}"
        );
        // The next page from the cursor of the second row: the third, the same plan's shape.
        let after = Page {
            start: Start::After(rows[1].key(Sort::Savings)),
            ..first.clone()
        };
        assert_eq!(
            query::list_planning(&filter(tenants[0], None), &after),
            Planning::Generic
        );
        let next = list(filter(tenants[0], None), after).await;
        assert_eq!(
            next.iter().map(|r| r.id).collect::<Vec<_>>(),
            [rows[2].id],
            "round {round}"
        );
        let rows = list(filter(tenants[1], None), first.clone()).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].tenant_id, tenants[1]);
        let open = list(filter(tenants[1], Some(Status::Open)), first.clone()).await;
        assert_eq!(open.len(), 1, "round {round}");
    }
    assert_eq!(
        list_plans(app, "LIMIT 3", "r.status = ").await,
        (18, 0),
        "one generic plan per text (first pages and cursors), for both tenants"
    );
    assert_eq!(
        list_plans(app, "r.status = ", "no such text").await,
        (0, 6),
        "the status filter is planned for its values each time"
    );
}
