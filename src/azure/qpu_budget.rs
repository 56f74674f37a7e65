//! The Cost Management query budget of each Entra tenant (QPU: one unit per month of data
//! queried; Azure allows 12 / 10 s, 60 / min and 600 / h per tenant), so that every ingestion
//! of a tenant, in every Function instance, paces its queries instead of running into 429s.
//!
//! [`QpuBudget::acquire`] waits until all three windows have room for the units and records
//! them; [`QpuBudget::observe`] tightens the budget from Azure's answer: when the
//! `qpu-remaining` counters (or `qpu-consumed`) say more was spent than the log knows, the
//! difference is logged as spent now, and a 429's retry-after holds the tenant.
//!
//! Both are written once, here, over a tenant's log that an implementation only stores:
//! [`QpuBudget::update`] reads the log and adds what the budget decided, atomically. Two
//! implementations: [`MemoryQpuBudget`] (one process, for tools and tests without a database)
//! and the ingestion's `PgQpuBudget` (`crate::ingestion::qpu_budget`, kept in PostgreSQL and
//! shared across instances; the Azure layer runs no SQL).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::error::AzureError;
use super::throttle::QpuHeaders;

/// One quota window: at most `limit` units in any `length` of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QpuWindow {
    pub length: Duration,
    pub limit: u32,
}

/// The three per-tenant windows, shortest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QpuLimits {
    pub windows: [QpuWindow; 3],
}

impl Default for QpuLimits {
    /// The documented quotas: 12 / 10 s, 60 / min, 600 / h.
    fn default() -> Self {
        Self::new(12, 60, 600)
    }
}

impl QpuLimits {
    /// Limits per 10 s, minute and hour.
    pub fn new(per_10s: u32, per_min: u32, per_hour: u32) -> Self {
        let window = |secs, limit| QpuWindow {
            length: Duration::from_secs(secs),
            limit,
        };
        Self {
            windows: [
                window(10, per_10s),
                window(60, per_min),
                window(3600, per_hour),
            ],
        }
    }

    /// The same limits over windows `factor` times as long (tests use e.g. 0.05).
    pub fn scaled(mut self, factor: f64) -> Self {
        for window in &mut self.windows {
            window.length = window.length.mul_f64(factor);
        }
        self
    }

    /// The longest window: older spending no longer matters.
    pub fn horizon(&self) -> Duration {
        self.windows
            .iter()
            .map(|w| w.length)
            .max()
            .unwrap_or_default()
    }

    /// The largest query that can ever fit.
    pub fn max_units(&self) -> u32 {
        self.windows
            .iter()
            .map(|w| w.limit)
            .min()
            .unwrap_or_default()
    }
}

/// What one Cost Management answer said about the budget.
#[derive(Debug, Clone, Default)]
pub struct QpuObservation {
    /// Units acquired for the call.
    pub charged: u32,
    /// The `qpu-remaining` and `qpu-consumed` counters.
    pub headers: QpuHeaders,
    /// On a 429: how long Azure asked to wait.
    pub retry_after: Option<Duration>,
}

/// One tenant's log as a budget sees it at one moment.
#[derive(Debug, Clone, Copy)]
pub struct TenantLog<'a> {
    /// The log's clock (for a log shared by instances, the one clock they share).
    pub now: DateTime<Utc>,
    /// The spending within the longest window, oldest first.
    pub spent: &'a [Spend],
    /// Until when Azure asked the tenant to hold, if it did.
    pub hold_until: Option<DateTime<Utc>>,
}

/// What the budget decided from a tenant's log: what to add to it, and how long to wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision {
    /// Units to log as spent now (nothing when 0).
    pub spend: u32,
    /// The units were learnt from Azure's counters rather than acquired.
    pub observed: bool,
    /// Hold the tenant until then (or longer, if it already is held longer).
    pub hold_until: Option<DateTime<Utc>>,
    /// For units that did not fit: how long until they may.
    pub wait: Duration,
}

/// The check a budget runs on a tenant's log.
pub type Decide<'a> = dyn Fn(&TenantLog<'_>) -> Decision + Send + Sync + 'a;

/// A per-tenant query budget shared by every caller of the tenant. An implementation keeps
/// the log ([`QpuBudget::update`]); acquiring and observing are the same for every log.
pub trait QpuBudget: Send + Sync {
    /// The windows this budget keeps to.
    fn limits(&self) -> &QpuLimits;

