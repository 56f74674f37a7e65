//! The resource list's statements: one text per combination of filters; those whose best plan
//! is the same for every value are planned once per session ([`Planning::Generic`]; issue 15:
//! planning the catch-all list on every request was half of PostgreSQL's time for it).

use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::resources::{self, NewResource, ResourceFilter};
use azcops::db::{self, Database, Page, Planning, Scope, Start, UrlSource};

use crate::support::tenant_and_subscription;

const VM: &str = "microsoft.compute/virtualmachines";

/// A tenant with one subscription of `names` VMs in westeurope (and one disk).
async fn tenant_with_vms(pool: &PgPool, names: &[&str]) -> Uuid {
    let (tenant, sub) = tenant_and_subscription(pool).await;
    let resource = |name: &str, kind: &str| NewResource {
        resource_id: format!("/subscriptions/{sub}/resourcegroups/rg/providers/{kind}/{name}"),
        name: name.to_owned(),
        resource_type: kind.to_owned(),
        kind: None,
        location: Some("westeurope".into()),
        resource_group: Some("rg".into()),
        sku: None,
        tags: json!({"env": "prod"}),
        properties: None,
    };
    let mut rows: Vec<NewResource> = names.iter().map(|n| resource(n, VM)).collect();
    rows.push(resource("disk", "microsoft.compute/disks"));
    let mut tx = db::begin(pool, Scope::Tenant(tenant)).await.expect("tx");
    resources::upsert(&mut tx, tenant, sub, Utc::now(), &rows)
        .await
        .expect("resources");
    tx.commit().await.expect("commit");
    tenant
}

/// (generic, custom) plans of the session's prepared list statements whose text has `part`.
async fn list_plans(app: &PgPool, part: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT coalesce(sum(generic_plans), 0)::bigint, coalesce(sum(custom_plans), 0)::bigint \
         FROM pg_prepared_statements \
         WHERE statement LIKE 'SELECT r.id, r.tenant_id, r.subscription_db_id,%' \
           AND strpos(statement, $1) > 0",
    )
    .bind(part)
    .fetch_one(app)
    .await
    .expect("prepared statements")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_type_and_location_list_is_planned_once_per_session_a_tag_list_each_time(pool: PgPool) {
    use sqlx::ConnectOptions;

    let url = SecretString::from(pool.connect_options().to_url_lossy().to_string());
    // One connection, so every list below runs on the same session.
    let database = Database::new(UrlSource::Direct(url), 1, Duration::from_secs(5));
    let app = database.pool().await.expect("the pool");
    let tenants = [
        tenant_with_vms(&pool, &["a", "b", "c"]).await,
        tenant_with_vms(&pool, &["d"]).await,
    ];
    let page = Page {
        size: 2,
        start: Start::Number(1),
        count: false,
    };
    // As the API lists: in a transaction planned as `resources::planning` says.
    let list = |filter: ResourceFilter| {
        let page = page.clone();
        async move {
            let tenant = filter.tenant_id.expect("a tenant's list");
            let planning = resources::planning(&filter, &page);
            let mut tx = db::begin_for_caller_planned(app, Scope::Tenant(tenant), planning)
                .await
                .expect("tx");
            let listed = resources::list(&mut tx, &filter, &page)
                .await
                .expect("list");
            tx.commit().await.expect("commit");
            listed
                .rows
                .iter()
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
        }
    };
    let vms_in_region = |tenant: Uuid| ResourceFilter {
        tenant_id: Some(tenant),
        resource_type: Some(VM.into()),
        location: Some("westeurope".into()),
        ..ResourceFilter::default()
    };
    let tagged = |tenant: Uuid| ResourceFilter {
        tenant_id: Some(tenant),
        tag_key: Some("env".into()),
        tag_value: Some("prod".into()),
        ..ResourceFilter::default()
    };
    let planning = |filter: &ResourceFilter, page: &Page<_>| resources::planning(filter, page);
    assert_eq!(
        planning(&vms_in_region(tenants[0]), &page),
        Planning::Generic
    );
    assert_eq!(
        planning(&tagged(tenants[0]), &page),
        Planning::EachExecution
    );
    let type_only = ResourceFilter {
        location: None,
        ..vms_in_region(tenants[0])
    };
    assert_eq!(planning(&type_only, &page), Planning::EachExecution);
    let page_three = Page {
        start: Start::Number(3),
        ..page.clone()
    };
    assert_eq!(
        planning(&vms_in_region(tenants[0]), &page_three),
        Planning::EachExecution,
        "an OFFSET's plan depends on it"
    );

    for round in 0..6 {
        assert_eq!(
            list(vms_in_region(tenants[0])).await,
            ["a", "b", "c"],
            "a page of two and the row telling another follows"
        );
        assert_eq!(
            list(vms_in_region(tenants[1])).await,
            ["d"],
            "round {round}"
        );
        assert_eq!(list(tagged(tenants[1])).await, ["disk", "d"]);
    }
    assert_eq!(
        list_plans(app, "r.location = ").await,
        (12, 0),
        "one generic plan, for both tenants"
    );
    assert_eq!(
        list_plans(app, "r.tags @> ").await,
        (0, 6),
        "the tag filter is planned for its values each time"
    );
}
