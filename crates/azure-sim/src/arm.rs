//! The ARM and Monitor front door: routes requests by path (case-insensitively, as ARM does),
//! counts them, injects faults, authenticates the bearer token for the route's audience, checks
//! the api-version, and hands over to the API modules.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::auth::{Audience, Principal};
use super::error::{ApiError, ApiResult, ErrorStyle};
use super::faults::{self, Fault};
use super::listener::ConnectionKill;
use super::server::Shared;
use super::stats::{Api, FaultKind};
use super::throttle::{retry_seconds, scaled};
use super::{
    advisor, cost_management, monitor, resource_graph, resource_skus, retail_prices, subscriptions,
};

/// A recognised ARM or Monitor operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    ResourceGraph,
    CostQuery {
        subscription: String,
    },
    Advisor {
        subscription: String,
    },
    /// `resource_id` is everything before `/providers/Microsoft.Insights/metrics`.
    Metrics {
        resource_id: String,
        subscription: String,
    },
    Batch {
        region: String,
        subscription: String,
    },
    /// `GET /subscriptions/{id}`.
    Subscription {
        subscription: String,
    },
    /// `GET /subscriptions/{id}/providers/Microsoft.Compute/skus`.
    Skus {
        subscription: String,
    },
    /// `GET /api/retail/prices` (public: no token).
    RetailPrices,
}

impl Route {
    /// Recognises `method path`.
    pub fn parse(method: &Method, path: &str) -> Option<Self> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let lower: Vec<String> = segments.iter().map(|s| s.to_ascii_lowercase()).collect();
        let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
        let post = method == Method::POST;
        let get = method == Method::GET;
        match lower.as_slice() {
            ["providers", "microsoft.resourcegraph", "resources"] if post => {
                Some(Self::ResourceGraph)
            }
            ["subscriptions", _] if get => Some(Self::Subscription {
                subscription: segments[1].to_owned(),
            }),
            ["subscriptions", _, "providers", "microsoft.compute", "skus"] if get => {
                Some(Self::Skus {
                    subscription: segments[1].to_owned(),
                })
            }
            ["api", "retail", "prices"] if get => Some(Self::RetailPrices),
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.costmanagement",
                "query",
            ] if post => Some(Self::CostQuery {
                subscription: segments[1].to_owned(),
            }),
            [
                "subscriptions",
                _,
                "providers",
                "microsoft.advisor",
                "recommendations",
            ] if get => Some(Self::Advisor {
                subscription: segments[1].to_owned(),
            }),
            ["monitor", _, "subscriptions", _, "metrics:getbatch"] if post => Some(Self::Batch {
                region: segments[1].to_owned(),
                subscription: segments[3].to_owned(),
            }),
            [
                "subscriptions",
                _,
                ..,
                "providers",
                "microsoft.insights",
                "metrics",
            ] if get && lower.len() > 5 => Some(Self::Metrics {
                resource_id: format!("/{}", segments[..segments.len() - 3].join("/")),
                subscription: segments[1].to_owned(),
            }),
            _ => None,
        }
    }

    /// The API, for counting.
    pub fn api(&self) -> Api {
        match self {
            Self::ResourceGraph => Api::ResourceGraph,
            Self::CostQuery { .. } => Api::CostManagement,
            Self::Advisor { .. } => Api::Advisor,
            Self::Metrics { .. } => Api::MonitorMetrics,
            Self::Batch { .. } => Api::MonitorBatch,
            Self::Subscription { .. } => Api::Subscriptions,
            Self::Skus { .. } => Api::ResourceSkus,
            Self::RetailPrices => Api::RetailPrices,
        }
    }

    fn subscription(&self) -> Option<&str> {
        match self {
            Self::ResourceGraph | Self::RetailPrices => None,
            Self::CostQuery { subscription }
            | Self::Skus { subscription }
            | Self::Advisor { subscription }
            | Self::Metrics { subscription, .. }
            | Self::Batch { subscription, .. }
            | Self::Subscription { subscription } => Some(subscription),
        }
    }

    fn audience(&self) -> Audience {
        if matches!(self, Self::Batch { .. }) {
            Audience::Metrics
        } else {
            Audience::Arm
        }
    }

    /// The shape of this route's error bodies.
    pub fn error_style(&self) -> ErrorStyle {
        if matches!(self, Self::Batch { .. }) {
            ErrorStyle::Batch
        } else {
            ErrorStyle::Arm
        }
    }

    fn api_versions(&self) -> &'static [&'static str] {
        match self {
            Self::ResourceGraph => &["2021-03-01", "2022-10-01", "2024-04-01"],
            Self::CostQuery { .. } => &["2023-11-01", "2025-03-01"],
            Self::Advisor { .. } => &["2023-01-01", "2025-01-01"],
            Self::Metrics { .. } => &["2023-10-01", "2024-02-01"],
            Self::Batch { .. } => &["2023-10-01", "2024-02-01"],
            Self::Subscription { .. } => &["2016-06-01", "2020-01-01", "2022-12-01"],
            Self::Skus { .. } => &["2019-04-01", "2021-07-01"],
            Self::RetailPrices => &crate::retail_prices::API_VERSIONS,
        }
    }
}