    /// Reads `tenant_id`'s log (spending older than the longest window forgotten), lets
    /// `decide` look at it and adds what it decided, with no other user of the log in between.
    /// Returns the decision.
    fn update<'a>(
        &'a self,
        tenant_id: &'a str,
        decide: &'a Decide<'a>,
    ) -> BoxFuture<'a, Result<Decision, AzureError>>;

    /// Waits until `units` fit in every window of `tenant_id`, records them as spent, and
    /// returns how long it waited. Fails at once when `units` can never fit.
    fn acquire<'a>(
        &'a self,
        tenant_id: &'a str,
        units: u32,
    ) -> BoxFuture<'a, Result<Duration, AzureError>> {
        Box::pin(async move {
            let limits = self.limits();
            check_units(limits, tenant_id, units)?;
            let decide = |log: &TenantLog<'_>| {
                let wait = wait_needed(limits, log.spent, log.hold_until, log.now, units);
                Decision {
                    spend: if wait.is_zero() { units } else { 0 },
                    wait,
                    ..Decision::default()
                }
            };
            let mut waited = Duration::ZERO;
            loop {
                let wait = self.update(tenant_id, &decide).await?.wait;
                if wait.is_zero() {
                    return Ok(waited);
                }
                tracing::debug!(
                    tenant_id,
                    units,
                    wait_ms = wait.as_millis() as u64,
                    "waiting for Cost Management query budget"
                );
                tokio::time::sleep(wait).await;
                waited += wait;
            }
        })
    }

    /// Tightens the budget of `tenant_id` from an answer's headers.
    fn observe<'a>(
        &'a self,
        tenant_id: &'a str,
        observation: &'a QpuObservation,
    ) -> BoxFuture<'a, Result<(), AzureError>> {
        Box::pin(async move {
            let limits = self.limits();
            let decide = |log: &TenantLog<'_>| Decision {
                spend: units_to_tighten(limits, log.spent, log.now, observation),
                observed: true,
                hold_until: observation
                    .retry_after
                    .map(|wait| log.now + chrono::Duration::from_std(wait).unwrap_or_default()),
                wait: Duration::ZERO,
            };
            self.update(tenant_id, &decide).await.map(|_| ())
        })
    }
}

/// Units spent at a time.
pub type Spend = (DateTime<Utc>, u32);

/// How long until `units` more fit: the latest of the hold and, for each full window, the
/// moment enough of the oldest spending leaves it. `spent` is sorted oldest first.
pub fn wait_needed(
    limits: &QpuLimits,
    spent: &[Spend],
    hold_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    units: u32,
) -> Duration {
    let mut wait = hold_until.map_or(Duration::ZERO, |until| until_from(now, until));
    for window in &limits.windows {
        let in_window: Vec<&Spend> = spent.iter().filter(|s| counts(window, s, now)).collect();
        let mut excess = i64::from(used(&in_window)) + i64::from(units) - i64::from(window.limit);
        for (at, spent_units) in in_window {
            if excess <= 0 {
                break;
            }
            excess -= i64::from(*spent_units);
            wait = wait.max(until_from(now, *at + window.length));
        }
    }
    wait
}

/// Units to log as spent now so that no window shows more room than Azure's counters (or
/// than the call's actual cost) say is left.
pub fn units_to_tighten(
    limits: &QpuLimits,
    spent: &[Spend],
    now: DateTime<Utc>,
    observation: &QpuObservation,
) -> u32 {
    let h = &observation.headers;
    let remaining = [h.remaining_10s, h.remaining_min, h.remaining_hour];
    let mut missing = h.consumed.unwrap_or(0).saturating_sub(observation.charged);
    let documented = QpuLimits::default();
    for ((window, remaining), quota) in limits
        .windows
        .iter()
        .zip(remaining)
        .zip(&documented.windows)
    {
        if let Some(remaining) = remaining {
            let known: Vec<&Spend> = spent.iter().filter(|s| counts(window, s, now)).collect();
            // What Azure has used is its quota minus what it says remains. A configured limit
            // above Azure's documented quota is not Azure's quota: measuring against it would
            // book the difference as spent and stall the tenant for a whole window.
            let azure_quota = window.limit.min(quota.limit.max(remaining));
            let azure_used = azure_quota.saturating_sub(remaining);
            missing = missing.max(azure_used.saturating_sub(used(&known)));
        }
    }
    missing
}

fn counts(window: &QpuWindow, (at, _): &Spend, now: DateTime<Utc>) -> bool {
    *at + window.length > now
}

fn used(spent: &[&Spend]) -> u32 {
    spent.iter().map(|(_, units)| *units).sum()
}

fn until_from(now: DateTime<Utc>, until: DateTime<Utc>) -> Duration {
    (until - now).to_std().unwrap_or(Duration::ZERO)
}

/// Refuses a query that no window can ever hold.
fn check_units(limits: &QpuLimits, tenant_id: &str, units: u32) -> Result<(), AzureError> {
    let max = limits.max_units();
    let detail = if units == 0 {
        "a query costs at least 1 unit: is its time range empty?".to_owned()
    } else if units > max {
        format!("a query of {units} units can never fit (at most {max}): split its time range")
    } else {
        return Ok(());
    };
    Err(AzureError::Budget {
        tenant_id: tenant_id.to_owned(),
        detail,
        retryable: false,
    })
}

/// A budget in this process only: for tools and tests without a database.
#[derive(Debug, Default)]
pub struct MemoryQpuBudget {
    limits: QpuLimits,
    tenants: Mutex<HashMap<String, MemoryLog>>,
}

#[derive(Debug, Default)]
struct MemoryLog {
    spent: Vec<Spend>,
    hold_until: Option<DateTime<Utc>>,
}

