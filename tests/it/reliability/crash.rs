//! Crash: the real binary under `azcops host`, the handler SIGKILLed while every subscription
//! of a run is in the middle of its upsert. The test holds a lock on `costs_daily`, so each
//! ingestion stops inside its transaction after writing its resources and before its costs;
//! the kill lands exactly there. The host restarts the handler and redelivers the messages;
//! the run must end succeeded with the rows and raw snapshots of a clean run, nothing twice.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};

use azcops::sim::SimHandle;

use super::harness::{
    Pipeline, Rows, ScratchDb, eventually, open_lake, register, simulator, snapshots, unique,
};

const BIN: &str = env!("CARGO_BIN_EXE_azcops");
const SUBSCRIPTIONS: usize = 2;

/// `azcops host` over an app root of its own (the timer and queue functions, and the API),
/// stopped with SIGTERM on drop; its handlers are SIGKILLed then if still there.
struct Host {
    child: Child,
    base: String,
    lake_url: String,
    lines: Arc<Mutex<Vec<String>>>,
    root: PathBuf,
}

fn relay(stream: impl AsyncRead + Unpin + Send + 'static, lines: Arc<Mutex<Vec<String>>>) {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            eprintln!("[crash host] {line}");
            lines.lock().expect("lines").push(line);
        }
    });
}

