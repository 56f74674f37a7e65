//! `POST /api/v1/recommendations/{id}/transition` and `POST /api/v1/recommendations/transitions`
//! (up to 500 at once): a person's decisions on recommendations (PHASE3 §3).
//!
//! | from → to | who | needs |
//! |---|---|---|
//! | open → approved | Approver, Admin | optional reason (a comment) |
//! | open, approved → rejected | Approver, Admin | reason |
//! | open → dismissed | Approver, Admin | reason; optional `until` (≤ 365 days): a snooze |
//! | dismissed, rejected → open | Admin | |
//! | approved → executed | Admin | reference (the change ticket); the cost baseline is captured |
//!
//! Anything else (the system's transitions to and from `resolved`, an executed one reopening,
//! a status to itself) is `409 invalid_transition`; a request whose `expected_status` is no
//! longer the status is `409 status_changed`, so of two approvers deciding at once one wins.
//! The order of the answers: 403 (a reader), 400 (malformed), 404, 409 `status_changed`,
//! 409 `invalid_transition`, 403 (an Approver asking for an Admin's transition), 400 (what the
//! transition needs is missing).

use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::super::error::ApiError;
use super::super::extract::{Json, Path};
use super::super::{AppState, Caller};
use crate::db::recommendations::Status;
use crate::db::recommendations::lifecycle::{self, Change, Decider};
use crate::db::recommendations::query::{self, Recommendation};

/// Longest snooze.
pub const MAX_SNOOZE_DAYS: i64 = 365;
/// Most recommendations of one bulk request.
pub const MAX_BULK: usize = 500;
const MAX_REASON_CHARS: usize = 2000;
const MAX_REFERENCE_CHARS: usize = 400;

/// A transition to make.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub to: Status,
    /// Why: required to reject or dismiss, a comment otherwise (up to 2000 characters).
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
    /// With `to: dismissed`: when it reopens (a snooze), in the future and at most 365 days ahead.
    pub until: Option<DateTime<Utc>>,
    /// The status the caller saw: when it is no longer the status, `409 status_changed`.
    pub expected_status: Option<Status>,
    /// With `to: executed` (required): the change ticket (up to 400 characters).
    #[schema(max_length = 400)]
    pub reference: Option<String>,
}

/// The same transition for many recommendations.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTransitionRequest {
    /// 1 to 500 recommendation ids (repeats count once).
    #[schema(min_items = 1, max_items = 500)]
    pub ids: Vec<Uuid>,
    pub to: Status,
    #[schema(max_length = 2000)]
    pub reason: Option<String>,
    pub until: Option<DateTime<Utc>>,
    pub expected_status: Option<Status>,
    #[schema(max_length = 400)]
    pub reference: Option<String>,
}

/// What happened to one recommendation of a bulk request.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransitionResult {
    pub id: Uuid,
    /// `ok`, or the error code a single transition would answer (`not_found`, `forbidden`,
    /// `status_changed`, `invalid_transition`, `bad_request`).
    pub outcome: String,
    /// The HTTP status a single transition would answer.
    pub http_status: u16,
    /// Its status now (absent when not found).
    pub status: Option<Status>,
    pub message: Option<String>,
}

/// The results of a bulk request, in the order of its ids.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkTransitionResponse {
    pub succeeded: usize,
    pub failed: usize,
    pub results: Vec<TransitionResult>,
}

/// Who may make a person's transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// `AzCops.Approver` or `AzCops.Admin`.
    Approver,
    /// `AzCops.Admin`.
    Admin,
}

/// The transitions people make and who may make each; `None` for the system's and the rest.
pub fn needs(from: Status, to: Status) -> Option<Needs> {
    use Status::*;
    match (from, to) {
        (Open, Approved) | (Open | Approved, Rejected) | (Open, Dismissed) => Some(Needs::Approver),
        (Dismissed | Rejected, Open) | (Approved, Executed) => Some(Needs::Admin),
        _ => None,
    }
}

/// A request's fields, checked for what does not depend on the recommendation.
struct Checked {
    to: Status,
    expected: Option<Status>,
    change: Change,
}

