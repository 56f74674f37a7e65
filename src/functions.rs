//! The non-HTTP functions of `functions/`, as the Functions host invokes them: `POST
//! /<FunctionName>` with `{"Data", "Metadata"}`, answered with `{"Outputs", "Logs",
//! "ReturnValue"}` — 200 when done, a non-2xx status when the host should retry.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use sqlx::PgPool;

use crate::api::AppState;
use crate::api::error::ErrorDetail;
use crate::api::extract::Json;
use crate::db::partitions::{self, Retention};
use crate::ingestion::fanout;
use crate::ingestion::message::Mode;
use crate::ingestion::pipeline::Disposition;
use crate::invocation::{InvokeRequest, InvokeResponse};
use crate::schedule::Schedule;

/// The daily full ingestion's schedule (as in `functions/ingest-daily/function.json`).
pub const DAILY_SCHEDULE: &str = "0 0 2 * * *";
/// The hourly cost ingestion's schedule (as in `functions/ingest-hourly/function.json`).
pub const HOURLY_SCHEDULE: &str = "0 0 * * * *";
/// The timer functions' binding name.
pub const TIMER_BINDING: &str = "timer";
/// The queue function's binding name (as in `functions/ingest-subscription/function.json`).
pub const QUEUE_BINDING: &str = "message";

/// The routes the host POSTs non-HTTP invocations to.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/ingest-daily",
            post(|state, body| timer(state, body, Mode::Full, DAILY_SCHEDULE)),
        )
        .route(
            "/ingest-hourly",
            post(|state, body| timer(state, body, Mode::Cost, HOURLY_SCHEDULE)),
        )
        .route("/ingest-subscription", post(ingest_subscription))
        // The follow-up queue's function: the same handler (the message names its stage).
        .route("/ingest-follow-up", post(ingest_subscription))
        .route("/export-job", post(export_job))
}

/// An answer the host reads: 200 with logs, or a failure status (whose body the host drops).
pub type Answer = Result<(StatusCode, Json<InvokeResponse>), Failure>;

/// A failed invocation: its status and the line the host would log. Rendered once by
/// [`IntoResponse`], which leaves the line for the request log (the host discards the body of a
/// non-2xx answer, so the handler's log is where it is read).
#[derive(Debug)]
pub struct Failure {
    status: StatusCode,
    message: String,
}

impl Failure {
    /// A failure answered with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(InvokeResponse::logs(vec![self.message.clone()])),
        )
            .into_response();
        response.extensions_mut().insert(ErrorDetail(self.message));
        response
    }
}

/// A successful answer carrying one log line.
fn done(line: String) -> Answer {
    Ok((StatusCode::OK, Json(InvokeResponse::logs(vec![line]))))
}

/// Parses the host's body; an unreadable one is answered 400 (it would fail again).
pub fn parse(body: &Bytes) -> Result<InvokeRequest, Failure> {
    serde_json::from_slice(body)
        .map_err(|e| Failure::bad_request(format!("unreadable invocation payload: {e}")))
}

/// How far ahead of this handler's clock a timer invocation's `UtcNow` may be.
const MAX_CLOCK_AHEAD: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A timer: fan out one run per tenant for the schedule slot the invocation belongs to.
async fn timer(
    State(state): State<AppState>,
    body: Bytes,
    mode: Mode,
    schedule: &'static str,
) -> Answer {
    let request = parse(&body)?;
    let timer = request.timer(TIMER_BINDING).unwrap_or_default();
    let now = request.utc_now().unwrap_or_else(Utc::now);
    // The host's clock and ours agree to within seconds; a later `UtcNow` would claim a slot
    // that has not come yet, and the real occurrence would then find its run already made.
    if now > Utc::now() + MAX_CLOCK_AHEAD {
        return Err(Failure::bad_request(format!(
            "the invocation's UtcNow {now} is ahead of this handler's clock"
        )));
    }
    let slot = Schedule::parse(schedule)
        .map_err(|e| Failure::internal(format!("schedule `{schedule}`: {e}")))?
        .latest_at_or_before(now)
        // The invocation's `UtcNow` lies before any slot (e.g. year 1): the payload is wrong.
        .ok_or_else(|| {
            Failure::bad_request(format!(
                "no slot of `{schedule}` before the invocation's UtcNow {now}"
            ))
        })?;
    let queue = state
        .queue
        .clone()
        .ok_or_else(|| Failure::unavailable("the ingestion queue is not configured"))?;
    let pool = state
        .db
        .pool()
        .await
        .map_err(|e| Failure::unavailable(format!("database unavailable: {e:#}")))?;
    // The daily run also keeps the cost tables' partitions: before the fan-out, so the months
    // its ingestions write exist.
    let upkeep = match mode {
        Mode::Full => cost_partitions(pool, state.cost_retention).await,
        Mode::Cost | Mode::Evaluate => String::new(),
    };
    let report = fanout::fan_out(pool, queue.as_ref(), mode, slot)
        .await
        .map_err(|e| Failure::internal(format!("fan-out failed: {e:#}")))?;
    let line = format!(
        "{mode:?} ingestion for slot {slot}: {} run(s) created, {} found, {} message(s) sent{}{upkeep}",
        report.runs_created,
        report.runs_found,
        report.messages_sent,
        if timer.is_past_due { " (past due)" } else { "" }
    );
    tracing::info!(runs_created = report.runs_created, messages = report.messages_sent, %slot, "fan-out");
    done(line)
}

