//! Forecast of one daily series with 80 % and 95 % intervals.
//!
//! The series is modelled in logarithms (`ln(value + c)`, `c` a hundredth of the median so that
//! zero days stay finite): cost noise and the weekly swing grow with the level, and in logs they
//! do not. With at least [`MIN_SEASONAL_DAYS`](super::MIN_SEASONAL_DAYS) days the robust STL
//! weekly component is removed, a straight line is fitted to the last [`FIT_DAYS`]
//! deseasonalised days (least squares, refitted once without the points beyond 3.5 robust
//! standard deviations), and the forecast is the line with a damped slope ([`DAMPING`] a day)
//! plus the last week's component. Fewer days: the median of the last 14 days, flat.
//!
//! Intervals: each day's own noise (the robust spread of the fit's residuals) and the line's
//! parameter uncertainty (least-squares theory), common to all days, so a sum over days (the
//! month-end total) carries it in full while the daily noise partly cancels. Day intervals are
//! log-normal; a sum's interval is normal with the delta-method spread.

use super::{BASELINE_DAYS, Decomposition, MIN_SEASONAL_DAYS, PERIOD, median, robust_sd};

/// Days the trend line is fitted to.
pub const FIT_DAYS: usize = 56;
/// The slope's damping per day ahead.
pub const DAMPING: f64 = 0.98;
/// Longest horizon.
pub const MAX_HORIZON: usize = 92;

/// Normal quantiles of the two-sided 80 % and 95 % intervals.
const Z80: f64 = 1.281_551_565_5;
const Z95: f64 = 1.959_963_985;

/// How the forecast was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// No history at all.
    None,
    /// Median of the last 14 days.
    SeasonalMedian,
    /// STL + damped trend line.
    StlTrend,
}

impl Method {
    /// The name the API shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::None => "none",
            Method::SeasonalMedian => "seasonal_median",
            Method::StlTrend => "stl_ets",
        }
    }
}

/// A two-sided interval level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    P80,
    P95,
}

impl Level {
    fn z(self) -> f64 {
        match self {
            Level::P80 => Z80,
            Level::P95 => Z95,
        }
    }
}

/// The forecast of days `1..=horizon` after the last one given.
#[derive(Debug, Clone)]
pub struct Forecast {
    pub method: Method,
    /// The point forecast (the median) of each day.
    pub mean: Vec<f64>,
    /// Each day's forecast in logs.
    log_mean: Vec<f64>,
    /// Each day's own (independent) standard deviation, in logs.
    noise_sd: Vec<f64>,
    /// Each day's common (parameter) standard deviation, in logs: fully correlated.
    common_sd: Vec<f64>,
    /// The offset added before taking logs.
    offset: f64,
}

impl Forecast {
    fn new(method: Method, offset: f64) -> Self {
        Self {
            method,
            mean: Vec::new(),
            log_mean: Vec::new(),
            noise_sd: Vec::new(),
            common_sd: Vec::new(),
            offset,
        }
    }

    fn push(&mut self, log_mean: f64, noise_sd: f64, common_sd: f64) {
        self.mean.push((log_mean.exp() - self.offset).max(0.0));
        self.log_mean.push(log_mean);
        self.noise_sd.push(noise_sd);
        self.common_sd.push(common_sd);
    }

    /// Days forecast.
    pub fn horizon(&self) -> usize {
        self.mean.len()
    }

    /// The interval of day `h` (0-based), never below zero.
    pub fn interval(&self, h: usize, level: Level) -> (f64, f64) {
        let half = level.z() * self.noise_sd[h].hypot(self.common_sd[h]);
        let at = |x: f64| (x.exp() - self.offset).max(0.0);
        (at(self.log_mean[h] - half), at(self.log_mean[h] + half))
    }

    /// The sum of days `range` (0-based) and its interval.
    pub fn sum(&self, range: std::ops::Range<usize>, level: Level) -> (f64, f64, f64) {
        let range = range.start.min(self.horizon())..range.end.min(self.horizon());
        let (mut mean, mut noise, mut common) = (0.0, 0.0, 0.0);
        for h in range {
            // The delta method: d exp(x) = exp(x) dx.
            let scale = self.log_mean[h].exp();
            mean += self.mean[h];
            noise += (scale * self.noise_sd[h]).powi(2);
            common += scale * self.common_sd[h];
        }
        let half = level.z() * (noise + common * common).sqrt();
        (mean, (mean - half).max(0.0), mean + half)
    }
}

