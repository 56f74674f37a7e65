//! The claims of a verified token, and the tenant-bound issuer check.

use serde::Deserialize;
use uuid::Uuid;

use super::error::AuthError;
use super::{TENANT_PLACEHOLDER, VerifierSettings};

/// App role granting read access.
pub const ROLE_READER: &str = "AzCops.Reader";

/// App role granting administrative access.
pub const ROLE_ADMIN: &str = "AzCops.Admin";

/// App role granting decisions on recommendations (approve, reject, dismiss) besides reading.
pub const ROLE_APPROVER: &str = "AzCops.Approver";

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
    /// Checked by `jsonwebtoken`; read again only to know how long the verified token may be
    /// kept (a whole number of seconds; anything else is not kept).
    exp: Option<serde_json::Value>,
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
    ver: Option<String>,
    nonce: Option<serde_json::Value>,
    roles: Option<Vec<String>>,
}

impl RawClaims {
    /// The token's `exp`, in seconds since the epoch.
    pub(super) fn expires(&self) -> Option<u64> {
        self.exp.as_ref().and_then(serde_json::Value::as_u64)
    }
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
    require_access_token(&raw)?;
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

/// Refuses anything but an access token. An ID token issued to the same app registration has
/// the same `aud`, `iss` and `tid` and may carry `roles`; what it lacks is the client the token
/// was issued to (`azp` in v2.0 tokens, `appid` in v1.0 tokens), and it may carry a `nonce`,
/// which access tokens never do.
fn require_access_token(raw: &RawClaims) -> Result<(), AuthError> {
    if raw.nonce.is_some() {
        return Err(AuthError::NotAnAccessToken("it carries a nonce"));
    }
    let (client, missing) = match raw.ver.as_deref() {
        Some("2.0") => (&raw.azp, "a v2.0 token without azp"),
        Some("1.0") => (&raw.appid, "a v1.0 token without appid"),
        Some(_) => return Err(AuthError::InvalidClaim("ver")),
        None => return Err(AuthError::NotAnAccessToken("it has no ver claim")),
    };
    match client.as_deref() {
        Some(id) if !id.trim().is_empty() => Ok(()),
        _ => Err(AuthError::NotAnAccessToken(missing)),
    }
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
            "ver": "2.0",
            "azp": "11111111-2222-4333-8444-555555555555",
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
        // No user name claims: the client application names the caller.
        assert_eq!(
            claims.name.as_deref(),
            Some("11111111-2222-4333-8444-555555555555")
        );
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
    fn a_token_carries_every_role_it_lists() {
        let both = json!([ROLE_READER, ROLE_APPROVER]);
        let claims = from_raw(with("roles", both), &settings()).expect("valid");
        assert!(claims.has_role(ROLE_READER) && claims.has_role(ROLE_APPROVER));
        assert!(!claims.has_role(ROLE_ADMIN));
    }

    #[test]
    fn display_name_prefers_user_names_over_app_ids() {
        let mut value = valid();
        value["appid"] = json!("app-id");
        value["name"] = json!("Display Name");
        value["preferred_username"] = json!("");
        let claims = from_raw(raw(value), &settings()).expect("valid");
        assert_eq!(claims.name.as_deref(), Some("Display Name"));
        let claims = from_raw(v1_app_token("app-id"), &settings()).expect("valid");
        assert_eq!(claims.name.as_deref(), Some("app-id"));
    }

    /// A v1.0 access token of an application: `appid`, no `azp`, no user names.
    fn v1_app_token(appid: &str) -> RawClaims {
        let mut value = valid();
        let object = value.as_object_mut().expect("object");
        object.remove("azp");
        object.insert("ver".into(), json!("1.0"));
        object.insert("appid".into(), json!(appid));
        raw(value)
    }

    fn not_an_access_token(raw: RawClaims) -> bool {
        matches!(
            from_raw(raw, &settings()),
            Err(AuthError::NotAnAccessToken(_))
        )
    }

    #[test]
    fn id_token_with_the_same_audience_issuer_and_roles_is_refused() {
        let mut id_token = valid();
        id_token.as_object_mut().expect("object").remove("azp");
        id_token["nonce"] = json!("n-0S6_WzA2Mj");
        assert!(not_an_access_token(raw(id_token)));
        assert!(
            not_an_access_token(with("nonce", json!("n"))),
            "nonce with azp"
        );
    }

    #[test]
    fn v2_token_needs_azp_and_v1_token_needs_appid() {
        assert!(not_an_access_token(without("azp")));
        assert!(not_an_access_token(with("azp", json!(" "))));
        assert!(from_raw(v1_app_token("app-id"), &settings()).is_ok());
        assert!(not_an_access_token(v1_app_token("")));
        let mut v1_with_azp_only = valid();
        v1_with_azp_only["ver"] = json!("1.0");
        assert!(not_an_access_token(raw(v1_with_azp_only)));
    }

    #[test]
    fn token_without_ver_or_with_an_unknown_ver_is_refused() {
        assert!(not_an_access_token(without("ver")));
        let err = from_raw(with("ver", json!("3.0")), &settings()).expect_err("ver 3.0");
        assert!(matches!(err, AuthError::InvalidClaim("ver")), "{err:?}");
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
