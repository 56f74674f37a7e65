//! Ingestion runs and their per-subscription items. A run's status is derived from its items:
//! queued while none has started, running while any is queued or running after one started,
//! then succeeded, failed, or partially failed.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Listed, Page};

/// What a run collects (also the `mode` of an ingestion message and of a trigger request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "ingestion_mode", rename_all = "lowercase")]
#[schema(as = Mode)]
pub enum RunMode {
    /// Inventory, costs, Advisor and metrics.
    Full,
    /// Costs only (the hourly incremental run).
    Cost,
    /// No Azure call: the rules evaluated again over the stored data.
    Evaluate,
}

/// Why an item failed, as its readers see it: a stable code and a short fixed message (the
/// ingestion pipeline's failures become these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemFailure {
    pub code: &'static str,
    pub message: &'static str,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "ingestion_trigger", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Timer,
    Api,
    Queue,
}

/// Where one subscription's ingestion stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "ingestion_item_status", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    /// The message could never succeed (unknown subscription, bad schema): not retried.
    Rejected,
}

/// A run with its derived status and item counts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Run {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub mode: RunMode,
    pub trigger: Trigger,
    /// `queued`, `running`, `succeeded`, `partially_failed` or `failed`.
    pub status: String,
    pub schedule_slot: Option<DateTime<Utc>>,
    pub requested_by: Option<String>,
    pub cost_from: Option<NaiveDate>,
    pub cost_to: Option<NaiveDate>,
    pub items_total: i64,
    pub items_succeeded: i64,
    pub items_failed: i64,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// One subscription of a run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Item {
    pub id: Uuid,
    pub run_id: Uuid,
    pub subscription_db_id: Option<Uuid>,
    pub subscription_id: Uuid,
    pub status: ItemStatus,
    pub attempts: i32,
    pub resources_count: i32,
    pub costs_count: i32,
    pub recommendations_count: i32,
    pub metrics_count: i32,
    /// Findings of the rule evaluation that followed (full runs) or was the item (`evaluate`).
    pub findings_count: i32,
    /// Azure calls spent, by API, and throttling waits.
    pub azure_calls: Value,
    /// Why it failed, as a stable code (`azure_throttled`, `rejected_message`, …).
    pub error_code: Option<String>,
    /// A short fixed message for the code; the full error is in the logs only.
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
}

/// A run to create.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub tenant_id: Uuid,
    pub mode: RunMode,
    pub trigger: Trigger,
    /// The timer slot; a second run for the same tenant, mode and slot is not created.
    pub schedule_slot: Option<DateTime<Utc>>,
    pub requested_by: Option<&'a str>,
    pub cost_from: Option<NaiveDate>,
    pub cost_to: Option<NaiveDate>,
    /// (AzCops subscription id, Azure subscription id) of each item.
    pub subscriptions: &'a [(Uuid, Uuid)],
}

/// Creates a run and its items; `None` when the timer slot already has a run.
pub async fn create_run(
    conn: &mut PgConnection,
    new: &NewRun<'_>,
) -> Result<Option<Uuid>, sqlx::Error> {
    let run_id = sqlx::query_scalar!(
        r#"INSERT INTO ingestion_runs (tenant_id, mode, trigger, schedule_slot, requested_by, cost_from, cost_to)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (tenant_id, mode, schedule_slot) DO NOTHING
           RETURNING id"#,
        new.tenant_id,
        new.mode as RunMode,
        new.trigger as Trigger,
        new.schedule_slot,
        new.requested_by,
        new.cost_from,
        new.cost_to,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(run_id) = run_id else {
        return Ok(None);
    };
    let (db_ids, azure_ids): (Vec<Uuid>, Vec<Uuid>) = new.subscriptions.iter().copied().unzip();
    sqlx::query!(
        "INSERT INTO ingestion_run_items (run_id, tenant_id, subscription_db_id, subscription_id)
         SELECT $1, $2, db_id, azure_id FROM UNNEST($3::uuid[], $4::uuid[]) AS s(db_id, azure_id)",
        run_id,
        new.tenant_id,
        &db_ids,
        &azure_ids,
    )
    .execute(conn)
    .await?;
    Ok(Some(run_id))
}

/// What [`start_item`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// The item is now running (attempt number given).
    Started { item_id: Uuid, attempt: i32 },
    /// Already succeeded (a duplicate delivery): nothing to do.
    AlreadyDone,
    /// The run has no item for this subscription.
    NoSuchItem,
}

