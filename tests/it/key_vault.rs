//! The database URL, or only its password, from Key Vault — for real. The official secrets
//! client (`azure_security_keyvault_secrets`) and a real `azure_identity`
//! `ManagedIdentityCredential` talk to a local stand-in for Azure:
//!
//! - a managed identity endpoint over plain HTTP, as the platform serves it: the App Service /
//!   Functions form (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER`) for the compiled binary, whose
//!   environment the tests choose, and the VM's IMDS form for in-process tests, which reach it
//!   through an HTTP proxy setting of the credential's own transport (the test process's
//!   environment is shared by every test and never changed);
//! - Key Vault over HTTPS (the SDK sends tokens over TLS only), with a certificate from a
//!   throw-away CA that the clients are told to trust. Like the real service it answers an
//!   unauthenticated request with a `401` challenge naming the resource to get a token for,
//!   then serves secrets to bearers of such a token, and answers `404 SecretNotFound` for an
//!   unknown secret.
//!
//! The password case also uses a stand-in PostgreSQL that asks for a clear-text password and
//! records it, so the tests see exactly which password reaches the wire.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions};
use clap::Parser;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use url::Url;
use uuid::Uuid;

use azcops::config::{Config, ConfigError};
use azcops::db::{Database, UrlSource};
use azcops::secrets::VaultName;

/// The resource Key Vault's challenge names, as in Azure's public cloud.
const VAULT_RESOURCE: &str = "https://vault.azure.net";

/// A vault name under `vault.azure.net`, resolved to the stand-in by the test's transport.
const NAMED_VAULT_HOST: &str = "kv-azcops-test.vault.azure.net";

/// The tenant in the challenge's `authorization` parameter.
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// The database used when the test run has no `DATABASE_URL`.
const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Generous bound on anything that should happen promptly.
const DEADLINE: Duration = Duration::from_secs(20);

/// A password with every character a URL would need encoded.
const AWKWARD_PASSWORD: &str = "p@ss:w/rd?#%41 &é'\"+";

// ----------------------------------------------------------------------------------------------
// A throw-away CA and the stand-in vault's certificate
// ----------------------------------------------------------------------------------------------

struct Pki {
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    server: Arc<ServerConfig>,
}

fn pki() -> Pki {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "azcops Key Vault test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key"))
        .expect("self-signing the CA");

    let mut leaf = CertificateParams::new(vec![
        "127.0.0.1".to_owned(),
        "localhost".to_owned(),
        NAMED_VAULT_HOST.to_owned(),
    ])
    .expect("certificate parameters");
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_key = KeyPair::generate().expect("server key");
    let leaf = leaf
        .signed_by(&leaf_key, &ca)
        .expect("signing the server certificate");

    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der().clone(), ca.der().clone()], key)
        .expect("server TLS configuration");
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Pki {
        ca_der: ca.der().clone(),
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// Accepts TCP connections and completes their TLS handshake, for `axum::serve`.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that rejects the certificate aborts the handshake: wait for the next.
            if let Ok(Ok(tls)) = tokio::time::timeout(DEADLINE, self.acceptor.accept(tcp)).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

// ----------------------------------------------------------------------------------------------
// The stand-in for Azure: managed identity endpoints and Key Vault
// ----------------------------------------------------------------------------------------------

/// What the stand-in was asked, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    /// A token request: which endpoint (`imds` or `app-service`), for which resource, for
    /// which user-assigned identity.
    Token {
        via: &'static str,
        resource: String,
        client_id: Option<String>,
    },
    /// A request for a secret, and how it was authorized.
    Secret { name: String, auth: Auth },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// No `Authorization` header: answered with the challenge.
    None,
    /// A token this stand-in issued for the vault resource.
    Valid,
    /// Anything else: answered 401.
    Invalid,
}

struct Shared {
    /// The `value` member of each secret's JSON (a string, or anything else to break it).
    secrets: Mutex<HashMap<String, Value>>,
    /// The resource the challenge names.
    challenge_resource: Mutex<String>,
    /// What App Service puts in `IDENTITY_HEADER` and expects back in `X-IDENTITY-HEADER`.
    identity_header: String,
    /// Issued tokens and the resource each is for.
    tokens: Mutex<HashMap<String, String>>,
    seen: Mutex<Vec<Seen>>,
}

