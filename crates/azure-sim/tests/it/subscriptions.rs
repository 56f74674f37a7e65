//! `GET /subscriptions/{id}` and `POST /_sim/subscriptions/{id}/move`: who sees a
//! subscription, its home tenant, and a move reported everywhere.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{ARM, METRICS, Sim, queries, reply, small};

fn subscription_path(subscription: Uuid) -> String {
    format!("subscriptions/{subscription}?api-version=2022-12-01")
}

#[tokio::test]
async fn a_subscription_is_seen_by_its_home_tenant_and_the_operator_only() {
    let s = Sim::start(small()).await;
    let sub = s.subscription(0, 1);
    let home = s.token(s.tenant(0), ARM).await;
    let mine = s.get(s.url(&subscription_path(sub)), &home).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    assert_eq!(mine.body["id"], format!("/subscriptions/{sub}"));
    assert_eq!(mine.body["subscriptionId"], sub.to_string());
    assert_eq!(mine.body["tenantId"], s.tenant(0).to_string());
    assert_eq!(mine.body["state"], "Enabled");
    let operator = s.handle.estate.operator_tenant_id();
    assert_eq!(
        mine.body["managedByTenants"],
        json!([{"tenantId": operator}])
    );
    assert!(
        mine.body["displayName"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );

    let other = s.token(s.tenant(1), ARM).await;
    let theirs = s.get(s.url(&subscription_path(sub)), &other).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!(theirs.body["error"]["code"], "SubscriptionNotFound");
    let unknown = s
        .get(s.url(&subscription_path(Uuid::new_v4())), &home)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        json!({"error": {"code": theirs.body["error"]["code"]}}),
        json!({"error": {"code": unknown.body["error"]["code"]}}),
        "another tenant's and a missing subscription look alike"
    );

    let lighthouse = s.token(operator, ARM).await;
    for tenant in [0, 1] {
        let sub = s.subscription(tenant, 0);
        let seen = s
            .get(
                s.url(&format!("SUBSCRIPTIONS/{sub}?api-version=2022-12-01")),
                &lighthouse,
            )
            .await;
        assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
        assert_eq!(seen.body["tenantId"], s.tenant(tenant).to_string());
    }

    let unversioned = s.get(s.url(&format!("subscriptions/{sub}")), &home).await;
    assert_eq!(unversioned.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        unversioned.body["error"]["code"],
        "MissingApiVersionParameter"
    );
    let metrics = s.token(s.tenant(0), METRICS).await;
    let wrong_audience = s.get(s.url(&subscription_path(sub)), &metrics).await;
    assert_eq!(wrong_audience.status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.handle.stats().requests.subscriptions, 7);
}

#[tokio::test]
async fn a_moved_subscription_reports_its_new_home_everywhere() {
    let s = Sim::start(small()).await;
    let sub = s.subscription(0, 0);
    let (from, to) = (s.tenant(0), s.tenant(1));
    let moved = reply(
        s.http
            .post(s.url(&format!("_sim/subscriptions/{sub}/move")))
            .json(&json!({"tenant_id": to}))
            .send()
            .await
            .expect("move"),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);

    let new_home = s.token(to, ARM).await;
    let seen = s.get(s.url(&subscription_path(sub)), &new_home).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
    assert_eq!(seen.body["tenantId"], to.to_string());
    let old_home = s.token(from, ARM).await;
    let gone = s.get(s.url(&subscription_path(sub)), &old_home).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);

    let operator = s.token(s.handle.estate.operator_tenant_id(), ARM).await;
    let (rows, _) = s
        .graph_all(&operator, queries::ALL_RESOURCES, &[sub], 1000)
        .await;
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r["tenantId"] == to.to_string()),
        "every row carries the new home"
    );
    let refused = s
        .graph(
            &old_home,
            json!({"query": queries::ALL_RESOURCES, "subscriptions": [sub]}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);

    let estate: Value = s
        .http
        .get(s.url("_sim/estate"))
        .send()
        .await
        .expect("estate")
        .json()
        .await
        .expect("JSON");
    let listed = |tenant: usize| -> Vec<String> {
        estate["tenants"][tenant]["subscriptions"]
            .as_array()
            .expect("subscriptions")
            .iter()
            .map(|s| s["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(!listed(0).contains(&sub.to_string()));
    assert!(listed(1).contains(&sub.to_string()));
}

#[tokio::test]
async fn a_move_needs_a_known_subscription_and_a_tenant_id() {
    let s = Sim::start(small()).await;
    let post = |path: String, body: Value| {
        let request = s.http.post(s.url(&path)).json(&body);
        async move { reply(request.send().await.expect("move")).await }
    };
    let unknown = post(
        format!("_sim/subscriptions/{}/move", Uuid::new_v4()),
        json!({"tenant_id": s.tenant(1)}),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let sub = s.subscription(0, 0);
    let bad = post(
        format!("_sim/subscriptions/{sub}/move"),
        json!({"tenant": "x"}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(
        s.handle
            .move_subscription(Uuid::new_v4(), s.tenant(1))
            .is_err()
    );
    assert_eq!(s.handle.estate.home_tenant(sub), Some(s.tenant(0)));
}
