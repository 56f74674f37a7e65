//! One attempt of a request: pacing, the token, sending with a timeout, judging the answer,
//! the one log line, what the answer says about quotas, and whether to try again.

use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use url::Url;

use super::urls::redact;
use super::{Api, AzureClient, Bytes, Call, CallContext, Wait};
use crate::azure::credentials;
use crate::azure::error::{
    AzureError, describe_json_error, describe_transport, is_retryable_status, is_throttle_status,
    parse_error_body,
};
use crate::azure::qpu_budget::{QpuObservation, UserQuotaObservation};
use crate::azure::recorder::RawResponse;
use crate::azure::throttle::{self, QpuHeaders, resource_graph_quota};

/// What came back: a status and headers unless the request failed before, and the body.
struct Exchange {
    status: Option<u16>,
    headers: HeaderMap,
    body: Result<Bytes, AzureError>,
}

/// A failed attempt and the wait Azure asked for, if any.
pub(super) struct Failure {
    error: AzureError,
    retry_after: Option<Duration>,
}

impl From<AzureError> for Failure {
    fn from(error: AzureError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl AzureClient {
    /// Makes attempt number `attempt` of `call`.
    pub(super) async fn attempt<T: DeserializeOwned>(
        &self,
        ctx: &CallContext,
        call: &Call,
        attempt: u32,
    ) -> Result<T, Failure> {
        let quota_key = self.quota_key(ctx, call).await?;
        self.pace(ctx, call, &quota_key).await?;
        let scope = self.scope(call.api);
        let token = if call.api.authenticated() {
            Some(self.inner.tokens.token(&ctx.tenant_id, scope).await?)
        } else {
            None
        };
        let started = Instant::now();
        let exchange = self.send(ctx, call, token.as_ref()).await;
        let elapsed = started.elapsed();
        if exchange.status == Some(401) && token.is_some() {
            self.inner.tokens.invalidate(&ctx.tenant_id, scope).await;
        }
        self.observe(call, &quota_key, &exchange).await;
        let status = exchange.status;
        let request_id = header(&exchange.headers, "x-ms-request-id");
        let raw = match (&ctx.recorder, status, &exchange.body) {
            (Some(_), Some(s), Ok(body)) if (200..300).contains(&s) => Some((s, body.clone())),
            _ => None,
        };
        let outcome = judge(call, exchange);
        if let (Some(recorder), Some((status, body)), Ok(_)) = (&ctx.recorder, raw, &outcome) {
            recorder
                .record(
                    call.api,
                    RawResponse {
                        url: redact(&call.url),
                        status,
                        body,
                    },
                )
                .await;
        }
        log(
            ctx,
            call,
            attempt,
            status,
            request_id.as_deref(),
            elapsed,
            outcome.as_ref().err(),
        );
        let throttled = status.is_some_and(is_throttle_status);
        ctx.stats
            .request(call.api, attempt, outcome.is_ok(), throttled);
        outcome
    }

    /// How long to wait before the next attempt, or the error to give up with.
    pub(super) fn retry_wait(&self, failure: Failure, attempt: u32) -> Result<Wait, AzureError> {
        let policy = &self.inner.policy;
        if !failure.error.is_retryable() || attempt >= policy.max_attempts {
            return Err(failure.error);
        }
        let throttled = matches!(failure.error, AzureError::Throttled { .. });
        let backoff = policy.backoff(attempt);
        let duration = match failure.retry_after {
            // A little jitter on top, so callers held together do not return together.
            Some(after) if throttled => after + after.mul_f64(fastrand::f64() * 0.1),
            Some(after) => after.max(backoff),
            None => backoff,
        };
        if throttled && duration > policy.max_throttle_wait {
            return Err(failure.error);
        }
        Ok(Wait {
            duration,
            throttled,
        })
    }

    fn scope(&self, api: Api) -> &str {
        match api {
            Api::MonitorBatch => &self.inner.endpoints.monitor_scope,
            _ => &self.inner.endpoints.arm_scope,
        }
    }

    /// Whose quota `call` counts against: for Resource Graph the principal its token was issued
    /// to (the Entra tenant when the token names none), otherwise the Entra tenant.
    async fn quota_key(&self, ctx: &CallContext, call: &Call) -> Result<String, AzureError> {
        if call.api == Api::ResourceGraph {
            let token = self
                .inner
                .tokens
                .token(&ctx.tenant_id, self.scope(call.api));
            if let Some(principal) = credentials::principal_of(&token.await?) {
                return Ok(principal);
            }
        }
        Ok(ctx.tenant_id.clone())
    }

    /// Waits for the API's quota: Resource Graph's requests of the principal `key`, Cost
    /// Management's query units of the tenant `key`.
    async fn pace(&self, ctx: &CallContext, call: &Call, key: &str) -> Result<(), AzureError> {
        let budget = &self.inner.budget;
        let waited = match call.api {
            Api::CostManagement => {
                let waited = budget.acquire(key, call.qpu_units).await?;
                ctx.stats.qpu(call.api, call.qpu_units);
                waited
            }
            Api::ResourceGraph => budget.acquire_request(key).await?,
            _ => Duration::ZERO,
        };
        if !waited.is_zero() {
            tracing::debug!(api = call.api.name(), tenant_id = %ctx.tenant_id, wait_ms = millis(waited), "waited for the Azure quota");
            ctx.stats.throttle_wait(call.api, waited);
        }
        Ok(())
    }

    /// Sends one request; with `token`, as a bearer token (never for an unauthenticated API).
    async fn send(&self, ctx: &CallContext, call: &Call, token: Option<&SecretString>) -> Exchange {
        let timeout = self.inner.policy.request_timeout;
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .header("accept", "application/json")
            .timeout(timeout);
        if let Some(token) = token {
            request = request.bearer_auth(token.expose_secret());
        }
        if let Some(body) = &call.body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if let Some(id) = ctx
            .correlation_id
            .as_deref()
            .filter(|id| token.is_some() && uuid::Uuid::parse_str(id).is_ok())
        {
            request = request.header("x-ms-correlation-request-id", id);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return Exchange {
                    status: None,
                    headers: HeaderMap::new(),
                    body: Err(transport_error(&call.url, &e, None, timeout)),
                };
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(&call.url, &e, Some(status), timeout));
        Exchange {
            status: Some(status),
            headers,
            body,
        }
    }

    /// Records what the answer says about the quota of `key` (see [`AzureClient::pace`]).
    async fn observe(&self, call: &Call, key: &str, exchange: &Exchange) {
        let headers = &exchange.headers;
        let throttled = exchange.status == Some(429);
        let budget = &self.inner.budget;
        let recorded = match call.api {
            Api::ResourceGraph => {
                let quota = resource_graph_quota(headers);
                let resets_after = quota.map(|(_, resets)| resets);
                let observation = UserQuotaObservation {
                    remaining: quota.map(|(left, _)| u32::try_from(left).unwrap_or(u32::MAX)),
                    resets_after,
                    retry_after: throttled
                        .then(|| throttle::retry_after(headers, Utc::now()).or(resets_after))
                        .flatten(),
                };
                if observation.remaining.is_none() && observation.retry_after.is_none() {
                    return;
                }
                budget.observe_user_quota(key, &observation).await
            }
            Api::CostManagement => {
                let observation = QpuObservation {
                    charged: call.qpu_units,
                    headers: QpuHeaders::parse(headers),
                    retry_after: throttled
                        .then(|| throttle::retry_after(headers, Utc::now()))
                        .flatten(),
                };
                if observation.headers.is_empty() && observation.retry_after.is_none() {
                    return;
                }
                budget.observe(key, &observation).await
            }
            _ => return,
        };
        if let Err(e) = recorded {
            tracing::warn!(api = call.api.name(), error = %e, "could not record Azure quota headers");
        }
    }
}

/// Turns an exchange into the decoded answer or a classified failure.
fn judge<T: DeserializeOwned>(call: &Call, exchange: Exchange) -> Result<T, Failure> {
    let body = exchange.body?;
    let status = exchange.status.unwrap_or_default();
    if (200..300).contains(&status) {
        return Ok(decode(&call.url, status, &body)?);
    }
    let headers = &exchange.headers;
    let request_id = header(headers, "x-ms-request-id");
    let (code, message) = parse_error_body(status, &body);
    let mut retry_after = throttle::retry_after(headers, Utc::now());
    if call.api == Api::ResourceGraph {
        retry_after =
            retry_after.or_else(|| resource_graph_quota(headers).map(|(_, resets)| resets));
    }
    let error = if is_throttle_status(status) {
        AzureError::Throttled {
            status,
            code,
            message,
            retry_after,
            request_id,
        }
    } else {
        AzureError::Http {
            status,
            code,
            message,
            request_id,
        }
    };
    let retry_after =
        retry_after.filter(|_| is_throttle_status(status) || is_retryable_status(status));
    Err(Failure { error, retry_after })
}

/// Decodes a success body; an empty one (204) decodes as JSON `null`. JSON that ends early
/// is a cut-off body (retried); any other mismatch is final.
///
/// The body is checked to be UTF-8 once, as a whole, and parsed as a `str`: `serde_json` then
/// need not check each string again (a Monitor answer is mostly timestamps and numbers, and
/// checking its strings one by one was 5 % of the handler's ingestion CPU, `BENCHMARKS.md`).
fn decode<T: DeserializeOwned>(url: &Url, status: u16, body: &[u8]) -> Result<T, AzureError> {
    let empty = body.iter().all(u8::is_ascii_whitespace);
    let json = if empty { &b"null"[..] } else { body };
    let json = std::str::from_utf8(json).map_err(|e| {
        if e.error_len().is_none() {
            // A character cut in two at the end: the body was cut off.
            AzureError::Body {
                status,
                url: redact(url),
                detail: "the body ends inside a character (truncated)".into(),
            }
        } else {
            AzureError::Decode {
                url: redact(url),
                expected: std::any::type_name::<T>(),
                detail: format!("the body is not UTF-8 (byte {})", e.valid_up_to()),
            }
        }
    })?;
    serde_json::from_str(json).map_err(|e| {
        if e.is_eof() && !empty {
            AzureError::Body {
                status,
                url: redact(url),
                detail: "the JSON ends early (truncated)".into(),
            }
        } else {
            AzureError::Decode {
                url: redact(url),
                expected: std::any::type_name::<T>(),
                detail: describe_json_error(&e),
            }
        }
    })
}

fn transport_error(
    url: &Url,
    error: &reqwest::Error,
    status: Option<u16>,
    timeout: Duration,
) -> AzureError {
    let url = redact(url);
    if error.is_timeout() {
        return AzureError::Timeout {
            url,
            after: timeout,
        };
    }
    let detail = describe_transport(error);
    match status {
        Some(status) => AzureError::Body {
            status,
            url,
            detail,
        },
        None => AzureError::Connection { url, detail },
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)?
        .to_str()
        .ok()
        .map(|v| v.chars().take(100).collect())
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The one line per request: `info` when it succeeded, `warn` otherwise.
fn log(
    ctx: &CallContext,
    call: &Call,
    attempt: u32,
    status: Option<u16>,
    request_id: Option<&str>,
    elapsed: Duration,
    error: Option<&Failure>,
) {
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                api = call.api.name(),
                method = %call.method,
                url = %redact(&call.url),
                status,
                duration_ms = millis(elapsed),
                attempt,
                tenant_id = %ctx.tenant_id,
                subscription_id = ctx.subscription_id.as_deref(),
                correlation_id = ctx.correlation_id.as_deref(),
                request_id,
                error = error.map(|f| tracing::field::display(&f.error)),
                "azure request"
            )
        };
    }
    if error.is_none() {
        line!(info);
    } else {
        line!(warn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_that_end_early_are_retried_and_others_are_not() {
        let url = Url::parse("https://management.azure.com/x").unwrap();
        let cut = decode::<serde_json::Value>(&url, 200, br#"{"value":[1,"#).unwrap_err();
        assert!(cut.is_retryable(), "{cut}");
        let wrong = decode::<Vec<u32>>(&url, 200, br#"{"value":"secret-ish"}"#).unwrap_err();
        assert!(
            !wrong.is_retryable() && !wrong.to_string().contains("secret-ish"),
            "{wrong}"
        );
        assert_eq!(decode::<Option<u32>>(&url, 204, b"").unwrap(), None);
    }

    #[test]
    fn bodies_are_checked_as_utf8_once_and_a_character_cut_in_two_is_a_cut_off_body() {
        let url = Url::parse("https://management.azure.com/x").unwrap();
        let text = "{\"name\":\"Zürich-Ost\"}";
        let whole: serde_json::Value = decode(&url, 200, text.as_bytes()).unwrap();
        assert_eq!(whole["name"], "Zürich-Ost");
        // `ü` is two bytes: the body ends after the first.
        let cut_at = text.find('ü').unwrap() + 1;
        let cut = decode::<serde_json::Value>(&url, 200, &text.as_bytes()[..cut_at]).unwrap_err();
        assert!(cut.is_retryable(), "{cut}");
        let mut invalid = text.as_bytes().to_vec();
        invalid[cut_at] = b'"';
        let invalid = decode::<serde_json::Value>(&url, 200, &invalid).unwrap_err();
        assert!(!invalid.is_retryable(), "{invalid}");
        assert!(invalid.to_string().contains("not UTF-8"), "{invalid}");
    }
}
