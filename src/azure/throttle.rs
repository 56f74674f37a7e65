//! Retry and throttling rules: the retry policy with exponential backoff and jitter, the
//! throttling headers Azure sends (`Retry-After`, Cost Management's and Consumption's retry
//! headers, Resource Graph's user quota, Cost Management's QPU counters). The quotas those
//! headers describe are kept by [`super::qpu_budget`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

/// How often and how long the client retries.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubled for each further one.
    pub base_delay: Duration,
    /// Upper bound of one backoff.
    pub max_delay: Duration,
    /// Time for one request, connecting to the end of the body.
    pub request_timeout: Duration,
    /// A 429 asking for a longer wait fails at once with [`super::error::AzureError::Throttled`]
    /// (carrying the wait), so the job can be rescheduled instead of holding a worker.
    pub max_throttle_wait: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, backoff 1 s → 60 s, 120 s per request, throttle waits up to 5 min.
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
            max_throttle_wait: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The backoff after failed attempt number `attempt` (from 1): `base · 2^(attempt-1)`,
    /// capped at `max_delay`, of which a random half is jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let full = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        let half = full / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// The wait a throttled (or 503) answer asks for: the largest of `Retry-After` (seconds or
/// an HTTP date) and the provider-specific `…-retry-after` headers (seconds), if any.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str();
            let value = value.to_str().ok()?.trim();
            if name == "retry-after" {
                parse_retry_after(value, now)
            } else if name.starts_with("x-ms-ratelimit-") && name.ends_with("retry-after") {
                parse_seconds(value)
            } else {
                None
            }
        })
        .max()
}

/// `Retry-After`: delay seconds, or an HTTP date (a date in the past means no wait).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(seconds) = parse_seconds(value) {
        return Some(seconds);
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

fn parse_seconds(value: &str) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// An `hh:mm:ss` duration (Resource Graph's `x-ms-user-quota-resets-after`).
pub fn parse_hms(value: &str) -> Option<Duration> {
    let mut parts = value.trim().split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let hours: u64 = h.parse().ok()?;
    let minutes: u64 = m.parse().ok()?;
    let seconds: f64 = s.parse().ok()?;
    if minutes >= 60 || !(0.0..60.0).contains(&seconds) {
        return None;
    }
    Some(Duration::from_secs(hours * 3600 + minutes * 60) + Duration::from_secs_f64(seconds))
}

/// Resource Graph's quota headers: queries left in the window and when it resets.
pub fn resource_graph_quota(headers: &HeaderMap) -> Option<(u64, Duration)> {
    let remaining = header(headers, "x-ms-user-quota-remaining")?.parse().ok()?;
    let resets = parse_hms(header(headers, "x-ms-user-quota-resets-after")?)?;
    Some((remaining, resets))
}

/// Cost Management's QPU counters from one answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QpuHeaders {
    /// `QueriesPer10Sec`, `QueriesPerMin`, `QueriesPerHour` of `…-qpu-remaining`.
    pub remaining_10s: Option<u32>,
    pub remaining_min: Option<u32>,
    pub remaining_hour: Option<u32>,
    /// `…-qpu-consumed`: units this call cost.
    pub consumed: Option<u32>,
}

impl QpuHeaders {
    /// The counters in `headers` (all `None` when Cost Management sent none).
    pub fn parse(headers: &HeaderMap) -> Self {
        let mut parsed = Self {
            consumed: header(
                headers,
                "x-ms-ratelimit-microsoft.costmanagement-qpu-consumed",
            )
            .and_then(|v| v.parse().ok()),
            ..Self::default()
        };
        let remaining = header(
            headers,
            "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining",
        );
        for pair in remaining.unwrap_or_default().split(',') {
            let Some((name, value)) = pair.split_once(':') else {
                continue;
            };
            let value = value.trim().parse().ok();
            match name.trim() {
                "QueriesPer10Sec" => parsed.remaining_10s = value,
                "QueriesPerMin" => parsed.remaining_min = value,
                "QueriesPerHour" => parsed.remaining_hour = value,
                _ => {}
            }
        }
        parsed
    }

    /// True when the answer carried any counter.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn the_largest_retry_header_wins() {
        let h = headers(&[
            ("retry-after", "3"),
            (
                "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
                "7",
            ),
            (
                "x-ms-ratelimit-microsoft.costmanagement-entity-retry-after",
                "5",
            ),
            ("x-ms-ratelimit-microsoft.consumption-retry-after", "2"),
        ]);
        assert_eq!(retry_after(&h, Utc::now()), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&HeaderMap::new(), Utc::now()), None);
    }

    #[test]
    fn retry_after_accepts_http_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:27:50Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn quota_headers_are_parsed() {
        assert_eq!(parse_hms("00:00:04"), Some(Duration::from_secs(4)));
        assert_eq!(parse_hms("01:02:03"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_hms("4"), None);
        let qpu = QpuHeaders::parse(&headers(&[
            (
                "x-ms-ratelimit-microsoft.costmanagement-qpu-remaining",
                "QueriesPerHour:597,QueriesPerMin:57,QueriesPer10Sec:9",
            ),
            ("x-ms-ratelimit-microsoft.costmanagement-qpu-consumed", "2"),
        ]));
        assert_eq!(
            (
                qpu.remaining_10s,
                qpu.remaining_min,
                qpu.remaining_hour,
                qpu.consumed
            ),
            (Some(9), Some(57), Some(597), Some(2))
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy::default();
        assert!(policy.backoff(1) >= Duration::from_millis(500));
        assert!(policy.backoff(1) <= Duration::from_secs(1));
        assert!(policy.backoff(3) >= Duration::from_secs(2));
        assert!(policy.backoff(30) <= Duration::from_secs(60));
    }
}
