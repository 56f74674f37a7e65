//! The HTTP API: one router per resource, assembled by [`router`] with the request context
//! middleware, the error envelope and the OpenAPI document.

pub mod anomalies;
pub mod caller;
pub mod context;
pub mod costs;
pub mod error;
pub mod export;
pub mod extract;
pub mod forecast;
pub mod health;
pub mod ingestion;
pub mod openapi;
pub mod pagination;
pub mod recommendations;
pub mod resources;
pub mod rules;
pub mod subscriptions;
pub mod suppressions;
pub mod tenants;
pub mod ui;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use tower_http::catch_panic::CatchPanicLayer;

pub use caller::{Authn, Caller};
pub use error::ApiError;
pub use rules::{Catalogue, EngineRules, RuleCatalogue, RuleInfo};

use crate::azure::client::AzureClient;
use crate::config::{DEFAULT_UI_AUTHORITY, ExportConfig, UiSettings};
use crate::db::partitions::Retention;
use crate::db::{Database, Scope};
use crate::ingestion::fanout::Enqueue;
use crate::ingestion::runtime::LazyIngestor;

/// What time it is: `Utc::now` in production; tests set the time (snoozes end, suppressions
/// expire).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub db: Arc<Database>,
    pub authn: Arc<Authn>,
    /// The ingestion queue (absent when storage is not configured: triggers answer 503).
    pub queue: Option<Arc<dyn Enqueue>>,
    /// The queue function's ingestor (absent when Azure or the lake is not configured).
    pub ingestor: Option<Arc<LazyIngestor>>,
    /// The Azure client (absent when Azure is not configured: registering a subscription,
    /// which asks ARM for its home tenant, then answers 503).
    pub azure: Option<AzureClient>,
    /// The rule catalogue (`GET /api/v1/rules`); the rule engine's ([`EngineRules`]) unless tests give another.
    pub rules: Catalogue,
    /// The time requests act at.
    pub clock: Clock,
    /// How long cost data is kept (applied by the daily timer).
    pub cost_retention: Retention,
    /// Limits of the synchronous CSV exports.
    pub exports: ExportConfig,
    /// What the web page is told (`/api/ui/config.json`).
    pub ui: Arc<UiSettings>,
    /// Export jobs' queue, lake and link key (absent without a queue and a lake: creating a
    /// job answers 503).
    pub export_jobs: Option<Arc<crate::api::export::runtime::ExportJobs>>,
    /// Which tenant each caller's Entra tenant is ([`caller::CallerTenants`]).
    pub caller_tenants: Arc<caller::CallerTenants>,
}

impl AppState {
    /// State over a database and an authentication mode.
    pub fn new(db: Database, authn: Authn) -> Self {
        Self {
            db: Arc::new(db),
            authn: Arc::new(authn),
            queue: None,
            ingestor: None,
            azure: None,
            rules: Arc::new(EngineRules),
            clock: Arc::new(Utc::now),
            cost_retention: Retention::KeepAll,
            exports: ExportConfig::default(),
            ui: Arc::new(UiSettings {
                client_id: None,
                authority: DEFAULT_UI_AUTHORITY.to_owned(),
                scope: None,
                operator_tenant_id: None,
            }),
            export_jobs: None,
            caller_tenants: Arc::default(),
        }
    }

    /// The same state with a rule catalogue.
    pub fn with_rules(mut self, rules: Catalogue) -> Self {
        self.rules = rules;
        self
    }

    /// The same state with a clock (tests).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The same state with a cost retention.
    pub fn with_cost_retention(mut self, retention: Retention) -> Self {
        self.cost_retention = retention;
        self
    }

    /// The time of the clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// The same state with these export limits.
    pub fn with_exports(mut self, exports: ExportConfig) -> Self {
        self.exports = exports;
        self
    }

    /// The same state with the web page's settings.
    pub fn with_ui(mut self, ui: UiSettings) -> Self {
        self.ui = Arc::new(ui);
        self
    }

    /// The same state with export jobs.
    pub fn with_export_jobs(mut self, jobs: Arc<crate::api::export::runtime::ExportJobs>) -> Self {
        self.export_jobs = Some(jobs);
        self
    }

    /// The same state with an Azure client.
    pub fn with_azure(mut self, azure: AzureClient) -> Self {
        self.azure = Some(azure);
        self
    }

