//! Test tokens and a local JWKS endpoint for exercising [`azcops::auth`].
//!
//! Two process-wide RSA 2048 keys are generated on first use: the good key,
//! published in every [`JwksServer`] under [`GOOD_KID`], and an attacker key
//! that is never published for signing. [`TokenBuilder`] makes tokens that are
//! valid by default and can be bent in every way the verifier must refuse.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use azcops::auth::{
    DEFAULT_MAX_KEY_AGE, DEFAULT_VERIFIED_CAPACITY, DEFAULT_VERIFIED_TTL, ENTRA_ISSUER_TEMPLATES,
    ROLE_ADMIN, Verifier, VerifierSettings,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::PrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::rand_core::{TryCryptoRng, TryRng};
use rsa::traits::PublicKeyParts;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use url::Url;
use uuid::Uuid;

/// The audience the test verifier expects.
pub const TEST_AUDIENCE: &str = "api://azcops-test";

/// The client the test tokens are issued to (`azp` of v2.0, `appid` of v1.0 tokens).
pub const TEST_CLIENT_ID: &str = "5e6f7a8b-0c1d-4e2f-8a3b-4c5d6e7f8a9b";

/// The key id of the good key in every [`JwksServer`].
pub const GOOD_KID: &str = "test-key-1";

/// Key id of an RSA key published with `"use": "enc"` (the attacker's key),
/// which the verifier must not accept for signatures.
pub const ENCRYPTION_KID: &str = "test-enc-key";

/// The JWKS refresh interval of [`verifier_settings`]: short, so tests that
/// need a refetch only wait briefly.
pub const TEST_REFRESH_INTERVAL: Duration = Duration::from_millis(100);

/// An RSA key pair with its key id.
pub struct TestKey {
    kid: String,
    private_der: Vec<u8>,
    public_pem: String,
    n: String,
    e: String,
}

impl TestKey {
    /// Generates a fresh RSA 2048 key.
    pub fn generate(kid: &str) -> Self {
        let private = PrivateKey::new(&mut OsRandom, 2048).expect("RSA key generation");
        let public = private.to_public_key();
        Self {
            kid: kid.to_owned(),
            private_der: private
                .to_pkcs1_der()
                .expect("PKCS#1 DER")
                .as_bytes()
                .to_vec(),
            public_pem: public.to_public_key_pem(LineEnding::LF).expect("SPKI PEM"),
            n: URL_SAFE_NO_PAD.encode(public.n_bytes()),
            e: URL_SAFE_NO_PAD.encode(public.e_bytes()),
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as an RS256 signature JWK.
    pub fn jwk(&self) -> Value {
        self.jwk_for_use(&self.kid, "sig")
    }

    /// The public key as a JWK with the given `kid` and `use`.
    fn jwk_for_use(&self, kid: &str, key_use: &str) -> Value {
        json!({"kty": "RSA", "kid": kid, "use": key_use, "alg": "RS256", "n": self.n, "e": self.e})
    }

    fn encoding_key(&self) -> EncodingKey {
        EncodingKey::from_rsa_der(&self.private_der)
    }
}

/// The good key, published under [`GOOD_KID`].
pub fn good_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate(GOOD_KID))
}

/// A key the JWKS never publishes for signatures.
pub fn attacker_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate("attacker-key"))
}

/// Operating-system randomness for key generation, taken from the random
/// bits of v4 UUIDs (the `uuid` crate draws them from `getrandom`).
struct OsRandom;

impl TryRng for OsRandom {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(12) {
            let uuid = Uuid::new_v4();
            let bytes = uuid.as_bytes();
            // Bytes 6 and 8 carry the fixed version and variant bits.
            let random = bytes[..6].iter().chain(&bytes[9..]);
            for (out, byte) in chunk.iter_mut().zip(random) {
                *out = *byte;
            }
        }
        Ok(())
    }
}

impl TryCryptoRng for OsRandom {}

