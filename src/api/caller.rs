//! Who is calling: the bearer token verified, its app roles, and the tenant it may act for.
//!
//! A caller whose token `tid` is the operator tenant acts for every tenant; any other caller
//! acts only for the tenant registered with that `azure_tenant_id`. A token may carry several
//! app roles; the caller may do what any of them allows: `AzCops.Reader` reads,
//! `AzCops.Approver` also decides on recommendations, `AzCops.Admin` does everything.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use super::AppState;
use super::context::{CorrelationId, TenantSlot};
use super::error::ApiError;
use crate::auth::{self, ROLE_ADMIN, ROLE_APPROVER, ROLE_READER};
use crate::db::{self, Scope, audit};

/// How the API authenticates callers.
#[derive(Clone)]
pub enum Authn {
    /// Entra ID access tokens.
    Entra {
        verifier: auth::Verifier,
        operator_tenant_id: Uuid,
    },
    /// Local development: everyone is the operator's admin.
    Disabled,
}

/// An authenticated caller with at least one of the app roles.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Object id or subject, recorded in the audit log.
    pub principal: String,
    /// Holds `AzCops.Admin`.
    pub is_admin: bool,
    /// Holds `AzCops.Approver` or `AzCops.Admin`: may decide on recommendations.
    pub is_approver: bool,
    pub scope: Scope,
    pub correlation_id: Option<String>,
}

impl Caller {
    /// Fails with 403 unless the caller holds `AzCops.Admin`.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this operation needs the AzCops.Admin role",
            ))
        }
    }

    /// Fails with 403 unless the caller holds `AzCops.Approver` or `AzCops.Admin`.
    pub fn require_approver(&self) -> Result<(), ApiError> {
        if self.is_approver {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this operation needs the AzCops.Approver or AzCops.Admin role",
            ))
        }
    }

    /// Fails with 403 unless the caller is an operator admin.
    pub fn require_operator_admin(&self) -> Result<(), ApiError> {
        self.require_admin()?;
        match self.scope {
            Scope::Operator => Ok(()),
            _ => Err(ApiError::Forbidden(
                "only the operator tenant's admins manage tenants",
            )),
        }
    }

    /// The tenant the caller is limited to, or `None` for an operator.
    pub fn tenant(&self) -> Option<Uuid> {
        match self.scope {
            Scope::Tenant(id) => Some(id),
            _ => None,
        }
    }

    /// The tenant an action is for: the caller's own (naming another is a 404, as if it did
    /// not exist), or the one an operator names in the body — required, as `action` explains.
    pub fn tenant_for(&self, named: Option<Uuid>, action: &str) -> Result<Uuid, ApiError> {
        match (self.tenant(), named) {
            (Some(own), None) => Ok(own),
            (Some(own), Some(named)) if named == own => Ok(own),
            (Some(_), Some(_)) => Err(ApiError::NotFound("tenant")),
            (None, Some(named)) => Ok(named),
            (None, None) => Err(ApiError::BadRequest(format!(
                "tenant_id is required when an operator {action}"
            ))),
        }
    }

    /// An audit entry stamped with this caller and request.
    pub fn audit<'a>(&'a self, entry: audit::Entry<'a>, tenant_id: Uuid) -> audit::Entry<'a> {
        audit::Entry {
            tenant_id: Some(tenant_id),
            actor: &self.principal,
            correlation_id: self.correlation_id.as_deref(),
            ..entry
        }
    }
}

/// The request's bearer token. A request without a usable one is logged here, once, with the
/// reason (there is no token, so no `tid`); a token that is present is judged, and a refusal
/// logged, by [`crate::auth::Verifier::verify`].
fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let token = bearer_token(parts);
    if let Err(ApiError::Unauthorized { description, .. }) = &token {
        tracing::warn!(reason = description, "bearer token refused");
    }
    token
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let missing = ApiError::Unauthorized {
        description: "a bearer token is required",
        token_given: false,
    };
    let value = parts.headers.get(AUTHORIZATION).ok_or(missing)?;
    let value = value.to_str().map_err(|_| ApiError::Unauthorized {
        description: "malformed Authorization header",
        token_given: true,
    })?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(ApiError::Unauthorized {
            description: "expected an Authorization: Bearer token",
            token_given: true,
        }),
    }
}

