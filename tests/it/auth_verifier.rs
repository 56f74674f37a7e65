//! Entra ID token verification against a local JWKS endpoint.

use azcops::auth::{AuthError, ROLE_ADMIN, ROLE_READER, Verifier, VerifierSettings};
use azure_sim::dev_idp::{self, DevIdpConfig};
use serde_json::json;
use uuid::Uuid;

use crate::support::tokens::{
    ENCRYPTION_KID, JwksServer, TEST_AUDIENCE, TokenBuilder, http_client,
};

pub(crate) fn tenant() -> Uuid {
    Uuid::new_v4()
}

pub(crate) async fn rejection(verifier: &Verifier, token: &str) -> AuthError {
    verifier
        .verify(token)
        .await
        .expect_err("token must be rejected")
}

#[tokio::test]
async fn valid_token_is_accepted_and_its_claims_are_parsed() {
    let server = JwksServer::start().await;
    let tid = tenant();
    let oid = Uuid::new_v4();
    let token = TokenBuilder::new(tid)
        .claim("oid", json!(oid.to_string()))
        .claim("sub", json!("subject-1"))
        .roles(&[ROLE_READER])
        .rs256();

    let claims = server.verifier().verify(&token).await.expect("valid token");

    assert_eq!(claims.tid, tid);
    assert_eq!(claims.oid, Some(oid));
    assert_eq!(claims.sub, "subject-1");
    assert_eq!(claims.name.as_deref(), Some("alice@contoso.example"));
    assert_eq!(claims.roles, vec![ROLE_READER.to_owned()]);
    assert!(claims.has_role(ROLE_READER));
    assert!(!claims.has_role(ROLE_ADMIN));
    assert_eq!(claims.principal(), oid.to_string());
}

#[tokio::test]
async fn token_without_roles_claim_has_no_roles_and_principal_falls_back_to_sub() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant())
        .without_claim("roles")
        .without_claim("oid")
        .claim("sub", json!("only-sub"))
        .rs256();

    let claims = server.verifier().verify(&token).await.expect("valid token");

    assert!(claims.roles.is_empty());
    assert_eq!(claims.oid, None);
    assert_eq!(claims.principal(), "only-sub");
}

#[tokio::test]
async fn token_expired_beyond_the_leeway_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).exp_offset(-120).rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::Expired), "{err:?}");
}

#[tokio::test]
async fn token_expired_within_the_leeway_is_accepted() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).exp_offset(-20).rs256();

    let result = server.verifier().verify(&token).await;

    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn token_without_exp_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).without_claim("exp").rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::MissingClaim("exp")), "{err:?}");
}

#[tokio::test]
async fn token_not_yet_valid_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).nbf_offset(600).rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::NotYetValid), "{err:?}");
}

#[tokio::test]
async fn token_for_another_audience_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant())
        .aud("api://someone-else")
        .rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::WrongAudience), "{err:?}");
}

#[tokio::test]
async fn token_with_an_audience_list_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant())
        .claim("aud", json!([TEST_AUDIENCE, "api://someone-else"]))
        .rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::WrongAudience), "{err:?}");
}

#[tokio::test]
async fn token_from_another_issuer_host_is_rejected() {
    let server = JwksServer::start().await;
    let tid = tenant();
    let token = TokenBuilder::new(tid)
        .iss(&format!("https://login.evil.example/{tid}/v2.0"))
        .rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::WrongIssuer), "{err:?}");
}

#[tokio::test]
async fn token_whose_issuer_names_another_tenant_than_its_tid_is_rejected() {
    let server = JwksServer::start().await;
    let other = tenant();
    let token = TokenBuilder::new(tenant())
        .iss(&format!("https://login.microsoftonline.com/{other}/v2.0"))
        .rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::WrongIssuer), "{err:?}");
}

#[tokio::test]
async fn v1_access_token_with_appid_is_accepted() {
    let server = JwksServer::start().await;
    let tid = tenant();
    let token = TokenBuilder::new(tid).v1().rs256();

    let claims = server.verifier().verify(&token).await.expect("v1 token");

    assert_eq!(claims.tid, tid);
}

#[tokio::test]
async fn v1_token_without_appid_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant())
        .v1()
        .without_claim("appid")
        .rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::NotAnAccessToken(_)), "{err:?}");
}

