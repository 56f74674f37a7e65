//! The Resource Graph request and response bodies (`QueryRequest`, `QueryResponse` of
//! api-version 2022-10-01), as far as AzCops uses them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Rows per page: the largest `$top` Resource Graph accepts.
pub const PAGE_SIZE: u32 = 1000;

/// A query over a set of subscriptions. Every page of a query re-sends the same text and
/// subscriptions; only `options.$skipToken` changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryRequest {
    pub query: String,
    /// Subscription GUIDs; empty means tenant scope (not used by AzCops).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subscriptions: Vec<String>,
    #[serde(default)]
    pub options: QueryOptions,
}

/// `options` of a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct QueryOptions {
    #[serde(rename = "$top", default, skip_serializing_if = "Option::is_none")]
    pub top: Option<u32>,
    #[serde(
        rename = "$skipToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub skip_token: Option<String>,
    /// Always `objectArray` (older api-versions default to `table`).
    #[serde(
        rename = "resultFormat",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub result_format: Option<String>,
}

impl QueryRequest {
    /// The first page of `query` over `subscriptions`, [`PAGE_SIZE`] rows a page.
    pub fn new(query: impl Into<String>, subscriptions: &[String]) -> Self {
        Self {
            query: query.into(),
            subscriptions: subscriptions.to_vec(),
            options: QueryOptions {
                top: Some(PAGE_SIZE),
                skip_token: None,
                result_format: Some("objectArray".to_owned()),
            },
        }
    }

    /// The same query and subscriptions, continuing at `skip_token`.
    pub fn next_page(&self, skip_token: &str) -> Self {
        let mut next = self.clone();
        next.options.skip_token = Some(skip_token.to_owned());
        next
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QueryResponse {
    #[serde(rename = "totalRecords", default)]
    pub total_records: Option<i64>,
    #[serde(default)]
    pub count: Option<i64>,
    /// `"true"` or `"false"` (a string enum, not a JSON bool).
    #[serde(rename = "resultTruncated", default)]
    pub result_truncated: Option<Value>,
    /// Present only when more pages exist.
    #[serde(rename = "$skipToken", default)]
    pub skip_token: Option<String>,
    /// The rows (`objectArray` format).
    #[serde(default)]
    pub data: Vec<Value>,
}

impl QueryResponse {
    /// The token of the next page, if any (an empty token counts as none).
    pub fn next_token(&self) -> Option<&str> {
        self.skip_token.as_deref().filter(|t| !t.is_empty())
    }

    /// True when Resource Graph says the result was cut short (no `$skipToken` is given for
    /// queries using `limit`/`take`/`sample`).
    pub fn truncated(&self) -> bool {
        match &self.result_truncated {
            Some(Value::String(flag)) => flag.eq_ignore_ascii_case("true"),
            Some(Value::Bool(flag)) => *flag,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_resend_the_same_query_and_subscriptions_with_the_token() {
        let first = QueryRequest::new("Resources | project id", &["s1".into(), "s2".into()]);
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            json!({"query": "Resources | project id", "subscriptions": ["s1", "s2"],
                   "options": {"$top": 1000, "resultFormat": "objectArray"}})
        );
        let next = first.next_page("tok");
        assert_eq!(next.query, first.query);
        assert_eq!(next.subscriptions, first.subscriptions);
        assert_eq!(next.options.skip_token.as_deref(), Some("tok"));
        assert_eq!(next.options.top, Some(PAGE_SIZE));
    }

    #[test]
    fn a_missing_or_empty_skip_token_ends_paging() {
        let page: QueryResponse =
            serde_json::from_value(json!({"data": [], "$skipToken": ""})).unwrap();
        assert_eq!(page.next_token(), None);
        let page: QueryResponse =
            serde_json::from_value(json!({"data": [], "resultTruncated": "true"})).unwrap();
        assert!(page.truncated());
        assert_eq!(page.next_token(), None);
    }
}
