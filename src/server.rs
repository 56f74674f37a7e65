//! Serving: bind first (the Functions host gives up on a handler that is not listening within
//! 30 s), build the state without touching the network, then serve until SIGTERM or Ctrl-C,
//! giving requests in flight a bounded grace period.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use chrono::Utc;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::api::{self, AppState, Authn};
use crate::auth::{Verifier, VerifierSettings};
use crate::azure::client::AzureClient;
use crate::config::{AuthSettings, Config, running_in_azure};
use crate::db::{Database, MIGRATOR, partitions};
use crate::functions;
use crate::ingestion::qpu_budget::PgQpuBudget;
use crate::ingestion::runtime::{LazyIngestor, QueueEnqueue};
use crate::storage::lake::location::{CLIENT_ID_SETTING, LAKE_URL_SETTING};

/// How long requests in flight get after SIGTERM/Ctrl-C before the process stops waiting for
/// them. Shorter than `azcops host`'s default kill timeout (10 s), so a handler with a stuck
/// request still exits by itself, with code 0, before the host kills it.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The database as configured (the rules are [`Config::database_source`]'s). Connects to
/// nothing.
pub fn database(config: &Config) -> anyhow::Result<Database> {
    let (source, login) = config.database_source()?;
    Ok(Database::new(
        source,
        config.db_max_connections,
        config.db_acquire_timeout(),
    )
    .with_login(login))
}

/// Builds the application state from validated configuration. Connects to nothing.
pub fn state(config: &Config) -> anyhow::Result<AppState> {
    let in_azure = running_in_azure();
    config.validate_serving(in_azure)?;
    // An API-only deployment may leave Azure unusable (registration then answers 503), but a
    // value that is set and wrong stops start-up, naming the variable.
    config.azure.validate().context("configuration")?;
    let db = database(config)?.refusing_owner_login(in_azure);
    let authn = match config.auth.validate(running_in_azure())? {
        AuthSettings::Disabled => {
            tracing::warn!(
                "authentication is DISABLED (AZCOPS_AUTH_MODE=disabled): every caller is an operator admin"
            );
            Authn::Disabled
        }
        AuthSettings::Entra {
            jwks_url,
            audience,
            issuers,
            operator_tenant_id,
        } => {
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .context("building the HTTP client")?;
            let settings = VerifierSettings {
                jwks_url,
                audience,
                issuers,
                leeway_secs: 60,
                min_refresh_interval: std::time::Duration::from_secs(60),
                max_key_age: crate::auth::DEFAULT_MAX_KEY_AGE,
                verified_ttl: crate::auth::DEFAULT_VERIFIED_TTL,
                verified_capacity: crate::auth::DEFAULT_VERIFIED_CAPACITY,
            };
            Authn::Entra {
                verifier: Verifier::new(settings, http),
                operator_tenant_id,
            }
        }
    };
    let state = AppState::new(db, authn)
        .with_cost_retention(config.cost_retention())
        .with_exports(config.exports)
        .with_ui(config.ui_settings());
    // Every setting is in `config`; the environment is read here only for the storage
    // connections settings name (`AZCOPS_QUEUE_CONNECTION`, and `AzureWebJobsStorage` for an
    // `az://` lake), as the Functions host resolves a binding's `connection`.
    ingestion(config, state, |name| std::env::var(name).ok())
}

/// Adds the ingestion queue, the Azure client and the ingestor when their settings are present
/// (an API-only deployment runs without queue and lake: triggers and the queue function then
/// answer 503; without a usable Azure configuration registration answers 503 too). A lake URL
/// that is set but unusable fails start-up naming `AZCOPS_LAKE_URL`; `lookup` reads the storage
/// connections named by settings.
pub fn ingestion(
    config: &Config,
    mut state: AppState,
    lookup: impl Fn(&str) -> Option<String> + Copy,
) -> anyhow::Result<AppState> {
    if let Some(queue) = config
        .ingestion
        .queue(lookup)
        .context("configuration: the ingestion queue")?
    {
        state = state.with_queue(Arc::new(QueueEnqueue(queue)));
    } else {
        tracing::warn!(setting = %config.ingestion.queue_connection, "no ingestion queue configured");
    }
    // The API needs Azure too (registration checks a subscription's home tenant), so the
    // client is built whether or not this instance ingests.
    let budget = Arc::new(
        PgQpuBudget::lazy(Arc::clone(&state.db), config.azure.cost_qpu_limits)
            .with_resource_graph_quota(config.azure.resource_graph_quota),
    );
    let azure = AzureClient::from_config(
        &config.azure,
        config.azure_client_id(),
        config.key_vault_url(),
        budget,
    );
    match &azure {
        Ok(azure) => state = state.with_azure(azure.clone()),
        Err(e) => {
            tracing::warn!(error = %e, "Azure not configured: subscriptions cannot be registered")
        }
    }
    // An `abfss://` lake's user-assigned identity is the configured one, not read again.
    let client_id = config.azure_client_id().map(str::to_owned);
    let lake_settings = |name: &str| match name {
        CLIENT_ID_SETTING => client_id.clone(),
        _ => lookup(name),
    };
    let Some(lake) = config
        .ingestion
        .lake(lake_settings)
        .context("configuration: the lake")?
    else {
        tracing::warn!(
            setting = LAKE_URL_SETTING,
            "no lake configured: the queue function cannot ingest"
        );
        return Ok(state);
    };
    state = export_jobs(config, state, &lake, lookup)?;
    let azure = azure.context("configuration: Azure")?;
    let mut ingestor = LazyIngestor::new(
        Arc::clone(&state.db),
        azure,
        lake,
        config.ingestion.max_dequeue_count,
    );
    if let Some(queue) = config
        .ingestion
        .follow_up_queue(lookup)
        .context("configuration: the follow-up queue")?
    {
        ingestor = ingestor.with_follow_ups(Arc::new(QueueEnqueue(queue)));
    }
    Ok(state.with_ingestor(Arc::new(ingestor)))
}

