//! Per-request context: the correlation id (accepted from `X-Correlation-ID` or generated, and
//! echoed), the one log line per request, and the rendering of every error into the envelope.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;
use tracing::Instrument;
use uuid::Uuid;

use super::error::{ErrorBody, ErrorDetail};

/// The request and response header carrying the correlation id.
pub static CORRELATION_HEADER: HeaderName = HeaderName::from_static("x-correlation-id");

/// The correlation id of the current request, in the request's extensions.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

/// Where the auth extractor records the caller's tenant for the request log line.
#[derive(Debug, Clone, Default)]
pub struct TenantSlot(Arc<OnceLock<Uuid>>);

impl TenantSlot {
    /// Records the tenant the request acts for (first call wins).
    pub fn set(&self, tenant_id: Uuid) {
        let _ = self.0.set(tenant_id);
    }
}

/// Accepts a caller's id when it is short and plain, so it is safe to log and echo.
fn accepted_id(value: Option<&HeaderValue>) -> Option<String> {
    let value = value?.to_str().ok()?.trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':');
    (!value.is_empty() && value.len() <= 128 && value.chars().all(plain)).then(|| value.to_owned())
}

/// The middleware: correlation id in, one log line and the id out, errors as envelopes.
///
/// The request line is the only log line of a failed request: it carries the status, the
/// correlation id (its span's), the tenant and, when the handler left an [`ErrorDetail`], the
/// cause, at `error` for a 5xx, `warn` for another failure with a cause, `info` otherwise.
pub async fn track(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let correlation_id = accepted_id(request.headers().get(&CORRELATION_HEADER))
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let slot = TenantSlot::default();
    request
        .extensions_mut()
        .insert(CorrelationId(correlation_id.clone()));
    request.extensions_mut().insert(slot.clone());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", %method, path, correlation_id);

    let mut response = next.run(request).instrument(span.clone()).await;
    let error = response
        .extensions_mut()
        .remove::<ErrorDetail>()
        .map(|detail| detail.0);
    render_error(&mut response, &correlation_id);
    if let Ok(value) = HeaderValue::from_str(&correlation_id) {
        response
            .headers_mut()
            .insert(CORRELATION_HEADER.clone(), value);
    }

    let status = response.status().as_u16();
    let duration_ms = started.elapsed().as_millis() as u64;
    let tenant_id = slot.0.get().map(|t| t.to_string());
    let _entered = span.enter();
    if status >= 500 {
        tracing::error!(status, duration_ms, tenant_id, error, "request");
    } else if error.is_some() {
        tracing::warn!(status, duration_ms, tenant_id, error, "request");
    } else {
        tracing::info!(status, duration_ms, tenant_id, "request");
    }
    response
}

/// Writes the JSON error envelope for any error response: ours (with an [`ErrorBody`]) and
/// those made by axum or tower layers (405, 413, …), which get a code from their status.
/// A JSON error response written on purpose (the health report) is left as it is.
fn render_error(response: &mut Response, correlation_id: &str) {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let body = match response.extensions_mut().remove::<ErrorBody>() {
        Some(body) => body,
        None if (status.is_client_error() || status.is_server_error()) && !is_json => {
            generic_body(status)
        }
        None => return,
    };
    let envelope = json!({
        "error": { "code": body.code, "message": body.message, "correlation_id": correlation_id }
    });
    *response.body_mut() = Body::from(envelope.to_string());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response.headers_mut().remove(header::CONTENT_LENGTH);
}

fn generic_body(status: StatusCode) -> ErrorBody {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed for this endpoint")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "request body too large"),
        s if s.is_server_error() => ("internal_error", "internal error"),
        _ => ("bad_request", "bad request"),
    };
    ErrorBody {
        code,
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_correlation_ids_are_accepted_and_others_replaced() {
        let ok = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(accepted_id(Some(&ok)).as_deref(), Some("abc-123_x.y:z"));
        let spaces = HeaderValue::from_static("has spaces");
        assert_eq!(accepted_id(Some(&spaces)), None);
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert_eq!(accepted_id(Some(&long)), None);
        assert_eq!(accepted_id(None), None);
    }
}
