//! The harness of the `azcops host` tests: an app root written per test, the host process
//! with its log lines, the simulated Azure and Azurite queues.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use azcops::storage::connection::StorageConnection;
use azcops::storage::message::MessageEncoding;
use azcops::storage::queue::QueueClient;
use azure_sim::estate::EstateConfig;
use azure_sim::{SimConfig, SimHandle};

use crate::support::scratch::{ScratchDb, eventually, unique};

pub const BIN: &str = env!("CARGO_BIN_EXE_azcops");

/// The admin API key every test host is started with (`AZCOPS_HOST_ADMIN_KEY`).
pub const ADMIN_KEY: &str = "host-test-admin-key";

/// The app root a test writes: host.json with `queues`, and the functions.
pub struct AppRoot(pub PathBuf);

impl AppRoot {
    pub fn new(queues: Value, poison_queue: &str) -> Self {
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
pub struct Host {
    pub child: Child,
    pub base: String,
    pub lines: Arc<Mutex<Vec<String>>>,
    pub ingest_queue: String,
    pub poison_queue: String,
    pub client: reqwest::Client,
    /// The handler's `AZCOPS_LAKE_URL` (an Azurite container of this host's own).
    pub lake_url: String,
    _root: AppRoot,
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("free port");
    listener.local_addr().expect("addr").port()
}

pub fn collect(stream: impl AsyncRead + Unpin + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            eprintln!("[host] {line}");
            lines.lock().expect("lines").push(line);
        }
    });
}

impl Host {
    pub async fn start(db: &ScratchDb, sim: &SimHandle, queues: Value) -> Self {
        Self::start_with(db, sim, queues, "0 0 * * * *").await
    }

    pub async fn start_with(
        db: &ScratchDb,
        sim: &SimHandle,
        queues: Value,
        hourly_schedule: &str,
    ) -> Self {
        let ingest_queue = unique("host-ingest");
        let poison_queue = unique("host-fail");
        let root = AppRoot::new(queues, &poison_queue);
        let lake_url = format!("azurite://raw/{}", unique("host"));
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
            .env("AZCOPS_LAKE_URL", &lake_url)
            .env("AZCOPS_AZURE_ARM_ENDPOINT", &base)
            .env("AZCOPS_AZURE_AUTHORITY_HOST", &base)
            .env(
                "AZCOPS_AZURE_MONITOR_ENDPOINT",
                format!("{base}/monitor/{{region}}"),
            )
            .env(
                "AZCOPS_AZURE_RETAIL_PRICES_URL",
                format!("{base}/api/retail/prices"),
            )
            .env("AZCOPS_AZURE_CREDENTIAL", "client-secret")
            .env("AZCOPS_AZURE_APP_CLIENT_ID", "x")
            .env("AZCOPS_AZURE_CLIENT_SECRET", "y")
            .env("HOST_TEST_HOURLY_SCHEDULE", hourly_schedule)
            .env("AZCOPS_HOST_ADMIN_KEY", ADMIN_KEY)
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
            lake_url,
            _root: root,
        };
        host.wait_healthy().await;
        host
    }

    pub async fn wait_healthy(&self) {
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

    pub async fn call(
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

    /// `POST /admin/functions/{function}` with the admin key and `body` as JSON; the status.
    pub async fn fire(&self, function: &str, body: &Value) -> StatusCode {
        self.client
            .post(format!("{}/admin/functions/{function}", self.base))
            .header("x-functions-key", ADMIN_KEY)
            .json(body)
            .send()
            .await
            .expect("admin API")
            .status()
    }

    /// The status line of `request` (raw bytes, so no client normalises the path), sent to
    /// the host over a new connection.
    pub async fn raw_status(&self, request: &str) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer);
        text.split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"))
    }

    /// `GET path` through the host, which must succeed; its JSON.
    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert!(status.is_success(), "{path}: {status}");
        body
    }

    /// How many host log lines contain all of `parts`.
    pub fn count_lines(&self, parts: &[&str]) -> usize {
        let lines = self.lines.lock().expect("lines");
        lines
            .iter()
            .filter(|l| parts.iter().all(|p| l.contains(p)))
            .count()
    }

    /// The pids of the handlers the host started, from its `handler started pid=…` lines.
    pub fn handler_pids(&self) -> Vec<u32> {
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

pub async fn simulator() -> SimHandle {
    let estate = EstateConfig {
        tenants: 1,
        subscriptions_per_tenant: 2,
        resources_per_subscription: 20,
        ..EstateConfig::default()
    };
    azure_sim::start(SimConfig {
        estate,
        throttling: false,
        ..SimConfig::default()
    })
    .await
    .expect("simulator")
}

pub fn queue(name: &str, encoding: MessageEncoding) -> QueueClient {
    QueueClient::new(&StorageConnection::development(), name, encoding).expect("queue client")
}

pub async fn azurite(name: &str, encoding: MessageEncoding) -> QueueClient {
    let client = queue(name, encoding);
    client
        .create_if_missing()
        .await
        .expect("Azurite must run on 127.0.0.1:10001 (scripts/ensure-azurite)");
    client
}

pub fn fast_queues(encoding: &str) -> Value {
    json!({"batchSize": 4, "newBatchThreshold": 2, "maxDequeueCount": 2,
        "visibilityTimeout": "00:00:01", "maxPollingInterval": "00:00:01", "messageEncoding": encoding})
}
