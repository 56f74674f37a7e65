//! `/api/v1/subscriptions`: the Azure subscriptions registered for a tenant.
//!
//! A customer tenant's callers work on their own tenant's subscriptions; operator admins name
//! the tenant in the body (`tenant_id`) or filter lists with `?tenant_id=`. Registration first
//! asks ARM for the subscription's home tenant ([`crate::azure::subscriptions`]): only a
//! subscription of the tenant's own Entra tenant can be registered, whoever registers it.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::get;
use serde::{Deserialize, Deserializer};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::pagination::{Paginated, Paging, QueryId};
use super::tenants::valid_name;
use super::{AppState, Caller};
use crate::azure::client::CallContext;
use crate::azure::subscriptions::{self as azure_subscriptions, HomeTenant};
use crate::db::audit::{Action, Entry};
use crate::db::subscriptions::{
    self, NewSubscription, Subscription, SubscriptionChanges, SubscriptionFilter,
};
use crate::db::tenants;

const TARGET: &str = "subscription";

/// The subscription routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/subscriptions", get(list).post(create))
        .route(
            "/subscriptions/{id}",
            get(read).patch(update).delete(remove),
        )
}

/// A subscription to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// The owning tenant: required for operator callers, implied for tenant callers.
    pub tenant_id: Option<Uuid>,
    /// The Azure subscription id.
    pub subscription_id: Uuid,
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: String,
    /// Optional Cost Management scope (up to 500 characters).
    #[schema(min_length = 1, max_length = 500)]
    pub billing_scope: Option<String>,
    /// Defaults to true.
    pub is_active: Option<bool>,
}

/// Changes to a subscription; absent fields are kept, `billing_scope: null` clears it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscription {
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 500)]
    pub billing_scope: Option<Option<String>>,
    pub is_active: Option<bool>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Filters and paging for the subscription list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListSubscriptions {
    /// Only this tenant's subscriptions (operators); a tenant caller always sees only its own.
    pub tenant_id: Option<Uuid>,
    pub is_active: Option<bool>,
    #[param(minimum = 1, maximum = 4_294_967_295_i64)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 500)]
    pub page_size: Option<i64>,
    /// The `next_cursor` of the page before (with the same filters), instead of `page`: the
    /// page after it, at the cost of a first page however deep. Another list's or filter's
    /// cursor is a 400.
    #[param(min_length = 1, max_length = 4096)]
    pub cursor: Option<String>,
    /// Count all matching rows into `total` and `total_pages` (a full count, which costs what
    /// reading every matching row costs). Default: false, and `total` is null.
    pub include_total: Option<bool>,
}

impl ListSubscriptions {
    fn paging(&mut self) -> Paging {
        Paging {
            page: self.page,
            page_size: self.page_size,
            cursor: self.cursor.take(),
            include_total: self.include_total,
        }
    }
}

fn valid_scope(scope: Option<String>) -> Result<Option<String>, ApiError> {
    match scope.map(|s| s.trim().to_owned()) {
        Some(s) if s.is_empty() || s.len() > 500 => Err(ApiError::BadRequest(
            "billing_scope must be 1 to 500 characters".into(),
        )),
        other => Ok(other),
    }
}

/// Registers a subscription (admins), once ARM confirms that its home tenant is the tenant's
/// Entra tenant (`422 subscription_not_in_tenant` otherwise, or when the tenant's credentials
/// cannot see it; `503 azure_unavailable` when Azure cannot be asked).
#[utoipa::path(post, path = "/api/v1/subscriptions", operation_id = "createSubscription", tag = "subscriptions",
    request_body = CreateSubscription,
    responses((status = 201, description = "The subscription registered, at the `Location` given.", body = Subscription),
        (status = 403, description = "Only admins register subscriptions."),
        (status = 404, description = "No tenant with this `tenant_id` that the caller may manage."),
        (status = 409, description = "already registered (only answered for a subscription of the tenant's Entra tenant)"),
        (status = 422, description = "subscription_not_in_tenant: not in the tenant's Entra tenant, or not visible to its credentials"),
        (status = 503, description = "azure_unavailable: Azure is not configured or cannot be reached; try again later")))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateSubscription>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<Subscription>,
    ),
    ApiError,
> {
    caller.require_admin()?;
    let tenant_id = caller.tenant_for(body.tenant_id, "registers a subscription")?;
    let new = NewSubscription {
        tenant_id,
        subscription_id: body.subscription_id,
        display_name: valid_name("display_name", &body.display_name)?,
        billing_scope: valid_scope(body.billing_scope)?,
        is_active: body.is_active.unwrap_or(true),
    };
    let mut tx = state.begin(caller.scope).await?;
    let tenant = tenants::get(&mut tx, tenant_id)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    // No transaction is held across the Azure call.
    tx.commit().await?;
    verify_home_tenant(&state, tenant.azure_tenant_id, new.subscription_id).await?;
    let mut tx = state.begin(caller.scope).await?;
    let subscription = subscriptions::insert(&mut tx, &new).await?;
    let entry = Entry::new(
        Action::Create,
        TARGET,
        subscription.id,
        None,
        Some(&subscription),
    );
    crate::db::audit::record(&mut tx, &caller.audit(entry, tenant_id)).await?;
    tx.commit().await?;
    let location = format!("/api/v1/subscriptions/{}", subscription.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(subscription),
    ))
}

