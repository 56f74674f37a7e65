//! AzCops: a multi-tenant Azure FinOps platform, served as one Azure Functions custom handler.
//!
//! The binary (`src/main.rs`) parses the command line and configuration, sets up telemetry and
//! hands over to this library: [`server`] binds the port the Functions host gives it and serves
//! the [`api`] router; [`db`] holds the PostgreSQL access, one module per aggregate.
//!
//! The module map, from the bottom up; a module uses only modules of the layers below it
//! (`tests/layers.rs` checks the lower layers and that no modules use each other):
//! 1. Foundations that use no other module: [`secrets`] (Key Vault reads), [`auth`] (token
//!    verification), [`invocation`] and [`schedule`] (the Functions host's payloads and timers),
//!    [`rules`] (the rule engine: pure rules over a subscription's loaded context, with its own
//!    input types), [`analytics`] (cost series, anomaly detection and forecasts: pure numbers).
//! 2. One module per outside system: [`db`] (PostgreSQL), [`azure`] (the Azure client and one
//!    module per Azure API), [`storage`] (queues and the lake). They may read [`secrets`], and
//!    never use each other nor anything above: `db` has its own input rows, `azure` runs no SQL.
//! 3. [`ingestion`]: where they meet; it maps connector types to database rows
//!    (`ingestion::rows`) and keeps the Azure client's shared quotas (Cost Management's query
//!    budget, Resource Graph's requests) in PostgreSQL (`ingestion::qpu_budget`).
//!    [`evaluation`]: the rules over what the database holds (loads a subscription's context,
//!    runs [`rules`], applies the findings); ingestion runs it after a full run.
//!    [`anomalies`]: cost anomaly detection over what the database holds ([`analytics`] on a
//!    subscription's daily costs, attribution, storage); ingestion runs it after every cost run.
//! 4. The entry points: [`api`] (the HTTP API), [`functions`] (the host's non-HTTP
//!    invocations, on the API's state), [`config`], [`tools`] (operator commands).
//! 5. Composition: [`server`] (builds the state and the routers; the handler's router is the
//!    API plus the function routes), [`host`] (a local Functions host), [`telemetry`].
//!
//! The public surface is what the binaries, tests and benches use: a module is `pub` for them;
//! an item of a private module is `pub(crate)` at most (`unreachable_pub` holds it).

#![warn(unreachable_pub)]

pub mod analytics;
pub mod anomalies;
pub mod api;
pub mod auth;
pub mod azure;
pub mod config;
pub mod db;
pub mod evaluation;
pub mod functions;
pub mod host;
pub mod ingestion;
pub mod invocation;
pub mod rules;
pub mod schedule;
pub mod secrets;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod tools;

/// The version reported by `/api/health` and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
