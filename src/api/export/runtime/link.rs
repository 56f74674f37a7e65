//! Short-lived, read-only download links of finished export jobs, served by the handler:
//! `/api/v1/exports/{id}/download?tenant={tenant}&expires={unix seconds}&sig={signature}`,
//! where the signature is base64url HMAC-SHA256 of `v1\n{tenant}\n{id}\n{expires}` under the
//! link key. Works the same over every lake (file, Azurite, Azure): the handler checks the
//! signature and the time, then streams the file from the lake.

use std::time::Duration;

use base64::Engine;
use base64::prelude::{BASE64_STANDARD, BASE64_URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;
use uuid::Uuid;

/// The shortest key accepted.
pub const MIN_KEY_BYTES: usize = 32;

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this download link has expired: ask GET /api/v1/exports/{{id}} for a new one")]
    Expired,
    #[error("this download link is not valid (altered, or signed with another key)")]
    Invalid,
}

/// The key links are signed with, and how long they last.
pub struct LinkKey {
    key: SecretSlice<u8>,
    pub ttl: Duration,
}

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkKey")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A signed link: its path and query, and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

impl LinkKey {
    /// The key of `AZCOPS_EXPORT_LINK_KEY` (base64, at least [`MIN_KEY_BYTES`]).
    pub fn from_base64(value: &str, ttl: Duration) -> anyhow::Result<Self> {
        let bytes = BASE64_STANDARD
            .decode(value.trim())
            .map_err(|_| anyhow::anyhow!("AZCOPS_EXPORT_LINK_KEY is not base64"))?;
        if bytes.len() < MIN_KEY_BYTES {
            anyhow::bail!("AZCOPS_EXPORT_LINK_KEY must hold at least {MIN_KEY_BYTES} bytes");
        }
        Ok(Self {
            key: SecretSlice::from(bytes),
            ttl,
        })
    }

    /// A key drawn at random (two v4 UUIDs from the OS's generator).
    pub fn random(ttl: Duration) -> Self {
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(Uuid::new_v4().as_bytes());
        bytes.extend_from_slice(Uuid::new_v4().as_bytes());
        Self {
            key: SecretSlice::from(bytes),
            ttl,
        }
    }

    fn mac(&self, tenant: Uuid, id: Uuid, expires: i64) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key.expose_secret()).ok()?;
        mac.update(format!("v1\n{tenant}\n{id}\n{expires}").as_bytes());
        Some(mac)
    }

    /// A link to job `id` of `tenant`, valid for the key's time to live from `now`.
    pub fn sign(&self, tenant: Uuid, id: Uuid, now: DateTime<Utc>) -> Link {
        let ttl = chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::minutes(15));
        let expires_at = now + ttl;
        let expires = expires_at.timestamp();
        let sig = self
            .mac(tenant, id, expires)
            .map(|mac| BASE64_URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
            .unwrap_or_default();
        Link {
            url: format!(
                "/api/v1/exports/{id}/download?tenant={tenant}&expires={expires}&sig={sig}"
            ),
            expires_at: DateTime::from_timestamp(expires, 0).unwrap_or(expires_at),
        }
    }

    /// Checks a link's signature (in constant time), then its expiry against `now`.
    pub fn verify(
        &self,
        tenant: Uuid,
        id: Uuid,
        expires: i64,
        sig: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LinkError> {
        let sig = BASE64_URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| LinkError::Invalid)?;
        let mac = self.mac(tenant, id, expires).ok_or(LinkError::Invalid)?;
        mac.verify_slice(&sig).map_err(|_| LinkError::Invalid)?;
        if now.timestamp() >= expires {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(link: &Link) -> (i64, String) {
        let query = link.url.split_once('?').unwrap().1;
        let get = |name: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap()
                .to_owned()
        };
        (get("expires").parse().unwrap(), get("sig"))
    }

    #[test]
    fn a_link_works_until_it_expires_and_only_for_its_job() {
        let key = LinkKey::random(Duration::from_secs(60));
        let (tenant, id, now) = (Uuid::new_v4(), Uuid::new_v4(), Utc::now());
        let link = key.sign(tenant, id, now);
        let (expires, sig) = parts(&link);
        assert_eq!(key.verify(tenant, id, expires, &sig, now), Ok(()));
        let later = now + chrono::Duration::seconds(61);
        assert_eq!(
            key.verify(tenant, id, expires, &sig, later),
            Err(LinkError::Expired)
        );
        assert_eq!(
            key.verify(tenant, id, expires + 3600, &sig, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            key.verify(Uuid::new_v4(), id, expires, &sig, now),
            Err(LinkError::Invalid)
        );
        let other = LinkKey::random(Duration::from_secs(60));
        assert_eq!(
            other.verify(tenant, id, expires, &sig, now),
            Err(LinkError::Invalid)
        );
    }
}