fn trimmed(name: &str, value: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(ApiError::BadRequest(format!(
            "{name} must be 1 to {max} characters"
        )));
    }
    Ok(Some(value.to_owned()))
}

fn check(
    to: Status,
    reason: Option<String>,
    until: Option<DateTime<Utc>>,
    expected: Option<Status>,
    reference: Option<String>,
    now: DateTime<Utc>,
) -> Result<Checked, ApiError> {
    if let Some(until) = until
        && (until <= now || until > now + Duration::days(MAX_SNOOZE_DAYS))
    {
        return Err(ApiError::BadRequest(format!(
            "until must be in the future and at most {MAX_SNOOZE_DAYS} days ahead"
        )));
    }
    Ok(Checked {
        to,
        expected,
        change: Change {
            reason: trimmed("reason", reason, MAX_REASON_CHARS)?,
            until,
            reference: trimmed("reference", reference, MAX_REFERENCE_CHARS)?,
        },
    })
}

/// What the transition itself needs, once it is known to be allowed.
fn check_needs(to: Status, change: &Change) -> Result<(), ApiError> {
    let missing = |m: &str| Err(ApiError::BadRequest(m.to_owned()));
    match to {
        Status::Rejected | Status::Dismissed if change.reason.is_none() => {
            missing("a reason is required to reject or dismiss")
        }
        Status::Executed if change.reference.is_none() => {
            missing("a reference (the change ticket) is required to mark it executed")
        }
        s if s != Status::Dismissed && change.until.is_some() => {
            missing("until is only for dismissing (a snooze)")
        }
        s if s != Status::Executed && change.reference.is_some() => {
            missing("reference is only for marking it executed")
        }
        _ => Ok(()),
    }
}

/// Decides and applies one transition in the caller's transaction.
async fn apply(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
    req: &Checked,
    now: DateTime<Utc>,
) -> Result<Recommendation, ApiError> {
    let locked = lifecycle::lock(conn, caller.tenant(), id)
        .await?
        .ok_or(ApiError::NotFound("recommendation"))?;
    if let Some(expected) = req.expected
        && expected != locked.status
    {
        return Err(ApiError::ConflictCode {
            code: "status_changed",
            message: format!(
                "the recommendation is {}, not {} as expected",
                locked.status.as_str(),
                expected.as_str()
            ),
        });
    }
    let Some(who) = needs(locked.status, req.to) else {
        return Err(ApiError::ConflictCode {
            code: "invalid_transition",
            message: format!(
                "a recommendation that is {} cannot be made {}",
                locked.status.as_str(),
                req.to.as_str()
            ),
        });
    };
    if who == Needs::Admin {
        caller.require_admin()?;
    }
    check_needs(req.to, &req.change)?;
    let decider = Decider {
        principal: &caller.principal,
        at: now,
        correlation_id: caller.correlation_id.as_deref(),
    };
    lifecycle::transition(conn, locked, req.to, &req.change, decider).await?;
    let detail = query::get(conn, caller.tenant(), id, now)
        .await?
        .ok_or(ApiError::NotFound("recommendation"))?;
    Ok(detail.recommendation)
}

/// Makes one transition.
#[utoipa::path(post, path = "/api/v1/recommendations/{id}/transition", operation_id = "transitionRecommendation",
    tag = "recommendations", params(("id" = Uuid, Path)), request_body = TransitionRequest,
    responses((status = 200, description = "The recommendation after the transition.", body = Recommendation),
        (status = 400, description = "A malformed field, or one the transition needs is missing (a reason to reject or dismiss, a reference to execute)."),
        (status = 403, description = "Readers decide nothing; reopening and executing need AzCops.Admin."),
        (status = 404, description = "No recommendation with this id that the caller may see."),
        (status = 409, description = "`status_changed`: not in `expected_status` any more; `invalid_transition`: not a transition people make from its status.")))]
pub async fn transition(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<TransitionRequest>,
) -> Result<Json<Recommendation>, ApiError> {
    caller.require_approver()?;
    let now = state.now();
    let req = check(
        body.to,
        body.reason,
        body.until,
        body.expected_status,
        body.reference,
        now,
    )?;
    let mut tx = state.begin(caller.scope).await?;
    let recommendation = apply(&mut tx, &caller, id, &req, now).await?;
    tx.commit().await?;
    Ok(Json(recommendation))
}

