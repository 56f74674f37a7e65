//! Anomaly scoring and forecast speed (issue 17): 10,000 generated daily series of 400 points
//! (weekly pattern, trend, 3–15 % noise, labelled events), each decomposed once (robust STL in
//! logs), detected (trailing median + MAD scores) and forecast 92 days ahead with intervals
//! (damped line), as `GET /api/v1/costs/forecast` does. Generation is not timed.
//!
//! Run with `cargo bench --bench anomalies` (release profile). Prints the wall time on one
//! thread and on all cores (one chunk of series per core); asserts nothing about time.
//! Settings (env): `BENCH_ANOMALY_SERIES` (default 10000), `BENCH_ANOMALY_DAYS` (default 400).

use std::time::Instant;

use azcops::analytics::Decomposition;
use azcops::analytics::detect::{Settings, detect_with};
use azcops::analytics::forecast::forecast_from;
use azcops::analytics::synthetic::{Spec, generate};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds this process has used (user + system, from `/proc/self/stat`; Linux): on a
/// machine shared with other work the wall time says little, the CPU time what it costs.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command (in parentheses, which may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command; the
    // clock ticks 100 times a second on Linux.
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// Detects and forecasts every series; returns (anomalies found, sum of forecasts) so nothing
/// is optimised away.
fn run(series: &[Vec<f64>]) -> (usize, f64) {
    let settings = Settings::default();
    let mut found = 0;
    let mut sum = 0.0;
    for values in series {
        let dec = Decomposition::of(values);
        let d = detect_with(values, &dec, &settings);
        let shift = d
            .anomalies
            .iter()
            .rev()
            .find(|a| a.days() >= 2)
            .map(|a| a.start);
        let f = forecast_from(&dec, 92, shift);
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
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let (found, _) = run(&series);
    let one = started.elapsed();
    let one_cpu = cpu.zip(cpu_seconds()).map(|(a, b)| b - a);
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
    if let Some(cpu) = one_cpu {
        println!(
            "anomalies: CPU time of the 1-thread run: {cpu:.2} s ({:.0} µs a series): the wall \
             time on an idle core",
            cpu * 1e6 / count as f64
        );
    }
    println!(
        "anomalies: {count} series x {days} days scored and forecast (92 days, 80/95 % intervals): \
         {:.2} s on 1 thread ({:.0} µs a series), {:.2} s on {cores} threads; {found} anomalies found",
        one.as_secs_f64(),
        one.as_secs_f64() * 1e6 / count as f64,
        all.as_secs_f64()
    );
}
