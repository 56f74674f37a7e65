//! The timers' fan-out: one ingestion run per tenant and one queue message per active
//! subscription. A timer fired twice for the same schedule slot (a host restart, `IsPastDue`)
//! finds the slot's run and only re-sends the messages of items that have not started. A
//! tenant whose run of the same mode (an earlier slot's, or one triggered through the API) is
//! still queued or running is skipped for this slot and logged: at most one run per tenant and
//! mode is in progress, so one tenant's backlog does not pile up in the queue before others'.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use sqlx::PgPool;
use uuid::Uuid;

use super::failure::Failure;
use super::message::{IngestMessage, Mode, SCHEMA_VERSION};
use crate::db::ingestion::{self, NewRun, Trigger};
use crate::db::{self, Scope};

/// Something that puts message texts on the ingestion queue.
pub trait Enqueue: Send + Sync {
    /// Sends one message (its text; the queue applies its own encoding).
    fn send(&self, text: String) -> BoxFuture<'_, anyhow::Result<()>>;

    /// Sends one message that stays invisible for `delay` (a follow-up that waits for a quota).
    fn send_after(
        &self,
        text: String,
        delay: std::time::Duration,
    ) -> BoxFuture<'_, anyhow::Result<()>>;
}

/// What a fan-out did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FanOut {
    pub runs_created: usize,
    /// Runs the slot already had.
    pub runs_found: usize,
    /// Tenants skipped because a run of the same mode was still in progress.
    pub tenants_skipped: usize,
    pub messages_sent: usize,
}

/// The cost window of a run: `None` lets the collector use its default (yesterday).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostWindow {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// One message per subscription id of `run_id`.
pub fn messages(
    run_id: Uuid,
    tenant_id: Uuid,
    mode: Mode,
    window: CostWindow,
    subscriptions: &[Uuid],
) -> Vec<String> {
    subscriptions
        .iter()
        .map(|subscription_id| {
            IngestMessage {
                v: SCHEMA_VERSION,
                run_id: Some(run_id),
                tenant_id,
                subscription_id: *subscription_id,
                mode,
                cost_from: window.from,
                cost_to: window.to,
                stage: None,
                deferrals: 0,
            }
            .to_text()
        })
        .collect()
}

/// Creates (or finds) the slot's run for every tenant with active subscriptions and enqueues
/// the messages. The runs are committed before any message is sent.
pub async fn fan_out(
    pool: &PgPool,
    queue: &dyn Enqueue,
    mode: Mode,
    slot: DateTime<Utc>,
) -> anyhow::Result<FanOut> {
    let mut tx = db::begin(pool, Scope::Operator).await?;
    let mut by_tenant: BTreeMap<Uuid, Vec<(Uuid, Uuid)>> = BTreeMap::new();
    for (tenant, db_id, azure_id) in ingestion::active_subscriptions(&mut tx).await? {
        by_tenant.entry(tenant).or_default().push((db_id, azure_id));
    }
    let mut report = FanOut::default();
    let mut outbox = Vec::new();
    for (tenant_id, subscriptions) in &by_tenant {
        let new = NewRun {
            tenant_id: *tenant_id,
            mode,
            trigger: Trigger::Timer,
            schedule_slot: Some(slot),
            requested_by: None,
            cost_from: None,
            cost_to: None,
            subscriptions,
        };
        let (run_id, pending) = match slot_run(&mut tx, &new).await? {
            SlotRun::Created(run_id) => {
                report.runs_created += 1;
                (
                    run_id,
                    subscriptions.iter().map(|(_, azure)| *azure).collect(),
                )
            }
            SlotRun::Found(run_id) => {
                report.runs_found += 1;
                (run_id, ingestion::queued_items(&mut tx, run_id).await?)
            }
            SlotRun::Busy(running) => {
                report.tenants_skipped += 1;
                tracing::info!(tenant.id = %tenant_id, ?mode, %slot, run.id = %running,
                    "tenant skipped: its previous run of this mode is still in progress");
                continue;
            }
        };
        outbox.push((
            run_id,
            messages(run_id, *tenant_id, mode, CostWindow::default(), &pending),
        ));
    }
    tx.commit().await?;
    for (run_id, texts) in outbox {
        report.messages_sent += send_all(pool, queue, run_id, texts).await?;
    }
    Ok(report)
}

/// What a tenant's run for a timer slot is.
enum SlotRun {
    Created(Uuid),
    Found(Uuid),
    /// Another run of the tenant and mode is in progress: none for this slot.
    Busy(Uuid),
}

/// Finds the slot's run, or creates it unless the tenant has a run of the mode in progress.
async fn slot_run(conn: &mut sqlx::PgConnection, new: &NewRun<'_>) -> anyhow::Result<SlotRun> {
    let slot = new.schedule_slot.unwrap_or_default();
    let running = ingestion::lock_run_in_progress(conn, new.tenant_id, new.mode).await?;
    if let Some(run_id) = ingestion::run_for_slot(conn, new.tenant_id, new.mode, slot).await? {
        return Ok(SlotRun::Found(run_id));
    }
    if let Some(running) = running {
        return Ok(SlotRun::Busy(running));
    }
    let run_id = ingestion::create_run(conn, new)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the slot's run was neither found nor created"))?;
    Ok(SlotRun::Created(run_id))
}

/// Sends a run's messages; when the queue refuses, the run's unsent items are marked failed
/// (so the run does not wait forever) and the error is returned.
pub async fn send_all(
    pool: &PgPool,
    queue: &dyn Enqueue,
    run_id: Uuid,
    texts: Vec<String>,
) -> anyhow::Result<usize> {
    let count = texts.len();
    for text in texts {
        if let Err(error) = queue.send(text).await {
            let mut tx = db::begin(pool, Scope::Operator).await?;
            ingestion::fail_queued_items(&mut tx, run_id, Failure::QUEUE_UNAVAILABLE.into())
                .await?;
            tx.commit().await?;
            return Err(error.context(format!("enqueueing the messages of run {run_id}")));
        }
    }
    Ok(count)
}
