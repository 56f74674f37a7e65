//! Issued tokens and the checks every ARM and Monitor request goes through: a bearer token this
//! simulator issued, unexpired, for the right audience; and a subscription whose current home
//! is the token's tenant (principals of the operator tenant, like the managed identity, see
//! every subscription, as with Azure Lighthouse).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tokio::time::Instant;
use url::Url;
use uuid::Uuid;

use super::error::ApiError;
use super::estate::Estate;
use super::rng::{hash_str, uuid_from};

/// Which API a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `https://management.azure.com/` (ARM, Resource Graph, Cost Management, Advisor, metrics).
    Arm,
    /// `https://metrics.monitor.azure.com` (the metrics:getBatch data plane).
    Metrics,
}

impl Audience {
    /// The audience of a v2 client-credentials `scope` (`<resource>/.default`); `own` is the
    /// simulator's base URL, accepted as the ARM resource (like a sovereign cloud's endpoint).
    pub fn from_scope(scope: &str, own: &Url) -> Option<Self> {
        Self::from_resource(scope.trim().strip_suffix("/.default")?, own)
    }

    /// The audience of a managed-identity `resource` (with or without a trailing slash).
    pub fn from_resource(resource: &str, own: &Url) -> Option<Self> {
        let resource = resource.trim().trim_end_matches('/').to_ascii_lowercase();
        match resource.as_str() {
            "https://management.azure.com" | "https://management.core.windows.net" => {
                Some(Self::Arm)
            }
            "https://metrics.monitor.azure.com" => Some(Self::Metrics),
            r if r == own.as_str().trim_end_matches('/').to_ascii_lowercase() => Some(Self::Arm),
            _ => None,
        }
    }

    /// The `aud` claim.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Arm => "https://management.azure.com/",
            Self::Metrics => "https://metrics.monitor.azure.com",
        }
    }
}

/// Who a token was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: Uuid,
    pub client_id: String,
    /// A principal of the operator tenant, delegated on every subscription.
    pub operator: bool,
}

impl Principal {
    /// The caller of a public API (no token).
    pub fn anonymous() -> Self {
        Self {
            tenant_id: Uuid::nil(),
            client_id: String::new(),
            operator: false,
        }
    }

    /// The service principal's object id (stable per client id).
    pub fn object_id(&self) -> Uuid {
        uuid_from(hash_str(&self.client_id), "object-id", 0)
    }
}

#[derive(Debug, Clone)]
struct Issued {
    principal: Principal,
    audience: Audience,
    expires_at: Instant,
}

/// Tokens issued so far.
#[derive(Debug)]
pub struct TokenStore {
    tokens: Mutex<HashMap<String, Issued>>,
    lifetime: Duration,
}

/// Bound on remembered tokens before expired ones are pruned.
const PRUNE_AT: usize = 10_000;

impl TokenStore {
    /// Tokens valid for `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            tokens: Mutex::new(HashMap::new()),
            lifetime,
        }
    }

    /// The lifetime of new tokens.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Issues a JWT-shaped opaque token (clients must not validate it; Azure's are not meant for them either).
    pub fn issue(&self, principal: Principal, audience: Audience) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = json!({
            "aud": audience.uri(),
            "iss": format!("https://sts.windows.net/{}/", principal.tenant_id),
            "iat": now, "nbf": now, "exp": now + self.lifetime.as_secs(),
            "appid": principal.client_id, "oid": principal.object_id(), "sub": principal.object_id(),
            "tid": principal.tenant_id, "idtyp": "app", "ver": "1.0",
        });
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"RS256","kid":"azure-sim"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(Uuid::new_v4().as_bytes()),
        );
        let issued = Issued {
            principal,
            audience,
            expires_at: Instant::now() + self.lifetime,
        };
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.len() >= PRUNE_AT {
            let now = Instant::now();
            tokens.retain(|_, t| t.expires_at > now);
        }
        tokens.insert(token.clone(), issued);
        token
    }

    /// Checks the request's bearer token for `audience`.
    pub fn authenticate(
        &self,
        headers: &HeaderMap,
        audience: Audience,
    ) -> Result<Principal, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                unauthorized(
                    "AuthenticationFailed",
                    "Authentication failed. The 'Authorization' header is missing.",
                )
            })?;
        let issued = self
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(token.trim())
            .cloned();
        let issued = issued.ok_or_else(|| {
            unauthorized("InvalidAuthenticationToken", "The access token is invalid.")
        })?;
        if issued.expires_at <= Instant::now() {
            return Err(unauthorized(
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            ));
        }
        if issued.audience != audience {
            return Err(unauthorized(
                "InvalidAuthenticationToken",
                format!(
                    "The access token has been obtained for wrong audience or resource '{}'. It should exactly match with one of the allowed audiences '{}'.",
                    issued.audience.uri(),
                    audience.uri()
                ),
            ));
        }
        Ok(issued.principal)
    }
}

fn unauthorized(code: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    let challenge = format!(
        "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\", error_description=\"{message}\""
    );
    ApiError::new(StatusCode::UNAUTHORIZED, code, message).header("www-authenticate", challenge)
}

/// Checks that `principal` may call `action` on a subscription of the estate.
pub fn authorize(
    estate: &Estate,
    principal: &Principal,
    subscription: &str,
    action: &str,
) -> Result<Uuid, ApiError> {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{subscription}' could not be found."),
        )
    };
    let id = Uuid::parse_str(subscription).map_err(|_| not_found())?;
    let home = estate.home_tenant(id).ok_or_else(not_found)?;
    if principal.operator || home == principal.tenant_id {
        return Ok(id);
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
        format!(
            "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '/subscriptions/{subscription}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            principal.client_id,
            principal.object_id()
        ),
    ))
}
