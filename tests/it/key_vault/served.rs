//! The compiled binary, with the App Service managed identity: `azcops serve` and `azcops
//! migrate` reading the database URL or password from the stand-in Key Vault.

use super::*;

/// The binary with nothing configuring it inherited from the test run (nor proxies, nor
/// certificate stores), and the stand-in as its managed identity endpoint and trusted CA.
pub fn azcops(azure: &FakeAzure, ca_file: &CaFile, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_azcops"));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    const CLEARED_PREFIXES: [&str; 8] = [
        "AZCOPS_",
        "WEBSITE_",
        "FUNCTIONS_",
        "IDENTITY_",
        "MSI_",
        "IMDS_",
        "AZURE_",
        "PG",
    ];
    const CLEARED_NAMES: [&str; 5] = [
        "DATABASE_URL",
        "RUST_LOG",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "NO_PROXY",
    ];
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if CLEARED_PREFIXES.iter().any(|p| name.starts_with(p))
            || CLEARED_NAMES.contains(&name)
            || name.to_ascii_uppercase().ends_with("_PROXY")
        {
            command.env_remove(name);
        }
    }
    command
        .env("RUST_LOG", "info")
        .env("AZCOPS_AUTH_MODE", "disabled")
        .env("AZCOPS_KEY_VAULT_URL", azure.loopback_vault().as_str())
        // What App Service and Functions set for the managed identity.
        .env(
            "IDENTITY_ENDPOINT",
            format!("http://{}/msi/token", azure.identity),
        )
        .env("IDENTITY_HEADER", &azure.shared.identity_header)
        // The platform verifier reads the trusted roots from here (rustls-native-certs).
        .env("SSL_CERT_FILE", &ca_file.0);
    command
}

/// The throw-away CA as a PEM file, removed with the guard.
pub struct CaFile(PathBuf);

impl CaFile {
    pub fn write(azure: &FakeAzure) -> Self {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("key-vault-ca-{}.pem", Uuid::new_v4().simple()));
        std::fs::write(&path, &azure.pki.ca_pem).expect("writing the CA file");
        Self(path)
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0 for a free port")
        .port()
}

/// Reads a child's pipe to the end in the background.
pub fn collect(
    stream: Option<impl tokio::io::AsyncRead + Unpin + Send + 'static>,
) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    if let Some(mut stream) = stream {
        let sink = Arc::clone(&text);
        tokio::spawn(async move {
            let mut buffer = [0_u8; 4096];
            while let Ok(n) = stream.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                lock(&sink).push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
    }
    text
}

/// How the served API is told to use Key Vault.
#[derive(Debug, Clone, Copy)]
pub enum Form {
    /// `DATABASE_URL` unset; the whole URL (with a password) is the secret `database-url`.
    WholeUrl,
    /// `DATABASE_URL` without a password; the password is the secret `database-password`.
    PasswordOnly,
}

/// `azcops serve` with the App Service managed identity (a user-assigned one) and Key Vault:
/// `503` while the secret is missing, logged naming the vault and secret; `200` from
/// `/api/health` once it is there. Logs at `trace`, and none of it may quote the secret.
pub async fn serve_with_key_vault(form: Form) {
    let azure = FakeAzure::start().await;
    let ca_file = CaFile::write(&azure);
    let (url, password) = real_database_url_and_password();
    let client_id = Uuid::new_v4().to_string();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
    let mut command = azcops(&azure, &ca_file, &["serve"]);
    command
        .env("RUST_LOG", "trace")
        .env("AZCOPS_LISTEN", addr.to_string())
        .env("AZURE_CLIENT_ID", &client_id);
    let (secret, value, never_logged) = match form {
        Form::WholeUrl => {
            let mut with_password = Url::parse(&url).expect("DATABASE_URL is a URL");
            with_password
                .set_password(Some(&password))
                .expect("setting the password");
            let encoded = with_password.password().unwrap_or_default().to_owned();
            let value = with_password.to_string();
            (
                "database-url",
                value.clone(),
                vec![value, password, encoded],
            )
        }
        Form::PasswordOnly => {
            command
                .env("DATABASE_URL", &url)
                .env("AZCOPS_DATABASE_PASSWORD_SECRET", "database-password");
            ("database-password", password.clone(), vec![password])
        }
    };
    let mut child = command.spawn().expect("spawning azcops serve");
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    let output = || {
        format!(
            "--- stdout ---\n{}--- stderr ---\n{}",
            lock(&stdout),
            lock(&stderr)
        )
    };
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(DEADLINE)
        .build()
        .expect("HTTP client");

    // The secret is not there yet: the API answers 503 and logs why.
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let unavailable = loop {
        if let Ok(response) = http
            .get(format!("http://{addr}/api/v1/tenants"))
            .send()
            .await
        {
            break response;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "azcops serve did not answer\n{}",
            output()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(
        unavailable.status(),
        reqwest::StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        output()
    );

    // Once it is, the next request reads it and reaches the database.
    azure.set_secret(secret, json!(value));
    let health = http
        .get(format!("http://{addr}/api/health"))
        .send()
        .await
        .expect("GET /api/health");
    assert_eq!(health.status(), reqwest::StatusCode::OK, "{}", output());

    let _ = child.start_kill();
    let _ = child.wait().await;
    let output = output();
    let tokens: Vec<Seen> = azure
        .seen()
        .into_iter()
        .filter(|s| matches!(s, Seen::Token { .. }))
        .collect();
    assert!(!tokens.is_empty(), "no token was asked for\n{output}");
    for token in tokens {
        assert_eq!(
            token,
            Seen::Token {
                via: "app-service",
                resource: VAULT_RESOURCE.into(),
                client_id: Some(client_id.clone()),
            }
        );
    }
    assert_eq!(azure.reads(secret), 2, "{:?}", azure.seen());
    let vault = VaultName::of(&azure.loopback_vault()).to_string();
    assert!(
        output.contains(&format!(
            "Key Vault {vault}: secret `{secret}` does not exist"
        )),
        "the first failure is logged naming the vault and secret\n{output}"
    );
    for value in never_logged {
        assert!(!output.contains(&value), "{value:?} was logged\n{output}");
    }
}

#[tokio::test]
pub async fn the_served_api_reads_the_whole_url_with_the_app_service_managed_identity() {
    serve_with_key_vault(Form::WholeUrl).await;
}

#[tokio::test]
pub async fn the_served_api_reads_the_password_with_the_app_service_managed_identity() {
    serve_with_key_vault(Form::PasswordOnly).await;
}

#[tokio::test]
pub async fn migrate_fails_at_start_up_naming_the_vault_and_the_missing_secret() {
    let azure = FakeAzure::start().await;
    let ca_file = CaFile::write(&azure);
    let mut command = azcops(&azure, &ca_file, &["migrate"]);
    command.env("AZCOPS_DATABASE_URL_SECRET", "azcops-database-url");

    let output = tokio::time::timeout(DEADLINE, command.output())
        .await
        .expect("azcops migrate did not exit in time")
        .expect("running azcops migrate");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "azcops migrate succeeded");
    let vault = VaultName::of(&azure.loopback_vault()).to_string();
    assert!(
        stderr.contains(&format!(
            "Key Vault {vault}: secret `azcops-database-url` does not exist"
        )),
        "{stderr}"
    );
    assert_eq!(azure.reads("azcops-database-url"), 1, "{:?}", azure.seen());
}
