//! Tokens verified lately: a caller's next requests with the same token skip the signature
//! check and the payload's decoding.
//!
//! A browser or a script sends one access token with every request for up to an hour; its RSA
//! signature check and its payload's decoding were about 6 % of the handler's CPU for a page of
//! resources (`BENCHMARKS.md`, issue 15, twelfth pass). An entry is the token's whole text (a
//! token differing by one character is another key and is verified in full) and the claims its
//! verification returned; it is used until the earlier of the token's `exp` (without leeway)
//! and [`super::VerifierSettings::verified_ttl`] after the check. So a signing key withdrawn
//! from the JWKS stops admitting tokens it signed within that time, as a refreshed key set
//! would. Refusals are never kept: each is checked, and logged, again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quick_cache::sync::Cache;

use super::Claims;

/// Verified tokens by their text, at most `capacity` of them (the least used go first).
pub(super) struct VerifiedTokens {
    /// `None` when the TTL or the capacity is zero: every token is verified every time.
    cache: Option<Cache<Box<str>, Entry>>,
    ttl: Duration,
}

#[derive(Clone)]
struct Entry {
    claims: Claims,
    /// Used while the clock is before this.
    until: SystemTime,
}

impl VerifiedTokens {
    pub(super) fn new(capacity: usize, ttl: Duration) -> Self {
        let cache = (capacity > 0 && !ttl.is_zero()).then(|| Cache::new(capacity));
        Self { cache, ttl }
    }

    /// The claims `token` was verified to carry, if it was within its time.
    pub(super) fn get(&self, token: &str, now: SystemTime) -> Option<Claims> {
        let cache = self.cache.as_ref()?;
        let entry = cache.get(token)?;
        if now < entry.until {
            Some(entry.claims)
        } else {
            cache.remove(token);
            None
        }
    }

    /// Keeps `claims` for `token`, verified at `now`, whose `exp` is `expires` (seconds since
    /// the epoch).
    pub(super) fn keep(&self, token: &str, claims: &Claims, expires: u64, now: SystemTime) {
        let Some(cache) = &self.cache else { return };
        // Checked: an `exp` or a TTL too far off for the clock is bounded by the other.
        let expiry = UNIX_EPOCH.checked_add(Duration::from_secs(expires));
        let Some(until) = [expiry, now.checked_add(self.ttl)]
            .into_iter()
            .flatten()
            .min()
        else {
            return;
        };
        if now < until {
            let claims = claims.clone();
            cache.insert(token.into(), Entry { claims, until });
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.cache.as_ref().map_or(0, Cache::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str) -> Claims {
        Claims {
            tid: uuid::Uuid::nil(),
            oid: None,
            sub: sub.to_owned(),
            name: None,
            roles: vec!["AzCops.Reader".to_owned()],
        }
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_token_is_kept_until_its_ttl_then_verified_again() {
        let tokens = VerifiedTokens::new(16, Duration::from_secs(300));
        tokens.keep("a.b.c", &claims("one"), 10_000, at(1_000));

        assert_eq!(tokens.get("a.b.c", at(1_000)).unwrap().sub, "one");
        assert_eq!(tokens.get("a.b.c", at(1_299)).unwrap().sub, "one");
        assert!(tokens.get("a.b.c", at(1_300)).is_none());
        assert_eq!(tokens.len(), 0, "an entry past its time is dropped");
    }

    #[test]
    fn a_token_is_never_kept_past_its_expiry() {
        let tokens = VerifiedTokens::new(16, Duration::from_secs(300));
        tokens.keep("a.b.c", &claims("one"), 1_060, at(1_000));
        assert!(tokens.get("a.b.c", at(1_059)).is_some());
        assert!(tokens.get("a.b.c", at(1_060)).is_none());

        // Verified within the leeway after its `exp`: not kept at all.
        tokens.keep("d.e.f", &claims("two"), 1_000, at(1_030));
        assert!(tokens.get("d.e.f", at(1_030)).is_none());
    }

    #[test]
    fn an_expiry_or_a_ttl_beyond_the_clock_is_bounded_by_the_other() {
        let far = VerifiedTokens::new(16, Duration::from_secs(300));
        far.keep("a.b.c", &claims("one"), u64::MAX, at(1_000));
        assert!(far.get("a.b.c", at(1_299)).is_some());
        assert!(far.get("a.b.c", at(1_300)).is_none());

        let forever = VerifiedTokens::new(16, Duration::MAX);
        forever.keep("a.b.c", &claims("one"), 2_000, at(1_000));
        assert!(forever.get("a.b.c", at(1_999)).is_some());
        assert!(forever.get("a.b.c", at(2_000)).is_none());
    }

    #[test]
    fn only_the_same_text_finds_an_entry() {
        let tokens = VerifiedTokens::new(16, Duration::from_secs(300));
        tokens.keep("a.b.c", &claims("one"), 10_000, at(1_000));
        for other in ["a.b.d", "a.b.c ", "a.b", "A.b.c", ""] {
            assert!(tokens.get(other, at(1_000)).is_none(), "{other:?}");
        }
    }

    #[test]
    fn it_holds_at_most_its_capacity() {
        let tokens = VerifiedTokens::new(8, Duration::from_secs(300));
        for i in 0..100 {
            tokens.keep(&format!("token-{i}"), &claims("x"), 10_000, at(1_000));
        }
        assert!(tokens.len() <= 8, "{} entries", tokens.len());
        assert!(
            tokens.get("token-99", at(1_000)).is_some(),
            "the last kept is there"
        );
    }

    #[test]
    fn a_zero_ttl_or_capacity_keeps_nothing() {
        for tokens in [
            VerifiedTokens::new(0, Duration::from_secs(300)),
            VerifiedTokens::new(16, Duration::ZERO),
        ] {
            tokens.keep("a.b.c", &claims("one"), 10_000, at(1_000));
            assert!(tokens.get("a.b.c", at(1_000)).is_none());
        }
    }
}
