//! `azcops host` end to end: the real binary plays the Functions host for an app root written
//! by each test (host.json + functions/), with the same binary as its handler, a fresh
//! PostgreSQL database, real Azurite queues and the simulated Azure.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use url::Url;
use uuid::Uuid;

use azcops::sim::estate::EstateConfig;
use azcops::sim::{SimConfig, SimHandle};
use azcops::storage::connection::StorageConnection;
use azcops::storage::message::MessageEncoding;
use azcops::storage::queue::QueueClient;

const BIN: &str = env!("CARGO_BIN_EXE_azcops");
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DEADLINE: Duration = Duration::from_secs(90);
const POLL: Duration = Duration::from_millis(100);

/// Polls `check` until it yields a value or [`DEADLINE`] passes (then panics with `what`).
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(POLL).await;
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", &Uuid::new_v4().simple().to_string()[..12])
}

/// A scratch database, migrated, dropped (with its connections) when the guard goes.
struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    async fn create() -> Self {
        let admin_url =
            std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned());
        let name = format!("azcops_host_{}", Uuid::new_v4().simple());
        let mut url = Url::parse(&admin_url).expect("DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("PostgreSQL at DATABASE_URL");
        sqlx::query(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .execute(&mut admin)
            .await
            .expect("create database");
        let _ = admin.close().await;
        let db = Self {
            admin_url,
            name,
            url: url.into(),
        };
        let migrated = Command::new(BIN)
            .arg("migrate")
            .env("DATABASE_URL", &db.url)
            .env("AZCOPS_AUTH_MODE", "disabled")
            .output()
            .await
            .expect("azcops migrate");
        assert!(migrated.status.success(), "migrate: {migrated:?}");
        db
    }

    async fn count(&self, sql: &'static str, text: &str) -> i64 {
        let mut conn = sqlx::PgConnection::connect(&self.url).await.expect("db");
        let n = sqlx::query_scalar(sql)
            .bind(text)
            .fetch_one(&mut conn)
            .await
            .expect("count");
        let _ = conn.close().await;
        n
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let statement = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut admin)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(())
            })
        })
        .join();
    }
}

/// The app root a test writes: host.json with `queues`, and the functions.
struct AppRoot(PathBuf);

impl AppRoot {
    fn new(queues: Value, poison_queue: &str) -> Self {
        let dir = std::env::temp_dir().join(unique("azcops-host"));
        let host = json!({
            "version": "2.0",
            "extensions": {"http": {"routePrefix": "api"}, "queues": queues},
            "customHandler": {
                "description": {"defaultExecutablePath": BIN, "workingDirectory": "", "arguments": ["handler"]},
                "enableForwardingHttpRequest": true
            },
            "functionTimeout": "00:05:00"
        });
        let functions = [
            (
                "api",
                json!({"type": "httpTrigger", "direction": "in", "name": "req", "authLevel": "anonymous",
                "methods": ["get", "post", "patch", "put", "delete"], "route": "{*path}"}),
            ),
            (
                "ingest-daily",
                json!({"name": "timer", "type": "timerTrigger", "direction": "in",
                "schedule": "0 0 2 * * *", "useMonitor": true}),
            ),
            (
                "ingest-hourly",
                json!({"name": "timer", "type": "timerTrigger", "direction": "in",
                "schedule": "%HOST_TEST_HOURLY_SCHEDULE%", "useMonitor": false}),
            ),
            (
                "ingest-subscription",
                json!({"name": "message", "type": "queueTrigger", "direction": "in",
                "queueName": "%AZCOPS_INGEST_QUEUE%", "connection": "AzureWebJobsStorage"}),
            ),
            // Not served by the handler (404): every invocation fails.
            (
                "not-served",
                json!({"name": "message", "type": "queueTrigger", "direction": "in",
                "queueName": poison_queue, "connection": "AzureWebJobsStorage"}),
            ),
        ];
        for (name, trigger) in functions {
            let folder = dir.join("functions").join(name);
            std::fs::create_dir_all(&folder).expect("function folder");
            let json = json!({"bindings": [trigger]});
            std::fs::write(folder.join("function.json"), json.to_string()).expect("function.json");
        }
        std::fs::write(dir.join("host.json"), host.to_string()).expect("host.json");
        Self(dir)
    }
}

impl Drop for AppRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `azcops host`, stopped with SIGTERM (and killed if need be) on drop.
struct Host {
    child: Child,
    base: String,
    lines: Arc<Mutex<Vec<String>>>,
    ingest_queue: String,
    poison_queue: String,
    client: reqwest::Client,
    _root: AppRoot,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("free port");
    listener.local_addr().expect("addr").port()
}

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            eprintln!("[host] {line}");
            lines.lock().expect("lines").push(line);
        }
    });
}

impl Host {
    async fn start(db: &ScratchDatabase, sim: &SimHandle, queues: Value) -> Self {
        Self::start_with(db, sim, queues, "0 0 * * * *").await
    }

