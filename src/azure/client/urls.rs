//! URLs: building them under the configured endpoints, checking that a token only goes to
//! those endpoints (and that no redirect leads elsewhere), and writing them into logs and
//! errors without secrets.

use url::Url;

use crate::azure::error::AzureError;

/// Query parameters whose values are secrets (SAS signatures, auth codes, tokens).
const SECRET_PARAMS: &[&str] = &[
    "sig",
    "code",
    "client_secret",
    "token",
    "access_token",
    "refresh_token",
    "client_assertion",
    "api-key",
    "apikey",
];

/// `path` under `base` (whose own path is kept), with `query` pairs encoded.
pub(super) fn build_url(base: &Url, path: &str, query: &[(&str, &str)]) -> Result<Url, AzureError> {
    if path.contains(['?', '#']) {
        return Err(AzureError::InvalidUrl(format!(
            "path `{path}` must not carry a query"
        )));
    }
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url.set_query(None);
    url.set_fragment(None);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

/// `base` with its query replaced by `query`, every byte but the unreserved ones
/// (`A-Z a-z 0-9 - . _ ~`) percent-encoded: `$filter=a eq 'b'` becomes
/// `%24filter=a%20eq%20%27b%27` (never `+` for a space, which not every server decodes).
pub(super) fn with_query(base: &Url, query: &[(&str, &str)]) -> Url {
    let mut url = base.clone();
    url.set_fragment(None);
    let encoded: Vec<String> = query
        .iter()
        .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
        .collect();
    url.set_query((!encoded.is_empty()).then(|| encoded.join("&")).as_deref());
    url
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// True when `url` has exactly the scheme, host, port (the scheme's default counts as given)
/// and path of `endpoint` (a trailing `/` aside), and no user name or password: where a
/// paging link may lead for an API that must not be steered elsewhere.
pub(super) fn same_endpoint(endpoint: &Url, url: &Url) -> bool {
    let path = |u: &Url| u.path().trim_end_matches('/').to_owned();
    url.scheme() == endpoint.scheme()
        && url.host_str().map(str::to_ascii_lowercase)
            == endpoint.host_str().map(str::to_ascii_lowercase)
        && url.port_or_known_default() == endpoint.port_or_known_default()
        && url.username().is_empty()
        && url.password().is_none()
        && path(url) == path(endpoint)
}

/// The redirect policy of the client's HTTP connection: follow a redirect (at most 5) only
/// to the origin the request was sent to. Azure's APIs do not redirect across origins, and an
/// answer must not be able to send the client elsewhere (a Retail Prices `302` to an internal
/// address would otherwise bypass the endpoint check); the `3xx` is then the answer, an error.
pub fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(Url::origin);
        if attempt.previous().len() > 5 || first != Some(attempt.url().origin()) {
            attempt.stop()
        } else {
            attempt.follow()
        }
    })
}

/// True when `url` (without its query) lies under the Monitor template filled with some region
/// (`https://{region}.metrics.monitor.azure.com`, or a stand-in with a path such as
/// `http://127.0.0.1:7090/monitor/{region}`).
pub(super) fn matches_template(template: &str, url: &str) -> bool {
    let template = template.trim_end_matches('/');
    let under = |tail: &str| tail.is_empty() || tail.starts_with('/');
    let Some((prefix, suffix)) = template.split_once("{region}") else {
        return url.strip_prefix(template).is_some_and(under);
    };
    let Some(rest) = url.strip_prefix(prefix) else {
        return false;
    };
    let region = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    region > 0 && rest[region..].strip_prefix(suffix).is_some_and(under)
}

/// `url` for logs and errors: secret query values replaced, credentials in it removed.
pub(crate) fn redact(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_password(None);
    let _ = url.set_username("");
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let secret = SECRET_PARAMS.iter().any(|p| k.eq_ignore_ascii_case(p));
            (
                k.into_owned(),
                if secret {
                    "REDACTED".to_owned()
                } else {
                    v.into_owned()
                },
            )
        })
        .collect();
    if !pairs.is_empty() {
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_built_under_the_configured_endpoints() {
        let base = Url::parse("https://management.azure.com").unwrap();
        let url = build_url(
            &base,
            "/subscriptions/s1/providers/Microsoft.Advisor/recommendations",
            &[
                ("api-version", "2023-01-01"),
                ("$filter", "Category eq 'Cost'"),
            ],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://management.azure.com/subscriptions/s1/providers/Microsoft.Advisor/recommendations?api-version=2023-01-01&%24filter=Category+eq+%27Cost%27"
        );
        assert!(build_url(&base, "/x?y=1", &[]).is_err());
        assert!(matches_template(
            "https://{region}.metrics.monitor.azure.com",
            "https://westeurope.metrics.monitor.azure.com"
        ));
        assert!(!matches_template(
            "https://{region}.metrics.monitor.azure.com",
            "https://evil.com/x.metrics.monitor.azure.com"
        ));
        assert!(matches_template(
            "http://127.0.0.1:9/",
            "http://127.0.0.1:9"
        ));
        let sim = "http://127.0.0.1:9/monitor/{region}";
        assert!(matches_template(
            sim,
            "http://127.0.0.1:9/monitor/westeurope/subscriptions/s/metrics:getBatch"
        ));
        assert!(!matches_template(
            sim,
            "http://127.0.0.1:9/other/westeurope/subscriptions"
        ));
        assert!(!matches_template(
            sim,
            "http://127.0.0.1:9/monitor//subscriptions"
        ));
        assert!(!matches_template(
            "https://{region}.metrics.monitor.azure.com",
            "https://westeurope.metrics.monitor.azure.com.evil.com/x"
        ));
    }

    #[test]
    fn retail_price_queries_are_strictly_encoded_and_links_must_match_the_endpoint() {
        let endpoint = Url::parse("https://prices.azure.com/api/retail/prices").unwrap();
        let url = with_query(
            &endpoint,
            &[("currencyCode", "'EUR'"), ("$filter", "a eq 'b c' & x+y")],
        );
        assert_eq!(
            url.as_str(),
            "https://prices.azure.com/api/retail/prices?currencyCode=%27EUR%27&%24filter=a%20eq%20%27b%20c%27%20%26%20x%2By"
        );
        let same = |link: &str| same_endpoint(&endpoint, &Url::parse(link).unwrap());
        assert!(same(
            "https://prices.azure.com:443/api/retail/prices?$filter=x&$skip=1000"
        ));
        assert!(same("https://PRICES.azure.com/api/retail/prices/"));
        for foreign in [
            "http://prices.azure.com/api/retail/prices",
            "https://prices.azure.com:8443/api/retail/prices",
            "https://prices.azure.com.evil.example/api/retail/prices",
            "https://evil.example/api/retail/prices",
            "https://prices.azure.com/api/retail/prices/../../admin",
            "https://prices.azure.com/api/retail/pricesX",
            "https://user:pw@prices.azure.com/api/retail/prices",
            "https://169.254.169.254/metadata/identity/oauth2/token",
        ] {
            assert!(!same(foreign), "{foreign}");
        }
    }

    #[test]
    fn secret_query_parameters_are_redacted() {
        let url = Url::parse("https://user:pw@x.blob.core.windows.net/c?sv=2022&sig=abc%2Bdef&code=123&api-version=1").unwrap();
        let text = redact(&url);
        assert!(
            !text.contains("abc") && !text.contains("123") && !text.contains("pw"),
            "{text}"
        );
        assert!(
            text.contains("sv=2022") && text.contains("api-version=1"),
            "{text}"
        );
    }
}
