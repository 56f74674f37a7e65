//! A development identity provider, so a local AzCops can be called with real bearer tokens
//! without Entra ID: it serves a JWKS and mints RS256 v2.0 access tokens shaped like Entra ID's
//! (`iss` in the v2.0 form, `ver` 2.0, `azp`, `tid`, `oid`, `roles`, never a `nonce`), which
//! pass every check of AzCops' token verifier (`azcops::auth`). Served by `azure-sim dev-idp`, never by the `azcops`
//! binary: what is deployed cannot mint tokens.
//!
//! For the web page it is also an OpenID Connect authority shaped like Entra ID's v2.0
//! endpoints ([`browser`]): a discovery document, an authorize endpoint (a form to pick the
//! tenant and role) and a token endpoint for the authorization code flow with PKCE, so the page
//! signs in locally with MSAL exactly as with Entra ID. MSAL accepts only an `https://`
//! authority, so it also listens on a loopback HTTPS port with a self-signed certificate
//! ([`tls`]); the plain HTTP port stays for the API's JWKS and for `curl` tokens.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Extension, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::traits::PublicKeyParts;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// The key id of the development signing key.
pub const DEV_KEY_ID: &str = "azcops-dev-1";

/// The client id (`azp`) of the tokens minted: a made-up local client application.
pub const DEV_CLIENT_ID: &str = "00000000-0000-4000-8000-00000000c11e";

/// Settings of `azure-sim dev-idp`.
#[derive(Debug, Clone, clap::Args)]
pub struct DevIdpConfig {
    /// Address to listen on.
    #[arg(
        long,
        env = "AZURE_SIM_DEV_IDP_LISTEN",
        value_name = "AZURE_SIM_DEV_IDP_LISTEN",
        default_value = "127.0.0.1:7081"
    )]
    pub listen: SocketAddr,
    /// PKCS#1 DER file holding the signing key; created when missing, so tokens survive restarts.
    #[arg(
        long,
        env = "AZURE_SIM_DEV_IDP_KEY_FILE",
        value_name = "AZURE_SIM_DEV_IDP_KEY_FILE",
        default_value = ".local/dev-idp-key.der"
    )]
    pub key_file: PathBuf,
    /// `aud` of the tokens minted (must match AZCOPS_AUTH_AUDIENCE).
    #[arg(
        long,
        env = "AZCOPS_AUTH_AUDIENCE",
        value_name = "AZCOPS_AUTH_AUDIENCE",
        default_value = "api://azcops-local"
    )]
    pub audience: String,
    /// Default `tid` of minted tokens (the operator tenant of the local setup).
    #[arg(
        long,
        env = "AZCOPS_OPERATOR_TENANT_ID",
        value_name = "AZCOPS_OPERATOR_TENANT_ID",
        default_value = "00000000-0000-0000-0000-00000000a2c0"
    )]
    pub default_tenant_id: Uuid,
    /// Address of the HTTPS listener (the web page's sign-in authority); none: HTTP only.
    #[arg(
        long,
        env = "AZURE_SIM_DEV_IDP_HTTPS_LISTEN",
        value_name = "AZURE_SIM_DEV_IDP_HTTPS_LISTEN"
    )]
    pub https_listen: Option<SocketAddr>,
    /// PEM file holding the HTTPS listener's self-signed certificate and key; created when
    /// missing, so a browser that accepted the certificate keeps accepting it.
    #[arg(
        long,
        env = "AZURE_SIM_DEV_IDP_TLS_FILE",
        value_name = "AZURE_SIM_DEV_IDP_TLS_FILE",
        default_value = ".local/dev-idp-tls.pem"
    )]
    pub tls_file: PathBuf,
}

mod browser;
pub mod tls;

struct Signer {
    key: EncodingKey,
    jwk: Value,
    audience: String,
    default_tenant_id: Uuid,
    /// Authorization codes issued and not yet redeemed (the browser flow).
    grants: Mutex<browser::Grants>,
    /// Refresh tokens issued and not yet used (each is used once, then replaced).
    refresh: Mutex<browser::Grants>,
}

