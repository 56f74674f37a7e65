//! A deterministic generator of daily cost series with labelled events, and the measures the
//! detection and forecast are held to (issue 17): event recall and precision, false alarms per
//! series-month, MAPE, MASE against the seasonal naive forecast, and interval coverage.
//!
//! A series is `level × (1 + growth × t / 365) × weekday factor × (1 + noise × N(0, 1))`, with
//! spikes (× 1.5–5 on one day), drops (× 0–0.5 on one day) and at most one level shift (× 1.3
//! from its day on) placed at least [`EVENT_GAP`] days apart, none in the first 14 days (no
//! baseline yet).

use super::detect::{Direction, Found};
use super::forecast::{Forecast, Level};

#[cfg(test)]
mod evaluation;

/// Fewest days between two events.
pub const EVENT_GAP: usize = 10;
/// Days after a level shift's start within which a detection counts as that shift.
pub const SHIFT_SPAN: usize = 14;

/// What was injected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventKind {
    Spike,
    Drop,
    LevelShift,
}

/// One labelled event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub day: usize,
    pub factor: f64,
}

/// A generated series and its events.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub values: Vec<f64>,
    pub events: Vec<Event>,
    /// The noise level (relative standard deviation).
    pub noise: f64,
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub seed: u64,
    pub days: usize,
    pub noise: f64,
    /// Events only before this day (`days` for anywhere).
    pub events_before: usize,
    /// Roughly one event per this many days (at least one when there is room).
    pub days_per_event: usize,
}