impl Host {
    async fn start(db: &ScratchDb, sim: &SimHandle) -> Self {
        let root = std::env::temp_dir().join(unique("azcops-crash"));
        let queues = json!({"batchSize": 4, "newBatchThreshold": 2, "maxDequeueCount": 5,
            "visibilityTimeout": "00:00:01", "maxPollingInterval": "00:00:01", "messageEncoding": "base64"});
        let host_json = json!({
            "version": "2.0",
            "extensions": {"http": {"routePrefix": "api"}, "queues": queues},
            "customHandler": {
                "description": {"defaultExecutablePath": BIN, "arguments": ["handler"]},
                "enableForwardingHttpRequest": true
            }
        });
        let functions = [
            json!({"name": "api", "binding": {"type": "httpTrigger", "direction": "in", "name": "req",
                "authLevel": "anonymous", "methods": ["get", "post", "patch", "delete"], "route": "{*path}"}}),
            json!({"name": "ingest-daily", "binding": {"name": "timer", "type": "timerTrigger",
                "direction": "in", "schedule": "0 0 2 * * *"}}),
            json!({"name": "ingest-subscription", "binding": {"name": "message", "type": "queueTrigger",
                "direction": "in", "queueName": "%AZCOPS_INGEST_QUEUE%", "connection": "AzureWebJobsStorage"}}),
        ];
        for function in functions {
            let folder = root
                .join("functions")
                .join(function["name"].as_str().expect("name"));
            std::fs::create_dir_all(&folder).expect("function folder");
            let definition = json!({"bindings": [function["binding"]]});
            std::fs::write(folder.join("function.json"), definition.to_string())
                .expect("function.json");
        }
        std::fs::write(root.join("host.json"), host_json.to_string()).expect("host.json");

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let azure = sim.base_url.as_str().trim_end_matches('/').to_owned();
        let lake_url = format!("azurite://raw/{}", unique("crash"));
        let mut command = Command::new(BIN);
        command
            .args(["host", "--app-root"])
            .arg(&root)
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
            .env("AZCOPS_INGEST_QUEUE", unique("crash-ingest"))
            .env("AZCOPS_LAKE_URL", &lake_url)
            .env("AZCOPS_AZURE_ARM_ENDPOINT", &azure)
            .env("AZCOPS_AZURE_AUTHORITY_HOST", &azure)
            .env(
                "AZCOPS_AZURE_MONITOR_ENDPOINT",
                format!("{azure}/monitor/{{region}}"),
            )
            .env("AZCOPS_AZURE_CREDENTIAL", "client-secret")
            .env("AZCOPS_AZURE_APP_CLIENT_ID", "reliability")
            .env("AZCOPS_AZURE_CLIENT_SECRET", "any")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("azcops host");
        let lines = Arc::new(Mutex::new(Vec::new()));
        relay(child.stdout.take().expect("stdout"), lines.clone());
        relay(child.stderr.take().expect("stderr"), lines.clone());
        let host = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            lake_url,
            lines,
            root,
        };
        eventually("the API through the host", || async {
            let answer = reqwest::get(format!("{}/api/health", host.base))
                .await
                .ok()?;
            answer.status().is_success().then_some(())
        })
        .await;
        host
    }

    /// The pids of the handlers the host started, in order.
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

    async fn get(&self, path: &str) -> Value {
        let answer = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("GET through the host");
        assert!(answer.status().is_success(), "{path}: {}", answer.status());
        answer.json().await.expect("JSON")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            signal("-TERM", pid);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::time::Instant::now() < deadline {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let _ = self.child.start_kill();
        for pid in self.handler_pids() {
            signal("-KILL", pid);
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn signal(signal: &str, pid: u32) -> bool {
    std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Backends of the handler waiting for a lock on `costs_daily`.
async fn waiting_on_costs(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%costs_daily%'",
    )
    .fetch_one(pool)
    .await
    .expect("pg_stat_activity")
}

async fn items(pool: &PgPool) -> Vec<(String, i32)> {
    sqlx::query_as(
        "SELECT status::text, attempts FROM ingestion_run_items ORDER BY subscription_id",
    )
    .fetch_all(pool)
    .await
    .expect("items")
}

#[tokio::test]
async fn a_handler_killed_mid_upsert_leaves_after_redelivery_the_state_of_a_clean_run() {
    let sim = simulator(SUBSCRIPTIONS, 40).await;
    let db = ScratchDb::create().await;
    register(&db.pool, &sim).await;
    let host = Host::start(&db, &sim).await;

    // Costs cannot be written until the lock goes: every ingestion stops in its upsert.
    let mut lock = db.pool.begin().await.expect("transaction");
    sqlx::query("LOCK TABLE costs_daily IN SHARE MODE")
        .execute(&mut *lock)
        .await
        .expect("lock costs_daily");
    let fired = reqwest::Client::new()
        .post(format!("{}/admin/functions/ingest-daily", host.base))
        .json(&json!({"input": ""}))
        .send()
        .await
        .expect("admin API");
    assert!(fired.status().is_success(), "{}", fired.status());
    eventually("every ingestion blocked in its upsert", || async {
        (waiting_on_costs(&db.pool).await == SUBSCRIPTIONS as i64).then_some(())
    })
    .await;
    assert_eq!(
        items(&db.pool).await,
        vec![("running".to_owned(), 1); SUBSCRIPTIONS]
    );
    let resources: i64 = sqlx::query_scalar("SELECT count(*) FROM resources")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    assert_eq!(resources, 0, "the upserts are uncommitted");

    let handler = host.handler_pids()[0];
    assert!(signal("-KILL", handler), "SIGKILL handler {handler}");
    lock.commit().await.expect("release the lock");

    // The host restarts the handler and redelivers the messages once their visibility ends.
    eventually("the run to end", || async {
        let items = items(&db.pool).await;
        items
            .iter()
            .all(|(status, _)| status != "queued" && status != "running")
            .then_some(())
    })
    .await;
    assert_eq!(
        items(&db.pool).await,
        vec![("succeeded".to_owned(), 2); SUBSCRIPTIONS],
        "each subscription succeeded on its second delivery"
    );
    assert!(host.handler_pids().len() >= 2, "the handler was restarted");
    let runs = host.get("/api/v1/ingestion/runs").await;
    assert_eq!(runs["total"], 1, "{runs}");
    assert_eq!(runs["items"][0]["status"], "succeeded", "{runs}");
    assert_eq!(
        runs["items"][0]["items_succeeded"], SUBSCRIPTIONS as u64,
        "{runs}"
    );

    // A clean run of the same estate, in-process, into a database and lake of its own.
    let clean_db = ScratchDb::create().await;
    let clean = Pipeline::new(clean_db.pool.clone(), &sim).await;
    clean.fire_daily().await;
    let texts = clean.drain().await;
    clean.process(&texts, SUBSCRIPTIONS).await;
    let rows = Rows::of(&db.pool).await;
    assert_eq!(
        rows,
        Rows::of(&clean.pool).await,
        "the rows of a clean run, none twice"
    );
    let lake = open_lake(&host.lake_url).await;
    assert_eq!(
        snapshots(&lake).await,
        snapshots(&clean.lake).await,
        "the raw snapshots of a clean run"
    );
    eprintln!(
        "reliability/crash: handler {handler} SIGKILLed with {SUBSCRIPTIONS} subscriptions mid-upsert; \
         redelivered, run succeeded; rows compared {} (resources {}, costs {}, recommendations {}), \
         rows lost 0, duplicated 0",
        rows.total(),
        rows.resources.len(),
        rows.costs.len(),
        rows.recommendations.len()
    );
}
