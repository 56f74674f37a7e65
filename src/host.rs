//! `azcops host`: a stand-in for the Azure Functions host, enough to run this repository's
//! `host.json` and `functions/` locally and in tests without Core Tools. It starts and
//! supervises the custom handler ([`process`]), serves HTTP and forwards HTTP functions to
//! the handler ([`http`]), fires timers ([`timers`]), polls Storage queues ([`queues`]) and
//! builds the same invocation payloads as the real host ([`payload`]). On Ctrl-C/SIGTERM it
//! stops within its shutdown grace period plus the kill timeout, whatever the handler does:
//! invocations still running after the grace period are abandoned, and a handler still running
//! the kill timeout after SIGTERM is killed.

pub mod admin;
pub mod config;
pub mod http;
pub mod invoke;
pub mod payload;
pub mod process;
pub mod queues;
pub mod routes;
pub mod timers;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use config::{AppConfig, Trigger};
use invoke::Invoker;
use queues::QueueTrigger;
use routes::Route;
use timers::Timer;

/// The least time the HTTP server gets to write its last answers at shutdown.
const CLOSE_AT_LEAST: Duration = Duration::from_millis(100);
/// How long a received queue message stays invisible when `functionTimeout` is unset.
const DEFAULT_LEASE: Duration = Duration::from_secs(10 * 60);

/// Settings of `azcops host`.
#[derive(Debug, Clone, Args)]
pub struct HostConfig {
    /// The app root: the directory holding host.json and functions/.
    #[arg(
        long,
        env = "AZCOPS_HOST_APP_ROOT",
        value_name = "AZCOPS_HOST_APP_ROOT",
        default_value = "."
    )]
    pub app_root: PathBuf,

    /// Address the host serves HTTP on (the Functions default port is 7071).
    #[arg(
        long,
        env = "AZCOPS_HOST_LISTEN",
        value_name = "AZCOPS_HOST_LISTEN",
        default_value = "127.0.0.1:7071"
    )]
    pub listen: SocketAddr,

    /// The handler executable, instead of host.json's defaultExecutablePath (which, when it is
    /// `handler` and no such file exists in the app root, means this executable).
    #[arg(
        long,
        env = "AZCOPS_HOST_HANDLER_EXECUTABLE",
        value_name = "AZCOPS_HOST_HANDLER_EXECUTABLE"
    )]
    pub handler_executable: Option<PathBuf>,

    /// The key `POST /admin/functions/{name}` requires in `x-functions-key`. Unset: a random
    /// one is generated at start and logged once.
    #[arg(
        long,
        env = "AZCOPS_HOST_ADMIN_KEY",
        value_name = "AZCOPS_HOST_ADMIN_KEY",
        hide_env_values = true
    )]
    pub admin_key: Option<SecretString>,

    /// Seconds shutdown waits for invocations in flight; those still running then are abandoned
    /// (an HTTP caller gets 503, a queue message is left to its lease) and the handler is stopped.
    #[arg(
        long,
        env = "AZCOPS_HOST_SHUTDOWN_GRACE_SECS",
        value_name = "AZCOPS_HOST_SHUTDOWN_GRACE_SECS",
        default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(0..=3600)
    )]
    pub shutdown_grace_secs: u64,

    /// Seconds the handler gets to exit after SIGTERM before it is killed with SIGKILL.
    #[arg(
        long,
        env = "AZCOPS_HOST_KILL_TIMEOUT_SECS",
        value_name = "AZCOPS_HOST_KILL_TIMEOUT_SECS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(0..=3600)
    )]
    pub kill_timeout_secs: u64,
}

impl HostConfig {
    /// How long shutdown waits for invocations in flight.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// How long the handler gets after SIGTERM.
    pub fn kill_timeout(&self) -> Duration {
        Duration::from_secs(self.kill_timeout_secs)
    }
}

