//! `azcops host` on Ctrl-C/SIGTERM, with a scripted handler whose invocations the test
//! controls: a wrapper script (the handler's pid) running a small Python HTTP server (its
//! child) that answers `GET /api/slow` after 2 s and never answers `GET /api/stuck`.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::harness::{ADMIN_KEY, AppRoot, BIN, collect, fast_queues, free_port};
use crate::support::scratch::{eventually, unique};

/// Starts the server as a child of the script, so the handler the host started is not the
/// process that serves (and must not outlive it either). `TEST_HANDLER` is a [`Handler`]:
/// unless `polite`, the script and its child ignore SIGTERM (an ignored signal stays ignored
/// across exec); `never-ready` starts no server at all.
const WRAPPER: &str = r#"#!/usr/bin/env bash
if [ "$TEST_HANDLER" != polite ]; then trap '' TERM; fi
if [ "$TEST_HANDLER" = never-ready ]; then
  sleep 3600 &
else
  python3 "$(dirname "$0")/handler.py" &
fi
wait
"#;

const SERVER: &str = r#"
import http.server, os, time

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/api/stuck"):
            print("stuck request received", flush=True)
            while True:
                time.sleep(3600)
        if self.path.startswith("/api/slow"):
            print("slow request received", flush=True)
            time.sleep(2)
        body = b"done"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

port = int(os.environ["FUNCTIONS_CUSTOMHANDLER_PORT"])
server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"test server pid={os.getpid()}", flush=True)
server.serve_forever()
"#;

/// How the scripted handler behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Handler {
    /// Exits on SIGTERM.
    Polite,
    /// Ignores SIGTERM.
    Deaf,
    /// Ignores SIGTERM and never listens, so it never becomes ready.
    NeverReady,
}

impl Handler {
    fn as_env(self) -> &'static str {
        match self {
            Self::Polite => "polite",
            Self::Deaf => "deaf",
            Self::NeverReady => "never-ready",
        }
    }
}

/// A host running the scripted handler, with its shutdown settings.
struct ScriptedHost {
    child: Child,
    addr: String,
    lines: Arc<Mutex<Vec<String>>>,
    _root: AppRoot,
}

impl ScriptedHost {
    async fn start(handler: Handler, grace_secs: u64, kill_timeout_secs: u64) -> Self {
        let root = AppRoot::new(fast_queues("base64"), &unique("unused"));
        let wrapper = root.0.join("handler.sh");
        std::fs::write(&wrapper, WRAPPER).expect("handler.sh");
        std::fs::write(root.0.join("handler.py"), SERVER).expect("handler.py");
        let chmod = std::process::Command::new("chmod")
            .arg("+x")
            .arg(&wrapper)
            .status();
        assert!(chmod.expect("chmod").success());
        let addr = format!("127.0.0.1:{}", free_port());
        let mut command = Command::new(BIN);
        command.args(["host", "--app-root"]).arg(&root.0);
        command.arg("--handler-executable").arg(&wrapper);
        command.args(["--listen", &addr]);
        for (name, _) in std::env::vars() {
            if name.starts_with("AZCOPS_") || name.starts_with("FUNCTIONS_") {
                command.env_remove(name);
            }
        }
        command
            .env("AZCOPS_HOST_SHUTDOWN_GRACE_SECS", grace_secs.to_string())
            .env(
                "AZCOPS_HOST_KILL_TIMEOUT_SECS",
                kill_timeout_secs.to_string(),
            )
            .env("TEST_HANDLER", handler.as_env())
            .env("AZCOPS_HOST_ADMIN_KEY", ADMIN_KEY)
            .env("AZCOPS_INGEST_QUEUE", "unused")
            .env("HOST_TEST_HOURLY_SCHEDULE", "0 0 * * * *")
            .env_remove("AzureWebJobsStorage")
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
            addr,
            lines,
            _root: root,
        };
        let started = match handler {
            Handler::NeverReady => "handler started",
            _ => "handler ready",
        };
        host.line_with(started).await;
        host
    }

    /// `GET path` through the host, in the background: its status and body.
    fn get(&self, path: &str) -> JoinHandle<(StatusCode, String)> {
        let url = format!("http://{}{path}", self.addr);
        tokio::spawn(async move {
            let client = reqwest::Client::builder().no_proxy().build();
            let response = client.expect("client").get(url).send().await;
            let response = response.expect("an answer from the host");
            let status = response.status();
            (status, response.text().await.unwrap_or_default())
        })
    }

    /// Waits for a log line (the host's or the handler's) containing `part`; returns it.
    async fn line_with(&self, part: &str) -> String {
        eventually(part, || async {
            let lines = self.lines.lock().expect("lines");
            lines.iter().find(|l| l.contains(part)).cloned()
        })
        .await
    }

    fn has_line(&self, part: &str) -> bool {
        let lines = self.lines.lock().expect("lines");
        lines.iter().any(|l| l.contains(part))
    }

    /// The pid a log line gives after `marker` (e.g. `pid=`).
    async fn pid_after(&self, marker: &str) -> u32 {
        let line = self.line_with(marker).await;
        let rest = line.split(marker).nth(1).unwrap_or_default();
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("no pid in {line:?}"))
    }

    fn terminate(&self) {
        let pid = self.child.id().expect("the host runs");
        let kill = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        assert!(kill.expect("kill").success());
    }

    /// The host's exit status, failing if it is still running after `bound`.
    async fn exit_within(&mut self, bound: Duration) -> ExitStatus {
        match tokio::time::timeout(bound, self.child.wait()).await {
            Ok(status) => status.expect("waiting for the host"),
            Err(_) => panic!("the host still runs {bound:?} after SIGTERM"),
        }
    }
}

