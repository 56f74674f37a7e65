//! Upsert throughput (benchmark 3 of issue 7): rows per second into `resources` and
//! `costs_daily` through the crate's own upserts (`db::resources::upsert`,
//! `db::costs::upsert`, inside the same tenant-scoped transactions the pipeline uses, one
//! statement per Resource Graph page or per 1,000 cost rows), compared in the same run with a
//! plain `COPY` of the same rows into an unindexed table with the same columns.
//!
//! The rows are real: an in-process simulated Azure serves the estate and the crate's
//! connectors collect it (Resource Graph pages, Cost Management daily rows), before any timing.
//!
//! Run with `scripts/bench upsert` (or `cargo bench --bench upsert`). It prints figures and
//! writes them as JSON to `$BENCH_OUT` when set; it asserts nothing about time. Settings (env):
//! `BENCH_DATABASE_URL` (a server URL; default `postgres://postgres@127.0.0.1:5432/postgres`;
//! a database `azcops_bench_upsert` is dropped and created there), `BENCH_UPSERT_SUBSCRIPTIONS`
//! (default 10), `BENCH_UPSERT_RESOURCES` (per subscription, default 2000),
//! `BENCH_UPSERT_COST_DAYS` (default 365), `BENCH_UPSERT_ROUNDS` (default 3, the best is kept).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{Days, NaiveDate, Utc};
use futures::TryStreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgConnection, PgPool};
use url::Url;
use uuid::Uuid;

use azcops::azure::client::{AzureClient, CallContext, Endpoints};
use azcops::azure::cost_management::{self, CostScope};
use azcops::azure::credentials::{StaticClientSecret, TokenCache, client_secret_source};
use azcops::azure::qpu_budget::MemoryQpuBudget;
use azcops::azure::resource_graph::{self, Resource};
use azcops::azure::throttle::RetryPolicy;
use azcops::db::costs::NewCostRow;
use azcops::db::resources::NewResource;
use azcops::db::{self, Scope};
use azcops::ingestion::pipeline::BATCH_SIZE;
use azcops::ingestion::rows::{cost_rows, inventory_rows};
use azure_sim::estate::EstateConfig;
use azure_sim::{SimConfig, SimHandle};

const DATABASE: &str = "azcops_bench_upsert";

fn setting(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v.trim().parse().with_context(|| format!("{name}={v}")),
        _ => Ok(default),
    }
}

/// One subscription's rows, as the pipeline hands them to the database.
struct Subscription {
    db_id: Uuid,
    /// Resource Graph pages, each sorted and without duplicates (as the pipeline stores them).
    pages: Vec<Vec<NewResource>>,
    costs: Vec<NewCostRow>,
}

fn azure_for(sim: &SimHandle) -> anyhow::Result<AzureClient> {
    let http = reqwest::Client::new();
    let base = sim.base_url.as_str().trim_end_matches('/');
    let secrets = Arc::new(StaticClientSecret(SecretString::from("bench")));
    let source = client_secret_source(
        http.clone(),
        sim.base_url.clone(),
        "azcops-bench".into(),
        secrets,
    );
    let mut endpoints = Endpoints::new(
        Url::parse(base)?,
        format!("{base}/monitor/{{region}}"),
        "https://metrics.monitor.azure.com/.default",
    );
    endpoints.arm_scope = "https://management.azure.com/.default".into();
    let endpoints = endpoints.with_retail_prices(Url::parse(&format!("{base}/api/retail/prices"))?);
    Ok(AzureClient::new(
        http,
        TokenCache::new(source),
        endpoints,
        RetryPolicy::default(),
        Arc::new(MemoryQpuBudget::default()),
    ))
}

/// A fresh database with the migrations applied.
async fn fresh_database(server: &str) -> anyhow::Result<PgPool> {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(server)
        .await
        .with_context(|| format!("connecting to {server}"))?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"
        )))
        .await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
        .await?;
    admin.close().await;
    let mut url = Url::parse(server)?;
    url.set_path(DATABASE);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(url.as_str())
        .await?;
    db::MIGRATOR.run(&pool).await?;
    // The COPY targets: the same columns, defaults and NOT NULLs, no index, no constraint,
    // no trigger, no row-level security.
    pool.execute(
        "CREATE TABLE copy_resources (LIKE resources INCLUDING DEFAULTS);
         CREATE TABLE copy_costs_daily (LIKE costs_daily INCLUDING DEFAULTS);",
    )
    .await?;
    Ok(pool)
}

