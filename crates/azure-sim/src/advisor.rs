//! Azure Advisor: `GET /subscriptions/{sub}/providers/Microsoft.Advisor/recommendations`, with
//! `$filter` (`Category`, `ResourceGroup`, `ResourceId`, `RecommendationTypeGuid` with `eq`,
//! `and`, `or`), `$top` and `nextLink` paging. Cost recommendations point at estate resources:
//! idle or oversized VMs, unattached disks and reserved-instance purchases; a few non-cost items
//! make the filter matter.

mod catalog;

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use uuid::Uuid;

use super::arm::ArmRequest;
use super::auth::authorize;
use super::error::{ApiError, ApiResult};
use super::estate::Estate;
use super::paging::{decode_token, encode_token};
use super::rng::{hash_str, hash2};
use super::server::Shared;

pub use catalog::recommendations;

/// Handles one list call (or one page of it).
pub fn list(state: &Shared, request: &ArmRequest, subscription: &str) -> ApiResult {
    let sub = authorize(
        &state.estate,
        &request.principal,
        subscription,
        "Microsoft.Advisor/recommendations/read",
    )?;
    let filter_text = request.param("$filter").unwrap_or_default();
    let filter = request.param("$filter").map(Filter::parse).transpose()?;
    let top = page_size(state, request)?;
    let fingerprint = hash2(
        hash_str(&filter_text.to_ascii_lowercase()),
        sub.as_u128() as u64,
    );
    let offset = request
        .param("$skiptoken")
        .map(|t| decode_token(t, fingerprint))
        .transpose()?
        .unwrap_or(0);
    let items: Vec<Value> = recommendations(&state.estate, sub)
        .into_iter()
        .filter(|item| filter.as_ref().is_none_or(|f| f.matches(item)))
        .collect();
    let end = (offset + top).min(items.len());
    let mut body = json!({"value": &items[offset.min(end)..end]});
    if end < items.len() {
        body["nextLink"] = json!(next_link(
            state,
            request,
            top,
            encode_token(end, fingerprint)
        ));
    }
    Ok(Json(body).into_response())
}

/// `$top`, or the configured page size.
fn page_size(state: &Shared, request: &ArmRequest) -> Result<usize, ApiError> {
    let Some(top) = request.param("$top") else {
        return Ok(state.config.advisor_page_size.max(1));
    };
    top.parse::<usize>()
        .ok()
        .filter(|t| (1..=1000).contains(t))
        .ok_or_else(|| {
            ApiError::bad_request(
                "InvalidInput",
                format!("The $top value '{top}' must be an integer between 1 and 1000."),
            )
        })
}

fn next_link(state: &Shared, request: &ArmRequest, top: usize, token: String) -> String {
    let encode = |v: &str| {
        url::form_urlencoded::byte_serialize(v.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    let mut link = format!(
        "{}{}?api-version={}",
        state.base_url.as_str().trim_end_matches('/'),
        request.path,
        request.api_version()
    );
    if let Some(filter) = request.param("$filter") {
        link.push_str(&format!("&$filter={}", encode(filter)));
    }
    link.push_str(&format!("&$top={top}&$skiptoken={token}"));
    link
}

/// An OData filter: a disjunction of conjunctions of `Property eq 'value'`.
#[derive(Debug, Clone, PartialEq)]
struct Filter(Vec<Vec<(String, String)>>);

impl Filter {
    fn parse(text: &str) -> Result<Self, ApiError> {
        let invalid =
            || ApiError::bad_request("InvalidFilter", format!("The $filter '{text}' is invalid."));
        let tokens = tokens(text).ok_or_else(invalid)?;
        let mut any = vec![Vec::new()];
        let mut rest = tokens.as_slice();
        loop {
            let [property, op, value, tail @ ..] = rest else {
                return Err(invalid());
            };
            let known = [
                "Category",
                "ResourceGroup",
                "ResourceId",
                "RecommendationTypeGuid",
            ];
            let property = known
                .iter()
                .find(|k| k.eq_ignore_ascii_case(property))
                .ok_or_else(invalid)?;
            if !op.eq_ignore_ascii_case("eq") {
                return Err(invalid());
            }
            any.last_mut()
                .ok_or_else(invalid)?
                .push(((*property).to_owned(), value.clone()));
            match tail {
                [] => return Ok(Self(any)),
                [joiner, after @ ..] if joiner.eq_ignore_ascii_case("and") => rest = after,
                [joiner, after @ ..] if joiner.eq_ignore_ascii_case("or") => {
                    any.push(Vec::new());
                    rest = after;
                }
                _ => return Err(invalid()),
            }
        }
    }

    fn matches(&self, item: &Value) -> bool {
        self.0.iter().any(|all| {
            all.iter()
                .all(|(property, value)| field(item, property).eq_ignore_ascii_case(value))
        })
    }
}

fn field(item: &Value, property: &str) -> String {
    let p = &item["properties"];
    let resource_id = p["resourceMetadata"]["resourceId"]
        .as_str()
        .unwrap_or_default();
    match property {
        "Category" => p["category"].as_str().unwrap_or_default().to_owned(),
        "RecommendationTypeGuid" => p["recommendationTypeId"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        "ResourceId" => resource_id.to_owned(),
        _ => resource_id.split('/').nth(4).unwrap_or_default().to_owned(),
    }
}

/// Words and quoted values; `None` when a quote is not closed.
fn tokens(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '\'' {
            let mut value = String::new();
            loop {
                match chars.next()? {
                    '\'' if chars.peek() == Some(&'\'') => {
                        chars.next();
                        value.push('\'');
                    }
                    '\'' => break,
                    other => value.push(other),
                }
            }
            out.push(value);
        } else {
            let mut word = c.to_string();
            while let Some(n) = chars.peek().filter(|n| !n.is_whitespace()) {
                word.push(*n);
                chars.next();
            }
            out.push(word);
        }
    }
    Some(out)
}

impl Estate {
    /// Advisor recommendations of a subscription with category `Cost`.
    pub fn expected_cost_recommendations(&self, subscription: Uuid) -> usize {
        recommendations(self, subscription)
            .iter()
            .filter(|r| r["properties"]["category"] == "Cost")
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_conjunctions_and_disjunctions() {
        let f = Filter::parse(
            "Category eq 'Cost' and ResourceGroup eq 'rg-a' or Category eq 'Security'",
        )
        .expect("parses");
        assert_eq!(f.0.len(), 2);
        assert_eq!(
            f.0[0],
            vec![
                ("Category".into(), "Cost".into()),
                ("ResourceGroup".into(), "rg-a".into())
            ]
        );
        assert!(Filter::parse("Category eq").is_err());
        assert!(Filter::parse("Colour eq 'red'").is_err());
    }
}