struct FakeAzure {
    shared: Arc<Shared>,
    /// The managed identity endpoints (plain HTTP).
    identity: SocketAddr,
    /// Key Vault (HTTPS).
    vault: SocketAddr,
    pki: Pki,
}

impl FakeAzure {
    async fn start() -> Self {
        let pki = pki();
        let shared = Arc::new(Shared {
            secrets: Mutex::default(),
            challenge_resource: Mutex::new(VAULT_RESOURCE.to_owned()),
            identity_header: Uuid::new_v4().to_string(),
            tokens: Mutex::default(),
            seen: Mutex::default(),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));

        let identity = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding the identity endpoint");
        let identity_addr = identity.local_addr().expect("identity endpoint address");
        tokio::spawn(axum::serve(identity, router.clone()).into_future());

        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding the vault");
        let vault_addr = tcp.local_addr().expect("vault address");
        let acceptor = TlsAcceptor::from(Arc::clone(&pki.server));
        tokio::spawn(axum::serve(TlsListener { tcp, acceptor }, router).into_future());

        Self {
            shared,
            identity: identity_addr,
            vault: vault_addr,
            pki,
        }
    }

    fn set_secret(&self, name: &str, value: Value) {
        lock(&self.shared.secrets).insert(name.to_owned(), value);
    }

    fn set_challenge_resource(&self, resource: &str) {
        *lock(&self.shared.challenge_resource) = resource.to_owned();
    }

    fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// Authorized reads of secret `name` (each one a `200` or `404` from the vault).
    fn reads(&self, name: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| matches!(s, Seen::Secret { name: n, auth: Auth::Valid } if n == name))
            .count()
    }

    /// The vault by IP address: `https://127.0.0.1:PORT/`.
    fn loopback_vault(&self) -> Url {
        Url::parse(&format!("https://{}/", self.vault)).expect("vault URL")
    }

    /// The vault by a name under `vault.azure.net` that only [`Self::vault_client_options`]
    /// resolves (to the stand-in).
    fn named_vault(&self) -> Url {
        Url::parse(&format!(
            "https://{NAMED_VAULT_HOST}:{}/",
            self.vault.port()
        ))
        .expect("vault URL")
    }

    /// The real managed identity credential, as on an Azure VM (IMDS at 169.254.169.254),
    /// its transport sending plain-HTTP requests through the stand-in as an HTTP proxy.
    fn credential(&self) -> Arc<dyn TokenCredential> {
        let via_stand_in = reqwest::Client::builder()
            .proxy(reqwest::Proxy::http(format!("http://{}", self.identity)).expect("proxy URL"))
            .build()
            .expect("HTTP client");
        let options = ManagedIdentityCredentialOptions {
            client_options: ClientOptions {
                transport: Some(Transport::new(Arc::new(via_stand_in))),
                ..Default::default()
            },
            ..Default::default()
        };
        ManagedIdentityCredential::new(Some(options)).expect("managed identity credential")
    }

    /// Key Vault client options trusting only the throw-away CA, with the named vault resolved
    /// to the stand-in.
    fn vault_client_options(&self) -> ClientOptions {
        let ca = reqwest::Certificate::from_der(&self.pki.ca_der).expect("CA certificate");
        let client = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only([ca])
            .resolve(NAMED_VAULT_HOST, self.vault)
            .build()
            .expect("HTTP client");
        ClientOptions {
            transport: Some(Transport::new(Arc::new(client))),
            ..Default::default()
        }
    }

    /// A database reached through `source` with this stand-in's identity and vault.
    fn database(&self, source: UrlSource) -> Database {
        Database::with_credential(
            source,
            self.credential(),
            self.vault_client_options(),
            2,
            Duration::from_secs(5),
        )
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().expect("stand-in state lock")
}

fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Every request to the stand-in, whichever listener it came in on.
async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_owned();
    let query = query(&uri);
    match path.as_str() {
        "/metadata/identity/oauth2/token" => {
            // IMDS: `Metadata: true` guards against server-side request forgery.
            if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
                return (StatusCode::BAD_REQUEST, "Metadata header required").into_response();
            }
            issue_token(&shared, "imds", &query)
        }
        "/msi/token" => {
            let header = headers
                .get("x-identity-header")
                .and_then(|v| v.to_str().ok());
            if header != Some(shared.identity_header.as_str()) {
                return (StatusCode::UNAUTHORIZED, "bad X-IDENTITY-HEADER").into_response();
            }
            issue_token(&shared, "app-service", &query)
        }
        _ => match path
            .strip_prefix("/secrets/")
            .map(|rest| rest.trim_end_matches('/'))
        {
            Some(name) if method == Method::GET && !name.contains('/') => {
                let host = headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("vault")
                    .to_owned();
                get_secret(&shared, name, &host, &query, &headers)
            }
            _ => (StatusCode::NOT_FOUND, "no such endpoint").into_response(),
        },
    }
}

fn issue_token(shared: &Shared, via: &'static str, query: &HashMap<String, String>) -> Response {
    if query.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return (StatusCode::BAD_REQUEST, "api-version 2019-08-01 expected").into_response();
    }
    let Some(resource) = query.get("resource").cloned() else {
        return (StatusCode::BAD_REQUEST, "resource required").into_response();
    };
    let client_id = query.get("client_id").cloned();
    lock(&shared.seen).push(Seen::Token {
        via,
        resource: resource.clone(),
        client_id: client_id.clone(),
    });
    let token = format!("mi-token-{}", Uuid::new_v4().simple());
    lock(&shared.tokens).insert(token.clone(), resource.clone());
    let expires_on = chrono::Utc::now().timestamp() + 3600;
    axum::Json(json!({
        "access_token": token,
        "expires_on": expires_on.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": client_id.unwrap_or_else(|| Uuid::nil().to_string()),
    }))
    .into_response()
}

fn get_secret(
    shared: &Shared,
    name: &str,
    host: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    if !query.contains_key("api-version") {
        return key_vault_error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "api-version required",
        );
    }
    let auth = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        None => Auth::None,
        Some(value) => {
            let token = value.strip_prefix("Bearer ").unwrap_or_default();
            if lock(&shared.tokens).get(token).map(String::as_str) == Some(VAULT_RESOURCE) {
                Auth::Valid
            } else {
                Auth::Invalid
            }
        }
    };
    lock(&shared.seen).push(Seen::Secret {
        name: name.to_owned(),
        auth,
    });
    if auth != Auth::Valid {
        let challenge = format!(
            r#"Bearer authorization="https://login.microsoftonline.com/{TENANT}", resource="{}""#,
            lock(&shared.challenge_resource)
        );
        let message = if auth == Auth::None {
            "AKV10000: Request is missing a Bearer or PoP token."
        } else {
            "AKV10022: Invalid audience."
        };
        let mut response = key_vault_error(StatusCode::UNAUTHORIZED, "Unauthorized", message);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            challenge.parse().expect("challenge header"),
        );
        return response;
    }
    let Some(value) = lock(&shared.secrets).get(name).cloned() else {
        return key_vault_error(
            StatusCode::NOT_FOUND,
            "SecretNotFound",
            &format!(
                "A secret with (name/id) {name} was not found in this key vault. If you recently \
                 deleted this secret you may be able to recover it using the correct recovery \
                 command. For help resolving this issue, please see \
                 https://go.microsoft.com/fwlink/?linkid=2125182"
            ),
        );
    };
    let now = chrono::Utc::now().timestamp();
    axum::Json(json!({
        "value": value,
        "id": format!("https://{host}/secrets/{name}/{}", Uuid::new_v4().simple()),
        "attributes": {
            "enabled": true,
            "created": now,
            "updated": now,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90
        },
        "tags": {}
    }))
    .into_response()
}

fn key_vault_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}

// ----------------------------------------------------------------------------------------------
// A stand-in PostgreSQL that asks for a clear-text password, records it, and refuses the login
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct Login {
    user: String,
    database: String,
    password: String,
}

struct FakePostgres {
    addr: SocketAddr,
    logins: Arc<Mutex<Vec<Login>>>,
}

