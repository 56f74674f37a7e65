//! Azure's shared quotas in PostgreSQL (Cost Management's query budget per tenant, Resource
//! Graph's requests per principal), shared by two "instances" (two budgets with their own pools
//! over one database), with windows shortened by a time scale. Two real handler processes
//! sharing Resource Graph's quota against the simulator: `tests/it/shared_quota.rs`.

use std::sync::Arc;
use std::time::Duration;

use azcops::azure::qpu_budget::{
    QpuBudget, QpuLimits, QpuObservation, RESOURCE_GRAPH_QUOTA, UserQuotaObservation,
};
use azcops::ingestion::qpu_budget::PgQpuBudget;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use super::fakes::{TENANT, TokenServer, client, context, gap, quick_policy, reply, serve};

/// Two budgets over the database of `pool`, each with its own connections.
async fn two_instances(pool: &PgPool, limits: QpuLimits) -> (Arc<PgQpuBudget>, Arc<PgQpuBudget>) {
    two_instances_with(pool, |pool| PgQpuBudget::new(pool, limits)).await
}

/// Two budgets `make` builds over the database of `pool`, each with its own connections.
async fn two_instances_with(
    pool: &PgPool,
    make: impl Fn(PgPool) -> PgQpuBudget,
) -> (Arc<PgQpuBudget>, Arc<PgQpuBudget>) {
    let options = (*pool.connect_options()).clone();
    let other = PgPoolOptions::new()
        .max_connections(5)
        .connect_with(options)
        .await
        .expect("second pool");
    (Arc::new(make(pool.clone())), Arc::new(make(other)))
}

async fn spending(pool: &PgPool) -> Vec<(DateTime<Utc>, i32)> {
    sqlx::query_as(
        "SELECT spent_at, units FROM azure_quota_spend
         WHERE quota = 'cost_management' AND key = $1 ORDER BY spent_at",
    )
    .bind(TENANT)
    .fetch_all(pool)
    .await
    .expect("spending")
}

/// The requests of `principal` the log holds now, by row id.
async fn requests_logged(pool: &PgPool, principal: &str) -> Vec<(i64, (DateTime<Utc>, i32))> {
    let rows: Vec<(i64, DateTime<Utc>, i32)> = sqlx::query_as(
        "SELECT id, spent_at, units FROM azure_quota_spend
         WHERE quota = 'resource_graph' AND key = $1",
    )
    .bind(principal)
    .fetch_all(pool)
    .await
    .expect("requests");
    rows.into_iter().map(|(id, at, n)| (id, (at, n))).collect()
}

/// A principal of the Resource Graph tests.
const PRINCIPAL: &str = "0b1ec7a1-0000-4000-8000-000000000001";

