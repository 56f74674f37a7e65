//! Azure: one resilient HTTP client ([`client`]) that every connector uses, the credentials
//! behind it, and one module per Azure API.

pub mod resource_graph;