    async fn start_with(
        db: &ScratchDatabase,
        sim: &SimHandle,
        queues: Value,
        hourly_schedule: &str,
    ) -> Self {
        let ingest_queue = unique("host-ingest");
        let poison_queue = unique("host-fail");
        let root = AppRoot::new(queues, &poison_queue);
        let port = free_port();
        let base = sim.base_url.as_str().trim_end_matches('/').to_owned();
        let mut command = Command::new(BIN);
        command
            .args(["host", "--app-root"])
            .arg(&root.0)
            .args(["--listen", &format!("127.0.0.1:{port}")]);
        for (name, _) in std::env::vars() {
            if name.starts_with("AZCOPS_") || name.starts_with("FUNCTIONS_") {
                command.env_remove(name);
            }
        }
        command
            .env("DATABASE_URL", &db.url)
            .env("AZCOPS_AUTH_MODE", "disabled")
            .env("AzureWebJobsStorage", "UseDevelopmentStorage=true")
            .env("AZCOPS_INGEST_QUEUE", &ingest_queue)
            .env(
                "AZCOPS_LAKE_URL",
                format!("azurite://raw/{}", unique("host")),
            )
            .env("AZCOPS_AZURE_ARM_ENDPOINT", &base)
            .env("AZCOPS_AZURE_AUTHORITY_HOST", &base)
            .env(
                "AZCOPS_AZURE_MONITOR_ENDPOINT",
                format!("{base}/monitor/{{region}}"),
            )
            .env("AZCOPS_AZURE_CREDENTIAL", "client-secret")
            .env("AZCOPS_AZURE_APP_CLIENT_ID", "x")
            .env("AZCOPS_AZURE_CLIENT_SECRET", "y")
            .env("HOST_TEST_HOURLY_SCHEDULE", hourly_schedule)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("azcops host");
        let lines = Arc::new(Mutex::new(Vec::new()));
        collect(child.stdout.take().expect("stdout"), lines.clone());
        collect(child.stderr.take().expect("stderr"), lines.clone());
        let host = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            lines,
            ingest_queue,
            poison_queue,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            _root: root,
        };
        host.wait_healthy().await;
        host
    }

    async fn wait_healthy(&self) {
        eventually("GET /api/health through the host", || async {
            let r = self
                .client
                .get(format!("{}/api/health", self.base))
                .send()
                .await;
            r.ok().filter(|r| r.status() == StatusCode::OK).map(|_| ())
        })
        .await;
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request through the host");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// How many host log lines contain all of `parts`.
    fn count_lines(&self, parts: &[&str]) -> usize {
        let lines = self.lines.lock().expect("lines");
        lines
            .iter()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .count()
    }

    /// The pids of the handlers the host started, from its `handler started pid=…` lines.
    fn handler_pids(&self) -> Vec<u32> {
        let lines = self.lines.lock().expect("lines");
        lines
            .iter()
            .filter_map(|l| l.split("handler started pid=").nth(1))
            .filter_map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().ok()
            })
            .collect()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.start_kill();
        for pid in self.handler_pids() {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
}

async fn simulator() -> SimHandle {
    let estate = EstateConfig {
        tenants: 1,
        subscriptions_per_tenant: 2,
        resources_per_subscription: 20,
        ..EstateConfig::default()
    };
    azcops::sim::start(SimConfig {
        estate,
        throttling: false,
        ..SimConfig::default()
    })
    .await
    .expect("simulator")
}

fn queue(name: &str, encoding: MessageEncoding) -> QueueClient {
    QueueClient::new(&StorageConnection::development(), name, encoding).expect("queue client")
}

async fn azurite(name: &str, encoding: MessageEncoding) -> QueueClient {
    let client = queue(name, encoding);
    client
        .create_if_missing()
        .await
        .expect("Azurite must run on 127.0.0.1:10001 (scripts/ensure-azurite)");
    client
}

fn fast_queues(encoding: &str) -> Value {
    json!({"batchSize": 4, "newBatchThreshold": 2, "maxDequeueCount": 2,
        "visibilityTimeout": "00:00:01", "maxPollingInterval": "00:00:01", "messageEncoding": encoding})
}

#[tokio::test]
async fn http_requests_are_forwarded_to_the_handler_and_answered_unchanged() {
    let db = ScratchDatabase::create().await;
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
    let db = ScratchDatabase::create().await;
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
    let fired = host
        .client
        .post(format!("{}/admin/functions/ingest-daily", host.base))
        .json(&json!({"input": ""}))
        .send()
        .await;
    assert_eq!(fired.expect("admin").status(), StatusCode::ACCEPTED);
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
        .call(reqwest::Method::GET, "/api/v1/resources?page_size=1", None)
        .await;
    assert_eq!(resources["total"], json!(expected), "{resources}");
}

#[tokio::test]
async fn a_message_failing_max_dequeue_count_times_lands_in_the_poison_queue_intact() {
    let db = ScratchDatabase::create().await;
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
    let db = ScratchDatabase::create().await;
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
    let db = ScratchDatabase::create().await;
    let sim = simulator().await;
    let host = Host::start(&db, &sim, fast_queues("base64")).await;
    let subscription = Uuid::new_v4().to_string();
    let input = json!({"v": 1, "tenant_id": Uuid::new_v4(), "subscription_id": subscription, "mode": "full"});
    let fired = host
        .client
        .post(format!("{}/admin/functions/ingest-subscription", host.base))
        .json(&json!({"input": input.to_string()}))
        .send()
        .await;
    assert_eq!(fired.expect("admin").status(), StatusCode::ACCEPTED);
    let sql = "SELECT count(*) FROM audit_logs WHERE target_type = 'rejected_message' AND metadata::text LIKE '%' || $1 || '%'";
    eventually("the rejection in audit_logs", || async {
        (db.count(sql, &subscription).await > 0).then_some(())
    })
    .await;
    let missing = host
        .client
        .post(format!("{}/admin/functions/no-such-function", host.base))
        .send()
        .await;
    assert_eq!(missing.expect("admin").status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_plain_message_is_handled_when_message_encoding_is_none() {
    a_rejected_message_is_consumed("none", MessageEncoding::None).await;
}

#[tokio::test]
async fn a_killed_handler_is_restarted_and_one_that_exits_with_0_is_not() {
    let db = ScratchDatabase::create().await;
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
    let db = ScratchDatabase::create().await;
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