/// Forecasts `horizon` days (at most [`MAX_HORIZON`]) after `values` (one per day, oldest
/// first).
pub fn forecast(values: &[f64], horizon: usize) -> Forecast {
    forecast_after_shift(values, horizon, None)
}

/// [`forecast`] of a series whose level shifted on day `shift` (a detected level shift): the
/// days before it are moved by the step before the line is fitted, so the line follows the new
/// level and does not read the step as a trend.
pub fn forecast_after_shift(values: &[f64], horizon: usize, shift: Option<usize>) -> Forecast {
    forecast_from(&Decomposition::of(values), horizon, shift)
}

/// [`forecast_after_shift`] from a decomposition already made (the one detection used).
pub fn forecast_from(dec: &Decomposition, horizon: usize, shift: Option<usize>) -> Forecast {
    let horizon = horizon.min(MAX_HORIZON);
    if dec.logs.iter().all(|l| *l <= dec.offset.ln()) {
        let mut f = Forecast::new(Method::None, 1.0);
        (0..horizon).for_each(|_| f.push(0.0, 0.0, 0.0));
        return f;
    }
    if dec.logs.len() < MIN_SEASONAL_DAYS {
        return simple(&dec.logs, horizon, dec.offset);
    }
    stl_trend(&dec.logs, &dec.seasonal, horizon, (dec.offset, shift))
}

fn simple(logs: &[f64], horizon: usize, offset: f64) -> Forecast {
    let recent = &logs[logs.len().saturating_sub(BASELINE_DAYS)..];
    let level = median(recent);
    let spread = robust_sd(recent);
    // The median's standard error is about √(π / 2) × σ / √n.
    let common = spread * (std::f64::consts::FRAC_PI_2 / recent.len() as f64).sqrt();
    let mut f = Forecast::new(Method::SeasonalMedian, offset);
    (0..horizon).for_each(|_| f.push(level, spread, common));
    f
}

/// A least-squares line over `(x, y)` points: intercept at `x̄`, slope, `x̄`, `Sxx`, count.
struct Line {
    mean_y: f64,
    slope: f64,
    mean_x: f64,
    sxx: f64,
    count: f64,
}

impl Line {
    fn fit(points: impl Iterator<Item = (f64, f64)> + Clone) -> Option<Line> {
        let (count, sx, sy) = points.clone().fold((0.0, 0.0, 0.0), |(c, sx, sy), (x, y)| {
            (c + 1.0, sx + x, sy + y)
        });
        if count < 3.0 {
            return None;
        }
        let (mean_x, mean_y) = (sx / count, sy / count);
        let (sxx, sxy) = points.fold((0.0, 0.0), |(sxx, sxy), (x, y)| {
            let dx = x - mean_x;
            (sxx + dx * dx, sxy + dx * (y - mean_y))
        });
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        Some(Line {
            mean_y,
            slope,
            mean_x,
            sxx,
            count,
        })
    }

    fn at(&self, x: f64) -> f64 {
        self.mean_y + self.slope * (x - self.mean_x)
    }
}

/// The step of a level shift on day `shift` of the deseasonalised `adjusted`: the median of
/// the days since minus that of the 14 days before (0 without a shift).
fn step(adjusted: &[f64], shift: Option<usize>) -> f64 {
    match shift {
        Some(at) if at >= BASELINE_DAYS && at < adjusted.len() => {
            median(&adjusted[at..]) - median(&adjusted[at - BASELINE_DAYS..at])
        }
        _ => 0.0,
    }
}

