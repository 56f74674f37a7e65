//! `azcops host`: a stand-in for the Azure Functions host, enough to run this repository's
//! `host.json` and `functions/` locally and in tests without Core Tools. It starts and
//! supervises the custom handler ([`process`]), serves HTTP and forwards HTTP functions to
//! the handler ([`http`]), fires timers ([`timers`]), polls Storage queues ([`queues`]) and
//! builds the same invocation payloads as the real host ([`payload`]).

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

use config::{AppConfig, Trigger};
use invoke::Invoker;
use queues::QueueTrigger;
use routes::Route;
use timers::Timer;

/// How long shutdown waits for invocations in flight.
const DRAIN_FOR: Duration = Duration::from_secs(30);
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
}

/// Runs the host until Ctrl-C/SIGTERM, or until the handler failed too often (an error).
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
    let mut supervisor = tokio::spawn(process::supervise(launch, port_tx, stop_handler));
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
    let result = tokio::select! {
        () = crate::server::shutdown_signal() => Ok(()),
        finished = &mut supervisor => finished.context("the handler supervisor panicked").and_then(|r| r),
    };
    stopping_tx.send_replace(true);
    let left = invoker.in_flight.drain(DRAIN_FOR).await;
    if left > 0 {
        tracing::warn!(left, "invocations still running at shutdown");
    }
    stop_handler_tx.send_replace(true);
    if !supervisor.is_finished() {
        supervisor
            .await
            .context("the handler supervisor panicked")??;
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    tracing::info!("host stopped");
    result
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
