//! What a run item's failure shows to the tenant's readers: a stable code and a short fixed
//! message. The full error (Azure's own message, request ids, URLs) goes to the logs only,
//! through the queue function's disposition.
//!
//! A new kind of failure gets its code in [`Failure::of`] (an error carrying an
//! [`AzureError`] anywhere in its source chain is mapped by that), or a constant of its own.

use std::error::Error;

use crate::azure::error::AzureError;
use crate::db::ingestion::ItemFailure;

/// A sanitised failure: what is stored on the run item and returned by the status API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Stable, machine-readable (`azure_throttled`, `lake_unavailable`, …).
    pub code: &'static str,
    /// One short sentence, the same for every failure of this code.
    pub message: &'static str,
}

impl Failure {
    pub const AZURE_THROTTLED: Self = Self::new(
        "azure_throttled",
        "Azure throttled the requests; a later run will try again",
    );
    pub const AZURE_FORBIDDEN: Self = Self::new(
        "azure_forbidden",
        "AzCops is not allowed to read this subscription in Azure",
    );
    pub const AZURE_NOT_FOUND: Self = Self::new(
        "azure_not_found",
        "Azure does not know this subscription or one of its resources",
    );
    pub const AZURE_UNAVAILABLE: Self = Self::new(
        "azure_unavailable",
        "Azure did not answer in time or failed; a later run will try again",
    );
    pub const AZURE_REFUSED: Self = Self::new("azure_refused", "Azure refused a request");
    pub const AZURE_BAD_RESPONSE: Self = Self::new(
        "azure_bad_response",
        "Azure answered with data AzCops could not read",
    );
    pub const SUBSCRIPTION_NOT_IN_TENANT: Self = Self::new(
        "subscription_not_in_tenant",
        "the subscription is not, or no longer, in this tenant's Entra tenant; nothing was stored",
    );
    pub const LAKE_UNAVAILABLE: Self = Self::new(
        "lake_unavailable",
        "the raw snapshot could not be written to the lake",
    );
    pub const DATABASE_UNAVAILABLE: Self = Self::new(
        "database_unavailable",
        "the collected data could not be stored in the database",
    );
    pub const QUEUE_UNAVAILABLE: Self = Self::new(
        "queue_unavailable",
        "the ingestion message could not be put on the queue",
    );
    pub const REJECTED_MESSAGE: Self = Self::new(
        "rejected_message",
        "the queue message was rejected and will not be retried",
    );
    pub const EVALUATION_FAILED: Self = Self::new(
        "evaluation_failed",
        "the rules could not be evaluated; the operators' logs have the details",
    );
    pub const INGESTION_FAILED: Self = Self::new(
        "ingestion_failed",
        "the ingestion failed; the operators' logs have the details",
    );

    const fn new(code: &'static str, message: &'static str) -> Self {
        Self { code, message }
    }

    /// The failure of an error: the first [`AzureError`] in its source chain decides, else
    /// `fallback`.
    pub fn of(error: &(dyn Error + 'static), fallback: Self) -> Self {
        let mut next = Some(error);
        while let Some(e) = next {
            if let Some(azure) = e.downcast_ref::<AzureError>() {
                return Self::of_azure(azure);
            }
            next = e.source();
        }
        fallback
    }

    /// The failure of one Azure call.
    pub fn of_azure(error: &AzureError) -> Self {
        match error {
            AzureError::Throttled { .. } | AzureError::Budget { .. } => Self::AZURE_THROTTLED,
            AzureError::Token { .. } => Self::AZURE_FORBIDDEN,
            AzureError::Http { status, .. } => match status {
                401 | 403 => Self::AZURE_FORBIDDEN,
                404 => Self::AZURE_NOT_FOUND,
                500.. => Self::AZURE_UNAVAILABLE,
                _ => Self::AZURE_REFUSED,
            },
            AzureError::Timeout { .. }
            | AzureError::Connection { .. }
            | AzureError::Body { .. } => Self::AZURE_UNAVAILABLE,
            AzureError::Decode { .. } => Self::AZURE_BAD_RESPONSE,
            AzureError::InvalidUrl(_) | AzureError::Encode(_) | AzureError::Config(_) => {
                Self::INGESTION_FAILED
            }
        }
    }
}

impl From<Failure> for ItemFailure {
    fn from(f: Failure) -> Self {
        Self {
            code: f.code,
            message: f.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> AzureError {
        AzureError::Http {
            status,
            code: "SubscriptionNotFound".into(),
            message: "The subscription 'x' could not be found in tenant 'y'.".into(),
            request_id: Some("r".into()),
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("wrapped: {0}")]
    struct Wrapped(#[source] AzureError);

    #[test]
    fn azure_errors_map_to_stable_codes() {
        assert_eq!(Failure::of_azure(&http(404)).code, "azure_not_found");
        assert_eq!(Failure::of_azure(&http(403)).code, "azure_forbidden");
        assert_eq!(Failure::of_azure(&http(503)).code, "azure_unavailable");
        assert_eq!(Failure::of_azure(&http(400)).code, "azure_refused");
    }

    #[test]
    fn the_azure_error_is_found_anywhere_in_the_source_chain() {
        let wrapped = Wrapped(http(404));
        assert_eq!(
            Failure::of(&wrapped, Failure::INGESTION_FAILED),
            Failure::AZURE_NOT_FOUND
        );
        let other = std::io::Error::other("disk");
        assert_eq!(
            Failure::of(&other, Failure::LAKE_UNAVAILABLE),
            Failure::LAKE_UNAVAILABLE
        );
    }

    #[test]
    fn messages_carry_no_azure_text() {
        let failure = Failure::of(&Wrapped(http(404)), Failure::INGESTION_FAILED);
        assert!(!failure.message.contains("could not be found in tenant"));
    }
}