fn stl_trend(
    logs: &[f64],
    seasonal: &[f64],
    horizon: usize,
    (offset, shift): (f64, Option<usize>),
) -> Forecast {
    let n = logs.len();
    let start = n.saturating_sub(FIT_DAYS);
    let deseasonalised: Vec<f64> = logs.iter().zip(seasonal).map(|(l, s)| l - s).collect();
    let step = step(&deseasonalised, shift);
    let adjusted: Vec<(f64, f64)> = (start..n)
        .map(|t| {
            let before = shift.is_some_and(|at| t < at);
            (
                t as f64,
                deseasonalised[t] + if before { step } else { 0.0 },
            )
        })
        .collect();
    let Some(first) = Line::fit(adjusted.iter().copied()) else {
        return simple(logs, horizon, offset);
    };
    let resid: Vec<f64> = adjusted.iter().map(|(x, y)| y - first.at(*x)).collect();
    let cut = 3.5 * robust_sd(&resid).max(f64::EPSILON);
    let kept = adjusted
        .iter()
        .zip(&resid)
        .filter(|(_, r)| r.abs() <= cut)
        .map(|(p, _)| *p);
    let line = Line::fit(kept.clone()).unwrap_or(first);
    let resid: Vec<f64> = kept.map(|(x, y)| y - line.at(x)).collect();
    // In-sample residuals understate the noise: the line takes two degrees of freedom, and the
    // weekly component absorbs about 1/k of each value, k the effective number of same-weekday
    // values its smoother averages (tricube weights over min(weeks, 13) values: about 0.7 of
    // them inside the series and 0.4 at its end, where the forecast reads it).
    let m = line.count;
    let span = (n as f64 / PERIOD as f64).clamp(2.0, 13.0);
    let (inside, at_end) = ((0.7 * span).max(2.0), (0.4 * span).max(1.5));
    let spread = robust_sd(&resid) * (m / (m - 2.0) / (1.0 - 1.0 / inside)).sqrt();
    let noise = spread * (1.0 + 1.0 / at_end).sqrt();
    let last = (n - 1) as f64;
    let level = line.at(last);
    let mut damped = 0.0;
    let mut f = Forecast::new(Method::StlTrend, offset);
    for h in 1..=horizon {
        damped += DAMPING.powi(h as i32);
        let x = last + damped;
        let phase = seasonal[n - PERIOD + (h - 1) % PERIOD];
        let param = (1.0 / m + (x - line.mean_x).powi(2) / line.sxx.max(f64::EPSILON)).sqrt();
        f.push(level + line.slope * damped + phase, noise, spread * param);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weekly_series_with_a_trend_is_forecast_closely() {
        let week = [1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.6];
        let at = |i: usize| 100.0 * (1.0 + i as f64 / 365.0) * week[i % 7];
        let history: Vec<f64> = (0..84).map(at).collect();
        let f = forecast(&history, 14);
        assert_eq!(f.method, Method::StlTrend);
        for h in 0..14 {
            let truth = at(84 + h);
            assert!(
                (f.mean[h] - truth).abs() / truth < 0.03,
                "{h}: {} vs {truth}",
                f.mean[h]
            );
        }
        let (lo, hi) = f.interval(0, Level::P95);
        assert!(lo <= f.mean[0] && f.mean[0] <= hi);
    }

    #[test]
    fn a_sum_s_interval_is_wider_than_a_day_s_and_narrower_than_their_sum() {
        let history: Vec<f64> = (0..60).map(|i| 50.0 + ((i * 37) % 11) as f64).collect();
        let f = forecast(&history, 30);
        let (mean, lo, hi) = f.sum(0..30, Level::P80);
        let day = f.interval(0, Level::P80);
        assert!(hi - lo > day.1 - day.0);
        assert!(hi - lo < 30.0 * (day.1 - day.0));
        assert!((mean - f.mean.iter().sum::<f64>()).abs() < 1e-9);
    }

    #[test]
    fn short_and_empty_histories_fall_back() {
        let f = forecast(&[10.0, 12.0, 11.0, 10.0, 9.0], 5);
        assert_eq!(f.method, Method::SeasonalMedian);
        assert!(
            f.mean.iter().all(|m| (m - 10.0).abs() < 1e-9),
            "{:?}",
            f.mean
        );
        let f = forecast(&[], 3);
        assert_eq!(f.method, Method::None);
        assert_eq!(f.interval(2, Level::P95), (0.0, 0.0));
        assert_eq!(forecast(&[1.0; 30], 500).horizon(), MAX_HORIZON);
    }
}