/// The daily upkeep of the cost partitions ([`partitions::maintain`]), as a suffix of the
/// timer's log line. A failure is logged here and does not stop the fan-out: rows of a month
/// without its partition wait in DEFAULT, and the next day tries again.
async fn cost_partitions(pool: &PgPool, retention: Retention) -> String {
    match partitions::maintain(pool, Utc::now().date_naive(), retention).await {
        Ok(done) => {
            tracing::info!(
                created = done.created,
                drained = done.drained,
                dropped = done.dropped.len(),
                "cost partitions maintained"
            );
            format!(
                "; cost partitions: {} created ahead, {} for rows in DEFAULT, {} dropped past the retention",
                done.created,
                done.drained,
                done.dropped.len()
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "cost partition maintenance failed");
            "; cost partition maintenance failed".to_owned()
        }
    }
}

/// The queue function: ingest the subscription the message names. 200 when done or rejected
/// (a message that can never succeed is not retried), 500 when the host should retry.
async fn ingest_subscription(State(state): State<AppState>, body: Bytes) -> Answer {
    let request = parse(&body)?;
    let text = request
        .data_string(QUEUE_BINDING)
        .map_err(|e| Failure::bad_request(format!("not a queue invocation: {e}")))?;
    let lazy = state.ingestor.clone().ok_or_else(|| {
        Failure::unavailable("ingestion is not configured (Azure and AZCOPS_LAKE_URL)")
    })?;
    let ingestor = lazy
        .get()
        .await
        .map_err(|e| Failure::unavailable(format!("ingestion unavailable: {e:#}")))?;
    let dequeue_count = request.dequeue_count().unwrap_or(1);
    let id = request.metadata_string("Id").unwrap_or_default();
    match ingestor.handle(&text, dequeue_count).await {
        Disposition::Done(line) => {
            tracing::info!(message.id = %id, dequeue_count, outcome = "done", "{line}");
            done(line)
        }
        Disposition::Rejected(reason) => {
            tracing::warn!(message.id = %id, dequeue_count, outcome = "rejected", "{reason}");
            done(format!("rejected: {reason}"))
        }
        Disposition::Retry(error) => Err(Failure::internal(format!("will be retried: {error}"))),
    }
}

/// The export queue function: run the export job the message names. 200 when done (or failed
/// for good at the last delivery, or rejected), 500 when the host should retry.
async fn export_job(State(state): State<AppState>, body: Bytes) -> Answer {
    let request = parse(&body)?;
    let text = request
        .data_string(QUEUE_BINDING)
        .map_err(|e| Failure::bad_request(format!("not a queue invocation: {e}")))?;
    let jobs = state.export_jobs.clone().ok_or_else(|| {
        Failure::unavailable("export jobs are not configured (queue and AZCOPS_LAKE_URL)")
    })?;
    let dequeue_count = request.dequeue_count().unwrap_or(1);
    let id = request.metadata_string("Id").unwrap_or_default();
    match crate::api::export::runtime::worker::handle(&state, &jobs, &text, dequeue_count).await {
        Disposition::Done(line) => {
            tracing::info!(message.id = %id, dequeue_count, outcome = "done", "{line}");
            done(line)
        }
        Disposition::Rejected(reason) => {
            tracing::warn!(message.id = %id, dequeue_count, outcome = "rejected", "{reason}");
            done(format!("rejected: {reason}"))
        }
        Disposition::Retry(error) => Err(Failure::internal(format!("will be retried: {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule_of(function: &str) -> String {
        let path = format!(
            "{}/functions/{function}/function.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        json["bindings"][0]["schedule"].as_str().unwrap().to_owned()
    }

    #[test]
    fn schedules_match_the_function_definitions() {
        assert_eq!(schedule_of("ingest-daily"), DAILY_SCHEDULE);
        assert_eq!(schedule_of("ingest-hourly"), HOURLY_SCHEDULE);
        assert!(
            Schedule::parse(DAILY_SCHEDULE).is_ok() && Schedule::parse(HOURLY_SCHEDULE).is_ok()
        );
    }
}
