//! Invoking the handler: the `POST /<FunctionName>` of non-HTTP triggers, the bookkeeping every
//! invocation shares (an id, the host headers, one log line with the outcome and duration, the
//! handler's `Logs` relayed under it) and the invocations in flight, which shutdown waits for
//! and then abandons.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

/// What the host reports as its version (`X-Azure-Functions-HostVersion`, `User-Agent`).
pub const HOST_VERSION: &str = concat!("azcops-host-", env!("CARGO_PKG_VERSION"));

/// How long an invocation waits for the handler to be (re)started and ready.
const HANDLER_WAIT: Duration = Duration::from_secs(120);

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The handler answered 2xx.
    Succeeded(StatusCode),
    /// The handler answered another status.
    Failed(StatusCode),
    /// The handler could not be reached or did not answer in time.
    Error(String),
    /// Still running when the host's shutdown grace period ended: the host stopped waiting.
    Abandoned,
}

impl Outcome {
    /// Whether the host counts the invocation as successful.
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Succeeded(_))
    }
}

/// Counts invocations in flight, so shutdown can wait for them, and abandons those still
/// running when the wait is over.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    running: AtomicUsize,
    abandoned: watch::Sender<bool>,
}

/// Held while an invocation runs.
pub struct InFlightGuard(Arc<Shared>);

impl InFlight {
    /// Marks one invocation as running until the guard drops.
    pub fn enter(&self) -> InFlightGuard {
        self.0.running.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.0.clone())
    }

    /// Invocations running now.
    pub fn count(&self) -> usize {
        self.0.running.load(Ordering::SeqCst)
    }

    /// Waits until none runs, or `bound` has passed; returns how many are left.
    pub async fn drain(&self, bound: Duration) -> usize {
        let deadline = Instant::now() + bound;
        while self.count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.count()
    }

    /// Gives up on every invocation running now or started later: each ends at once as
    /// [`Outcome::Abandoned`] (see [`InFlightGuard::unless_abandoned`]).
    pub fn abandon(&self) {
        self.0.abandoned.send_replace(true);
    }
}

impl InFlightGuard {
    /// Runs `work` to its end, or until the invocations are abandoned (`None`, `work` dropped).
    pub async fn unless_abandoned<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        let mut abandoned = self.0.abandoned.subscribe();
        tokio::select! {
            // Work that is done is not abandoned.
            biased;
            done = work => Some(done),
            _ = abandoned.wait_for(|a| *a) => None,
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Talks to the handler on whatever port it currently listens on.
#[derive(Debug, Clone)]
pub struct Invoker {
    pub client: reqwest::Client,
    port: watch::Receiver<Option<u16>>,
    pub in_flight: InFlight,
}

impl Invoker {
    /// An invoker following the supervisor's `port` (None while no handler is ready).
    pub fn new(
        port: watch::Receiver<Option<u16>>,
        timeout: Option<Duration>,
    ) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout + Duration::from_secs(60));
        }
        Ok(Self {
            client: builder.build()?,
            port,
            in_flight: InFlight::default(),
        })
    }

    /// `http://127.0.0.1:<port>` of the ready handler, waiting for one if it is restarting.
    pub async fn base_url(&self) -> Result<String, String> {
        let mut port = self.port.clone();
        let ready = tokio::time::timeout(HANDLER_WAIT, port.wait_for(Option::is_some)).await;
        match ready {
            Ok(Ok(p)) => Ok(format!("http://127.0.0.1:{}", p.unwrap_or_default())),
            Ok(Err(_)) => Err("the host is shutting down".into()),
            Err(_) => Err(format!("no handler ready within {HANDLER_WAIT:?}")),
        }
    }

    /// POSTs `payload` to `/<function>` and logs the invocation.
    pub async fn invoke(&self, function: &str, payload: &Value) -> Outcome {
        let running = self.in_flight.enter();
        let id = Uuid::new_v4();
        let started = Instant::now();
        let (outcome, logs) = running
            .unless_abandoned(self.post(function, id, payload))
            .await
            .unwrap_or((Outcome::Abandoned, Vec::new()));
        record(function, id, started, &outcome);
        for line in logs {
            tracing::info!(function, invocation_id = %id, "{line}");
        }
        outcome
    }

    async fn post(&self, function: &str, id: Uuid, payload: &Value) -> (Outcome, Vec<String>) {
        let base = match self.base_url().await {
            Ok(base) => base,
            Err(e) => return (Outcome::Error(e), Vec::new()),
        };
        let body = payload.to_string();
        let response = self
            .client
            .post(format!("{base}/{function}"))
            .header("content-type", "application/json; charset=utf-8")
            .header("x-azure-functions-invocationid", id.to_string())
            .header("x-azure-functions-hostversion", HOST_VERSION)
            .header("user-agent", format!("Azure-Functions-Host/{HOST_VERSION}"))
            .body(body)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(e) => return (Outcome::Error(format!("{e:#}")), Vec::new()),
        };
        let status = response.status();
        if !status.is_success() {
            // As the real host: the body, Logs included, of a failed invocation is dropped.
            return (Outcome::Failed(status), Vec::new());
        }
        let logs = response
            .json::<Value>()
            .await
            .map(|v| logs_of(&v))
            .unwrap_or_default();
        (Outcome::Succeeded(status), logs)
    }
}

/// The `Logs` lines of a handler's answer (property name read case-insensitively).
pub fn logs_of(answer: &Value) -> Vec<String> {
    let logs = answer
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("logs")))
        .and_then(|(_, v)| v.as_array());
    logs.map(|lines| {
        lines
            .iter()
            .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_owned))
            .collect()
    })
    .unwrap_or_default()
}

/// The one log line of an invocation.
pub fn record(function: &str, id: Uuid, started: Instant, outcome: &Outcome) {
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Outcome::Succeeded(status) => tracing::info!(
            function, invocation_id = %id, duration_ms, outcome = "succeeded",
            status = status.as_u16(), "invocation finished"
        ),
        Outcome::Failed(status) => tracing::warn!(
            function, invocation_id = %id, duration_ms, outcome = "failed",
            status = status.as_u16(), "invocation finished"
        ),
        Outcome::Error(error) => tracing::warn!(
            function, invocation_id = %id, duration_ms, outcome = "failed", %error,
            "invocation finished"
        ),
        Outcome::Abandoned => tracing::warn!(
            function, invocation_id = %id, duration_ms, outcome = "abandoned",
            "invocation finished"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn abandoning_ends_the_invocations_in_flight_and_any_started_later() {
        let in_flight = InFlight::default();
        let guard = in_flight.enter();
        let stuck =
            tokio::spawn(async move { guard.unless_abandoned(std::future::pending::<()>()).await });
        assert_eq!(in_flight.drain(Duration::from_millis(100)).await, 1);
        in_flight.abandon();
        assert_eq!(stuck.await.expect("task"), None);
        assert_eq!(in_flight.count(), 0);
        let later = in_flight.enter();
        assert_eq!(
            later.unless_abandoned(std::future::pending::<()>()).await,
            None
        );
        assert_eq!(later.unless_abandoned(async { 7 }).await, Some(7));
    }

    #[test]
    fn logs_are_read_from_the_answer() {
        assert_eq!(logs_of(&json!({"Logs": ["a", "b"]})), ["a", "b"]);
        assert_eq!(logs_of(&json!({"logs": ["a"]})), ["a"]);
        assert!(logs_of(&json!({"Logs": null})).is_empty());
    }
}