impl FakePostgres {
    async fn start() -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("binding the PostgreSQL stand-in");
        let addr = listener.local_addr().expect("PostgreSQL stand-in address");
        let logins = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logins);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    if let Ok(login) = refuse_login(stream).await {
                        lock(&sink).push(login);
                    }
                });
            }
        });
        Self { addr, logins }
    }

    fn logins(&self) -> Vec<Login> {
        lock(&self.logins).clone()
    }
}

fn protocol_error(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Speaks the start of the PostgreSQL protocol: declines TLS, asks for the password in clear
/// text (`AuthenticationCleartextPassword`), and answers `28P01` whatever it is.
async fn refuse_login(mut stream: TcpStream) -> std::io::Result<Login> {
    const SSL_REQUEST: u32 = 80_877_103;
    const GSS_ENC_REQUEST: u32 = 80_877_104;
    let startup = loop {
        let len = usize::try_from(stream.read_u32().await?).map_err(|_| protocol_error("len"))?;
        let code = stream.read_u32().await?;
        let mut rest = vec![0; len.checked_sub(8).ok_or_else(|| protocol_error("len"))?];
        stream.read_exact(&mut rest).await?;
        match code {
            SSL_REQUEST | GSS_ENC_REQUEST => stream.write_all(b"N").await?,
            code if code >> 16 == 3 => break rest,
            _ => return Err(protocol_error("unexpected start-up code")),
        }
    };
    let fields: Vec<String> = startup
        .split(|b| *b == 0)
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    let param = |key: &str| {
        fields
            .chunks(2)
            .find(|pair| pair[0] == key)
            .and_then(|pair| pair.get(1).cloned())
            .unwrap_or_default()
    };
    stream.write_all(&[b'R', 0, 0, 0, 8, 0, 0, 0, 3]).await?;
    if stream.read_u8().await? != b'p' {
        return Err(protocol_error("a password message was expected"));
    }
    let len = usize::try_from(stream.read_u32().await?).map_err(|_| protocol_error("len"))?;
    let mut body = vec![0; len.checked_sub(4).ok_or_else(|| protocol_error("len"))?];
    stream.read_exact(&mut body).await?;
    let password = body.split(|b| *b == 0).next().unwrap_or_default();
    let login = Login {
        user: param("user"),
        database: param("database"),
        password: String::from_utf8(password.to_vec()).map_err(|_| protocol_error("utf-8"))?,
    };
    let mut fields = Vec::new();
    for (tag, value) in [
        (b'S', "FATAL"),
        (b'V', "FATAL"),
        (b'C', "28P01"),
        (b'M', "password authentication failed (stand-in)"),
    ] {
        fields.push(tag);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let len = u32::try_from(fields.len() + 4).map_err(|_| protocol_error("len"))?;
    let mut message = vec![b'E'];
    message.extend_from_slice(&len.to_be_bytes());
    message.extend_from_slice(&fields);
    stream.write_all(&message).await?;
    let _ = stream.shutdown().await;
    Ok(login)
}

// ----------------------------------------------------------------------------------------------
// Helpers
// ----------------------------------------------------------------------------------------------

/// The database of the test run.
fn real_database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).expect("a UTF-8 password")
}

/// The test run's database URL without its password, and the password to put in Key Vault:
/// the URL's own, or (with trust authentication) an awkward one the server will ignore.
fn real_database_url_and_password() -> (String, String) {
    let mut url = Url::parse(&real_database_url()).expect("DATABASE_URL is a URL");
    let password = url
        .password()
        .map(percent_decode)
        .unwrap_or_else(|| AWKWARD_PASSWORD.to_owned());
    url.set_password(None).expect("removing the password");
    (url.into(), password)
}

fn whole_url(vault: Url, secret: &str) -> UrlSource {
    UrlSource::KeyVault {
        vault,
        secret: secret.to_owned(),
        client_id: None,
    }
}

async fn select_one(database: &Database) -> i32 {
    let pool = database.pool().await.expect("the pool");
    tokio::time::timeout(
        DEADLINE,
        sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool),
    )
    .await
    .expect("SELECT 1 timed out")
    .expect("SELECT 1 through the pool")
}

