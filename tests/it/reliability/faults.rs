//! Faults: the same estate ingested twice into two databases and two lakes, once fault-free and
//! once with the simulator injecting 10 % server errors, 5 % 429s, 1 % connection resets and
//! 1 % truncated bodies. Every subscription must end succeeded, with the same rows and the
//! same raw snapshots.

use azure_sim::FaultConfig;
use azure_sim::faults::{Fault, Faults};
use azure_sim::stats::FaultCounts;

use crate::support::pipeline::{
    Pipeline, Rows, ScratchDb, responses_by_status, simulator, snapshots,
};

const SUBSCRIPTIONS: usize = 20;
/// Messages in flight at once, as `host.json`'s batchSize 4 + newBatchThreshold 2 allow.
const CONCURRENCY: usize = 6;

/// Ingests the whole estate through `pipeline`: the daily timer, then every message until done.
async fn ingest(pipeline: &Pipeline) -> u32 {
    pipeline.fire_daily().await;
    let texts = pipeline.drain().await;
    assert_eq!(texts.len(), SUBSCRIPTIONS, "one message per subscription");
    let delivered = pipeline.process(&texts, CONCURRENCY).await;
    assert_eq!(
        pipeline.item_statuses().await,
        vec!["succeeded"; SUBSCRIPTIONS],
        "every subscription ends succeeded"
    );
    delivered.iter().map(|d| d.deliveries).sum()
}

/// The first seed whose first `draws` draws at `rates` hold at least two faults of each kind,
/// so that a run of at least that many requests meets every kind (the rates alone would leave
/// a 1 % fault out of some runs of this size).
fn seed_with_every_fault(rates: &FaultConfig, draws: u64) -> u64 {
    (1..10_000)
        .find(|&seed| {
            let faults = Faults::new(FaultConfig {
                seed,
                ..rates.clone()
            });
            let mut seen = [0_u32; 4];
            for _ in 0..draws {
                match faults.draw().0 {
                    Fault::ServerError(_) => seen[0] += 1,
                    Fault::TooManyRequests => seen[1] += 1,
                    Fault::Reset => seen[2] += 1,
                    Fault::Truncate { .. } => seen[3] += 1,
                    Fault::None => {}
                }
            }
            seen.iter().all(|&n| n >= 2)
        })
        .expect("a seed drawing every kind of fault")
}

#[tokio::test]
async fn twenty_subscriptions_under_injected_faults_end_with_the_rows_and_snapshots_of_a_clean_run()
{
    let sim = simulator(SUBSCRIPTIONS, 40).await;

    let clean_db = ScratchDb::create().await;
    let clean = Pipeline::new(clean_db.pool.clone(), &sim).await;
    let clean_deliveries = ingest(&clean).await;
    assert_eq!(
        sim.stats().faults,
        FaultCounts::default(),
        "the reference run is fault-free"
    );
    let clean_requests = sim.stats().requests.total();
    // Token requests draw no fault; every other request draws one.
    let faultable = clean_requests - sim.stats().requests.token;
    let expected_rows = Rows::of(&clean.pool).await;
    let expected_snapshots = snapshots(&clean.lake).await;
    assert_eq!(
        expected_rows.resources.len(),
        SUBSCRIPTIONS * 40,
        "the whole inventory"
    );
    assert!(!expected_rows.costs.is_empty() && !expected_rows.recommendations.is_empty());
    assert_eq!(expected_snapshots.len(), SUBSCRIPTIONS * 4);

    sim.reset();
    let rates = FaultConfig {
        rate_5xx: 0.10,
        rate_429: 0.05,
        rate_reset: 0.01,
        rate_truncate: 0.01,
        ..FaultConfig::default()
    };
    let seed = seed_with_every_fault(&rates, faultable);
    sim.set_faults(FaultConfig { seed, ..rates })
        .expect("faults");
    let faulty_db = ScratchDb::create().await;
    let faulty = Pipeline::new(faulty_db.pool.clone(), &sim).await;
    let faulty_deliveries = ingest(&faulty).await;
    let stats = sim.stats();
    sim.set_faults(FaultConfig::default()).expect("no faults");

    let rows = Rows::of(&faulty.pool).await;
    assert_eq!(
        rows.resources, expected_rows.resources,
        "resources as in the clean run"
    );
    assert_eq!(rows.costs, expected_rows.costs, "costs as in the clean run");
    assert_eq!(
        rows.recommendations, expected_rows.recommendations,
        "recommendations as in the clean run"
    );
    let got_snapshots = snapshots(&faulty.lake).await;
    assert_eq!(
        got_snapshots.keys().collect::<Vec<_>>(),
        expected_snapshots.keys().collect::<Vec<_>>(),
        "the same snapshot paths"
    );
    for (path, expected) in &expected_snapshots {
        assert_eq!(&got_snapshots[path], expected, "snapshot {path}");
    }

    let injected = stats.faults;
    assert!(
        injected.server_error > 0
            && injected.too_many_requests > 0
            && injected.reset > 0
            && injected.truncate > 0,
        "the faulty run repeats the clean run's {faultable} requests, whose draws hold every kind of fault: {injected:?}"
    );
    let total =
        injected.server_error + injected.too_many_requests + injected.reset + injected.truncate;
    eprintln!(
        "reliability/faults: {SUBSCRIPTIONS} subscriptions, fault seed {seed}; clean run {clean_requests} Azure requests, \
         {clean_deliveries} deliveries; faulty run {} Azure requests, {faulty_deliveries} deliveries; \
         faults injected and survived: {total} ({} 5xx, {} 429, {} resets, {} truncated bodies); \
         responses by status {:?}; rows compared {}, rows lost 0; snapshots compared {}",
        stats.requests.total(),
        injected.server_error,
        injected.too_many_requests,
        injected.reset,
        injected.truncate,
        responses_by_status(&sim),
        rows.total(),
        got_snapshots.len(),
    );
}
