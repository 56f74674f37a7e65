//! `azcops host` end to end: the real binary plays the Functions host for an app root written
//! by each test (host.json + functions/), with the same binary as its handler, a fresh
//! PostgreSQL database, real Azurite queues and the simulated Azure.

pub(crate) mod harness;
mod shutdown;

use reqwest::StatusCode;
use serde_json::json;
use tokio::process::Command;
use uuid::Uuid;

use azcops::storage::message::MessageEncoding;

use crate::support::scratch::{DEADLINE, ScratchDb, eventually};
use harness::{AppRoot, BIN, Host, azurite, fast_queues, free_port, simulator};

#[tokio::test]
async fn http_requests_are_forwarded_to_the_handler_and_answered_unchanged() {
    let db = ScratchDb::create().await;
    let sim = simulator().await;
    let host = Host::start(&db, &sim, fast_queues("base64")).await;
    let (status, health) = host.call(reqwest::Method::GET, "/api/health", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(health.is_object(), "the handler's JSON body: {health}");
    let tid = Uuid::new_v4();
    let (status, tenant) = host
        .call(
            reqwest::Method::POST,
            "/api/v1/tenants",
            Some(json!({"name": "Contoso", "azure_tenant_id": tid})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    assert_eq!(tenant["name"], "Contoso");
    let (status, _) = host
        .call(reqwest::Method::GET, "/not-under-the-prefix", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_timer_fired_on_demand_fans_out_and_every_subscription_is_ingested() {
    let db = ScratchDb::create().await;
    let sim = simulator().await;
    let host = Host::start(&db, &sim, fast_queues("base64")).await;
    azurite(&host.ingest_queue, MessageEncoding::Base64).await;
    let tenant = &sim.estate.tenants()[0];
    let (status, created) = host
        .call(
            reqwest::Method::POST,
            "/api/v1/tenants",
            Some(json!({"name": tenant.name, "azure_tenant_id": tenant.id})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let mut expected = 0;
    for sub in sim.estate.subscriptions_of(tenant.id) {
        let body = json!({"tenant_id": created["id"], "subscription_id": sub.id, "display_name": sub.display_name});
        let (status, answer) = host
            .call(reqwest::Method::POST, "/api/v1/subscriptions", Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        expected += sim.estate.resources_of(sub.id).len();
    }
    let fired = host.fire("ingest-daily", &json!({"input": ""})).await;
    assert_eq!(fired, StatusCode::ACCEPTED);
    let run = eventually("the run to succeed", || async {
        let (_, runs) = host
            .call(reqwest::Method::GET, "/api/v1/ingestion/runs", None)
            .await;
        let run = runs["items"].get(0)?.clone();
        assert_ne!(run["status"], "failed", "{run}");
        (run["status"] == "succeeded").then_some(run)
    })
    .await;
    assert_eq!(run["items_succeeded"], 2, "{run}");
    let (_, resources) = host
        .call(
            reqwest::Method::GET,
            "/api/v1/resources?page_size=1&include_total=true",
            None,
        )
        .await;
    assert_eq!(resources["total"], json!(expected), "{resources}");
}

#[tokio::test]
async fn a_message_failing_max_dequeue_count_times_lands_in_the_poison_queue_intact() {
    let db = ScratchDb::create().await;
    let sim = simulator().await;
    let host = Host::start(&db, &sim, fast_queues("base64")).await;
    let source = azurite(&host.poison_queue, MessageEncoding::Base64).await;
    let poison = azurite(
        &format!("{}-poison", host.poison_queue),
        MessageEncoding::Base64,
    )
    .await;
    let text = format!("{{\"poison\":\"{}\",\"n\":1}}", Uuid::new_v4());
    source.send(&text, None).await.expect("send");
    let landed = eventually("the message in the poison queue", || async {
        let peeked = poison.peek(32).await.ok()?;
        peeked.first().map(|m| m.text().expect("text"))
    })
    .await;
    assert_eq!(landed, text);
    let left = eventually("the source queue to be empty", || async {
        (source.approximate_count().await.ok()? == 0).then_some(0)
    })
    .await;
    assert_eq!(left, 0);
}

async fn a_rejected_message_is_consumed(encoding: &str, queue_encoding: MessageEncoding) {
    let db = ScratchDb::create().await;
    let sim = simulator().await;
    let host = Host::start(&db, &sim, fast_queues(encoding)).await;
    let queue = azurite(&host.ingest_queue, queue_encoding).await;
    let subscription = Uuid::new_v4();
    let text = json!({"v": 1, "tenant_id": Uuid::new_v4(), "subscription_id": subscription, "mode": "full"}).to_string();
    queue.send(&text, None).await.expect("send");
    let sql = "SELECT count(*) FROM audit_logs WHERE target_type = 'rejected_message' AND metadata::text LIKE '%' || $1 || '%'";
    let subscription = subscription.to_string();
    eventually("the rejection in audit_logs", || async {
        (db.count(sql, &subscription).await > 0).then_some(())
    })
    .await;
    eventually("the message to be deleted", || async {
        (queue.approximate_count().await.ok()? == 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn a_base64_message_is_handled_when_message_encoding_is_base64() {
    a_rejected_message_is_consumed("base64", MessageEncoding::Base64).await;
}

#[tokio::test]
async fn a_queue_function_fired_on_demand_gets_the_input_as_its_message() {
    let db = ScratchDb::create().await;
    let sim = simulator().await;
    let host = Host::start(&db, &sim, fast_queues("base64")).await;
    let subscription = Uuid::new_v4().to_string();
    let input = json!({"v": 1, "tenant_id": Uuid::new_v4(), "subscription_id": subscription, "mode": "full"});
    let fired = host
        .fire("ingest-subscription", &json!({"input": input.to_string()}))
        .await;
    assert_eq!(fired, StatusCode::ACCEPTED);
    let sql = "SELECT count(*) FROM audit_logs WHERE target_type = 'rejected_message' AND metadata::text LIKE '%' || $1 || '%'";
    eventually("the rejection in audit_logs", || async {
        (db.count(sql, &subscription).await > 0).then_some(())
    })
    .await;
    let missing = host.fire("no-such-function", &json!({})).await;
    assert_eq!(missing, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_plain_message_is_handled_when_message_encoding_is_none() {
    a_rejected_message_is_consumed("none", MessageEncoding::None).await;
}

#[tokio::test]
async fn a_killed_handler_is_restarted_and_one_that_exits_with_0_is_not() {
    let db = ScratchDb::create().await;
    let sim = simulator().await;
    let host = Host::start(&db, &sim, fast_queues("base64")).await;
    let first = eventually("the handler's pid", || async {
        host.handler_pids().first().copied()
    })
    .await;
    kill(&["-9", &first.to_string()]);
    let second = eventually("a second handler", || async {
        host.handler_pids().get(1).copied()
    })
    .await;
    assert_ne!(first, second);
    host.wait_healthy().await;
    // SIGTERM: the handler shuts down gracefully and exits with 0, which is not restarted.
    kill(&["-TERM", &second.to_string()]);
    eventually("the API to fail", || async {
        let (status, _) = host.call(reqwest::Method::GET, "/api/health", None).await;
        (status == StatusCode::BAD_GATEWAY).then_some(())
    })
    .await;
    assert_eq!(host.handler_pids().len(), 2, "no third handler");
}

fn kill(args: &[&str]) {
    let status = std::process::Command::new("kill").args(args).status();
    assert!(status.expect("kill").success(), "kill {args:?}");
}

#[tokio::test]
async fn timers_fire_on_their_schedule_and_the_handlers_logs_are_relayed() {
    let db = ScratchDb::create().await;
    let sim = simulator().await;
    let host = Host::start_with(&db, &sim, fast_queues("base64"), "*/2 * * * * *").await;
    let fired = ["function=\"ingest-hourly\"", "outcome=\"succeeded\""];
    eventually("two scheduled invocations", || async {
        (host.count_lines(&fired) >= 2).then_some(())
    })
    .await;
    assert!(host.count_lines(&["function=\"ingest-hourly\"", "run(s) created"]) >= 1);
}

#[tokio::test]
async fn the_host_gives_up_after_three_handler_failures() {
    let root = AppRoot::new(fast_queues("base64"), "unused");
    let run = Command::new(BIN)
        .args(["host", "--handler-executable", "/bin/false", "--app-root"])
        .arg(&root.0)
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .env("HOST_TEST_HOURLY_SCHEDULE", "0 0 * * * *")
        .env_remove("AzureWebJobsStorage")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(DEADLINE, run)
        .await
        .expect("the host to exit")
        .expect("azcops host");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("restart retry count"), "{stderr}");
}

#[tokio::test]
async fn paths_with_dot_segments_or_encoded_separators_never_reach_the_handler() {
    let db = ScratchDb::create().await;
    let sim = simulator().await;
    let host = Host::start(&db, &sim, fast_queues("base64")).await;
    let message = json!({"v": 1, "tenant_id": Uuid::new_v4(), "subscription_id": Uuid::new_v4(), "mode": "full"});
    // The queue function's invocation body: were it forwarded to `/ingest-subscription`, the
    // handler would take it as a queue message and answer 200.
    let body = json!({"Data": {"message": message.to_string()}, "Metadata": {}}).to_string();
    for path in [
        "/api/%2e%2e/ingest-subscription",
        "/api/%2E%2E/ingest-subscription",
        "/api/.%2e/ingest-subscription",
        "/api/../ingest-subscription",
        "/api/./../ingest-subscription",
        "/api/v1/%2e%2e/%2e%2e/ingest-subscription",
        "/api/x%2f..%2f..%2fingest-subscription",
        "/api/x%5c..%5c..%5cingest-subscription",
        "/api/x\\..\\..\\ingest-subscription",
    ] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let status = host.raw_status(&request).await;
        assert!(
            status == 400 || status == 404,
            "{path} answered {status}, not refused"
        );
    }
    let sql = "SELECT count(*) FROM audit_logs WHERE target_type = 'rejected_message'";
    assert_eq!(
        db.count(sql, "").await,
        0,
        "no queue invocation reached the handler"
    );
    let health = "GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_eq!(host.raw_status(health).await, 200);
}

#[tokio::test]
async fn the_admin_api_needs_the_key_and_a_json_body() {
    let db = ScratchDb::create().await;
    let sim = simulator().await;
    let host = Host::start(&db, &sim, fast_queues("base64")).await;
    let url = format!("{}/admin/functions/ingest-daily", host.base);
    let send = |key: Option<&'static str>, content_type: &'static str| {
        let mut request = host
            .client
            .post(&url)
            .header("content-type", content_type)
            .body("{}");
        if let Some(key) = key {
            request = request.header("x-functions-key", key);
        }
        async move { request.send().await.expect("admin API").status() }
    };
    assert_eq!(
        send(None, "application/json").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(Some("not-the-key"), "application/json").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(Some(harness::ADMIN_KEY), "text/plain").await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    assert_eq!(
        send(Some(harness::ADMIN_KEY), "application/json").await,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        host.count_lines(&["ingest-daily", "fired on demand"]),
        1,
        "only the request with the key fired the timer"
    );
}

#[tokio::test]
async fn a_host_without_a_configured_key_generates_one_and_logs_it_once() {
    let root = AppRoot::new(fast_queues("base64"), "unused");
    let port = free_port();
    // The handler (this binary) only has to stay up; the admin API is the host's own.
    let mut child = Command::new(BIN)
        .args(["host", "--app-root"])
        .arg(&root.0)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("HOST_TEST_HOURLY_SCHEDULE", "0 0 * * * *")
        .env("AZCOPS_AUTH_MODE", "disabled")
        .env_remove("AZCOPS_HOST_ADMIN_KEY")
        .env_remove("AzureWebJobsStorage")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("azcops host");
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    harness::collect(child.stdout.take().expect("stdout"), lines.clone());
    harness::collect(child.stderr.take().expect("stderr"), lines.clone());
    let key = eventually("the generated key in the log", || async {
        let lines = lines.lock().expect("lines");
        lines.iter().find_map(|l| {
            let rest = l.split("admin_key=").nth(1)?;
            Some(rest.split_whitespace().next()?.trim_matches('"').to_owned())
        })
    })
    .await;
    assert!(key.len() >= 43, "{key}");
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let answer = client
        .post(format!(
            "http://127.0.0.1:{port}/admin/functions/no-such-function"
        ))
        .header("x-functions-key", &key)
        .json(&json!({}))
        .send()
        .await
        .expect("admin API");
    assert_eq!(
        answer.status(),
        StatusCode::NOT_FOUND,
        "the key is accepted"
    );
    let _ = child.start_kill();
}
