//! The error every Azure call can end in, and the parsing of Azure's error bodies.
//!
//! Messages name the request by method and redacted URL, the status, ARM's error code and
//! message and `x-ms-request-id`; never a token, a secret or a response body (a JSON decode
//! error is described by its category and position only, with quoted values removed).

use std::time::Duration;

use serde::Deserialize;

use super::qpu_budget::Quota;

/// Why an Azure call failed. [`AzureError::is_retryable`] says whether trying again later
/// (another attempt, another run) can help.
#[derive(Debug, thiserror::Error)]
pub enum AzureError {
    /// Azure answered with a non-success status other than throttling: ARM's `code` and
    /// `message` from the error body (`"Unknown"` and the reason phrase when there was none).
    #[error("Azure answered HTTP {status} {code}: {message} (x-ms-request-id {})", request_id.as_deref().unwrap_or("none"))]
    Http {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    /// 429 (or Monitor's 529) and the client gave up: attempts exhausted, or Azure asked for a
    /// longer wait than the policy's `max_throttle_wait` (then `retry_after` says how long).
    #[error("Azure throttled the request (HTTP {status} {code}: {message}; retry after {})", retry_after.map_or_else(|| "unknown".to_owned(), |d| format!("{} s", d.as_secs())))]
    Throttled {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<Duration>,
        request_id: Option<String>,
    },
    /// No complete answer within the request timeout.
    #[error("Azure request timed out after {} ms: {url}", after.as_millis())]
    Timeout { url: String, after: Duration },
    /// The connection could not be made or broke before an answer arrived.
    #[error("Azure request failed to connect or was cut off: {url}: {detail}")]
    Connection { url: String, detail: String },
    /// The answer's body could not be read completely (cut off, or truncated JSON).
    #[error("Azure response body was cut off or unreadable (HTTP {status}): {url}: {detail}")]
    Body {
        status: u16,
        url: String,
        detail: String,
    },
    /// The answer was complete but is not the JSON the caller expects.
    #[error("Azure response is not the expected {expected}: {url}: {detail}")]
    Decode {
        url: String,
        expected: &'static str,
        detail: String,
    },
    /// No access token could be obtained for the tenant.
    #[error("no Azure access token for tenant {tenant_id}: {detail}")]
    Token {
        tenant_id: String,
        detail: String,
        retryable: bool,
    },
    /// A shared quota (Cost Management's query budget of a tenant, Resource Graph's requests of
    /// a principal) could not be checked, or can never fit the query.
    #[error("{} {key}: {detail}", quota.describe())]
    Budget {
        quota: Quota,
        key: String,
        detail: String,
        retryable: bool,
    },
    /// A URL could not be built, or a link points somewhere the client will not send a token.
    #[error("invalid Azure URL: {0}")]
    InvalidUrl(String),
    /// The request body could not be serialised as JSON.
    #[error("Azure request body cannot be serialised as JSON: {0}")]
    Encode(String),
    /// The Azure settings are inconsistent (names the variable).
    #[error("Azure configuration: {0}")]
    Config(String),
}

impl AzureError {
    /// True when the same call may succeed later: 5xx, throttling, timeouts, broken
    /// connections and bodies, transient token or budget failures. A 4xx (other than 429) or
    /// an unexpected body is final.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Http { status, .. } => is_retryable_status(*status),
            Self::Throttled { .. }
            | Self::Timeout { .. }
            | Self::Connection { .. }
            | Self::Body { .. } => true,
            Self::Token { retryable, .. } | Self::Budget { retryable, .. } => *retryable,
            Self::Decode { .. } | Self::InvalidUrl(_) | Self::Encode(_) | Self::Config(_) => false,
        }
    }

    /// The HTTP status Azure answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. }
            | Self::Throttled { status, .. }
            | Self::Body { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// ARM's error code (`AuthorizationFailed`, `"429"`, …) when Azure gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Http { code, .. } | Self::Throttled { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Server errors worth another attempt.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// Throttling statuses: 429 everywhere, 529 from Azure Monitor.
pub(crate) fn is_throttle_status(status: u16) -> bool {
    matches!(status, 429 | 529)
}

/// ARM's `{"error":{"code","message"}}` or Monitor's unwrapped `{"code","message"}`.
#[derive(Deserialize)]
struct ErrorEnvelope {
    error: Option<ErrorDetail>,
    code: Option<serde_json::Value>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// The code and message of an Azure error body, or (`"Unknown"`, the reason phrase) when the
/// body has neither. Codes may be strings or numbers (Cost Management's `"429"`).
pub(crate) fn parse_error_body(status: u16, body: &[u8]) -> (String, String) {
    let parsed = serde_json::from_slice::<ErrorEnvelope>(body).ok();
    let (code, message) = match parsed {
        Some(ErrorEnvelope {
            error: Some(detail),
            ..
        }) => (detail.code, detail.message),
        Some(envelope) => (envelope.code, envelope.message),
        None => (None, None),
    };
    let code = match code {
        Some(serde_json::Value::String(code)) => code,
        Some(serde_json::Value::Number(code)) => code.to_string(),
        _ => "Unknown".to_owned(),
    };
    let message = message.unwrap_or_else(|| reason_phrase(status).to_owned());
    (code, one_line(&message, 500))
}

fn reason_phrase(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("no error message")
}

/// `text` on one line, at most `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect()
}

/// A transport error and its causes on one line, without the URL (which the caller logs
/// redacted): e.g. "error sending request: connection closed before message completed".
pub(crate) fn describe_transport(error: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut cause: Option<&dyn std::error::Error> = Some(error);
    while let Some(e) = cause {
        let message = e.to_string();
        let message = message.split(" for url (").next().unwrap_or_default();
        if !text.contains(message) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(message);
        }
        cause = e.source();
    }
    one_line(&text, 500)
}

/// A serde_json error described without quoting the document: category, position, and the
/// message with string literals replaced by `"…"` (a data error can quote a value).
pub(crate) fn describe_json_error(error: &serde_json::Error) -> String {
    let mut message = String::new();
    let mut quoted = false;
    for c in error.to_string().chars() {
        if c == '"' {
            if !quoted {
                message.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            message.push(c);
        }
    }
    one_line(&message, 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_monitor_and_cost_management_error_bodies_are_understood() {
        let arm = br#"{"error":{"code":"AuthorizationFailed","message":"no access"}}"#;
        assert_eq!(
            parse_error_body(403, arm),
            ("AuthorizationFailed".into(), "no access".into())
        );
        let monitor = br#"{"code":"BadRequest","message":"bad timespan"}"#;
        assert_eq!(
            parse_error_body(400, monitor),
            ("BadRequest".into(), "bad timespan".into())
        );
        let cost = br#"{"error":{"code":"429","message":"Too many requests. Please retry."}}"#;
        assert_eq!(parse_error_body(429, cost).0, "429");
        assert_eq!(
            parse_error_body(502, b"<html>"),
            ("Unknown".into(), "Bad Gateway".into())
        );
    }

    #[test]
    fn json_errors_do_not_quote_the_document() {
        let err = serde_json::from_str::<u32>(r#""s3cr3t""#).unwrap_err();
        let text = describe_json_error(&err);
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("line 1"), "{text}");
    }

    #[test]
    fn only_transient_failures_are_retryable() {
        let http = |status| AzureError::Http {
            status,
            code: "X".into(),
            message: "m".into(),
            request_id: None,
        };
        assert!(http(503).is_retryable());
        assert!(!http(403).is_retryable());
        assert_eq!(http(403).status(), Some(403));
        assert!(!AzureError::InvalidUrl("x".into()).is_retryable());
    }
}
