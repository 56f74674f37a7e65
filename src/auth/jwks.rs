//! The JWKS key cache: lazy fetch, refetch on unknown key ids (rate-limited,
//! concurrent refreshes collapsed into one), and a periodic refresh (daily by
//! default) so that keys withdrawn by the authority eventually stop being
//! accepted.
//!
//! The periodic refresh runs in the background: a request whose `kid` is in
//! the cached set is answered from it at once, even while a refresh of the
//! stale set is slow or failing. Only requests that need a key the cache does
//! not have wait for a fetch.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};
use url::Url;

use super::error::AuthError;

/// Upper bound on one JWKS fetch, on top of the HTTP client's own timeouts.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// After a failed fetch, retry no sooner than this (or the refresh interval,
/// if shorter), so an outage does not lock the keys out for long.
const FAILED_FETCH_RETRY: Duration = Duration::from_secs(10);

/// Verification keys by key id.
type KeyMap = HashMap<String, Arc<DecodingKey>>;

/// A JWKS document.
#[derive(Debug, Deserialize)]
struct JwkSet {
    keys: Vec<RawJwk>,
}

/// One JWK, with just the fields needed for RSA signature keys.
#[derive(Debug, Deserialize)]
struct RawJwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// The keys currently known.
#[derive(Default)]
struct Snapshot {
    keys: KeyMap,
    fetched_at: Option<Instant>,
}

impl Snapshot {
    /// Whether the keys are due for their periodic refresh (or were never fetched).
    fn is_stale(&self, max_age: Duration) -> bool {
        self.fetched_at.is_none_or(|at| at.elapsed() >= max_age)
    }
}

/// Bookkeeping of fetch attempts, guarded by the refresh lock.
#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    last_error: Option<String>,
}

impl RefreshState {
    /// Whether the rate limit allows another fetch now.
    fn may_fetch(&self, interval: Duration) -> bool {
        let wait = if self.last_error.is_some() {
            interval.min(FAILED_FETCH_RETRY)
        } else {
            interval
        };
        self.last_attempt.is_none_or(|at| at.elapsed() >= wait)
    }
}

/// The signing keys of one JWKS URL.
pub(super) struct KeyCache {
    url: Url,
    http: reqwest::Client,
    min_refresh_interval: Duration,
    max_key_age: Duration,
    snapshot: RwLock<Snapshot>,
    refresh: Arc<Mutex<RefreshState>>,
}

impl KeyCache {
    /// An empty cache; nothing is fetched until the first lookup.
    pub(super) fn new(
        url: Url,
        http: reqwest::Client,
        min_refresh_interval: Duration,
        max_key_age: Duration,
    ) -> Self {
        Self {
            url,
            http,
            min_refresh_interval,
            max_key_age,
            snapshot: RwLock::default(),
            refresh: Arc::default(),
        }
    }

    /// The verification key for `kid`: from the cache if it is there (starting a
    /// background refresh when the cached set is stale), otherwise after a
    /// fetch, if the rate limit allows one.
    pub(super) async fn key_for(
        self: &Arc<Self>,
        kid: &str,
    ) -> Result<Arc<DecodingKey>, AuthError> {
        let (key, stale) = {
            let snapshot = self.snapshot.read().await;
            let stale = snapshot.is_stale(self.max_key_age);
            (snapshot.keys.get(kid).cloned(), stale)
        };
        match key {
            Some(key) => {
                if stale {
                    self.refresh_in_background();
                }
                Ok(key)
            }
            None => self.refresh_for(kid).await,
        }
    }

    /// Starts one background refresh of a stale set, unless a fetch is already
    /// under way or the rate limit says not yet; never waits.
    fn refresh_in_background(self: &Arc<Self>) {
        let Ok(mut state) = Arc::clone(&self.refresh).try_lock_owned() else {
            return; // a fetch is under way
        };
        if !state.may_fetch(self.min_refresh_interval) {
            return;
        }
        state.last_attempt = Some(Instant::now());
        let cache = Arc::clone(self);
        tokio::spawn(async move {
            state.last_error = cache.fetch_and_store().await.err();
        });
    }

    /// Refetches (at most one task at a time, rate-limited) and looks `kid` up again.
    async fn refresh_for(&self, kid: &str) -> Result<Arc<DecodingKey>, AuthError> {
        let mut state = self.refresh.lock().await;
        // Another task may have fetched while this one waited for the lock.
        if let Some(key) = self.snapshot.read().await.keys.get(kid) {
            return Ok(Arc::clone(key));
        }
        if state.may_fetch(self.min_refresh_interval) {
            state.last_attempt = Some(Instant::now());
            state.last_error = self.fetch_and_store().await.err();
        }
        self.any_key(kid, &state).await
    }

