//! The reliability suite (issue 7): what AzCops survives, each test against the real parts —
//! PostgreSQL, Azurite, the simulated Azure over HTTP, and for the crash the real binary under
//! `azcops host`. Each test prints its figures (`cargo test reliability -- --nocapture`).
//!
//! - [`faults`]: 20 subscriptions under injected 5xx, 429, resets and truncated bodies end with
//!   the rows and raw snapshots of a fault-free run.
//! - [`crash`]: the handler SIGKILLed in the middle of an upsert; redelivery leaves the state of
//!   a clean run.
//! - [`duplicates`]: every queue message delivered twice (concurrently and after the fact).
//! - [`bad_input`]: malformed invocation payloads and API input get clear 4xx answers, no 5xx
//!   (the API is also fuzzed from its OpenAPI document by `scripts/fuzz`).
//! - [`isolation`]: every operation of the OpenAPI document called with another tenant's token
//!   and this tenant's ids leaks nothing.

mod bad_input;
mod crash;
mod duplicates;
mod faults;
mod isolation;
