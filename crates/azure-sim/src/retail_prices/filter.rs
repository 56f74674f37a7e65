//! The OData `$filter` subset of the Retail Prices API: `field eq 'value'` (or `eq true|false`
//! for `isPrimaryMeterRegion`), combined with `and`, `or` and parentheses. Fields are the
//! documented filterable ones (`armRegionName`, `location`, `meterId`, `meterName`,
//! `productId`, `skuId`, `productName`, `skuName`, `serviceName`, `serviceId`,
//! `serviceFamily`, `priceType`, `armSkuName`) and `currencyCode`, `type`,
//! `isPrimaryMeterRegion`, their names case-insensitive. Values compare case-sensitively from
//! api-version 2023-01-01-preview on and case-insensitively before, as documented. Anything
//! else (`ne`, `in`, `contains()`, `not`, an unknown field) is refused.

use serde_json::Value;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Eq(&'static str, Literal),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

/// A compared value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Bool(bool),
}

/// Filterable fields and the item field each reads (`priceType` is the item's `type`).
const FIELDS: [(&str, &str); 16] = [
    ("armRegionName", "armRegionName"),
    ("location", "location"),
    ("meterId", "meterId"),
    ("meterName", "meterName"),
    ("productId", "productId"),
    ("skuId", "skuId"),
    ("productName", "productName"),
    ("skuName", "skuName"),
    ("serviceName", "serviceName"),
    ("serviceId", "serviceId"),
    ("serviceFamily", "serviceFamily"),
    ("priceType", "type"),
    ("armSkuName", "armSkuName"),
    ("currencyCode", "currencyCode"),
    ("type", "type"),
    ("isPrimaryMeterRegion", "isPrimaryMeterRegion"),
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn lex(text: &str) -> Option<Vec<Tok>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '\'' => {
                // OData escapes a quote inside a string by doubling it.
                let mut s = String::new();
                i += 1;
                loop {
                    match (chars.get(i), chars.get(i + 1)) {
                        (Some('\''), Some('\'')) => {
                            s.push('\'');
                            i += 2;
                        }
                        (Some('\''), _) => {
                            i += 1;
                            break;
                        }
                        (Some(c), _) => {
                            s.push(*c);
                            i += 1;
                        }
                        (None, _) => return None,
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_ascii_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
            _ => return None,
        }
    }
    Some(out)
}

/// Parses a `$filter`; `None` for anything outside the subset.
pub fn parse(text: &str) -> Option<Filter> {
    let tokens = lex(text)?;
    let mut pos = 0;
    let filter = or(&tokens, &mut pos)?;
    (pos == tokens.len()).then_some(filter)
}

fn word(tokens: &[Tok], pos: usize, expected: &str) -> bool {
    matches!(tokens.get(pos), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(expected))
}

fn or(tokens: &[Tok], pos: &mut usize) -> Option<Filter> {
    let mut left = and(tokens, pos)?;
    while word(tokens, *pos, "or") {
        *pos += 1;
        left = Filter::Or(Box::new(left), Box::new(and(tokens, pos)?));
    }
    Some(left)
}

fn and(tokens: &[Tok], pos: &mut usize) -> Option<Filter> {
    let mut left = primary(tokens, pos)?;
    while word(tokens, *pos, "and") {
        *pos += 1;
        left = Filter::And(Box::new(left), Box::new(primary(tokens, pos)?));
    }
    Some(left)
}

fn primary(tokens: &[Tok], pos: &mut usize) -> Option<Filter> {
    if tokens.get(*pos) == Some(&Tok::Open) {
        *pos += 1;
        let inner = or(tokens, pos)?;
        if tokens.get(*pos) != Some(&Tok::Close) {
            return None;
        }
        *pos += 1;
        return Some(inner);
    }
    let Some(Tok::Word(field)) = tokens.get(*pos) else {
        return None;
    };
    let (_, item_field) = FIELDS.iter().find(|(f, _)| f.eq_ignore_ascii_case(field))?;
    if !word(tokens, *pos + 1, "eq") {
        return None;
    }
    let literal = match tokens.get(*pos + 2)? {
        Tok::Str(s) => Literal::Str(s.clone()),
        Tok::Word(w) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
        Tok::Word(w) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
        _ => return None,
    };
    *pos += 3;
    Some(Filter::Eq(item_field, literal))
}

impl Filter {
    /// Whether a price item passes; `case_sensitive` as the api-version dictates.
    pub fn matches(&self, item: &Value, case_sensitive: bool) -> bool {
        match self {
            Self::And(a, b) => a.matches(item, case_sensitive) && b.matches(item, case_sensitive),
            Self::Or(a, b) => a.matches(item, case_sensitive) || b.matches(item, case_sensitive),
            Self::Eq(field, literal) => match (&item[*field], literal) {
                (Value::String(v), Literal::Str(s)) if case_sensitive => v == s,
                (Value::String(v), Literal::Str(s)) => v.eq_ignore_ascii_case(s),
                (Value::Bool(v), Literal::Bool(b)) => v == b,
                _ => false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conjunctions_disjunctions_and_parentheses_parse() {
        let f = parse("serviceName eq 'Virtual Machines' and (armSkuName eq 'Standard_D2s_v5' or armSkuName eq 'Standard_D4s_v5') and priceType eq 'Consumption'")
            .expect("parses");
        let item = json!({"serviceName": "Virtual Machines", "armSkuName": "Standard_D4s_v5", "type": "Consumption"});
        assert!(f.matches(&item, true));
        let lower = json!({"serviceName": "virtual machines", "armSkuName": "Standard_D4s_v5", "type": "Consumption"});
        assert!(!f.matches(&lower, true));
        assert!(f.matches(&lower, false));
        let quoted = parse("productName eq 'O''Brien'").expect("escaped quote");
        assert!(quoted.matches(&json!({"productName": "O'Brien"}), true));
        assert!(parse("isPrimaryMeterRegion eq true").is_some());
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "armSkuName in ('a', 'b')",
            "contains(productName, 'Windows')",
            "not (skuName eq 'x')",
            "skuName ne 'x'",
            "unknownField eq 'x'",
            "(skuName eq 'x'",
            "skuName eq 'x' or",
            "skuName eq 'unterminated",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
