//! Integration tests of the simulated Azure on its own: started in-process on port 0 with a small
//! estate and driven over HTTP like AzCops' connectors drive the real one, plus the `azure-sim`
//! binary. Whether AzCops' own queries and clients work against it is checked in the `azcops`
//! package (tests/it/sim_contract.rs and the ingestion tests).

mod advisor;
mod binary;
mod consistency;
mod cost_management;
mod faults;
mod ground_truth;
mod identity;
mod monitor;
mod resource_graph;
mod resource_skus;
mod retail_prices;
mod standalone;
mod subscriptions;
mod support;