/// The most units spent in any window of `length` ending at a spend.
fn busiest_window(spent: &[(DateTime<Utc>, i32)], length: Duration) -> i32 {
    let length = chrono::Duration::from_std(length).expect("length");
    spent
        .iter()
        .map(|(end, _)| {
            spent
                .iter()
                .filter(|(t, _)| *t > *end - length && t <= end)
                .map(|(_, u)| u)
                .sum()
        })
        .max()
        .unwrap_or(0)
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn two_instances_never_spend_more_than_the_quota_in_any_window(pool: PgPool) {
    // 12 units / 500 ms, 60 / 3 s, 600 / 180 s.
    let limits = QpuLimits::default().scaled(0.05);
    let (a, b) = two_instances(&pool, limits).await;
    let mut tasks = Vec::new();
    for worker in 0..6u32 {
        let budget: Arc<dyn QpuBudget> = if worker % 2 == 0 {
            a.clone()
        } else {
            b.clone()
        };
        tasks.push(tokio::spawn(async move {
            for k in 0..5 {
                budget
                    .acquire(TENANT, 1 + (worker + k) % 3)
                    .await
                    .expect("acquire");
            }
        }));
    }
    for task in tasks {
        task.await.expect("worker");
    }

    let spent = spending(&pool).await;
    assert_eq!(spent.iter().map(|(_, u)| u).sum::<i32>(), 60);
    assert!(busiest_window(&spent, limits.windows[0].length) <= 12);
    assert!(busiest_window(&spent, limits.windows[1].length) <= 60);
    let first_to_last = (spent[spent.len() - 1].0 - spent[0].0)
        .to_std()
        .expect("duration");
    assert!(
        first_to_last >= Duration::from_millis(1500),
        "60 units at 12 per 500 ms took {first_to_last:?}"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn headers_saying_no_queries_are_left_make_the_next_acquire_wait(pool: PgPool) {
    // 12 units / 1 s, 60 / 6 s, 600 / 360 s.
    let limits = QpuLimits::default().scaled(0.1);
    let (a, b) = two_instances(&pool, limits).await;
    assert_eq!(a.acquire(TENANT, 1).await.expect("acquire"), Duration::ZERO);

    let mut observation = QpuObservation {
        charged: 1,
        ..Default::default()
    };
    observation.headers.remaining_10s = Some(0);
    a.observe(TENANT, &observation).await.expect("observe");

    let waited = b.acquire(TENANT, 1).await.expect("acquire");
    assert!(waited >= Duration::from_millis(800), "waited {waited:?}");
    // Another tenant's budget is untouched.
    assert_eq!(
        b.acquire("another-tenant", 1).await.expect("acquire"),
        Duration::ZERO
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_429_seen_by_one_instance_holds_the_tenant_for_all(pool: PgPool) {
    let (a, b) = two_instances(&pool, QpuLimits::default()).await;
    let observation = QpuObservation {
        charged: 1,
        retry_after: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    a.observe(TENANT, &observation).await.expect("observe");

    let waited = b.acquire(TENANT, 1).await.expect("acquire");

    assert!(waited >= Duration::from_millis(900), "waited {waited:?}");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_client_paces_cost_queries_from_the_qpu_headers(pool: PgPool) {
    let azure = serve(|r| async move {
        let remaining = if r.index == 0 { 0 } else { 8 };
        let headers = [
            (
                "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining",
                format!("QueriesPerHour:597,QueriesPerMin:57,QueriesPer10Sec:{remaining}"),
            ),
            (
                "x-ms-ratelimit-microsoft.costmanagement-qpu-consumed",
                "1".to_owned(),
            ),
        ];
        reply(200, &headers, json!({"properties": {"rows": []}}))
    })
    .await;
    let tokens = TokenServer::start().await;
    let budget = Arc::new(PgQpuBudget::new(pool, QpuLimits::default().scaled(0.1)));
    let client = client(&azure.url, &tokens, quick_policy(), budget);
    let ctx = context();
    let url = client
        .arm_url(
            "/subscriptions/s/providers/Microsoft.CostManagement/query",
            &[],
        )
        .expect("url");

    for _ in 0..2 {
        let _: Value = client
            .post_cost_query(&ctx, url.clone(), &json!({}), 1)
            .await
            .expect("query");
    }

    let received = azure.received();
    assert!(gap(&received[0], &received[1]) >= Duration::from_millis(800));
    let stats = ctx.stats.api(azcops::azure::client::Api::CostManagement);
    assert_eq!(stats.qpu_units, 2);
    assert!(stats.throttle_wait_ms >= 800, "{stats:?}");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn two_instances_never_send_more_resource_graph_requests_than_the_quota_in_any_window(
    pool: PgPool,
) {
    // 15 requests / 1 s.
    let window = RESOURCE_GRAPH_QUOTA.scaled(0.2);
    let (a, b) = two_instances_with(&pool, |pool| {
        PgQpuBudget::new(pool, QpuLimits::default()).with_resource_graph_quota(window)
    })
    .await;
    let mut tasks = Vec::new();
    for worker in 0..6 {
        let budget: Arc<dyn QpuBudget> = if worker % 2 == 0 {
            a.clone()
        } else {
            b.clone()
        };
        tasks.push(tokio::spawn(async move {
            for _ in 0..6 {
                budget.acquire_request(PRINCIPAL).await.expect("acquire");
            }
        }));
    }
    // The log forgets requests a window old: read it far more often than that.
    let mut seen = std::collections::BTreeMap::new();
    while !tasks.iter().all(|t| t.is_finished()) {
        seen.extend(requests_logged(&pool, PRINCIPAL).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen.extend(requests_logged(&pool, PRINCIPAL).await);
    for task in tasks {
        task.await.expect("worker");
    }

    let mut sent: Vec<(DateTime<Utc>, i32)> = seen.into_values().collect();
    sent.sort();
    assert_eq!(sent.iter().map(|(_, n)| n).sum::<i32>(), 36);
    assert!(busiest_window(&sent, window.length) <= 15);
    let first_to_last = (sent[sent.len() - 1].0 - sent[0].0)
        .to_std()
        .expect("duration");
    assert!(
        first_to_last >= Duration::from_secs(2),
        "36 requests at 15 per second took {first_to_last:?}"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_resource_graph_quota_used_up_for_one_instance_holds_the_principal_for_all(pool: PgPool) {
    let (a, b) = two_instances(&pool, QpuLimits::default()).await;
    assert_eq!(
        a.acquire_request(PRINCIPAL).await.expect("acquire"),
        Duration::ZERO
    );
    let used_up = UserQuotaObservation {
        remaining: Some(0),
        resets_after: Some(Duration::from_secs(1)),
        retry_after: None,
    };
    let observed = std::time::Instant::now();
    a.observe_user_quota(PRINCIPAL, &used_up)
        .await
        .expect("observe");
    // What Azure counted beyond the log (14 of 15) is booked, to leave it when Azure resets.
    let logged = requests_logged(&pool, PRINCIPAL).await;
    let counted: i32 = logged.iter().map(|(_, (_, n))| n).sum();
    assert_eq!(counted, 15);

    let waited = b.acquire_request(PRINCIPAL).await.expect("acquire");

    let held = observed.elapsed();
    assert!(
        waited > Duration::ZERO && held >= Duration::from_millis(950),
        "waited {waited:?}, {held:?} after the observation"
    );
    // Another principal, and Cost Management's budget under the same key, are not held.
    let other = "0b1ec7a1-0000-4000-8000-000000000002";
    assert_eq!(
        b.acquire_request(other).await.expect("acquire"),
        Duration::ZERO
    );
    assert_eq!(
        b.acquire(PRINCIPAL, 1).await.expect("acquire"),
        Duration::ZERO
    );
}