/// Which tenant each Entra tenant is, as the callers' first requests found it. The mapping
/// never changes for a tenant row; whether the tenant is still registered and active is
/// checked by every transaction of its callers ([`crate::db::begin_for_caller`]), which
/// forgets the entry when it is not ([`CallerTenants::forget`]). One entry per registered
/// tenant at most: unregistered Entra tenants are never remembered.
#[derive(Debug, Default)]
pub struct CallerTenants(Mutex<HashMap<Uuid, Uuid>>);

impl CallerTenants {
    fn get(&self, azure_tenant_id: Uuid) -> Option<Uuid> {
        self.lock().get(&azure_tenant_id).copied()
    }

    fn remember(&self, azure_tenant_id: Uuid, tenant_id: Uuid) {
        self.lock().insert(azure_tenant_id, tenant_id);
    }

    /// Forgets the tenant `tenant_id` (deactivated or deleted): its callers' next request
    /// looks it up again.
    pub fn forget(&self, tenant_id: Uuid) {
        self.lock().retain(|_, id| *id != tenant_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Uuid>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

async fn tenant_scope(state: &AppState, azure_tenant_id: Uuid) -> Result<Scope, ApiError> {
    if let Some(id) = state.caller_tenants.get(azure_tenant_id) {
        return Ok(Scope::Tenant(id));
    }
    let mut tx = state.begin(Scope::CallerLookup(azure_tenant_id)).await?;
    let tenant = db::tenants::find_by_azure_tenant_id(&mut tx, azure_tenant_id).await?;
    tx.commit().await?;
    match tenant {
        Some(t) if t.is_active => {
            state.caller_tenants.remember(azure_tenant_id, t.id);
            Ok(Scope::Tenant(t.id))
        }
        Some(_) => Err(ApiError::Forbidden(DEACTIVATED)),
        None => Err(ApiError::Forbidden(NOT_REGISTERED)),
    }
}

/// The 403 of a caller whose tenant is deactivated.
pub const DEACTIVATED: &str = "your tenant is deactivated in AzCops";
/// The 403 of a caller whose Entra tenant is not (or no longer) registered.
pub const NOT_REGISTERED: &str = "your tenant is not registered with AzCops";

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let correlation_id = parts.extensions.get::<CorrelationId>().map(|c| c.0.clone());
        let (verifier, operator_tenant_id) = match &*state.authn {
            Authn::Disabled => {
                return Ok(Caller {
                    principal: "local-developer".into(),
                    is_admin: true,
                    is_approver: true,
                    scope: Scope::Operator,
                    correlation_id,
                });
            }
            Authn::Entra {
                verifier,
                operator_tenant_id,
            } => (verifier, *operator_tenant_id),
        };
        let claims = verifier.verify(bearer(parts)?).await.map_err(|e| {
            if e.is_unavailable() {
                ApiError::Unavailable("the token signing keys cannot be fetched, try again shortly")
            } else {
                ApiError::Unauthorized {
                    description: e.description(),
                    token_given: true,
                }
            }
        })?;
        let is_admin = claims.has_role(ROLE_ADMIN);
        let is_approver = is_admin || claims.has_role(ROLE_APPROVER);
        if !is_approver && !claims.has_role(ROLE_READER) {
            return Err(ApiError::Forbidden(
                "the token carries none of the AzCops.Reader, AzCops.Approver and AzCops.Admin roles",
            ));
        }
        let scope = if claims.tid == operator_tenant_id {
            Scope::Operator
        } else {
            tenant_scope(state, claims.tid).await?
        };
        if let (Scope::Tenant(id), Some(slot)) = (scope, parts.extensions.get::<TenantSlot>()) {
            slot.set(id);
        }
        Ok(Caller {
            principal: claims.principal(),
            is_admin,
            is_approver,
            scope,
            correlation_id,
        })
    }
}
