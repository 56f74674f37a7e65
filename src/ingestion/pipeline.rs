//! One queue message, one subscription: resolve it, collect from Azure, write each
//! collector's raw snapshot to the lake (create-only) **before** touching the database, then
//! upsert the normalised rows in batches and record the run item's outcome.
//!
//! Monitor's answers, the bulk of a large subscription, are not held until the end: each is
//! written to the lake as a part of the monitor snapshot while collection goes on
//! ([`snapshot_part_path`]), through a channel of [`SPILL_CAPACITY`] responses, so at most a few
//! batches are in memory at once. When collection succeeds, the snapshot's own document (where
//! a whole snapshot would be) lists the parts of that attempt, create-only like every snapshot:
//! the first attempt that completed is the snapshot; parts of an attempt that did not complete
//! stay in the lake, listed nowhere.

mod follow_up;
mod realised_inputs;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::collect::{self, CollectError, Collected, ResourceCosts, Target};
use super::failure::Failure;
use super::fanout::Enqueue;
use super::message::{IngestMessage, Mode, Stage};
use super::reference::Refresher;
use crate::anomalies;
use crate::azure::advisor::AdvisorRecommendation;
use crate::azure::client::{Api, AzureClient, CallContext};
use crate::azure::cost_management::{DateRange, ResourceCostRow};
use crate::azure::recorder::{RawResponse, Recorder, snapshot_chunks};
use crate::azure::resource_graph::{self, QueryResponse, Resource};
use crate::db::ingestion::{self, ItemStatus, NewRun, Outcome, Start, Trigger};
use crate::db::subscriptions::{self, IngestionTarget};
use crate::db::{self, Database, Scope, audit};
use crate::evaluation::{self, EvaluationError};
use crate::storage::lake::{Lake, LakeError, snapshot_part_path, snapshot_path};

/// Rows written per statement.
pub const BATCH_SIZE: usize = 1000;

/// Monitor responses that may wait for the lake writer before the next call waits.
pub const SPILL_CAPACITY: usize = 2;

/// The connectors and the APIs whose responses make up their raw snapshots, written whole.
const SNAPSHOTS: [(&str, &[Api]); 3] = [
    ("resource_graph", &[Api::ResourceGraph]),
    ("cost_management", &[Api::CostManagement]),
    ("advisor", &[Api::Advisor]),
];

/// The connector whose snapshot is written in parts, and its APIs.
const SPILLED: (&str, &[Api]) = ("monitor", &[Api::MonitorBatch, Api::MonitorMetrics]);

/// Received spilled responses.
type Spilled = mpsc::Receiver<(Api, RawResponse)>;

/// What the queue function should answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Done (succeeded, already done, or failed for good): delete the message.
    Done(String),
    /// Failed in a way a later attempt may fix: let the host retry.
    Retry(String),
    /// Can never succeed: recorded as rejected, not retried.
    Rejected(String),
}

/// Everything one subscription's ingestion needs.
#[derive(Clone)]
pub struct Ingestor {
    pub db: Arc<Database>,
    pub azure: AzureClient,
    pub lake: Lake,
    /// The queue's `maxDequeueCount`: the last attempt records the failure and stops.
    pub max_dequeue_count: u32,
    /// Where follow-up messages go ([`Stage`]); without it an item never defers work.
    pub follow_ups: Option<Arc<dyn Enqueue>>,
}

/// Where an item stands once its message is handled.
enum Step {
    /// The item is complete.
    Finished(Outcome),
    /// The per-resource cost window (and the evaluation after it) is left to a follow-up
    /// message, visible once the tenant's budget has room: from this instant on.
    Deferred(Outcome, tokio::time::Instant),
}

/// Why storing failed.
#[derive(Debug, thiserror::Error)]
enum StoreError {
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error(transparent)]
    Lake(#[from] LakeError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("reading back the inventory: {0}")]
    Inventory(String),
    #[error("evaluating the rules: {0}")]
    Evaluation(String),
    #[error("sending the follow-up message: {0}")]
    Queue(String),
}

impl StoreError {
    fn is_retryable(&self) -> bool {
        match self {
            StoreError::Collect(e) => e.is_retryable(),
            StoreError::Lake(_) | StoreError::Database(_) | StoreError::Queue(_) => true,
            StoreError::Inventory(_) | StoreError::Evaluation(_) => false,
        }
    }