#[tokio::test]
async fn v2_token_without_azp_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).without_claim("azp").rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::NotAnAccessToken(_)), "{err:?}");
}

#[tokio::test]
async fn id_token_of_the_same_app_and_tenant_with_roles_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant())
        .roles(&[ROLE_ADMIN])
        .id_token()
        .rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::NotAnAccessToken(_)), "{err:?}");
    assert_eq!(err.description(), "not an access token");
}

#[tokio::test]
async fn token_with_neither_ver_nor_azp_nor_appid_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant())
        .without_claim("ver")
        .without_claim("azp")
        .rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::NotAnAccessToken(_)), "{err:?}");
}

#[tokio::test]
async fn token_without_tid_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).without_claim("tid").rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::MissingClaim("tid")), "{err:?}");
}

#[tokio::test]
async fn token_whose_tid_is_not_a_uuid_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant())
        .claim("tid", json!("contoso"))
        .iss("https://login.microsoftonline.com/contoso/v2.0")
        .rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::InvalidClaim("tid")), "{err:?}");
}

#[tokio::test]
async fn alg_none_token_is_rejected_without_touching_the_jwks() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).roles(&[ROLE_ADMIN]).alg_none();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::UnsupportedAlgorithm), "{err:?}");
    assert_eq!(server.fetch_count(), 0);
}

#[tokio::test]
async fn hs256_token_keyed_with_the_public_key_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant())
        .roles(&[ROLE_ADMIN])
        .hs256_with_public_key_as_secret();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::UnsupportedAlgorithm), "{err:?}");
    assert_eq!(server.fetch_count(), 0);
}

#[tokio::test]
async fn rs384_token_signed_with_the_good_key_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).rs384();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::UnsupportedAlgorithm), "{err:?}");
    assert_eq!(server.fetch_count(), 0);
}

#[tokio::test]
async fn attacker_signed_token_naming_the_good_kid_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant())
        .roles(&[ROLE_ADMIN])
        .rs256_with_attacker_key();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn encryption_key_in_the_jwks_is_not_accepted_for_signatures() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant())
        .kid(ENCRYPTION_KID)
        .rs256_with_attacker_key();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::UnknownKey), "{err:?}");
}

#[tokio::test]
async fn token_with_a_tampered_signature_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).tampered();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn token_whose_payload_was_edited_after_signing_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).tampered_payload();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::BadSignature), "{err:?}");
}

#[tokio::test]
async fn token_without_kid_is_rejected() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).without_kid().rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(matches!(err, AuthError::MissingKeyId), "{err:?}");
}

#[tokio::test]
async fn garbage_strings_are_rejected_as_malformed() {
    let server = JwksServer::start().await;
    let verifier = server.verifier();

    for garbage in ["", "not-a-token", "a.b.c", "....", "e30.e30"] {
        let err = rejection(&verifier, garbage).await;
        assert!(matches!(err, AuthError::Malformed), "{garbage:?}: {err:?}");
    }
    assert_eq!(server.fetch_count(), 0);
}

#[tokio::test]
async fn rejection_descriptions_do_not_echo_the_token() {
    let server = JwksServer::start().await;
    let token = TokenBuilder::new(tenant()).exp_offset(-3600).rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert_eq!(err.description(), "token expired");
    let display = err.to_string();
    for segment in token.split('.') {
        assert!(!display.contains(segment), "{display}");
    }
}

#[tokio::test]
async fn tokens_of_the_development_identity_provider_are_access_tokens_the_verifier_accepts() {
    let key_file = std::env::temp_dir().join(format!("azcops-dev-idp-{}.der", Uuid::new_v4()));
    let operator = tenant();
    let config = DevIdpConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        key_file: key_file.clone(),
        audience: TEST_AUDIENCE.to_owned(),
        default_tenant_id: operator,
        https_listen: None,
        tls_file: std::env::temp_dir().join("unused-dev-idp-tls.pem"),
    };
    let router = dev_idp::router(&config).expect("dev IdP router");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let get = |path: String| async move {
        let response = http_client().get(path).send().await.expect("GET");
        assert!(response.status().is_success(), "{}", response.status());
        response.text().await.expect("body")
    };
    let token = get(format!("{base}/token?roles=AzCops.Reader")).await;
    let settings = VerifierSettings {
        jwks_url: format!("{base}/keys").parse().expect("JWKS URL"),
        ..crate::support::tokens::verifier_settings(&"http://unused/".parse().expect("URL"))
    };

    let claims = Verifier::new(settings, http_client())
        .verify(&token)
        .await
        .expect("a dev IdP token is a valid access token");

    assert_eq!(claims.tid, operator);
    assert!(claims.has_role(ROLE_READER));
    server.abort();
    std::fs::remove_file(key_file).ok();
}