/// Collects every subscription's inventory pages and costs from the simulator.
async fn collect(
    pool: &PgPool,
    sim: &SimHandle,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<(Uuid, Vec<Subscription>)> {
    let azure = azure_for(sim)?;
    let tenant = &sim.estate.tenants()[0];
    let tenant_id: Uuid = sqlx::query_scalar(
        "INSERT INTO tenants (name, azure_tenant_id) VALUES ($1, $2) RETURNING id",
    )
    .bind(&tenant.name)
    .bind(tenant.id)
    .fetch_one(pool)
    .await?;
    let mut subscriptions = Vec::new();
    for sub in sim.estate.subscriptions_of(tenant.id) {
        let db_id: Uuid = sqlx::query_scalar(
            "INSERT INTO subscriptions (tenant_id, subscription_id, display_name) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(tenant_id)
        .bind(sub.id)
        .bind(&sub.display_name)
        .fetch_one(pool)
        .await?;
        let id = sub.id.to_string();
        let ctx = CallContext::new(tenant.id.to_string()).with_subscription(id.clone());
        let mut pages: Vec<Vec<Resource>> =
            resource_graph::inventory_pages(&azure, &ctx, std::slice::from_ref(&id))
                .try_collect()
                .await?;
        for page in &mut pages {
            page.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
            page.dedup_by(|a, b| a.resource_id == b.resource_id);
        }
        let scope = CostScope::for_subscription(&id, None)?;
        let costs = cost_management::collect_range(&azure, &ctx, &scope, from, to).await?;
        subscriptions.push(Subscription {
            db_id,
            pages: pages.into_iter().map(inventory_rows).collect(),
            costs: cost_rows(costs),
        });
    }
    Ok((tenant_id, subscriptions))
}

/// COPY's text format: `\N` for NULL, and backslash, tab, newline and carriage return escaped.
fn field(out: &mut String, value: Option<&str>) {
    match value {
        None => out.push_str("\\N"),
        Some(text) => {
            for c in text.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '\t' => out.push_str("\\t"),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    c => out.push(c),
                }
            }
        }
    }
}

fn line(out: &mut String, fields: &[Option<&str>]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push('\t');
        }
        field(out, *f);
    }
    out.push('\n');
}

async fn copy(conn: &mut PgConnection, statement: &str, data: String) -> anyhow::Result<()> {
    let mut copy = conn.copy_in_raw(statement).await?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await?;
    Ok(())
}

/// How one way of writing the rows went.
#[derive(Debug, Clone, Copy)]
struct Timing {
    rows: u64,
    written: u64,
    elapsed: Duration,
}

