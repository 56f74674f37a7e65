//! Azure: one resilient HTTP client ([`client`]) that every connector uses, the credentials
//! behind it, and one module per Azure API.

pub mod advisor;
pub mod client;
pub mod config;
pub mod cost_management;
pub mod credentials;
pub mod error;
pub mod monitor;
pub mod paging;
pub mod qpu_budget;
pub mod recorder;
pub mod resource_graph;
pub mod resource_skus;
pub mod retail_prices;
pub mod stats;
pub mod subscriptions;
pub mod throttle;
