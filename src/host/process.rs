//! Starting and supervising the handler process as the Functions host does: the executable and
//! arguments of `host.json` on a free loopback port, `GET /` polled until it answers, a restart
//! when it dies with a code other than 0, and the host shut down after 3 failures in 30 minutes.
//! Stopping it: SIGTERM to its process group, SIGKILL once the kill timeout has passed.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::time::Instant;

use super::config::AppConfig;

/// How often readiness is probed, and for how long.
const PROBE_EVERY: Duration = Duration::from_millis(25);
const PROBE_FOR: Duration = Duration::from_secs(30);
/// Failures tolerated within [`FAILURE_WINDOW`]: the third shuts the host down.
const MAX_FAILURES: usize = 3;
const FAILURE_WINDOW: Duration = Duration::from_secs(30 * 60);
/// Exit code with which a handler asks to be restarted without it counting as a failure.
const RESTART_CODE: i32 = 200;
/// How long a killed handler may take to be reaped before the host stops waiting for it.
const REAP_FOR: Duration = Duration::from_secs(1);

/// How to start the handler.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: OsString,
    pub arguments: Vec<String>,
    pub working_directory: PathBuf,
    pub app_root: PathBuf,
    /// Where this host serves HTTP: passed to the handler as `AZCOPS_HOST_LISTEN`, so a handler
    /// behind a host reachable beyond loopback refuses development settings as `serve` would.
    pub fronted_by: Option<std::net::SocketAddr>,
}

impl Launch {
    /// From `host.json`: `defaultExecutablePath` relative to the app root if that file exists,
    /// else a command looked up on PATH — except `handler` with no such file, which is this
    /// executable (so `azcops host` runs this repository without copying the binary).
    pub fn new(app: &AppConfig, executable: Option<&Path>) -> anyhow::Result<Self> {
        let described = &app.handler.executable;
        let in_root = app.root.join(described);
        let program = match executable {
            Some(path) => path.as_os_str().to_owned(),
            None if in_root.is_file() => in_root.into_os_string(),
            None if described == "handler" => std::env::current_exe()
                .context("finding the current executable")?
                .into_os_string(),
            None => OsString::from(described),
        };
        Ok(Self {
            program,
            arguments: app.handler.arguments.clone(),
            working_directory: app.handler.working_directory.clone(),
            app_root: app.root.clone(),
            fronted_by: None,
        })
    }

