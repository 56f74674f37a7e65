//! Injected faults and the request counters.

use azure_sim::{self as sim, FaultConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{ARM, RG_PATH, Sim, cost_body, queries, small};

#[tokio::test]
async fn injected_faults_fail_calls_as_configured() {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(0), ARM).await;
    let body = json!({"query": queries::ALL_VMS});
    let set = |faults: Value| s.http.post(s.url("_sim/faults")).json(&faults).send();
    assert_eq!(
        set(json!({"rate_5xx": 1.0})).await.expect("sent").status(),
        StatusCode::OK
    );
    let current: FaultConfig = s
        .http
        .get(s.url("_sim/faults"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(current.rate_5xx, 1.0);
    for _ in 0..8 {
        let r = s.graph(&token, body.clone()).await;
        assert!(
            r.status.is_server_error() && r.body["error"]["code"].is_string(),
            "{}",
            r.status
        );
    }
    assert_eq!(s.handle.stats().faults.server_error, 8);
    assert_eq!(
        s.token_reply(&s.tenant(0).to_string(), ARM).await.status,
        StatusCode::OK,
        "the token endpoint has no faults"
    );

    set(json!({"rate_reset": 1.0})).await.expect("sent");
    for _ in 0..3 {
        let sent = s
            .http
            .post(s.url(RG_PATH))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        assert!(
            sent.is_err(),
            "a reset connection is an error, got {:?}",
            sent.map(|r| r.status())
        );
    }
    set(json!({"rate_truncate": 1.0, "seed": 3}))
        .await
        .expect("sent");
    for _ in 0..4 {
        let sent = s
            .http
            .post(s.url(RG_PATH))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        let parsed = match sent {
            Ok(response) => response.json::<Value>().await.is_ok(),
            Err(_) => false,
        };
        assert!(!parsed, "a truncated body must not parse");
    }
    set(json!({})).await.expect("sent");
    assert_eq!(s.graph(&token, body).await.status, StatusCode::OK);
    let faults = s.handle.stats().faults;
    assert_eq!((faults.reset, faults.truncate), (3, 4));
}

#[tokio::test]
async fn stats_count_what_was_called_per_api_and_subscription_until_reset() {
    let s = Sim::start(small()).await;
    let tenant = s.tenant(0);
    let sub = s.subscription(0, 0);
    let token = s.token(tenant, ARM).await;
    s.graph(
        &token,
        json!({"query": queries::ALL_VMS, "subscriptions": [sub]}),
    )
    .await;
    let (from, to) = s.handle.estate.cost_data_range();
    s.post(
        s.cost_url(sub),
        &token,
        &cost_body("ActualCost", from, to, &[]),
    )
    .await;
    s.post(
        s.cost_url(sub),
        &token,
        &cost_body("AmortizedCost", from, to, &[]),
    )
    .await;
    s.get(
        s.url(&format!(
            "subscriptions/{sub}/providers/Microsoft.Advisor/recommendations?api-version=2023-01-01"
        )),
        &token,
    )
    .await;
    let stats: sim::StatsSnapshot = s
        .http
        .get(s.url("_sim/stats"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            stats.requests.token,
            stats.requests.resource_graph,
            stats.requests.cost_management
        ),
        (1, 1, 2)
    );
    assert_eq!(
        (stats.requests.advisor, stats.requests.monitor_batch),
        (1, 0)
    );
    assert_eq!(
        stats.per_subscription[&sub.to_string()]["cost_management"],
        2
    );
    assert_eq!(stats.tokens[&tenant.to_string()][ARM], 1);
    assert_eq!(stats.responses["cost_management"][&200u16], 2);
    assert_eq!(
        s.http
            .post(s.url("_sim/reset"))
            .send()
            .await
            .expect("sent")
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.handle.stats().requests.total(), 0);
}
