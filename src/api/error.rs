//! The one API error type and its JSON envelope:
//! `{"error": {"code": "...", "message": "...", "correlation_id": "..."}}`.
//!
//! [`ApiError::into_response`] leaves the code and message in the response's extensions and
//! the request middleware ([`super::context`]) writes the envelope, because only it knows the
//! correlation id. 5xx messages never carry internal text: the detail of an unexpected failure
//! travels in an [`ErrorDetail`] extension to the middleware's one request line, so every failure
//! is logged exactly once, with its status and correlation id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Everything a handler or extractor can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Input that cannot be accepted; the message says what is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// No usable bearer token; the description goes into `WWW-Authenticate`.
    #[error("authentication required: {description}")]
    Unauthorized {
        description: &'static str,
        token_given: bool,
    },
    /// Authenticated but not allowed.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such object (or one the caller may not see).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Objects named in the request that do not exist (or the caller may not see).
    #[error("not found: {0}")]
    NotFoundNamed(String),
    /// A duplicate or a change the current state does not allow.
    #[error("{0}")]
    Conflict(String),
    /// A change the current state does not allow, with its own stable code (e.g.
    /// `status_changed`, `invalid_transition`).
    #[error("{message}")]
    ConflictCode { code: &'static str, message: String },
    #[error("request body too large")]
    PayloadTooLarge,
    /// A synchronous export of more rows than `AZCOPS_EXPORT_SYNC_MAX_ROWS` allows.
    #[error(
        "this export has {rows} rows, more than the {limit} a synchronous export streams \
         (AZCOPS_EXPORT_SYNC_MAX_ROWS): narrow the filters (e.g. a shorter date range), or run it \
         as an export job with POST /api/v1/exports (e.g. {{\"what\": \"costs\", \"filters\": \
         {{...}}}}), which writes a compressed file to the lake; GET /api/v1/exports/{{id}} then \
         gives its status and a download link"
    )]
    ExportTooLarge { rows: i64, limit: u64 },
    #[error("expected a request body with Content-Type: application/json")]
    UnsupportedMediaType,
    /// A subscription to register is not in the tenant's Entra tenant, or cannot be seen with
    /// its credentials: one answer for both, so it tells nothing about other tenants.
    #[error(
        "the subscription does not belong to this tenant's Entra tenant, or AzCops cannot read it with this tenant's credentials"
    )]
    SubscriptionNotInTenant,
    /// A dependency (database, token keys) is not reachable; safe to retry.
    #[error("{0}")]
    Unavailable(&'static str),
    /// The database cannot be reached; the cause is logged on the request line.
    #[error("the database is unavailable, try again shortly")]
    DatabaseUnavailable(#[source] sqlx::Error),
    /// Azure could not be asked (not configured, unreachable, throttling, no token); the
    /// cause, when there is one, is logged on the request line.
    #[error("{0}")]
    AzureUnavailable(&'static str, Option<String>),
    /// The ingestion queue refused a run's messages; the cause is logged on the request line.
    #[error("the ingestion queue is unavailable; the run's items were marked failed")]
    QueueUnavailable(#[source] anyhow::Error),
    /// A bug or an unexpected failure; logged once, never shown to the client.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// What the request line logs as `error`: the cause of a failure the client is not shown.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

/// The code and message of an error response, rendered into the envelope by the middleware.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::NotFoundNamed(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::ConflictCode { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::SubscriptionNotInTenant | ApiError::ExportTooLarge { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Unavailable(_)
            | ApiError::DatabaseUnavailable(_)
            | ApiError::AzureUnavailable(..)
            | ApiError::QueueUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized { .. } => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) | ApiError::NotFoundNamed(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::ConflictCode { code, .. } => code,
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::SubscriptionNotInTenant => "subscription_not_in_tenant",
            ApiError::ExportTooLarge { .. } => "export_too_large",
            ApiError::Unavailable(_)
            | ApiError::DatabaseUnavailable(_)
            | ApiError::QueueUnavailable(_) => "service_unavailable",
            ApiError::AzureUnavailable(..) => "azure_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// Shorthand for an unexpected failure.
    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(error.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status().into_response();
        let detail = match &self {
            ApiError::Internal(source) => Some(format!("{source:#}")),
            ApiError::DatabaseUnavailable(source) => Some(source.to_string()),
            ApiError::QueueUnavailable(source) => Some(format!("{source:#}")),
            ApiError::AzureUnavailable(_, cause) => cause.clone(),
            _ => None,
        };
        if let Some(detail) = detail {
            response.extensions_mut().insert(ErrorDetail(detail));
        }
        if let ApiError::Unauthorized {
            description,
            token_given,
        } = &self
        {
            let challenge = if *token_given {
                format!(
                    r#"Bearer realm="azcops", error="invalid_token", error_description="{description}""#
                )
            } else {
                r#"Bearer realm="azcops""#.to_owned()
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response.extensions_mut().insert(ErrorBody {
            code: self.code(),
            message: self.to_string(),
        });
        response
    }
}

/// What a named constraint violation means to a client.
fn constraint_error(constraint: &str) -> Option<ApiError> {
    let conflict = |m: &str| Some(ApiError::Conflict(m.to_owned()));
    match constraint {
        "tenants_azure_tenant_id_key" => {
            conflict("a tenant with this azure_tenant_id is already registered")
        }
        "subscriptions_subscription_id_key" => {
            conflict("this subscription_id is already registered")
        }
        "subscriptions_tenant_id_fkey" => conflict(
            "the tenant still has subscriptions; delete or move them before deleting the tenant",
        ),
        "recommendations_status_transition" => Some(ApiError::ConflictCode {
            code: "invalid_transition",
            message: "this status change is not allowed".into(),
        }),
        "suppressions_tenant_id_fkey"
        | "rule_settings_tenant_id_fkey"
        | "tenant_rule_settings_tenant_id_fkey" => Some(ApiError::NotFound("tenant")),
        "suppressions_subscription_fkey" => Some(ApiError::NotFound("subscription")),
        _ => None,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => ApiError::NotFound("object"),
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => ApiError::DatabaseUnavailable(error),
            sqlx::Error::Database(db) => {
                if let Some(mapped) = db.constraint().and_then(constraint_error) {
                    return mapped;
                }
                if db.is_check_violation() {
                    return ApiError::BadRequest(format!(
                        "value refused by the database: {}",
                        db.message()
                    ));
                }
                // 40P01 deadlock_detected: two changes of the same rows crossed (a bulk
                // transition and an evaluation); nothing was changed, and a retry succeeds.
                if db.code().as_deref() == Some("40P01") {
                    return ApiError::Unavailable(
                        "the recommendations were being changed at the same time, try again",
                    );
                }
                // 22021 character_not_in_repertoire: text PostgreSQL cannot store (U+0000);
                // 22P05 untranslatable_character: the same inside a JSON value.
                if matches!(db.code().as_deref(), Some("22021" | "22P05")) {
                    return ApiError::BadRequest(
                        "text values must not contain the NUL character (U+0000)".into(),
                    );
                }
                ApiError::internal(error)
            }
            _ => ApiError::internal(error),
        }
    }
}
