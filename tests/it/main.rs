//! Integration tests: one binary, against a real PostgreSQL (`DATABASE_URL`, a fresh database
//! per test via `#[sqlx::test]`) and real local HTTP servers.

mod api_auth;
mod api_exports;
mod api_focus;
mod api_inventory;
mod api_paging;
mod api_recommendations;
mod api_subscriptions;
mod api_tenants;
mod auth_jwks;
mod auth_verifier;
mod azure_client;
mod connectors_fixtures;
mod connectors_http;
mod db_costs;
mod db_ingestion;
mod db_login;
mod db_login_in_azure;
mod db_recommendations;
mod db_roles;
mod db_rule_inputs;
mod db_schema_keys;
mod export_jobs;
mod host;
mod ingestion_flow;
mod key_vault;
mod logging;
mod process;
mod reliability;
mod schema;
mod shared_quota;
mod sim_contract;
mod storage;
mod support;
mod tools;