    fn spawn(&self, port: u16) -> anyhow::Result<Child> {
        let port = port.to_string();
        let worker_id = uuid::Uuid::new_v4().to_string();
        let mut command = Command::new(&self.program);
        // Its own process group: Ctrl-C reaches the host only, which drains in-flight
        // invocations before it stops the handler (and whatever the handler started) with
        // SIGTERM, then SIGKILL.
        #[cfg(unix)]
        command.process_group(0);
        command
            .args(&self.arguments)
            .current_dir(&self.working_directory)
            .env("FUNCTIONS_CUSTOMHANDLER_PORT", &port)
            .env("FUNCTIONS_HTTPWORKER_PORT", &port)
            .env("FUNCTIONS_CUSTOMHANDLER_WORKER_ID", &worker_id)
            .env("FUNCTIONS_HTTPWORKER_ID", &worker_id)
            .env("FUNCTIONS_APP_ROOT_PATH", &self.app_root)
            // The host's own secret: the handler has no use for it.
            .env_remove("AZCOPS_HOST_ADMIN_KEY");
        if let Some(listen) = self.fronted_by {
            command.env("AZCOPS_HOST_LISTEN", listen.to_string());
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting the handler {:?}", self.program))
    }
}

/// Runs the handler until `shutdown`, publishing its port on `port` while it is ready, then
/// stops it (SIGTERM, SIGKILL after `kill_timeout`). Returns an error when the handler failed
/// too often (the host must stop).
pub async fn supervise(
    launch: Launch,
    port: watch::Sender<Option<u16>>,
    mut shutdown: watch::Receiver<bool>,
    kill_timeout: Duration,
) -> anyhow::Result<()> {
    let mut failures: VecDeque<Instant> = VecDeque::new();
    loop {
        let free = free_port()?;
        let mut child = launch.spawn(free)?;
        let pid = child.id().unwrap_or_default();
        tracing::info!(port = free, program = ?launch.program, "handler started pid={pid}");
        let exit = run_handler(&mut child, free, &port, &mut shutdown).await?;
        port.send_replace(None);
        match exit {
            Exit::Shutdown => return stop(child, pid, kill_timeout).await,
            Exit::Exited(status) if status.success() => {
                tracing::warn!(
                    pid,
                    "handler exited with code 0: not restarted, as the Functions host"
                );
                // Invocations now fail at once (connection refused), as with the real host.
                port.send_replace(Some(free));
                let _ = shutdown.wait_for(|stop| *stop).await;
                return Ok(());
            }
            Exit::Exited(status) if status.code() == Some(RESTART_CODE) => {
                tracing::info!(pid, "handler asked to be restarted (exit code 200)");
            }
            Exit::Exited(status) => {
                tracing::error!(pid, status = %describe(status), "handler died");
                count_failure(&mut failures)?;
            }
            Exit::NotReady(error) => {
                tracing::error!(pid, %error, "handler did not become ready");
                kill(&mut child, pid).await;
                count_failure(&mut failures)?;
            }
        }
        if *shutdown.borrow() {
            return Ok(());
        }
        tracing::info!("restarting the handler");
    }
}

/// Waits for the handler to become ready (then publishes its port) and then to exit; shutdown
/// ends either wait at once, so a handler still starting is stopped as promptly as a ready one.
async fn run_handler(
    child: &mut Child,
    free: u16,
    port: &watch::Sender<Option<u16>>,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<Exit> {
    let ready = tokio::select! {
        ready = wait_ready(child, free) => ready,
        _ = shutdown.wait_for(|stop| *stop) => return Ok(Exit::Shutdown),
    };
    if let Err(error) = ready {
        return Ok(Exit::NotReady(error));
    }
    tracing::info!(
        pid = child.id().unwrap_or_default(),
        port = free,
        "handler ready"
    );
    port.send_replace(Some(free));
    tokio::select! {
        status = child.wait() => Ok(Exit::Exited(status.context("waiting for the handler")?)),
        _ = shutdown.wait_for(|stop| *stop) => Ok(Exit::Shutdown),
    }
}

enum Exit {
    Exited(ExitStatus),
    NotReady(String),
    Shutdown,
}

fn describe(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit code {code}"),
        None => format!("{status}"),
    }
}

/// Records a failure; errors once [`MAX_FAILURES`] fall within [`FAILURE_WINDOW`].
fn count_failure(failures: &mut VecDeque<Instant>) -> anyhow::Result<()> {
    let now = Instant::now();
    failures.push_back(now);
    while failures
        .front()
        .is_some_and(|t| now.duration_since(*t) > FAILURE_WINDOW)
    {
        failures.pop_front();
    }
    if failures.len() >= MAX_FAILURES {
        bail!(
            "Exceeded http worker restart retry count: the handler failed {} times within {} minutes; shutting down the host",
            failures.len(),
            FAILURE_WINDOW.as_secs() / 60
        );
    }
    Ok(())
}

/// A port nothing listens on now.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Polls `GET /` until any HTTP answer; fails if the process exits or [`PROBE_FOR`] passes.
async fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("http://127.0.0.1:{port}/");
    let deadline = Instant::now() + PROBE_FOR;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("it exited during start-up ({})", describe(status)));
        }
        match client.get(&url).send().await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_connect() => tokio::time::sleep(PROBE_EVERY).await,
            // Anything but a refused connection counts as ready, as in the real host.
            Err(_) => return Ok(()),
        }
    }
    Err(format!(
        "Initializing HttpWorker timed out after {PROBE_FOR:?}"
    ))
}

/// SIGTERM to the handler's process group; SIGKILL to it if the handler is still running
/// `kill_timeout` later (it ignores SIGTERM, or its own shutdown waits on something stuck).
async fn stop(mut child: Child, pid: u32, kill_timeout: Duration) -> anyhow::Result<()> {
    signal_group(pid, "TERM").await;
    match tokio::time::timeout(kill_timeout, child.wait()).await {
        Ok(status) => {
            tracing::info!(pid, status = %describe(status?), "handler stopped");
        }
        Err(_) => {
            tracing::warn!(
                pid,
                kill_timeout_secs = kill_timeout.as_secs(),
                "handler still running {}s after SIGTERM: killed (SIGKILL)",
                kill_timeout.as_secs()
            );
            kill(&mut child, pid).await;
        }
    }
    Ok(())
}

/// SIGKILL to the handler's process group (what it started goes with it), then reaps it.
async fn kill(child: &mut Child, pid: u32) {
    // Before the handler is reaped, so its pid still names its group.
    signal_group(pid, "KILL").await;
    // The handler itself, should the group signal have failed.
    let _ = child.start_kill();
    if tokio::time::timeout(REAP_FOR, child.wait()).await.is_err() {
        tracing::error!(
            pid,
            "handler not gone {REAP_FOR:?} after SIGKILL; leaving it"
        );
    }
}

/// Sends `signal` (`TERM`, `KILL`) to the process group the handler leads: [`Launch::spawn`]
/// starts it in one of its own, so a wrapper script's children get the signal too.
async fn signal_group(pid: u32, signal: &str) {
    if pid == 0 {
        return;
    }
    let _ = Command::new("kill")
        .args([format!("-{signal}"), "--".to_owned(), format!("-{pid}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_third_failure_within_the_window_stops_the_host() {
        let mut failures = VecDeque::new();
        assert!(count_failure(&mut failures).is_ok());
        assert!(count_failure(&mut failures).is_ok());
        assert!(count_failure(&mut failures).is_err());
    }
}