    /// What the run item shows of it.
    fn failure(&self) -> Failure {
        match self {
            StoreError::Collect(CollectError::NotInTenant | CollectError::ForeignRows { .. }) => {
                Failure::SUBSCRIPTION_NOT_IN_TENANT
            }
            StoreError::Collect(e) => Failure::of(e, Failure::INGESTION_FAILED),
            StoreError::Lake(_) => Failure::LAKE_UNAVAILABLE,
            StoreError::Database(_) => Failure::DATABASE_UNAVAILABLE,
            StoreError::Inventory(_) => Failure::AZURE_BAD_RESPONSE,
            StoreError::Evaluation(_) => Failure::EVALUATION_FAILED,
            StoreError::Queue(_) => Failure::QUEUE_UNAVAILABLE,
        }
    }
}

impl Ingestor {
    /// Handles one message's text, delivered for the `dequeue_count`th time.
    pub async fn handle(&self, text: &str, dequeue_count: u32) -> Disposition {
        let message = match IngestMessage::parse(text) {
            Ok(message) => message,
            Err(e) => {
                let reason = e.to_string();
                self.record_rejection(None, text, &reason).await;
                return Disposition::Rejected(reason);
            }
        };
        match self.ingest(&message, dequeue_count).await {
            Ok(disposition) => disposition,
            Err(e) => Disposition::Retry(format!("{e:#}")),
        }
    }