fn load_or_create_key(path: &PathBuf) -> anyhow::Result<rsa::PrivateKey> {
    if let Ok(der) = std::fs::read(path) {
        return rsa::PrivateKey::from_pkcs1_der(&der)
            .with_context(|| format!("{} is not a PKCS#1 RSA key", path.display()));
    }
    let key = <rsa::PrivateKey as rsa::Generate>::generate();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let der = key.to_pkcs1_der().context("encoding the new key")?;
    std::fs::write(path, der.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(key)
}

impl Signer {
    fn new(config: &DevIdpConfig) -> anyhow::Result<Self> {
        let key = load_or_create_key(&config.key_file)?;
        let der = key.to_pkcs1_der().context("encoding the key")?;
        let jwk = json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": DEV_KEY_ID,
            "n": URL_SAFE_NO_PAD.encode(key.n_bytes()),
            "e": URL_SAFE_NO_PAD.encode(key.e_bytes()),
        });
        Ok(Self {
            key: EncodingKey::from_rsa_der(der.as_bytes()),
            jwk,
            audience: config.audience.clone(),
            default_tenant_id: config.default_tenant_id,
            grants: Mutex::default(),
            refresh: Mutex::default(),
        })
    }

    fn mint(&self, request: &TokenRequest) -> anyhow::Result<String> {
        self.mint_for(request, DEV_CLIENT_ID)
    }

    /// A token as [`Signer::mint`] makes, issued to the client `azp`.
    fn mint_for(&self, request: &TokenRequest, azp: &str) -> anyhow::Result<String> {
        let tid = request.tid.unwrap_or(self.default_tenant_id);
        let now = chrono::Utc::now().timestamp();
        let ttl = request.ttl_secs.unwrap_or(3600).clamp(60, 86_400);
        let roles: Vec<&str> = request
            .roles
            .as_deref()
            .unwrap_or("AzCops.Admin")
            .split(',')
            .map(str::trim)
            .collect();
        let oid = request.oid.unwrap_or_else(Uuid::new_v4);
        let claims = json!({
            "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
            "aud": self.audience, "tid": tid, "oid": oid, "sub": oid,
            "ver": "2.0", "azp": azp,
            "name": request.name.as_deref().unwrap_or("Local Developer"),
            "roles": roles, "iat": now, "nbf": now, "exp": now + ttl,
        });
        self.sign(&claims)
    }

    /// Signs `claims` with the development key (RS256, its key id in the header).
    fn sign(&self, claims: &Value) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(DEV_KEY_ID.to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &self.key)?)
    }
}

/// What `GET /token` accepts.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Tenant of the caller (default: the operator tenant).
    pub tid: Option<Uuid>,
    /// Comma-separated app roles (default `AzCops.Admin`).
    pub roles: Option<String>,
    pub oid: Option<Uuid>,
    pub name: Option<String>,
    pub ttl_secs: Option<i64>,
}

/// The identity provider's routes: `GET /keys` (JWKS) and `GET /token` (a raw token as text),
/// and the browser flow's, at the root (`/.well-known/openid-configuration`, `/authorize`,
/// `POST /token`) and, as Entra ID lays them out, under a tenant segment
/// (`/{tenant}/v2.0/.well-known/openid-configuration`, `/{tenant}/oauth2/v2.0/authorize`, …).
/// Any origin may call it (CORS): the page calls discovery and the token endpoint from its own.
pub fn router(config: &DevIdpConfig) -> anyhow::Result<Router> {
    let signer = Arc::new(Signer::new(config)?);
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers(tower_http::cors::Any)
        .max_age(std::time::Duration::from_secs(3600));
    Ok(Router::new()
        .route(
            "/keys",
            get(|State(s): State<Arc<Signer>>| async move { Json(json!({ "keys": [s.jwk] })) }),
        )
        .route("/token", get(token).post(browser::redeem))
        .merge(browser::routes())
        .with_state(signer)
        .layer(cors))
}

/// `router` as served over HTTPS: the URLs it writes (discovery's endpoints, the ID token's
/// issuer) are `https://` ones.
pub fn over_https(router: Router) -> Router {
    router.layer(Extension(browser::Scheme::Https))
}

async fn token(
    State(signer): State<Arc<Signer>>,
    Query(request): Query<TokenRequest>,
) -> Result<String, (axum::http::StatusCode, String)> {
    signer.mint(&request).map_err(|e| {
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot mint: {e}"),
        )
    })
}

/// Serves [`router`] on `config.listen` (and over HTTPS on `config.https_listen`, when set)
/// until Ctrl-C or SIGTERM, logging `listening addr=…`.
///
/// # Errors
/// The key or certificate file cannot be read or written, or an address cannot be bound.
pub async fn serve(config: &DevIdpConfig) -> anyhow::Result<()> {
    let router = router(config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    tracing::info!(addr = %listener.local_addr()?, "development identity provider listening");
    let http =
        axum::serve(listener, router.clone()).with_graceful_shutdown(crate::shutdown::signal());
    let Some(https_addr) = config.https_listen else {
        http.await?;
        return Ok(());
    };
    let tls = tls::server_config(&config.tls_file)?;
    let tcp = tokio::net::TcpListener::bind(https_addr)
        .await
        .with_context(|| format!("binding {https_addr}"))?;
    let listener = tls::TlsListener::new(tcp, tls)?;
    tracing::info!(
        addr = %axum::serve::Listener::local_addr(&listener)?,
        certificate = %config.tls_file.display(),
        "development identity provider listening over HTTPS (self-signed certificate)"
    );
    let https =
        axum::serve(listener, over_https(router)).with_graceful_shutdown(crate::shutdown::signal());
    tokio::try_join!(async { http.await }, async { https.await })?;
    Ok(())
}
