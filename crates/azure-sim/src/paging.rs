//! Opaque continuation tokens and a small cache of computed results, shared by the paged APIs.
//!
//! A token carries the next offset and a fingerprint of the request it continues (query text,
//! scopes, filters), so replaying it with another request is refused, as Azure does.

use std::collections::VecDeque;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::ApiError;

/// A continuation token for `offset` within the request fingerprinted `fingerprint`.
pub fn encode_token(offset: usize, fingerprint: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{{\"o\":{offset},\"h\":\"{fingerprint:016x}\"}}"))
}

/// The offset a token points at, if it belongs to the request fingerprinted `fingerprint`.
pub fn decode_token(token: &str, fingerprint: u64) -> Result<usize, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "InvalidSkipToken",
            format!("The skip token '{token}' is invalid or does not belong to this request."),
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| invalid())?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    let expected = format!("{fingerprint:016x}");
    match (value["o"].as_u64(), value["h"].as_str()) {
        (Some(offset), Some(h)) if h == expected => Ok(offset as usize),
        _ => Err(invalid()),
    }
}

/// A few recently computed results, so that paging through a large result set computes it once.
#[derive(Debug)]
pub struct ResultCache<V> {
    entries: Mutex<VecDeque<(u64, V)>>,
    capacity: usize,
}

impl<V: Clone> ResultCache<V> {
    /// Keeps the last `capacity` results.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    /// The cached result for `key`, or `compute()` (called without holding the lock).
    pub fn get_or_compute(&self, key: u64, compute: impl FnOnce() -> V) -> V {
        self.get_or_compute_if(key, compute, |_| true)
    }

    /// Like [`Self::get_or_compute`], but keeps a computed value only if `keep` says so (a
    /// result that fits in one page is never read again).
    pub fn get_or_compute_if(
        &self,
        key: u64,
        compute: impl FnOnce() -> V,
        keep: impl FnOnce(&V) -> bool,
    ) -> V {
        if let Some(hit) = self
            .lock()
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
        {
            return hit;
        }
        let value = compute();
        if !keep(&value) {
            return value;
        }
        let mut entries = self.lock();
        entries.push_back((key, value.clone()));
        while entries.len() > self.capacity {
            entries.pop_front();
        }
        value
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(u64, V)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_only_with_its_fingerprint() {
        let token = encode_token(300, 0xABCD);
        assert_eq!(decode_token(&token, 0xABCD).ok(), Some(300));
        assert!(decode_token(&token, 0xABCE).is_err());
        assert!(decode_token("not a token", 0xABCD).is_err());
    }

    #[test]
    fn the_cache_computes_once_per_key() {
        let cache = ResultCache::new(2);
        let mut calls = 0;
        for _ in 0..3 {
            cache.get_or_compute(1, || {
                calls += 1;
                7
            });
        }
        assert_eq!(calls, 1);
    }
}
