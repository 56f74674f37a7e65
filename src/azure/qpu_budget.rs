//! The Azure quotas every caller shares, so that every ingestion, in every Function instance,
//! paces its requests instead of running into 429s:
//! - [`Quota::CostManagement`]: the query units (QPU) of each Entra tenant, one per month of data
//!   queried; Azure allows 12 / 10 s, 60 / min and 600 / h per tenant ([`QpuLimits`]);
//! - [`Quota::ResourceGraph`]: the requests of each principal (the identity the tokens are
//!   issued to), 15 per 5 s window as documented ([`RESOURCE_GRAPH_QUOTA`]), what is left
//!   reported in every answer's `x-ms-user-quota-*` headers.
//!
//! One mechanism for both: a log per key (tenant or principal) of what was spent, and a hold.
//! [`QpuBudget::acquire`] and [`QpuBudget::acquire_request`] wait until every window has room
//! and record the units; [`QpuBudget::observe`] and [`QpuBudget::observe_user_quota`] tighten
//! the log from Azure's answer: when its counters say more was spent than the log knows, the
//! difference is logged as spent now, and a hold (a 429's wait; Resource Graph's quota used up
//! until it resets) makes every caller of the key wait.
//!
//! The rules are written once, here, over a key's log that an implementation only stores:
//! [`QpuBudget::update`] reads the log and adds what the budget decided, atomically. Two
//! implementations: [`MemoryQpuBudget`] (one process, for tools and tests without a database)
//! and the ingestion's `PgQpuBudget` (`crate::ingestion::qpu_budget`, kept in PostgreSQL and
//! shared across instances; the Azure layer runs no SQL).

mod memory;

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

pub use memory::MemoryQpuBudget;

use super::error::AzureError;
use super::throttle::QpuHeaders;

/// Which of Azure's quotas a log counts, and for whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quota {
    /// Cost Management's query units, per Entra tenant.
    CostManagement,
    /// Resource Graph's requests, per principal.
    ResourceGraph,
}

impl Quota {
    /// What the quota is and whose, for messages (followed by the key).
    pub fn describe(self) -> &'static str {
        match self {
            Quota::CostManagement => "Cost Management query budget of tenant",
            Quota::ResourceGraph => "Resource Graph request quota of principal",
        }
    }
}

/// One quota window: at most `limit` units in any `length` of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QpuWindow {
    pub length: Duration,
    pub limit: u32,
}

impl QpuWindow {
    /// The same limit over a window `factor` times as long (tests use e.g. 0.05).
    pub fn scaled(mut self, factor: f64) -> Self {
        self.length = self.length.mul_f64(factor);
        self
    }
}

/// Resource Graph's documented quota: 15 requests per principal in a 5 s window.
pub const RESOURCE_GRAPH_QUOTA: QpuWindow = QpuWindow {
    length: Duration::from_secs(5),
    limit: 15,
};

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
            *window = window.scaled(factor);
        }
        self
    }

    /// The longest window: older spending no longer matters.
    pub fn horizon(&self) -> Duration {
        horizon(&self.windows)
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

/// The longest of `windows`: spending older than that no longer matters.
pub fn horizon(windows: &[QpuWindow]) -> Duration {
    windows.iter().map(|w| w.length).max().unwrap_or_default()
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

/// What one Resource Graph answer said about its principal's quota.
#[derive(Debug, Clone, Default)]
pub struct UserQuotaObservation {
    /// `x-ms-user-quota-remaining`: requests left in the current window.
    pub remaining: Option<u32>,
    /// `x-ms-user-quota-resets-after`: when the current window ends.
    pub resets_after: Option<Duration>,
    /// On a 429: how long Azure asked to wait.
    pub retry_after: Option<Duration>,
}

/// One key's log as a budget sees it at one moment.
#[derive(Debug, Clone, Copy)]
pub struct QuotaLog<'a> {
    /// The log's clock (for a log shared by instances, the one clock they share).
    pub now: DateTime<Utc>,
    /// The spending within the longest window, oldest first.
    pub spent: &'a [Spend],
    /// Until when Azure asked the key to hold, if it did.
    pub hold_until: Option<DateTime<Utc>>,
}

/// What the budget decided from a key's log: what to add to it, and how long to wait.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision {
    /// Units to log as spent (nothing when 0).
    pub spend: u32,
    /// When they count from: now when `None`; earlier when Azure's counter is for a window that
    /// began before now, so that they leave the log when Azure's window resets.
    pub spent_at: Option<DateTime<Utc>>,
    /// The units were learnt from Azure's counters rather than acquired.
    pub observed: bool,
    /// Hold the key until then (or longer, if it already is held longer).
    pub hold_until: Option<DateTime<Utc>>,
    /// For units that did not fit: how long until they may.
    pub wait: Duration,
}

