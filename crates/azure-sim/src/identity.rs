//! The simulated Entra ID: the v2 client-credentials token endpoint and the App Service
//! managed-identity endpoint, with AADSTS-style errors.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::auth::{Audience, Principal};
use super::server::Shared;
use super::stats::Api;

/// `POST /{tenant}/oauth2/v2.0/token` with a form body.
pub async fn client_credentials(
    State(state): State<Shared>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    state.stats.request(Api::Token, &[]);
    let response = issue_client_credentials(&state, &tenant, &body)
        .unwrap_or_else(IntoResponse::into_response);
    state.stats.response(Api::Token, response.status().as_u16());
    response
}

fn issue_client_credentials(
    state: &Shared,
    tenant: &str,
    body: &[u8],
) -> Result<Response, Failure> {
    let Some((tenant_id, operator)) = known_tenant(state, tenant) else {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let (client_id, scope, audience) = client_credentials_grant(&form, &state.base_url)?;
    let principal = Principal {
        tenant_id,
        client_id: client_id.to_owned(),
        operator,
    };
    let token = state.tokens.issue(principal, audience);
    state.stats.token(&tenant_id.to_string(), scope);
    let lifetime = state.tokens.lifetime().as_secs();
    let body = json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token});
    Ok(Json(body).into_response())
}

/// Validates a client-credentials form: `(client_id, scope, audience)`. Any secret is accepted.
fn client_credentials_grant<'a>(
    form: &'a HashMap<String, String>,
    own: &Url,
) -> Result<(&'a str, &'a str, Audience), Failure> {
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let missing = |name: &str| {
        let description =
            format!("The request body must contain the following parameter: '{name}'.");
        aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            &description,
        )
    };
    let grant_type = field("grant_type").ok_or_else(|| missing("grant_type"))?;
    if grant_type != "client_credentials" {
        let description = format!("The app requested an unsupported grant type '{grant_type}'.");
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &description,
        ));
    }
    let client_id = field("client_id").ok_or_else(|| missing("client_id"))?;
    if field("client_secret").is_none() && field("client_assertion").is_none() {
        return Err(aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        ));
    }
    let scope = field("scope").ok_or_else(|| missing("scope"))?;
    let audience = Audience::from_scope(scope, own).ok_or_else(|| {
        aad_error(StatusCode::BAD_REQUEST, "invalid_scope", 70011, &format!(
            "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid: '{scope}'."
        ))
    })?;
    Ok((client_id, scope, audience))
}

/// `GET /msi/token?resource=…&api-version=2019-08-01` with `X-IDENTITY-HEADER` (App Service).
pub async fn managed_identity(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    state.stats.request(Api::Token, &[]);
    let response = issue_managed_identity(&state, &query, &headers)
        .unwrap_or_else(IntoResponse::into_response);
    state.stats.response(Api::Token, response.status().as_u16());
    response
}

fn issue_managed_identity(
    state: &Shared,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, Failure> {
    let secret = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if secret != Some(state.config.identity_header.as_str()) {
        let message = "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.";
        return Err(msi_error(StatusCode::UNAUTHORIZED, message));
    }
    if query.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return Err(msi_error(
            StatusCode::BAD_REQUEST,
            "The api-version must be 2019-08-01.",
        ));
    }
    let resource = query
        .get("resource")
        .map(String::as_str)
        .unwrap_or_default();
    let audience = Audience::from_resource(resource, &state.base_url).ok_or_else(|| {
        let message =
            format!("AADSTS500011: The resource principal named {resource} was not found.");
        msi_error(StatusCode::BAD_REQUEST, &message)
    })?;
    let client_id = query
        .get("client_id")
        .cloned()
        .unwrap_or_else(|| state.estate.msi_client_id().to_string());
    let tenant_id = state.estate.operator_tenant_id();
    let principal = Principal {
        tenant_id,
        client_id: client_id.clone(),
        operator: true,
    };
    let token = state.tokens.issue(principal, audience);
    state
        .stats
        .token(&tenant_id.to_string(), "managed-identity");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let expires_on = (now + state.tokens.lifetime()).as_secs().to_string();
    let body = json!({
        "access_token": token, "expires_on": expires_on, "resource": resource,
        "token_type": "Bearer", "client_id": client_id,
    });
    Ok(Json(body).into_response())
}

/// A customer tenant or the operator tenant, by id.
fn known_tenant(state: &Shared, tenant: &str) -> Option<(Uuid, bool)> {
    let id = Uuid::parse_str(tenant).ok()?;
    if id == state.estate.operator_tenant_id() {
        return Some((id, true));
    }
    state.estate.tenant(id).map(|t| (t.id, false))
}

/// A refused token request: its status and JSON body.
struct Failure(StatusCode, serde_json::Value);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn aad_error(status: StatusCode, error: &str, code: u32, description: &str) -> Failure {
    let trace_id = Uuid::new_v4();
    let correlation_id = Uuid::new_v4();
    let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    Failure(status, body)
}

fn msi_error(status: StatusCode, message: &str) -> Failure {
    let body =
        json!({"statusCode": status.as_u16(), "message": message, "correlationId": Uuid::new_v4()});
    Failure(status, body)
}
