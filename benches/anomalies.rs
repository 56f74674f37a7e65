//! Anomaly scoring and forecast speed (issue 17): 10,000 generated daily series of 400 points
//! (weekly pattern, trend, 3–15 % noise, labelled events), each detected (robust STL + trailing
//! median + MAD scores) and forecast 92 days ahead with intervals (STL in logs + damped line),
//! as `crate::anomalies` and `GET /api/v1/costs/forecast` do. Generation is not timed.
//!
//! Run with `cargo bench --bench anomalies` (release profile). Prints the wall time on one
//! thread and on all cores (one chunk of series per core); asserts nothing about time.
//! Settings (env): `BENCH_ANOMALY_SERIES` (default 10000), `BENCH_ANOMALY_DAYS` (default 400).

use std::time::Instant;

use azcops::analytics::detect::{Settings, detect_with};
use azcops::analytics::forecast::forecast_after_shift;
use azcops::analytics::seasonal;
use azcops::analytics::synthetic::{Spec, generate};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Detects and forecasts every series; returns (anomalies found, sum of forecasts) so nothing
/// is optimised away.
fn run(series: &[Vec<f64>]) -> (usize, f64) {
    let settings = Settings::default();
    let mut found = 0;
    let mut sum = 0.0;
    for values in series {
        let d = detect_with(values, &seasonal(values), &settings);
        let shift = d
            .anomalies
            .iter()
            .rev()
            .find(|a| a.days() >= 2)
            .map(|a| a.start);
        let f = forecast_after_shift(values, 92, shift);
        found += d.anomalies.len();
        sum += f.mean.iter().sum::<f64>();
    }
    (found, sum)
}

fn main() {
    let count = env("BENCH_ANOMALY_SERIES", 10_000);
    let days = env("BENCH_ANOMALY_DAYS", 400);
    let series: Vec<Vec<f64>> = (0..count as u64)
        .map(|seed| {
            let noise = 0.03 + 0.12 * (seed % 13) as f64 / 12.0;
            generate(&Spec {
                seed,
                days,
                noise,
                events_before: days,
                days_per_event: 45,
            })
            .values
        })
        .collect();
    let started = Instant::now();
    let (found, _) = run(&series);
    let one = started.elapsed();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(cores).max(1);
    let started = Instant::now();
    std::thread::scope(|s| {
        let handles: Vec<_> = series.chunks(chunk).map(|c| s.spawn(|| run(c))).collect();
        for h in handles {
            let _ = h.join();
        }
    });
    let all = started.elapsed();
    println!(
        "anomalies: {count} series x {days} days scored and forecast (92 days, 80/95 % intervals): \
         {:.2} s on 1 thread ({:.0} µs a series), {:.2} s on {cores} threads; {found} anomalies found",
        one.as_secs_f64(),
        one.as_secs_f64() * 1e6 / count as f64,
        all.as_secs_f64()
    );
}
