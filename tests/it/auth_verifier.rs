//! Entra ID token verification against a local JWKS endpoint.

use std::time::Duration;

use azcops::auth::{AuthError, ROLE_ADMIN, ROLE_READER, Verifier};
use serde_json::json;
use uuid::Uuid;

use crate::support::tokens::{
    ENCRYPTION_KID, JwksServer, TEST_AUDIENCE, TEST_REFRESH_INTERVAL, TokenBuilder, http_client,
    unreachable_jwks_url, verifier_settings,
};

/// Long enough that no refetch is allowed during a test.
const NO_REFETCH: Duration = Duration::from_secs(3600);

fn tenant() -> Uuid {
    Uuid::new_v4()
}

async fn rejection(verifier: &Verifier, token: &str) -> AuthError {
    verifier
        .verify(token)
        .await
        .expect_err("token must be rejected")
}

/// Waits until the verifier may refetch the JWKS again.
async fn past_refresh_interval() {
    tokio::time::sleep(TEST_REFRESH_INTERVAL * 2).await;
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
async fn jwks_is_fetched_lazily_and_then_served_from_the_cache() {
    let server = JwksServer::start().await;
    let verifier = server.verifier();
    assert_eq!(server.fetch_count(), 0, "construction must not fetch");

    for _ in 0..3 {
        let token = TokenBuilder::new(tenant()).rs256();
        verifier.verify(&token).await.expect("valid token");
    }

    assert_eq!(server.fetch_count(), 1);
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
async fn token_with_the_v1_issuer_form_is_accepted() {
    let server = JwksServer::start().await;
    let tid = tenant();
    let token = TokenBuilder::new(tid)
        .iss(&format!("https://sts.windows.net/{tid}/"))
        .rs256();

    let claims = server.verifier().verify(&token).await.expect("v1 token");

    assert_eq!(claims.tid, tid);
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
async fn unknown_kid_is_rejected_after_exactly_one_refetch() {
    let server = JwksServer::start().await;
    let verifier = server.verifier_with_refresh_interval(Duration::from_secs(1));
    verifier
        .verify(&TokenBuilder::new(tenant()).rs256())
        .await
        .expect("warm-up token");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let first = rejection(
        &verifier,
        &TokenBuilder::new(tenant()).kid("nope-1").rs256(),
    )
    .await;
    let second = rejection(
        &verifier,
        &TokenBuilder::new(tenant()).kid("nope-2").rs256(),
    )
    .await;

    assert!(matches!(first, AuthError::UnknownKey), "{first:?}");
    assert!(matches!(second, AuthError::UnknownKey), "{second:?}");
    assert_eq!(server.fetch_count(), 2, "warm-up fetch plus one refetch");
}

#[tokio::test]
async fn flood_of_unknown_kids_does_not_refetch_beyond_the_rate_limit() {
    let server = JwksServer::start().await;
    let verifier = server.verifier_with_refresh_interval(NO_REFETCH);

    for i in 0..50 {
        let token = TokenBuilder::new(tenant())
            .kid(&format!("random-{i}"))
            .rs256();
        let err = rejection(&verifier, &token).await;
        assert!(matches!(err, AuthError::UnknownKey), "{err:?}");
    }

    assert_eq!(server.fetch_count(), 1, "only the initial fetch");
}

#[tokio::test]
async fn concurrent_first_requests_collapse_into_one_fetch() {
    let server = JwksServer::start().await;
    let verifier = server.verifier_with_refresh_interval(NO_REFETCH);
    let token = TokenBuilder::new(tenant()).rs256();

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (verifier, token) = (verifier.clone(), token.clone());
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("valid token");
    }

    assert_eq!(server.fetch_count(), 1);
}

#[tokio::test]
async fn rotated_key_is_picked_up_on_first_sight_of_its_kid() {
    let server = JwksServer::start().await;
    let verifier = server.verifier();
    verifier
        .verify(&TokenBuilder::new(tenant()).rs256())
        .await
        .expect("token with the old key");
    let rotated = server.add_key("test-key-2");
    past_refresh_interval().await;

    let claims = verifier
        .verify(&TokenBuilder::new(tenant()).rs256_with(&rotated))
        .await
        .expect("token with the rotated key");

    assert!(claims.roles.is_empty());
    assert_eq!(server.fetch_count(), 2);
    verifier
        .verify(&TokenBuilder::new(tenant()).rs256())
        .await
        .expect("old key still published");
    assert_eq!(server.fetch_count(), 2, "both keys now cached");
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
async fn unreachable_jwks_server_makes_verification_unavailable() {
    let verifier = Verifier::new(verifier_settings(&unreachable_jwks_url()), http_client());
    let token = TokenBuilder::new(tenant()).rs256();

    let err = rejection(&verifier, &token).await;

    assert!(err.is_unavailable(), "{err:?}");
    assert!(matches!(err, AuthError::JwksUnavailable(_)), "{err:?}");
}

#[tokio::test]
async fn jwks_server_answering_503_makes_verification_unavailable() {
    let server = JwksServer::start().await;
    server.set_failing(true);
    let token = TokenBuilder::new(tenant()).rs256();

    let err = rejection(&server.verifier(), &token).await;

    assert!(err.is_unavailable(), "{err:?}");
    assert_eq!(err.description(), "signing keys unavailable");
}

#[tokio::test]
async fn cached_keys_keep_working_while_the_jwks_server_fails() {
    let server = JwksServer::start().await;
    let verifier = server.verifier();
    verifier
        .verify(&TokenBuilder::new(tenant()).rs256())
        .await
        .expect("warm-up token");
    server.set_failing(true);
    past_refresh_interval().await;

    let known = verifier.verify(&TokenBuilder::new(tenant()).rs256()).await;
    let new_kid = TokenBuilder::new(tenant()).kid("not-yet-published").rs256();
    let unknown = rejection(&verifier, &new_kid).await;

    assert!(known.is_ok(), "{known:?}");
    assert!(unknown.is_unavailable(), "{unknown:?}");
    assert_eq!(server.fetch_count(), 2);
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