/// Makes the same transition for up to 500 recommendations, each on its own: one that cannot
/// be changed does not stop the others.
#[utoipa::path(post, path = "/api/v1/recommendations/transitions", operation_id = "transitionRecommendations",
    tag = "recommendations", request_body = BulkTransitionRequest,
    responses((status = 200, description = "One result per id, in order: `ok` or what a single transition would have answered.", body = BulkTransitionResponse),
        (status = 400, description = "No ids, more than 500, or a malformed field."),
        (status = 403, description = "Readers decide nothing.")))]
pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<BulkTransitionRequest>,
) -> Result<Json<BulkTransitionResponse>, ApiError> {
    caller.require_approver()?;
    let mut ids = Vec::with_capacity(body.ids.len());
    for id in body.ids {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(ApiError::BadRequest(format!(
            "ids must name 1 to {MAX_BULK} recommendations"
        )));
    }
    let now = state.now();
    let req = check(
        body.to,
        body.reason,
        body.until,
        body.expected_status,
        body.reference,
        now,
    )?;
    let mut tx = state.begin(caller.scope).await?;
    let mut results = Vec::with_capacity(ids.len());
    for id in ids {
        let mut savepoint = sqlx::Connection::begin(&mut *tx).await?;
        match apply(&mut savepoint, &caller, id, &req, now).await {
            Ok(recommendation) => {
                savepoint.commit().await?;
                results.push(TransitionResult {
                    id,
                    outcome: "ok".into(),
                    http_status: 200,
                    status: Some(recommendation.status),
                    message: None,
                });
            }
            Err(e) if e.status().is_client_error() => {
                savepoint.rollback().await?;
                let status = lifecycle::lock(&mut tx, caller.tenant(), id)
                    .await?
                    .map(|l| l.status);
                results.push(TransitionResult {
                    id,
                    outcome: e.code().to_owned(),
                    http_status: e.status().as_u16(),
                    status,
                    message: Some(e.to_string()),
                });
            }
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    let succeeded = results.iter().filter(|r| r.outcome == "ok").count();
    Ok(Json(BulkTransitionResponse {
        succeeded,
        failed: results.len() - succeeded,
        results,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_make_exactly_the_lifecycle_tables_transitions() {
        let mut made = Vec::new();
        for from in Status::ALL {
            for to in Status::ALL {
                if let Some(who) = needs(from, to) {
                    made.push((from.as_str(), to.as_str(), who));
                }
            }
        }
        use Needs::*;
        assert_eq!(
            made,
            [
                ("open", "approved", Approver),
                ("open", "rejected", Approver),
                ("open", "dismissed", Approver),
                ("approved", "rejected", Approver),
                ("approved", "executed", Admin),
                ("rejected", "open", Admin),
                ("dismissed", "open", Admin),
            ]
        );
    }

    #[test]
    fn a_transition_gets_what_it_needs() {
        let now = Utc::now();
        let plain = |to| check(to, None, None, None, None, now).unwrap();
        assert!(check_needs(Status::Rejected, &plain(Status::Rejected).change).is_err());
        assert!(check_needs(Status::Executed, &plain(Status::Executed).change).is_err());
        assert!(check_needs(Status::Approved, &plain(Status::Approved).change).is_ok());
        let snooze = check(
            Status::Dismissed,
            Some("next quarter".into()),
            Some(now + Duration::days(30)),
            None,
            None,
            now,
        )
        .unwrap();
        assert!(check_needs(Status::Dismissed, &snooze.change).is_ok());
        assert!(check_needs(Status::Approved, &snooze.change).is_err());
        let too_far = Some(now + Duration::days(366));
        assert!(check(Status::Dismissed, None, too_far, None, None, now).is_err());
        assert!(check(Status::Dismissed, None, Some(now), None, None, now).is_err());
        assert!(check(Status::Open, Some("  ".into()), None, None, None, now).is_err());
    }
}
