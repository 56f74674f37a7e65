//! Why a bearer token was refused.

use jsonwebtoken::errors::{Error as JwtError, ErrorKind};

/// A token was not accepted, or could not be checked.
///
/// Neither the `Display` text nor [`AuthError::description`] contains any part
/// of the token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Not a compact JWS, or undecodable header, payload or signature.
    #[error("the token is not a well-formed JWT")]
    Malformed,
    /// The header names an algorithm other than RS256 (or none at all).
    #[error("the token's signing algorithm is not accepted (only RS256 is)")]
    UnsupportedAlgorithm,
    /// The header has no `kid`, so no signing key can be chosen.
    #[error("the token header has no key id")]
    MissingKeyId,
    /// The `kid` is not in the JWKS, even after a refetch.
    #[error("the token was signed with a key that is not published in the JWKS")]
    UnknownKey,
    /// The signature does not verify with the key named by `kid`.
    #[error("the token signature is invalid")]
    BadSignature,
    /// `exp` lies in the past by more than the leeway.
    #[error("the token has expired")]
    Expired,
    /// `nbf` lies in the future by more than the leeway.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `aud` is not the expected audience.
    #[error("the token was issued for another audience")]
    WrongAudience,
    /// `iss` is not an accepted issuer for the token's tenant.
    #[error("the token issuer is not accepted for its tenant")]
    WrongIssuer,
    /// A required claim is absent.
    #[error("the token lacks the required claim `{0}`")]
    MissingClaim(&'static str),
    /// A claim is present but has an unusable value (e.g. `tid` not a UUID).
    #[error("the token claim `{0}` has an invalid value")]
    InvalidClaim(&'static str),
    /// A valid token, but not an access token (e.g. an ID token of the same app registration).
    #[error("the token is not an access token: {0}")]
    NotAnAccessToken(&'static str),
    /// The signing keys could not be fetched; the token could not be checked.
    #[error("the token signing keys are unavailable: {0}")]
    JwksUnavailable(String),
}

impl AuthError {
    /// Short text for the `error_description` of a `WWW-Authenticate` header:
    /// fixed per variant, with no token content and no characters that need
    /// quoting.
    pub fn description(&self) -> &'static str {
        match self {
            Self::Malformed => "malformed token",
            Self::UnsupportedAlgorithm => "unsupported signing algorithm",
            Self::MissingKeyId => "token header has no key id",
            Self::UnknownKey => "unknown signing key",
            Self::BadSignature => "invalid signature",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::WrongAudience => "invalid audience",
            Self::WrongIssuer => "invalid issuer",
            Self::MissingClaim(_) => "required claim missing",
            Self::InvalidClaim(_) => "invalid claim value",
            Self::NotAnAccessToken(_) => "not an access token",
            Self::JwksUnavailable(_) => "signing keys unavailable",
        }
    }

    /// True only when the signing keys could not be fetched: the token may be
    /// fine, so callers should answer 503 rather than 401.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::JwksUnavailable(_))
    }
}

/// Maps a `jsonwebtoken` decoding error onto an [`AuthError`].
pub(super) fn from_jwt(err: &JwtError) -> AuthError {
    match err.kind() {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidAlgorithmName => AuthError::UnsupportedAlgorithm,
        ErrorKind::MissingRequiredClaim(name) => AuthError::MissingClaim(claim_name(name)),
        ErrorKind::InvalidClaimFormat(name) => AuthError::InvalidClaim(claim_name(name)),
        _ => AuthError::Malformed,
    }
}

/// The static name of a registered claim that `jsonwebtoken` reports on.
fn claim_name(name: &str) -> &'static str {
    match name {
        "exp" => "exp",
        "nbf" => "nbf",
        "aud" => "aud",
        "iss" => "iss",
        "sub" => "sub",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::errors::new_error;
    use std::mem::discriminant;

    fn all_variants() -> Vec<AuthError> {
        vec![
            AuthError::Malformed,
            AuthError::UnsupportedAlgorithm,
            AuthError::MissingKeyId,
            AuthError::UnknownKey,
            AuthError::BadSignature,
            AuthError::Expired,
            AuthError::NotYetValid,
            AuthError::WrongAudience,
            AuthError::WrongIssuer,
            AuthError::MissingClaim("tid"),
            AuthError::InvalidClaim("tid"),
            AuthError::NotAnAccessToken("it carries a nonce"),
            AuthError::JwksUnavailable("connection refused".into()),
        ]
    }

    #[test]
    fn descriptions_are_short_and_safe_to_quote() {
        for err in all_variants() {
            let text = err.description();
            assert!(!text.is_empty() && text.len() <= 40, "{text}");
            assert!(
                text.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '),
                "{text}"
            );
        }
    }

    #[test]
    fn only_jwks_failures_count_as_unavailable() {
        let unavailable: Vec<_> = all_variants()
            .into_iter()
            .filter(AuthError::is_unavailable)
            .collect();
        assert_eq!(unavailable.len(), 1);
        assert!(matches!(unavailable[0], AuthError::JwksUnavailable(_)));
    }

    #[test]
    fn jwt_errors_map_to_specific_variants() {
        let cases = [
            (ErrorKind::InvalidSignature, AuthError::BadSignature),
            (ErrorKind::ExpiredSignature, AuthError::Expired),
            (ErrorKind::ImmatureSignature, AuthError::NotYetValid),
            (ErrorKind::InvalidAudience, AuthError::WrongAudience),
            (ErrorKind::InvalidIssuer, AuthError::WrongIssuer),
            (ErrorKind::InvalidAlgorithm, AuthError::UnsupportedAlgorithm),
            (ErrorKind::InvalidToken, AuthError::Malformed),
            (ErrorKind::InvalidKeyFormat, AuthError::Malformed),
        ];
        for (kind, expected) in cases {
            let actual = from_jwt(&new_error(kind));
            assert_eq!(discriminant(&actual), discriminant(&expected), "{actual:?}");
        }
    }

    #[test]
    fn claim_errors_keep_the_claim_name() {
        let missing = from_jwt(&new_error(ErrorKind::MissingRequiredClaim("exp".into())));
        assert!(
            matches!(missing, AuthError::MissingClaim("exp")),
            "{missing:?}"
        );
        let invalid = from_jwt(&new_error(ErrorKind::InvalidClaimFormat("zzz".into())));
        assert!(
            matches!(invalid, AuthError::InvalidClaim("unknown")),
            "{invalid:?}"
        );
    }
}
