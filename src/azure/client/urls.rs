//! URLs: building them under the configured endpoints, checking that a token only goes to
//! those endpoints, and writing them into logs and errors without secrets.

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
