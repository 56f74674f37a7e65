//! The claims of a verified token, and the tenant-bound issuer check.

use serde::Deserialize;
use uuid::Uuid;

use super::error::AuthError;
use super::{TENANT_PLACEHOLDER, VerifierSettings};

/// App role granting read access.
pub const ROLE_READER: &str = "AzCops.Reader";

/// App role granting administrative access.
pub const ROLE_ADMIN: &str = "AzCops.Admin";

/// The claims of a verified token.
#[derive(Debug, Clone)]
pub struct Claims {
    /// The tenant (`tid`) the token was issued in.
    pub tid: Uuid,
    /// The object id (`oid`) of the user or service principal, if present.
    pub oid: Option<Uuid>,
    /// The subject (`sub`).
    pub sub: String,
    /// A human-readable name for audit logs: `preferred_username`, `upn`,
    /// `name`, `azp` or `appid`, the first that is present.
    pub name: Option<String>,
    /// The app roles (`roles`); empty if the claim is absent.
    pub roles: Vec<String>,
}

impl Claims {
    /// Whether the token carries the app role `role` (exact match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The stable identity for audit logs: the `oid` if present, else `sub`.
    pub fn principal(&self) -> String {
        self.oid
            .map_or_else(|| self.sub.clone(), |oid| oid.to_string())
    }
}

/// The payload as signed; every field optional so that absence is reported
/// as a missing claim rather than as a parse error.
#[derive(Debug, Deserialize)]
pub(super) struct RawClaims {
    iss: Option<String>,
    aud: Option<serde_json::Value>,
    tid: Option<String>,
    oid: Option<String>,
    sub: Option<String>,
    name: Option<String>,
    preferred_username: Option<String>,
    upn: Option<String>,
    azp: Option<String>,
    appid: Option<String>,
    roles: Option<Vec<String>>,
}

/// Checks audience, tenant and issuer of an already signature- and
/// time-checked payload, and builds the [`Claims`].
pub(super) fn from_raw(raw: RawClaims, settings: &VerifierSettings) -> Result<Claims, AuthError> {
    if raw.aud.as_ref().and_then(|a| a.as_str()) != Some(settings.audience.as_str()) {
        return Err(AuthError::WrongAudience);
    }
    let tid_text = raw.tid.as_deref().ok_or(AuthError::MissingClaim("tid"))?;
    let tid = Uuid::parse_str(tid_text).map_err(|_| AuthError::InvalidClaim("tid"))?;
    let iss = raw.iss.as_deref().ok_or(AuthError::MissingClaim("iss"))?;
    if !issuer_matches(iss, tid_text, &settings.issuers) {
        return Err(AuthError::WrongIssuer);
    }
    let oid = parse_oid(raw.oid.as_deref())?;
    let sub = raw.sub.clone().ok_or(AuthError::MissingClaim("sub"))?;
    Ok(Claims {
        tid,
        oid,
        sub,
        name: display_name(&raw),
        roles: raw.roles.unwrap_or_default(),
    })
}

/// Whether `iss` equals one of `templates` with `{tid}` replaced by `tid`.
pub(super) fn issuer_matches(iss: &str, tid: &str, templates: &[String]) -> bool {
    templates
        .iter()
        .any(|template| template.replace(TENANT_PLACEHOLDER, tid) == iss)
}

/// The optional `oid`, which must be a UUID when present.
fn parse_oid(oid: Option<&str>) -> Result<Option<Uuid>, AuthError> {
    oid.map(Uuid::parse_str)
        .transpose()
        .map_err(|_| AuthError::InvalidClaim("oid"))
}