/// The check a budget runs on a key's log.
pub type Decide<'a> = dyn Fn(&QuotaLog<'_>) -> Decision + Send + Sync + 'a;

/// Azure's quotas, shared by every caller of a key. An implementation keeps the logs
/// ([`QpuBudget::update`]); acquiring and observing are the same for every log.
pub trait QpuBudget: Send + Sync {
    /// Cost Management's windows, per tenant.
    fn limits(&self) -> &QpuLimits;

    /// Resource Graph's window, per principal.
    fn resource_graph_quota(&self) -> &QpuWindow;

    /// Reads the log of `key` under `quota` (spending older than the quota's longest window
    /// forgotten), lets `decide` look at it and adds what it decided, with no other user of
    /// the log in between. Returns the decision.
    fn update<'a>(
        &'a self,
        quota: Quota,
        key: &'a str,
        decide: &'a Decide<'a>,
    ) -> BoxFuture<'a, Result<Decision, AzureError>>;

    /// The windows of `quota`, shortest first.
    fn windows(&self, quota: Quota) -> &[QpuWindow] {
        match quota {
            Quota::CostManagement => &self.limits().windows,
            Quota::ResourceGraph => std::slice::from_ref(self.resource_graph_quota()),
        }
    }

    /// Waits until `units` fit in every Cost Management window of `tenant_id`, records them as
    /// spent, and returns how long it waited. Fails at once when `units` can never fit.
    fn acquire<'a>(
        &'a self,
        tenant_id: &'a str,
        units: u32,
    ) -> BoxFuture<'a, Result<Duration, AzureError>> {
        Box::pin(async move {
            check_units(self.limits(), tenant_id, units)?;
            self.wait_for_room(Quota::CostManagement, tenant_id, units)
                .await
        })
    }

    /// How long until `units` would fit in every Cost Management window of `tenant_id` (zero
    /// when they fit now; at most [`QpuLimits::max_units`] are asked), spending nothing: a
    /// caller that has other work to do asks before it commits to waiting.
    fn room_after<'a>(
        &'a self,
        tenant_id: &'a str,
        units: u32,
    ) -> BoxFuture<'a, Result<Duration, AzureError>> {
        Box::pin(async move {
            let windows = self.windows(Quota::CostManagement);
            let units = units.min(self.limits().max_units());
            let decide = |log: &QuotaLog<'_>| Decision {
                wait: wait_needed(windows, log.spent, log.hold_until, log.now, units),
                ..Decision::default()
            };
            Ok(self
                .update(Quota::CostManagement, tenant_id, &decide)
                .await?
                .wait)
        })
    }

    /// Waits until one more Resource Graph request of `principal` fits (and no hold is on),
    /// records it, and returns how long it waited.
    fn acquire_request<'a>(
        &'a self,
        principal: &'a str,
    ) -> BoxFuture<'a, Result<Duration, AzureError>> {
        self.wait_for_room(Quota::ResourceGraph, principal, 1)
    }

    /// Waits until `units` fit in every window of `quota` for `key`, records them, and returns
    /// how long it waited.
    fn wait_for_room<'a>(
        &'a self,
        quota: Quota,
        key: &'a str,
        units: u32,
    ) -> BoxFuture<'a, Result<Duration, AzureError>> {
        Box::pin(async move {
            let windows = self.windows(quota);
            let decide = |log: &QuotaLog<'_>| {
                let wait = wait_needed(windows, log.spent, log.hold_until, log.now, units);
                Decision {
                    spend: if wait.is_zero() { units } else { 0 },
                    wait,
                    ..Decision::default()
                }
            };
            let mut waited = Duration::ZERO;
            loop {
                let wait = self.update(quota, key, &decide).await?.wait;
                if wait.is_zero() {
                    return Ok(waited);
                }
                tracing::debug!(
                    quota = quota.describe(),
                    key,
                    units,
                    wait_ms = wait.as_millis() as u64,
                    "waiting for an Azure quota"
                );
                tokio::time::sleep(wait).await;
                waited += wait;
            }
        })
    }

    /// Tightens the Cost Management budget of `tenant_id` from an answer's headers.
    fn observe<'a>(
        &'a self,
        tenant_id: &'a str,
        observation: &'a QpuObservation,
    ) -> BoxFuture<'a, Result<(), AzureError>> {
        Box::pin(async move {
            let limits = self.limits();
            let decide = |log: &QuotaLog<'_>| Decision {
                spend: units_to_tighten(limits, log.spent, log.now, observation),
                spent_at: None,
                observed: true,
                hold_until: hold_for(log.now, observation.retry_after),
                wait: Duration::ZERO,
            };
            self.update(Quota::CostManagement, tenant_id, &decide)
                .await
                .map(|_| ())
        })
    }

    /// Tightens the Resource Graph quota of `principal` from an answer's headers: requests
    /// Azure counted that the log does not know are logged, and a quota used up (or a 429)
    /// holds the principal until Azure says it resets.
    fn observe_user_quota<'a>(
        &'a self,
        principal: &'a str,
        observation: &'a UserQuotaObservation,
    ) -> BoxFuture<'a, Result<(), AzureError>> {
        Box::pin(async move {
            let window = self.resource_graph_quota();
            let used_up = observation.remaining == Some(0);
            let hold = observation
                .resets_after
                .filter(|_| used_up)
                .max(observation.retry_after);
            // Azure's window is fixed: what it counted leaves it when it resets, which may be
            // sooner than a whole window from now.
            let counted_since = |now: DateTime<Utc>| {
                let resets = observation.resets_after?;
                let back = window.length.checked_sub(resets)?;
                Some(now - chrono::Duration::from_std(back).ok()?)
            };
            let decide = |log: &QuotaLog<'_>| Decision {
                spend: missing_units(
                    std::slice::from_ref(window),
                    &[RESOURCE_GRAPH_QUOTA.limit],
                    &[observation.remaining],
                    log.spent,
                    log.now,
                ),
                spent_at: counted_since(log.now),
                observed: true,
                hold_until: hold_for(log.now, hold),
                wait: Duration::ZERO,
            };
            self.update(Quota::ResourceGraph, principal, &decide)
                .await
                .map(|_| ())
        })
    }
}