impl Drop for ScriptedHost {
    /// Whatever the test's outcome, nothing it started keeps running.
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let lines = self.lines.lock().map(|l| l.clone()).unwrap_or_default();
        for line in lines {
            let Some(rest) = line.split("handler started pid=").nth(1) else {
                continue;
            };
            let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Whether `pid` is gone (a zombie waiting for init to reap it counts as gone).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap_or_default().trim_start();
            state.starts_with('Z') || state.starts_with('X')
        }
    }
}

#[tokio::test]
async fn a_stuck_invocation_cannot_keep_the_host_running_past_grace_and_kill_timeout() {
    let (grace, kill_timeout) = (1, 1);
    let mut host = ScriptedHost::start(Handler::Deaf, grace, kill_timeout).await;
    let handler = host.pid_after("handler started pid=").await;
    let server = host.pid_after("test server pid=").await;
    let stuck = host.get("/api/stuck");
    host.line_with("stuck request received").await;

    host.terminate();
    // Before the fix: 30 s of draining, then a handler shutdown that never ended.
    let margin = Duration::from_secs(6);
    let status = host
        .exit_within(Duration::from_secs(grace + kill_timeout) + margin)
        .await;

    assert!(status.success(), "a requested stop exits with 0: {status}");
    let (answer, body) = stuck.await.expect("the stuck request's task");
    assert_eq!(answer, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("abandoned"), "{body}");
    host.line_with("invocation(s) still running 1s after shutdown began: abandoned")
        .await;
    host.line_with("handler still running 1s after SIGTERM: killed (SIGKILL)")
        .await;
    for (what, pid) in [("the handler", handler), ("its child", server)] {
        eventually(&format!("{what} (pid {pid}) to be gone"), || async {
            gone(pid).then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn an_invocation_finishing_within_the_grace_period_still_gets_its_answer() {
    let mut host = ScriptedHost::start(Handler::Polite, 20, 10).await;
    let handler = host.pid_after("handler started pid=").await;
    let slow = host.get("/api/slow");
    host.line_with("slow request received").await;

    host.terminate();
    // No new work while draining: the host no longer accepts connections.
    eventually("the host to stop accepting", || async {
        let connected = tokio::net::TcpStream::connect(&host.addr).await;
        connected.is_err().then_some(())
    })
    .await;
    let (answer, body) = slow.await.expect("the slow request's task");
    let status = host.exit_within(Duration::from_secs(30)).await;

    assert_eq!(answer, StatusCode::OK);
    assert_eq!(body, "done");
    assert!(status.success(), "{status}");
    host.line_with("handler stopped").await;
    assert!(!host.has_line("abandoned"), "nothing was abandoned");
    assert!(!host.has_line("SIGKILL"), "the handler exited on SIGTERM");
    assert!(gone(handler), "the handler is gone");
}

#[tokio::test]
async fn a_handler_still_starting_is_stopped_within_the_kill_timeout() {
    let mut host = ScriptedHost::start(Handler::NeverReady, 1, 1).await;
    let handler = host.pid_after("handler started pid=").await;

    host.terminate();
    // Before the fix: the readiness probe ran its 30 s before the stop was looked at.
    let status = host.exit_within(Duration::from_secs(2 + 6)).await;

    assert!(status.success(), "{status}");
    host.line_with("killed (SIGKILL)").await;
    eventually("the handler to be gone", || async {
        gone(handler).then_some(())
    })
    .await;
}
