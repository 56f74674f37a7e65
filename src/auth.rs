//! Entra ID (Azure AD) bearer-token verification.
//!
//! A [`Verifier`] checks RS256-signed access tokens against the signing keys
//! published in a JWKS document (for multi-tenant apps typically
//! `https://login.microsoftonline.com/common/discovery/v2.0/keys`).
//!
//! What is enforced, in this order:
//! 1. the token is a compact JWS whose header says `alg: RS256` and names a
//!    `kid` — anything else (`none`, HMAC, other RSA/EC variants) is refused
//!    before a key is even looked up, which rules out key-confusion attacks;
//! 2. the signature verifies with the JWKS key of that `kid`; the JWKS is
//!    fetched lazily, cached, and refetched on an unknown `kid` at most once
//!    per [`VerifierSettings::min_refresh_interval`]; a set older than
//!    [`VerifierSettings::max_key_age`] is refreshed in the background while
//!    requests keep using the cached keys;
//! 3. `exp` (required) and `nbf` (if present) hold, with
//!    [`VerifierSettings::leeway_secs`] of clock skew;
//! 4. `aud` equals [`VerifierSettings::audience`];
//! 5. `tid` is a UUID and `iss` equals one of [`VerifierSettings::issuers`]
//!    with `{tid}` replaced by that `tid`, so a token cannot claim one tenant
//!    while being issued by another;
//! 6. it is an access token, not an ID token of the same app registration:
//!    `ver` is `2.0` with an `azp` or `1.0` with an `appid`, and there is no
//!    `nonce`.
//!
//! A token that passed every check is kept, with its claims, for the caller's next requests
//! (`verified`): at most [`VerifierSettings::verified_ttl`] and never past its `exp`.
//!
//! Each refusal is logged once, here, with its reason and the `tid` the token
//! claims; tokens are never logged, and errors carry no token content.

mod claims;
mod error;
mod jwks;
mod token;
mod verified;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jsonwebtoken::{Algorithm, Validation};
use url::Url;

pub use claims::{Claims, ROLE_ADMIN, ROLE_APPROVER, ROLE_READER};
pub use error::AuthError;

/// Placeholder in issuer templates that stands for the token's `tid` claim.
pub const TENANT_PLACEHOLDER: &str = "{tid}";

/// The issuers of Entra ID access tokens: v2.0 tokens first, then v1 tokens.
pub const ENTRA_ISSUER_TEMPLATES: [&str; 2] = [
    "https://login.microsoftonline.com/{tid}/v2.0",
    "https://sts.windows.net/{tid}/",
];

/// Default clock skew tolerated on `exp` and `nbf`, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

/// Default minimum time between two JWKS refetches caused by unknown key ids.
pub const DEFAULT_MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// Default age after which the cached JWKS is refreshed (in the background).
pub const DEFAULT_MAX_KEY_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Default time a verified token is taken at its word without being checked again.
pub const DEFAULT_VERIFIED_TTL: Duration = Duration::from_secs(5 * 60);

/// Default number of verified tokens kept (a few kilobytes each).
pub const DEFAULT_VERIFIED_CAPACITY: usize = 1024;

/// What a [`Verifier`] accepts and where it finds the signing keys.
#[derive(Debug, Clone)]
pub struct VerifierSettings {
    /// URL of the JWKS document with the token-signing keys.
    pub jwks_url: Url,
    /// The expected `aud` claim (the API's application ID URI or client id).
    pub audience: String,
    /// Accepted issuers; each may contain `{tid}`, replaced by the token's `tid`.
    pub issuers: Vec<String>,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// Minimum time between two JWKS fetches; bounds the refetches that tokens
    /// with unknown key ids can cause.
    pub min_refresh_interval: Duration,
    /// Age after which the cached keys are refreshed in the background (they
    /// stay in use until a refresh succeeds), so that withdrawn keys
    /// eventually stop being accepted.
    pub max_key_age: Duration,
    /// How long a verified token is accepted again without its checks (never past its `exp`):
    /// also how long a signing key withdrawn from the JWKS can still admit a token it signed.
    /// Zero checks every token every time.
    pub verified_ttl: Duration,
    /// How many verified tokens are kept; zero keeps none.
    pub verified_capacity: usize,
}

impl VerifierSettings {
    /// Settings for Entra ID: both issuer forms and the default leeway and
    /// refresh interval.
    pub fn new(jwks_url: Url, audience: impl Into<String>) -> Self {
        Self {
            jwks_url,
            audience: audience.into(),
            issuers: ENTRA_ISSUER_TEMPLATES.map(String::from).to_vec(),
            leeway_secs: DEFAULT_LEEWAY_SECS,
            min_refresh_interval: DEFAULT_MIN_REFRESH_INTERVAL,
            max_key_age: DEFAULT_MAX_KEY_AGE,
            verified_ttl: DEFAULT_VERIFIED_TTL,
            verified_capacity: DEFAULT_VERIFIED_CAPACITY,
        }
    }
}

/// Verifies bearer tokens; cheap to clone, clones share the key cache.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

/// The state shared by clones of a [`Verifier`].
struct Inner {
    settings: VerifierSettings,
    validation: Validation,
    keys: Arc<jwks::KeyCache>,
    verified: verified::VerifiedTokens,
}