    /// The same state with an ingestor for the queue function.
    pub fn with_ingestor(mut self, ingestor: Arc<LazyIngestor>) -> Self {
        self.ingestor = Some(ingestor);
        self
    }

    /// The same state with an ingestion queue.
    pub fn with_queue(mut self, queue: Arc<dyn Enqueue>) -> Self {
        self.queue = Some(queue);
        self
    }

    /// A transaction limited to `scope` by row-level security, each statement planned for its
    /// values (the API's catch-all filters, [`crate::db::Planning`]); for [`Scope::Tenant`],
    /// `403` once the tenant is deactivated or deleted, checked in the statement that begins
    /// it ([`crate::db::begin_for_caller`]); 503 while the database is unreachable.
    pub async fn begin(&self, scope: Scope) -> Result<Transaction<'static, Postgres>, ApiError> {
        self.begin_planned(scope, crate::db::Planning::EachExecution)
            .await
    }

    /// [`Self::begin`], planned as `planning` says ([`crate::db::begin_for_caller_planned`]).
    pub async fn begin_planned(
        &self,
        scope: Scope,
        planning: crate::db::Planning,
    ) -> Result<Transaction<'static, Postgres>, ApiError> {
        let pool = self.pool().await?;
        let error = match crate::db::begin_for_caller_planned(pool, scope, planning).await {
            Ok(tx) => return Ok(tx),
            Err(error) => error,
        };
        let refused = error
            .as_database_error()
            .and_then(|e| tenant_refused(e.code().as_deref()));
        match (refused, scope) {
            (Some(message), Scope::Tenant(id)) => {
                self.caller_tenants.forget(id);
                Err(ApiError::Forbidden(message))
            }
            _ => Err(error.into()),
        }
    }

    /// [`Self::begin`] without the tenant's check: for what is not done on a tenant caller's
    /// behalf (an export job's own bookkeeping, an operator naming a tenant that may not exist).
    pub async fn begin_unchecked(
        &self,
        scope: Scope,
    ) -> Result<Transaction<'static, Postgres>, ApiError> {
        let pool = self.pool().await?;
        Ok(crate::db::begin_planned(pool, scope, crate::db::Planning::EachExecution).await?)
    }

    async fn pool(&self) -> Result<&sqlx::PgPool, ApiError> {
        self.db.pool().await.map_err(|e| {
            tracing::error!(error = format!("{e:#}"), "database not configured");
            ApiError::Unavailable("the database is unavailable, try again shortly")
        })
    }
}

/// The 403 message of a caller's transaction refused because of its tenant, by SQLSTATE.
fn tenant_refused(code: Option<&str>) -> Option<&'static str> {
    match code? {
        crate::db::TENANT_DEACTIVATED => Some(caller::DEACTIVATED),
        crate::db::TENANT_NOT_REGISTERED => Some(caller::NOT_REGISTERED),
        _ => None,
    }
}

/// The API alone: `GET /` for readiness probes and everything under `/api` (`azcops serve`,
/// which may listen on any address, so it never exposes the function routes).
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The API plus `routes` under the same middleware, body limit and state: the custom handler
/// adds the function routes this way (`crate::server::handler_router`), so the API does not
/// depend on them.
pub fn router_with(state: AppState, routes: Router<AppState>) -> Router {
    let v1 = Router::new()
        .merge(tenants::router())
        .merge(subscriptions::router())
        .merge(resources::router())
        .merge(costs::router())
        .merge(anomalies::router())
        .merge(forecast::router())
        .merge(export::router())
        .merge(ingestion::router())
        .merge(recommendations::router())
        .merge(suppressions::router())
        .merge(rules::router());
    let api = Router::new()
        .route("/api/health", get(health::health))
        .route("/api/openapi.json", get(openapi::document))
        .nest("/api/v1", v1)
        .merge(ui::router())
        .merge(routes)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal(anyhow::anyhow!("handler panicked")).into_response()
        }))
        .layer(axum::middleware::from_fn(context::track))
        .with_state(state);
    // The host probes `/` every few milliseconds while starting and then periodically: answer
    // at once, without logging or touching the database.
    Router::new().route("/", get(|| async { "ok" })).merge(api)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("endpoint")
}
