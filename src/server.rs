//! Serving: bind first (the Functions host gives up on a handler that is not listening within
//! 30 s), build the state without touching the network, then serve until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::api::{self, AppState, Authn};
use crate::auth::{Verifier, VerifierSettings};
use crate::config::{AuthSettings, Config, running_in_azure};
use crate::db::{Database, MIGRATOR, UrlSource};

/// The database as configured (a URL, or a Key Vault secret holding it). Connects to nothing.
pub fn database(config: &Config) -> anyhow::Result<Database> {
    config.validate_database()?;
    let source = match (&config.database_url, config.key_vault_url()) {
        (Some(url), _) if !url.expose_secret().trim().is_empty() => UrlSource::Direct(url.clone()),
        (_, Some(vault)) => UrlSource::KeyVault {
            vault: vault.clone(),
            secret: config.database_url_secret.clone(),
            client_id: config.azure_client_id().map(str::to_owned),
        },
        _ => anyhow::bail!("configuration: DATABASE_URL: is required"),
    };
    Ok(Database::new(
        source,
        config.db_max_connections,
        config.db_acquire_timeout(),
    ))
}

/// Builds the application state from validated configuration. Connects to nothing.
pub fn state(config: &Config) -> anyhow::Result<AppState> {
    let db = database(config)?;
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
            };
            Authn::Entra {
                verifier: Verifier::new(settings, http),
                operator_tenant_id,
            }
        }
    };
    Ok(AppState::new(db, authn))
}

/// Binds `addr`; port 0 picks a free port (see the returned listener's local address).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

/// Serves `state` on `listener` until a shutdown signal, applying migrations in the
/// background first when `migrate` is set (the port already answers meanwhile).
pub async fn serve(listener: TcpListener, state: AppState, migrate: bool) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    if migrate {
        spawn_migrations(Arc::clone(&state.db));
    }
    tracing::info!(%addr, version = crate::VERSION, "listening");
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("shut down");
    Ok(())
}

fn spawn_migrations(db: Arc<Database>) {
    tokio::spawn(async move {
        let result = async {
            let pool = db.pool().await?;
            MIGRATOR.run(pool).await.context("applying migrations")
        }
        .await;
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
