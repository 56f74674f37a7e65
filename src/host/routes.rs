//! Which HTTP-triggered function a request belongs to: the route prefix, then the function's
//! route template (`literal`, `{name}`, `{name:constraint}`, `{name?}`, `{*rest}`), then its
//! methods. A path that a URL parser could resolve to somewhere else ([`check_path`]) is
//! refused before any of that.

/// Why a request path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PathRefused {
    /// `.` or `..`, also percent-encoded (`%2e`, any case): it would climb out of the prefix
    /// (`/api/%2e%2e/ingest-subscription` is the queue function's invocation path).
    #[error("the path has a dot segment (`.` or `..`, also percent-encoded)")]
    DotSegment,
    /// `%2f` or `%5c`: a separator the route matching does not see.
    #[error("the path has an encoded slash or backslash (`%2f`, `%5c`)")]
    EncodedSeparator,
    /// `\`, which URL parsers read as `/`.
    #[error("the path has a backslash")]
    Backslash,
}

/// Accepts only a path that every URL parser on the way to the handler leaves as it is, so
/// the handler gets the very path the route (and its prefix) matched.
pub fn check_path(path: &str) -> Result<(), PathRefused> {
    if path.contains('\\') {
        return Err(PathRefused::Backslash);
    }
    for segment in path.split('/') {
        let lower = segment.to_ascii_lowercase();
        if lower.contains("%2f") || lower.contains("%5c") {
            return Err(PathRefused::EncodedSeparator);
        }
        let decoded = lower.replace("%2e", ".");
        if decoded == "." || decoded == ".." {
            return Err(PathRefused::DotSegment);
        }
    }
    Ok(())
}

/// One HTTP function's route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub function: String,
    /// Lower-case methods; empty: any.
    pub methods: Vec<String>,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter { optional: bool },
    CatchAll,
}

impl Route {
    /// A route for `function` from its template (without the route prefix).
    pub fn new(function: &str, template: &str, methods: Vec<String>) -> Self {
        let segments = template
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .map(
                |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(p) if p.starts_with('*') => Segment::CatchAll,
                    Some(p) => Segment::Parameter {
                        optional: p.ends_with('?'),
                    },
                    None => Segment::Literal(s.to_ascii_lowercase()),
                },
            )
            .collect();
        Self {
            function: function.to_owned(),
            methods,
            segments,
        }
    }

    /// Whether the route (after the prefix) matches `path` segments.
    fn matches_path(&self, path: &[&str]) -> bool {
        for (i, segment) in self.segments.iter().enumerate() {
            match (segment, path.get(i)) {
                (Segment::CatchAll, _) => return true,
                (Segment::Literal(l), Some(p)) if p.eq_ignore_ascii_case(l) => {}
                (Segment::Parameter { .. }, Some(_)) => {}
                (Segment::Parameter { optional: true }, None) => {}
                _ => return false,
            }
        }
        path.len() <= self.segments.len()
    }

    fn allows(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }
}

/// The function that serves `method path`, if any: literal routes win over parameters, as
/// ASP.NET routing orders them.
pub fn find<'a>(routes: &'a [Route], prefix: &str, method: &str, path: &str) -> Option<&'a Route> {
    let rest = strip_prefix(prefix, path)?;
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    routes
        .iter()
        .filter(|r| r.allows(method) && r.matches_path(&segments))
        .max_by_key(|r| specificity(r))
}

fn specificity(route: &Route) -> (usize, usize) {
    let literals = route
        .segments
        .iter()
        .filter(|s| matches!(s, Segment::Literal(_)))
        .count();
    let not_catch_all = usize::from(!route.segments.contains(&Segment::CatchAll));
    (literals, not_catch_all)
}

/// `path` after `/<prefix>` (a whole segment), or `None` if it is not under the prefix.
fn strip_prefix<'p>(prefix: &str, path: &'p str) -> Option<&'p str> {
    if prefix.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix('/')?;
    let head = rest.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let tail = &rest[prefix.len()..];
    (tail.is_empty() || tail.starts_with('/')).then_some(tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Vec<Route> {
        vec![
            Route::new("api", "{*path}", vec!["get".into(), "post".into()]),
            Route::new("product", "products/{id:int?}", vec!["get".into()]),
            Route::new("hello", "hello", vec![]),
        ]
    }

    fn found(method: &str, path: &str) -> Option<String> {
        find(&routes(), "api", method, path).map(|r| r.function.clone())
    }

    #[test]
    fn requests_go_to_the_most_specific_route() {
        assert_eq!(found("GET", "/api/health").as_deref(), Some("api"));
        assert_eq!(found("GET", "/api/v1/tenants/x").as_deref(), Some("api"));
        assert_eq!(found("GET", "/api/products/42").as_deref(), Some("product"));
        assert_eq!(found("GET", "/api/products").as_deref(), Some("product"));
        assert_eq!(found("DELETE", "/api/hello").as_deref(), Some("hello"));
        assert_eq!(found("GET", "/API/Hello").as_deref(), Some("hello"));
    }

    #[test]
    fn dot_segments_and_encoded_separators_are_refused() {
        for path in [
            "/api/../ingest-subscription",
            "/api/./health",
            "/api/%2e%2e/ingest-subscription",
            "/api/%2E%2e/ingest-subscription",
            "/api/.%2E/ingest-subscription",
            "/api/%2e/health",
            "/api/v1/..",
        ] {
            assert_eq!(check_path(path), Err(PathRefused::DotSegment), "{path}");
        }
        for path in [
            "/api/v1%2f..%2fingest",
            "/api/%2F",
            "/api/a%5cb",
            "/api/a%5Cb",
        ] {
            assert_eq!(
                check_path(path),
                Err(PathRefused::EncodedSeparator),
                "{path}"
            );
        }
        assert_eq!(check_path("/api\\..\\x"), Err(PathRefused::Backslash));
    }

    #[test]
    fn ordinary_paths_pass() {
        for path in [
            "/api/health",
            "/api/v1/resources",
            "/api/v1/resources/a.b",
            "/api/...",
            "/api/..a",
            "/api/%2e%2e%2e",
            "/api/v1/costs%20x",
            "/",
        ] {
            assert_eq!(check_path(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn requests_outside_the_prefix_or_methods_match_nothing() {
        assert_eq!(found("GET", "/health"), None);
        assert_eq!(found("GET", "/apix/health"), None);
        assert_eq!(found("DELETE", "/api/health"), None);
        assert_eq!(found("GET", "/api/products/1/2").as_deref(), Some("api"));
        let only_literal = [Route::new("hello", "hello", vec![])];
        assert!(find(&only_literal, "api", "GET", "/api/hello/x").is_none());
        assert!(find(&only_literal, "", "GET", "/hello").is_some());
    }
}
