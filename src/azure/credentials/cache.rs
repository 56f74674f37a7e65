//! The token cache: one token per (tenant, scope), refreshed a margin (60 s by default)
//! before it expires, and fetched once when many callers need it at the same moment (the
//! first caller fetches while the others wait on the same slot).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;

use super::{AccessToken, TokenSource};
use crate::azure::error::AzureError;

type Slot = Arc<tokio::sync::Mutex<Option<AccessToken>>>;

/// Tokens per (tenant, scope) in front of a [`TokenSource`]. Cheap to clone (shared).
#[derive(Clone)]
pub struct TokenCache {
    source: Arc<dyn TokenSource>,
    refresh_margin: Duration,
    slots: Arc<Mutex<HashMap<(String, String), Slot>>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("refresh_margin", &self.refresh_margin)
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    /// Refresh margin of [`TokenCache::new`]: a token is replaced this long before it expires.
    pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);

    /// An empty cache over `source`.
    pub fn new(source: Arc<dyn TokenSource>) -> Self {
        Self {
            source,
            refresh_margin: Self::DEFAULT_REFRESH_MARGIN,
            slots: Arc::default(),
        }
    }

    /// The same cache refreshing `margin` before expiry (at least 60 s is advised).
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// A token of `scope` for `tenant_id` valid for longer than the margin: the cached one,
    /// or a new one fetched by exactly one of the callers asking at the same time.
    pub async fn token(&self, tenant_id: &str, scope: &str) -> Result<SecretString, AzureError> {
        let slot = self.slot(tenant_id, scope);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref().filter(|t| self.is_fresh(t)) {
            return Ok(token.secret.clone());
        }
        let token = self.source.fetch(tenant_id, scope).await?;
        tracing::debug!(
            tenant_id,
            scope,
            expires_at = %token.expires_at,
            "fetched an Azure access token"
        );
        let secret = token.secret.clone();
        *cached = Some(token);
        Ok(secret)
    }

    /// Forgets the token of (`tenant_id`, `scope`), e.g. after Azure answered 401 to it.
    pub async fn invalidate(&self, tenant_id: &str, scope: &str) {
        *self.slot(tenant_id, scope).lock().await = None;
    }

    fn is_fresh(&self, token: &AccessToken) -> bool {
        let margin = chrono::Duration::from_std(self.refresh_margin).unwrap_or_default();
        token.expires_at - margin > Utc::now()
    }

    fn slot(&self, tenant_id: &str, scope: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (tenant_id.to_owned(), scope.to_owned());
        Arc::clone(slots.entry(key).or_default())
    }
}
