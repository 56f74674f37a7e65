//! The follow-up of a full run's item ([`Stage::ResourceCosts`]): the per-resource cost window
//! that the item's first message left because the tenant's Cost Management budget had no room
//! for it, then the rules' evaluation; the item ends here.
//!
//! Waiting for query units does not hold a queue slot: when the budget still has no room, the
//! message is put back on the queue, invisible until it should ([`MAX_DEFERRALS`] times at
//! most, then it waits like any other query). The item stays `running` meanwhile, so its run
//! is not finished before its evaluation is.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::{Disposition, Ingestor, SnapshotKey, StoreError, store_resource_costs};
use crate::azure::client::{Api, CallContext};
use crate::azure::cost_management::DateRange;
use crate::azure::recorder::Recorder;
use crate::db::ingestion::{self, Outcome};
use crate::db::subscriptions::IngestionTarget;
use crate::db::{self, Scope};
use crate::ingestion::collect::{self, DEFER_AFTER, ResourceCosts, Target};
use crate::ingestion::message::{IngestMessage, Mode, Stage};

/// How many times a follow-up is put back to wait for query units before it waits in place.
pub(super) const MAX_DEFERRALS: u32 = 20;

/// The follow-up's raw answers, beside the item's own `cost_management` snapshot.
const SNAPSHOTS: [(&str, &[Api]); 1] = [("cost_management_by_resource", &[Api::CostManagement])];

impl Ingestor {
    /// Handles a follow-up message of `target`'s item.
    pub(super) async fn follow_up(
        &self,
        m: &IngestMessage,
        target: &IngestionTarget,
        dequeue_count: u32,
    ) -> anyhow::Result<Disposition> {
        let pool = self.db.pool().await?;
        let run_id = m
            .run_id
            .ok_or_else(|| anyhow::anyhow!("a follow-up message names its run"))?;
        let mut tx = db::begin(pool, Scope::Tenant(target.tenant_id)).await?;
        let item = ingestion::continue_item(&mut tx, run_id, m.subscription_id).await?;
        let run = ingestion::get_run(&mut tx, Some(target.tenant_id), run_id).await?;
        tx.commit().await?;
        let (Some((item_id, so_far)), Some(run)) = (item, run) else {
            return Ok(Disposition::Done(format!(
                "run {run_id}: subscription {}: no running item to continue",
                m.subscription_id
            )));
        };
        let window = DateRange::resource_cost_window(run.created_at);
        let resources = usize::try_from(so_far.resources).unwrap_or_default();
        let units = collect::resource_cost_units(window, resources);
        let entra_tenant = target.azure_tenant_id.to_string();
        // Should the budget not answer, the queries themselves wait for it (or fail the item).
        let wait = self
            .azure
            .cost_budget_room_after(&entra_tenant, units)
            .await
            .unwrap_or_default();
        if wait > DEFER_AFTER && m.deferrals < MAX_DEFERRALS {
            let next = m.next_stage(Stage::ResourceCosts, m.deferrals + 1);
            self.send_follow_up(&next, run_id, wait).await?;
            return Ok(Disposition::Done(format!(
                "run {run_id}: subscription {}: per-resource costs wait {} s more for query units",
                m.subscription_id,
                wait.as_secs()
            )));
        }
        let ctx = CallContext::new(entra_tenant)
            .with_subscription(target.subscription_id.to_string())
            .with_correlation_id(run_id.to_string())
            .with_recorder(Arc::new(Recorder::default()));
        let key = SnapshotKey {
            message: m,
            run_id,
            run_at: run.created_at,
            attempt: Uuid::new_v4(),
        };
        let result = self.resource_costs_and_evaluation(&ctx, target, &key).await;
        let calls = add_counts(
            so_far.azure_calls.clone(),
            serde_json::to_value(ctx.stats.snapshot()).unwrap_or_default(),
        );
        let result = match result {
            Ok(findings) => Ok(Outcome {
                findings,
                azure_calls: calls,
                ..so_far
            }),
            Err(e) => Err((e, calls)),
        };
        self.finish(pool, (target, item_id, run_id), result, dequeue_count)
            .await
    }

    /// Puts `next` on the queue, invisible for `wait` (rounded up to whole seconds).
    pub(super) async fn send_follow_up(
        &self,
        next: &IngestMessage,
        run_id: Uuid,
        wait: Duration,
    ) -> Result<(), StoreError> {
        let queue = self
            .follow_ups
            .as_ref()
            .ok_or_else(|| StoreError::Queue("no queue for follow-up messages".into()))?;
        let delay = Duration::from_secs(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        queue
            .send_after(next.to_text(), delay)
            .await
            .map_err(|e| StoreError::Queue(format!("{e:#}")))?;
        tracing::info!(
            run_id = %run_id,
            azure.subscription_id = %next.subscription_id,
            delay_ms = delay.as_millis() as u64,
            deferrals = next.deferrals,
            "per-resource costs deferred until the query budget has room"
        );
        Ok(())
    }

    /// Collects and stores the window, writes its snapshot, evaluates the rules; the findings.
    async fn resource_costs_and_evaluation(
        &self,
        ctx: &CallContext,
        target: &IngestionTarget,
        key: &SnapshotKey<'_>,
    ) -> Result<i32, StoreError> {
        let subscription = target.subscription_id.to_string();
        let entra_tenant = target.azure_tenant_id.to_string();
        let plan = Target {
            subscription_id: &subscription,
            entra_tenant_id: &entra_tenant,
            billing_scope: target.billing_scope.as_deref(),
            mode: Mode::Full,
            cost_window: None,
            now: key.run_at,
            resource_costs: ResourceCosts::Now,
        };
        let (window, rows) = collect::collect_resource_costs(&self.azure, ctx, &plan).await?;
        self.write_snapshots(ctx, key.message, (key.run_id, key.run_at), &SNAPSHOTS)
            .await?;
        let pool = self.store_pool().await?;
        db::partitions::ensure_months_of(pool, [window.to]).await?;
        let mut tx = db::begin(pool, Scope::Tenant(target.tenant_id)).await?;
        store_resource_costs(&mut tx, (target.tenant_id, target.id), window, rows).await?;
        tx.commit().await?;
        Ok(self.evaluate(target).await?.findings)
    }
}

/// `b`'s numbers added to `a`'s at the same places (the per-API call counts of two stages).
fn add_counts(a: serde_json::Value, b: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(mut a), Value::Object(b)) => {
            for (key, value) in b {
                let merged = match a.remove(&key) {
                    Some(old) => add_counts(old, value),
                    None => value,
                };
                a.insert(key, merged);
            }
            Value::Object(a)
        }
        (Value::Number(x), Value::Number(y)) => match (x.as_u64(), y.as_u64()) {
            (Some(x), Some(y)) => Value::from(x.saturating_add(y)),
            _ => Value::from(x.as_f64().unwrap_or_default() + y.as_f64().unwrap_or_default()),
        },
        (_, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_stages_calls_add_up_per_api() {
        let first =
            json!({"cost_management": {"calls": 4, "qpu_units": 4}, "advisor": {"calls": 1}});
        let second =
            json!({"cost_management": {"calls": 6, "qpu_units": 12, "throttle_wait_ms": 5}});
        assert_eq!(
            add_counts(first, second),
            json!({
                "cost_management": {"calls": 10, "qpu_units": 16, "throttle_wait_ms": 5},
                "advisor": {"calls": 1},
            })
        );
    }
}
