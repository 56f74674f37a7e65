//! Black-box tests of the compiled `azcops` binary, started the way the Azure Functions host
//! starts a custom handler: the executable with the `arguments` from `host.json`, the app root
//! as working directory, and `FUNCTIONS_CUSTOMHANDLER_PORT` set to a free loopback port.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Connection;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;
use url::Url;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_azcops");

/// A database URL where nothing listens (port 1 refuses connections at once).
const UNREACHABLE_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:1/nothing";

/// The database used when the test run has no `DATABASE_URL`.
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Generous bound on anything the process should do promptly (start, answer, exit).
const DEADLINE: Duration = Duration::from_secs(20);

/// Pause between two polls.
const POLL: Duration = Duration::from_millis(25);

/// Prefixes and names of variables that configure the binary or tell it it runs in Azure: the
/// child never inherits them from the test run, each test sets what it means.
const CLEARED_PREFIXES: [&str; 3] = ["AZCOPS_", "WEBSITE_", "FUNCTIONS_"];
const CLEARED_NAMES: [&str; 3] = ["DATABASE_URL", "RUST_LOG", "AZURE_CLIENT_ID"];

// ----------------------------------------------------------------------------------------------
// Harness
// ----------------------------------------------------------------------------------------------

/// The app root: where `host.json` lives and the host's working directory for the handler.
fn app_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `customHandler.description` of `host.json`, as the host reads it.
struct HostJson {
    arguments: Vec<String>,
    working_directory: PathBuf,
}

fn host_json() -> HostJson {
    let path = app_root().join("host.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("host.json is JSON");
    let description = &json["customHandler"]["description"];
    assert!(
        description["defaultExecutablePath"].is_string(),
        "host.json: customHandler.description.defaultExecutablePath is required"
    );
    let arguments = description["arguments"]
        .as_array()
        .map(|args| {
            args.iter()
                .map(|a| a.as_str().expect("host.json arguments are strings"))
                .filter_map(expand_app_settings)
                .collect()
        })
        .unwrap_or_default();
    // Empty or missing: the app root; relative: joined to the app root.
    let working_directory = match description["workingDirectory"].as_str() {
        None | Some("") => app_root(),
        Some(dir) => app_root().join(dir),
    };
    HostJson {
        arguments,
        working_directory,
    }
}

/// Expands `%NAME%` from the environment like the host does; an argument naming an unset
/// variable is removed.
fn expand_app_settings(argument: &str) -> Option<String> {
    let mut expanded = String::new();
    let mut rest = argument;
    while let Some(start) = rest.find('%') {
        let Some(len) = rest[start + 1..].find('%') else {
            break;
        };
        let name = &rest[start + 1..start + 1 + len];
        expanded.push_str(&rest[..start]);
        expanded.push_str(&std::env::var(name).ok()?);
        rest = &rest[start + len + 2..];
    }
    expanded.push_str(rest);
    Some(expanded)
}

/// A loopback port nothing listens on (bound, read, released), as the host picks one.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0 for a free port")
        .port()
}

/// The database of the test run.
fn real_database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

/// The binary with a clean environment: nothing configuring it is inherited, `RUST_LOG` is
/// `info`, and the child dies with its handle.
fn azcops(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(app_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if CLEARED_PREFIXES.iter().any(|p| name.starts_with(p)) || CLEARED_NAMES.contains(&name) {
            command.env_remove(name);
        }
    }
    command.env("RUST_LOG", "info");
    command
}

/// The binary as the Functions host starts it, on `port`, with `database_url` (if any) and
/// authentication disabled.
fn as_the_host_starts_it(port: u16, database_url: Option<&str>) -> Command {
    let host = host_json();
    let args: Vec<&str> = host.arguments.iter().map(String::as_str).collect();
    let mut command = azcops(&args);
    let port = port.to_string();
    command
        .current_dir(&host.working_directory)
        .env("FUNCTIONS_CUSTOMHANDLER_PORT", &port)
        .env("FUNCTIONS_HTTPWORKER_PORT", &port)
        .env(
            "FUNCTIONS_CUSTOMHANDLER_WORKER_ID",
            uuid::Uuid::new_v4().to_string(),
        )
        .env("FUNCTIONS_APP_ROOT_PATH", &host.working_directory)
        .env("AZCOPS_AUTH_MODE", "disabled");
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    command
}

