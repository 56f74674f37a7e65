//! Azure Resource Manager subscriptions: which Entra tenant a subscription belongs to.
//!
//! `GET {arm}/subscriptions/{id}?api-version=2022-12-01` answers the subscription with its
//! home tenant (`tenantId`), its tags (what its resources inherit) and, for a Lighthouse
//! delegation, the tenants managing it (`managedByTenants`). A subscription the caller's credentials cannot see answers
//! `404 SubscriptionNotFound` (or `403 AuthorizationFailed`), exactly as one that does not
//! exist.
//!
//! [`verify_home`] is the check registration and every ingestion item make: tokens of the
//! managed identity are not bound to a tenant (one identity sees every delegated
//! subscription), so only the subscription's own `tenantId` says whose it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::client::{Api, AzureClient, CallContext};
use super::error::AzureError;
use super::resource_graph::coerce_tags;

/// The api-version used.
pub const API_VERSION: &str = "2022-12-01";

/// A subscription as ARM describes it (the fields AzCops reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionInfo {
    /// `/subscriptions/{id}`.
    #[serde(default)]
    pub id: String,
    pub subscription_id: String,
    /// The home Entra tenant (absent in api-versions before 2016; always sent by this one).
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub display_name: String,
    /// `Enabled`, `Disabled`, `Warned`, `PastDue`, `Deleted`.
    #[serde(default)]
    pub state: String,
    /// Tenants managing the subscription through Azure Lighthouse.
    #[serde(default)]
    pub managed_by_tenants: Vec<ManagedByTenant>,
    /// The subscription's own tags (absent or null: none).
    #[serde(default, deserialize_with = "tags")]
    pub tags: BTreeMap<String, String>,
}

/// Tags as a string map, whatever shape ARM sends ([`coerce_tags`]).
fn tags<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(coerce_tags(Some(&value)))
}

/// One entry of `managedByTenants`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManagedByTenant {
    pub tenant_id: String,
}

/// Why the subscription could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    /// The request failed (HTTP, throttling, token, an unreadable answer, …).
    #[error("ARM subscription: {0}")]
    Azure(#[from] AzureError),
    /// The subscription id cannot be put in a URL path.
    #[error("invalid subscription id `{0}`")]
    InvalidSubscription(String),
}

impl SubscriptionError {
    /// True when asking again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Azure(e) => e.is_retryable(),
            Self::InvalidSubscription(_) => false,
        }
    }

    /// True when ARM says the credentials cannot see the subscription (404 or 403): it does
    /// not exist, or it is not delegated to or owned by the caller's tenant.
    pub fn is_not_visible(&self) -> bool {
        matches!(self, Self::Azure(e) if matches!(e.status(), Some(404 | 403)))
    }
}

/// Whether a subscription belongs to an Entra tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeTenant {
    /// Its `tenantId` is the expected tenant.
    Matches,
    /// Its `tenantId` is another tenant, it has none, or the credentials cannot see it; the
    /// cases are deliberately one, so nothing is learnt about other tenants' subscriptions.
    Elsewhere,
}

/// The URL of one subscription.
pub fn subscription_url(
    client: &AzureClient,
    subscription_id: &str,
) -> Result<url::Url, SubscriptionError> {
    let valid = !subscription_id.is_empty()
        && subscription_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid {
        return Err(SubscriptionError::InvalidSubscription(
            subscription_id.to_owned(),
        ));
    }
    let path = format!("/subscriptions/{subscription_id}");
    Ok(client.arm_url(&path, &[("api-version", API_VERSION)])?)
}

/// Reads one subscription. Failures are not logged here: the caller reports them.
pub async fn get(
    client: &AzureClient,
    ctx: &CallContext,
    subscription_id: &str,
) -> Result<SubscriptionInfo, SubscriptionError> {
    let url = subscription_url(client, subscription_id)?;
    Ok(client.get(ctx, Api::Subscriptions, url).await?)
}

/// Whether `subscription_id` has `expected_tenant` as its home tenant, as seen with the
/// credentials of `ctx` (a subscription they cannot see is [`HomeTenant::Elsewhere`]). Errors
/// are the failures that say nothing either way (throttling, 5xx, no token, …).
pub async fn verify_home(
    client: &AzureClient,
    ctx: &CallContext,
    subscription_id: &str,
    expected_tenant: &str,
) -> Result<HomeTenant, SubscriptionError> {
    let home = get_at_home(client, ctx, subscription_id, expected_tenant).await?;
    Ok(match home {
        Some(_) => HomeTenant::Matches,
        None => HomeTenant::Elsewhere,
    })
}

