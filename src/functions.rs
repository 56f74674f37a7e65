//! The non-HTTP functions of `functions/`, as the Functions host invokes them: `POST
//! /<FunctionName>` with `{"Data", "Metadata"}`, answered with `{"Outputs", "Logs",
//! "ReturnValue"}` — 200 when done, a non-2xx status when the host should retry.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::Utc;

use crate::api::AppState;
use crate::api::extract::Json;
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
}

/// An answer the host reads: 200 with logs, or a failure status (whose body the host drops).
pub type Answer = (StatusCode, Json<InvokeResponse>);

/// A failed invocation, logged here because the host discards the body of a non-2xx answer.
pub fn failure(status: StatusCode, message: String) -> Answer {
    tracing::error!(error = %message, "invocation failed");
    (status, Json(InvokeResponse::logs(vec![message])))
}

/// Parses the host's body; an unreadable one is answered 400 (it would fail again).
pub fn parse(body: &Bytes) -> Result<InvokeRequest, Box<Answer>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(failure(
            StatusCode::BAD_REQUEST,
            format!("unreadable invocation payload: {e}"),
        ))
    })
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
    let request = match parse(&body) {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
    let timer = request.timer(TIMER_BINDING).unwrap_or_default();
    let now = request.utc_now().unwrap_or_else(Utc::now);
    // The host's clock and ours agree to within seconds; a later `UtcNow` would claim a slot
    // that has not come yet, and the real occurrence would then find its run already made.
    if now > Utc::now() + MAX_CLOCK_AHEAD {
        return failure(
            StatusCode::BAD_REQUEST,
            format!("the invocation's UtcNow {now} is ahead of this handler's clock"),
        );
    }
    let slot = match Schedule::parse(schedule).map(|s| s.latest_at_or_before(now)) {
        Ok(Some(slot)) => slot,
        // The invocation's `UtcNow` lies before any slot (e.g. year 1): the payload is wrong.
        Ok(None) => {
            return failure(
                StatusCode::BAD_REQUEST,
                format!("no slot of `{schedule}` before the invocation's UtcNow {now}"),
            );
        }
        Err(e) => {
            return failure(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("schedule `{schedule}`: {e}"),
            );
        }
    };
    let Some(queue) = state.queue.clone() else {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "the ingestion queue is not configured".into(),
        );
    };
    let pool = match state.db.pool().await {
        Ok(pool) => pool,
        Err(e) => {
            return failure(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("database unavailable: {e:#}"),
            );
        }
    };
    match fanout::fan_out(pool, queue.as_ref(), mode, slot).await {
        Ok(report) => {
            let line = format!(
                "{mode:?} ingestion for slot {slot}: {} run(s) created, {} found, {} message(s) sent{}",
                report.runs_created,
                report.runs_found,
                report.messages_sent,
                if timer.is_past_due { " (past due)" } else { "" }
            );
            tracing::info!(runs_created = report.runs_created, messages = report.messages_sent, %slot, "fan-out");
            (StatusCode::OK, Json(InvokeResponse::logs(vec![line])))
        }
        Err(e) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("fan-out failed: {e:#}"),
        ),
    }
}

/// The queue function: ingest the subscription the message names. 200 when done or rejected
/// (a message that can never succeed is not retried), 500 when the host should retry.
async fn ingest_subscription(State(state): State<AppState>, body: Bytes) -> Answer {
    let request = match parse(&body) {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
    let text = match request.data_string(QUEUE_BINDING) {
        Ok(text) => text,
        Err(e) => {
            return failure(
                StatusCode::BAD_REQUEST,
                format!("not a queue invocation: {e}"),
            );
        }
    };
    let Some(lazy) = state.ingestor.clone() else {
        return failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "ingestion is not configured (Azure and AZCOPS_LAKE_URL)".into(),
        );
    };
    let ingestor = match lazy.get().await {
        Ok(ingestor) => ingestor,
        Err(e) => {
            return failure(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("ingestion unavailable: {e:#}"),
            );
        }
    };
    let dequeue_count = request.dequeue_count().unwrap_or(1);
    let id = request.metadata_string("Id").unwrap_or_default();
    match ingestor.handle(&text, dequeue_count).await {
        Disposition::Done(line) => {
            tracing::info!(message.id = %id, dequeue_count, outcome = "done", "{line}");
            (StatusCode::OK, Json(InvokeResponse::logs(vec![line])))
        }
        Disposition::Rejected(reason) => {
            tracing::warn!(message.id = %id, dequeue_count, outcome = "rejected", "{reason}");
            (
                StatusCode::OK,
                Json(InvokeResponse::logs(vec![format!("rejected: {reason}")])),
            )
        }
        Disposition::Retry(error) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("will be retried: {error}"),
        ),
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