/// Output of a child, collected as it arrives so the pipes never fill up.
type Captured = Arc<Mutex<String>>;

fn capture(stream: Option<impl AsyncRead + Unpin + Send + 'static>) -> Captured {
    let captured = Captured::default();
    if let Some(stream) = stream {
        let sink = Arc::clone(&captured);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut sink = sink.lock().expect("capture lock");
                sink.push_str(&line);
                sink.push('\n');
            }
        });
    }
    captured
}

fn snapshot(captured: &Captured) -> String {
    captured.lock().expect("capture lock").clone()
}

/// A running `azcops`; killed when dropped, whatever the test's outcome.
struct Running {
    child: Child,
    stdout: Captured,
    stderr: Captured,
}

impl Running {
    fn spawn(mut command: Command) -> Self {
        let mut child = command.spawn().expect("spawning the azcops binary");
        let stdout = capture(child.stdout.take());
        let stderr = capture(child.stderr.take());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("the child is still running")
    }

    /// What the process wrote so far, for failure messages.
    fn output(&self) -> String {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            snapshot(&self.stdout),
            snapshot(&self.stderr)
        )
    }

    /// Fails the test if the process has already exited.
    fn assert_alive(&mut self, while_doing: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "azcops exited ({status}) while {while_doing}\n{}",
                self.output()
            );
        }
    }

    /// Polls `GET http://addr/` until any HTTP answer, as the host's readiness check does.
    async fn wait_until_ready(&mut self, addr: SocketAddr) -> reqwest::Response {
        let client = http();
        let deadline = Instant::now() + DEADLINE;
        loop {
            self.assert_alive("waiting for the readiness probe to answer");
            if let Ok(response) = client.get(format!("http://{addr}/")).send().await {
                return response;
            }
            assert!(
                Instant::now() < deadline,
                "GET http://{addr}/ got no answer within {DEADLINE:?}\n{}",
                self.output()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits for the process to exit, failing after the deadline.
    async fn wait_for_exit(&mut self) -> ExitStatus {
        match tokio::time::timeout(DEADLINE, self.child.wait()).await {
            Ok(status) => status.expect("waiting for azcops"),
            Err(_) => panic!("azcops did not exit within {DEADLINE:?}\n{}", self.output()),
        }
    }

    /// Polls stdout until a line satisfies `find`.
    async fn wait_for_log<T>(&mut self, what: &str, find: impl Fn(&str) -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(found) = snapshot(&self.stdout).lines().find_map(&find) {
                return found;
            }
            self.assert_alive(&format!("waiting for it to log {what}"));
            assert!(
                Instant::now() < deadline,
                "azcops did not log {what} within {DEADLINE:?}\n{}",
                self.output()
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Already exited is fine; anything else is killed (and reaped by tokio).
        let _ = self.child.start_kill();
    }
}

/// Runs a command expected to exit by itself, with a deadline.
async fn run_to_exit(mut command: Command) -> Output {
    // `kill_on_drop` ends the child if the deadline drops the future.
    tokio::time::timeout(DEADLINE, command.output())
        .await
        .unwrap_or_else(|_| panic!("azcops did not exit within {DEADLINE:?}"))
        .expect("running the azcops binary")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("building the HTTP client")
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// `GET /api/health` of a ready handler: status and JSON body.
async fn health(addr: SocketAddr, handler: &Running) -> (StatusCode, Value) {
    let response = http()
        .get(format!("http://{addr}/api/health"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /api/health: {e}\n{}", handler.output()));
    let status = response.status();
    let body = response.text().await.expect("reading the health body");
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("health body is not JSON ({e}): {body:?}"));
    (status, json)
}

/// A handler started as the host does, already answering its readiness probe.
async fn ready_handler(database_url: Option<&str>) -> (Running, SocketAddr) {
    let port = free_port();
    let mut handler = Running::spawn(as_the_host_starts_it(port, database_url));
    let addr = loopback(port);
    handler.wait_until_ready(addr).await;
    (handler, addr)
}

fn assert_failed_naming(output: &Output, variable: &str, case: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = format!(
        "{case}: status {}\n--- stdout ---\n{}--- stderr ---\n{stderr}",
        output.status,
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        output.status.code().is_some_and(|code| code != 0),
        "must exit with a non-zero code (the host never restarts exit 0); {context}"
    );
    assert!(
        stderr.contains(variable),
        "stderr must name {variable}; {context}"
    );
}

// ----------------------------------------------------------------------------------------------
// Start-up and readiness
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn handler_started_as_host_json_says_answers_readiness_probe_on_127_0_0_1() {
    let port = free_port();
    let mut handler = Running::spawn(as_the_host_starts_it(port, Some(UNREACHABLE_DATABASE_URL)));

    let response = handler.wait_until_ready(loopback(port)).await;

    assert_eq!(
        response.status(),
        StatusCode::OK,
        "GET / must answer 200 without waiting for the database\n{}",
        handler.output()
    );
}

#[tokio::test]
async fn health_reports_503_with_a_body_when_the_database_is_unreachable() {
    let (handler, addr) = ready_handler(Some(UNREACHABLE_DATABASE_URL)).await;

    let (status, body) = health(addr, &handler).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "body: {body}");
    assert_eq!(body["status"], "unavailable", "body: {body}");
    assert_eq!(body["database"], "unreachable", "body: {body}");
    assert!(
        body["version"].as_str().is_some_and(|v| !v.is_empty()),
        "health must report the version; body: {body}"
    );
}

#[tokio::test]
async fn health_is_ok_with_the_real_database() {
    let url = real_database_url();
    let (handler, addr) = ready_handler(Some(&url)).await;

    let (status, body) = health(addr, &handler).await;

    assert_eq!(status, StatusCode::OK, "body: {body}\n{}", handler.output());
    assert_eq!(body["status"], "ok", "body: {body}");
    assert_eq!(body["database"], "ok", "body: {body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"), "body: {body}");
}

#[tokio::test]
async fn sigterm_shuts_the_handler_down_gracefully() {
    let (mut handler, addr) = ready_handler(Some(UNREACHABLE_DATABASE_URL)).await;

    let kill = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(handler.pid().to_string())
        .status()
        .expect("running kill");
    assert!(kill.success(), "kill -TERM failed: {kill}");
    let status = handler.wait_for_exit().await;

    assert!(
        status.success(),
        "SIGTERM must end the handler gracefully with exit code 0, got {status}\n{}",
        handler.output()
    );
    let after = http().get(format!("http://{addr}/")).send().await;
    assert!(
        after.is_err(),
        "the port must stop answering once the handler is down, got {after:?}"
    );
}

#[tokio::test]
async fn sigterm_ends_the_handler_after_its_grace_period_even_with_a_request_stuck() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut handler, addr) = ready_handler(Some(UNREACHABLE_DATABASE_URL)).await;
    // A queue invocation whose body never finishes arriving: the handler waits for it.
    let mut stuck = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = "POST /ingest-subscription HTTP/1.1\r\nHost: localhost\r\n\
                Content-Type: application/json\r\nContent-Length: 1000\r\n\
                Expect: 100-continue\r\n\r\n";
    stuck
        .write_all(head.as_bytes())
        .await
        .expect("send the head");
    // `100 Continue` comes once the handler reads the body: the request is in flight.
    let mut answer = [0_u8; 64];
    let read = tokio::time::timeout(DEADLINE, stuck.read(&mut answer)).await;
    let read = read.expect("100 Continue in time").expect("read");
    let answer = String::from_utf8_lossy(&answer[..read]);
    assert!(answer.starts_with("HTTP/1.1 100"), "{answer:?}");
    stuck.write_all(b"{").await.expect("send part of the body");

    let kill = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(handler.pid().to_string())
        .status()
        .expect("running kill");
    assert!(kill.success(), "kill -TERM failed: {kill}");
    let status = handler.wait_for_exit().await;

    assert!(
        status.success(),
        "the handler must exit by itself with code 0, got {status}\n{}",
        handler.output()
    );
    let output = handler.output();
    assert!(
        output.contains("requests still running 5s after the shutdown signal: abandoned"),
        "{output}"
    );
}

// ----------------------------------------------------------------------------------------------
// Configuration errors
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn missing_configuration_fails_start_up_naming_the_variable() {
    // Entra authentication without its JWKS endpoint.
    let mut entra = as_the_host_starts_it(free_port(), Some(UNREACHABLE_DATABASE_URL));
    entra.env("AZCOPS_AUTH_MODE", "entra");
    let output = run_to_exit(entra).await;
    assert_failed_naming(&output, "AZCOPS_AUTH_JWKS_URL", "entra without a JWKS URL");

    // A value that does not parse.
    let mut invalid = as_the_host_starts_it(free_port(), Some(UNREACHABLE_DATABASE_URL));
    invalid.env("AZCOPS_DB_MAX_CONNECTIONS", "abc");
    let output = run_to_exit(invalid).await;
    assert_failed_naming(
        &output,
        "AZCOPS_DB_MAX_CONNECTIONS",
        "AZCOPS_DB_MAX_CONNECTIONS=abc",
    );

    // No database at all (and no Key Vault to read it from).
    let output = run_to_exit(as_the_host_starts_it(free_port(), None)).await;
    assert_failed_naming(&output, "DATABASE_URL", "no DATABASE_URL");
}

/// Every setting the handler reads, each declared once in the configuration.
const SETTINGS: [&str; 44] = [
    "DATABASE_URL",
    "AZCOPS_KEY_VAULT_URL",
    "AZCOPS_DATABASE_URL_SECRET",
    "AZCOPS_DATABASE_PASSWORD_SECRET",
    "AZURE_CLIENT_ID",
    "AZCOPS_DB_MAX_CONNECTIONS",
    "AZCOPS_DATABASE_AUTH",
    "AZCOPS_MIGRATE_ON_START",
    "AZCOPS_COST_RETENTION_MONTHS",
    "AZCOPS_AUTH_MODE",
    "AZCOPS_AUTH_JWKS_URL",
    "AZCOPS_AUTH_AUDIENCE",
    "AZCOPS_AUTH_ISSUERS",
    "AZCOPS_OPERATOR_TENANT_ID",
    "AZCOPS_LOG_FORMAT",
    "RUST_LOG",
    "AZCOPS_AZURE_ARM_ENDPOINT",
    "AZCOPS_AZURE_AUTHORITY_HOST",
    "AZCOPS_AZURE_MONITOR_ENDPOINT",
    "AZCOPS_AZURE_RETAIL_PRICES_URL",
    "AZCOPS_AZURE_MONITOR_SCOPE",
    "AZCOPS_AZURE_ARM_SCOPE",
    "AZCOPS_AZURE_CREDENTIAL",
    "AZCOPS_AZURE_APP_CLIENT_ID",
    "AZCOPS_AZURE_CLIENT_SECRET",
    "AZCOPS_AZURE_CLIENT_SECRET_NAME",
    "AZCOPS_AZURE_REQUEST_TIMEOUT_SECS",
    "AZCOPS_AZURE_CONNECT_TIMEOUT_SECS",
    "AZCOPS_AZURE_MAX_ATTEMPTS",
    "AZCOPS_AZURE_RETRY_BASE_MS",
    "AZCOPS_AZURE_RETRY_MAX_MS",
    "AZCOPS_AZURE_MAX_THROTTLE_WAIT_SECS",
    "AZCOPS_AZURE_COST_QPU_LIMITS",
    "AZCOPS_AZURE_RESOURCE_GRAPH_QUOTA",
    "AZCOPS_QUEUE_CONNECTION",
    "AZCOPS_INGEST_QUEUE",
    "AZCOPS_QUEUE_MESSAGE_ENCODING",
    "AZCOPS_QUEUE_MAX_DEQUEUE_COUNT",
    "AZCOPS_LAKE_URL",
    "AZCOPS_EXPORT_SYNC_MAX_ROWS",
    "AZCOPS_EXPORT_BATCH_ROWS",
    "AZCOPS_EXPORT_QUEUE",
    "AZCOPS_EXPORT_LINK_KEY",
    "AZCOPS_EXPORT_LINK_TTL_SECS",
];

#[tokio::test]
async fn help_lists_every_setting() {
    for subcommand in ["serve", "handler"] {
        let output = run_to_exit(azcops(&[subcommand, "--help"])).await;
        let help = String::from_utf8_lossy(&output.stdout);
        for setting in SETTINGS {
            assert!(
                help.contains(&format!("env: {setting}")),
                "`azcops {subcommand} --help` must list {setting}:\n{help}"
            );
        }
    }
}

#[tokio::test]
async fn an_invalid_lake_url_fails_start_up_naming_the_variable() {
    for (value, case) in [
        ("not a url", "not a URL"),
        ("ftp://raw", "an unknown scheme"),
        ("az://raw", "az:// without its storage connection"),
    ] {
        let mut command = as_the_host_starts_it(free_port(), Some(UNREACHABLE_DATABASE_URL));
        command
            .env("AZCOPS_LAKE_URL", value)
            .env_remove("AzureWebJobsStorage");
        let output = run_to_exit(command).await;
        let variable = if value.starts_with("az:") {
            "AzureWebJobsStorage"
        } else {
            "AZCOPS_LAKE_URL"
        };
        assert_failed_naming(&output, variable, case);
    }
}

#[tokio::test]
async fn invalid_azure_settings_fail_start_up_naming_the_variable() {
    let mut template = as_the_host_starts_it(free_port(), Some(UNREACHABLE_DATABASE_URL));
    template.env("AZCOPS_AZURE_MONITOR_ENDPOINT", "not a url {region}");
    let output = run_to_exit(template).await;
    assert_failed_naming(
        &output,
        "AZCOPS_AZURE_MONITOR_ENDPOINT",
        "not a URL template",
    );

    let mut secret = as_the_host_starts_it(free_port(), Some(UNREACHABLE_DATABASE_URL));
    secret.env("AZCOPS_AZURE_CREDENTIAL", "client-secret");
    let output = run_to_exit(secret).await;
    assert_failed_naming(
        &output,
        "AZCOPS_AZURE_APP_CLIENT_ID",
        "client-secret without an app",
    );
}

#[tokio::test]
async fn disabled_auth_refuses_to_start_in_azure() {
    let mut command = as_the_host_starts_it(free_port(), Some(UNREACHABLE_DATABASE_URL));
    command.env("WEBSITE_INSTANCE_ID", "abc");

    let output = run_to_exit(command).await;

    assert_failed_naming(&output, "AZCOPS_AUTH_MODE", "disabled auth in Azure");
}

/// `handler` as the host starts it, with Entra authentication whose settings are all https
/// except what the test changes.
fn entra_handler() -> Command {
    let mut command = as_the_host_starts_it(free_port(), Some(UNREACHABLE_DATABASE_URL));
    command
        .env("AZCOPS_AUTH_MODE", "entra")
        .env(
            "AZCOPS_AUTH_JWKS_URL",
            "https://login.microsoftonline.com/common/discovery/v2.0/keys",
        )
        .env("AZCOPS_AUTH_AUDIENCE", "api://azcops")
        .env(
            "AZCOPS_OPERATOR_TENANT_ID",
            "00000000-0000-0000-0000-00000000a2c0",
        );
    command
}

#[tokio::test]
async fn plain_http_jwks_url_or_authority_host_refuse_to_start_in_azure() {
    let mut jwks = entra_handler();
    jwks.env("WEBSITE_SITE_NAME", "azcops-prod")
        .env("AZCOPS_AUTH_JWKS_URL", "http://127.0.0.1:7081/keys");
    let output = run_to_exit(jwks).await;
    assert_failed_naming(&output, "AZCOPS_AUTH_JWKS_URL", "http JWKS URL in Azure");

    let mut authority = entra_handler();
    authority
        .env("WEBSITE_OWNER_NAME", "owner")
        .env("AZCOPS_AZURE_AUTHORITY_HOST", "http://127.0.0.1:7090");
    let output = run_to_exit(authority).await;
    assert_failed_naming(
        &output,
        "AZCOPS_AZURE_AUTHORITY_HOST",
        "http authority host in Azure",
    );
}

#[tokio::test]
async fn serve_on_a_non_loopback_address_refuses_development_settings() {
    let serve = |variable: &str, value: &str| {
        let mut command = azcops(&["serve", "--listen", "0.0.0.0:0"]);
        command
            .env("DATABASE_URL", UNREACHABLE_DATABASE_URL)
            .env("AZCOPS_AUTH_MODE", "entra")
            .env(
                "AZCOPS_AUTH_JWKS_URL",
                "https://login.microsoftonline.com/common/discovery/v2.0/keys",
            )
            .env("AZCOPS_AUTH_AUDIENCE", "api://azcops")
            .env(
                "AZCOPS_OPERATOR_TENANT_ID",
                "00000000-0000-0000-0000-00000000a2c0",
            )
            .env(variable, value);
        command
    };
    let cases = [
        ("AZCOPS_AUTH_MODE", "disabled"),
        ("AZCOPS_AUTH_JWKS_URL", "http://127.0.0.1:7081/keys"),
        ("AZCOPS_AZURE_AUTHORITY_HOST", "http://127.0.0.1:7090"),
    ];
    for (variable, value) in cases {
        let output = run_to_exit(serve(variable, value)).await;
        assert_failed_naming(
            &output,
            variable,
            &format!("serve on 0.0.0.0 with {variable}={value}"),
        );
    }
}

#[tokio::test]
async fn a_handler_behind_a_host_reachable_beyond_loopback_refuses_disabled_auth() {
    let mut handler = as_the_host_starts_it(free_port(), Some(UNREACHABLE_DATABASE_URL));
    handler.env("AZCOPS_HOST_LISTEN", "0.0.0.0:7071");
    let output = run_to_exit(handler).await;
    assert_failed_naming(
        &output,
        "AZCOPS_AUTH_MODE",
        "handler behind a host on 0.0.0.0",
    );

    // `azcops host` tells its handler where it listens, so the whole host stops.
    let mut host = azcops(&["host", "--listen", "0.0.0.0:0"]);
    host.env("DATABASE_URL", UNREACHABLE_DATABASE_URL)
        .env("AZCOPS_AUTH_MODE", "disabled")
        .env_remove("AZCOPS_HOST_HANDLER_EXECUTABLE");
    let output = run_to_exit(host).await;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !output.status.success() && all.contains("AZCOPS_AUTH_MODE"),
        "a host on 0.0.0.0 with disabled auth must not run: {}\n{all}",
        output.status
    );
}

