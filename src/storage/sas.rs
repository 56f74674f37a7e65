//! Account shared access signatures (SAS) signed with a storage account key.
//!
//! The official Rust storage crates authenticate with Entra ID or a SAS only. Azurite, and
//! connection strings that carry an `AccountKey`, therefore go through an **account SAS** made
//! here: HMAC-SHA256 over the documented string-to-sign of signed version [`SAS_VERSION`]
//! ("Create an account SAS", versions 2020-12-06 and later):
//!
//! ```text
//! accountname \n sp \n ss \n srt \n st \n se \n sip \n spr \n sv \n ses \n
//! ```
//!
//! (`sip` and `ses`, the IP range and encryption scope, are always empty here). The key and the
//! signature are secrets: [`AccountKey`] never prints its value and [`AccountSas::token`]
//! returns a [`SecretString`].

use std::fmt;

use base64::Engine;
use base64::prelude::BASE64_STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

/// The signed version (`sv`) of the SAS made here.
pub const SAS_VERSION: &str = "2021-12-02";

/// Why an account key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SasError {
    /// The key is not base64 (its value is never shown).
    #[error("the account key is not valid base64 (value not shown)")]
    InvalidKey,
    /// The key is empty.
    #[error("the account key is empty")]
    EmptyKey,
}

/// A storage account key: the decoded bytes, never printed.
#[derive(Clone)]
pub struct AccountKey {
    bytes: SecretSlice<u8>,
    base64: SecretString,
}

impl AccountKey {
    /// Decodes a key as the portal and connection strings show it (standard base64).
    pub fn from_base64(value: &str) -> Result<Self, SasError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(SasError::EmptyKey);
        }
        let bytes = BASE64_STANDARD
            .decode(value)
            .map_err(|_| SasError::InvalidKey)?;
        Ok(Self {
            bytes: bytes.into(),
            base64: SecretString::from(value),
        })
    }

    /// The key as base64, for clients that sign with it themselves (`object_store`).
    pub fn base64(&self) -> &SecretString {
        &self.base64
    }

    /// Base64 of HMAC-SHA256(`message`) under this key.
    pub fn sign(&self, message: &str) -> SecretString {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.bytes.expose_secret())
            .expect("HMAC takes keys of any length");
        mac.update(message.as_bytes());
        SecretString::from(BASE64_STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountKey(<redacted>)")
    }
}

/// Protocols a SAS may be used over (`spr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SasProtocol {
    /// HTTPS only.
    Https,
    /// HTTPS or HTTP (Azurite listens on plain HTTP).
    HttpsAndHttp,
}

impl SasProtocol {
    /// The protocol a SAS for `endpoint` needs: HTTP is allowed only for an `http://` endpoint.
    pub fn for_endpoint(endpoint: &url::Url) -> Self {
        match endpoint.scheme() {
            "http" => Self::HttpsAndHttp,
            _ => Self::Https,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Https => "https",
            Self::HttpsAndHttp => "https,http",
        }
    }
}

/// The fields of an account SAS (see the module documentation for what is signed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSas {
    /// `ss`: services, e.g. `q` (queue) or `b` (blob).
    pub services: String,
    /// `srt`: resource types, e.g. `sco` (service, container/queue, object/message).
    pub resource_types: String,
    /// `sp`: permissions in the documented order, e.g. `rwdlacup`.
    pub permissions: String,
    /// `st`: when the SAS becomes valid (omitted: at once).
    pub start: Option<DateTime<Utc>>,
    /// `se`: when it expires.
    pub expiry: DateTime<Utc>,
    /// `spr`: the protocols it may be used over.
    pub protocol: SasProtocol,
}

impl AccountSas {
    /// The exact text that is signed, for `account`.
    pub fn string_to_sign(&self, account: &str) -> String {
        let start = self.start.map(format_time).unwrap_or_default();
        [
            account,
            &self.permissions,
            &self.services,
            &self.resource_types,
            &start,
            &format_time(self.expiry),
            "", // signed IP range
            self.protocol.as_str(),
            SAS_VERSION,
            "", // signed encryption scope
            "", // the string ends with a newline
        ]
        .join("\n")
    }

