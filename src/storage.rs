//! Azure Storage: the fan-out queue and the raw-snapshot lake.
//!
//! - [`connection`]: storage connections configured as Azure Functions configures them
//!   (connection strings, `UseDevelopmentStorage=true`, identity-based `__queueServiceUri`).
//! - [`queue`]: a queue client on the official `azure_storage_queue` crate, with the host's
//!   `messageEncoding` (base64 by default) applied to message text.
//! - [`lake`]: create-only raw JSON snapshots through `object_store` (Blob/ADLS Gen2, Azurite
//!   or a local folder).
//! - [`message`]: message encodings (`base64`, `none`) and received messages.
//! - [`sas`]: account SAS tokens signed with an account key, for Azurite and key-based
//!   connection strings (the official crates accept only Entra ID or a SAS).

pub mod connection;
pub mod lake;
pub mod message;
pub mod queue;
pub mod sas;

pub use connection::{ConnectionError, StorageConnection, StorageCredential};
pub use lake::{Lake, LakeError, LakeLocation, snapshot_part_path, snapshot_path};
pub use message::{MessageEncoding, PeekedMessage, ReceivedMessage};
pub use queue::{QueueClient, QueueError};

/// Replaces the value of every `sig=` query parameter in `text` (an error message that may
/// quote a SAS URL) with `REDACTED`.
pub(crate) fn redact_sas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("sig=") {
        let (before, after) = rest.split_at(at + 4);
        out.push_str(before);
        out.push_str("REDACTED");
        let end = after
            .find(|c: char| c == '&' || c == ')' || c == '"' || c == '\'' || c.is_whitespace())
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn signatures_are_redacted_from_error_text() {
        assert_eq!(
            super::redact_sas(
                "error sending request for url (http://h/q?sv=1&sig=a%2Bb%3D&se=2) x"
            ),
            "error sending request for url (http://h/q?sv=1&sig=REDACTED&se=2) x"
        );
        assert_eq!(super::redact_sas("sig=abc"), "sig=REDACTED");
        assert_eq!(super::redact_sas("no signature"), "no signature");
    }
}
