//! The web page (`/api/ui/`): a single-page application of plain ES modules and CSS embedded
//! in the binary, served beside the API (the Functions host forwards only `/api/*`). It is
//! public static content: the page signs in itself and calls the JSON API with a bearer token.
//!
//! The assets live under `/api/ui/assets/<version>/`, where the version is a hash of every
//! asset's content: they are cached for a year as immutable, and modules import each other by
//! relative path, so one new asset changes every URL and no stale mix can be loaded. The HTML
//! and `config.json` are `no-cache`. Every answer carries a strict Content-Security-Policy: only
//! this origin's scripts and styles (no inline ones), and the sign-in authority for the token
//! request. The routes are not part of the OpenAPI document (they are not JSON API).

use std::sync::LazyLock;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};

use super::{ApiError, AppState};
use crate::config::UiSettings;

/// One embedded file.
struct Asset {
    name: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($name:literal),* $(,)?) => {
        &[$(Asset { name: $name, body: include_bytes!(concat!("../../ui/", $name)) }),*]
    };
}

/// Every asset the page loads (the HTML is served separately).
static ASSETS: &[Asset] = assets![
    "app.css",
    "app.js",
    "api.js",
    "auth.js",
    "chart.js",
    "dom.js",
    "format.js",
    "icon.svg",
    "views/anomalies.js",
    "views/ingestion.js",
    "views/overview.js",
    "views/recommendations.js",
    // MSAL.js (@azure/msal-browser), its browser bundle as published (ui/vendor/README.md).
    "vendor/msal-browser.min.js",
];

static INDEX: &str = include_str!("../../ui/index.html");

/// The hash of every asset's name and content (16 hex digits): the assets' directory.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for asset in ASSETS {
        hash.update(asset.name.as_bytes());
        hash.update([0]);
        hash.update(asset.body);
        hash.update((asset.body.len() as u64).to_le_bytes());
    }
    hash.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
});

/// The page's HTML with the assets' version filled in.
static PAGE: LazyLock<String> = LazyLock::new(|| INDEX.replace("{{version}}", &VERSION));

/// The version of the embedded assets (their directory under `/api/ui/assets/`).
pub fn version() -> &'static str {
    &VERSION
}

/// The page's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/ui", get(|| async { Redirect::permanent("/api/ui/") }))
        .route("/api/ui/", get(page))
        .route("/api/ui/config.json", get(config))
        .route("/api/ui/assets/{version}/{*path}", get(asset))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The Content-Security-Policy of every answer: this origin's scripts, styles and images, API
/// calls to this origin and token requests to the authority's.
fn policy(settings: &UiSettings) -> String {
    let authority = url::Url::parse(&settings.authority)
        .map(|u| u.origin().ascii_serialization())
        .ok()
        .filter(|o| o != "null")
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         font-src 'self'; connect-src 'self'{authority}; form-action 'self'{authority}; \
         base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
    )
}

fn headers(settings: &UiSettings, content_type: &'static str, cache: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Ok(csp) = HeaderValue::from_str(&policy(settings)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers
}

const NO_CACHE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

async fn page(State(state): State<AppState>) -> Response {
    let headers = headers(&state.ui, "text/html; charset=utf-8", NO_CACHE);
    (headers, PAGE.as_str()).into_response()
}

async fn config(State(state): State<AppState>) -> Response {
    let headers = headers(&state.ui, "application/json", NO_CACHE);
    let body = serde_json::to_vec(&*state.ui).unwrap_or_default();
    (headers, body).into_response()
}

async fn asset(
    State(state): State<AppState>,
    Path((version, path)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == path)
        .ok_or(ApiError::NotFound("asset"))?;
    if version != *VERSION {
        // A page of another build: its assets are gone with it (the page is `no-cache`).
        return Err(ApiError::NotFound("asset"));
    }
    let headers = headers(&state.ui, content_type(asset.name), IMMUTABLE);
    Ok((headers, asset.body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_its_assets_by_a_hash_of_their_content() {
        assert_eq!(version().len(), 16);
        assert!(PAGE.contains(&format!("assets/{}/app.js", version())));
        assert!(!PAGE.contains("{{version}}"));
    }

    #[test]
    fn the_policy_allows_this_origin_and_the_authority_only() {
        let settings = UiSettings {
            client_id: Some("c".into()),
            authority: "https://login.microsoftonline.com/organizations/v2.0".into(),
            scope: None,
            operator_tenant_id: None,
        };
        let csp = policy(&settings);
        assert!(csp.contains("script-src 'self';"));
        assert!(csp.contains("connect-src 'self' https://login.microsoftonline.com;"));
        assert!(!csp.contains("unsafe"));
    }
}