#[tokio::test]
async fn local_handler_accepts_the_simulator_and_dev_idp_over_http() {
    let port = free_port();
    let mut command = as_the_host_starts_it(port, Some(UNREACHABLE_DATABASE_URL));
    command
        .env("AZCOPS_AUTH_MODE", "entra")
        .env("AZCOPS_AUTH_JWKS_URL", "http://127.0.0.1:7081/keys")
        .env("AZCOPS_AUTH_AUDIENCE", "api://azcops-local")
        .env(
            "AZCOPS_OPERATOR_TENANT_ID",
            "00000000-0000-0000-0000-00000000a2c0",
        )
        .env("AZCOPS_AZURE_AUTHORITY_HOST", "http://127.0.0.1:7090");
    let mut handler = Running::spawn(command);

    let response = handler.wait_until_ready(loopback(port)).await;

    assert_eq!(response.status(), StatusCode::OK, "{}", handler.output());
}

// ----------------------------------------------------------------------------------------------
// Other subcommands
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn azcops_cannot_mint_tokens_the_dev_idp_is_azure_sims() {
    // `azure-sim dev-idp` itself is tested in its crate (crates/azure-sim/tests/it/binary.rs).
    let output = run_to_exit(azcops(&["dev-idp", "--help"])).await;
    assert!(
        !output.status.success(),
        "`azcops dev-idp` must not exist: {}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// The address of a JSON `listening` log line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let json: Value = serde_json::from_str(line).ok()?;
    if json["message"] != "listening" {
        return None;
    }
    json["addr"].as_str()?.parse().ok()
}

#[tokio::test]
async fn serve_subcommand_listens_on_the_chosen_address() {
    let mut command = azcops(&["serve", "--listen", "127.0.0.1:0"]);
    command
        .env("DATABASE_URL", UNREACHABLE_DATABASE_URL)
        .env("AZCOPS_AUTH_MODE", "disabled")
        .env("AZCOPS_LOG_FORMAT", "json");
    let mut server = Running::spawn(command);

    let addr = server
        .wait_for_log("`listening` with its address", listening_addr)
        .await;

    assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST, "listening on {addr}");
    assert_ne!(addr.port(), 0, "port 0 must be resolved to the bound port");
    let response = server.wait_until_ready(addr).await;
    assert_eq!(response.status(), StatusCode::OK, "GET http://{addr}/");
    // The function routes are the host's alone: `serve` (any address) does not expose them.
    for function in ["ingest-daily", "ingest-hourly", "ingest-subscription"] {
        let response = reqwest::Client::new()
            .post(format!("http://{addr}/{function}"))
            .json(&serde_json::json!({"Data": {}, "Metadata": {}}))
            .send()
            .await
            .expect("POST to serve");
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "POST /{function}");
    }
}

