//! The stand-in for Azure: the managed identity endpoints (IMDS and App Service forms) and
//! Key Vault over HTTPS, answering as the real services do.

use super::*;

/// What the stand-in was asked, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
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
pub enum Auth {
    /// No `Authorization` header: answered with the challenge.
    None,
    /// A token this stand-in issued for the vault resource.
    Valid,
    /// Anything else: answered 401.
    Invalid,
}

pub struct Shared {
    /// The `value` member of each secret's JSON (a string, or anything else to break it).
    pub secrets: Mutex<HashMap<String, Value>>,
    /// The resource the challenge names.
    pub challenge_resource: Mutex<String>,
    /// What App Service puts in `IDENTITY_HEADER` and expects back in `X-IDENTITY-HEADER`.
    pub identity_header: String,
    /// Issued tokens and the resource each is for.
    pub tokens: Mutex<HashMap<String, String>>,
    pub seen: Mutex<Vec<Seen>>,
}

pub struct FakeAzure {
    pub shared: Arc<Shared>,
    /// The managed identity endpoints (plain HTTP).
    pub identity: SocketAddr,
    /// Key Vault (HTTPS).
    pub vault: SocketAddr,
    pub pki: Pki,
}

impl FakeAzure {
    pub async fn start() -> Self {
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

    pub fn set_secret(&self, name: &str, value: Value) {
        lock(&self.shared.secrets).insert(name.to_owned(), value);
    }

    pub fn set_challenge_resource(&self, resource: &str) {
        *lock(&self.shared.challenge_resource) = resource.to_owned();
    }

    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }

    /// Authorized reads of secret `name` (each one a `200` or `404` from the vault).
    pub fn reads(&self, name: &str) -> usize {
        self.seen()
            .iter()
            .filter(|s| matches!(s, Seen::Secret { name: n, auth: Auth::Valid } if n == name))
            .count()
    }

    /// The vault by IP address: `https://127.0.0.1:PORT/`.
    pub fn loopback_vault(&self) -> Url {
        Url::parse(&format!("https://{}/", self.vault)).expect("vault URL")
    }

    /// The vault by a name under `vault.azure.net` that only [`Self::vault_client_options`]
    /// resolves (to the stand-in).
    pub fn named_vault(&self) -> Url {
        Url::parse(&format!(
            "https://{NAMED_VAULT_HOST}:{}/",
            self.vault.port()
        ))
        .expect("vault URL")
    }

    /// The real managed identity credential, as on an Azure VM (IMDS at 169.254.169.254),
    /// its transport sending plain-HTTP requests through the stand-in as an HTTP proxy.
    pub fn credential(&self) -> Arc<dyn TokenCredential> {
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
    pub fn vault_client_options(&self) -> ClientOptions {
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
    pub fn database(&self, source: UrlSource) -> Database {
        Database::with_credential(
            source,
            self.credential(),
            self.vault_client_options(),
            2,
            Duration::from_secs(5),
        )
    }
}

pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().expect("stand-in state lock")
}

pub fn query(uri: &Uri) -> HashMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Every request to the stand-in, whichever listener it came in on.
pub async fn handle(
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

pub fn issue_token(
    shared: &Shared,
    via: &'static str,
    query: &HashMap<String, String>,
) -> Response {
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

pub fn get_secret(
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

pub fn key_vault_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message } })),
    )
        .into_response()
}
