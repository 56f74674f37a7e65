//! A storage queue client for the enqueuer and the local queue-trigger host: send (optionally
//! delayed), receive with a visibility timeout, delete, change visibility, peek, count, and
//! create the queue if missing. Message text is encoded per the host's `messageEncoding`
//! ([`MessageEncoding`]).
//!
//! Built on the official `azure_storage_queue` crate, which authenticates with Entra ID or a
//! SAS only:
//! - a managed identity (identity-based connection) is handed to it as a `TokenCredential`;
//! - a connection string's `SharedAccessSignature` goes on the queue URL as is;
//! - an account key (connection strings, Azurite) signs an account SAS ([`super::sas`]) for the
//!   queue URL. A SAS lasts an hour; the client is rebuilt with a fresh one after 45 minutes.
//!
//! The crate sends a newer `x-ms-version` than Azurite 3.35 knows, so Azurite runs with
//! `--skipApiVersionCheck` (see `scripts/ensure-azurite`). Error messages never carry a SAS:
//! any `sig=` in them is redacted.

mod error;
mod source;

use std::sync::Arc;
use std::time::Duration;

use azure_core::http::StatusCode;
use azure_core::http::headers::HeaderName;
use azure_storage_queue::QueueClient as SdkQueueClient;
use azure_storage_queue::models::{
    QueueClientGetPropertiesResultHeaders, QueueClientPeekMessagesOptions,
    QueueClientReceiveMessagesOptions, QueueClientSendMessageOptions, QueueMessage,
};
use chrono::{DateTime, Utc};

pub use error::QueueError;

use super::connection::StorageConnection;
use super::message::{MessageEncoding, PeekedMessage, ReceivedMessage};
use source::ClientSource;

/// The longest visibility timeout or delay the service accepts: 7 days.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most messages one receive or peek returns.
pub const MAX_BATCH: u8 = 32;
/// The largest stored message text: 64 KiB.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// A client for one queue.
pub struct QueueClient {
    name: String,
    encoding: MessageEncoding,
    source: ClientSource,
}

impl QueueClient {
    /// A client for queue `name` of `connection`, storing text with `encoding`. Makes no
    /// request: [`create_if_missing`](Self::create_if_missing) creates the queue.
    pub fn new(
        connection: &StorageConnection,
        name: &str,
        encoding: MessageEncoding,
    ) -> Result<Self, QueueError> {
        validate_name(name)?;
        let mut queue_url = connection.queue_endpoint()?.clone();
        if let Ok(mut segments) = queue_url.path_segments_mut() {
            segments.pop_if_empty().push(name);
        }
        let source =
            ClientSource::new(connection, queue_url).map_err(|detail| QueueError::Client {
                queue: name.to_owned(),
                detail,
            })?;
        Ok(Self {
            name: name.to_owned(),
            encoding,
            source,
        })
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The message encoding this client applies.
    pub fn encoding(&self) -> MessageEncoding {
        self.encoding
    }

    /// Creates the queue unless it exists.
    pub async fn create_if_missing(&self) -> Result<(), QueueError> {
        match self.sdk()?.create(None).await {
            Ok(_) => Ok(()),
            // 409: it exists with other metadata; still, it exists.
            Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()),
            Err(e) => Err(self.request_error("create queue", &e)),
        }
    }

    /// Sends message `text` (encoded per the encoding), visible after `delay` if given.
    /// Returns the message id.
    pub async fn send(&self, text: &str, delay: Option<Duration>) -> Result<String, QueueError> {
        let stored = self.encoding.encode(text);
        if stored.len() > MAX_MESSAGE_BYTES {
            return Err(self.invalid(format!(
                "a message is at most {MAX_MESSAGE_BYTES} bytes as stored, this one is {}",
                stored.len()
            )));
        }
        let options = QueueClientSendMessageOptions {
            visibility_timeout: delay.map(|d| self.seconds(d, 0)).transpose()?,
            ..Default::default()
        };
        let message = QueueMessage {
            message_text: Some(stored),
        };
        let content = message
            .try_into()
            .map_err(|e| self.response_error("send", &e))?;
        let sent = self
            .sdk()?
            .send_message(content, Some(options))
            .await
            .map_err(|e| self.request_error("send", &e))?;
        let sent = sent
            .into_model()
            .and_then(|list| list.into_message())
            .map_err(|e| self.response_error("send", &e))?;
        let id = sent
            .message_id
            .ok_or_else(|| self.missing("send", "message id"))?;
        tracing::debug!(queue = %self.name, message_id = %id, "sent a queue message");
        Ok(id)
    }

