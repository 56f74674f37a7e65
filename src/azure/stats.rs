//! What a run spent on Azure: counters per API, shared through the call context (an
//! `Arc<CallStats>`) by every request of the run, readable at any time as a snapshot that
//! serialises to the run item's `azure_calls` JSON.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use super::client::Api;

/// Counters of every API, updated as requests are made.
#[derive(Debug, Default)]
pub struct CallStats {
    apis: [Counters; Api::ALL.len()],
}

#[derive(Debug, Default)]
struct Counters {
    calls: AtomicU64,
    throttled: AtomicU64,
    retries: AtomicU64,
    failures: AtomicU64,
    throttle_wait_ms: AtomicU64,
    backoff_wait_ms: AtomicU64,
    qpu_units: AtomicU64,
}

/// The counters of one API at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApiStats {
    /// HTTP requests sent (every attempt counts).
    pub calls: u64,
    /// Requests answered 429 (or 529).
    pub throttled: u64,
    /// Requests that were attempts after the first.
    pub retries: u64,
    /// Requests that did not succeed (whatever happened next).
    pub failures: u64,
    /// Time spent waiting for throttling: `Retry-After`, quota resets, the query budget.
    pub throttle_wait_ms: u64,
    /// Time spent in backoff after 5xx, timeouts and broken connections.
    pub backoff_wait_ms: u64,
    /// Cost Management query units acquired.
    pub qpu_units: u64,
}

impl CallStats {
    /// The counters of `api` now.
    pub fn api(&self, api: Api) -> ApiStats {
        let c = &self.apis[api.index()];
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ApiStats {
            calls: load(&c.calls),
            throttled: load(&c.throttled),
            retries: load(&c.retries),
            failures: load(&c.failures),
            throttle_wait_ms: load(&c.throttle_wait_ms),
            backoff_wait_ms: load(&c.backoff_wait_ms),
            qpu_units: load(&c.qpu_units),
        }
    }

    /// Every API that was called, by name (`resource_graph`, `cost_management`, …).
    pub fn snapshot(&self) -> BTreeMap<&'static str, ApiStats> {
        Api::ALL
            .iter()
            .map(|api| (api.name(), self.api(*api)))
            .filter(|(_, stats)| *stats != ApiStats::default())
            .collect()
    }

    pub(crate) fn request(&self, api: Api, attempt: u32, succeeded: bool, throttled: bool) {
        let c = &self.apis[api.index()];
        c.calls.fetch_add(1, Ordering::Relaxed);
        if attempt > 1 {
            c.retries.fetch_add(1, Ordering::Relaxed);
        }
        if !succeeded {
            c.failures.fetch_add(1, Ordering::Relaxed);
        }
        if throttled {
            c.throttled.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn throttle_wait(&self, api: Api, waited: Duration) {
        self.apis[api.index()]
            .throttle_wait_ms
            .fetch_add(millis(waited), Ordering::Relaxed);
    }

    pub(crate) fn backoff_wait(&self, api: Api, waited: Duration) {
        self.apis[api.index()]
            .backoff_wait_ms
            .fetch_add(millis(waited), Ordering::Relaxed);
    }

    pub(crate) fn qpu(&self, api: Api, units: u32) {
        self.apis[api.index()]
            .qpu_units
            .fetch_add(u64::from(units), Ordering::Relaxed);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
