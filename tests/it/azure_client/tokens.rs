//! Tokens: cached per tenant and scope, refreshed before expiry, fetched once for many
//! concurrent callers; never shown in errors or logs.

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azcops::azure::client::Api;
use azcops::azure::credentials::{StaticClientSecret, TokenCache, client_secret_source};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::fakes::{CLIENT_SECRET, TENANT, TokenServer, context, quick_client, reply, serve};

#[tokio::test]
async fn a_token_is_reused_until_the_refresh_margin_and_then_replaced() {
    let azure = serve(|_| async { reply(200, &[], json!({})) }).await;
    let (client, tokens) = quick_client(&azure.url).await;
    // 62 s tokens with the 60 s margin: fresh for two seconds.
    tokens.lifetime_secs.store(62, Ordering::SeqCst);
    let ctx = context();
    let url = client.arm_url("/x", &[]).expect("url");

    for _ in 0..2 {
        let _: Value = client
            .get(&ctx, Api::Advisor, url.clone())
            .await
            .expect("call");
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let _: Value = client.get(&ctx, Api::Advisor, url).await.expect("call");

    let auth: Vec<Option<String>> = azure
        .received()
        .into_iter()
        .map(|r| r.authorization)
        .collect();
    let bearer = |t: &str| Some(format!("Bearer {t}"));
    assert_eq!(
        auth,
        vec![bearer("tok-1"), bearer("tok-1"), bearer("tok-2")]
    );
    assert_eq!(tokens.issued(), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let tokens = TokenServer::start().await;
    tokens.delay_ms.store(200, Ordering::SeqCst);
    let http = reqwest::Client::new();
    let secret = Arc::new(StaticClientSecret(SecretString::from(CLIENT_SECRET)));
    let cache = TokenCache::new(client_secret_source(
        http,
        tokens.authority.clone(),
        "app".into(),
        secret,
    ));

    let calls = (0..20).map(|_| cache.token(TENANT, "https://management.azure.com/.default"));
    let results = futures::future::join_all(calls).await;

    assert!(
        results
            .iter()
            .all(|t| t.as_ref().is_ok_and(|t| t.expose_secret() == "tok-1"))
    );
    assert_eq!(tokens.issued(), 1);
    // Another scope is another token.
    let other = cache
        .token(TENANT, "https://metrics.monitor.azure.com/.default")
        .await
        .expect("token");
    assert_eq!(other.expose_secret(), "tok-2");
}

/// A log sink for one test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_and_tokens_never_appear_in_errors_or_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let azure = serve(|_| async {
        reply(
            403,
            &[],
            json!({"error": {"code": "AuthorizationFailed", "message": "denied"}}),
        )
    })
    .await;
    let (client, tokens) = quick_client(&azure.url).await;
    let url = client
        .arm_url(
            "/blob",
            &[("sig", "sas-signature-value"), ("api-version", "1")],
        )
        .expect("url");
    let denied = client
        .get::<Value>(&context(), Api::Advisor, url)
        .await
        .unwrap_err();

    let wrong = Arc::new(StaticClientSecret(SecretString::from("wrong-secret-value")));
    let cache = TokenCache::new(client_secret_source(
        reqwest::Client::new(),
        tokens.authority.clone(),
        "app".into(),
        wrong,
    ));
    let refused = cache.token(TENANT, "scope").await.unwrap_err();

    let logs = String::from_utf8(logs.0.lock().expect("log").clone()).expect("utf-8");
    let errors = format!("{denied} {denied:?} {refused} {refused:?} {cache:?}");
    assert!(
        logs.contains("azure request") && logs.contains("status=403"),
        "{logs}"
    );
    assert!(logs.contains("sig=REDACTED"), "{logs}");
    assert!(refused.to_string().contains("invalid_client"), "{refused}");
    assert!(!refused.is_retryable());
    for secret in [
        "tok-1",
        CLIENT_SECRET,
        "wrong-secret-value",
        "sas-signature-value",
    ] {
        assert!(!logs.contains(secret), "{secret} in logs: {logs}");
        assert!(!errors.contains(secret), "{secret} in errors: {errors}");
    }
}