/// What the JWKS endpoint serves, shared with its handler.
#[derive(Clone, Default)]
struct Published {
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    /// While set, fetches wait (unanswered) until [`JwksServer::release_fetches`].
    holding: Arc<AtomicBool>,
    release: Arc<Notify>,
    held_arrived: Arc<Notify>,
}

/// A JWKS endpoint on 127.0.0.1, stopped when dropped.
pub struct JwksServer {
    /// The JWKS URL.
    pub url: Url,
    published: Published,
    task: JoinHandle<()>,
}

impl JwksServer {
    /// Serves the good key, an EC key and an RSA encryption key.
    pub async fn start() -> JwksServer {
        let published = Published::default();
        *published.keys.lock().expect("JWKS lock") = initial_keys();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind JWKS listener");
        let addr = listener.local_addr().expect("JWKS address");
        let app = Router::new()
            .route("/discovery/v2.0/keys", get(serve_jwks))
            .with_state(published.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve JWKS");
        });
        let url = Url::parse(&format!("http://{addr}/discovery/v2.0/keys")).expect("JWKS URL");
        JwksServer {
            url,
            published,
            task,
        }
    }

    /// How many times the JWKS was requested.
    pub fn fetch_count(&self) -> usize {
        self.published.fetches.load(Ordering::SeqCst)
    }

    /// Generates a key and publishes it under `kid` (a key rotation).
    pub fn add_key(&self, kid: &str) -> TestKey {
        let key = TestKey::generate(kid);
        self.published
            .keys
            .lock()
            .expect("JWKS lock")
            .push(key.jwk());
        key
    }

    /// Stops publishing the key `kid` (a signing key withdrawn).
    pub fn withdraw_key(&self, kid: &str) {
        self.published
            .keys
            .lock()
            .expect("JWKS lock")
            .retain(|jwk| jwk["kid"] != kid);
    }

    /// How many fetches were answered (held ones are not, until released).
    pub fn answered_count(&self) -> usize {
        self.published.answered.load(Ordering::SeqCst)
    }

    /// Makes later fetches hang, unanswered, until [`Self::release_fetches`]:
    /// a JWKS endpoint that has become unbearably slow.
    pub fn hold_fetches(&self) {
        self.published.holding.store(true, Ordering::SeqCst);
    }

    /// Waits until a held fetch has reached the endpoint.
    pub async fn held_fetch_arrived(&self) {
        self.published.held_arrived.notified().await;
    }

    /// Answers the held fetches and stops holding.
    pub fn release_fetches(&self) {
        self.published.holding.store(false, Ordering::SeqCst);
        self.published.release.notify_waiters();
    }

    /// Makes the endpoint answer 503 (or serve again).
    pub fn set_failing(&self, failing: bool) {
        self.published.failing.store(failing, Ordering::SeqCst);
    }

    /// A verifier for this server with [`verifier_settings`].
    pub fn verifier(&self) -> Verifier {
        Verifier::new(verifier_settings(&self.url), http_client())
    }

    /// A verifier for this server with a different refresh interval.
    pub fn verifier_with_refresh_interval(&self, interval: Duration) -> Verifier {
        self.verifier_with(|settings| VerifierSettings {
            min_refresh_interval: interval,
            ..settings
        })
    }

    /// A verifier for this server with [`verifier_settings`] changed by `change`.
    pub fn verifier_with(
        &self,
        change: impl FnOnce(VerifierSettings) -> VerifierSettings,
    ) -> Verifier {
        Verifier::new(change(verifier_settings(&self.url)), http_client())
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The good key plus keys the verifier must ignore.
fn initial_keys() -> Vec<Value> {
    vec![
        good_key().jwk(),
        json!({"kty": "EC", "kid": "test-ec-key", "use": "sig", "crv": "P-256",
               "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
               "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}),
        attacker_key().jwk_for_use(ENCRYPTION_KID, "enc"),
    ]
}

async fn serve_jwks(State(published): State<Published>) -> Response {
    published.fetches.fetch_add(1, Ordering::SeqCst);
    if published.holding.load(Ordering::SeqCst) {
        let released = published.release.notified();
        published.held_arrived.notify_one();
        released.await;
    }
    published.answered.fetch_add(1, Ordering::SeqCst);
    if published.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = published.keys.lock().expect("JWKS lock").clone();
    Json(json!({ "keys": keys })).into_response()
}

/// An HTTP client with short timeouts, as the application would configure.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("HTTP client")
}

/// A JWKS URL on which nothing listens.
pub fn unreachable_jwks_url() -> Url {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind probe port");
    let addr = listener.local_addr().expect("probe address");
    drop(listener);
    Url::parse(&format!("http://{addr}/keys")).expect("URL")
}

/// Verifier settings for tokens from [`TokenBuilder`]: Entra issuer
/// templates, [`TEST_AUDIENCE`], 60 s leeway, [`TEST_REFRESH_INTERVAL`].
pub fn verifier_settings(jwks_url: &Url) -> VerifierSettings {
    VerifierSettings {
        jwks_url: jwks_url.clone(),
        audience: TEST_AUDIENCE.to_owned(),
        issuers: ENTRA_ISSUER_TEMPLATES.map(String::from).to_vec(),
        leeway_secs: 60,
        min_refresh_interval: TEST_REFRESH_INTERVAL,
        max_key_age: DEFAULT_MAX_KEY_AGE,
        verified_ttl: DEFAULT_VERIFIED_TTL,
        verified_capacity: DEFAULT_VERIFIED_CAPACITY,
    }
}

/// The `kid` a token header gets.
#[derive(Clone)]
enum Kid {
    /// The signing key's own kid (the good kid for attacker-signed tokens).
    Default,
    /// No `kid` at all.
    Absent,
    /// This kid.
    Named(String),
}

/// Builds tokens, valid for one tenant unless told otherwise.
#[derive(Clone)]
pub struct TokenBuilder {
    kid: Kid,
    claims: Map<String, Value>,
}

impl TokenBuilder {
    /// A v2.0 access token of `tid` (v2.0 issuer, `ver` 2.0, `azp`
    /// [`TEST_CLIENT_ID`], no `nonce`), [`TEST_AUDIENCE`], valid from a
    /// minute ago for an hour, random `sub` and `oid`, no roles.
    pub fn new(tid: Uuid) -> Self {
        let now = now();
        let claims = json!({
            "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
            "aud": TEST_AUDIENCE,
            "tid": tid.to_string(),
            "oid": Uuid::new_v4().to_string(),
            "sub": format!("sub-{}", Uuid::new_v4().simple()),
            "preferred_username": "alice@contoso.example",
            "ver": "2.0",
            "azp": TEST_CLIENT_ID,
            "iat": now - 60,
            "nbf": now - 60,
            "exp": now + 3600,
            "roles": [],
        });
        let Value::Object(claims) = claims else {
            unreachable!("claims are an object")
        };
        Self {
            kid: Kid::Default,
            claims,
        }
    }

    /// Turns the token into a v1.0 access token: v1 issuer, `ver` 1.0,
    /// `appid` [`TEST_CLIENT_ID`] instead of `azp`.
    pub fn v1(self) -> Self {
        let tid = self.claims["tid"].as_str().unwrap_or_default().to_owned();
        self.iss(&format!("https://sts.windows.net/{tid}/"))
            .claim("ver", json!("1.0"))
            .claim("appid", json!(TEST_CLIENT_ID))
            .without_claim("azp")
    }

    /// Turns the token into the ID token the same app registration would get:
    /// same `aud`, `iss`, `tid` and roles, but a `nonce` and no `azp`.
    pub fn id_token(self) -> Self {
        self.claim("nonce", json!("n-0S6_WzA2Mj"))
            .without_claim("azp")
    }

    /// Sets the `roles` claim.
    pub fn roles(self, roles: &[&str]) -> Self {
        self.claim("roles", json!(roles))
    }

    /// Sets the `aud` claim.
    pub fn aud(self, aud: &str) -> Self {
        self.claim("aud", json!(aud))
    }

    /// Sets the `iss` claim.
    pub fn iss(self, iss: &str) -> Self {
        self.claim("iss", json!(iss))
    }

    /// Sets `exp` to now plus `secs` (negative: in the past).
    pub fn exp_offset(self, secs: i64) -> Self {
        self.claim("exp", json!(now() + secs))
    }

    /// Sets `nbf` to now plus `secs` (positive: in the future).
    pub fn nbf_offset(self, secs: i64) -> Self {
        self.claim("nbf", json!(now() + secs))
    }

    /// Sets the header `kid`.
    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = Kid::Named(kid.to_owned());
        self
    }

    /// Leaves the `kid` out of the header.
    pub fn without_kid(mut self) -> Self {
        self.kid = Kid::Absent;
        self
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: Value) -> Self {
        self.claims.insert(name.to_owned(), value);
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// RS256, signed with the good key.
    pub fn rs256(self) -> String {
        self.sign(Algorithm::RS256, good_key(), GOOD_KID)
    }

    /// RS256, signed with `key` (kid: the key's own unless set).
    pub fn rs256_with(self, key: &TestKey) -> String {
        self.sign(Algorithm::RS256, key, key.kid())
    }

    /// RS256 signed with the attacker key while naming the good kid (unless set).
    pub fn rs256_with_attacker_key(self) -> String {
        self.sign(Algorithm::RS256, attacker_key(), GOOD_KID)
    }

    /// RS384, signed with the good key: right key, wrong algorithm.
    pub fn rs384(self) -> String {
        self.sign(Algorithm::RS384, good_key(), GOOD_KID)
    }

    /// An unsigned token with `alg: none` and an empty signature.
    pub fn alg_none(self) -> String {
        let mut header = json!({"alg": "none", "typ": "JWT"});
        if let Some(kid) = self.header_kid(GOOD_KID) {
            header["kid"] = json!(kid);
        }
        format!("{}.{}.", b64_json(&header), b64_json(&self.claims))
    }

    /// HS256 keyed with the good public key's PEM: the key-confusion attack.
    pub fn hs256_with_public_key_as_secret(self) -> String {
        let secret = good_key().public_pem.as_bytes();
        let key = EncodingKey::from_secret(secret).expect("HMAC key");
        self.encode(Algorithm::HS256, &key, GOOD_KID)
    }

    /// A good-key token with one signature byte flipped.
    pub fn tampered(self) -> String {
        let token = self.rs256();
        let (message, signature) = token.rsplit_once('.').expect("three segments");
        let mut bytes = URL_SAFE_NO_PAD.decode(signature).expect("signature");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A good-key token whose payload was then edited to grant [`ROLE_ADMIN`].
    pub fn tampered_payload(self) -> String {
        let mut forged = Value::Object(self.claims.clone());
        forged["roles"] = json!([ROLE_ADMIN]);
        let token = self.rs256();
        let (header, rest) = token.split_once('.').expect("header segment");
        let (_, signature) = rest.split_once('.').expect("signature segment");
        format!("{header}.{}.{signature}", b64_json(&forged))
    }

    fn sign(self, alg: Algorithm, key: &TestKey, default_kid: &str) -> String {
        self.encode(alg, &key.encoding_key(), default_kid)
    }

    fn encode(self, alg: Algorithm, key: &EncodingKey, default_kid: &str) -> String {
        let mut header = Header::new(alg);
        header.kid = self.header_kid(default_kid);
        jsonwebtoken::encode(&header, &self.claims, key).expect("encode token")
    }

    fn header_kid(&self, default_kid: &str) -> Option<String> {
        match &self.kid {
            Kid::Default => Some(default_kid.to_owned()),
            Kid::Absent => None,
            Kid::Named(kid) => Some(kid.clone()),
        }
    }
}

/// Unpadded base64url of the JSON text of `value`.
fn b64_json<T: serde::Serialize>(value: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("JSON"))
}

/// Seconds since the epoch.
fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
