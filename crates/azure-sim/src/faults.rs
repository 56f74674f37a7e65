//! Fault injection for the ARM and Monitor APIs: server errors, 429s, added latency,
//! connection resets and truncated bodies. One draw from a seeded generator per request, so a
//! given seed and request sequence always fails the same way.

use std::sync::Mutex;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::rng::SplitMix64;

/// Fault rates (each in `[0, 1]`; their sum is capped at 1) and the fixed added latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    pub rate_5xx: f64,
    pub rate_429: f64,
    pub rate_reset: f64,
    pub rate_truncate: f64,
    pub latency_ms: u64,
    pub seed: u64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            rate_5xx: 0.0,
            rate_429: 0.0,
            rate_reset: 0.0,
            rate_truncate: 0.0,
            latency_ms: 0,
            seed: 1,
        }
    }
}

impl FaultConfig {
    /// Checks that every rate is a probability.
    pub fn validate(&self) -> Result<(), String> {
        let rates = [
            ("rate_5xx", self.rate_5xx),
            ("rate_429", self.rate_429),
            ("rate_reset", self.rate_reset),
            ("rate_truncate", self.rate_truncate),
        ];
        match rates.iter().find(|(_, r)| !(0.0..=1.0).contains(r)) {
            Some((name, r)) => Err(format!("{name} must be between 0 and 1, got {r}")),
            None => Ok(()),
        }
    }
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    ServerError(StatusCode),
    TooManyRequests,
    Reset,
    /// Truncate the body; `short_length` sends a correct but short `Content-Length` (the JSON
    /// does not parse), otherwise the full length is announced and the connection aborted.
    Truncate {
        short_length: bool,
    },
}

/// The live fault configuration and its generator.
#[derive(Debug)]
pub struct Faults(Mutex<(FaultConfig, SplitMix64)>);

impl Faults {
    /// Starts with `config`.
    pub fn new(config: FaultConfig) -> Self {
        let rng = SplitMix64::new(config.seed);
        Self(Mutex::new((config, rng)))
    }

    /// The current configuration.
    pub fn config(&self) -> FaultConfig {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).0.clone()
    }

    /// Replaces the configuration and restarts the generator from its seed.
    pub fn set(&self, config: FaultConfig) {
        let rng = SplitMix64::new(config.seed);
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = (config, rng);
    }

    /// Draws the fault for the next request, and the latency to add first.
    pub fn draw(&self) -> (Fault, Duration) {
        let mut guard = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let (config, rng) = &mut *guard;
        let latency = Duration::from_millis(config.latency_ms);
        let roll = rng.next_f64();
        let detail = rng.next_u64();
        let mut edge = 0.0;
        let kinds = [
            (config.rate_5xx, Fault::ServerError(server_error(detail))),
            (config.rate_429, Fault::TooManyRequests),
            (config.rate_reset, Fault::Reset),
            (
                config.rate_truncate,
                Fault::Truncate {
                    short_length: detail % 2 == 0,
                },
            ),
        ];
        for (rate, fault) in kinds {
            edge += rate;
            if roll < edge {
                return (fault, latency);
            }
        }
        (Fault::None, latency)
    }
}

fn server_error(detail: u64) -> StatusCode {
    [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::BAD_GATEWAY,
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::GATEWAY_TIMEOUT,
    ][(detail >> 8) as usize % 4]
}

/// The ARM error code and message of an injected server error.
pub fn server_error_body(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_GATEWAY => (
            "BadGateway",
            "The gateway did not receive a response from 'Microsoft.Simulated' within the specified time period.",
        ),
        StatusCode::SERVICE_UNAVAILABLE => (
            "ServiceUnavailable",
            "The service is temporarily unavailable. Please retry.",
        ),
        StatusCode::GATEWAY_TIMEOUT => (
            "GatewayTimeout",
            "The gateway did not receive a response from 'Microsoft.Simulated' within the specified time period.",
        ),
        _ => (
            "InternalServerError",
            "Encountered internal server error. Diagnostic information: timestamp '', subscription id '', tracking id '', request correlation id ''.",
        ),
    }
}

/// Cuts a response body in half (see [`Fault::Truncate`]).
pub async fn truncate(response: Response, short_length: bool) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    let announced = if short_length {
        half.len()
    } else {
        bytes.len()
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(announced));
    let body = if short_length {
        Body::from(half)
    } else {
        let chunks: [Result<Bytes, std::io::Error>; 2] = [
            Ok(half),
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "simulated truncation",
            )),
        ];
        Body::from_stream(futures::stream::iter(chunks))
    };
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_of_one_always_faults_and_zero_never() {
        let faults = Faults::new(FaultConfig {
            rate_reset: 1.0,
            ..FaultConfig::default()
        });
        assert!((0..100).all(|_| faults.draw().0 == Fault::Reset));
        faults.set(FaultConfig::default());
        assert!((0..100).all(|_| faults.draw().0 == Fault::None));
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let config = FaultConfig {
            rate_5xx: 0.3,
            rate_429: 0.3,
            seed: 9,
            ..FaultConfig::default()
        };
        let a = Faults::new(config.clone());
        let b = Faults::new(config);
        let draws = |f: &Faults| (0..50).map(|_| f.draw().0).collect::<Vec<_>>();
        assert_eq!(draws(&a), draws(&b));
    }

    #[test]
    fn rates_outside_zero_one_are_refused() {
        assert!(
            FaultConfig {
                rate_429: 1.5,
                ..FaultConfig::default()
            }
            .validate()
            .is_err()
        );
    }
}