/// Runs the host until Ctrl-C/SIGTERM, or until the handler failed too often (an error); then
/// stops it within the shutdown grace period plus the kill timeout, whatever the handler does
/// (see [`Shutdown::run`]).
pub async fn run(config: HostConfig) -> anyhow::Result<()> {
    let root = std::fs::canonicalize(&config.app_root)
        .with_context(|| format!("app root {}", config.app_root.display()))?;
    let app = AppConfig::load(&root, &|k| std::env::var(k).ok())?;
    let mut launch = process::Launch::new(&app, config.handler_executable.as_deref())?;
    let (port_tx, port_rx) = watch::channel(None);
    let (stopping_tx, stopping) = watch::channel(false);
    let (stop_handler_tx, stop_handler) = watch::channel(false);
    let invoker = Invoker::new(port_rx, app.function_timeout)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(addr = %listener.local_addr()?, app_root = %root.display(), "host listening");
    launch.fronted_by = Some(listener.local_addr()?);
    let mut supervisor = tokio::spawn(process::supervise(
        launch,
        port_tx,
        stop_handler,
        config.kill_timeout(),
    ));
    let admin_key = admin::AdminKey::configured_or_generated(config.admin_key.as_ref());
    let state = start_triggers(&app, &invoker, &stopping, admin_key);
    let mut server_stop = stopping.clone();
    let server = tokio::spawn(async move {
        axum::serve(listener, http::router(state))
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    let (result, supervising) = tokio::select! {
        () = crate::server::shutdown_signal() => (Ok(()), true),
        finished = &mut supervisor => (finished.context("the handler supervisor panicked").and_then(|r| r), false),
    };
    let shutdown = Shutdown {
        grace: config.shutdown_grace(),
        kill_timeout: config.kill_timeout(),
        stopping: stopping_tx,
        stop_handler: stop_handler_tx,
        invoker,
    };
    let stopped = shutdown
        .run(supervising.then_some(supervisor), server)
        .await;
    tracing::info!("host stopped");
    result.and(stopped)
}

/// What stopping the host takes.
struct Shutdown {
    grace: Duration,
    kill_timeout: Duration,
    /// Set: the server stops accepting, timers and queues stop starting invocations.
    stopping: watch::Sender<bool>,
    /// Set: the supervisor stops the handler.
    stop_handler: watch::Sender<bool>,
    invoker: Invoker,
}

impl Shutdown {
    /// Stops taking work, waits up to `grace` for invocations in flight and abandons the rest,
    /// stops the handler (SIGKILL `kill_timeout` after SIGTERM), and closes the server: done
    /// within `grace` + `kill_timeout` (plus the moment a killed handler takes to be reaped), as
    /// no step waits past its own bound.
    async fn run(
        self,
        supervisor: Option<JoinHandle<anyhow::Result<()>>>,
        mut server: JoinHandle<std::io::Result<()>>,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + self.grace + self.kill_timeout;
        self.stopping.send_replace(true);
        let left = self.invoker.in_flight.drain(self.grace).await;
        if left > 0 {
            tracing::warn!(
                left,
                grace_secs = self.grace.as_secs(),
                "{left} invocation(s) still running {}s after shutdown began: abandoned",
                self.grace.as_secs()
            );
            self.invoker.in_flight.abandon();
        }
        self.stop_handler.send_replace(true);
        let stopped = self.handler_stopped(supervisor).await;
        let closing = deadline
            .saturating_duration_since(Instant::now())
            .max(CLOSE_AT_LEAST);
        if tokio::time::timeout(closing, &mut server).await.is_err() {
            tracing::warn!("connections still open at the shutdown deadline: closed");
            server.abort();
        }
        stopped
    }

    /// The supervisor's end (`None`: it has ended already, the reason the host is stopping):
    /// it stops the handler within the kill timeout (the margin covers reaping it); should it
    /// not, it is dropped, which kills the handler it holds.
    async fn handler_stopped(
        &self,
        supervisor: Option<JoinHandle<anyhow::Result<()>>>,
    ) -> anyhow::Result<()> {
        let Some(mut supervisor) = supervisor else {
            return Ok(());
        };
        let bound = self.kill_timeout + Duration::from_secs(2);
        match tokio::time::timeout(bound, &mut supervisor).await {
            Ok(finished) => finished.context("the handler supervisor panicked")?,
            Err(_) => {
                tracing::error!("the handler was not stopped within {bound:?}; abandoning it");
                supervisor.abort();
                Ok(())
            }
        }
    }
}

/// Starts every timer and queue trigger; returns the HTTP side's state.
fn start_triggers(
    app: &AppConfig,
    invoker: &Invoker,
    stopping: &watch::Receiver<bool>,
    admin_key: admin::AdminKey,
) -> http::HttpState {
    let mut routes = Vec::new();
    let mut timers = HashMap::new();
    let mut queues = HashMap::new();
    let lease = app
        .function_timeout
        .map_or(DEFAULT_LEASE, |t| t + Duration::from_secs(60));
    for function in &app.functions {
        let name = function.name.clone();
        match &function.trigger {
            Trigger::Http { methods, route } => {
                routes.push(Route::new(&name, route, methods.clone()));
            }
            Trigger::Timer {
                binding,
                schedule,
                use_monitor,
                run_on_startup,
            } => {
                let timer = Timer {
                    function: name.clone(),
                    binding: binding.clone(),
                    schedule: schedule.clone(),
                    use_monitor: *use_monitor,
                    run_on_startup: *run_on_startup,
                };
                tracing::info!(function = %name, schedule = %schedule.as_str(), "timer scheduled");
                tokio::spawn(timer.clone().run(invoker.clone(), stopping.clone()));
                timers.insert(name, timer);
            }
            Trigger::Queue {
                binding,
                queue_name,
                connection,
            } => {
                match QueueTrigger::new(&name, binding, queue_name, connection, &app.queues, lease)
                {
                    Ok(trigger) => {
                        tokio::spawn(trigger.clone().run(invoker.clone(), stopping.clone()));
                        queues.insert(name, trigger);
                    }
                    Err(e) => tracing::error!(function = %name, error = format!("{e:#}"),
                        "queue trigger not started"),
                }
            }
        }
    }
    http::HttpState {
        route_prefix: app.route_prefix.clone(),
        routes: Arc::new(routes),
        timers: Arc::new(timers),
        queues: Arc::new(queues),
        invoker: invoker.clone(),
        admin_key,
    }
}