// ----------------------------------------------------------------------------------------------
// The whole URL
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_whole_database_url_is_read_from_key_vault_and_the_pool_connects() {
    let azure = FakeAzure::start().await;
    azure.set_secret("database-url", json!(real_database_url()));
    let database = azure.database(whole_url(azure.loopback_vault(), "database-url"));

    assert_eq!(select_one(&database).await, 1);

    // The SDK's flow, as against Azure: challenge, token for the challenge's resource, read.
    assert_eq!(
        azure.seen(),
        vec![
            Seen::Secret {
                name: "database-url".into(),
                auth: Auth::None
            },
            Seen::Token {
                via: "imds",
                resource: VAULT_RESOURCE.into(),
                client_id: None
            },
            Seen::Secret {
                name: "database-url".into(),
                auth: Auth::Valid
            },
        ]
    );
}

#[tokio::test]
async fn the_secret_is_read_once_and_the_pool_is_kept_across_calls() {
    let azure = FakeAzure::start().await;
    azure.set_secret("database-url", json!(real_database_url()));
    let database = azure.database(whole_url(azure.loopback_vault(), "database-url"));

    let first = database.pool().await.expect("first pool() call");
    // A changed secret is not picked up while running: the pool is kept.
    azure.set_secret(
        "database-url",
        json!("postgres://nobody@127.0.0.1:1/changed"),
    );
    let second = database.pool().await.expect("second pool() call");

    assert!(std::ptr::eq(first, second), "the same pool both times");
    assert_eq!(
        azure.reads("database-url"),
        1,
        "read once: {:?}",
        azure.seen()
    );
    assert_eq!(select_one(&database).await, 1);
    assert_eq!(
        azure.reads("database-url"),
        1,
        "still once: {:?}",
        azure.seen()
    );
}

// ----------------------------------------------------------------------------------------------
// The password only
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_password_is_read_from_key_vault_and_sent_with_the_database_url() {
    let azure = FakeAzure::start().await;
    let postgres = FakePostgres::start().await;
    azure.set_secret("database-password", json!(AWKWARD_PASSWORD));
    let url = format!(
        "postgres://azcops_login@{}/azcops_db?sslmode=disable",
        postgres.addr
    );
    let database = azure.database(UrlSource::KeyVaultPassword {
        url: url.clone().into(),
        vault: azure.loopback_vault(),
        secret: "database-password".into(),
        client_id: None,
    });

    let pool = database.pool().await.expect("the pool");
    pool.acquire()
        .await
        .expect_err("the stand-in refuses every login");

    let logins = postgres.logins();
    assert!(!logins.is_empty(), "no login reached the stand-in");
    for login in logins {
        assert_eq!(
            login,
            Login {
                user: "azcops_login".into(),
                database: "azcops_db".into(),
                password: AWKWARD_PASSWORD.into(),
            }
        );
    }
    assert_eq!(azure.reads("database-password"), 1);

    // The control: the same URL without Key Vault sends no such password.
    let direct = FakePostgres::start().await;
    let url = url.replace(&postgres.addr.to_string(), &direct.addr.to_string());
    let database = Database::new(UrlSource::Direct(url.into()), 1, Duration::from_secs(5));
    let pool = database.pool().await.expect("the pool");
    pool.acquire()
        .await
        .expect_err("the stand-in refuses every login");
    assert!(
        direct
            .logins()
            .iter()
            .all(|login| login.password != AWKWARD_PASSWORD),
        "{:?}",
        direct.logins()
    );
}

#[tokio::test]
async fn the_password_from_key_vault_works_with_the_real_database() {
    let azure = FakeAzure::start().await;
    let (url, password) = real_database_url_and_password();
    azure.set_secret("database-password", json!(password));
    let database = azure.database(UrlSource::KeyVaultPassword {
        url: url.into(),
        vault: azure.named_vault(),
        secret: "database-password".into(),
        client_id: None,
    });

    assert_eq!(select_one(&database).await, 1);
    assert_eq!(azure.reads("database-password"), 1);
}

