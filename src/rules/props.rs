//! Reading ARM JSON as Resource Graph returns it: keys are looked up exactly first and then
//! case-insensitively (ARM is not consistent: `LastOwnershipUpdateTime` next to `diskState`),
//! references (`{"id": …}`) are lower-cased ids, and anything missing or of the wrong type
//! reads as absent rather than failing the evaluation.
//!
//! `properties` are held as [`Json`] (simd-json's owned value): its objects are vectors while
//! small, where `serde_json`'s are B-trees, so a 20,000-resource subscription's properties take
//! about a third of the memory.

use chrono::{DateTime, Utc};
use simd_json::StaticNode;
use simd_json::prelude::{ValueAsArray, ValueAsObject, ValueAsScalar};

use super::input::{Json, Resource};

type Value = Json;

/// The value under `key` of an object (exact key first, then ignoring case).
pub(crate) fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let object = value.as_object()?;
    object.get(key).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The value at a path of keys.
pub(crate) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| get(v, key))
}

/// The string at a path, or "".
pub(crate) fn text<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    at(value, path).and_then(|v| v.as_str()).unwrap_or("")
}

/// The finite number at a path (a JSON number or a numeric string).
pub(crate) fn number(value: &Value, path: &[&str]) -> Option<f64> {
    let n = match at(value, path)? {
        Value::String(s) => s.trim().parse().ok(),
        other => other.cast_f64(),
    };
    n.filter(|n| n.is_finite())
}

/// The boolean at a path.
pub(crate) fn flag(value: &Value, path: &[&str]) -> Option<bool> {
    at(value, path)?.as_bool()
}

/// The timestamp at a path (RFC 3339, any fraction of seconds).
pub(crate) fn time(value: &Value, path: &[&str]) -> Option<DateTime<Utc>> {
    let raw = at(value, path)?.as_str()?;
    DateTime::parse_from_rfc3339(raw.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The array at a path (empty when missing).
pub(crate) fn list<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path)
        .and_then(|v| v.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Whether something is set at a path: not missing, null, an empty object or an empty string.
pub(crate) fn present(value: &Value, path: &[&str]) -> bool {
    match at(value, path) {
        None | Some(Value::Static(StaticNode::Null)) => false,
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// The lower-cased `id` of a reference (`{"id": "/subscriptions/…"}`) at a path.
pub(crate) fn reference(value: &Value, path: &[&str]) -> Option<String> {
    let id = text(at(value, path)?, &["id"]);
    (!id.is_empty()).then(|| id.to_ascii_lowercase())
}

/// The item's own fields: a list item's `properties` when it has them, else the item itself
/// (Resource Graph flattens some sub-resources).
pub(crate) fn inner(item: &Value) -> &Value {
    get(item, "properties")
        .filter(|p| matches!(p, Value::Object(_)))
        .unwrap_or(item)
}

static NULL: Value = Value::Static(StaticNode::Null);

impl Resource {
    /// `properties`, or null.
    pub(crate) fn props(&self) -> &Value {
        self.properties.as_ref().unwrap_or(&NULL)
    }

    /// `sku.name`, or "".
    pub(crate) fn sku_name(&self) -> &str {
        self.sku.as_ref().map_or("", |s| text(s, &["name"]))
    }

    /// `sku.tier`, or "".
    pub(crate) fn sku_tier(&self) -> &str {
        self.sku.as_ref().map_or("", |s| text(s, &["tier"]))
    }

    /// When it was created, where ARM says (`timeCreated`, `creationTime`, `creationDate`).
    pub(crate) fn created(&self) -> Option<DateTime<Utc>> {
        ["timeCreated", "creationTime", "creationDate"]
            .iter()
            .find_map(|k| time(self.props(), &[k]))
    }
}

/// The lower-cased id of the subscription an ARM id is in.
pub(crate) fn subscription_of(id: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(part) = parts.next() {
        if part.eq_ignore_ascii_case("subscriptions") {
            return parts.next().map(str::to_ascii_lowercase);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::to_json;
    use serde_json::json;

    #[test]
    fn keys_are_found_exactly_then_ignoring_case() {
        let v = to_json(
            json!({"diskState": "Unattached", "LastOwnershipUpdateTime": "2026-01-02T03:04:05.1234567+00:00",
            "nested": {"Id": "/Subscriptions/ABC/x"}, "n": "12.5", "l": [1], "e": {}}),
        );
        assert_eq!(text(&v, &["diskstate"]), "Unattached");
        assert_eq!(
            time(&v, &["lastOwnershipUpdateTime"]).map(|t| t.to_rfc3339()),
            Some("2026-01-02T03:04:05.123456700+00:00".into())
        );
        assert_eq!(
            reference(&v, &["nested"]).as_deref(),
            Some("/subscriptions/abc/x")
        );
        assert_eq!(number(&v, &["n"]), Some(12.5));
        assert_eq!(number(&to_json(json!({"n": "NaN"})), &["n"]), None);
        assert!(present(&v, &["l"]) && !present(&v, &["e"]) && !present(&v, &["missing"]));
        assert_eq!(list(&v, &["n"]).len(), 0);
        assert_eq!(
            subscription_of("/subscriptions/AB-C/resourceGroups/x").as_deref(),
            Some("ab-c")
        );
    }
}
