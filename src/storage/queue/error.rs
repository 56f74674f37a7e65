//! What can go wrong with a queue operation.

use crate::storage::connection::ConnectionError;

/// Why a queue operation failed. Messages name the queue and operation, never a key or SAS.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The connection has no queue endpoint, or is otherwise unusable.
    #[error(transparent)]
    Connection(#[from] ConnectionError),
    /// Not a valid queue name (3–63 lowercase letters, digits and single hyphens).
    #[error("`{name}` is not a valid queue name: {reason}")]
    InvalidName { name: String, reason: &'static str },
    /// An argument out of the service's range (batch size, timeout, message size).
    #[error("queue `{queue}`: {detail}")]
    InvalidArgument { queue: String, detail: String },
    /// The SDK client could not be created.
    #[error("queue `{queue}`: cannot create the client: {detail}")]
    Client { queue: String, detail: String },
    /// The service refused the request, or could not be reached (`status` is then `None`).
    #[error("queue `{queue}`: {operation} failed: {detail}")]
    Request {
        queue: String,
        operation: &'static str,
        status: Option<u16>,
        detail: String,
    },
    /// The service answered with something unusable (e.g. a message without an id).
    #[error("queue `{queue}`: {operation}: unexpected answer: {detail}")]
    Response {
        queue: String,
        operation: &'static str,
        detail: String,
    },
}

impl QueueError {
    /// The HTTP status the service answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Request { status, .. } => *status,
            _ => None,
        }
    }

    /// True for failures worth retrying: no answer, 408, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Request { status: None, .. } => true,
            Self::Request {
                status: Some(s), ..
            } => *s == 408 || *s == 429 || *s >= 500,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unanswered_throttled_and_server_errors_are_retryable() {
        let request = |status| QueueError::Request {
            queue: "q".into(),
            operation: "send",
            status,
            detail: String::new(),
        };
        assert!(request(None).is_retryable());
        assert!(request(Some(503)).is_retryable());
        assert!(request(Some(429)).is_retryable());
        assert!(!request(Some(404)).is_retryable());
        assert_eq!(request(Some(404)).status(), Some(404));
    }
}