    /// The key for `kid`, or why there is none.
    async fn any_key(
        &self,
        kid: &str,
        state: &RefreshState,
    ) -> Result<Arc<DecodingKey>, AuthError> {
        if let Some(key) = self.snapshot.read().await.keys.get(kid) {
            return Ok(Arc::clone(key));
        }
        match &state.last_error {
            Some(reason) => Err(AuthError::JwksUnavailable(reason.clone())),
            None => Err(AuthError::UnknownKey),
        }
    }

    /// Fetches the JWKS and, if it has usable keys, replaces the cached ones.
    async fn fetch_and_store(&self) -> Result<(), String> {
        let keys = self.fetch().await.inspect_err(|reason| {
            tracing::warn!(url = %self.url, %reason, "fetching the token signing keys failed");
        })?;
        tracing::info!(url = %self.url, keys = keys.len(), "fetched the token signing keys");
        *self.snapshot.write().await = Snapshot {
            keys,
            fetched_at: Some(Instant::now()),
        };
        Ok(())
    }

    /// One bounded GET of the JWKS document.
    async fn fetch(&self) -> Result<KeyMap, String> {
        let request = async {
            let response = self.http.get(self.url.clone()).send().await?;
            response.error_for_status()?.json::<JwkSet>().await
        };
        let set = tokio::time::timeout(FETCH_TIMEOUT, request)
            .await
            .map_err(|_| format!("no answer within {} s", FETCH_TIMEOUT.as_secs()))?
            .map_err(|err| err.to_string())?;
        let keys = usable_keys(set);
        if keys.is_empty() {
            return Err("the JWKS has no usable RSA signing keys".to_owned());
        }
        Ok(keys)
    }
}

/// The RSA signature keys of `set` by kid; other keys are skipped.
fn usable_keys(set: JwkSet) -> KeyMap {
    set.keys.into_iter().filter_map(signing_key).collect()
}

/// An RS256-capable verification key, if `jwk` is one.
fn signing_key(jwk: RawJwk) -> Option<(String, Arc<DecodingKey>)> {
    let is_rsa = jwk.kty.as_deref() == Some("RSA");
    let for_signing = jwk.use_.as_deref().is_none_or(|u| u == "sig");
    let for_rs256 = jwk.alg.as_deref().is_none_or(|a| a == "RS256");
    if !(is_rsa && for_signing && for_rs256) {
        return None;
    }
    let key = DecodingKey::from_rsa_components(jwk.n.as_deref()?, jwk.e.as_deref()?).ok()?;
    Some((jwk.kid?, Arc::new(key)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(keys: serde_json::Value) -> KeyMap {
        let set: JwkSet = serde_json::from_value(json!({ "keys": keys })).expect("jwk set");
        usable_keys(set)
    }

    #[test]
    fn only_rsa_signature_keys_are_kept() {
        let keys = parse(json!([
            {"kty": "RSA", "kid": "plain", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "sig", "use": "sig", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "ec", "crv": "P-256", "x": "AQAB", "y": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "no-n", "e": "AQAB"},
            {"kty": "RSA", "kid": "bad-b64", "n": "A+B/", "e": "AQAB"},
        ]));
        let mut kids: Vec<_> = keys.keys().map(String::as_str).collect();
        kids.sort_unstable();
        assert_eq!(kids, ["plain", "sig"]);
    }

    #[test]
    fn rate_limit_applies_after_an_attempt() {
        let interval = Duration::from_secs(60);
        let mut state = RefreshState::default();
        assert!(state.may_fetch(interval));
        state.last_attempt = Some(Instant::now());
        assert!(!state.may_fetch(interval));
        assert!(state.may_fetch(Duration::ZERO));
    }

    #[test]
    fn failed_fetches_are_retried_sooner() {
        let state = RefreshState {
            last_attempt: Instant::now().checked_sub(FAILED_FETCH_RETRY),
            last_error: Some("down".into()),
        };
        assert!(state.may_fetch(Duration::from_secs(3600)));
        let state = RefreshState {
            last_error: None,
            ..state
        };
        assert!(!state.may_fetch(Duration::from_secs(3600)));
    }

    #[test]
    fn snapshot_is_stale_when_never_fetched_or_older_than_the_max_age() {
        let day = Duration::from_secs(24 * 60 * 60);
        let mut snapshot = Snapshot::default();
        assert!(snapshot.is_stale(day));
        snapshot.fetched_at = Some(Instant::now());
        assert!(!snapshot.is_stale(day));
        assert!(snapshot.is_stale(Duration::ZERO));
    }
}
