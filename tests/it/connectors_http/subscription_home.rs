//! `GET /subscriptions/{id}` against a stand-in answering as ARM does: the subscription with
//! its `tenantId`, `404 SubscriptionNotFound`, `403 AuthorizationFailed`, or a 503.

use axum::response::Response;
use serde_json::json;

use azcops::azure::subscriptions::{self, HomeTenant};

use super::{Received, client, context, received, reply, serve};

const HOME: &str = "2a0ff0de-96b2-4859-bb7c-a430d07a3e0c";
const MINE: &str = "11111111-1111-1111-1111-111111111111";
const HIDDEN: &str = "22222222-2222-2222-2222-222222222222";
const FORBIDDEN: &str = "33333333-3333-3333-3333-333333333333";
const BROKEN: &str = "44444444-4444-4444-4444-444444444444";

fn arm(request: &Received, _base: &str) -> Response {
    let id = request
        .target
        .split('?')
        .next()
        .and_then(|p| p.strip_prefix("/subscriptions/"))
        .unwrap_or_default();
    match id {
        MINE => reply(
            200,
            &json!({
                "id": format!("/subscriptions/{MINE}"), "authorizationSource": "RoleBased",
                "managedByTenants": [{"tenantId": "8f70baf1-1f6e-46a2-a1ff-238dac1ebfb7"}],
                "subscriptionId": MINE, "tenantId": HOME, "displayName": "Example Subscription",
                "state": "Enabled", "tags": {},
                "subscriptionPolicies": {"locationPlacementId": "Internal_2014-09-01", "quotaId": "Internal_2014-09-01", "spendingLimit": "Off"},
            }),
        ),
        FORBIDDEN => reply(
            403,
            &json!({"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform action 'Microsoft.Resources/subscriptions/read'."}}),
        ),
        BROKEN => reply(
            503,
            &json!({"error": {"code": "ServiceUnavailable", "message": "try later"}}),
        ),
        _ => reply(
            404,
            &json!({"error": {"code": "SubscriptionNotFound", "message": format!("The subscription '{id}' could not be found.")}}),
        ),
    }
}

#[tokio::test]
async fn the_home_tenant_is_read_and_invisible_subscriptions_are_elsewhere() {
    let (azure, log) = serve(arm).await;
    let client = client(&azure);
    let ctx = context();
    let info = subscriptions::get(&client, &ctx, MINE).await.expect("read");
    assert_eq!(info.tenant_id.as_deref(), Some(HOME));
    assert_eq!(info.display_name, "Example Subscription");
    let sent = received(&log);
    assert_eq!(sent[0].method, "GET");
    assert_eq!(
        sent[0].target,
        format!("/subscriptions/{MINE}?api-version=2022-12-01")
    );

    let verify = |sub: &'static str, tenant: &'static str| {
        let (client, ctx) = (client.clone(), ctx.clone());
        async move { subscriptions::verify_home(&client, &ctx, sub, tenant).await }
    };
    assert_eq!(verify(MINE, HOME).await.expect("mine"), HomeTenant::Matches);
    let upper = HOME.to_ascii_uppercase().leak();
    assert_eq!(
        verify(MINE, upper).await.expect("case"),
        HomeTenant::Matches
    );
    let other = "99999999-9999-9999-9999-999999999999";
    assert_eq!(
        verify(MINE, other).await.expect("other"),
        HomeTenant::Elsewhere
    );
    assert_eq!(
        verify(HIDDEN, HOME).await.expect("404"),
        HomeTenant::Elsewhere
    );
    assert_eq!(
        verify(FORBIDDEN, HOME).await.expect("403"),
        HomeTenant::Elsewhere
    );

    let missing = subscriptions::get(&client, &ctx, HIDDEN)
        .await
        .expect_err("404");
    assert!(
        missing.is_not_visible() && !missing.is_retryable(),
        "{missing}"
    );
    assert!(
        missing.to_string().contains("SubscriptionNotFound"),
        "{missing}"
    );
    let down = verify(BROKEN, HOME).await.expect_err("503");
    assert!(down.is_retryable() && !down.is_not_visible(), "{down}");
    let invalid = subscriptions::get(&client, &ctx, "../x")
        .await
        .expect_err("refused");
    assert!(!invalid.is_retryable());
}
