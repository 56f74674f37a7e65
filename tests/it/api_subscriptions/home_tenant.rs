//! Registration checks the subscription's home tenant with ARM: the simulated Azure serves two
//! customer tenants to one managed identity of the operator (as Azure Lighthouse does), so a
//! customer admin could otherwise pull the other customer's subscription into their tenant.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::sim_azure::{operator_identity, simulator, tenant_bound};
use crate::support::{ADMIN, Reply, TestApp};
use azcops::api::{AppState, Authn};
use azcops::config::Config;
use azcops::db::Database;
use azure_sim::FaultConfig;

const REFUSED: &str = "subscription_not_in_tenant";

async fn register(app: &TestApp, token: &str, body: Value) -> Reply {
    app.post("/api/v1/subscriptions", token, body).await
}

async fn registered(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM subscriptions")
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

/// The error envelope without its correlation id.
fn without_correlation(reply: &Reply) -> Value {
    let mut body = reply.body.clone();
    body["error"]
        .as_object_mut()
        .expect("an error envelope")
        .remove("correlation_id");
    body
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_customer_admin_cannot_register_another_tenants_subscription(pool: PgPool) {
    let sim = simulator(2, 3).await;
    let app = TestApp::with_azure(pool, operator_identity(&sim)).await;
    let (home_a, home_b) = (&sim.estate.tenants()[0], &sim.estate.tenants()[1]);
    let a = app.tenant_of("A", home_a.id).await;
    app.tenant_of("B", home_b.id).await;
    let admin_a = app.token(home_a.id, &[ADMIN]);
    let admin_b = app.token(home_b.id, &[ADMIN]);

    // The managed identity can read B's subscription, but its home tenant is B's.
    let theirs = register(
        &app,
        &admin_a,
        json!({"subscription_id": home_b.subscription_ids[0], "display_name": "theirs"}),
    )
    .await;
    theirs.assert_error(StatusCode::UNPROCESSABLE_ENTITY, REFUSED);
    let nowhere = register(
        &app,
        &admin_a,
        json!({"subscription_id": Uuid::new_v4(), "display_name": "theirs"}),
    )
    .await;
    nowhere.assert_error(StatusCode::UNPROCESSABLE_ENTITY, REFUSED);
    assert_eq!(
        without_correlation(&theirs),
        without_correlation(&nowhere),
        "another tenant's subscription and one that does not exist answer alike"
    );
    let message = theirs.body["error"]["message"].as_str().unwrap_or_default();
    for secret in [
        home_b.id.to_string(),
        home_b.subscription_ids[0].to_string(),
    ] {
        assert!(!message.contains(&secret), "{message}");
    }

    let operator = register(
        &app,
        &app.operator(),
        json!({"tenant_id": a, "subscription_id": home_b.subscription_ids[0], "display_name": "theirs"}),
    )
    .await;
    operator.assert_error(StatusCode::UNPROCESSABLE_ENTITY, REFUSED);
    assert_eq!(registered(&app).await, 0, "nothing was registered");

    let mine = json!({"subscription_id": home_a.subscription_ids[0], "display_name": "mine"});
    let created = register(&app, &admin_a, mine.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["tenant_id"], a.to_string());
    register(&app, &admin_a, mine)
        .await
        .assert_error(StatusCode::CONFLICT, "conflict");

    // B cannot learn that A registered it, nor block it: it is not B's.
    let probe = register(
        &app,
        &admin_b,
        json!({"subscription_id": home_a.subscription_ids[0], "display_name": "probe"}),
    )
    .await;
    probe.assert_error(StatusCode::UNPROCESSABLE_ENTITY, REFUSED);
    assert_eq!(registered(&app).await, 1);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn credentials_bound_to_the_tenant_cannot_see_another_tenants_subscription(pool: PgPool) {
    let sim = simulator(2, 3).await;
    let app = TestApp::with_azure(pool, tenant_bound(&sim)).await;
    let (home_a, home_b) = (&sim.estate.tenants()[0], &sim.estate.tenants()[1]);
    app.tenant_of("A", home_a.id).await;
    let admin_a = app.token(home_a.id, &[ADMIN]);
    let theirs = register(
        &app,
        &admin_a,
        json!({"subscription_id": home_b.subscription_ids[1], "display_name": "theirs"}),
    )
    .await;
    theirs.assert_error(StatusCode::UNPROCESSABLE_ENTITY, REFUSED);
    let mine = register(
        &app,
        &admin_a,
        json!({"subscription_id": home_a.subscription_ids[1], "display_name": "mine"}),
    )
    .await;
    assert_eq!(mine.status, StatusCode::CREATED, "{}", mine.body);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_moved_subscription_belongs_to_its_new_home_only(pool: PgPool) {
    let sim = simulator(2, 3).await;
    let app = TestApp::with_azure(pool, operator_identity(&sim)).await;
    let (home_a, home_b) = (&sim.estate.tenants()[0], &sim.estate.tenants()[1]);
    let a = app.tenant_of("A", home_a.id).await;
    let b = app.tenant_of("B", home_b.id).await;
    let moving = home_a.subscription_ids[1];
    sim.move_subscription(moving, home_b.id).expect("moved");
    let old_home = register(
        &app,
        &app.operator(),
        json!({"tenant_id": a, "subscription_id": moving, "display_name": "moved out"}),
    )
    .await;
    old_home.assert_error(StatusCode::UNPROCESSABLE_ENTITY, REFUSED);
    let new_home = register(
        &app,
        &app.operator(),
        json!({"tenant_id": b, "subscription_id": moving, "display_name": "moved in"}),
    )
    .await;
    assert_eq!(new_home.status, StatusCode::CREATED, "{}", new_home.body);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn registration_without_azure_is_a_503_and_registers_nothing(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (tenant, tid) = app.tenant("A").await;
    let reply = register(
        &app,
        &app.token(tid, &[ADMIN]),
        json!({"subscription_id": Uuid::new_v4(), "display_name": "unverified"}),
    )
    .await;
    reply.assert_error(StatusCode::SERVICE_UNAVAILABLE, "azure_unavailable");
    let operator = register(
        &app,
        &app.operator(),
        json!({"tenant_id": tenant, "subscription_id": Uuid::new_v4(), "display_name": "x"}),
    )
    .await;
    operator.assert_error(StatusCode::SERVICE_UNAVAILABLE, "azure_unavailable");
    assert_eq!(registered(&app).await, 0);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn azure_failing_is_a_503_not_a_refusal(pool: PgPool) {
    let sim = simulator(1, 3).await;
    let app = TestApp::with_azure(pool, operator_identity(&sim)).await;
    let home = &sim.estate.tenants()[0];
    app.tenant_of("A", home.id).await;
    sim.set_faults(FaultConfig {
        rate_5xx: 1.0,
        ..FaultConfig::default()
    })
    .expect("faults");
    let reply = register(
        &app,
        &app.token(home.id, &[ADMIN]),
        json!({"subscription_id": home.subscription_ids[0], "display_name": "mine"}),
    )
    .await;
    reply.assert_error(StatusCode::SERVICE_UNAVAILABLE, "azure_unavailable");
    assert_eq!(registered(&app).await, 0);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_openapi_document_states_the_refusal_and_the_503(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let doc = app
        .call(Method::GET, "/api/openapi.json", None, None)
        .await
        .body;
    let responses = &doc["paths"]["/api/v1/subscriptions"]["post"]["responses"];
    for status in ["201", "409", "422", "503"] {
        assert!(responses[status].is_object(), "{status}: {responses}");
    }
}

#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

/// The state `azcops serve` builds from these Azure settings, without queue or lake.
fn served_state(pool: &PgPool, azure_args: &[&str]) -> AppState {
    let args = ["azcops", "--database-url=postgres://unused"]
        .iter()
        .chain(azure_args);
    let config = <Cli as clap::Parser>::try_parse_from(args)
        .expect("parsing")
        .config;
    let state = AppState::new(Database::from_pool(pool.clone()), Authn::Disabled);
    azcops::server::ingestion(&config, state, |_| None).expect("state")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_api_only_process_still_reaches_azure_for_registration(pool: PgPool) {
    let configured = served_state(
        &pool,
        &[
            "--azure-credential=client-secret",
            "--azure-app-client-id=azcops",
            "--azure-client-secret=s",
        ],
    );
    assert!(
        configured.azure.is_some(),
        "no lake, but Azure is configured"
    );
    assert!(configured.ingestor.is_none());
    let unusable = served_state(
        &pool,
        &[
            "--azure-credential=client-secret",
            "--azure-app-client-id=azcops",
        ],
    );
    assert!(unusable.azure.is_none(), "a client secret is needed");
}