/// Units spent at a time.
pub type Spend = (DateTime<Utc>, u32);

/// How long until `units` more fit: the latest of the hold and, for each full window, the
/// moment enough of the oldest spending leaves it. `spent` is sorted oldest first.
pub fn wait_needed(
    windows: &[QpuWindow],
    spent: &[Spend],
    hold_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    units: u32,
) -> Duration {
    let mut wait = hold_until.map_or(Duration::ZERO, |until| until_from(now, until));
    for window in windows {
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

/// Units to log as spent now so that no Cost Management window shows more room than Azure's
/// counters (or than the call's actual cost) say is left.
pub fn units_to_tighten(
    limits: &QpuLimits,
    spent: &[Spend],
    now: DateTime<Utc>,
    observation: &QpuObservation,
) -> u32 {
    let h = &observation.headers;
    let documented = QpuLimits::default().windows.map(|w| w.limit);
    let remaining = [h.remaining_10s, h.remaining_min, h.remaining_hour];
    let missing = missing_units(&limits.windows, &documented, &remaining, spent, now);
    let uncharged = h.consumed.unwrap_or(0).saturating_sub(observation.charged);
    missing.max(uncharged)
}

/// Units to log as spent now so that no window shows more room than Azure says `remaining`
/// in it (per window, `None` when Azure did not say). What Azure has used is its quota minus
/// what remains, its quota being the configured limit or, when that lies above the
/// `documented` one, the documented one (or what remains, if more): a limit configured above
/// Azure's quota is not Azure's quota, and measuring against it would book the difference as
/// spent and stall the key for a whole window.
pub fn missing_units(
    windows: &[QpuWindow],
    documented: &[u32],
    remaining: &[Option<u32>],
    spent: &[Spend],
    now: DateTime<Utc>,
) -> u32 {
    let mut missing = 0;
    for ((window, quota), remaining) in windows.iter().zip(documented).zip(remaining) {
        if let Some(remaining) = *remaining {
            let known: Vec<&Spend> = spent.iter().filter(|s| counts(window, s, now)).collect();
            let azure_quota = window.limit.min((*quota).max(remaining));
            let azure_used = azure_quota.saturating_sub(remaining);
            missing = missing.max(azure_used.saturating_sub(used(&known)));
        }
    }
    missing
}

/// The hold a wait asks for, from `now`.
fn hold_for(now: DateTime<Utc>, wait: Option<Duration>) -> Option<DateTime<Utc>> {
    wait.map(|wait| now + chrono::Duration::from_std(wait).unwrap_or_default())
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
        quota: Quota::CostManagement,
        key: tenant_id.to_owned(),
        detail,
        retryable: false,
    })
}

#[cfg(test)]
mod tests;