/// The subscription as ARM describes it when its home is `expected_tenant`; `None` when it
/// is [`HomeTenant::Elsewhere`]. The same one request as [`verify_home`], for callers that
/// also read what it says (an ingestion item keeps the subscription's tags).
pub async fn get_at_home(
    client: &AzureClient,
    ctx: &CallContext,
    subscription_id: &str,
    expected_tenant: &str,
) -> Result<Option<SubscriptionInfo>, SubscriptionError> {
    match get(client, ctx, subscription_id).await {
        Ok(info) => {
            Ok((home_tenant(&info, expected_tenant) == HomeTenant::Matches).then_some(info))
        }
        Err(e) if e.is_not_visible() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Compares the subscription's `tenantId` with `expected_tenant` (GUIDs, case-insensitively).
pub fn home_tenant(info: &SubscriptionInfo, expected_tenant: &str) -> HomeTenant {
    match &info.tenant_id {
        Some(tenant) if tenant.trim().eq_ignore_ascii_case(expected_tenant.trim()) => {
            HomeTenant::Matches
        }
        _ => HomeTenant::Elsewhere,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(tenant: Option<&str>) -> SubscriptionInfo {
        SubscriptionInfo {
            id: "/subscriptions/s".into(),
            subscription_id: "s".into(),
            tenant_id: tenant.map(str::to_owned),
            display_name: "x".into(),
            state: "Enabled".into(),
            managed_by_tenants: Vec::new(),
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn only_the_same_tenant_id_matches() {
        let a = "0A2C0000-0000-4000-8000-000000000001";
        assert_eq!(
            home_tenant(&info(Some(a)), &a.to_ascii_lowercase()),
            HomeTenant::Matches
        );
        let b = "0a2c0000-0000-4000-8000-000000000002";
        assert_eq!(home_tenant(&info(Some(b)), a), HomeTenant::Elsewhere);
        assert_eq!(home_tenant(&info(None), a), HomeTenant::Elsewhere);
    }

    #[test]
    fn the_real_answer_is_understood() {
        let body = r#"{"id":"/subscriptions/291bba3f-e0a5-47bc-a099-3bdcb2a50a05",
            "authorizationSource":"RoleBased","managedByTenants":[{"tenantId":"8f70baf1-1f6e-46a2-a1ff-238dac1ebfb7"}],
            "subscriptionId":"291bba3f-e0a5-47bc-a099-3bdcb2a50a05","tenantId":"2a0ff0de-96b2-4859-bb7c-a430d07a3e0c",
            "displayName":"Example Subscription","state":"Enabled",
            "subscriptionPolicies":{"locationPlacementId":"Internal_2014-09-01","quotaId":"Internal_2014-09-01","spendingLimit":"Off"},
            "tags":{"tagKey1":"tagValue1"}}"#;
        let info: SubscriptionInfo = serde_json::from_str(body).expect("decodes");
        assert_eq!(
            info.tenant_id.as_deref(),
            Some("2a0ff0de-96b2-4859-bb7c-a430d07a3e0c")
        );
        assert_eq!(info.managed_by_tenants.len(), 1);
        assert_eq!(info.state, "Enabled");
        assert_eq!(info.tags["tagKey1"], "tagValue1");
        let untagged: SubscriptionInfo =
            serde_json::from_str(r#"{"subscriptionId":"s","tags":null}"#).expect("decodes");
        assert!(untagged.tags.is_empty());
        let older: SubscriptionInfo =
            serde_json::from_str(r#"{"subscriptionId":"s"}"#).expect("decodes");
        assert!(older.tags.is_empty());
    }

    #[test]
    fn not_found_and_forbidden_mean_not_visible_and_are_final() {
        let http = |status: u16, code: &str| {
            SubscriptionError::Azure(AzureError::Http {
                status,
                code: code.into(),
                message: "m".into(),
                request_id: None,
            })
        };
        assert!(http(404, "SubscriptionNotFound").is_not_visible());
        assert!(http(403, "AuthorizationFailed").is_not_visible());
        assert!(!http(404, "SubscriptionNotFound").is_retryable());
        assert!(!http(503, "ServiceUnavailable").is_not_visible());
        assert!(http(503, "ServiceUnavailable").is_retryable());
    }
}
