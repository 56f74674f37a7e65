//! The host's admin API key: `POST /admin/functions/{name}` needs it in `x-functions-key`, as
//! the real Functions host's admin API needs the master key. Given by `AZCOPS_HOST_ADMIN_KEY`,
//! or generated at start (32 random bytes, base64url) and logged once.

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The header the key is sent in.
pub const KEY_HEADER: &str = "x-functions-key";

/// The admin key, kept as its SHA-256 digest: comparing digests takes the same time wherever
/// a wrong key differs, and the key itself is not kept in memory longer than needed.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminKey([u8; 32]);

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKey(…)")
    }
}

impl AdminKey {
    /// The configured key, or a new random one (then logged once, for the developer).
    pub fn configured_or_generated(configured: Option<&SecretString>) -> Self {
        if let Some(key) = configured.filter(|k| !k.expose_secret().is_empty()) {
            return Self::digest(key.expose_secret().as_bytes());
        }
        let key = generate();
        tracing::info!(admin_key = %key,
            "admin API key generated: send it as x-functions-key to POST /admin/functions/{{name}} \
             (set AZCOPS_HOST_ADMIN_KEY to choose it)");
        Self::digest(key.as_bytes())
    }

    fn digest(key: &[u8]) -> Self {
        Self(Sha256::digest(key).into())
    }

    /// `401` without the right key, `415` without a JSON content type; `Ok` otherwise.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), StatusCode> {
        let given = headers.get(KEY_HEADER).map(|v| Self::digest(v.as_bytes()));
        if given.as_ref() != Some(self) {
            return Err(StatusCode::UNAUTHORIZED);
        }
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        Ok(())
    }
}

/// 32 random bytes (from two v4 UUIDs, the operating system's random source), base64url.
fn generate() -> String {
    let mut bytes = [0_u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(key: Option<&str>, content_type: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(key) = key {
            headers.insert(KEY_HEADER, key.parse().unwrap());
        }
        if let Some(ct) = content_type {
            headers.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        }
        headers
    }

    #[test]
    fn only_the_key_with_a_json_body_is_let_through() {
        let key = AdminKey::configured_or_generated(Some(&SecretString::from("s3cret")));
        let json = Some("application/json; charset=utf-8");
        assert_eq!(key.check(&headers(Some("s3cret"), json)), Ok(()));
        assert_eq!(
            key.check(&headers(Some("wrong"), json)),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            key.check(&headers(None, json)),
            Err(StatusCode::UNAUTHORIZED)
        );
        assert_eq!(
            key.check(&headers(Some("s3cret"), Some("text/plain"))),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
        assert_eq!(
            key.check(&headers(Some("s3cret"), None)),
            Err(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }

    #[test]
    fn generated_keys_are_long_and_differ() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "32 bytes in base64url without padding");
        let empty = AdminKey::configured_or_generated(Some(&SecretString::from("")));
        assert_ne!(
            empty.check(&headers(Some(""), Some("application/json"))),
            Ok(()),
            "an empty setting means a generated key"
        );
    }
}