/// A scratch database, dropped (with its connections) when the guard goes, even on failure.
struct ScratchDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    async fn create() -> Self {
        let admin_url = real_database_url();
        let name = format!("azcops_proc_{}", uuid::Uuid::new_v4().simple());
        let mut url = Url::parse(&admin_url).expect("DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        let mut admin = connect(&admin_url).await;
        sql(&mut admin, &format!(r#"CREATE DATABASE "{name}""#)).await;
        let _ = tokio::time::timeout(DEADLINE, admin.close()).await;
        Self {
            admin_url,
            name,
            url: url.into(),
        }
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        // Async clean-up from `Drop`: on a thread of its own, with its own runtime.
        let admin_url = self.admin_url.clone();
        let statement = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let run = async {
                    let mut admin = sqlx::PgConnection::connect(&admin_url).await?;
                    // The name is ours (a UUID), quoted: safe to splice.
                    sqlx::query(sqlx::AssertSqlSafe(statement))
                        .execute(&mut admin)
                        .await?;
                    admin.close().await
                };
                match tokio::time::timeout(DEADLINE, run).await {
                    Ok(result) => result.map_err(|e| e.to_string()),
                    Err(_) => Err("timed out".to_owned()),
                }
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("dropping scratch database {}: {dropped:?}", self.name);
        }
    }
}

async fn connect(url: &str) -> sqlx::PgConnection {
    tokio::time::timeout(DEADLINE, sqlx::PgConnection::connect(url))
        .await
        .unwrap_or_else(|_| panic!("connecting to the database timed out"))
        .unwrap_or_else(|e| panic!("connecting to the database: {e}"))
}

/// Runs a statement built by this file from names it generated (not from outside input).
async fn sql(connection: &mut sqlx::PgConnection, statement: &str) {
    let query = sqlx::query(sqlx::AssertSqlSafe(statement));
    tokio::time::timeout(DEADLINE, query.execute(connection))
        .await
        .unwrap_or_else(|_| panic!("{statement}: timed out"))
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Migrations in `dir`: one per version (a reversible pair counts once).
fn migration_count(dir: &Path) -> i64 {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    let count = entries
        .map(|entry| entry.expect("reading a migrations entry").file_name())
        .filter(|name| {
            let name = name.to_string_lossy();
            name.ends_with(".sql") && !name.ends_with(".down.sql")
        })
        .count();
    i64::try_from(count).expect("a sane number of migrations")
}

#[tokio::test]
async fn migrate_subcommand_applies_the_migrations() {
    let database = ScratchDatabase::create().await;
    let mut command = azcops(&["migrate"]);
    command
        .env("DATABASE_URL", &database.url)
        .env("AZCOPS_AUTH_MODE", "disabled");

    let output = run_to_exit(command).await;

    assert!(
        output.status.success(),
        "azcops migrate must succeed, got {}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut db = connect(&database.url).await;
    let tenants: bool = sqlx::query_scalar("SELECT to_regclass('public.tenants') IS NOT NULL")
        .fetch_one(&mut db)
        .await
        .expect("looking up the tenants table");
    assert!(tenants, "table `tenants` must exist after migrating");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut db)
        .await
        .expect("counting applied migrations");
    assert_eq!(
        applied,
        migration_count(&app_root().join("migrations")),
        "one applied migration per file in migrations/"
    );
    let _ = tokio::time::timeout(DEADLINE, db.close()).await;
}
