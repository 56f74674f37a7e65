//! The browser sign-in of the development identity provider: an OpenID Connect discovery
//! document, `GET /authorize` (a form to pick the tenant, the role and a name, in place of
//! Entra ID's sign-in pages), `POST /authorize` (issues a one-time code bound to the PKCE
//! challenge and redirects back) and `POST /token` (redeems the code for an access token when
//! the verifier matches). The page at `/api/ui/` runs the same code path as against Entra ID.
//! Redirect URIs must be on a loopback address: this provider is for a developer's machine.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Signer, TokenRequest};

/// Codes issued and not yet redeemed, by code.
pub(super) type Grants = HashMap<String, Grant>;

/// What a code stands for.
pub(super) struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    request: TokenRequest,
    expires: Instant,
}

/// How long a code may wait to be redeemed.
const CODE_TTL: Duration = Duration::from_secs(300);
/// Lifetime of the tokens the browser flow issues.
const TOKEN_TTL_SECS: i64 = 3600;
/// The roles offered on the form.
const ROLES: [&str; 3] = ["AzCops.Reader", "AzCops.Approver", "AzCops.Admin"];

pub(super) fn routes() -> Router<Arc<Signer>> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(form).post(authorize))
}

/// This provider's base URL as the browser reached it.
fn base(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:7081");
    format!("http://{host}")
}

/// JSON any page may read (the browser calls discovery and the token endpoint cross-origin).
fn cors_json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn discovery(headers: HeaderMap) -> Response {
    let base = base(&headers);
    cors_json(
        StatusCode::OK,
        json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/keys"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "offline_access"],
        }),
    )
}

/// The authorization request, as the page sends it (other parameters are ignored).
#[derive(Debug, Deserialize)]
struct AuthorizeParams {
    client_id: String,
    redirect_uri: String,
    response_type: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    state: String,
    code_challenge: String,
    code_challenge_method: String,
    #[serde(default)]
    response_mode: String,
}

