//! Anomaly detection over one daily series.
//!
//! 1. The weekly component comes from a robust STL of the series in logs
//!    ([`Decomposition`](super::Decomposition), shared with the forecast); series of fewer than
//!    [`MIN_SEASONAL_DAYS`](super::MIN_SEASONAL_DAYS) days have none (the simple baseline).
//! 2. Each day's baseline is the median of the 14 deseasonalised days before it, plus its own
//!    weekly component (back from logs): causal, so a level shift is not smeared onto the days
//!    before it, and robust to earlier outliers.
//! 3. The relative deviation `r = (actual − expected) / expected` of each scored day is scaled by
//!    the series' robust spread (1.4826 × MAD of all `r`): the robust score `z`.
//! 4. A day is flagged when `|z|`, the relative deviation and the absolute deviation all pass the
//!    tenant's thresholds; a run of [`Settings::shift_days`] days in one direction whose mean
//!    passes a lower per-day bar is flagged too (a level shift too small for any single day).
//! 5. Flagged days of one direction form one anomaly, bridging a single quiet day between
//!    them; two days or more are a level shift.

use serde::{Deserialize, Serialize};

use super::{BASELINE_DAYS, Decomposition, median_in_place, robust_sd};

/// The largest score reported.
pub const MAX_SCORE: f64 = 1000.0;

/// Thresholds (per tenant; the defaults are [`Settings::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Robust score a single day must reach (in robust standard deviations).
    pub z_threshold: f64,
    /// Smallest absolute deviation of a flagged day, in the series' currency.
    pub min_abs_delta: f64,
    /// Smallest relative deviation of a flagged day (0.2 = 20 %).
    pub min_rel_delta: f64,
    /// Days in a row that make a level shift when their mean passes `shift_z`.
    pub shift_days: usize,
    /// Score the mean of `shift_days` days must reach (scaled by √`shift_days`).
    pub shift_z: f64,
    /// Smallest robust spread (relative): a nearly flat series does not alarm on pennies.
    pub min_spread: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            z_threshold: 3.5,
            min_abs_delta: 10.0,
            min_rel_delta: 0.2,
            shift_days: 3,
            shift_z: 3.5,
            min_spread: 0.01,
        }
    }
}

/// Up or down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

/// Which baseline scored the series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// Too short to score (fewer than 15 days).
    None,
    /// Median of the last 14 days, no seasonality.
    Median,
    /// Robust STL weekly component + trailing median.
    Seasonal,
}

/// One detected anomaly: days `start..=end` (indices into the series).
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    /// The day with the largest score.
    pub peak: usize,
    pub direction: Direction,
    /// The peak day's score (signed).
    pub score: f64,
    /// Sum of actual values over the days.
    pub actual: f64,
    /// Sum of expected values over the days.
    pub expected: f64,
}

impl Found {
    /// Days covered.
    pub fn days(&self) -> usize {
        self.end - self.start + 1
    }
}

/// Every day's expected value and score (NaN where not scored), and the anomalies.
#[derive(Debug, Clone)]
pub struct Detection {
    pub baseline: Baseline,
    pub expected: Vec<f64>,
    pub score: Vec<f64>,
    pub anomalies: Vec<Found>,
}

/// Scores `values` (one per day, oldest first) with their decomposition (see
/// [`Decomposition::of`]), and finds the anomalies.
pub fn detect_with(values: &[f64], dec: &Decomposition, s: &Settings) -> Detection {
    let n = values.len();
    let mut expected = vec![f64::NAN; n];
    let mut rel = vec![f64::NAN; n];
    if n <= BASELINE_DAYS {
        return Detection {
            baseline: Baseline::None,
            score: rel.clone(),
            expected,
            anomalies: Vec::new(),
        };
    }
    let seasonal = &dec.seasonal;
    let adjusted: Vec<f64> = dec.logs.iter().zip(seasonal).map(|(l, s)| l - s).collect();
    let mut window = Vec::with_capacity(BASELINE_DAYS);
    for t in BASELINE_DAYS..n {
        window.clear();
        window.extend_from_slice(&adjusted[t - BASELINE_DAYS..t]);
        let e = dec.value(median_in_place(&mut window) + seasonal[t]);
        expected[t] = e;
        rel[t] = (values[t] - e) / e.max(f64::EPSILON);
    }
    let spread = robust_sd(&rel[BASELINE_DAYS..]).max(s.min_spread);
    // A day after days of no cost has an infinite relative change: the score is capped.
    let score: Vec<f64> = rel
        .iter()
        .map(|r| (r / spread).clamp(-MAX_SCORE, MAX_SCORE))
        .collect();
    let flags = flag(values, &expected, &score, spread, s);
    let anomalies = group(values, &expected, &score, &flags);
    let baseline = if seasonal.iter().any(|x| *x != 0.0) {
        Baseline::Seasonal
    } else {
        Baseline::Median
    };
    Detection {
        baseline,
        expected,
        score,
        anomalies,
    }
}

