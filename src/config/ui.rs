//! Settings of the web page (`/api/ui/`): the browser signs in with the authorization code
//! flow and PKCE against an OpenID Connect authority (Entra ID in Azure, the development
//! identity provider locally) as a single-page application of its own client id, and asks for
//! the API's scope (derived from `AZCOPS_AUTH_AUDIENCE`, one place per setting).

use clap::Args;
use serde::Serialize;
use url::Url;

use super::{ConfigError, Exposure};

/// Default `AZCOPS_UI_AUTHORITY`: Entra ID's v2.0 endpoints for any organisation's accounts
/// (customers sign in from their own tenant).
pub const DEFAULT_UI_AUTHORITY: &str = "https://login.microsoftonline.com/organizations/v2.0";

/// The page's sign-in settings.
#[derive(Debug, Clone, Args)]
pub struct UiConfig {
    /// Client id of the page's app registration (a single-page application whose redirect URI
    /// is `https://<app>/api/ui/`). Unset or empty: the page says sign-in is not configured.
    #[arg(
        long = "ui-client-id",
        env = "AZCOPS_UI_CLIENT_ID",
        value_name = "AZCOPS_UI_CLIENT_ID"
    )]
    pub client_id: Option<String>,

    /// OpenID Connect authority the page signs in with through MSAL (an `https://` URL: MSAL
    /// refuses others); the page's Content-Security-Policy allows this origin only. Locally the
    /// development identity provider over loopback HTTPS
    /// (`https://127.0.0.1:7082/organizations/v2.0`), refused when running in Azure or beyond
    /// loopback.
    #[arg(long = "ui-authority", env = "AZCOPS_UI_AUTHORITY", value_name = "AZCOPS_UI_AUTHORITY", default_value = DEFAULT_UI_AUTHORITY)]
    pub authority: Url,
}

/// What the page is told (`GET /api/ui/config.json`): nothing secret.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UiSettings {
    /// The page's client id (`None`: sign-in is not configured).
    pub client_id: Option<String>,
    /// The authority, without a trailing slash.
    pub authority: String,
    /// The scope the page asks for: the API's `.default` scope.
    pub scope: Option<String>,
    /// The operator tenant: its callers may switch between tenants.
    pub operator_tenant_id: Option<String>,
}

impl UiConfig {
    /// The page's settings, with the API's audience and operator tenant.
    pub fn settings(&self, audience: Option<&str>, operator: Option<uuid::Uuid>) -> UiSettings {
        let client_id = self
            .client_id
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        UiSettings {
            client_id,
            authority: self.authority.as_str().trim_end_matches('/').to_owned(),
            scope: audience.map(|a| format!("{}/.default", a.trim_end_matches('/'))),
            operator_tenant_id: operator.map(|t| t.to_string()),
        }
    }

    /// Refuses a plain-`http://` authority, and one on a loopback address (the development
    /// identity provider), where development settings are refused: a page signing in over
    /// http could have its codes and tokens read in transit, and a loopback authority is no
    /// user's identity provider.
    pub(super) fn refuse_insecure(&self, exposure: Exposure) -> Result<(), ConfigError> {
        let Some(context) = exposure.production() else {
            return Ok(());
        };
        if self.authority.scheme() != "https" {
            return Err(ConfigError::new(
                "AZCOPS_UI_AUTHORITY",
                format!("must be an https:// URL {context}"),
            ));
        }
        let loopback = match self.authority.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => true,
        };
        if loopback {
            return Err(ConfigError::new(
                "AZCOPS_UI_AUTHORITY",
                format!(
                    "must not be the development identity provider (a loopback address) {context}"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui(authority: &str) -> UiConfig {
        UiConfig {
            client_id: Some(" spa-client ".into()),
            authority: Url::parse(authority).unwrap(),
        }
    }

    #[test]
    fn the_page_asks_for_the_apis_default_scope_at_the_authority() {
        let s = ui("http://127.0.0.1:7081/").settings(Some("api://azcops-local"), None);
        assert_eq!(s.client_id.as_deref(), Some("spa-client"));
        assert_eq!(s.authority, "http://127.0.0.1:7081");
        assert_eq!(s.scope.as_deref(), Some("api://azcops-local/.default"));
        let unset = UiConfig {
            client_id: Some(" ".into()),
            ..ui(DEFAULT_UI_AUTHORITY)
        };
        let unset = unset.settings(None, None);
        assert_eq!((unset.client_id, unset.scope), (None, None));
        assert_eq!(unset.authority, DEFAULT_UI_AUTHORITY);
    }

    #[test]
    fn an_http_or_loopback_authority_is_refused_in_azure_and_beyond_loopback_only() {
        let local = Exposure {
            in_azure: false,
            public_listener: false,
        };
        let azure = Exposure {
            in_azure: true,
            public_listener: false,
        };
        let public = Exposure {
            in_azure: false,
            public_listener: true,
        };
        assert!(ui("http://127.0.0.1:7081").refuse_insecure(local).is_ok());
        let dev_idp = "https://127.0.0.1:7082/organizations/v2.0";
        assert!(ui(dev_idp).refuse_insecure(local).is_ok());
        for exposure in [azure, public] {
            for refused in ["http://127.0.0.1:7081", dev_idp, "https://localhost:7082/x"] {
                let err = ui(refused).refuse_insecure(exposure).unwrap_err();
                assert_eq!(err.variable, "AZCOPS_UI_AUTHORITY");
            }
            assert!(ui(DEFAULT_UI_AUTHORITY).refuse_insecure(exposure).is_ok());
        }
    }
}