/// Marks a run's item for `subscription_id` running, unless it already succeeded.
pub async fn start_item(
    conn: &mut PgConnection,
    run_id: Uuid,
    subscription_id: Uuid,
) -> Result<Start, sqlx::Error> {
    let row = sqlx::query!(
        r#"UPDATE ingestion_run_items
           SET status = CASE WHEN status = 'succeeded' THEN status ELSE 'running' END,
               attempts = CASE WHEN status = 'succeeded' THEN attempts ELSE attempts + 1 END,
               started_at = CASE WHEN status = 'succeeded' THEN started_at ELSE now() END,
               error = CASE WHEN status = 'succeeded' THEN error END,
               error_code = CASE WHEN status = 'succeeded' THEN error_code END
           WHERE run_id = $1 AND subscription_id = $2
           RETURNING id, attempts, status AS "status: ItemStatus""#,
        run_id,
        subscription_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None => Start::NoSuchItem,
        Some(r) if r.status == ItemStatus::Succeeded => Start::AlreadyDone,
        Some(r) => Start::Started {
            item_id: r.id,
            attempt: r.attempts,
        },
    })
}

/// How an item ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub resources: i32,
    pub costs: i32,
    pub recommendations: i32,
    pub metrics: i32,
    pub findings: i32,
    pub azure_calls: Value,
    /// `None` for success.
    pub error: Option<ItemFailure>,
}

/// Records an item's end: succeeded, or `failed`/`rejected` with its error.
pub async fn finish_item(
    conn: &mut PgConnection,
    item_id: Uuid,
    status: ItemStatus,
    outcome: &Outcome,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE ingestion_run_items
           SET status = $2, resources_count = $3, costs_count = $4, recommendations_count = $5, metrics_count = $6,
               azure_calls = $7, error_code = $8, error = $9, findings_count = $10, finished_at = now(),
               duration_ms = (extract(epoch FROM now() - coalesce(started_at, now())) * 1000)::bigint
           WHERE id = $1"#,
        item_id,
        status as ItemStatus,
        outcome.resources,
        outcome.costs,
        outcome.recommendations,
        outcome.metrics,
        outcome.azure_calls,
        outcome.error.map(|f| f.code),
        outcome.error.map(|f| f.message),
        outcome.findings,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records what an item that continues in a follow-up message has done so far; it stays
/// `running` until that message finishes it.
pub async fn record_progress(
    conn: &mut PgConnection,
    item_id: Uuid,
    outcome: &Outcome,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE ingestion_run_items
           SET resources_count = $2, costs_count = $3, recommendations_count = $4, metrics_count = $5,
               azure_calls = $6, findings_count = $7
           WHERE id = $1 AND status = 'running'"#,
        item_id,
        outcome.resources,
        outcome.costs,
        outcome.recommendations,
        outcome.metrics,
        outcome.azure_calls,
        outcome.findings,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The running item of `run_id` for `subscription_id` that a follow-up message continues, with
/// what it recorded so far; `None` when it is not running (finished, or failed since).
pub async fn continue_item(
    conn: &mut PgConnection,
    run_id: Uuid,
    subscription_id: Uuid,
) -> Result<Option<(Uuid, Outcome)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT id, resources_count, costs_count, recommendations_count, metrics_count,
                  azure_calls, findings_count
           FROM ingestion_run_items
           WHERE run_id = $1 AND subscription_id = $2 AND status = 'running'
           FOR UPDATE"#,
        run_id,
        subscription_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        let outcome = Outcome {
            resources: r.resources_count,
            costs: r.costs_count,
            recommendations: r.recommendations_count,
            metrics: r.metrics_count,
            findings: r.findings_count,
            azure_calls: r.azure_calls,
            error: None,
        };
        (r.id, outcome)
    }))
}

