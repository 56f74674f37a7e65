//! The browser sign-in of the development identity provider, laid out as Entra ID's v2.0
//! endpoints so MSAL (the page's sign-in library) signs in here as it does there: an OpenID
//! Connect discovery document, `GET …/authorize` (a form to pick the tenant, the role and a
//! name, in place of Entra ID's sign-in pages), `POST …/authorize` (issues a one-time code bound
//! to the PKCE challenge and redirects back with it and `client_info`), `POST …/token` (redeems
//! the code for an access token for the API, an ID token carrying the request's `nonce` and a
//! refresh token, when the verifier matches; or a refresh token, once, for new ones) and
//! `GET …/logout`. The same endpoints answer at the root and under `/{tenant}/` (the authority
//! is then `https://127.0.0.1:<port>/organizations/v2.0`, shaped like Entra ID's).
//! Redirect URIs must be on a loopback address: this provider is for a developer's machine.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Signer, TokenRequest};

mod token;
pub(super) use token::redeem;

/// Codes (or refresh tokens) issued and not yet redeemed, by code.
pub(super) type Grants = HashMap<String, Grant>;

/// What a code or a refresh token stands for.
#[derive(Clone)]
pub(super) struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
    /// The authorization request's `nonce`, echoed in the ID token (MSAL checks it).
    nonce: Option<String>,
    request: TokenRequest,
    expires: Instant,
}

/// How long a code may wait to be redeemed.
const CODE_TTL: Duration = Duration::from_secs(300);
/// Lifetime of the access and ID tokens the browser flow issues.
const TOKEN_TTL_SECS: i64 = 3600;
/// Lifetime of a refresh token (Entra ID gives single-page applications 24 hours).
const REFRESH_TTL: Duration = Duration::from_secs(24 * 3600);
/// The roles offered on the form.
const ROLES: [&str; 3] = ["AzCops.Reader", "AzCops.Approver", "AzCops.Admin"];

/// Which listener a request came in on: the HTTPS listener's router carries `Https`
/// ([`super::over_https`]); without it, plain HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    Https,
}

pub(super) fn routes() -> Router<Arc<Signer>> {
    Router::new()
        .route("/", get(home))
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(form).post(authorize))
        .route("/logout", get(logout))
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            get(tenant_discovery),
        )
        .route("/{tenant}/oauth2/v2.0/authorize", get(form).post(authorize))
        .route("/{tenant}/oauth2/v2.0/token", axum::routing::post(redeem))
        .route("/{tenant}/oauth2/v2.0/logout", get(logout))
}

/// This provider's base URL as the browser reached it.
fn base(headers: &HeaderMap, scheme: Option<Extension<Scheme>>) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:7081");
    match scheme {
        Some(Extension(Scheme::Https)) => format!("https://{host}"),
        None => format!("http://{host}"),
    }
}

/// JSON (any page may read it: the router allows every origin).
fn json_answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

/// What a browser sees at the root: where a developer lands after accepting the certificate.
async fn home() -> Html<&'static str> {
    Html(
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Development identity provider</title></head>
<body style="font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem">
<h1 style="font-size:1.4rem">Development identity provider</h1>
<p>This is <code>azure-sim dev-idp</code>, which stands in for Entra ID on a developer's machine.
If your browser asked you to accept its certificate to get here, it now trusts it for this session:
go back to the AzCops page and sign in.</p></body></html>"#,
    )
}

/// The discovery document of the endpoints under `prefix` (`""` or `/{tenant}`).
fn metadata(base: &str, prefix: &str, issuer: &str) -> serde_json::Value {
    let endpoints = if prefix.is_empty() {
        base.to_owned()
    } else {
        format!("{base}{prefix}/oauth2/v2.0")
    };
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{endpoints}/authorize"),
        "token_endpoint": format!("{endpoints}/token"),
        "end_session_endpoint": format!("{endpoints}/logout"),
        "jwks_uri": format!("{base}/keys"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "nonce", "name", "preferred_username", "oid", "tid", "ver"],
    })
}

async fn discovery(headers: HeaderMap, scheme: Option<Extension<Scheme>>) -> Response {
    let base = base(&headers, scheme);
    json_answer(StatusCode::OK, metadata(&base, "", &base))
}

/// Discovery under a tenant segment, as Entra ID's
/// `https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration`.
async fn tenant_discovery(
    headers: HeaderMap,
    scheme: Option<Extension<Scheme>>,
    Path(tenant): Path<String>,
) -> Response {
    let base = base(&headers, scheme);
    let issuer = format!("{base}/{{tenantid}}/v2.0");
    json_answer(
        StatusCode::OK,
        metadata(&base, &format!("/{}", escape_path(&tenant)), &issuer),
    )
}

/// A path segment as it may appear in a URL the provider writes (letters, digits, `-._`).
fn escape_path(segment: &str) -> String {
    segment
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect()
}

/// `GET …/logout`: nothing to forget here (the page keeps its tokens); back to the page when
/// it says where, if that is on a loopback address.
async fn logout(Query(q): Query<HashMap<String, String>>) -> Response {
    match q.get("post_logout_redirect_uri") {
        Some(uri) if loopback(uri) => Redirect::to(uri).into_response(),
        _ => Html("<!doctype html><title>Signed out</title><p>Signed out.</p>").into_response(),
    }
}

/// Whether `uri` is a URL on a loopback address.
fn loopback(uri: &str) -> bool {
    let Ok(uri) = url::Url::parse(uri) else {
        return false;
    };
    match uri.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
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
    #[serde(default)]
    nonce: String,
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
        url::Url::parse(&self.redirect_uri).map_err(|_| "redirect_uri is not a URL")?;
        if !loopback(&self.redirect_uri) {
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
        ("nonce", &p.nonce),
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
<form method="post" action="authorize" style="display:grid;gap:.75rem">{hidden}
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
    let code = opaque();
    let p = d.request;
    let grant = Grant {
        client_id: p.client_id.clone(),
        redirect_uri: p.redirect_uri.clone(),
        challenge: p.code_challenge.clone(),
        scope: p.scope.clone(),
        nonce: Some(p.nonce.clone()).filter(|n| !n.is_empty()),
        request: TokenRequest {
            tid: Some(tid),
            roles: Some(d.role),
            oid: Some(object_id(tid, &name)),
            name: Some(name),
            ttl_secs: Some(TOKEN_TTL_SECS),
        },
        expires: Instant::now() + CODE_TTL,
    };
    let info = client_info(&grant.request);
    if let Ok(mut grants) = signer.grants.lock() {
        grants.retain(|_, g| g.expires > Instant::now());
        grants.insert(code.clone(), grant);
    }
    let mut answer = url::form_urlencoded::Serializer::new(String::new());
    answer.append_pair("code", &code);
    answer.append_pair("client_info", &info);
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

/// Entra ID's `client_info`: the user's object id and tenant, base64url JSON (MSAL keys its
/// account cache by them).
fn client_info(request: &TokenRequest) -> String {
    let info = json!({ "uid": request.oid, "utid": request.tid });
    URL_SAFE_NO_PAD.encode(info.to_string())
}

/// A random opaque token (codes and refresh tokens).
fn opaque() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}