impl AuthorizeParams {
    fn check(&self) -> Result<(), String> {
        if self.response_type != "code" {
            return Err("response_type must be `code`".into());
        }
        if self.code_challenge_method != "S256" || !(43..=128).contains(&self.code_challenge.len())
        {
            return Err("a PKCE code_challenge with code_challenge_method S256 is required".into());
        }
        if !matches!(self.response_mode.as_str(), "" | "query" | "fragment") {
            return Err("response_mode must be `query` or `fragment`".into());
        }
        if self.client_id.trim().is_empty() {
            return Err("client_id is required".into());
        }
        let uri = url::Url::parse(&self.redirect_uri).map_err(|_| "redirect_uri is not a URL")?;
        let loopback = match uri.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
        if !loopback {
            return Err("redirect_uri must be on a loopback address (development only)".into());
        }
        Ok(())
    }
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

async fn form(State(signer): State<Arc<Signer>>, Query(p): Query<AuthorizeParams>) -> Response {
    if let Err(message) = p.check() {
        return bad_request(&message);
    }
    let hidden: String = [
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("response_type", &p.response_type),
        ("scope", &p.scope),
        ("state", &p.state),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
        ("response_mode", &p.response_mode),
    ]
    .iter()
    .map(|(name, value)| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value)
        )
    })
    .collect();
    let roles: String = ROLES
        .iter()
        .map(|r| format!(r#"<option value="{r}">{r}</option>"#))
        .collect();
    Html(format!(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign in (development identity provider)</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem;color:#1b1f24">
<h1 style="font-size:1.4rem">Development sign-in</h1>
<p>This is <code>azure-sim dev-idp</code>, which stands in for Entra ID on a developer's machine.
Pick who you are: the operator tenant acts for every tenant; a customer's Entra tenant id
acts for that tenant only.</p>
<form method="post" action="/authorize" style="display:grid;gap:.75rem">{hidden}
<label>Entra tenant id (tid)<br><input name="tid" id="tid" required size="40" value="{tenant}"></label>
<label>Role<br><select name="role" id="role">{roles}</select></label>
<label>Name<br><input name="name" id="name" required value="Local Developer"></label>
<button type="submit" id="sign-in" style="padding:.5rem 1rem;font-size:1rem">Sign in</button>
</form></body></html>"#,
        tenant = signer.default_tenant_id,
    ))
    .into_response()
}

/// The form's answer: the request again and who signs in.
#[derive(Debug, Deserialize)]
struct Decision {
    #[serde(flatten)]
    request: AuthorizeParams,
    tid: String,
    role: String,
    name: String,
}

/// A stable object id for a name in a tenant, so the audit log shows one user per name.
fn object_id(tid: Uuid, name: &str) -> Uuid {
    let digest = Sha256::digest(format!("{tid}/{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

async fn authorize(State(signer): State<Arc<Signer>>, Form(d): Form<Decision>) -> Response {
    if let Err(message) = d.request.check() {
        return bad_request(&message);
    }
    let Ok(tid) = Uuid::parse_str(d.tid.trim()) else {
        return bad_request("the tenant id must be a UUID");
    };
    if !ROLES.contains(&d.role.as_str()) {
        return bad_request("unknown role");
    }
    let name = d.name.trim().chars().take(100).collect::<String>();
    let code = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    let p = d.request;
    let grant = Grant {
        client_id: p.client_id.clone(),
        redirect_uri: p.redirect_uri.clone(),
        challenge: p.code_challenge.clone(),
        scope: p.scope.clone(),
        request: TokenRequest {
            tid: Some(tid),
            roles: Some(d.role),
            oid: Some(object_id(tid, &name)),
            name: Some(name),
            ttl_secs: Some(TOKEN_TTL_SECS),
        },
        expires: Instant::now() + CODE_TTL,
    };
    if let Ok(mut grants) = signer.grants.lock() {
        grants.retain(|_, g| g.expires > Instant::now());
        grants.insert(code.clone(), grant);
    }
    let mut answer = url::form_urlencoded::Serializer::new(String::new());
    answer.append_pair("code", &code);
    if !p.state.is_empty() {
        answer.append_pair("state", &p.state);
    }
    let separator = match (p.response_mode.as_str(), p.redirect_uri.contains('?')) {
        ("fragment", _) => '#',
        (_, true) => '&',
        (_, false) => '?',
    };
    Redirect::to(&format!("{}{separator}{}", p.redirect_uri, answer.finish())).into_response()
}

/// The token request of the authorization code grant.
#[derive(Debug, Deserialize)]
pub(super) struct Redeem {
    grant_type: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    code_verifier: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    client_id: String,
}

fn oauth_error(code: &str, description: &str) -> Response {
    cors_json(
        StatusCode::BAD_REQUEST,
        json!({ "error": code, "error_description": description }),
    )
}

/// `POST /token`: a code and its PKCE verifier for an access token (once).
pub(super) async fn redeem(State(signer): State<Arc<Signer>>, Form(r): Form<Redeem>) -> Response {
    if r.grant_type != "authorization_code" {
        return oauth_error(
            "unsupported_grant_type",
            "only authorization_code is supported",
        );
    }
    let grant = signer
        .grants
        .lock()
        .ok()
        .and_then(|mut g| g.remove(&r.code));
    let Some(grant) = grant.filter(|g| g.expires > Instant::now()) else {
        return oauth_error(
            "invalid_grant",
            "the code is unknown, expired or already used",
        );
    };
    if grant.client_id != r.client_id || grant.redirect_uri != r.redirect_uri {
        return oauth_error(
            "invalid_grant",
            "client_id or redirect_uri differ from the authorization request",
        );
    }
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(r.code_verifier.as_bytes()));
    if challenge != grant.challenge {
        return oauth_error(
            "invalid_grant",
            "the code_verifier does not match the code_challenge",
        );
    }
    match signer.mint_for(&grant.request, &grant.client_id) {
        Ok(token) => cors_json(
            StatusCode::OK,
            json!({
                "token_type": "Bearer",
                "access_token": token,
                "expires_in": TOKEN_TTL_SECS,
                "scope": grant.scope,
            }),
        ),
        Err(e) => cors_json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "server_error", "error_description": format!("cannot mint: {e}") }),
        ),
    }
}