    /// Receives up to `max` (1–32) messages, each invisible to others for `visibility`.
    pub async fn receive(
        &self,
        max: u8,
        visibility: Duration,
    ) -> Result<Vec<ReceivedMessage>, QueueError> {
        let options = QueueClientReceiveMessagesOptions {
            number_of_messages: Some(self.batch(max)?),
            visibility_timeout: Some(self.seconds(visibility, 1)?),
            ..Default::default()
        };
        let response = self
            .sdk()?
            .receive_messages(Some(options))
            .await
            .map_err(|e| self.request_error("receive", &e))?;
        let list = response
            .into_model()
            .map_err(|e| self.response_error("receive", &e))?;
        let messages = list
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                Ok(ReceivedMessage {
                    id: m
                        .message_id
                        .ok_or_else(|| self.missing("receive", "message id"))?,
                    pop_receipt: m
                        .pop_receipt
                        .ok_or_else(|| self.missing("receive", "pop receipt"))?,
                    dequeue_count: count(m.dequeue_count),
                    inserted_at: m.insertion_time.and_then(to_chrono),
                    expires_at: m.expiration_time.and_then(to_chrono),
                    next_visible_at: m.time_next_visible.and_then(to_chrono),
                    raw_text: m.message_text.unwrap_or_default(),
                    encoding: self.encoding,
                })
            })
            .collect::<Result<Vec<_>, QueueError>>()?;
        tracing::debug!(queue = %self.name, count = messages.len(), "received queue messages");
        Ok(messages)
    }

    /// Deletes message `id` received with `pop_receipt`.
    pub async fn delete(&self, id: &str, pop_receipt: &str) -> Result<(), QueueError> {
        self.sdk()?
            .delete_message(id, pop_receipt, None)
            .await
            .map_err(|e| self.request_error("delete message", &e))?;
        Ok(())
    }

    /// Makes message `id` visible again after `delay` (zero: at once). Returns the new pop
    /// receipt, which replaces the old one.
    pub async fn update_visibility(
        &self,
        id: &str,
        pop_receipt: &str,
        delay: Duration,
    ) -> Result<String, QueueError> {
        let seconds = self.seconds(delay, 0)?;
        let response = self
            .sdk()?
            .update_message(id, pop_receipt, seconds, None)
            .await
            .map_err(|e| self.request_error("update visibility", &e))?;
        response
            .headers()
            .get_optional_string(&HeaderName::from_static("x-ms-popreceipt"))
            .ok_or_else(|| self.missing("update visibility", "x-ms-popreceipt header"))
    }

    /// Up to `max` (1–32) visible messages, without taking them.
    pub async fn peek(&self, max: u8) -> Result<Vec<PeekedMessage>, QueueError> {
        let options = QueueClientPeekMessagesOptions {
            number_of_messages: Some(self.batch(max)?),
            ..Default::default()
        };
        let response = self
            .sdk()?
            .peek_messages(Some(options))
            .await
            .map_err(|e| self.request_error("peek", &e))?;
        let list = response
            .into_model()
            .map_err(|e| self.response_error("peek", &e))?;
        list.items
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                Ok(PeekedMessage {
                    id: m
                        .message_id
                        .ok_or_else(|| self.missing("peek", "message id"))?,
                    dequeue_count: count(m.dequeue_count),
                    inserted_at: m.insertion_time.and_then(to_chrono),
                    raw_text: m.message_text.unwrap_or_default(),
                    encoding: self.encoding,
                })
            })
            .collect()
    }

    /// The approximate number of messages in the queue (visible or not).
    pub async fn approximate_count(&self) -> Result<u64, QueueError> {
        let response = self
            .sdk()?
            .get_properties(None)
            .await
            .map_err(|e| self.request_error("get properties", &e))?;
        let value = response
            .approximate_messages_count()
            .map_err(|e| self.response_error("get properties", &e))?
            .ok_or_else(|| self.missing("get properties", "x-ms-approximate-messages-count"))?;
        Ok(u64::try_from(value).unwrap_or(0))
    }

    /// The SDK client to use now.
    fn sdk(&self) -> Result<Arc<SdkQueueClient>, QueueError> {
        match &self.source {
            ClientSource::Fixed(client) => Ok(client.clone()),
            ClientSource::Signed(signed) => signed.client().map_err(|e| QueueError::Client {
                queue: self.name.clone(),
                detail: source::describe(&e),
            }),
        }
    }

    fn batch(&self, max: u8) -> Result<i32, QueueError> {
        if max == 0 || max > MAX_BATCH {
            return Err(self.invalid(format!(
                "can take 1 to {MAX_BATCH} messages at once, not {max}"
            )));
        }
        Ok(i32::from(max))
    }

    /// `duration` in whole seconds, checked against `min_secs..=7 days`.
    fn seconds(&self, duration: Duration, min_secs: u64) -> Result<i32, QueueError> {
        let secs = duration.as_secs();
        if secs < min_secs || duration > MAX_VISIBILITY {
            return Err(self.invalid(format!(
                "a visibility timeout or delay is {min_secs} s to 7 days, not {secs} s"
            )));
        }
        i32::try_from(secs).map_err(|_| self.invalid("visibility out of range".into()))
    }

    fn invalid(&self, detail: String) -> QueueError {
        QueueError::InvalidArgument {
            queue: self.name.clone(),
            detail,
        }
    }

    fn missing(&self, operation: &'static str, what: &str) -> QueueError {
        QueueError::Response {
            queue: self.name.clone(),
            operation,
            detail: format!("no {what}"),
        }
    }

    fn response_error(&self, operation: &'static str, error: &azure_core::Error) -> QueueError {
        QueueError::Response {
            queue: self.name.clone(),
            operation,
            detail: source::describe(error),
        }
    }

    fn request_error(&self, operation: &'static str, error: &azure_core::Error) -> QueueError {
        QueueError::Request {
            queue: self.name.clone(),
            operation,
            status: error.http_status().map(u16::from),
            detail: source::describe(error),
        }
    }
}

impl std::fmt::Debug for QueueClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueClient")
            .field("name", &self.name)
            .field("encoding", &self.encoding)
            .finish_non_exhaustive()
    }
}

/// Checks the service's queue naming rules.
pub fn validate_name(name: &str) -> Result<(), QueueError> {
    let reason = if !(3..=63).contains(&name.len()) {
        Some("it must be 3 to 63 characters long")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Some("only lowercase letters, digits and hyphens are allowed")
    } else if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        Some("hyphens must be single and between letters or digits")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(QueueError::InvalidName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

fn count(value: Option<i64>) -> u32 {
    value.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

fn to_chrono(time: azure_core::time::OffsetDateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(time.unix_timestamp(), time.nanosecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_follow_the_service_rules() {
        for good in ["abc", "ingestion-subscriptions", "a1-b2", &"q".repeat(63)] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        for bad in [
            "ab",
            "Upper",
            "under_score",
            "-lead",
            "trail-",
            "dou--ble",
            &"q".repeat(64),
        ] {
            assert!(
                matches!(validate_name(bad), Err(QueueError::InvalidName { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_client_can_be_shared_between_tasks() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<QueueClient>();
    }
}
