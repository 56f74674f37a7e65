//! AzCops: a multi-tenant Azure FinOps platform, served as one Azure Functions custom handler.
//!
//! The binary (`src/main.rs`) parses the command line and configuration, sets up telemetry and
//! hands over to this library: [`server`] binds the port the Functions host gives it and serves
//! the [`api`] router; [`db`] holds the PostgreSQL access, one module per aggregate.

pub mod api;
pub mod auth;
pub mod azure;
pub mod config;
pub mod db;
pub mod functions;
pub mod host;
pub mod ingestion;
pub mod invocation;
pub mod schedule;
pub mod secrets;
pub mod server;
pub mod storage;
pub mod telemetry;
pub mod tools;

/// The version reported by `/api/health` and `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