impl Verifier {
    /// Creates a verifier; does no network I/O (the JWKS is fetched on first use).
    ///
    /// `http` should have connect and request timeouts configured; the JWKS
    /// fetch is additionally bounded by a 10 second timeout.
    pub fn new(settings: VerifierSettings, http: reqwest::Client) -> Self {
        let keys = Arc::new(jwks::KeyCache::new(
            settings.jwks_url.clone(),
            http,
            settings.min_refresh_interval,
            settings.max_key_age,
        ));
        let validation = validation(&settings);
        let verified =
            verified::VerifiedTokens::new(settings.verified_capacity, settings.verified_ttl);
        let inner = Inner {
            settings,
            validation,
            keys,
            verified,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Verifies `token` (without the `Bearer ` prefix) and returns its claims.
    ///
    /// # Errors
    /// An [`AuthError`] saying why the token is not acceptable, or
    /// [`AuthError::JwksUnavailable`] when the signing keys could not be fetched.
    ///
    /// A refusal is logged here (once: callers must not log it again) with its
    /// reason and the `tid` the token claims, never with the token.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let result = self.check(token).await;
        if let Err(err) = &result {
            let refusal = Refusal::of(err, token);
            tracing::warn!(
                reason = %refusal.reason,
                auth.tid = refusal.claimed_tid.map(tracing::field::display),
                "bearer token refused"
            );
        }
        result
    }

    /// The checks of [`Verifier::verify`], without the logging: the claims of a token verified
    /// lately, or every check.
    async fn check(&self, token: &str) -> Result<Claims, AuthError> {
        let now = SystemTime::now();
        if let Some(claims) = self.inner.verified.get(token, now) {
            return Ok(claims);
        }
        let header = token::parse_header(token)?;
        let key = self.inner.keys.key_for(&header.kid).await?;
        let raw = token::decode_claims(token, &key, &self.inner.validation)?;
        let expires = raw.expires();
        let claims = claims::from_raw(raw, &self.inner.settings)?;
        if let Some(expires) = expires {
            self.inner.verified.keep(token, &claims, expires, now);
        }
        Ok(claims)
    }

    /// The settings this verifier was built with.
    pub fn settings(&self) -> &VerifierSettings {
        &self.inner.settings
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

/// What the log of a refused token says.
#[derive(Debug, PartialEq, Eq)]
struct Refusal {
    /// Why the token was refused. For unavailable keys only that, since the
    /// fetch failure itself is logged once by the key cache.
    reason: String,
    /// The `tid` the payload claims, if it holds a UUID there. Unverified
    /// (the token was refused), but only ever a UUID, so it cannot forge log
    /// lines, and it tells which customer is affected.
    claimed_tid: Option<uuid::Uuid>,
}

impl Refusal {
    fn of(err: &AuthError, token: &str) -> Self {
        let reason = if err.is_unavailable() {
            err.description().to_owned()
        } else {
            err.to_string()
        };
        Self {
            reason,
            claimed_tid: token::claimed_tid(token),
        }
    }
}

/// The `jsonwebtoken` validation: RS256 only, `exp`/`aud`/`iss`/`sub`
/// required, `nbf` checked, audience pinned. The issuer is checked separately
/// because it depends on the `tid` claim.
fn validation(settings: &VerifierSettings) -> Validation {
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = settings.leeway_secs;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_audience(&[settings.audience.as_str()]);
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> VerifierSettings {
        let url = Url::parse("https://login.example/keys").expect("test url");
        VerifierSettings::new(url, "api://x")
    }

    #[test]
    fn new_settings_accept_both_entra_issuer_forms() {
        let settings = settings();
        assert_eq!(settings.issuers.len(), 2);
        assert!(
            settings
                .issuers
                .iter()
                .all(|i| i.contains(TENANT_PLACEHOLDER))
        );
        assert_eq!(settings.leeway_secs, DEFAULT_LEEWAY_SECS);
        assert_eq!(settings.min_refresh_interval, DEFAULT_MIN_REFRESH_INTERVAL);
        assert_eq!(settings.max_key_age, DEFAULT_MAX_KEY_AGE);
    }

    #[test]
    fn validation_allows_only_rs256_and_requires_core_claims() {
        let validation = validation(&settings());
        assert_eq!(validation.algorithms, vec![Algorithm::RS256]);
        assert!(validation.validate_nbf);
        for claim in ["exp", "aud", "iss", "sub"] {
            assert!(validation.required_spec_claims.contains(claim), "{claim}");
        }
    }

    #[test]
    fn refusal_log_fields_name_the_reason_and_the_claimed_tenant_only() {
        let tid = uuid::Uuid::new_v4();
        let payload = format!(r#"{{"tid":"{tid}","sub":"secret-subject"}}"#);
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{}.c2ln", b64url(payload.as_bytes()));

        let refusal = Refusal::of(&AuthError::Expired, &token);

        assert_eq!(refusal.reason, "the token has expired");
        assert_eq!(refusal.claimed_tid, Some(tid));
        let text = format!("{refusal:?}");
        assert!(
            !text.contains("secret-subject") && !text.contains("c2ln"),
            "{text}"
        );
    }

    #[test]
    fn refusal_log_fields_leave_out_what_is_not_a_tenant_id() {
        let injected = b64url(br#"{"tid":"x\nlevel=ERROR forged"}"#);
        for token in ["garbage", "a.b.c", &format!("e30.{injected}.c2ln")] {
            assert_eq!(Refusal::of(&AuthError::Malformed, token).claimed_tid, None);
        }
        let unavailable = AuthError::JwksUnavailable("connection refused".into());
        let refusal = Refusal::of(&unavailable, "a.b.c");
        assert_eq!(refusal.reason, "signing keys unavailable");
    }

    /// Unpadded base64url, for building test payloads.
    fn b64url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn debug_output_names_the_settings_only() {
        let verifier = Verifier::new(settings(), reqwest::Client::new());
        let text = format!("{verifier:?}");
        assert!(text.contains("api://x"));
    }
}
