//! The evaluation of issue 17: detection and forecast on generated series, printed and held to
//! the targets (run with `cargo test --lib analytics::synthetic -- --nocapture` to see the
//! figures).

use super::super::detect::{Settings, detect_with};
use super::super::forecast::forecast_from;
use super::super::{BASELINE_DAYS, Decomposition};
use super::*;

/// Settings for generated series: levels start at 50, so the absolute floor is lowered to a
/// cent; the relative floor and the score threshold are the defaults.
fn settings() -> Settings {
    Settings {
        min_abs_delta: 0.01,
        ..Settings::default()
    }
}

fn spec(seed: u64, noise: Option<f64>, min_days: usize) -> Spec {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
    let days = rng.usize(min_days..=400);
    Spec {
        seed,
        days,
        noise: noise.unwrap_or_else(|| 0.03 + 0.12 * rng.f64()),
        events_before: days,
        days_per_event: 45,
    }
}

#[test]
fn detection_meets_the_recall_precision_and_false_alarm_targets() {
    let mut score = DetectionScore::default();
    for seed in 0..500 {
        let series = generate(&spec(seed, None, 30));
        let v = &series.values;
        let d = detect_with(v, &Decomposition::of(v), &settings());
        score.add(&series.events, &d.anomalies, v.len() - BASELINE_DAYS);
    }
    let (spikes, drops, shifts) = (
        score.recall(EventKind::Spike),
        score.recall(EventKind::Drop),
        score.recall(EventKind::LevelShift),
    );
    println!(
        "detection over 500 series (30–400 days, noise 3–15 %): events {:?} (spike, drop, shift); \
         recall spikes {spikes:.3}, drops {drops:.3}, level shifts {shifts:.3}; precision {:.3} \
         ({} of {} detections); false alarms per series-month {:.3}",
        score.events,
        score.precision(),
        score.true_detections,
        score.detections,
        score.false_alarms_per_month()
    );
    assert!(spikes >= 0.9, "spike recall {spikes}");
    assert!(drops >= 0.8, "drop recall {drops}");
    assert!(score.precision() >= 0.8, "precision {}", score.precision());
    assert!(score.false_alarms_per_month() <= 0.5);
}

/// The first day of the last upward or downward run of two days or more.
fn last_shift(found: &[Found]) -> Option<usize> {
    found.iter().rev().find(|f| f.days() >= 2).map(|f| f.start)
}

struct Pooled {
    mape: Vec<f64>,
    mase_below_1: usize,
    series: usize,
    inside_80: usize,
    inside_95: usize,
    days: usize,
}

fn evaluate_forecasts(holdout: usize, noise: Option<f64>, seeds: std::ops::Range<u64>) -> Pooled {
    let mut p = Pooled {
        mape: Vec::new(),
        mase_below_1: 0,
        series: 0,
        inside_80: 0,
        inside_95: 0,
        days: 0,
    };
    for seed in seeds {
        let mut s = spec(seed, noise, (holdout + 23).max(30));
        s.events_before = s.days - holdout - 14;
        let series = generate(&s);
        let (history, actual) = series.values.split_at(s.days - holdout);
        let dec = Decomposition::of(history);
        let found = detect_with(history, &dec, &settings()).anomalies;
        let f = forecast_from(&dec, holdout, last_shift(&found));
        let r = score_forecast(history, actual, &f);
        p.mape.push(r.mape);
        p.mase_below_1 += usize::from(r.mase < 1.0);
        p.series += 1;
        p.inside_80 += r.inside_80;
        p.inside_95 += r.inside_95;
        p.days += r.days;
    }
    p.mape.sort_by(f64::total_cmp);
    p
}

#[test]
fn forecasts_meet_the_mape_mase_and_coverage_targets() {
    let mut all_inside = 0;
    let mut all_days = 0;
    for holdout in [7, 30] {
        let at5 = evaluate_forecasts(holdout, Some(0.05), 0..300);
        let median_mape = at5.mape[at5.mape.len() / 2];
        let mixed = evaluate_forecasts(holdout, None, 1000..1300);
        let mase_share = mixed.mase_below_1 as f64 / mixed.series as f64;
        let cover80 = mixed.inside_80 as f64 / mixed.days as f64;
        let cover95 = mixed.inside_95 as f64 / mixed.days as f64;
        println!(
            "forecast, last {holdout} days held out: median MAPE at 5 % noise {:.2} % (300 series); \
             noise 3–15 % (300 series): MASE < 1 on {:.1} % of series, 80 % interval coverage \
             {:.1} %, 95 % interval coverage {:.1} % (5 % noise: {:.1} %, {:.1} %)",
            100.0 * median_mape,
            100.0 * mase_share,
            100.0 * cover80,
            100.0 * cover95,
            100.0 * at5.inside_80 as f64 / at5.days as f64,
            100.0 * at5.inside_95 as f64 / at5.days as f64,
        );
        assert!(median_mape <= 0.08, "median MAPE {median_mape}");
        assert!(mase_share >= 0.7, "MASE < 1 on {mase_share}");
        assert!((0.75..=0.85).contains(&cover80), "80 % coverage {cover80}");
        all_inside += mixed.inside_80;
        all_days += mixed.days;
    }
    println!(
        "80 % interval coverage, both holdouts: {:.1} %",
        100.0 * all_inside as f64 / all_days as f64
    );
}

#[test]
fn the_generator_is_deterministic_and_labels_its_events() {
    let s = spec(7, Some(0.05), 200);
    let (a, b) = (generate(&s), generate(&s));
    assert_eq!(a.values, b.values);
    assert!(!a.events.is_empty());
    assert!(a.events.iter().all(|e| e.day >= 14 && e.day < s.days));
}
