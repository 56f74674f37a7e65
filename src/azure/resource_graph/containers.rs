//! From a `ResourceContainers` row to a [`Container`]: a subscription or a resource group with
//! its tags. Ids and resource groups are lower-cased (ARM compares them case-insensitively);
//! names keep their case. Rows of other container types (management groups) are skipped.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::mapper::{RowError, coerce_tags, id_segment};

/// What a container is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContainerKind {
    /// `microsoft.resources/subscriptions`.
    Subscription,
    /// `microsoft.resources/subscriptions/resourcegroups`.
    ResourceGroup,
}

impl ContainerKind {
    /// The kind of a Resource Graph `type`, if it is one of the two.
    pub fn of_type(resource_type: &str) -> Option<Self> {
        match resource_type.to_ascii_lowercase().as_str() {
            "microsoft.resources/subscriptions" => Some(Self::Subscription),
            "microsoft.resources/subscriptions/resourcegroups" => Some(Self::ResourceGroup),
            _ => None,
        }
    }

    /// `subscription` or `resource_group`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subscription => "subscription",
            Self::ResourceGroup => "resource_group",
        }
    }
}

/// A subscription or resource group and its tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Container {
    /// The ARM id, lower-cased (`/subscriptions/{id}` or `…/resourcegroups/{name}`).
    pub id: String,
    pub kind: ContainerKind,
    /// Lower-cased; from `subscriptionId`, else from the id.
    pub subscription_id: String,
    /// Lower-cased; empty for a subscription.
    pub resource_group: String,
    /// As Azure returns it (a subscription's display name, a group's name).
    pub name: String,
    /// The home Entra tenant, lower-cased; empty when the row has none.
    pub tenant_id: String,
    pub tags: BTreeMap<String, String>,
}

/// Maps row number `index`; `Ok(None)` for a container of another type.
pub fn map_container(index: usize, row: &Value) -> Result<Option<Container>, RowError> {
    let object = row.as_object().ok_or(RowError::NotAnObject { index })?;
    let string = |key: &str| object.get(key).and_then(Value::as_str);
    let id = string("id").ok_or(RowError::MissingId { index })?;
    let Some(kind) = string("type").and_then(ContainerKind::of_type) else {
        return Ok(None);
    };
    let subscription_id = string("subscriptionId")
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .or_else(|| id_segment(id, "subscriptions"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let resource_group = match kind {
        ContainerKind::Subscription => String::new(),
        ContainerKind::ResourceGroup => string("resourceGroup")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .or_else(|| id_segment(id, "resourcegroups"))
            .unwrap_or_default()
            .to_ascii_lowercase(),
    };
    Ok(Some(Container {
        id: id.to_ascii_lowercase(),
        kind,
        subscription_id,
        resource_group,
        name: string("name").unwrap_or_default().to_owned(),
        tenant_id: string("tenantId").unwrap_or_default().to_ascii_lowercase(),
        tags: coerce_tags(object.get("tags")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_subscription_row_has_no_resource_group_and_keeps_its_display_name() {
        let row = json!({"id": "/subscriptions/AAAA-1", "name": "Contoso Prod",
            "type": "microsoft.resources/subscriptions", "tenantId": "T-1",
            "subscriptionId": "AAAA-1", "resourceGroup": "", "tags": {"cost-center": "42"}});
        let container = map_container(0, &row).unwrap().unwrap();
        assert_eq!(
            container,
            Container {
                id: "/subscriptions/aaaa-1".into(),
                kind: ContainerKind::Subscription,
                subscription_id: "aaaa-1".into(),
                resource_group: String::new(),
                name: "Contoso Prod".into(),
                tenant_id: "t-1".into(),
                tags: BTreeMap::from([("cost-center".into(), "42".into())]),
            }
        );
    }

    #[test]
    fn a_resource_group_row_takes_its_group_from_the_row_or_the_id() {
        let row = json!({"id": "/subscriptions/s1/resourceGroups/RG-Web", "name": "RG-Web",
            "type": "Microsoft.Resources/subscriptions/resourceGroups", "tags": null});
        let container = map_container(0, &row).unwrap().unwrap();
        assert_eq!(container.kind, ContainerKind::ResourceGroup);
        assert_eq!(
            (
                container.subscription_id.as_str(),
                container.resource_group.as_str()
            ),
            ("s1", "rg-web")
        );
        assert_eq!(container.name, "RG-Web");
        assert!(container.tags.is_empty() && container.tenant_id.is_empty());
    }

    #[test]
    fn other_containers_are_skipped_and_rows_without_an_id_refused() {
        let group = json!({"id": "/providers/Microsoft.Management/managementGroups/mg",
            "type": "microsoft.management/managementgroups"});
        assert_eq!(map_container(0, &group), Ok(None));
        assert_eq!(
            map_container(2, &json!({"type": "microsoft.resources/subscriptions"})),
            Err(RowError::MissingId { index: 2 })
        );
        assert_eq!(
            map_container(1, &json!("x")),
            Err(RowError::NotAnObject { index: 1 })
        );
    }
}