/// Asks ARM, with the tenant's credentials, whether `subscription_id` belongs to Entra tenant
/// `azure_tenant_id`. Done before the uniqueness check, so that `409` is only ever said about
/// a subscription of the caller's own tenant.
async fn verify_home_tenant(
    state: &AppState,
    azure_tenant_id: Uuid,
    subscription_id: Uuid,
) -> Result<(), ApiError> {
    let Some(azure) = &state.azure else {
        return Err(ApiError::AzureUnavailable(
            "Azure is not configured, so the subscription's tenant cannot be verified",
            Some("a subscription cannot be registered: Azure is not configured".into()),
        ));
    };
    let subscription = subscription_id.to_string();
    let ctx = CallContext::new(azure_tenant_id.to_string()).with_subscription(&subscription);
    let expected = azure_tenant_id.to_string();
    match azure_subscriptions::verify_home(azure, &ctx, &subscription, &expected).await {
        Ok(HomeTenant::Matches) => Ok(()),
        Ok(HomeTenant::Elsewhere) => {
            tracing::info!(azure.subscription_id = %subscription, azure.tenant_id = %expected,
                "registration refused: the subscription is not in the tenant's Entra tenant");
            Err(ApiError::SubscriptionNotInTenant)
        }
        Err(e) => Err(ApiError::AzureUnavailable(
            "Azure could not be asked which tenant the subscription belongs to; try again later",
            Some(format!(
                "reading the home tenant of subscription {subscription} (retryable: {}): {e}",
                e.is_retryable()
            )),
        )),
    }
}

/// Lists subscriptions.
///
/// By page number, or by `cursor` (a page's `next_cursor`) at the cost of a first page however
/// deep; `total` is counted only on request
/// (`include_total=true`).
#[utoipa::path(get, path = "/api/v1/subscriptions", operation_id = "listSubscriptions", tag = "subscriptions",
    params(ListSubscriptions),
    responses((status = 200, description = "One page of the subscriptions the caller may see, by display name (then id).", body = Paginated<Subscription>)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(mut params): Query<ListSubscriptions>,
) -> Result<Json<Paginated<Subscription>>, ApiError> {
    let paging = params.paging();
    let (tenant_id, elsewhere) = match caller.tenant() {
        Some(own) => (Some(own), params.tenant_id.is_some_and(|t| t != own)),
        None => (params.tenant_id, false),
    };
    let filter = SubscriptionFilter {
        tenant_id,
        is_active: params.is_active,
    };
    let query = QueryId::of("subscriptions", &filter);
    let page = paging.read(query)?;
    if elsewhere {
        return Ok(Json(Paginated::empty(&page)));
    }
    let mut tx = state.begin(caller.scope).await?;
    let listed = subscriptions::list(&mut tx, filter, &page).await?;
    tx.commit().await?;
    Ok(Json(Paginated::new(
        listed,
        &page,
        query,
        Subscription::key,
    )?))
}

/// Reads one subscription.
#[utoipa::path(get, path = "/api/v1/subscriptions/{id}", operation_id = "getSubscription", tag = "subscriptions",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The subscription.", body = Subscription),
        (status = 404, description = "No subscription with this id that the caller may see.")))]
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<Json<Subscription>, ApiError> {
    let mut tx = state.begin(caller.scope).await?;
    let subscription = subscriptions::get(&mut tx, caller.tenant(), id)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    tx.commit().await?;
    Ok(Json(subscription))
}

/// Changes a subscription (admins).
#[utoipa::path(patch, path = "/api/v1/subscriptions/{id}", operation_id = "updateSubscription", tag = "subscriptions",
    params(("id" = Uuid, Path)), request_body = UpdateSubscription,
    responses((status = 200, description = "The subscription as changed.", body = Subscription),
        (status = 404, description = "No subscription with this id that the caller may see.")))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(body): Json<UpdateSubscription>,
) -> Result<Json<Subscription>, ApiError> {
    caller.require_admin()?;
    let changes = SubscriptionChanges {
        display_name: body
            .display_name
            .as_deref()
            .map(|n| valid_name("display_name", n))
            .transpose()?,
        billing_scope: body.billing_scope.map(valid_scope).transpose()?,
        is_active: body.is_active,
    };
    let mut tx = state.begin(caller.scope).await?;
    let before = subscriptions::lock(&mut tx, caller.tenant(), id)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    let after = subscriptions::update(&mut tx, before.tenant_id, id, &changes)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    if after != before {
        let entry = Entry::new(Action::Update, TARGET, id, Some(&before), Some(&after));
        crate::db::audit::record(&mut tx, &caller.audit(entry, after.tenant_id)).await?;
    }
    tx.commit().await?;
    Ok(Json(after))
}

/// Deletes a subscription and the rows ingested for it (admins).
#[utoipa::path(delete, path = "/api/v1/subscriptions/{id}", operation_id = "deleteSubscription", tag = "subscriptions",
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "The subscription and the rows ingested for it are deleted."),
        (status = 403, description = "Only admins delete subscriptions."),
        (status = 404, description = "No subscription with this id that the caller may see.")))]
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> Result<StatusCode, ApiError> {
    caller.require_admin()?;
    let mut tx = state.begin(caller.scope).await?;
    let existing = subscriptions::lock(&mut tx, caller.tenant(), id)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    let deleted = subscriptions::delete(&mut tx, existing.tenant_id, id)
        .await?
        .ok_or(ApiError::NotFound(TARGET))?;
    let entry = Entry::new(Action::Delete, TARGET, id, Some(&deleted), None);
    crate::db::audit::record(&mut tx, &caller.audit(entry, deleted.tenant_id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
