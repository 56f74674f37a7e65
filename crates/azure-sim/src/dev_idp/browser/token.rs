//! The token endpoint of the browser sign-in (`POST /token`, `POST /{tenant}/oauth2/v2.0/token`):
//! the authorization code grant (the code once, with its PKCE verifier) and the refresh token
//! grant (each refresh token once), answering as Entra ID does for a single-page application.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    Grant, Grants, REFRESH_TTL, Scheme, Signer, TOKEN_TTL_SECS, base, client_info, json_answer,
    opaque,
};

/// The token request: the authorization code grant or the refresh token grant.
#[derive(Debug, Deserialize)]
pub(in crate::dev_idp) struct Redeem {
    grant_type: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    code_verifier: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    refresh_token: String,
}

fn oauth_error(code: &str, description: &str) -> Response {
    json_answer(
        StatusCode::BAD_REQUEST,
        json!({ "error": code, "error_description": description }),
    )
}

/// Takes the entry `key` out of `grants` if it has not expired (a code or refresh token is
/// used once, right or wrong).
fn take(grants: &std::sync::Mutex<Grants>, key: &str) -> Option<Grant> {
    let grant = grants.lock().ok().and_then(|mut g| g.remove(key));
    grant.filter(|g| g.expires > Instant::now())
}

/// `POST /token` (or `…/oauth2/v2.0/token`): a code and its PKCE verifier, or a refresh
/// token, for an access token, an ID token and a new refresh token.
pub(in crate::dev_idp) async fn redeem(
    State(signer): State<Arc<Signer>>,
    headers: HeaderMap,
    scheme: Option<Extension<Scheme>>,
    Form(r): Form<Redeem>,
) -> Response {
    let grant = match r.grant_type.as_str() {
        "authorization_code" => {
            let Some(grant) = take(&signer.grants, &r.code) else {
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
            grant
        }
        "refresh_token" => {
            let Some(grant) = take(&signer.refresh, &r.refresh_token) else {
                return oauth_error(
                    "invalid_grant",
                    "the refresh token is unknown, expired or already used",
                );
            };
            if grant.client_id != r.client_id {
                return oauth_error("invalid_grant", "the refresh token is another client's");
            }
            // The nonce belongs to the sign-in only.
            Grant {
                nonce: None,
                ..grant
            }
        }
        _ => {
            return oauth_error(
                "unsupported_grant_type",
                "only authorization_code and refresh_token are supported",
            );
        }
    };
    match tokens(&signer, &grant, &base(&headers, scheme)) {
        Ok(body) => json_answer(StatusCode::OK, body),
        Err(e) => json_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "server_error", "error_description": format!("cannot mint: {e}") }),
        ),
    }
}

/// The token response of `grant`: its access token, an ID token for the client and a refresh
/// token that stands for the same grant.
fn tokens(signer: &Signer, grant: &Grant, base: &str) -> anyhow::Result<serde_json::Value> {
    let access = signer.mint_for(&grant.request, &grant.client_id)?;
    let request = &grant.request;
    let tid = request.tid.unwrap_or(signer.default_tenant_id);
    let name = request.name.as_deref().unwrap_or("Local Developer");
    let now = chrono::Utc::now().timestamp();
    let mut id = json!({
        "iss": format!("{base}/{tid}/v2.0"), "aud": grant.client_id, "tid": tid,
        "oid": request.oid, "sub": request.oid, "ver": "2.0", "name": name,
        "preferred_username": format!("{}@dev-idp.local", name.to_lowercase().replace(' ', ".")),
        "iat": now, "nbf": now, "exp": now + TOKEN_TTL_SECS,
    });
    if let (Some(nonce), Some(claims)) = (&grant.nonce, id.as_object_mut()) {
        claims.insert("nonce".into(), json!(nonce));
    }
    let id_token = signer.sign(&id)?;
    let refresh_token = opaque();
    if let Ok(mut refresh) = signer.refresh.lock() {
        refresh.retain(|_, g| g.expires > Instant::now());
        let renewed = Grant {
            nonce: None,
            expires: Instant::now() + REFRESH_TTL,
            ..grant.clone()
        };
        refresh.insert(refresh_token.clone(), renewed);
    }
    Ok(json!({
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": TOKEN_TTL_SECS,
        "ext_expires_in": TOKEN_TTL_SECS,
        "scope": grant.scope,
        "id_token": id_token,
        "client_info": client_info(request),
        "refresh_token": refresh_token,
        "refresh_token_expires_in": REFRESH_TTL.as_secs(),
    }))
}