/// The most useful "who" for audit logs, users first, then applications.
fn display_name(raw: &RawClaims) -> Option<String> {
    [
        &raw.preferred_username,
        &raw.upn,
        &raw.name,
        &raw.azp,
        &raw.appid,
    ]
    .into_iter()
    .flatten()
    .find(|value| !value.is_empty())
    .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TID: &str = "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab";

    fn settings() -> VerifierSettings {
        let url = url::Url::parse("https://login.example/keys").expect("test url");
        VerifierSettings::new(url, "api://azcops")
    }

    fn raw(value: serde_json::Value) -> RawClaims {
        serde_json::from_value(value).expect("raw claims")
    }

    fn valid() -> serde_json::Value {
        json!({
            "iss": format!("https://login.microsoftonline.com/{TID}/v2.0"),
            "aud": "api://azcops",
            "tid": TID,
            "oid": "00000000-0000-4000-8000-000000000001",
            "sub": "subject",
            "roles": [ROLE_READER],
        })
    }

    fn with(key: &str, value: serde_json::Value) -> RawClaims {
        let mut claims = valid();
        claims[key] = value;
        raw(claims)
    }

    fn without(key: &str) -> RawClaims {
        let mut claims = valid();
        claims.as_object_mut().expect("object").remove(key);
        raw(claims)
    }

    #[test]
    fn issuer_template_is_bound_to_the_tenant() {
        let templates = settings().issuers;
        let v2 = format!("https://login.microsoftonline.com/{TID}/v2.0");
        let v1 = format!("https://sts.windows.net/{TID}/");
        assert!(issuer_matches(&v2, TID, &templates));
        assert!(issuer_matches(&v1, TID, &templates));
        let other = "00000000-0000-0000-0000-000000000000";
        assert!(!issuer_matches(&v2, other, &templates));
        assert!(!issuer_matches(&format!("{v2}/"), TID, &templates));
        assert!(!issuer_matches("https://evil.example/", TID, &templates));
    }

    #[test]
    fn fixed_issuer_without_placeholder_matches_literally() {
        let templates = vec!["https://issuer.example/".to_owned()];
        assert!(issuer_matches("https://issuer.example/", TID, &templates));
        assert!(!issuer_matches("https://issuer.example", TID, &templates));
    }

    #[test]
    fn valid_payload_becomes_claims() {
        let claims = from_raw(raw(valid()), &settings()).expect("valid");
        assert_eq!(claims.tid.to_string(), TID);
        assert_eq!(claims.principal(), "00000000-0000-4000-8000-000000000001");
        assert!(claims.has_role(ROLE_READER));
        assert!(!claims.has_role(ROLE_ADMIN));
        assert_eq!(claims.name, None);
    }

    #[test]
    fn principal_falls_back_to_sub() {
        let claims = from_raw(without("oid"), &settings()).expect("valid");
        assert_eq!(claims.principal(), "subject");
    }

    #[test]
    fn roles_default_to_empty() {
        let claims = from_raw(without("roles"), &settings()).expect("valid");
        assert!(claims.roles.is_empty());
    }

    #[test]
    fn display_name_prefers_user_names_over_app_ids() {
        let mut value = valid();
        value["appid"] = json!("app-id");
        value["name"] = json!("Display Name");
        value["preferred_username"] = json!("");
        let claims = from_raw(raw(value), &settings()).expect("valid");
        assert_eq!(claims.name.as_deref(), Some("Display Name"));
        let claims = from_raw(with("appid", json!("app-id")), &settings()).expect("valid");
        assert_eq!(claims.name.as_deref(), Some("app-id"));
    }

    #[test]
    fn audience_must_be_exactly_the_configured_string() {
        for aud in [json!("api://other"), json!(["api://azcops", "api://other"])] {
            let err = from_raw(with("aud", aud), &settings()).expect_err("wrong aud");
            assert!(matches!(err, AuthError::WrongAudience));
        }
    }

    #[test]
    fn tenant_claim_is_required_and_must_be_a_uuid() {
        let err = from_raw(without("tid"), &settings()).expect_err("no tid");
        assert!(matches!(err, AuthError::MissingClaim("tid")));
        let err = from_raw(with("tid", json!("contoso")), &settings()).expect_err("bad tid");
        assert!(matches!(err, AuthError::InvalidClaim("tid")));
    }

    #[test]
    fn issuer_of_another_tenant_is_refused() {
        let iss =
            json!("https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0");
        let err = from_raw(with("iss", iss), &settings()).expect_err("other tenant");
        assert!(matches!(err, AuthError::WrongIssuer));
    }

    #[test]
    fn malformed_oid_is_refused() {
        let err = from_raw(with("oid", json!("nope")), &settings()).expect_err("bad oid");
        assert!(matches!(err, AuthError::InvalidClaim("oid")));
    }
}
