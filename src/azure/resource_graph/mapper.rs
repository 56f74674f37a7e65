//! From a Resource Graph row (an `objectArray` object) to a [`Resource`]: ids, type, location
//! and resource group lower-cased (ARM treats them case-insensitively, Resource Graph returns
//! them in whatever case they were created with), tags coerced to a string map, and every
//! projected column that is not a standard one kept in [`Candidate::details`].

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

/// One Azure resource, normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource {
    /// The ARM id, lower-cased.
    pub resource_id: String,
    /// From `subscriptionId`, else from the id; lower-cased.
    pub subscription_id: String,
    /// The row's `tenantId` (the subscription's home Entra tenant), lower-cased; empty when
    /// the row has none (the library's inventory query always projects it).
    pub tenant_id: String,
    /// As Azure returns it (names are displayed, so their case is kept).
    pub name: String,
    /// E.g. `microsoft.compute/virtualmachines`.
    pub resource_type: String,
    pub kind: Option<String>,
    /// E.g. `westeurope`; empty when the row has none.
    pub location: String,
    /// From `resourceGroup`, else from the id; lower-cased, empty for subscription-level rows.
    pub resource_group: String,
    pub sku: Option<Value>,
    pub tags: BTreeMap<String, String>,
    pub properties: Option<Value>,
    /// The tags of its resource group, when the row carries them (`resourceGroupTags`, which
    /// the inventory query joins from `ResourceContainers`); `None` when the column is absent
    /// or null (another query, or a group Resource Graph did not match).
    pub resource_group_tags: Option<BTreeMap<String, String>>,
}

/// A row of a candidate query: the resource and the query's own projected columns
/// (`diskSizeGb`, `vmSize`, `powerState`, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub resource: Resource,
    pub details: BTreeMap<String, Value>,
}

/// Why a row could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("row {index} is not a JSON object")]
    NotAnObject { index: usize },
    #[error("row {index} has no string `id`")]
    MissingId { index: usize },
}

/// Columns that make up a [`Resource`]; any other projected column is a detail.
const STANDARD_COLUMNS: [&str; 12] = [
    "id",
    "name",
    "type",
    "kind",
    "location",
    "resourceGroup",
    "subscriptionId",
    "tenantId",
    "sku",
    "tags",
    "properties",
    "resourceGroupTags",
];

/// Maps row number `index` of a page.
pub fn map_row(index: usize, row: &Value) -> Result<Resource, RowError> {
    let object = row.as_object().ok_or(RowError::NotAnObject { index })?;
    let id = string(object, "id").ok_or(RowError::MissingId { index })?;
    let resource_id = id.to_ascii_lowercase();
    let subscription_id = string(object, "subscriptionId")
        .map(str::to_owned)
        .or_else(|| id_segment(id, "subscriptions"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let resource_group = string(object, "resourceGroup")
        .map(str::to_owned)
        .or_else(|| id_segment(id, "resourcegroups"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    Ok(Resource {
        resource_id,
        subscription_id,
        tenant_id: lower(object, "tenantId"),
        name: string(object, "name").unwrap_or_default().to_owned(),
        resource_type: lower(object, "type"),
        kind: string(object, "kind")
            .filter(|k| !k.is_empty())
            .map(str::to_owned),
        location: lower(object, "location"),
        resource_group,
        sku: present(object, "sku"),
        tags: coerce_tags(object.get("tags")),
        properties: present(object, "properties"),
        resource_group_tags: object
            .get("resourceGroupTags")
            .filter(|v| !v.is_null())
            .map(|v| coerce_tags(Some(v))),
    })
}

/// Maps a candidate row: the resource plus its non-standard columns.
pub fn map_candidate(index: usize, row: &Value) -> Result<Candidate, RowError> {
    let resource = map_row(index, row)?;
    let details = row
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| !STANDARD_COLUMNS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    Ok(Candidate { resource, details })
}

/// Tags as a string map, whatever Azure (or a projection) made of them: an object is taken
/// as is, a string holding a JSON object is parsed, anything else (null, absent, garbage, an
/// array) is no tags. Values that are not strings are stringified (`1`, `true`, compact
/// JSON); a null value becomes the empty string.
pub fn coerce_tags(value: Option<&Value>) -> BTreeMap<String, String> {
    match value {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, value)| (key.clone(), stringify(value)))
            .collect(),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(parsed @ Value::Object(_)) => coerce_tags(Some(&parsed)),
            _ => BTreeMap::new(),
        },
        _ => BTreeMap::new(),
    }
}

fn stringify(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The segment after `/{name}/` in an ARM id (case-insensitive), e.g. the resource group.
pub fn id_segment(id: &str, name: &str) -> Option<String> {
    let mut parts = id.split('/');
    while let Some(part) = parts.next() {
        if part.eq_ignore_ascii_case(name) {
            return parts.next().filter(|s| !s.is_empty()).map(str::to_owned);
        }
    }
    None
}

fn string<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key).and_then(Value::as_str)
}

fn lower(object: &Map<String, Value>, key: &str) -> String {
    string(object, key).unwrap_or_default().to_ascii_lowercase()
}