// Verified tokens kept for the caller's next requests (src/auth/verified.rs).

#[tokio::test]
async fn a_kept_token_is_refused_once_it_expires() {
    let server = JwksServer::start().await;
    let verifier = server.verifier_with(|settings| VerifierSettings {
        leeway_secs: 0,
        ..settings
    });
    let token = TokenBuilder::new(tenant()).exp_offset(2).rs256();
    verifier
        .verify(&token)
        .await
        .expect("valid for two seconds");

    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    let err = rejection(&verifier, &token).await;

    assert!(matches!(err, AuthError::Expired), "{err:?}");
}

#[tokio::test]
async fn a_payload_edited_after_its_token_was_kept_is_refused() {
    let server = JwksServer::start().await;
    let verifier = server.verifier();
    let builder = TokenBuilder::new(tenant()).roles(&[ROLE_READER]);
    let token = builder.clone().rs256();
    let forged = builder.tampered_payload();
    assert_eq!(
        token.rsplit_once('.').map(|(_, s)| s),
        forged.rsplit_once('.').map(|(_, s)| s),
        "the forgery carries the kept token's signature"
    );

    let claims = verifier.verify(&token).await.expect("the signed token");
    let err = rejection(&verifier, &forged).await;

    assert_eq!(claims.roles, vec![ROLE_READER.to_owned()]);
    assert!(matches!(err, AuthError::BadSignature), "{err:?}");
}

/// A verifier keeping verified tokens for `ttl`, and a token it verified whose signing key has
/// since been withdrawn and the key set fetched again without it (by a token of an unknown key,
/// whose refusal is returned too).
async fn token_of_a_withdrawn_key(
    ttl: std::time::Duration,
) -> (JwksServer, Verifier, String, AuthError) {
    let server = JwksServer::start().await;
    let verifier = server.verifier_with(|settings| VerifierSettings {
        verified_ttl: ttl,
        min_refresh_interval: std::time::Duration::ZERO,
        ..settings
    });
    let withdrawn = server.add_key("test-key-withdrawn");
    let token = TokenBuilder::new(tenant()).rs256_with(&withdrawn);
    verifier
        .verify(&token)
        .await
        .expect("signed by a published key");

    server.withdraw_key("test-key-withdrawn");
    let unknown = TokenBuilder::new(tenant()).kid("not-published").rs256();
    let unknown = rejection(&verifier, &unknown).await;
    (server, verifier, token, unknown)
}

#[tokio::test]
async fn a_withdrawn_key_admits_a_kept_token_no_longer_than_the_verified_ttl() {
    let ttl = std::time::Duration::from_secs(1);
    let (server, verifier, token, unknown) = token_of_a_withdrawn_key(ttl).await;
    assert!(matches!(unknown, AuthError::UnknownKey), "{unknown:?}");
    let fetches = server.fetch_count();
    assert_eq!(fetches, 2, "the set without the withdrawn key was fetched");

    verifier
        .verify(&token)
        .await
        .expect("kept: accepted again within the TTL");
    tokio::time::sleep(ttl + std::time::Duration::from_millis(100)).await;
    let err = rejection(&verifier, &token).await;

    assert!(matches!(err, AuthError::UnknownKey), "{err:?}");
}

#[tokio::test]
async fn a_zero_verified_ttl_checks_every_request() {
    let (_server, verifier, token, _) = token_of_a_withdrawn_key(std::time::Duration::ZERO).await;
    let err = rejection(&verifier, &token).await;

    assert!(matches!(err, AuthError::UnknownKey), "{err:?}");
}
