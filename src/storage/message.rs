//! Queue message text as the Functions queue extension reads and writes it: `messageEncoding`
//! in `host.json` is `base64` by default (the stored text is base64 of the UTF-8 message) or
//! `none` (stored as is), and the messages a queue client hands back.

use std::fmt;
use std::str::FromStr;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use chrono::{DateTime, Utc};

/// How message text is stored in the queue (`extensions.queues.messageEncoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageEncoding {
    /// Base64 of the UTF-8 text: the Functions default.
    #[default]
    Base64,
    /// The text itself, for producers and triggers configured with `"messageEncoding": "none"`.
    None,
}

impl MessageEncoding {
    /// The text to store for message `text`.
    pub fn encode(self, text: &str) -> String {
        match self {
            Self::Base64 => BASE64_STANDARD.encode(text.as_bytes()),
            Self::None => text.to_owned(),
        }
    }

    /// The message text of stored text `raw`; the error says why it is not valid.
    pub fn decode(self, raw: &str) -> Result<String, String> {
        match self {
            Self::Base64 => {
                let bytes = BASE64_STANDARD
                    .decode(raw.trim())
                    .map_err(|e| format!("not base64 ({e})"))?;
                String::from_utf8(bytes).map_err(|_| "base64 of something that is not UTF-8".into())
            }
            Self::None => Ok(raw.to_owned()),
        }
    }
}

impl FromStr for MessageEncoding {
    type Err = String;

    /// Parses the `host.json` value (`base64` or `none`, any case).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "base64" => Ok(Self::Base64),
            "none" => Ok(Self::None),
            _ => Err(format!(
                "message encoding must be base64 or none, not `{value}`"
            )),
        }
    }
}

impl fmt::Display for MessageEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Base64 => "base64",
            Self::None => "none",
        })
    }
}

/// A message taken from the queue (invisible to others until its visibility timeout ends); the
/// local host builds the queue trigger's payload from it.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The message id.
    pub id: String,
    /// Needed to delete the message or change its visibility; changes with every receive.
    pub pop_receipt: String,
    /// How many times the message has been received, this time included.
    pub dequeue_count: u32,
    /// When it was put in the queue.
    pub inserted_at: Option<DateTime<Utc>>,
    /// When the queue drops it.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it becomes visible again unless deleted.
    pub next_visible_at: Option<DateTime<Utc>>,
    /// The text as stored (base64 when the encoding is base64).
    pub raw_text: String,
    /// The queue's message encoding.
    pub encoding: MessageEncoding,
}

impl ReceivedMessage {
    /// The message text, decoded per the encoding; the error says why it cannot be.
    pub fn text(&self) -> Result<String, String> {
        self.encoding.decode(&self.raw_text)
    }
}

/// A message seen without taking it (no pop receipt).
#[derive(Debug, Clone)]
pub struct PeekedMessage {
    /// The message id.
    pub id: String,
    /// How many times it has been received so far.
    pub dequeue_count: u32,
    /// When it was put in the queue.
    pub inserted_at: Option<DateTime<Utc>>,
    /// The text as stored.
    pub raw_text: String,
    /// The queue's message encoding.
    pub encoding: MessageEncoding,
}

impl PeekedMessage {
    /// The message text, decoded per the encoding.
    pub fn text(&self) -> Result<String, String> {
        self.encoding.decode(&self.raw_text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_the_default_and_round_trips_utf8_json() {
        let text = r#"{"v":1,"tenant":"Zürich & <Co>"}"#;
        let stored = MessageEncoding::default().encode(text);
        assert_eq!(stored, BASE64_STANDARD.encode(text));
        assert_eq!(MessageEncoding::Base64.decode(&stored).unwrap(), text);
    }

    #[test]
    fn none_stores_the_text_itself() {
        assert_eq!(MessageEncoding::None.encode("{\"v\":1}"), "{\"v\":1}");
        assert_eq!(
            MessageEncoding::None.decode("{\"v\":1}").unwrap(),
            "{\"v\":1}"
        );
    }

    #[test]
    fn text_that_is_not_base64_or_not_utf8_is_refused_with_a_reason() {
        assert!(
            MessageEncoding::Base64
                .decode("{not base64}")
                .unwrap_err()
                .contains("not base64")
        );
        let latin1 = BASE64_STANDARD.encode([0xff, 0xfe]);
        assert!(
            MessageEncoding::Base64
                .decode(&latin1)
                .unwrap_err()
                .contains("UTF-8")
        );
    }

    #[test]
    fn encodings_parse_as_host_json_spells_them() {
        assert_eq!(
            "Base64".parse::<MessageEncoding>(),
            Ok(MessageEncoding::Base64)
        );
        assert_eq!("none".parse::<MessageEncoding>(), Ok(MessageEncoding::None));
        assert!("utf8".parse::<MessageEncoding>().is_err());
    }
}