fn normal(rng: &mut fastrand::Rng) -> f64 {
    // Box–Muller.
    let u1 = rng.f64().max(1e-300);
    let u2 = rng.f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Generates the series `spec` describes (the same series for the same spec).
pub fn generate(spec: &Spec) -> Labelled {
    let mut rng = fastrand::Rng::with_seed(spec.seed);
    let level = 50.0 * 100f64.powf(rng.f64());
    let growth = -0.3 + 0.9 * rng.f64();
    let weekend = 0.5 + 0.5 * rng.f64();
    let week = [1.0, 1.03, 1.02, 1.0, 0.97, weekend, weekend];
    let phase = rng.usize(0..7);
    let mut values: Vec<f64> = (0..spec.days)
        .map(|t| {
            let trend = level * (1.0 + growth * t as f64 / 365.0);
            (trend * week[(t + phase) % 7] * (1.0 + spec.noise * normal(&mut rng))).max(0.0)
        })
        .collect();
    let events = place_events(&mut rng, spec);
    for e in &events {
        match e.kind {
            EventKind::Spike | EventKind::Drop => values[e.day] *= e.factor,
            EventKind::LevelShift => values[e.day..].iter_mut().for_each(|v| *v *= e.factor),
        }
    }
    Labelled {
        values,
        events,
        noise: spec.noise,
    }
}

fn place_events(rng: &mut fastrand::Rng, spec: &Spec) -> Vec<Event> {
    let first = 14;
    let last = spec.events_before.min(spec.days);
    if last <= first {
        return Vec::new();
    }
    let wanted = ((last - first) / spec.days_per_event.max(1)).max(1);
    let mut events: Vec<Event> = Vec::new();
    let mut shifted = false;
    for _ in 0..wanted * 4 {
        if events.len() == wanted {
            break;
        }
        let day = rng.usize(first..last);
        let near = |e: &Event| {
            e.day.abs_diff(day) < EVENT_GAP
                || (e.kind == EventKind::LevelShift && day > e.day && day < e.day + SHIFT_SPAN)
        };
        if events.iter().any(near) {
            continue;
        }
        let roll = rng.f64();
        let (kind, factor) = if roll < 0.45 {
            (EventKind::Spike, 1.5 + 3.5 * rng.f64())
        } else if roll < 0.8 || shifted || events.iter().any(|e| e.day > day) {
            (EventKind::Drop, 0.5 * rng.f64())
        } else {
            shifted = true;
            (EventKind::LevelShift, 1.3)
        };
        events.push(Event { kind, day, factor });
    }
    events.sort_by_key(|e| e.day);
    events
}

fn direction(kind: EventKind) -> Direction {
    match kind {
        EventKind::Spike | EventKind::LevelShift => Direction::Up,
        EventKind::Drop => Direction::Down,
    }
}

/// Whether detection `f` reports event `e`: same direction, and its days touch `e`'s day ± 1
/// (for a level shift, its first `SHIFT_SPAN` days, the time the baseline takes to follow).
fn reports(f: &Found, e: &Event) -> bool {
    let from = e.day.saturating_sub(1);
    let to = match e.kind {
        EventKind::LevelShift => e.day + SHIFT_SPAN,
        _ => e.day + 1,
    };
    f.direction == direction(e.kind) && f.start <= to && f.end >= from
}

/// Whether an event was hit: a detection in its direction touches its day ± 1.
fn hit(found: &[Found], e: &Event) -> bool {
    found
        .iter()
        .any(|f| f.direction == direction(e.kind) && f.start <= e.day + 1 && f.end + 1 >= e.day)
}

/// Detection counts over many series.
#[derive(Debug, Clone, Default)]
pub struct DetectionScore {
    pub events: [usize; 3],
    pub hits: [usize; 3],
    pub detections: usize,
    pub true_detections: usize,
    pub scored_days: usize,
}

impl DetectionScore {
    /// Adds one series: its events and what was found over `scored_days` days.
    pub fn add(&mut self, events: &[Event], found: &[Found], scored_days: usize) {
        for e in events {
            let k = e.kind as usize;
            self.events[k] += 1;
            self.hits[k] += usize::from(hit(found, e));
        }
        self.detections += found.len();
        self.true_detections += found
            .iter()
            .filter(|f| events.iter().any(|e| reports(f, e)))
            .count();
        self.scored_days += scored_days;
    }

    /// Recall of one kind of event.
    pub fn recall(&self, kind: EventKind) -> f64 {
        let k = kind as usize;
        self.hits[k] as f64 / self.events[k].max(1) as f64
    }

    pub fn precision(&self) -> f64 {
        self.true_detections as f64 / self.detections.max(1) as f64
    }

    /// False detections per 30 scored days.
    pub fn false_alarms_per_month(&self) -> f64 {
        (self.detections - self.true_detections) as f64 * 30.0 / self.scored_days.max(1) as f64
    }
}

/// Accuracy of one forecast against the held-out days.
#[derive(Debug, Clone, Copy)]
pub struct ForecastScore {
    /// Mean absolute percentage error (days with a positive actual).
    pub mape: f64,
    /// Mean absolute error over the in-sample mean absolute error of the seasonal naive
    /// one-step forecast (Hyndman's MASE).
    pub mase: f64,
    /// Held-out days inside the 80 % interval.
    pub inside_80: usize,
    /// Held-out days inside the 95 % interval.
    pub inside_95: usize,
    pub days: usize,
}

/// Scores `f` made from `history` against `actual`.
pub fn score_forecast(history: &[f64], actual: &[f64], f: &Forecast) -> ForecastScore {
    let days = actual.len().min(f.horizon());
    let mut ape = Vec::new();
    let (mut abs, mut inside_80, mut inside_95) = (0.0, 0, 0);
    for (h, a) in actual.iter().enumerate().take(days) {
        let e = (a - f.mean[h]).abs();
        abs += e;
        if *a > 0.0 {
            ape.push(e / a);
        }
        let (lo, hi) = f.interval(h, Level::P80);
        inside_80 += usize::from(lo <= *a && *a <= hi);
        let (lo, hi) = f.interval(h, Level::P95);
        inside_95 += usize::from(lo <= *a && *a <= hi);
    }
    let naive: Vec<f64> = history.windows(8).map(|w| (w[7] - w[0]).abs()).collect();
    let scale = naive.iter().sum::<f64>() / naive.len().max(1) as f64;
    ForecastScore {
        mape: ape.iter().sum::<f64>() / ape.len().max(1) as f64,
        mase: abs / days.max(1) as f64 / scale.max(f64::EPSILON),
        inside_80,
        inside_95,
        days,
    }
}
