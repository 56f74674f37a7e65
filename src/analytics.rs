//! Cost analytics, pure (no database, no I/O): daily series ([`series`]), anomaly detection
//! ([`detect`]) and forecasts with intervals ([`forecast`]) over them, and a deterministic
//! generator of labelled series with the evaluation that holds the methods to their targets
//! ([`synthetic`]). The database side (which series, storing anomalies, attribution) is
//! `db::anomalies` and `ingestion::anomalies`.

pub mod detect;
pub mod forecast;
pub mod series;
pub mod synthetic;

/// The weekly period of daily cost series.
pub const PERIOD: usize = 7;

/// Series shorter than this get the simple baseline (median of the last 14 days) instead of
/// a seasonal decomposition.
pub const MIN_SEASONAL_DAYS: usize = 21;

/// Days of history the simple baseline and the trailing baseline read.
pub const BASELINE_DAYS: usize = 14;

/// The median of `values` (NaN for none); sorts a copy.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    median_in_place(&mut v)
}

/// The median of `v`, reordering it (NaN for an empty slice).
pub fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let mid = n / 2;
    let (_, upper, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    if n % 2 == 1 {
        return upper;
    }
    let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lower + upper) / 2.0
}

/// A robust standard deviation: 1.4826 × the median absolute deviation from the median (the
/// factor makes it the standard deviation for normal data).
pub fn robust_sd(values: &[f64]) -> f64 {
    let m = median(values);
    let mut dev: Vec<f64> = values
        .iter()
        .filter(|x| !x.is_nan())
        .map(|x| (x - m).abs())
        .collect();
    1.4826 * median_in_place(&mut dev)
}

/// A daily series in logarithms, `ln(max(value, 0) + offset)`, and its weekly component:
/// one decomposition that detection and the forecast share. In logs, cost noise and the weekly
/// swing, which grow with the level, do not; the offset (a hundredth of the median of the
/// positive values) keeps days without cost finite.
#[derive(Debug, Clone)]
pub struct Decomposition {
    pub offset: f64,
    pub logs: Vec<f64>,
    /// The weekly component of `logs` ([`seasonal`]).
    pub seasonal: Vec<f64>,
}

impl Decomposition {
    /// Decomposes `values` (one per day, oldest first).
    pub fn of(values: &[f64]) -> Self {
        let positive: Vec<f64> = values.iter().copied().filter(|v| *v > 0.0).collect();
        let offset = if positive.is_empty() {
            1.0
        } else {
            (0.01 * median(&positive)).max(1e-9)
        };
        let logs: Vec<f64> = values.iter().map(|v| (v.max(0.0) + offset).ln()).collect();
        let seasonal = seasonal(&logs);
        Self {
            offset,
            logs,
            seasonal,
        }
    }

    /// Back from logs.
    pub fn value(&self, log: f64) -> f64 {
        (log.exp() - self.offset).max(0.0)
    }
}

/// The seasonal component of `values` (weekly): robust STL (`stlrs`) when there are at least
/// [`MIN_SEASONAL_DAYS`] points, else zeros. The component is additive.
pub fn seasonal(values: &[f64]) -> Vec<f64> {
    if values.len() < MIN_SEASONAL_DAYS {
        return vec![0.0; values.len()];
    }
    // 13 cycles for the seasonal smoother lets the weekly shape drift slowly with the level;
    // two robustness passes (stlrs defaults to 15) already down-weight spikes and drops, at a
    // seventh of the time (benches/anomalies.rs).
    let fit = stlrs::params()
        .seasonal_length(13)
        .robust(true)
        .outer_loops(2)
        .fit(values, PERIOD);
    match fit {
        Ok(fit) => fit.seasonal().to_vec(),
        Err(_) => vec![0.0; values.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_lengths() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn the_robust_sd_ignores_one_outlier() {
        let v = [10.0, 11.0, 9.0, 10.0, 1000.0, 10.5, 9.5];
        let sd = robust_sd(&v);
        assert!(sd > 0.5 && sd < 1.5, "{sd}");
    }

    #[test]
    fn the_weekly_component_is_found_and_short_series_have_none() {
        let week = [10.0, 10.0, 10.0, 10.0, 10.0, 4.0, 4.0];
        let values: Vec<f64> = (0..56).map(|i| week[i % 7] + 100.0).collect();
        let s = seasonal(&values);
        assert!((s[5] - s[0] + 6.0).abs() < 0.5, "{:?}", &s[..7]);
        assert!(seasonal(&values[..14]).iter().all(|x| *x == 0.0));
    }
}
