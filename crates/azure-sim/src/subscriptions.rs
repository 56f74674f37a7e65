//! ARM subscriptions: `GET /subscriptions/{sub}`, the subscription with its current home
//! tenant (`tenantId`, which moves with `POST /_sim/subscriptions/{sub}/move`), its tags (the
//! same as its `ResourceContainers` row) and the operator tenant in `managedByTenants` (every
//! simulated subscription is delegated to it, as with Azure Lighthouse). A principal of the home tenant or of the operator tenant sees it; anyone
//! else gets ARM's `404 SubscriptionNotFound`, as for a subscription that does not exist.

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::json;
use uuid::Uuid;

use super::arm::ArmRequest;
use super::error::{ApiError, ApiResult};
use super::server::Shared;

/// Handles `GET /subscriptions/{subscription}`.
pub fn get(state: &Shared, request: &ArmRequest, subscription: &str) -> ApiResult {
    let not_found = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{subscription}' could not be found."),
        )
    };
    let id = Uuid::parse_str(subscription).map_err(|_| not_found())?;
    let estate = &state.estate;
    let (sub, home) = estate
        .subscription(id)
        .zip(estate.home_tenant(id))
        .ok_or_else(not_found)?;
    let principal = &request.principal;
    if !principal.operator && principal.tenant_id != home {
        return Err(not_found());
    }
    let body = json!({
        "id": format!("/subscriptions/{id}"),
        "authorizationSource": "RoleBased",
        "managedByTenants": [{"tenantId": estate.operator_tenant_id()}],
        "subscriptionId": id,
        "tenantId": home,
        "displayName": sub.display_name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
        "tags": sub.tags.to_json(),
    });
    Ok(Json(body).into_response())
}