fn present(object: &Map<String, Value>, key: &str) -> Option<Value> {
    object.get(key).filter(|v| !v.is_null()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_are_taken_from_an_object_or_a_json_string() {
        let object = json!({"env": "prod", "cost-center": "42"});
        let tags = coerce_tags(Some(&object));
        assert_eq!(tags["env"], "prod");
        assert_eq!(tags["cost-center"], "42");
        let text = json!(r#"{"env":"dev","owner":"ana"}"#);
        let tags = coerce_tags(Some(&text));
        assert_eq!(tags.len(), 2);
        assert_eq!(tags["owner"], "ana");
    }

    #[test]
    fn missing_null_and_garbage_tags_are_no_tags() {
        assert!(coerce_tags(None).is_empty());
        assert!(coerce_tags(Some(&Value::Null)).is_empty());
        assert!(coerce_tags(Some(&json!("not json {"))).is_empty());
        assert!(coerce_tags(Some(&json!("[1,2]"))).is_empty());
        assert!(coerce_tags(Some(&json!(["a"]))).is_empty());
        assert!(coerce_tags(Some(&json!(17))).is_empty());
    }

    #[test]
    fn non_string_tag_values_are_stringified() {
        let tags = coerce_tags(Some(
            &json!({"n": 3, "f": 1.5, "b": true, "z": null, "o": {"a": 1}}),
        ));
        assert_eq!(tags["n"], "3");
        assert_eq!(tags["f"], "1.5");
        assert_eq!(tags["b"], "true");
        assert_eq!(tags["z"], "");
        assert_eq!(tags["o"], r#"{"a":1}"#);
    }

    #[test]
    fn ids_type_location_and_group_are_lower_cased_but_the_name_is_kept() {
        let row = json!({
            "id": "/subscriptions/ABC/resourceGroups/RG-One/providers/Microsoft.Compute/virtualMachines/MyVm",
            "name": "MyVm", "type": "Microsoft.Compute/virtualMachines", "location": "WestEurope",
            "resourceGroup": "RG-One", "subscriptionId": "ABC", "kind": "", "sku": null,
            "tags": "{\"env\":\"prod\"}", "properties": {"vmId": "x"}
        });
        let resource = map_row(0, &row).unwrap();
        assert_eq!(
            resource.resource_id,
            "/subscriptions/abc/resourcegroups/rg-one/providers/microsoft.compute/virtualmachines/myvm"
        );
        assert_eq!(resource.name, "MyVm");
        assert_eq!(resource.resource_type, "microsoft.compute/virtualmachines");
        assert_eq!(resource.location, "westeurope");
        assert_eq!(resource.resource_group, "rg-one");
        assert_eq!(resource.subscription_id, "abc");
        assert_eq!(resource.kind, None);
        assert_eq!(resource.sku, None);
        assert_eq!(resource.tags["env"], "prod");
        assert_eq!(resource.properties, Some(json!({"vmId": "x"})));
    }

    #[test]
    fn subscription_and_group_come_from_the_id_when_not_projected() {
        let row =
            json!({"id": "/subscriptions/S1/resourceGroups/RG2/providers/A.B/c/d", "name": "d"});
        let resource = map_row(0, &row).unwrap();
        assert_eq!(resource.subscription_id, "s1");
        assert_eq!(resource.resource_group, "rg2");
        assert!(resource.tags.is_empty());
        assert_eq!(resource.location, "");
        assert_eq!(resource.resource_group_tags, None);
    }

    #[test]
    fn the_joined_group_tags_are_kept_and_a_null_is_none() {
        let id = "/subscriptions/s/resourceGroups/r/providers/a/b/c";
        let tagged = json!({"id": id, "resourceGroupTags": {"cost-center": "42"}});
        let tags = map_row(0, &tagged).unwrap().resource_group_tags;
        assert_eq!(tags.as_ref().map(|t| t["cost-center"].as_str()), Some("42"));
        let untagged = json!({"id": id, "resourceGroupTags": {}});
        assert_eq!(
            map_row(0, &untagged).unwrap().resource_group_tags,
            Some(BTreeMap::new())
        );
        let unmatched = json!({"id": id, "resourceGroupTags": null});
        assert_eq!(map_row(0, &unmatched).unwrap().resource_group_tags, None);
        assert!(map_candidate(0, &tagged).unwrap().details.is_empty());
    }

    #[test]
    fn rows_without_an_id_are_refused() {
        assert_eq!(
            map_row(3, &json!({"name": "x"})),
            Err(RowError::MissingId { index: 3 })
        );
        assert_eq!(
            map_row(1, &json!([1])),
            Err(RowError::NotAnObject { index: 1 })
        );
    }

    #[test]
    fn candidate_details_are_the_extra_columns() {
        let row = json!({"id": "/subscriptions/s/resourceGroups/r/providers/a/b/c", "name": "c",
            "tags": {}, "diskSizeGb": 128, "timeCreated": "2024-01-01"});
        let candidate = map_candidate(0, &row).unwrap();
        assert_eq!(candidate.details.len(), 2);
        assert_eq!(candidate.details["diskSizeGb"], json!(128));
    }
}
