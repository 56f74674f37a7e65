//! A person's transitions (PHASE3 §3): approve, reject, dismiss (optionally until a time: a
//! snooze), reopen, execute; and the end of snoozes. Who may make which is the API's business;
//! the database's status trigger refuses anything outside the lifecycle. Each transition writes
//! its timeline event and audit record in the same transaction.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Actor, EventRow, SYSTEM_ACTOR, Status, record_events};

/// A recommendation locked for a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub status: Status,
}

/// Locks recommendation `id` (of `tenant_id` when given) until the transaction ends, so two
/// decisions about it are made one after the other, each seeing the other's outcome.
pub async fn lock(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<Locked>, sqlx::Error> {
    sqlx::query_as!(
        Locked,
        r#"SELECT id, tenant_id, status AS "status: Status" FROM recommendations
           WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)
           FOR UPDATE"#,
        id,
        tenant_id,
    )
    .fetch_optional(conn)
    .await
}

/// A transition a person asked for.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub reason: Option<String>,
    /// With `dismissed`: when it reopens.
    pub until: Option<DateTime<Utc>>,
    /// With `executed`: the change ticket.
    pub reference: Option<String>,
}

/// Who decided, when, in which request.
#[derive(Debug, Clone, Copy)]
pub struct Decider<'a> {
    pub principal: &'a str,
    pub at: DateTime<Utc>,
    pub correlation_id: Option<&'a str>,
}

/// Moves a locked recommendation to `to`, recording the event. Executing captures the cost
/// baseline and restarts the absence count (a finding that goes after the change and comes back
/// has regressed). Fails with the trigger's named constraint when the lifecycle forbids it.
pub async fn transition(
    conn: &mut PgConnection,
    locked: Locked,
    to: Status,
    change: &Change,
    decider: Decider<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE recommendations SET
               status = $3::recommendation_status,
               snoozed_until = CASE WHEN $3::recommendation_status = 'dismissed' THEN $4::timestamptz END,
               approved_at = CASE WHEN $3::recommendation_status = 'approved' THEN $5::timestamptz ELSE approved_at END,
               executed_at = CASE WHEN $3::recommendation_status = 'executed' THEN $5::timestamptz ELSE executed_at END,
               executed_reference = CASE WHEN $3::recommendation_status = 'executed' THEN $6::text ELSE executed_reference END,
               absent_evaluations = CASE WHEN $3::recommendation_status = 'executed' THEN 0 ELSE absent_evaluations END
           WHERE id = $1 AND status = $2::recommendation_status"#,
        locked.id,
        locked.status as Status,
        to as Status,
        change.until,
        decider.at,
        change.reference,
    )
    .execute(&mut *conn)
    .await?;
    if to == Status::Executed {
        super::realised::capture_baselines(conn, &[locked.id]).await?;
        let realised = super::query::SummaryFilter {
            tenant_id: Some(locked.tenant_id),
            subscription: None,
            include_suppressed: true,
            at: decider.at,
        };
        super::realised::store(conn, &realised, Some(&[locked.id])).await?;
    }
    let event = EventRow {
        tenant_id: locked.tenant_id,
        recommendation_id: locked.id,
        kind: "decision",
        from: locked.status,
        to,
        reason: change.reason.clone(),
        details: json!({ "until": change.until, "reference": change.reference }),
    };
    let actor = Actor {
        name: decider.principal,
        at: decider.at,
        correlation_id: decider.correlation_id,
    };
    record_events(conn, actor, &[event]).await
}

/// Reopens the snoozed recommendations (dismissed with an end) whose end is at or before
/// `now`, of `tenant_id` (or every tenant), within what the transaction may see (one tenant, or
/// all for the operator). Called by the API's reads, so an expired snooze never shows as
/// dismissed. Returns how many reopened. The database function looks in the tenant's snoozes
/// only and updates only when one has ended (migration 20261219000100).
pub async fn expire_snoozes(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id AS "id!", tenant_id AS "tenant_id!" FROM recommendations_expire_snoozes($1, $2)"#,
        now,
        tenant_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    let events: Vec<EventRow> = rows
        .iter()
        .map(|r| EventRow {
            tenant_id: r.tenant_id,
            recommendation_id: r.id,
            kind: "snooze_expired",
            from: Status::Dismissed,
            to: Status::Open,
            reason: Some("the snooze ended".into()),
            details: json!({}),
        })
        .collect();
    let actor = Actor {
        name: SYSTEM_ACTOR,
        at: now,
        correlation_id: None,
    };
    record_events(conn, actor, &events).await?;
    Ok(events.len() as u64)
}
