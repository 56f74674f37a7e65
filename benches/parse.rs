//! `serde_json`'s plain parse of the lake's raw snapshots (issue 15): the yardstick the
//! handler's CPU per megabyte of Azure responses is compared against by `scripts/bench e2e`
//! and `big` (scripts/bench-run reads the handler's CPU and the snapshots' bytes in the same
//! run, then runs this on the snapshots before the lake is emptied).
//!
//! `BENCH_PARSE_DIR=<folder> cargo bench --bench parse`: every file under the folder is read
//! into memory, then parsed with `serde_json::from_slice::<serde_json::Value>` once per round
//! (`BENCH_PARSE_ROUNDS`, default 3); the best round's wall and CPU time (this process's
//! `utime + stime`) are printed as JSON, and written to `BENCH_OUT` when set. Prints figures,
//! asserts nothing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

/// Linux reports `/proc` times in USER_HZ, which is 100 on every architecture.
const USER_HZ: f64 = 100.0;

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// This process's CPU seconds (user + system).
fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("/proc/self/stat has no `)`")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .context("/proc/self/stat is short")?
            .parse::<f64>()?)
    };
    // After the command: state is field 0, utime 11, stime 12.
    Ok((ticks(11)? + ticks(12)?) / USER_HZ)
}

fn main() -> anyhow::Result<()> {
    let dir =
        PathBuf::from(std::env::var("BENCH_PARSE_DIR").context("BENCH_PARSE_DIR is not set")?);
    let rounds: u32 = std::env::var("BENCH_PARSE_ROUNDS")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(3);
    let mut paths = Vec::new();
    files(&dir, &mut paths)?;
    paths.sort();
    let documents = paths
        .iter()
        .map(std::fs::read)
        .collect::<Result<Vec<_>, _>>()?;
    let bytes: usize = documents.iter().map(Vec::len).sum();
    let mut best: Option<(f64, f64)> = None;
    let mut failed = 0;
    for _ in 0..rounds.max(1) {
        failed = 0;
        let (cpu0, wall0) = (cpu_seconds()?, Instant::now());
        for doc in &documents {
            match serde_json::from_slice::<serde_json::Value>(doc) {
                Ok(value) => drop(std::hint::black_box(value)),
                Err(_) => failed += 1,
            }
        }
        let round = (wall0.elapsed().as_secs_f64(), cpu_seconds()? - cpu0);
        if best.is_none_or(|b| round.1 < b.1) {
            best = Some(round);
        }
    }
    let (wall, cpu) = best.unwrap_or_default();
    let mb = bytes as f64 / 1e6;
    let report = serde_json::json!({
        "files": documents.len(),
        "not_json": failed,
        "bytes": bytes,
        "rounds": rounds,
        "best_wall_s": wall,
        "best_cpu_s": cpu,
        "mb_per_s": if wall > 0.0 { mb / wall } else { 0.0 },
        "cpu_ms_per_mb": if mb > 0.0 { cpu * 1000.0 / mb } else { 0.0 },
    });
    println!("{report}");
    if let Ok(out) = std::env::var("BENCH_OUT") {
        std::fs::write(&out, report.to_string()).with_context(|| format!("writing {out}"))?;
    }
    Ok(())
}
