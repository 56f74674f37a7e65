//! Ingestion: timers fan out one queue message per subscription; the queue function ingests
//! one subscription into the lake and PostgreSQL.

pub mod collect;
pub mod conditions;
pub mod failure;
pub mod fanout;
pub mod message;
pub mod pipeline;
pub mod qpu_budget;
pub mod reference;
pub mod rows;
pub mod runtime;
pub mod targets;