impl Timing {
    fn rate(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// The faster of two timings.
fn best(a: Option<Timing>, b: Timing) -> Timing {
    match a {
        Some(a) if a.elapsed <= b.elapsed => a,
        _ => b,
    }
}

async fn clear(pool: &PgPool) -> anyhow::Result<()> {
    pool.execute(
        "TRUNCATE resources CASCADE; TRUNCATE costs_daily; TRUNCATE copy_resources; TRUNCATE copy_costs_daily;",
    )
    .await?;
    // Timings start from the same state: statistics fresh, dead tuples gone, dirty pages flushed.
    pool.execute("VACUUM ANALYZE resources, costs_daily, copy_resources, copy_costs_daily")
        .await?;
    pool.execute("CHECKPOINT").await?;
    Ok(())
}

/// `db::resources::upsert` of every page, one tenant-scoped transaction per subscription.
async fn upsert_resources(
    pool: &PgPool,
    tenant: Uuid,
    subs: &[Subscription],
    seen_at: chrono::DateTime<Utc>,
) -> anyhow::Result<Timing> {
    let rows = subs
        .iter()
        .flat_map(|s| &s.pages)
        .map(|p| p.len() as u64)
        .sum();
    let started = Instant::now();
    let mut written = 0;
    for sub in subs {
        let mut tx = db::begin(pool, Scope::Tenant(tenant)).await?;
        for page in &sub.pages {
            written += db::resources::upsert(&mut tx, tenant, sub.db_id, seen_at, page).await?;
        }
        tx.commit().await?;
    }
    Ok(Timing {
        rows,
        written,
        elapsed: started.elapsed(),
    })
}

/// The same rows, one COPY per page, one transaction per subscription.
async fn copy_resources(
    pool: &PgPool,
    tenant: Uuid,
    subs: &[Subscription],
    seen_at: chrono::DateTime<Utc>,
) -> anyhow::Result<Timing> {
    let rows = subs
        .iter()
        .flat_map(|s| &s.pages)
        .map(|p| p.len() as u64)
        .sum();
    let started = Instant::now();
    let (tenant, seen) = (tenant.to_string(), seen_at.to_rfc3339());
    for sub in subs {
        let db_id = sub.db_id.to_string();
        let mut tx = pool.begin().await?;
        for page in &sub.pages {
            let mut data = String::new();
            for r in page {
                let json = |v: &Option<Value>| v.as_ref().map(Value::to_string);
                let tags = r.tags.to_string();
                let (sku, properties) = (json(&r.sku), json(&r.properties));
                let (location, group) = (&r.location, &r.resource_group);
                line(
                    &mut data,
                    &[
                        Some(&tenant),
                        Some(&db_id),
                        Some(&r.resource_id),
                        Some(&r.name),
                        Some(&r.resource_type),
                        r.kind.as_deref(),
                        location.as_deref(),
                        group.as_deref(),
                        sku.as_deref(),
                        Some(&tags),
                        properties.as_deref(),
                        Some(&seen),
                        Some(&seen),
                    ],
                );
            }
            copy(
                &mut tx,
                "COPY copy_resources (tenant_id, subscription_db_id, resource_id, name, type, kind, location, \
                 resource_group, sku, tags, properties, first_seen_at, last_seen_at) FROM STDIN",
                data,
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(Timing {
        rows,
        written: rows,
        elapsed: started.elapsed(),
    })
}

/// `db::costs::upsert` in batches of [`BATCH_SIZE`], one tenant-scoped transaction per subscription.
async fn upsert_costs(
    pool: &PgPool,
    tenant: Uuid,
    subs: &[Subscription],
) -> anyhow::Result<Timing> {
    let rows = subs.iter().map(|s| s.costs.len() as u64).sum();
    let started = Instant::now();
    let mut written = 0;
    for sub in subs {
        let mut tx = db::begin(pool, Scope::Tenant(tenant)).await?;
        for batch in sub.costs.chunks(BATCH_SIZE) {
            written += db::costs::upsert(&mut tx, tenant, sub.db_id, batch).await?;
        }
        tx.commit().await?;
    }
    Ok(Timing {
        rows,
        written,
        elapsed: started.elapsed(),
    })
}

async fn copy_costs(pool: &PgPool, tenant: Uuid, subs: &[Subscription]) -> anyhow::Result<Timing> {
    let rows = subs.iter().map(|s| s.costs.len() as u64).sum();
    let started = Instant::now();
    let tenant = tenant.to_string();
    for sub in subs {
        let db_id = sub.db_id.to_string();
        let mut tx = pool.begin().await?;
        for batch in sub.costs.chunks(BATCH_SIZE) {
            let mut data = String::new();
            for c in batch {
                let (date, cost, amortized) = (
                    c.date.to_string(),
                    c.cost.to_string(),
                    c.amortized_cost.to_string(),
                );
                line(
                    &mut data,
                    &[
                        Some(&tenant),
                        Some(&db_id),
                        Some(&date),
                        Some(&c.resource_group),
                        Some(&c.service_name),
                        Some(&c.meter_category),
                        Some(&cost),
                        Some(&amortized),
                        Some(&c.currency),
                    ],
                );
            }
            copy(
                &mut tx,
                "COPY copy_costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name, \
                 meter_category, cost, amortized_cost, currency) FROM STDIN",
                data,
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(Timing {
        rows,
        written: rows,
        elapsed: started.elapsed(),
    })
}

fn timing_json(t: &Timing) -> Value {
    json!({
        "rows": t.rows,
        "rows_written": t.written,
        "seconds": t.elapsed.as_secs_f64(),
        "rows_per_sec": t.rate(),
    })
}

async fn run() -> anyhow::Result<()> {
    let server = std::env::var("BENCH_DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let subscriptions = usize::try_from(setting("BENCH_UPSERT_SUBSCRIPTIONS", 10)?)?;
    let resources = usize::try_from(setting("BENCH_UPSERT_RESOURCES", 2000)?)?;
    let cost_days = u32::try_from(setting("BENCH_UPSERT_COST_DAYS", 365)?)?;
    let rounds = setting("BENCH_UPSERT_ROUNDS", 3)?.max(1);

    let sim = azure_sim::start(SimConfig {
        estate: EstateConfig {
            tenants: 1,
            subscriptions_per_tenant: subscriptions,
            resources_per_subscription: resources,
            cost_days,
            ..EstateConfig::default()
        },
        throttling: false,
        ..SimConfig::default()
    })
    .await?;
    let pool = fresh_database(&server).await?;
    let today = sim.estate.today();
    let to = today.checked_sub_days(Days::new(1)).context("yesterday")?;
    let from = today
        .checked_sub_days(Days::new(u64::from(cost_days.min(366))))
        .context("first day")?;
    eprintln!(
        "upsert: collecting {subscriptions} subscriptions x {resources} resources and {from}..={to} of costs from the simulator"
    );
    let (tenant, subs) = collect(&pool, &sim, from, to).await?;
    let seen_at = Utc::now();
    let next_day = seen_at + chrono::Duration::days(1);

    let (mut r_insert, mut r_redeliver, mut r_next_day, mut r_copy) = (None, None, None, None);
    let (mut c_insert, mut c_redeliver, mut c_copy) = (None, None, None);
    for round in 1..=rounds {
        clear(&pool).await?;
        // COPY first and upsert second in odd rounds, the other way round in even ones.
        let copy_first = round % 2 == 1;
        if copy_first {
            r_copy = Some(best(
                r_copy,
                copy_resources(&pool, tenant, &subs, seen_at).await?,
            ));
            c_copy = Some(best(c_copy, copy_costs(&pool, tenant, &subs).await?));
        }
        let insert = upsert_resources(&pool, tenant, &subs, seen_at).await?;
        r_insert = Some(best(r_insert, insert));
        let insert = upsert_costs(&pool, tenant, &subs).await?;
        c_insert = Some(best(c_insert, insert));
        // A redelivery of the same message: same rows, same time; nothing is rewritten.
        r_redeliver = Some(best(
            r_redeliver,
            upsert_resources(&pool, tenant, &subs, seen_at).await?,
        ));
        c_redeliver = Some(best(c_redeliver, upsert_costs(&pool, tenant, &subs).await?));
        // The next daily run: same resources seen a day later, so every row's last_seen_at changes.
        r_next_day = Some(best(
            r_next_day,
            upsert_resources(&pool, tenant, &subs, next_day).await?,
        ));
        if !copy_first {
            r_copy = Some(best(
                r_copy,
                copy_resources(&pool, tenant, &subs, seen_at).await?,
            ));
            c_copy = Some(best(c_copy, copy_costs(&pool, tenant, &subs).await?));
        }
        eprintln!("upsert: round {round}/{rounds} done");
    }
    let get = |t: Option<Timing>| t.context("no round ran");
    let (r_insert, r_redeliver, r_next_day, r_copy) = (
        get(r_insert)?,
        get(r_redeliver)?,
        get(r_next_day)?,
        get(r_copy)?,
    );
    let (c_insert, c_redeliver, c_copy) = (get(c_insert)?, get(c_redeliver)?, get(c_copy)?);

    let mut out = String::new();
    writeln!(
        out,
        "upsert throughput ({subscriptions} subscriptions, {} resources, {} cost rows; best of {rounds})",
        r_insert.rows, c_insert.rows
    )?;
    let row = |out: &mut String, what: &str, t: &Timing, copy: &Timing| -> std::fmt::Result {
        writeln!(
            out,
            "  {what:<48} {:>9.0} rows/s  {:>7.3} s  ({} written)  {:.2}x COPY",
            t.rate(),
            t.elapsed.as_secs_f64(),
            t.written,
            t.rate() / copy.rate()
        )
    };
    row(
        &mut out,
        "resources: COPY into an unindexed table",
        &r_copy,
        &r_copy,
    )?;
    row(&mut out, "resources: upsert, new rows", &r_insert, &r_copy)?;
    row(
        &mut out,
        "resources: upsert, next day (all last_seen_at)",
        &r_next_day,
        &r_copy,
    )?;
    row(
        &mut out,
        "resources: upsert, redelivery (no change)",
        &r_redeliver,
        &r_copy,
    )?;
    row(
        &mut out,
        "costs_daily: COPY into an unindexed table",
        &c_copy,
        &c_copy,
    )?;
    row(
        &mut out,
        "costs_daily: upsert, new rows",
        &c_insert,
        &c_copy,
    )?;
    row(
        &mut out,
        "costs_daily: upsert, redelivery (no change)",
        &c_redeliver,
        &c_copy,
    )?;
    print!("{out}");

    let report = json!({
        "subscriptions": subscriptions,
        "resources_per_subscription": resources,
        "cost_days": cost_days,
        "rounds": rounds,
        "batch_size": BATCH_SIZE,
        "resources": {
            "copy": timing_json(&r_copy),
            "upsert_new": timing_json(&r_insert),
            "upsert_next_day": timing_json(&r_next_day),
            "upsert_redelivery": timing_json(&r_redeliver),
            "ratio_new_vs_copy": r_insert.rate() / r_copy.rate(),
            "ratio_next_day_vs_copy": r_next_day.rate() / r_copy.rate(),
        },
        "costs_daily": {
            "copy": timing_json(&c_copy),
            "upsert_new": timing_json(&c_insert),
            "upsert_redelivery": timing_json(&c_redeliver),
            "ratio_new_vs_copy": c_insert.rate() / c_copy.rate(),
        },
    });
    if let Ok(path) = std::env::var("BENCH_OUT")
        && !path.trim().is_empty()
    {
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {path}"))?;
    }
    pool.close().await;
    sim.shutdown().await;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run())
}
