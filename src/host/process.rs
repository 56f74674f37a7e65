//! Starting and supervising the handler process as the Functions host does: the executable and
//! arguments of `host.json` on a free loopback port, `GET /` polled until it answers, a restart
//! when it dies with a code other than 0, and the host shut down after 3 failures in 30 minutes.

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
/// How long a handler gets to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

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
        // invocations before it stops the handler with SIGTERM.
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

/// Runs the handler until `shutdown`, publishing its port on `port` while it is ready.
/// Returns an error when the handler failed too often (the host must stop).
pub async fn supervise(
    launch: Launch,
    port: watch::Sender<Option<u16>>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut failures: VecDeque<Instant> = VecDeque::new();
    loop {
        let free = free_port()?;
        let mut child = launch.spawn(free)?;
        let pid = child.id().unwrap_or_default();
        tracing::info!(port = free, program = ?launch.program, "handler started pid={pid}");
        let exit = match wait_ready(&mut child, free).await {
            Ok(()) => {
                tracing::info!(pid, port = free, "handler ready");
                port.send_replace(Some(free));
                tokio::select! {
                    status = child.wait() => Exit::Exited(status.context("waiting for the handler")?),
                    _ = shutdown.wait_for(|stop| *stop) => Exit::Shutdown,
                }
            }
            Err(error) => Exit::NotReady(error),
        };
        port.send_replace(None);
        match exit {
            Exit::Shutdown => return stop(child, pid).await,
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
                let _ = child.kill().await;
                count_failure(&mut failures)?;
            }
        }
        if *shutdown.borrow() {
            return Ok(());
        }
        tracing::info!("restarting the handler");
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

/// SIGTERM, then SIGKILL after [`STOP_GRACE`].
async fn stop(mut child: Child, pid: u32) -> anyhow::Result<()> {
    if pid != 0 {
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await;
    }
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(status) => {
            tracing::info!(pid, status = %describe(status?), "handler stopped");
        }
        Err(_) => {
            tracing::warn!(pid, "handler ignored SIGTERM; killing it");
            child.kill().await?;
        }
    }
    Ok(())
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
