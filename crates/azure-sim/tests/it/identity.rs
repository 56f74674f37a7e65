//! Determinism, tokens and who may read what.

use std::time::Duration;

use azure_sim::{EstateConfig, SimConfig};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::support::{ARM, METRICS, RG_PATH, Sim, cost_body, queries, reply, small};

#[tokio::test]
async fn the_same_seed_gives_the_same_estate_and_byte_identical_responses() {
    let (a, b) = (Sim::start(small()).await, Sim::start(small()).await);
    let ids = |s: &Sim| {
        s.handle
            .estate
            .resources()
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), ids(&b));
    assert_eq!(a.tenant(1), b.tenant(1));
    let sub = a.subscription(0, 1);
    let (ta, tb) = (
        a.token(a.tenant(0), ARM).await,
        b.token(b.tenant(0), ARM).await,
    );
    let (from, to) = a.handle.estate.cost_data_range();
    let cost = cost_body(
        "AmortizedCost",
        from,
        to,
        &["ResourceGroupName", "ServiceName"],
    );
    let advisor = format!(
        "subscriptions/{sub}/providers/Microsoft.Advisor/recommendations?api-version=2023-01-01"
    );
    let graph = json!({"query": queries::ALL_RESOURCES, "subscriptions": [sub]});
    assert_eq!(
        a.graph(&ta, graph.clone()).await.text,
        b.graph(&tb, graph).await.text
    );
    assert_eq!(
        a.post(a.cost_url(sub), &ta, &cost).await.text,
        b.post(b.cost_url(sub), &tb, &cost).await.text
    );
    assert_eq!(
        a.get(a.url(&advisor), &ta).await.text,
        b.get(b.url(&advisor), &tb).await.text
    );
    let other = Sim::start(SimConfig {
        estate: EstateConfig {
            seed: 8,
            ..small().estate
        },
        ..small()
    })
    .await;
    assert_ne!(other.tenant(0), a.tenant(0));
}

#[tokio::test]
async fn a_token_is_issued_and_calls_without_it_or_with_an_expired_one_get_401() {
    let s = Sim::start(SimConfig {
        token_lifetime: Duration::from_secs(1),
        ..small()
    })
    .await;
    let issued = s.token_reply(&s.tenant(0).to_string(), ARM).await;
    assert_eq!(issued.status, StatusCode::OK);
    assert_eq!(issued.body["token_type"], "Bearer");
    assert_eq!(issued.body["expires_in"], json!(1));
    assert!(issued.body["ext_expires_in"].is_number());
    let token = issued.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let body = json!({"query": queries::ALL_VMS});
    let missing = reply(
        s.http
            .post(s.url(RG_PATH))
            .json(&body)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(
        (missing.status, missing.body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("AuthenticationFailed"))
    );
    let forged = s.graph("not-a-token", body.clone()).await;
    assert_eq!(
        (forged.status, forged.body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("InvalidAuthenticationToken"))
    );
    let metrics_token = s.token(s.tenant(0), METRICS).await;
    assert_eq!(
        s.graph(&metrics_token, body.clone()).await.body["error"]["code"],
        "InvalidAuthenticationToken"
    );
    assert_eq!(s.graph(&token, body.clone()).await.status, StatusCode::OK);
    let own_scope = format!(
        "{}/.default",
        s.handle.base_url.as_str().trim_end_matches('/')
    );
    let own = s.token(s.tenant(0), &own_scope).await;
    assert_eq!(
        s.graph(&own, body.clone()).await.status,
        StatusCode::OK,
        "the simulator's URL is an ARM resource"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = s.graph(&token, body).await;
    assert_eq!(
        (expired.status, expired.body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("ExpiredAuthenticationToken"))
    );
    let unknown = s.token_reply(&Uuid::new_v4().to_string(), ARM).await;
    assert_eq!(
        (unknown.status, unknown.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert_eq!(unknown.body["error_codes"], json!([90002]));
}

#[tokio::test]
async fn a_token_of_one_tenant_is_forbidden_on_another_tenants_subscription_but_the_managed_identity_sees_all()
 {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(0), ARM).await;
    let foreign = s.subscription(1, 0);
    let (from, to) = s.handle.estate.cost_data_range();
    let denied = s
        .post(
            s.cost_url(foreign),
            &token,
            &cost_body("ActualCost", from, to, &[]),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["error"]["code"], "AuthorizationFailed");
    let message = denied.body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("does not have authorization to perform action")
            && message.contains(&format!("/subscriptions/{foreign}")),
        "{message}"
    );
    let graph = s
        .graph(
            &token,
            json!({"query": queries::ALL_VMS, "subscriptions": [s.subscription(0, 0), foreign]}),
        )
        .await;
    assert_eq!(graph.status, StatusCode::FORBIDDEN);

    let mut msi = s.url("msi/token");
    msi.query_pairs_mut()
        .append_pair("resource", "https://management.azure.com/")
        .append_pair("api-version", "2019-08-01");
    let refused = reply(s.http.get(msi.clone()).send().await.expect("sent")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let issued = reply(
        s.http
            .get(msi)
            .header("X-IDENTITY-HEADER", "azure-sim-identity-header")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(issued.status, StatusCode::OK);
    assert!(
        issued.body["expires_on"]
            .as_str()
            .expect("string")
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(
        issued.body["client_id"],
        s.handle.estate.msi_client_id().to_string()
    );
    let msi_token = issued.body["access_token"].as_str().expect("token");
    assert_eq!(
        s.post(
            s.cost_url(foreign),
            msi_token,
            &cost_body("ActualCost", from, to, &[])
        )
        .await
        .status,
        StatusCode::OK
    );
}
