//! The documented throttling: Resource Graph's per-principal request window and Cost
//! Management's per-tenant query-unit (QPU) windows. Window lengths are divided by the
//! simulator's time scale, so tests can exhaust and recover a quota in milliseconds.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

/// A fixed window of `limit` requests per key, restarting `window` after its first request.
#[derive(Debug)]
pub struct FixedWindow {
    limit: u32,
    window: Duration,
    state: HashMap<String, (Instant, u32)>,
}

/// The decision for one request, and what the quota headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowOutcome {
    pub allowed: bool,
    pub remaining: u32,
    pub resets_after: Duration,
}

impl FixedWindow {
    /// `limit` requests per `window` (already time-scaled).
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            state: HashMap::new(),
        }
    }

    /// Counts a request of `key`, if its quota allows it.
    pub fn hit(&mut self, key: &str, now: Instant) -> WindowOutcome {
        let window = self.window;
        let entry = self.state.entry(key.to_owned()).or_insert((now, 0));
        if now >= entry.0 + window {
            *entry = (now, 0);
        }
        let resets_after = (entry.0 + window).saturating_duration_since(now);
        if entry.1 >= self.limit {
            return WindowOutcome {
                allowed: false,
                remaining: 0,
                resets_after,
            };
        }
        entry.1 += 1;
        WindowOutcome {
            allowed: true,
            remaining: self.limit - entry.1,
            resets_after,
        }
    }
}

/// Cost Management's three QPU windows, as named in `…-qpu-remaining`.
pub const QPU_WINDOWS: [(&str, u32, u64); 3] = [
    ("QueriesPerHour", 600, 3600),
    ("QueriesPerMin", 60, 60),
    ("QueriesPer10Sec", 12, 10),
];

/// Sliding QPU windows per tenant.
#[derive(Debug)]
pub struct QpuLimiter {
    windows: [(u32, Duration); 3],
    log: HashMap<Uuid, VecDeque<(Instant, u32)>>,
}

/// The decision for one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QpuOutcome {
    pub allowed: bool,
    /// Remaining units per window, in [`QPU_WINDOWS`] order.
    pub remaining: [u32; 3],
    pub retry_after: Duration,
}

impl QpuLimiter {
    /// The documented windows, their lengths divided by `time_scale`.
    pub fn new(time_scale: f64) -> Self {
        Self {
            windows: QPU_WINDOWS
                .map(|(_, limit, secs)| (limit, scaled(Duration::from_secs(secs), time_scale))),
            log: HashMap::new(),
        }
    }

    /// Charges `qpu` units to `tenant` if every window has room.
    pub fn charge(&mut self, tenant: Uuid, qpu: u32, now: Instant) -> QpuOutcome {
        let longest = self.windows.iter().map(|w| w.1).max().unwrap_or_default();
        let log = self.log.entry(tenant).or_default();
        while log.front().is_some_and(|(t, _)| *t + longest <= now) {
            log.pop_front();
        }
        let used = self
            .windows
            .map(|(_, length)| used_within(log, now, length));
        let mut retry_after = Duration::ZERO;
        for (i, (limit, length)) in self.windows.iter().enumerate() {
            let need = qpu.min(*limit);
            if used[i] + need > *limit {
                retry_after = retry_after.max(wait_for(log, now, *length, used[i] + need - limit));
            }
        }
        if retry_after > Duration::ZERO {
            let remaining = std::array::from_fn(|i| self.windows[i].0.saturating_sub(used[i]));
            return QpuOutcome {
                allowed: false,
                remaining,
                retry_after,
            };
        }
        log.push_back((now, qpu));
        let remaining = std::array::from_fn(|i| self.windows[i].0.saturating_sub(used[i] + qpu));
        QpuOutcome {
            allowed: true,
            remaining,
            retry_after,
        }
    }

    /// The full quota, reported when throttling is off.
    pub fn unlimited() -> [u32; 3] {
        QPU_WINDOWS.map(|(_, limit, _)| limit)
    }
}

fn used_within(log: &VecDeque<(Instant, u32)>, now: Instant, length: Duration) -> u32 {
    log.iter()
        .filter(|(t, _)| *t + length > now)
        .map(|(_, q)| q)
        .sum()
}

/// How long until `excess` units leave the window.
fn wait_for(
    log: &VecDeque<(Instant, u32)>,
    now: Instant,
    length: Duration,
    excess: u32,
) -> Duration {
    let mut freed = 0;
    for (t, q) in log.iter().filter(|(t, _)| *t + length > now) {
        freed += q;
        if freed >= excess {
            return (*t + length)
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
        }
    }
    length
}

/// `d` divided by the time scale (a scale of 10 makes a 10-second window last one second).
pub fn scaled(d: Duration, time_scale: f64) -> Duration {
    if time_scale > 0.0 {
        d.div_f64(time_scale)
    } else {
        d
    }
}

/// Whole seconds, rounded up, at least one (for `Retry-After`).
pub fn retry_seconds(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

/// `hh:mm:ss`, rounded up to the second (for `x-ms-user-quota-resets-after`).
pub fn hh_mm_ss(d: Duration) -> String {
    let s = d.as_millis().div_ceil(1000) as u64;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_window_allows_the_limit_then_refuses_until_reset() {
        let mut w = FixedWindow::new(2, Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(w.hit("p", t0).remaining, 1);
        assert_eq!(w.hit("p", t0).remaining, 0);
        assert!(!w.hit("p", t0 + Duration::from_secs(1)).allowed);
        assert!(w.hit("other", t0).allowed);
        assert!(w.hit("p", t0 + Duration::from_secs(5)).allowed);
    }

    #[test]
    fn qpu_windows_refuse_the_thirteenth_unit_in_ten_seconds() {
        let mut q = QpuLimiter::new(1.0);
        let tenant = Uuid::nil();
        let t0 = Instant::now();
        let first = q.charge(tenant, 3, t0);
        assert_eq!(first.remaining, [597, 57, 9]);
        for _ in 0..3 {
            assert!(q.charge(tenant, 3, t0).allowed);
        }
        let refused = q.charge(tenant, 1, t0 + Duration::from_secs(2));
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_secs(8));
        assert!(q.charge(tenant, 1, t0 + Duration::from_secs(10)).allowed);
    }

    #[test]
    fn durations_format_like_azure() {
        assert_eq!(hh_mm_ss(Duration::from_millis(4200)), "00:00:05");
        assert_eq!(hh_mm_ss(Duration::from_secs(3725)), "01:02:05");
        assert_eq!(retry_seconds(Duration::from_millis(10)), 1);
    }
}