// ----------------------------------------------------------------------------------------------
// Errors
// ----------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_missing_secret_is_an_error_naming_the_vault_and_the_secret_and_is_retried() {
    let azure = FakeAzure::start().await;
    let vault = azure.loopback_vault();
    let database = azure.database(whole_url(vault.clone(), "database-url"));

    let error = format!("{:#}", database.pool().await.expect_err("no such secret"));

    assert!(
        error.contains(&VaultName::of(&vault).to_string()),
        "names the vault: {error}"
    );
    assert!(
        error.contains("`database-url`"),
        "names the secret: {error}"
    );
    assert!(error.contains("does not exist"), "{error}");
    assert!(error.contains("SecretNotFound"), "{error}");
    assert_eq!(azure.reads("database-url"), 1);

    // The next call tries again, and succeeds once the secret is there.
    azure.set_secret("database-url", json!(real_database_url()));
    assert_eq!(select_one(&database).await, 1);
    assert_eq!(azure.reads("database-url"), 2);
}

#[tokio::test]
async fn an_empty_secret_is_refused() {
    for value in ["", "  \n"] {
        let azure = FakeAzure::start().await;
        azure.set_secret("database-url", json!(value));
        let vault = azure.loopback_vault();
        let database = azure.database(whole_url(vault.clone(), "database-url"));

        let error = format!("{:#}", database.pool().await.expect_err("an empty secret"));

        assert_eq!(
            error,
            format!(
                "Key Vault {}: secret `database-url` is empty",
                VaultName::of(&vault)
            ),
            "value {value:?}"
        );
    }
}

#[tokio::test]
async fn error_messages_never_contain_the_secret_value() {
    let azure = FakeAzure::start().await;
    let vault = azure.loopback_vault();
    let name = VaultName::of(&vault).to_string();
    // A value that is not a PostgreSQL URL, and a vault answer that is not a secret.
    let cases = [
        ("not-a-url", json!("S3cr3t-not/a url"), "S3cr3t-not/a url"),
        (
            "bad-port",
            json!("postgres://admin:S3cr3tPw@db.example:notaport/x"),
            "S3cr3tPw",
        ),
        ("not-a-string", json!(987_654_321_u32), "987654321"),
    ];
    for (secret, value, leak) in cases {
        azure.set_secret(secret, value);
        let database = azure.database(whole_url(vault.clone(), secret));

        let error = database.pool().await.expect_err("an unusable secret");

        for text in [format!("{error:#}"), format!("{error:?}")] {
            assert!(!text.contains(leak), "{secret}: the value leaked: {text}");
            assert!(text.contains(&name), "{secret}: names the vault: {text}");
            assert!(
                text.contains(&format!("`{secret}`")),
                "{secret}: names the secret: {text}"
            );
        }
    }
}

#[tokio::test]
async fn the_challenge_resource_is_verified_except_for_loopback_vaults() {
    let azure = FakeAzure::start().await;
    azure.set_secret("database-url", json!(real_database_url()));

    // A vault under vault.azure.net accepts the challenge for https://vault.azure.net.
    let named = azure.database(whole_url(azure.named_vault(), "database-url"));
    assert_eq!(select_one(&named).await, 1);

    // A challenge for any other resource is refused before a token is even asked for.
    azure.set_challenge_resource("https://vault.contoso.example");
    let before = azure.seen().len();
    let error = azure
        .database(whole_url(azure.named_vault(), "database-url"))
        .pool()
        .await
        .expect_err("a foreign challenge resource");
    let error = format!("{error:#}");
    assert!(error.contains("doesn't match"), "{error}");
    assert!(error.contains(NAMED_VAULT_HOST), "{error}");
    assert_eq!(
        azure.seen()[before..],
        [Seen::Secret {
            name: "database-url".into(),
            auth: Auth::None
        }],
        "no token asked for, none sent"
    );

    // A loopback vault skips the check (it can never be under vault.azure.net): the client
    // gets a token for the named resource, which this vault then refuses.
    let error = azure
        .database(whole_url(azure.loopback_vault(), "database-url"))
        .pool()
        .await
        .expect_err("a token for the wrong resource");
    let error = format!("{error:#}");
    assert!(error.contains("refused"), "{error}");
    assert!(
        azure.seen().contains(&Seen::Token {
            via: "imds",
            resource: "https://vault.contoso.example".into(),
            client_id: None
        }),
        "{:?}",
        azure.seen()
    );
}

// ----------------------------------------------------------------------------------------------
// Configuration
// ----------------------------------------------------------------------------------------------

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