/// One run with its derived status; `tenant_id` limits it to a tenant.
pub async fn get_run(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    run_id: Uuid,
) -> Result<Option<Run>, sqlx::Error> {
    let one = Page {
        size: 1,
        start: super::Start::Number(1),
        count: false,
    };
    Ok(runs(conn, tenant_id, Some(run_id), &one).await?.pop())
}

/// Where a run sorts in lists: newest first, then by id (descending too).
pub type RunKey = (DateTime<Utc>, Uuid);

impl Run {
    /// Its place in the list order.
    pub fn key(&self) -> RunKey {
        (self.created_at, self.id)
    }
}

/// Runs with their derived status, newest first: a page of a tenant's (or everyone's), or one.
async fn runs(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    run_id: Option<Uuid>,
    page: &Page<RunKey>,
) -> Result<Vec<Run>, sqlx::Error> {
    let (after_created, after_id) = page.after().copied().unzip();
    sqlx::query_as!(
        Run,
        r#"SELECT r.id, r.tenant_id, r.mode AS "mode: RunMode", r.trigger AS "trigger: Trigger", r.schedule_slot,
                  r.requested_by, r.cost_from, r.cost_to, r.created_at,
                  s.status AS "status!", s.total AS "items_total!", s.succeeded AS "items_succeeded!",
                  s.failed AS "items_failed!", s.finished_at
           FROM ingestion_runs r, LATERAL (
               SELECT count(*) AS total,
                      count(*) FILTER (WHERE i.status = 'succeeded') AS succeeded,
                      count(*) FILTER (WHERE i.status IN ('failed', 'rejected')) AS failed,
                      CASE WHEN count(*) FILTER (WHERE i.status IN ('queued', 'running')) > 0 THEN NULL
                           ELSE max(i.finished_at) END AS finished_at,
                      CASE
                          WHEN count(*) = count(*) FILTER (WHERE i.status = 'queued') THEN 'queued'
                          WHEN count(*) FILTER (WHERE i.status IN ('queued', 'running')) > 0 THEN 'running'
                          WHEN count(*) = count(*) FILTER (WHERE i.status = 'succeeded') THEN 'succeeded'
                          WHEN count(*) FILTER (WHERE i.status = 'succeeded') = 0 THEN 'failed'
                          ELSE 'partially_failed'
                      END AS status
               FROM ingestion_run_items i WHERE i.run_id = r.id) s
           WHERE ($1::uuid IS NULL OR r.tenant_id = $1) AND ($2::uuid IS NULL OR r.id = $2)
             AND ($3::timestamptz IS NULL OR (r.created_at, r.id) < ($3, $4::uuid))
           ORDER BY r.created_at DESC, r.id DESC
           LIMIT $5 OFFSET $6"#,
        tenant_id,
        run_id,
        after_created,
        after_id,
        page.fetch(),
        page.offset(),
    )
    .fetch_all(conn)
    .await
}

/// A run's items in subscription order.
pub async fn items(conn: &mut PgConnection, run_id: Uuid) -> Result<Vec<Item>, sqlx::Error> {
    sqlx::query_as!(
        Item,
        r#"SELECT id, run_id, subscription_db_id, subscription_id, status AS "status: ItemStatus", attempts,
                  resources_count, costs_count, recommendations_count, metrics_count, findings_count, azure_calls,
                  error_code, error, started_at, finished_at, duration_ms
           FROM ingestion_run_items WHERE run_id = $1 ORDER BY subscription_id"#,
        run_id,
    )
    .fetch_all(conn)
    .await
}

