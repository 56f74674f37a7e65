//! The compiled binary as on an App Service worker (`WEBSITE_*` set): it refuses to run
//! migrations on start, and logs in to PostgreSQL with a token of its managed identity from the
//! App Service managed-identity endpoint (a stand-in speaking its wire format), as a runtime
//! login that owns nothing, refusing the owner's login.

use std::net::Ipv4Addr;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::net::TcpListener;

use azcops::db::entra;

use crate::support::scratch::eventually;

/// `azcops serve` with these extra environment variables, and nothing inherited that
/// configures it; returns its exit status and standard error.
async fn serve(env: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_azcops"));
    command
        .args(["serve", "--listen=127.0.0.1:0"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", "postgres://azcops@127.0.0.1:1/azcops")
        .env("AZCOPS_AUTH_MODE", "disabled")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(20), command.output())
        .await
        .expect("azcops serve must exit")
        .expect("running azcops");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn migrations_on_start_are_refused_in_azure_naming_the_variable() {
    for platform in [
        "WEBSITE_INSTANCE_ID",
        "WEBSITE_SITE_NAME",
        "WEBSITE_OWNER_NAME",
    ] {
        let (status, stderr) = serve(&[
            ("AZCOPS_MIGRATE_ON_START", "true"),
            ("AZCOPS_AUTH_MODE", "entra"),
            (
                "AZCOPS_AUTH_JWKS_URL",
                "https://login.microsoftonline.com/common/discovery/v2.0/keys",
            ),
            ("AZCOPS_AUTH_AUDIENCE", "api://azcops"),
            (
                "AZCOPS_OPERATOR_TENANT_ID",
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
            ),
            (platform, "azcops-func"),
        ])
        .await;
        assert!(!status.success(), "{platform}: {stderr}");
        assert!(
            stderr.contains("AZCOPS_MIGRATE_ON_START") && stderr.contains("azcops migrate"),
            "{platform}: {stderr}"
        );
    }
}

// ----------------------------------------------------------------------------------------------
// The compiled binary in Azure, with the App Service managed identity
// ----------------------------------------------------------------------------------------------

/// The App Service managed-identity endpoint (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER`),
/// issuing tokens for Azure Database for PostgreSQL only and recording them.
struct AppServiceIdentity {
    endpoint: String,
    header: String,
    issued: Arc<Mutex<Vec<String>>>,
}

impl AppServiceIdentity {
    async fn start() -> Self {
        use axum::extract::{Query, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        use std::collections::HashMap;

        let header = uuid::Uuid::new_v4().to_string();
        let issued = Arc::new(Mutex::new(Vec::new()));
        let state = (header.clone(), Arc::clone(&issued));
        let token = |State((expected, issued)): State<(String, Arc<Mutex<Vec<String>>>)>,
                     Query(query): Query<HashMap<String, String>>,
                     headers: HeaderMap| async move {
            let given = headers
                .get("x-identity-header")
                .and_then(|v| v.to_str().ok());
            if given != Some(expected.as_str()) {
                return (StatusCode::UNAUTHORIZED, "bad X-IDENTITY-HEADER").into_response();
            }
            let resource = query.get("resource").map(String::as_str);
            if query.get("api-version").map(String::as_str) != Some("2019-08-01")
                || resource != entra::SCOPE.strip_suffix("/.default")
            {
                return (StatusCode::BAD_REQUEST, "unexpected resource or version").into_response();
            }
            let token = format!("pg-token-{}", uuid::Uuid::new_v4().simple());
            issued.lock().expect("lock").push(token.clone());
            let expires_on = chrono::Utc::now().timestamp() + 3600;
            axum::Json(serde_json::json!({
                "access_token": token, "expires_on": expires_on.to_string(),
                "resource": resource, "token_type": "Bearer",
            }))
            .into_response()
        };
        let router = axum::Router::new()
            .route("/msi/token", axum::routing::get(token))
            .with_state(state);
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(axum::serve(listener, router).into_future());
        Self {
            endpoint: format!("http://{addr}/msi/token"),
            header,
            issued,
        }
    }
}

/// `azcops serve` as on an App Service worker with `AZCOPS_DATABASE_AUTH=entra`, logging in as
/// `user` to `pool`'s database; returns the status of `/api/health` and the process's output.
async fn serve_in_azure_as(
    pool: &PgPool,
    user: &str,
    identity: &AppServiceIdentity,
) -> (u16, String) {
    use sqlx::ConnectOptions;

    let mut url = pool.connect_options().to_url_lossy();
    url.set_username(user).expect("user name");
    url.set_password(None).expect("no password");
    let addr = {
        let probe = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("free port");
        probe.local_addr().expect("address")
    };
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_azcops"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "trace")
        .env("AZCOPS_LISTEN", addr.to_string())
        .env("WEBSITE_SITE_NAME", "func-azcops-test")
        .env("IDENTITY_ENDPOINT", &identity.endpoint)
        .env("IDENTITY_HEADER", &identity.header)
        .env("AZCOPS_DATABASE_AUTH", "entra")
        .env("DATABASE_URL", url.as_str())
        .env("AZCOPS_AUTH_MODE", "entra")
        .env(
            "AZCOPS_AUTH_JWKS_URL",
            "https://login.microsoftonline.com/common/discovery/v2.0/keys",
        )
        .env("AZCOPS_AUTH_AUDIENCE", "api://azcops")
        .env(
            "AZCOPS_OPERATOR_TENANT_ID",
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawning azcops serve");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("HTTP client");
    let status = eventually("azcops serve to answer", || async {
        let response = http
            .get(format!("http://{addr}/api/health"))
            .send()
            .await
            .ok()?;
        Some(response.status().as_u16())
    })
    .await;
    let _ = child.start_kill();
    let output = child.wait_with_output().await.expect("output");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (status, text)
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn in_azure_the_app_logs_in_with_its_managed_identity_as_the_runtime_login(pool: PgPool) {
    let identity = AppServiceIdentity::start().await;
    let login = format!("azcops_mi_test_{}", uuid::Uuid::new_v4().simple());
    for statement in [
        format!("CREATE ROLE {login} LOGIN"),
        format!("GRANT azcops_runtime TO {login}"),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .expect("setup");
    }

    let (status, output) = serve_in_azure_as(&pool, &login, &identity).await;
    assert_eq!(status, 200, "{output}");
    let issued = identity.issued.lock().expect("lock").clone();
    assert!(
        !issued.is_empty(),
        "no database token was asked for\n{output}"
    );
    for token in &issued {
        assert!(!output.contains(token), "a token was logged\n{output}");
    }

    // The owner's login (the superuser that ran the migrations) is refused (the message is
    // db_roles::serving_in_azure_refuses_the_owner_login_and_accepts_the_runtime_login's).
    let owner = pool.connect_options().get_username().to_owned();
    let (status, output) = serve_in_azure_as(&pool, &owner, &identity).await;
    assert_eq!(status, 503, "{output}");

    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE {login}")))
        .execute(&pool)
        .await
        .expect("cleanup");
}