/// One request, parsed enough for the API modules.
#[derive(Debug)]
pub struct ArmRequest {
    pub route: Route,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub principal: Principal,
}

impl ArmRequest {
    /// A query parameter, its name compared case-insensitively (`$skipToken` = `$skiptoken`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The api-version sent.
    pub fn api_version(&self) -> &str {
        self.param("api-version").unwrap_or_default()
    }
}

/// The fallback handler: every ARM and Monitor request lands here.
pub async fn dispatch(
    State(state): State<Shared>,
    ConnectInfo(kill): ConnectInfo<ConnectionKill>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(route) = Route::parse(&method, uri.path()) else {
        let message = format!(
            "The simulated Azure has no operation {method} {}.",
            uri.path()
        );
        return ApiError::new(StatusCode::NOT_FOUND, "NotFound", message).into_response();
    };
    let api = route.api();
    state.stats.request(api, route.subscription().as_slice());
    let (fault, latency) = state.faults.draw();
    if !latency.is_zero() {
        state.stats.fault(FaultKind::Latency);
        tokio::time::sleep(latency).await;
    }
    if fault == Fault::Reset {
        state.stats.fault(FaultKind::Reset);
        kill.kill();
        // Never sent: the connection fails before hyper writes it.
        return StatusCode::OK.into_response();
    }
    let response = match injected(&state, fault, &route) {
        Some(response) => response,
        None => handle(&state, route, &uri, headers, body)
            .await
            .unwrap_or_else(IntoResponse::into_response),
    };
    state.stats.response(api, response.status().as_u16());
    match fault {
        Fault::Truncate { short_length } => {
            state.stats.fault(FaultKind::Truncate);
            faults::truncate(response, short_length).await
        }
        _ => response,
    }
}

/// The response of an injected server error or 429, if that is the fault drawn.
fn injected(state: &Shared, fault: Fault, route: &Route) -> Option<Response> {
    match fault {
        Fault::ServerError(status) => {
            state.stats.fault(FaultKind::ServerError);
            Some(injected_server_error(state, status, route))
        }
        Fault::TooManyRequests => {
            state.stats.fault(FaultKind::TooManyRequests);
            Some(injected_throttle(route))
        }
        Fault::None | Fault::Reset | Fault::Truncate { .. } => None,
    }
}

async fn handle(
    state: &Shared,
    route: Route,
    uri: &Uri,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let style = route.error_style();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    if route == Route::RetailPrices {
        let request = ArmRequest {
            route,
            path: uri.path().to_owned(),
            query,
            headers,
            body,
            principal: Principal::anonymous(),
        };
        return Ok(retail_prices::list(state, &request));
    }
    let principal = state
        .tokens
        .authenticate(&headers, route.audience())
        .map_err(|e| e.style(style))?;
    let path = uri.path().to_owned();
    let request = ArmRequest {
        route,
        path,
        query,
        headers,
        body,
        principal,
    };
    check_api_version(&request).map_err(|e| e.style(style))?;
    match &request.route {
        Route::ResourceGraph => resource_graph::query(state, request).await,
        Route::CostQuery { subscription } => {
            cost_management::query(state, &request, subscription).await
        }
        Route::Advisor { subscription } => advisor::list(state, &request, subscription),
        Route::Metrics {
            resource_id,
            subscription,
        } => monitor::metrics(state, &request, resource_id, subscription),
        Route::Batch {
            region,
            subscription,
        } => monitor::batch(state, &request, region, subscription),
        Route::Subscription { subscription } => subscriptions::get(state, &request, subscription),
        Route::Skus { subscription } => resource_skus::list(state, &request, subscription),
        Route::RetailPrices => Ok(retail_prices::list(state, &request)),
    }
}

fn check_api_version(request: &ArmRequest) -> Result<(), ApiError> {
    let supported = request.route.api_versions();
    match request.param("api-version") {
        None => Err(ApiError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )),
        Some(v) if supported.contains(&v) => Ok(()),
        Some(v) => Err(ApiError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are '{}'.",
                supported.join(",")
            ),
        )),
    }
}

fn injected_server_error(state: &Shared, status: StatusCode, route: &Route) -> Response {
    let (code, message) = faults::server_error_body(status);
    let mut error = ApiError::new(status, code, message).style(route.error_style());
    if status == StatusCode::SERVICE_UNAVAILABLE {
        let retry = retry_seconds(scaled(Duration::from_secs(2), state.config.time_scale));
        error = error.header("retry-after", retry.to_string());
    }
    error.into_response()
}

fn injected_throttle(route: &Route) -> Response {
    let error = match route {
        Route::ResourceGraph => resource_graph::throttled_error(0, Duration::from_secs(1)),
        Route::CostQuery { .. } => cost_management::throttled_error(Duration::from_secs(1)),
        _ => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "The request is being throttled as the limit has been reached for operation type - Read.",
        )
        .style(route.error_style())
        .header("retry-after", "1"),
    };
    error.into_response()
}