/// A page of runs, newest first, and the total when asked for.
pub async fn list_runs(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    page: &Page<RunKey>,
) -> Result<Listed<Run>, sqlx::Error> {
    let total = if page.count {
        Some(
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!" FROM ingestion_runs WHERE $1::uuid IS NULL OR tenant_id = $1"#,
                tenant_id
            )
            .fetch_one(&mut *conn)
            .await?,
        )
    } else {
        None
    };
    let rows = runs(conn, tenant_id, None, page).await?;
    Ok(Listed { rows, total })
}

/// Active subscriptions of active tenants, as (tenant, AzCops subscription id, Azure
/// subscription id), ordered by tenant: what a timer fans out over.
pub async fn active_subscriptions(
    conn: &mut PgConnection,
) -> Result<Vec<(Uuid, Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT s.tenant_id, s.id, s.subscription_id FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id
         WHERE s.is_active AND t.is_active ORDER BY s.tenant_id, s.subscription_id"
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.tenant_id, r.id, r.subscription_id))
        .collect())
}

/// How long a run's unfinished items may sit unchanged before the run stops counting as in
/// progress (a message lost with its handler): longer than any queue wait plus the
/// `functionTimeout` of 30 min.
pub const STALLED_AFTER_HOURS: i32 = 6;

/// Serialises the starts of `tenant_id`'s runs of `mode` until the transaction ends (an
/// advisory lock), then returns the run of that tenant and mode still in progress, if any: one
/// with an item queued or running that moved in the last [`STALLED_AFTER_HOURS`]. Creating a
/// run only after this found none, in the same transaction, keeps it to one at a time even
/// when two triggers race.
pub async fn lock_run_in_progress(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    mode: RunMode,
) -> Result<Option<Uuid>, sqlx::Error> {
    let key = format!("azcops.ingestion_run:{tenant_id}:{mode:?}");
    sqlx::query!("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar!(
        r#"SELECT r.id FROM ingestion_runs r
           WHERE r.tenant_id = $1 AND r.mode = $2 AND EXISTS (
               SELECT 1 FROM ingestion_run_items i
               WHERE i.run_id = r.id AND i.status IN ('queued', 'running')
                 AND i.updated_at > now() - make_interval(hours => $3))
           ORDER BY r.created_at, r.id LIMIT 1"#,
        tenant_id,
        mode as RunMode,
        STALLED_AFTER_HOURS,
    )
    .fetch_optional(conn)
    .await
}

/// The run a timer slot already has, if any.
pub async fn run_for_slot(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    mode: RunMode,
    slot: DateTime<Utc>,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM ingestion_runs WHERE tenant_id = $1 AND mode = $2 AND schedule_slot = $3",
        tenant_id,
        mode as RunMode,
        slot,
    )
    .fetch_optional(conn)
    .await
}

/// The Azure subscription ids of a run's items that have not started yet.
pub async fn queued_items(conn: &mut PgConnection, run_id: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT subscription_id FROM ingestion_run_items WHERE run_id = $1 AND status = 'queued' ORDER BY subscription_id",
        run_id
    )
    .fetch_all(conn)
    .await
}

/// Marks every unstarted item of a run failed with `failure` (its messages could not be sent).
pub async fn fail_queued_items(
    conn: &mut PgConnection,
    run_id: Uuid,
    failure: ItemFailure,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE ingestion_run_items SET status = 'failed', error_code = $2, error = $3, finished_at = now()
         WHERE run_id = $1 AND status = 'queued'",
        run_id,
        failure.code,
        failure.message,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Marks the item of `tenant_id`'s run for `subscription_id` rejected with `failure`; false
/// when that tenant has no such item. A message naming another tenant's run changes nothing of it.
pub async fn reject_item(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    run_id: Uuid,
    subscription_id: Uuid,
    failure: ItemFailure,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        "UPDATE ingestion_run_items SET status = 'rejected', error_code = $4, error = $5, finished_at = now()
         WHERE tenant_id = $1 AND run_id = $2 AND subscription_id = $3 AND status <> 'succeeded'",
        tenant_id,
        run_id,
        subscription_id,
        failure.code,
        failure.message,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected() > 0)
}