    /// Appends the rejection to the audit log, and marks the run item rejected when the
    /// message names one: only an item of the message's own tenant, under that tenant's
    /// row-level security, so a message naming another tenant's run changes nothing of it.
    async fn record_rejection(&self, message: Option<&IngestMessage>, text: &str, reason: &str) {
        // PostgreSQL stores no U+0000 in text or jsonb: a message carrying one is still recorded.
        let storable = |s: &str| s.replace('\0', "\u{FFFD}");
        let result: anyhow::Result<()> = async {
            let pool = self.db.pool().await?;
            if let Some((run_id, m)) = message.and_then(|m| m.run_id.map(|run_id| (run_id, m))) {
                let mut tx = db::begin(pool, Scope::Tenant(m.tenant_id)).await?;
                let failure = Failure::REJECTED_MESSAGE.into();
                ingestion::reject_item(&mut tx, m.tenant_id, run_id, m.subscription_id, failure)
                    .await?;
                tx.commit().await?;
            }
            let mut tx = db::begin(pool, Scope::Operator).await?;
            let excerpt: String = storable(text).chars().take(2000).collect();
            let after = json!({ "reason": storable(reason), "message": excerpt });
            let entry = audit::Entry {
                tenant_id: None,
                actor: "ingestion",
                ..audit::Entry::new(
                    audit::Action::Create,
                    "rejected_message",
                    "queue",
                    None,
                    Some(&after),
                )
            };
            audit::record(&mut tx, &entry).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        // The rejection itself is logged once, by the queue function that reports it; only a
        // failure to record it is this function's to log.
        if let Err(e) = result {
            tracing::error!(
                reason,
                error = format!("{e:#}"),
                "rejected queue message not recorded"
            );
        }
    }

    async fn ingest(&self, m: &IngestMessage, dequeue_count: u32) -> anyhow::Result<Disposition> {
        let pool = self.db.pool().await?;
        let mut tx = db::begin(pool, Scope::Operator).await?;
        let target = subscriptions::for_ingestion(&mut tx, m.tenant_id, m.subscription_id).await?;
        tx.commit().await?;
        let Some(target) = target.filter(|t| t.active) else {
            let reason = format!(
                "subscription {} of tenant {} is not registered or not active",
                m.subscription_id, m.tenant_id
            );
            self.record_rejection(Some(m), &m.to_text(), &reason).await;
            return Ok(Disposition::Rejected(reason));
        };
        if m.stage.is_some() {
            return self.follow_up(m, &target, dequeue_count).await;
        }
        let mut tx = db::begin(pool, Scope::Tenant(target.tenant_id)).await?;
        let run_id = match m.run_id {
            Some(run_id) => run_id,
            None => adhoc_run(&mut tx, m, &target).await?,
        };
        let start = ingestion::start_item(&mut tx, run_id, m.subscription_id).await?;
        let run = ingestion::get_run(&mut tx, Some(target.tenant_id), run_id).await?;
        tx.commit().await?;
        let (item_id, run) = match (start, run) {
            (Start::AlreadyDone, _) => {
                return Ok(Disposition::Done(format!("run {run_id}: already ingested")));
            }
            (Start::Started { item_id, .. }, Some(run)) => (item_id, run),
            _ => {
                let reason = format!(
                    "run {run_id} has no item for subscription {}",
                    m.subscription_id
                );
                self.record_rejection(Some(m), &m.to_text(), &reason).await;
                return Ok(Disposition::Rejected(reason));
            }
        };
        let (sender, spilled) = mpsc::channel(SPILL_CAPACITY);
        let ctx = CallContext::new(target.azure_tenant_id.to_string())
            .with_subscription(target.subscription_id.to_string())
            .with_correlation_id(run_id.to_string())
            .with_recorder(Arc::new(Recorder::spilling(SPILLED.1, sender)));
        let snapshot = SnapshotKey {
            message: m,
            run_id,
            run_at: run.created_at,
            attempt: Uuid::new_v4(),
        };
        let result = if m.mode == Mode::Evaluate {
            self.evaluate(&target).await.map(Step::Finished)
        } else {
            self.collect_and_store(&ctx, spilled, &target, &snapshot)
                .await
        };
        let calls = serde_json::to_value(ctx.stats.snapshot()).unwrap_or_default();
        let result = match result {
            Ok(Step::Deferred(mut outcome, room_at)) => {
                // What is left of the wait once everything else is stored (seconds, usually).
                let wait = room_at.saturating_duration_since(tokio::time::Instant::now());
                outcome.azure_calls = calls;
                let mut tx = db::begin(pool, Scope::Tenant(target.tenant_id)).await?;
                ingestion::record_progress(&mut tx, item_id, &outcome).await?;
                tx.commit().await?;
                let next = m.next_stage(Stage::ResourceCosts, 0);
                match self.send_follow_up(&next, run_id, wait).await {
                    Ok(()) => {
                        return Ok(Disposition::Done(format!(
                            "run {run_id}: subscription {} ingested; its per-resource costs follow in {} s",
                            m.subscription_id,
                            wait.as_secs()
                        )));
                    }
                    Err(e) => Err((e, outcome.azure_calls)),
                }
            }
            Ok(Step::Finished(outcome)) => Ok(Outcome {
                azure_calls: calls,
                ..outcome
            }),
            Err(e) => Err((e, calls)),
        };
        self.finish(pool, (&target, item_id, run_id), result, dequeue_count)
            .await
    }

    /// Records the item's end and says what the queue function answers.
    async fn finish(
        &self,
        pool: &sqlx::PgPool,
        (target, item_id, run_id): (&IngestionTarget, Uuid, Uuid),
        result: Result<Outcome, (StoreError, serde_json::Value)>,
        dequeue_count: u32,
    ) -> anyhow::Result<Disposition> {
        let mut tx = db::begin(pool, Scope::Tenant(target.tenant_id)).await?;
        let subscription = target.subscription_id;
        let disposition = match result {
            Ok(outcome) => {
                ingestion::finish_item(&mut tx, item_id, ItemStatus::Succeeded, &outcome).await?;
                Disposition::Done(format!(
                    "run {run_id}: subscription {subscription} ingested"
                ))
            }
            Err((e, calls)) => {
                // The full text goes to the logs with the disposition; the item keeps the code.
                let error = format!("{e:#}");
                let outcome = Outcome {
                    azure_calls: calls,
                    error: Some(e.failure().into()),
                    ..Outcome::default()
                };
                ingestion::finish_item(&mut tx, item_id, ItemStatus::Failed, &outcome).await?;
                if e.is_retryable() && dequeue_count < self.max_dequeue_count {
                    Disposition::Retry(error)
                } else {
                    Disposition::Done(format!(
                        "run {run_id}: subscription {subscription} failed: {error}"
                    ))
                }
            }
        };
        tx.commit().await?;
        Ok(disposition)
    }

    async fn collect_and_store(
        &self,
        ctx: &CallContext,
        spilled: Spilled,
        target: &IngestionTarget,
        key: &SnapshotKey<'_>,
    ) -> Result<Step, StoreError> {
        let (m, run_id, run_at) = (key.message, key.run_id, key.run_at);
        let subscription = target.subscription_id.to_string();
        let entra_tenant = target.azure_tenant_id.to_string();
        let stored_until = match (m.mode, self.db.pool().await) {
            (Mode::Full, Ok(pool)) => {
                let mut tx = db::begin(pool, Scope::Tenant(target.tenant_id)).await?;
                let end =
                    db::resource_costs::latest_window_end(&mut tx, target.tenant_id, target.id)
                        .await?;
                tx.commit().await?;
                end
            }
            _ => None,
        };
        let window_due = DateRange::resource_cost_window(run_at).to;
        let resource_costs = match m.mode {
            Mode::Full if stored_until == Some(window_due) => ResourceCosts::Skip,
            Mode::Full if self.follow_ups.is_some() => ResourceCosts::Due,
            Mode::Full => ResourceCosts::Now,
            Mode::Cost | Mode::Evaluate => ResourceCosts::Skip,
        };
        let plan = Target {
            subscription_id: &subscription,
            entra_tenant_id: &entra_tenant,
            billing_scope: target.billing_scope.as_deref(),
            mode: m.mode,
            cost_window: m.cost_from.zip(m.cost_to),
            now: run_at,
            resource_costs,
        };
        let mut collected = self
            .collect_spilling(collect::collect(&self.azure, ctx, &plan), spilled, key)
            .await?;
        let inventory = self
            .write_snapshots(ctx, m, (run_id, run_at), &SNAPSHOTS)
            .await?;
        let needs = std::mem::take(&mut collected.needs);
        let deferred = collected.resource_costs_deferred;
        let currency = billing_currency(&collected);
        // When the rules are evaluated in this invocation, Advisor's recommendations are written
        // after them: each is then grouped with the finding that leads it as it is inserted,
        // where written first it was inserted alone and updated by the evaluation's regrouping
        // (every index of the table written twice for most of them on a first run).
        let advisor_after_rules = m.mode == Mode::Full && deferred.is_none();
        let advisor = if advisor_after_rules {
            std::mem::take(&mut collected.recommendations)
        } else {
            Vec::new()
        };
        let outcome = self.upsert(target, run_at, collected, &inventory).await?;
        drop(inventory);
        self.detect_anomalies(target, run_at).await;
        if let Ok(pool) = self.db.pool().await {
            let refresher = Refresher {
                pool,
                azure: &self.azure,
                ctx,
                tenant_id: target.tenant_id,
                subscription_id: &subscription,
                now: Utc::now(),
            };
            refresher.refresh(&needs, &currency).await;
        }
        if m.mode == Mode::Full {
            self.collect_realised_inputs(ctx, target, key).await;
        }
        if let Some(room_at) = deferred {
            return Ok(Step::Deferred(outcome, room_at));
        }
        if advisor_after_rules {
            // Advisor's recommendations are stored even when the evaluation fails.
            let evaluated = self.evaluate(target).await;
            let recommendations = self.store_advisor(target, &advisor).await?;
            return Ok(Step::Finished(Outcome {
                findings: evaluated?.findings,
                recommendations,
                ..outcome
            }));
        }
        Ok(Step::Finished(outcome))
    }

    /// Detects cost anomalies over the subscription's costs as they now stand (after every
    /// full or cost run). A failure is logged and never fails the item: the costs are stored.
    async fn detect_anomalies(&self, target: &IngestionTarget, run_at: DateTime<Utc>) {
        let last_day = run_at.date_naive() - chrono::Days::new(1);
        let result: anyhow::Result<anomalies::Report> = async {
            let pool = self.db.pool().await?;
            let mut tx = db::begin(pool, Scope::Tenant(target.tenant_id)).await?;
            let report =
                anomalies::detect_subscription(&mut tx, target.tenant_id, target.id, last_day)
                    .await?;
            tx.commit().await?;
            Ok(report)
        }
        .await;
        match result {
            Ok(report) => tracing::info!(
                azure.subscription_id = %target.subscription_id,
                series = report.series,
                anomalies = report.anomalies,
                deleted = report.deleted,
                "cost anomalies detected"
            ),
            Err(e) => tracing::warn!(
                azure.subscription_id = %target.subscription_id,
                error = format!("{e:#}"),
                "cost anomaly detection failed; the costs are stored"
            ),
        }
    }

    /// The database pool for storing, its failure to connect a storing error.
    async fn store_pool(&self) -> Result<&sqlx::PgPool, StoreError> {
        self.db
            .pool()
            .await
            .map_err(|e| StoreError::Database(sqlx::Error::Configuration(e.into())))
    }

    /// Stores Advisor's recommendations collected by a full run whose rules were evaluated in
    /// the same invocation, in a transaction of their own, after the evaluation.
    async fn store_advisor(
        &self,
        target: &IngestionTarget,
        recommendations: &[AdvisorRecommendation],
    ) -> Result<i32, StoreError> {
        let pool = self.store_pool().await?;
        let mut tx = db::begin(pool, Scope::Tenant(target.tenant_id)).await?;
        let written =
            write_advisor(&mut tx, (target.tenant_id, target.id), recommendations).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Evaluates the rules over what the database now holds of the subscription: after every
    /// full run, and alone for a message of mode `evaluate` (no Azure call).
    async fn evaluate(&self, target: &IngestionTarget) -> Result<Outcome, StoreError> {
        let pool = self.store_pool().await?;
        let report =
            evaluation::evaluate_subscription(pool, target.tenant_id, target.id, Utc::now())
                .await
                .map_err(|e| match e {
                    EvaluationError::Database(e) => StoreError::Database(e),
                    EvaluationError::Engine(e) => StoreError::Evaluation(e),
                })?;
        tracing::info!(
            azure.subscription_id = %target.subscription_id,
            findings = report.findings,
            inserted = report.inserted,
            updated = report.updated,
            resolved = report.resolved,
            reopened = report.reopened,
            skipped = report.skipped,
            duration_ms = report.duration_ms,
            "rules evaluated"
        );
        Ok(Outcome {
            findings: count(report.findings),
            ..Outcome::default()
        })
    }

    /// Runs `collect` while writing each spilled response to the lake as the next part of its
    /// snapshot; what is still in the channel when collection ends is written after it.
    async fn collect_spilling(
        &self,
        collect: impl Future<Output = Result<Collected, CollectError>>,
        mut spilled: Spilled,
        key: &SnapshotKey<'_>,
    ) -> Result<Collected, StoreError> {
        let mut collect = std::pin::pin!(collect);
        let mut parts = Vec::new();
        let collected = loop {
            tokio::select! {
                biased;
                Some((_, response)) = spilled.recv() => {
                    parts.push(self.write_part(key, parts.len() + 1, response).await?);
                }
                collected = &mut collect => break collected,
            }
        };
        spilled.close();
        while let Ok((_, response)) = spilled.try_recv() {
            parts.push(self.write_part(key, parts.len() + 1, response).await?);
        }
        let collected = collected?;
        if !parts.is_empty() {
            self.write_manifest(key, &parts).await?;
        }
        Ok(collected)
    }

    /// The spilled snapshot's document: its metadata and the paths of this attempt's parts.
    async fn write_manifest(
        &self,
        key: &SnapshotKey<'_>,
        parts: &[String],
    ) -> Result<(), LakeError> {
        let m = key.message;
        let (connector, _) = SPILLED;
        let doc = json!({
            "meta": {
                "connector": connector, "tenant_id": m.tenant_id, "subscription_id": m.subscription_id,
                "run_id": key.run_id, "mode": m.mode, "attempt": key.attempt, "collected_at": Utc::now(),
            },
            "parts": parts,
        });
        let path = snapshot_path(
            m.tenant_id,
            connector,
            key.run_at.date_naive(),
            m.subscription_id,
            key.run_id,
        );
        let body = object_store::PutPayload::from(doc.to_string().into_bytes());
        match self.lake.put_json(&path, body).await {
            Err(e) if e.is_already_exists() => {
                tracing::info!(lake.path = %path, "snapshot already written");
                Ok(())
            }
            other => other,
        }
    }

    /// Writes one spilled response as part `seq` of this attempt's snapshot (create-only: a
    /// part already there is kept).
    async fn write_part(
        &self,
        key: &SnapshotKey<'_>,
        seq: usize,
        response: RawResponse,
    ) -> Result<String, LakeError> {
        let seq = u32::try_from(seq).unwrap_or(u32::MAX);
        let m = key.message;
        let (connector, _) = SPILLED;
        let meta = json!({
            "connector": connector, "tenant_id": m.tenant_id, "subscription_id": m.subscription_id,
            "run_id": key.run_id, "mode": m.mode, "attempt": key.attempt, "part": seq,
            "collected_at": Utc::now(),
        });
        let path = snapshot_part_path(
            m.tenant_id,
            connector,
            key.run_at.date_naive(),
            m.subscription_id,
            key.run_id,
            key.attempt,
            seq,
        );
        let payload = snapshot_chunks(&meta, std::slice::from_ref(&response));
        match self
            .lake
            .put_json(
                &path,
                payload.into_iter().collect::<object_store::PutPayload>(),
            )
            .await
        {
            Err(e) if e.is_already_exists() => {
                tracing::info!(lake.path = %path, "snapshot part already written");
            }
            other => other?,
        }
        Ok(path.to_string())
    }

    /// One snapshot per collector that ran; an existing one (a redelivery) is kept as it is.
    /// Returns the inventory's raw pages, from which the resources are then stored.
    async fn write_snapshots(
        &self,
        ctx: &CallContext,
        m: &IngestMessage,
        (run_id, run_at): (Uuid, DateTime<Utc>),
        snapshots: &[(&str, &[Api])],
    ) -> Result<Vec<RawResponse>, LakeError> {
        let mut inventory = Vec::new();
        let Some(recorder) = &ctx.recorder else {
            return Ok(inventory);
        };
        for &(connector, apis) in snapshots {
            let responses = recorder.take(apis);
            if responses.is_empty() {
                continue;
            }
            let meta = json!({
                "connector": connector, "tenant_id": m.tenant_id, "subscription_id": m.subscription_id,
                "run_id": run_id, "mode": m.mode, "collected_at": Utc::now(),
            });
            let path = snapshot_path(
                m.tenant_id,
                connector,
                run_at.date_naive(),
                m.subscription_id,
                run_id,
            );
            match self
                .lake
                .put_json(
                    &path,
                    snapshot_chunks(&meta, &responses)
                        .into_iter()
                        .collect::<object_store::PutPayload>(),
                )
                .await
            {
                Err(e) if e.is_already_exists() => {
                    tracing::info!(lake.path = %path, "snapshot already written")
                }
                other => other?,
            }
            if connector == "resource_graph" {
                inventory = responses;
            }
        }
        Ok(inventory)
    }

    async fn upsert(
        &self,
        target: &IngestionTarget,
        run_at: DateTime<Utc>,
        collected: Collected,
        inventory: &[RawResponse],
    ) -> Result<Outcome, StoreError> {
        let pool = self.store_pool().await?;
        let (tenant, sub) = (target.tenant_id, target.id);
        let cost_count = collected.costs.len();
        let costs = super::rows::cost_rows(collected.costs);
        // The partitions of the months about to be written, before the transaction that writes
        // them: creating one locks its table briefly, which must not wait inside that transaction.
        let resource_window_end = collected.resource_costs.as_ref().map(|(w, _)| w.to);
        let days = costs.iter().map(|c| c.date).chain(resource_window_end);
        db::partitions::ensure_months_of(pool, days).await?;
        let mut tx = db::begin(pool, Scope::Tenant(tenant)).await?;
        let mut outcome = Outcome::default();
        if let Some(total) = collected.inventory_count {
            for response in inventory {
                let mut page = inventory_page(response)?;
                // A resource listed twice (it moved between pages) must appear once per statement.
                page.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
                page.dedup_by(|a, b| a.resource_id == b.resource_id);
                let conditions = super::rows::condition_rows(&page);
                db::conditions::observe(&mut tx, tenant, sub, run_at, &conditions).await?;
                let page = super::rows::inventory_rows(page);
                db::resources::upsert(&mut tx, tenant, sub, run_at, &page).await?;
            }
            db::resources::mark_missing_deleted(&mut tx, sub, run_at).await?;
            db::conditions::end_unseen(&mut tx, tenant, sub, run_at).await?;
            outcome.resources = count(total);
        }
        outcome.recommendations =
            write_advisor(&mut tx, (tenant, sub), &collected.recommendations).await?;
        outcome.metrics = count(collected.metrics.len());
        for batch in super::rows::metric_rows(&collected.metrics).chunks(BATCH_SIZE) {
            db::metrics::upsert(&mut tx, tenant, sub, batch).await?;
        }
        if let Some((window, rows)) = collected.resource_costs {
            store_resource_costs(&mut tx, (tenant, sub), window, rows).await?;
        }
        if let Some(containers) = collected.containers {
            let rows = super::rows::container_rows(containers);
            db::containers::replace(&mut tx, tenant, sub, run_at, &rows).await?;
        }
        // The daily costs last: their triggers take the tenant's rollup lock (README "Cost
        // storage"), which the tenant's other subscriptions wait for until this commits.
        outcome.costs = count(cost_count);
        for batch in costs.chunks(BATCH_SIZE) {
            db::costs::upsert(&mut tx, tenant, sub, batch).await?;
        }
        if let Some((from, to)) = collected.cost_window {
            db::costs::delete_absent(&mut tx, sub, from, to, &costs).await?;
        }
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Upserts the subscription's Advisor recommendations; returns how many there are.
async fn write_advisor(
    conn: &mut sqlx::PgConnection,
    (tenant, sub): (Uuid, Uuid),
    recommendations: &[AdvisorRecommendation],
) -> Result<i32, sqlx::Error> {
    let rows = super::rows::advisor_rows(recommendations);
    for batch in rows.chunks(BATCH_SIZE) {
        db::recommendations::upsert_advisor(conn, tenant, sub, batch).await?;
    }
    Ok(count(rows.len()))
}

/// Stores the per-resource cost window: its rows upserted, rows it no longer has deleted.
async fn store_resource_costs(
    conn: &mut sqlx::PgConnection,
    (tenant, sub): (Uuid, Uuid),
    window: DateRange,
    rows: Vec<ResourceCostRow>,
) -> Result<(), sqlx::Error> {
    let window = db::resource_costs::Window {
        start: window.from,
        end: window.to,
    };
    let rows = super::rows::resource_cost_rows(rows);
    for batch in rows.chunks(BATCH_SIZE) {
        db::resource_costs::upsert(conn, tenant, sub, window, batch).await?;
    }
    let keep: Vec<(String, String)> = rows
        .into_iter()
        .map(|r| (r.resource_id, r.service_name))
        .collect();
    db::resource_costs::delete_absent(conn, tenant, sub, window, &keep).await?;
    Ok(())
}

/// Where one attempt's snapshots go.
struct SnapshotKey<'a> {
    message: &'a IngestMessage,
    run_id: Uuid,
    run_at: DateTime<Utc>,
    /// This attempt's own id: parts are written per attempt.
    attempt: Uuid,
}

/// One raw Resource Graph page, mapped again (it was mapped once already while collecting).
/// The resource_graph snapshot holds only the inventory's pages: the containers come from the
/// same rows and from ARM, not from a query of their own.
fn inventory_page(response: &RawResponse) -> Result<Vec<Resource>, StoreError> {
    let page: QueryResponse =
        serde_json::from_slice(&response.body).map_err(|e| StoreError::Inventory(e.to_string()))?;
    resource_graph::map_page("all_resources", &page)
        .map_err(|e| StoreError::Inventory(e.to_string()))
}

/// The currency the subscription is billed in, as its costs say (USD when it has none yet).
fn billing_currency(collected: &Collected) -> String {
    let resource_costs = collected.resource_costs.as_ref().map(|(_, rows)| rows);
    collected
        .costs
        .iter()
        .map(|c| c.currency.as_str())
        .chain(
            resource_costs
                .into_iter()
                .flatten()
                .map(|c| c.currency.as_str()),
        )
        .find(|c| !c.is_empty())
        .unwrap_or("USD")
        .to_ascii_uppercase()
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A message put on the queue by hand has no run: it gets one of its own.
async fn adhoc_run(
    conn: &mut sqlx::PgConnection,
    m: &IngestMessage,
    target: &IngestionTarget,
) -> anyhow::Result<Uuid> {
    let subscriptions = [(target.id, target.subscription_id)];
    let new = NewRun {
        tenant_id: target.tenant_id,
        mode: m.mode,
        trigger: Trigger::Queue,
        schedule_slot: None,
        requested_by: Some("queue"),
        cost_from: m.cost_from,
        cost_to: m.cost_to,
        subscriptions: &subscriptions,
    };
    ingestion::create_run(conn, &new)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the ad-hoc run was not created"))
}
