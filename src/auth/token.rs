//! The compact JWS form: a pre-check of the header, then full decoding.
//!
//! The header is inspected by hand first so that the algorithm is refused
//! before any key is looked up or used, whatever `jsonwebtoken` would make of
//! it, and so that `alg: none` is reported as an unsupported algorithm rather
//! than as a parse error.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use uuid::Uuid;

use super::claims::RawClaims;
use super::error::{AuthError, from_jwt};

/// Longest token accepted; Entra access tokens are a few kilobytes.
const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The only accepted `alg` header value.
const ACCEPTED_ALG: &str = "RS256";

/// What the verifier needs from the header.
#[derive(Debug)]
pub(super) struct TokenHeader {
    /// The key id naming the JWKS key that signed the token.
    pub(super) kid: String,
}

/// The header fields inspected before verification.
#[derive(Deserialize)]
struct RawHeader {
    alg: Option<String>,
    kid: Option<String>,
}

/// Checks the token's shape and header: three segments, `alg: RS256`, a `kid`.
pub(super) fn parse_header(token: &str) -> Result<TokenHeader, AuthError> {
    let encoded = header_segment(token).ok_or(AuthError::Malformed)?;
    let bytes = b64url_decode(encoded).ok_or(AuthError::Malformed)?;
    let raw: RawHeader = serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    if raw.alg.as_deref() != Some(ACCEPTED_ALG) {
        return Err(AuthError::UnsupportedAlgorithm);
    }
    match raw.kid {
        Some(kid) if !kid.is_empty() => Ok(TokenHeader { kid }),
        _ => Err(AuthError::MissingKeyId),
    }
}

/// The `tid` an (unverified) token's payload claims, if it is a UUID: for
/// logging a refusal, never for deciding anything.
pub(super) fn claimed_tid(token: &str) -> Option<Uuid> {
    #[derive(Deserialize)]
    struct TenantOnly {
        tid: Option<String>,
    }
    header_segment(token)?;
    let payload = token.split('.').nth(1)?;
    let raw: TenantOnly = serde_json::from_slice(&b64url_decode(payload)?).ok()?;
    Uuid::parse_str(&raw.tid?).ok()
}

/// The first of exactly three dot-separated segments, if the token has that shape.
fn header_segment(token: &str) -> Option<&str> {
    if token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(_), Some(_), None) if !header.is_empty() => Some(header),
        _ => None,
    }
}

/// Verifies the signature and the time and audience claims, and returns the payload.
pub(super) fn decode_claims(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
) -> Result<RawClaims, AuthError> {
    jsonwebtoken::decode::<RawClaims>(token, key, validation)
        .map(|data| data.claims)
        .map_err(|err| from_jwt(&err))
}

/// Decodes unpadded base64url (RFC 4648 §5); `None` on any invalid input.
fn b64url_decode(input: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unpadded base64url, for building test headers.
    fn b64url(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn token_with_header(header: &str) -> String {
        format!("{}.e30.c2ln", b64url(header.as_bytes()))
    }

    #[test]
    fn base64url_round_trips_all_lengths() {
        let data: Vec<u8> = (0..=255).collect();
        for len in 0..40 {
            let encoded = b64url(&data[200 - len..200]);
            assert_eq!(
                b64url_decode(&encoded).as_deref(),
                Some(&data[200 - len..200])
            );
        }
    }

    #[test]
    fn base64url_rejects_standard_alphabet_padding_and_bad_lengths() {
        assert_eq!(b64url_decode("+/"), None);
        assert_eq!(b64url_decode("QQ=="), None);
        assert_eq!(b64url_decode("QUJDR"), None);
        assert_eq!(b64url_decode("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
    }

    #[test]
    fn rs256_header_with_kid_is_accepted() {
        let token = token_with_header(r#"{"alg":"RS256","typ":"JWT","kid":"k1"}"#);
        let header = parse_header(&token).expect("valid header");
        assert_eq!(header.kid, "k1");
    }

    #[test]
    fn algorithms_other_than_rs256_are_refused() {
        for alg in [
            r#""none""#,
            r#""HS256""#,
            r#""RS384""#,
            r#""PS256""#,
            "null",
        ] {
            let token = token_with_header(&format!(r#"{{"alg":{alg},"kid":"k1"}}"#));
            let result = parse_header(&token);
            assert!(
                matches!(result, Err(AuthError::UnsupportedAlgorithm)),
                "{alg}"
            );
        }
        let no_alg = token_with_header(r#"{"kid":"k1"}"#);
        assert!(matches!(
            parse_header(&no_alg),
            Err(AuthError::UnsupportedAlgorithm)
        ));
        let numeric_alg = token_with_header(r#"{"alg":1,"kid":"k1"}"#);
        assert!(matches!(
            parse_header(&numeric_alg),
            Err(AuthError::Malformed)
        ));
    }

    #[test]
    fn missing_or_empty_kid_is_refused() {
        for header in [r#"{"alg":"RS256"}"#, r#"{"alg":"RS256","kid":""}"#] {
            let token = token_with_header(header);
            assert!(matches!(parse_header(&token), Err(AuthError::MissingKeyId)));
        }
    }

    #[test]
    fn wrong_shapes_are_malformed() {
        let header = b64url(br#"{"alg":"RS256","kid":"k"}"#);
        let oversized = format!("{header}.{}.sig", "A".repeat(MAX_TOKEN_LEN));
        for token in [
            "",
            "garbage",
            "a.b",
            "a.b.c.d",
            ".e30.sig",
            "!!!.e30.sig",
            oversized.as_str(),
        ] {
            assert!(
                matches!(parse_header(token), Err(AuthError::Malformed)),
                "{token:.20}"
            );
        }
    }
}