/// Adds export jobs when the ingestion queue's connection and the lake are configured: their
/// queue (`AZCOPS_EXPORT_QUEUE`) is on the same connection.
fn export_jobs(
    config: &Config,
    state: AppState,
    lake: &crate::storage::lake::LakeLocation,
    lookup: impl Fn(&str) -> Option<String> + Copy,
) -> anyhow::Result<AppState> {
    let jobs_queue = crate::ingestion::runtime::IngestionConfig {
        queue_name: config.export_jobs.export_queue.clone(),
        ..config.ingestion.clone()
    };
    let Some(queue) = jobs_queue
        .queue(lookup)
        .context("configuration: the export queue")?
    else {
        tracing::warn!("no queue configured: export jobs are not available");
        return Ok(state);
    };
    let jobs = crate::api::export::runtime::from_config(
        &config.export_jobs,
        queue,
        lake.clone(),
        config.ingestion.max_dequeue_count,
    )
    .context("configuration: export jobs")?;
    Ok(state.with_export_jobs(jobs))
}

/// Binds `addr`; port 0 picks a free port (see the returned listener's local address).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

/// The custom handler's application: the API plus the non-HTTP functions at `/<FunctionName>`
/// (see [`crate::functions`]), which only the Functions host may reach: it listens on loopback
/// and forwards nothing but `/api/...` from outside.
pub fn handler_router(state: AppState) -> Router {
    api::router_with(state, functions::router())
}

/// Serves `state` on `listener` until a shutdown signal, applying migrations in the
/// background first when `migrate` is set (the port already answers meanwhile). `functions`
/// mounts the function routes too: only for the custom handler behind the Functions host.
/// On the signal it stops accepting and returns once the requests in flight are answered, or
/// after [`SHUTDOWN_GRACE`] without waiting for them any longer.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    migrate: bool,
    functions: bool,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    if migrate {
        spawn_migrations(Arc::clone(&state.db));
    }
    tracing::info!(%addr, version = crate::VERSION, functions, "listening");
    let app = if functions {
        handler_router(state)
    } else {
        api::router(state)
    };
    let (signalled, mut grace) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown_signal().await;
        signalled.send_replace(true);
    });
    let grace_over = async move {
        // Pending forever if the server ends (its error) before any signal.
        let _ = grace.wait_for(|signalled| *signalled).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = server.into_future() => served?,
        () = grace_over => tracing::warn!(
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "requests still running {}s after the shutdown signal: abandoned",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    tracing::info!("shut down");
    Ok(())
}

/// Applies the pending migrations, then makes the cost tables' partitions of the months around
/// today ready (the daily timer does so too, so a failure of that step is only logged).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("applying migrations")?;
    let (from, to) = partitions::months_ahead(Utc::now().date_naive());
    match partitions::ensure_range(pool, from, to).await {
        Ok(created) => tracing::info!(created, "cost partitions ready"),
        Err(e) => tracing::warn!(
            error = %e,
            "cost partitions not prepared (the daily timer prepares them)"
        ),
    }
    Ok(())
}

fn spawn_migrations(db: Arc<Database>) {
    tokio::spawn(async move {
        let result = async { migrate(db.pool().await?).await }.await;
        match result {
            Ok(()) => tracing::info!("migrations applied"),
            Err(e) => tracing::error!(error = format!("{e:#}"), "migrations failed"),
        }
    });
}

/// Resolves on SIGTERM (how the Functions host stops its worker) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
