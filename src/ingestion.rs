//! Ingestion: timers fan out one queue message per subscription; the queue function ingests
//! one subscription into the lake and PostgreSQL.

pub mod fanout;
pub mod message;
