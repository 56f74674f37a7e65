//! Retries, throttling and failures of single requests.

use std::time::Duration;

use azcops::azure::client::Api;
use azcops::azure::error::AzureError;
use chrono::{SubsecRound, Utc};
use serde_json::{Value, json};

use super::fakes::{Raw, context, gap, quick_client, quick_policy, raw_server, reply, serve};

#[tokio::test]
async fn server_errors_are_retried_until_the_request_succeeds() {
    let azure = serve(|r| async move {
        match r.index {
            0 => reply(
                500,
                &[],
                json!({"error": {"code": "InternalServerError", "message": "boom"}}),
            ),
            1 => reply(503, &[], json!({})),
            _ => reply(200, &[], json!({"ok": true})),
        }
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let ctx = context();
    let url = client
        .arm_url(
            "/subscriptions/s/providers/Microsoft.Advisor/recommendations",
            &[("api-version", "2023-01-01")],
        )
        .expect("url");

    let answer: Value = client
        .get(&ctx, Api::Advisor, url)
        .await
        .expect("third attempt succeeds");

    assert_eq!(answer, json!({"ok": true}));
    assert_eq!(azure.count(), 3);
    let stats = ctx.stats.api(Api::Advisor);
    assert_eq!(
        (stats.calls, stats.retries, stats.failures, stats.throttled),
        (3, 2, 2, 0)
    );
    assert!(
        azure
            .received()
            .iter()
            .all(|r| r.path_and_query.ends_with("?api-version=2023-01-01"))
    );
}

#[tokio::test]
async fn a_429_waits_for_the_retry_after_seconds() {
    let azure = serve(|r| async move {
        if r.index == 0 {
            reply(
                429,
                &[("retry-after", "1".into())],
                json!({"error": {"code": "TooManyRequests", "message": "slow down"}}),
            )
        } else {
            reply(200, &[], json!({}))
        }
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let ctx = context();

    let _: Value = client
        .get(&ctx, Api::Advisor, client.arm_url("/x", &[]).expect("url"))
        .await
        .expect("retried");

    let received = azure.received();
    assert!(gap(&received[0], &received[1]) >= Duration::from_secs(1));
    let stats = ctx.stats.api(Api::Advisor);
    assert_eq!(stats.throttled, 1);
    assert!(stats.throttle_wait_ms >= 1000, "{stats:?}");
}

#[tokio::test]
async fn a_429_with_an_http_date_waits_until_that_date() {
    let until = Utc::now().trunc_subsecs(0) + chrono::Duration::seconds(2);
    let date = until.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let azure = serve(move |r| {
        let date = date.clone();
        async move {
            if r.index == 0 {
                reply(429, &[("retry-after", date)], json!({}))
            } else {
                reply(200, &[], json!({}))
            }
        }
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;

    let _: Value = client
        .get(
            &context(),
            Api::Advisor,
            client.arm_url("/x", &[]).expect("url"),
        )
        .await
        .expect("retried");

    let second = chrono::DateTime::<Utc>::from(azure.received()[1].at);
    assert!(second >= until, "retried at {second}, before {until}");
}

#[tokio::test]
async fn cost_management_waits_for_the_largest_of_its_retry_headers() {
    let azure = serve(|r| async move {
        if r.index == 0 {
            let headers = [
                ("retry-after", "0".to_owned()),
                (
                    "x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after",
                    "1".to_owned(),
                ),
                (
                    "x-ms-ratelimit-microsoft.costmanagement-tenant-retry-after",
                    "2".to_owned(),
                ),
                (
                    "x-ms-ratelimit-microsoft.consumption-retry-after",
                    "1".to_owned(),
                ),
            ];
            reply(
                429,
                &headers,
                json!({"error": {"code": "429", "message": "Too many requests. Please retry."}}),
            )
        } else {
            reply(200, &[], json!({"properties": {"rows": []}}))
        }
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let url = client
        .arm_url(
            "/subscriptions/s/providers/Microsoft.CostManagement/query",
            &[],
        )
        .expect("url");

    let _: Value = client
        .post_cost_query(&context(), url, &json!({"type": "ActualCost"}), 1)
        .await
        .expect("retried");

    let received = azure.received();
    assert_eq!(received.len(), 2);
    assert!(gap(&received[0], &received[1]) >= Duration::from_secs(2));
}

#[tokio::test]
async fn a_throttled_request_that_runs_out_of_attempts_reports_the_cost_management_code() {
    let azure = serve(|_| async {
        reply(
            429,
            &[("retry-after", "0".into())],
            json!({"error": {"code": "429", "message": "Too many requests. Please retry."}}),
        )
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let url = client.arm_url("/q", &[]).expect("url");

    let err = client
        .post_cost_query::<_, Value>(&context(), url, &json!({}), 1)
        .await
        .unwrap_err();

    assert!(
        matches!(&err, AzureError::Throttled { code, .. } if code == "429"),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(azure.count(), quick_policy().max_attempts as usize);
}

#[tokio::test]
async fn resource_graph_waits_for_the_quota_reset_once_the_quota_is_used_up() {
    let azure = serve(|r| async move {
        let remaining = if r.index == 0 { "0" } else { "14" };
        let headers = [
            ("x-ms-user-quota-remaining", remaining.to_owned()),
            ("x-ms-user-quota-resets-after", "00:00:01".to_owned()),
        ];
        reply(200, &headers, json!({"data": [], "count": 0}))
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let ctx = context();
    let url = client
        .arm_url(
            "/providers/Microsoft.ResourceGraph/resources",
            &[("api-version", "2022-10-01")],
        )
        .expect("url");

    for _ in 0..2 {
        let _: Value = client
            .post(
                &ctx,
                Api::ResourceGraph,
                url.clone(),
                &json!({"query": "Resources"}),
            )
            .await
            .expect("query");
    }

    let received = azure.received();
    assert!(gap(&received[0], &received[1]) >= Duration::from_secs(1));
    assert!(ctx.stats.api(Api::ResourceGraph).throttle_wait_ms > 0);
}

#[tokio::test]
async fn a_request_that_times_out_is_retried_and_then_fails_with_a_timeout() {
    let azure = serve(|_| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        reply(200, &[], json!({}))
    })
    .await;
    let tokens = super::fakes::TokenServer::start().await;
    let mut policy = quick_policy();
    policy.request_timeout = Duration::from_millis(200);
    policy.max_attempts = 3;
    let budget = std::sync::Arc::new(azcops::azure::qpu_budget::MemoryQpuBudget::default());
    let client = super::fakes::client(&azure.url, &tokens, policy, budget);

    let err = client
        .get::<Value>(
            &context(),
            Api::Advisor,
            client.arm_url("/slow", &[]).expect("url"),
        )
        .await
        .unwrap_err();

    assert!(matches!(err, AzureError::Timeout { .. }), "{err}");
    assert!(err.is_retryable());
    assert_eq!(azure.count(), 3);
}

#[tokio::test]
async fn a_closed_connection_is_retried() {
    let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"ok\":true}";
    let (url, connections) = raw_server(vec![Raw::Close, Raw::Send(ok)]).await;
    let (client, _tokens) = quick_client(&url).await;

    let answer: Value = client
        .get(
            &context(),
            Api::Advisor,
            client.arm_url("/x", &[]).expect("url"),
        )
        .await
        .expect("retried");

    assert_eq!(answer, json!({"ok": true}));
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_cut_off_body_is_retried() {
    let cut = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n\r\n{\"value\":[1,2";
    let ok = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\nconnection: close\r\n\r\n{\"value\":[1,2]}";
    let (url, connections) = raw_server(vec![Raw::Send(cut), Raw::Send(ok)]).await;
    let (client, _tokens) = quick_client(&url).await;

    let answer: Value = client
        .get(
            &context(),
            Api::Advisor,
            client.arm_url("/x", &[]).expect("url"),
        )
        .await
        .expect("retried");

    assert_eq!(answer, json!({"value": [1, 2]}));
    assert_eq!(connections.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn truncated_json_is_retried_but_json_of_the_wrong_shape_fails_at_once() {
    let azure = serve(|r| async move {
        match r.index {
            0 => axum::response::IntoResponse::into_response(r#"{"value":[1,"#),
            _ => reply(200, &[], json!({"value": "not a list"})),
        }
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;

    #[derive(Debug, serde::Deserialize)]
    struct Page {
        #[allow(dead_code)]
        value: Vec<u32>,
    }
    let err = client
        .get::<Page>(
            &context(),
            Api::Advisor,
            client.arm_url("/x", &[]).expect("url"),
        )
        .await
        .unwrap_err();

    assert!(matches!(err, AzureError::Decode { .. }), "{err}");
    assert!(!err.is_retryable());
    assert!(
        err.to_string().contains("Page") && !err.to_string().contains("not a list"),
        "{err}"
    );
    assert_eq!(azure.count(), 2);
}

#[tokio::test]
async fn a_403_fails_at_once_with_the_arm_code_and_message() {
    let azure = serve(|_| async {
        let body = json!({"error": {"code": "AuthorizationFailed", "message": "The client does not have authorization to perform action."}});
        reply(403, &[], body)
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;

    let err = client
        .get::<Value>(
            &context(),
            Api::Advisor,
            client.arm_url("/x", &[]).expect("url"),
        )
        .await
        .unwrap_err();

    match &err {
        AzureError::Http {
            status,
            code,
            message,
            request_id,
        } => {
            assert_eq!((*status, code.as_str()), (403, "AuthorizationFailed"));
            assert!(message.contains("does not have authorization"));
            assert_eq!(request_id.as_deref(), Some("req-0001"));
        }
        other => panic!("unexpected {other}"),
    }
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(403));
    assert_eq!(azure.count(), 1);
}

#[tokio::test]
async fn monitor_529_is_throttling_and_retried() {
    let azure = serve(|r| async move {
        if r.index == 0 {
            reply(
                529,
                &[],
                json!({"error": {"code": "TooManyRequests", "message": "busy"}}),
            )
        } else {
            reply(200, &[], json!({"values": []}))
        }
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let ctx = context();
    let url = client
        .monitor_url(
            "westeurope",
            "/subscriptions/s/metrics:getBatch",
            &[("api-version", "2024-02-01")],
        )
        .expect("url");

    let answer: Value = client
        .post(
            &ctx,
            Api::MonitorBatch,
            url,
            &json!({"resourceids": ["/x"]}),
        )
        .await
        .expect("retried");

    assert_eq!(answer, json!({"values": []}));
    assert_eq!(azure.count(), 2);
    assert_eq!(ctx.stats.api(Api::MonitorBatch).throttled, 1);
}

#[tokio::test]
async fn tokens_are_only_sent_to_the_configured_endpoints() {
    let azure = serve(|_| async {
        reply(
            200,
            &[],
            json!({"value": [], "nextLink": "https://evil.example/steal"}),
        )
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let ctx = context();
    let elsewhere = url::Url::parse("https://evil.example/x").expect("url");

    let err = client
        .get::<Value>(&ctx, Api::Advisor, elsewhere)
        .await
        .unwrap_err();
    assert!(matches!(err, AzureError::InvalidUrl(_)), "{err}");

    use futures::TryStreamExt;
    let pages: Result<Vec<Vec<Value>>, _> = client
        .get_pages(&ctx, Api::Advisor, client.arm_url("/x", &[]).expect("url"))
        .try_collect()
        .await;
    assert!(matches!(pages, Err(AzureError::InvalidUrl(_))));
    assert_eq!(azure.count(), 1);
}
