//! Error responses in the shapes Azure uses: ARM's `{"error":{"code","message"}}`, the bare
//! `{"code","message"}` of the ARM metrics API, and the Monitor data plane's wrapped error with
//! `additionalInfo` and an `x-ms-error-code` header.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// How the error body is shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `{"error":{"code","message"}}`.
    Arm,
    /// `{"code","message"}` (ARM metrics API validation errors).
    Bare,
    /// `{"error":{"additionalInfo":[…],"code","message"}}` + `x-ms-error-code` (metrics:getBatch).
    Batch,
}

/// An error response.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub style: ErrorStyle,
    pub headers: Vec<(HeaderName, String)>,
}

/// A handler result.
pub type ApiResult<T = Response> = Result<T, ApiError>;

impl ApiError {
    /// An ARM-shaped error.
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            style: ErrorStyle::Arm,
            headers: Vec::new(),
        }
    }

    /// A 400.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The same error with another body shape.
    pub fn style(mut self, style: ErrorStyle) -> Self {
        self.style = style;
        self
    }

    /// The same error with one more header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers
            .push((HeaderName::from_static(name), value.into()));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.style {
            ErrorStyle::Arm => json!({"error": {"code": self.code, "message": self.message}}),
            ErrorStyle::Bare => json!({"code": self.code, "message": self.message}),
            ErrorStyle::Batch => json!({"error": {
                "additionalInfo": [
                    {"type": "string", "info": format!("TraceId={{{}}}", uuid::Uuid::new_v4())},
                    {"type": "string", "info": "ExceptionType=Microsoft.Online.Metrics.MetricsMP.Utilities.RPRequestFormatException"},
                ],
                "code": self.code,
                "message": self.message,
            }}),
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let (ErrorStyle::Batch, Ok(v)) = (self.style, HeaderValue::from_str(&self.code)) {
            headers.insert("x-ms-error-code", v);
        }
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        response
    }
}