/// [`detect_with`] decomposing the series itself.
pub fn detect(values: &[f64], s: &Settings) -> Detection {
    detect_with(values, &Decomposition::of(values), s)
}

fn sign(z: f64) -> Option<Direction> {
    if z > 0.0 {
        Some(Direction::Up)
    } else if z < 0.0 {
        Some(Direction::Down)
    } else {
        None
    }
}

/// The direction each day is flagged in, if any.
fn flag(
    values: &[f64],
    expected: &[f64],
    score: &[f64],
    spread: f64,
    s: &Settings,
) -> Vec<Option<Direction>> {
    let n = values.len();
    let passes_floors = |t: usize, rel: f64| {
        (values[t] - expected[t]).abs() >= s.min_abs_delta && rel.abs() >= s.min_rel_delta
    };
    let mut flags: Vec<Option<Direction>> = (0..n)
        .map(|t| {
            let z = score[t];
            (z.abs() >= s.z_threshold && passes_floors(t, z * spread))
                .then(|| sign(z))
                .flatten()
        })
        .collect();
    let k = s.shift_days.max(2);
    let bar = s.shift_z / (k as f64).sqrt();
    for t in BASELINE_DAYS..n.saturating_sub(k - 1) {
        let run = &score[t..t + k];
        let mean = run.iter().sum::<f64>() / k as f64;
        let same = run
            .iter()
            .all(|z| z.signum() == mean.signum() && z.abs() >= 1.0);
        let floors = (t..t + k).all(|d| passes_floors(d, score[d] * spread));
        if same && mean.abs() >= bar && floors {
            for f in &mut flags[t..t + k] {
                *f = sign(mean);
            }
        }
    }
    flags
}

/// Groups flagged days into anomalies, bridging one quiet day of the same sign.
fn group(
    values: &[f64],
    expected: &[f64],
    score: &[f64],
    flags: &[Option<Direction>],
) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    for (t, flag) in flags.iter().enumerate() {
        let Some(direction) = *flag else { continue };
        let extend = out.last_mut().filter(|last| {
            last.direction == direction
                && (last.end + 1 == t
                    || (last.end + 2 == t && sign(score[t - 1]) == Some(direction)))
        });
        match extend {
            Some(last) => {
                for d in last.end + 1..=t {
                    last.actual += values[d];
                    last.expected += expected[d];
                }
                last.end = t;
                if score[t].abs() > last.score.abs() {
                    last.peak = t;
                    last.score = score[t];
                }
            }
            None => out.push(Found {
                start: t,
                end: t,
                peak: t,
                direction,
                score: score[t],
                actual: values[t],
                expected: expected[t],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekly(days: usize, level: f64) -> Vec<f64> {
        let week = [1.0, 1.02, 0.98, 1.01, 0.99, 0.7, 0.65];
        (0..days)
            .map(|i| level * week[i % 7] * (1.0 + 0.02 * ((i * 7919) % 13) as f64 / 13.0))
            .collect()
    }

    #[test]
    fn a_spike_on_one_day_is_one_spike_anomaly() {
        let mut v = weekly(60, 1000.0);
        v[40] *= 3.0;
        let d = detect(&v, &Settings::default());
        assert_eq!(d.baseline, Baseline::Seasonal);
        assert_eq!(d.anomalies.len(), 1, "{:?}", d.anomalies);
        let a = &d.anomalies[0];
        assert_eq!((a.start, a.end, a.direction), (40, 40, Direction::Up));
        assert!(a.actual - a.expected > 1200.0);
    }

    #[test]
    fn a_level_shift_is_one_anomaly_of_consecutive_days() {
        let mut v = weekly(70, 1000.0);
        for x in &mut v[45..] {
            *x *= 1.5;
        }
        let d = detect(&v, &Settings::default());
        assert_eq!(d.anomalies.len(), 1, "{:?}", d.anomalies);
        let a = &d.anomalies[0];
        assert_eq!(a.start, 45);
        assert!(a.days() >= 3, "{a:?}");
    }

    #[test]
    fn the_floors_keep_a_small_series_quiet() {
        let mut v = weekly(40, 5.0);
        v[30] *= 3.0;
        assert!(detect(&v, &Settings::default()).anomalies.is_empty());
        let low = Settings {
            min_abs_delta: 1.0,
            ..Settings::default()
        };
        assert_eq!(detect(&v, &low).anomalies.len(), 1);
    }

    #[test]
    fn a_short_series_uses_the_median_baseline_and_a_drop_is_found() {
        let mut v: Vec<f64> = (0..18).map(|i| 500.0 + (i % 3) as f64).collect();
        v[16] = 0.0;
        let d = detect(&v, &Settings::default());
        assert_eq!(d.baseline, Baseline::Median);
        assert_eq!(d.anomalies.len(), 1);
        assert_eq!(d.anomalies[0].direction, Direction::Down);
        assert_eq!(d.anomalies[0].start, 16);
        assert!(detect(&v[..10], &Settings::default()).anomalies.is_empty());
    }
}
