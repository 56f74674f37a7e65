//! The JWKS key cache behind the verifier: lazy fetch, rate-limited refetch on unknown key
//! ids, and the periodic refresh in the background that keeps requests answered from the cached
//! keys while the JWKS endpoint is slow or failing.

use std::time::Duration;

use azcops::auth::{AuthError, Verifier, VerifierSettings};

use crate::auth_verifier::{rejection, tenant};
use crate::support::tokens::{
    JwksServer, TEST_REFRESH_INTERVAL, TokenBuilder, http_client, unreachable_jwks_url,
    verifier_settings,
};

/// Long enough that no refetch is allowed during a test.
const NO_REFETCH: Duration = Duration::from_secs(3600);

/// A bound on requests that must not wait for the JWKS endpoint: far above what answering from
/// the cache takes, below the 10 s the key cache gives one fetch, so a request that waited on
/// the held fetch fails the test instead of hanging it.
const PROMPTLY: Duration = Duration::from_secs(5);

/// Waits until the verifier may refetch the JWKS again.
async fn past_refresh_interval() {
    tokio::time::sleep(TEST_REFRESH_INTERVAL * 2).await;
}

/// A verifier whose cached keys are stale at once and that may fetch at any time. Its HTTP
/// client has no timeout of its own, so a held fetch lasts the key cache's whole 10 s. It keeps
/// no verified tokens, so each request looks its key up.
fn always_stale(server: &JwksServer) -> Verifier {
    let settings = VerifierSettings {
        max_key_age: Duration::ZERO,
        min_refresh_interval: Duration::ZERO,
        verified_ttl: Duration::ZERO,
        ..verifier_settings(&server.url)
    };
    Verifier::new(settings, reqwest::Client::new())
}

#[tokio::test]
async fn cached_keys_answer_at_once_while_the_refresh_of_a_stale_set_hangs() {
    let server = JwksServer::start().await;
    let verifier = always_stale(&server);
    let token = TokenBuilder::new(tenant()).rs256();
    verifier.verify(&token).await.expect("warm-up token");
    server.hold_fetches();

    // The set is stale: this request starts a refresh, whose fetch the endpoint holds.
    let first = tokio::time::timeout(PROMPTLY, verifier.verify(&token)).await;
    server.held_fetch_arrived().await;
    let mut later = Vec::new();
    for _ in 0..5 {
        later.push(tokio::time::timeout(PROMPTLY, verifier.verify(&token)).await);
    }

    let first = first.expect("the request that found the set stale did not wait for it");
    first.expect("cached key accepted");
    for result in later {
        result
            .expect("answered while the refresh hangs")
            .expect("cached key accepted");
    }
    // Everything was answered while the refresh was still stuck at the endpoint.
    assert_eq!(
        server.answered_count(),
        1,
        "only the warm-up fetch was answered"
    );
    assert_eq!(server.fetch_count(), 2, "one refresh, not one per request");
    server.release_fetches();
}

#[tokio::test]
async fn cached_keys_keep_answering_while_refreshes_of_a_stale_set_fail() {
    let server = JwksServer::start().await;
    let verifier = always_stale(&server);
    verifier
        .verify(&TokenBuilder::new(tenant()).rs256())
        .await
        .expect("warm-up token");
    server.set_failing(true);

    for _ in 0..5 {
        let token = TokenBuilder::new(tenant()).rs256();
        let result = tokio::time::timeout(PROMPTLY, verifier.verify(&token)).await;
        result.expect("answered").expect("cached key accepted");
        tokio::task::yield_now().await;
    }

    let refreshed = async {
        while server.fetch_count() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(PROMPTLY, refreshed)
        .await
        .expect("the stale set was refreshed in the background (and failed)");
}

#[tokio::test]
async fn refresh_of_a_stale_set_keeps_the_rate_limit() {
    let server = JwksServer::start().await;
    let verifier = server.verifier_with(|settings| VerifierSettings {
        max_key_age: Duration::ZERO,
        min_refresh_interval: NO_REFETCH,
        ..settings
    });

    for _ in 0..20 {
        let token = TokenBuilder::new(tenant()).rs256();
        verifier.verify(&token).await.expect("cached key accepted");
    }
    let unknown = rejection(&verifier, &TokenBuilder::new(tenant()).kid("nope").rs256()).await;

    assert!(matches!(unknown, AuthError::UnknownKey), "{unknown:?}");
    assert_eq!(server.fetch_count(), 1, "only the initial fetch");
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