    /// The SAS token (a query string without `?`) for `account`, signed with `key`.
    pub fn token(&self, account: &str, key: &AccountKey) -> SecretString {
        let signature = key.sign(&self.string_to_sign(account));
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("sv", SAS_VERSION)
            .append_pair("ss", &self.services)
            .append_pair("srt", &self.resource_types)
            .append_pair("sp", &self.permissions)
            .append_pair("se", &format_time(self.expiry))
            .append_pair("spr", self.protocol.as_str());
        if let Some(start) = self.start {
            query.append_pair("st", &format_time(start));
        }
        query.append_pair("sig", signature.expose_secret());
        SecretString::from(query.finish())
    }
}

/// ISO 8601 in UTC to the second, as SAS fields are written: `2026-11-28T10:00:00Z`.
fn format_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Azurite's documented, public development key (not a secret).
    const DEV_KEY: &str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    fn example() -> AccountSas {
        AccountSas {
            services: "q".into(),
            resource_types: "sco".into(),
            permissions: "rwdlacup".into(),
            start: Some(Utc.with_ymd_and_hms(2026, 11, 28, 9, 55, 0).unwrap()),
            expiry: Utc.with_ymd_and_hms(2026, 11, 28, 11, 0, 0).unwrap(),
            protocol: SasProtocol::HttpsAndHttp,
        }
    }

    #[test]
    fn the_string_to_sign_follows_the_documented_layout() {
        assert_eq!(
            example().string_to_sign("devstoreaccount1"),
            "devstoreaccount1\nrwdlacup\nq\nsco\n2026-11-28T09:55:00Z\n2026-11-28T11:00:00Z\n\n\
             https,http\n2021-12-02\n\n"
        );
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_string_to_sign_under_the_decoded_key() {
        // Computed independently, with Python's hmac module over the string above:
        // base64(hmac.new(b64decode(DEV_KEY), string_to_sign, sha256).digest()).
        let key = AccountKey::from_base64(DEV_KEY).unwrap();
        let token = example().token("devstoreaccount1", &key);
        assert_eq!(
            token.expose_secret(),
            "sv=2021-12-02&ss=q&srt=sco&sp=rwdlacup&se=2026-11-28T11%3A00%3A00Z\
             &spr=https%2Chttp&st=2026-11-28T09%3A55%3A00Z\
             &sig=F75NER80QxqlwDWYkAlbrkD33ShCoJCOW7ImgF%2BSsd8%3D"
        );
    }

    #[test]
    fn an_omitted_start_leaves_an_empty_line_and_no_st_field() {
        let sas = AccountSas {
            start: None,
            protocol: SasProtocol::Https,
            ..example()
        };
        assert!(
            sas.string_to_sign("acct")
                .starts_with("acct\nrwdlacup\nq\nsco\n\n2026-11-28T11:00:00Z\n\nhttps\n")
        );
        let key = AccountKey::from_base64(DEV_KEY).unwrap();
        assert!(!sas.token("acct", &key).expose_secret().contains("st="));
    }

    #[test]
    fn keys_must_be_base64_and_are_never_printed() {
        assert!(matches!(
            AccountKey::from_base64("not base64!"),
            Err(SasError::InvalidKey)
        ));
        assert!(matches!(
            AccountKey::from_base64("  "),
            Err(SasError::EmptyKey)
        ));
        let key = AccountKey::from_base64(DEV_KEY).unwrap();
        assert!(!format!("{key:?}").contains("Eby8"));
    }

    #[test]
    fn http_is_allowed_only_for_http_endpoints() {
        let http = url::Url::parse("http://127.0.0.1:10001/devstoreaccount1").unwrap();
        let https = url::Url::parse("https://acct.queue.core.windows.net").unwrap();
        assert_eq!(SasProtocol::for_endpoint(&http), SasProtocol::HttpsAndHttp);
        assert_eq!(SasProtocol::for_endpoint(&https), SasProtocol::Https);
    }
}
