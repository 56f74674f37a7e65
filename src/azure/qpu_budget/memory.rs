//! The budget kept in this process only: for tools and tests without a database.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::{
    Decide, Decision, QpuBudget, QpuLimits, QpuWindow, Quota, QuotaLog, RESOURCE_GRAPH_QUOTA,
    Spend, horizon, until_from,
};
use crate::azure::error::AzureError;

/// A [`QpuBudget`] in this process only.
#[derive(Debug)]
pub struct MemoryQpuBudget {
    limits: QpuLimits,
    resource_graph: QpuWindow,
    logs: Mutex<HashMap<(Quota, String), MemoryLog>>,
}

#[derive(Debug, Default)]
struct MemoryLog {
    spent: Vec<Spend>,
    hold_until: Option<DateTime<Utc>>,
}

impl Default for MemoryQpuBudget {
    /// The documented quotas.
    fn default() -> Self {
        Self::new(QpuLimits::default())
    }
}

impl MemoryQpuBudget {
    /// An empty budget with Cost Management's `limits` and Resource Graph's documented quota.
    pub fn new(limits: QpuLimits) -> Self {
        Self {
            limits,
            resource_graph: RESOURCE_GRAPH_QUOTA,
            logs: Mutex::default(),
        }
    }

    /// The same budget with Resource Graph's quota per principal `window`.
    pub fn with_resource_graph_quota(mut self, window: QpuWindow) -> Self {
        self.resource_graph = window;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Quota, String), MemoryLog>> {
        self.logs
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

    fn resource_graph_quota(&self) -> &QpuWindow {
        &self.resource_graph
    }

    fn update<'a>(
        &'a self,
        quota: Quota,
        key: &'a str,
        decide: &'a Decide<'a>,
    ) -> BoxFuture<'a, Result<Decision, AzureError>> {
        Box::pin(async move {
            let now = Utc::now();
            let horizon = horizon(self.windows(quota));
            let mut logs = self.lock();
            let log = logs.entry((quota, key.to_owned())).or_default();
            log.prune(now, horizon);
            let decision = decide(&QuotaLog {
                now,
                spent: &log.spent,
                hold_until: log.hold_until,
            });
            if decision.spend > 0 {
                let at = decision.spent_at.unwrap_or(now).min(now);
                let oldest_first = log.spent.partition_point(|(t, _)| *t <= at);
                log.spent.insert(oldest_first, (at, decision.spend));
            }
            if decision.hold_until.is_some() {
                log.hold_until = log.hold_until.max(decision.hold_until);
            }
            Ok(decision)
        })
    }
}