impl MemoryQpuBudget {
    /// An empty budget with `limits`.
    pub fn new(limits: QpuLimits) -> Self {
        Self {
            limits,
            tenants: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MemoryLog>> {
        self.tenants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl MemoryLog {
    fn prune(&mut self, now: DateTime<Utc>, horizon: Duration) {
        self.spent.retain(|(at, _)| until_from(*at, now) < horizon);
    }
}

impl QpuBudget for MemoryQpuBudget {
    fn limits(&self) -> &QpuLimits {
        &self.limits
    }

    fn update<'a>(
        &'a self,
        tenant_id: &'a str,
        decide: &'a Decide<'a>,
    ) -> BoxFuture<'a, Result<Decision, AzureError>> {
        Box::pin(async move {
            let now = Utc::now();
            let mut tenants = self.lock();
            let log = tenants.entry(tenant_id.to_owned()).or_default();
            log.prune(now, self.limits.horizon());
            let decision = decide(&TenantLog {
                now,
                spent: &log.spent,
                hold_until: log.hold_until,
            });
            if decision.spend > 0 {
                log.spent.push((now, decision.spend));
            }
            if decision.hold_until.is_some() {
                log.hold_until = log.hold_until.max(decision.hold_until);
            }
            Ok(decision)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(now: DateTime<Utc>, secs_ago: i64) -> DateTime<Utc> {
        now - chrono::Duration::seconds(secs_ago)
    }

    #[test]
    fn limits_configured_above_azures_quota_book_nothing_for_an_unused_quota() {
        let limits = QpuLimits::new(1_000_000, 1_000_000, 1_000_000);
        let mut observation = QpuObservation::default();
        observation.headers.remaining_10s = Some(12);
        observation.headers.remaining_min = Some(60);
        observation.headers.remaining_hour = Some(600);
        assert_eq!(units_to_tighten(&limits, &[], Utc::now(), &observation), 0);
        // Azure reporting use still counts: 4 of the documented 12 gone in 10 s.
        observation.headers.remaining_10s = Some(8);
        assert_eq!(units_to_tighten(&limits, &[], Utc::now(), &observation), 4);
    }

    #[test]
    fn a_full_window_waits_until_enough_spending_leaves_it() {
        let limits = QpuLimits::default();
        let now = Utc::now();
        let spent = vec![(at(now, 8), 6), (at(now, 4), 6)];
        assert_eq!(
            wait_needed(&limits, &spent, None, now, 1),
            Duration::from_secs(2)
        );
        assert_eq!(
            wait_needed(&limits, &spent, None, now, 7),
            Duration::from_secs(6)
        );
        assert_eq!(
            wait_needed(&limits, &spent[1..], None, now, 6),
            Duration::ZERO
        );
    }

    #[test]
    fn the_hour_window_and_holds_count_too() {
        let limits = QpuLimits::new(12, 60, 20);
        let now = Utc::now();
        let spent = vec![(at(now, 3000), 10), (at(now, 100), 10)];
        assert_eq!(
            wait_needed(&limits, &spent, None, now, 1),
            Duration::from_secs(600)
        );
        let hold = now + chrono::Duration::seconds(30);
        assert_eq!(
            wait_needed(&limits, &[], Some(hold), now, 1),
            Duration::from_secs(30)
        );
    }

    #[test]
    fn headers_showing_less_room_tighten_the_budget() {
        let limits = QpuLimits::default();
        let now = Utc::now();
        let mut observation = QpuObservation {
            charged: 2,
            ..Default::default()
        };
        observation.headers.remaining_10s = Some(0);
        assert_eq!(
            units_to_tighten(&limits, &[(now, 2)], now, &observation),
            10
        );
        observation.headers.remaining_10s = Some(10);
        assert_eq!(units_to_tighten(&limits, &[(now, 2)], now, &observation), 0);
        observation.headers.consumed = Some(5);
        assert_eq!(units_to_tighten(&limits, &[(now, 2)], now, &observation), 3);
    }

    #[tokio::test]
    async fn the_memory_budget_waits_for_a_full_window_and_for_a_hold() {
        // 2 units per 100 ms.
        let budget = MemoryQpuBudget::new(QpuLimits::new(2, 60, 600).scaled(0.01));
        assert_eq!(budget.acquire("t", 2).await.unwrap(), Duration::ZERO);
        assert!(budget.acquire("t", 1).await.unwrap() > Duration::ZERO);
        assert_eq!(budget.acquire("other", 2).await.unwrap(), Duration::ZERO);
        let held = QpuObservation {
            retry_after: Some(Duration::from_millis(150)),
            ..Default::default()
        };
        budget.observe("other", &held).await.unwrap();
        let waited = budget.acquire("other", 1).await.unwrap();
        assert!(waited >= Duration::from_millis(140), "waited {waited:?}");
    }

    #[test]
    fn queries_larger_than_the_smallest_window_are_refused() {
        let limits = QpuLimits::default();
        assert!(check_units(&limits, "t", 12).is_ok());
        assert!(!check_units(&limits, "t", 13).unwrap_err().is_retryable());
    }
}