/// The configuration with these database settings, all given, so that the test run's own
/// environment does not leak in.
fn config(
    database_url: &str,
    key_vault_url: &str,
    url_secret: &str,
    password_secret: &str,
) -> Config {
    let args = [
        "azcops".to_owned(),
        format!("--database-url={database_url}"),
        format!("--key-vault-url={key_vault_url}"),
        format!("--database-url-secret={url_secret}"),
        format!("--database-password-secret={password_secret}"),
    ];
    Cli::try_parse_from(args).expect("parsing").config
}

fn refused_variable(config: &Config) -> &'static str {
    match azcops::server::database(config) {
        Ok(_) => panic!("accepted: {config:?}"),
        Err(e) => {
            e.downcast_ref::<ConfigError>()
                .unwrap_or_else(|| panic!("not a configuration error: {e:#}"))
                .variable
        }
    }
}

#[test]
fn inconsistent_key_vault_settings_fail_start_up_naming_the_variable() {
    const VAULT: &str = "https://kv-azcops.vault.azure.net/";
    const URL: &str = "postgres://azcops@db.example:5432/azcops";

    // Accepted: the password form, the whole-URL form, a plain URL.
    for accepted in [
        config(URL, VAULT, "database-url", "database-password"),
        config("", VAULT, "database-url", ""),
        config(URL, "", "database-url", ""),
    ] {
        assert!(azcops::server::database(&accepted).is_ok(), "{accepted:?}");
    }

    let cases = [
        (
            config(
                "postgres://azcops:pw@db.example/azcops",
                VAULT,
                "database-url",
                "database-password",
            ),
            "AZCOPS_DATABASE_PASSWORD_SECRET",
            "a URL that has a password already",
        ),
        (
            config(
                "postgres://azcops@db.example/azcops?password=pw",
                VAULT,
                "database-url",
                "database-password",
            ),
            "AZCOPS_DATABASE_PASSWORD_SECRET",
            "a URL with ?password=",
        ),
        (
            config(URL, "", "database-url", "database-password"),
            "AZCOPS_KEY_VAULT_URL",
            "a password secret without a vault",
        ),
        (
            config("", VAULT, "database-url", "database-password"),
            "DATABASE_URL",
            "a password secret without a URL",
        ),
        (
            config(URL, VAULT, "database-url", "database password"),
            "AZCOPS_DATABASE_PASSWORD_SECRET",
            "an invalid password secret name",
        ),
        (
            config("", VAULT, "db/url", ""),
            "AZCOPS_DATABASE_URL_SECRET",
            "an invalid URL secret name",
        ),
    ];
    for (config, variable, case) in cases {
        assert_eq!(refused_variable(&config), variable, "{case}");
    }
}

// ----------------------------------------------------------------------------------------------
// The compiled binary, with the App Service managed identity
// ----------------------------------------------------------------------------------------------

/// The binary with nothing configuring it inherited from the test run (nor proxies, nor
/// certificate stores), and the stand-in as its managed identity endpoint and trusted CA.
fn azcops(azure: &FakeAzure, ca_file: &CaFile, args: &[&str]) -> Command {
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
struct CaFile(PathBuf);

impl CaFile {
    fn write(azure: &FakeAzure) -> Self {
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

fn free_port() -> u16 {
    std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0 for a free port")
        .port()
}

/// Reads a child's pipe to the end in the background.
fn collect(
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
enum Form {
    /// `DATABASE_URL` unset; the whole URL (with a password) is the secret `database-url`.
    WholeUrl,
    /// `DATABASE_URL` without a password; the password is the secret `database-password`.
    PasswordOnly,
}

/// `azcops serve` with the App Service managed identity (a user-assigned one) and Key Vault:
/// `503` while the secret is missing, logged naming the vault and secret; `200` from
/// `/api/health` once it is there. Logs at `trace`, and none of it may quote the secret.
async fn serve_with_key_vault(form: Form) {
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
async fn the_served_api_reads_the_whole_url_with_the_app_service_managed_identity() {
    serve_with_key_vault(Form::WholeUrl).await;
}

#[tokio::test]
async fn the_served_api_reads_the_password_with_the_app_service_managed_identity() {
    serve_with_key_vault(Form::PasswordOnly).await;
}

#[tokio::test]
async fn migrate_fails_at_start_up_naming_the_vault_and_the_missing_secret() {
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
