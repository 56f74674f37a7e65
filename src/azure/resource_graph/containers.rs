//! The containers a resource inherits tags from, as [`Container`]s: its resource group, read
//! from the inventory's own rows (the inventory query joins each resource's group's tags from
//! `ResourceContainers`, [`Container::group_of`]), and its subscription, read from ARM's
//! `GET /subscriptions/{id}` that every ingestion item makes anyway
//! ([`Container::subscription`]). Neither costs a Resource Graph request of its own; a resource
//! group no resource is in is therefore not seen (nothing reads its tags). Ids and resource
//! groups are lower-cased (ARM compares them case-insensitively).

use std::collections::BTreeMap;

use serde::Serialize;

use super::mapper::Resource;

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
    /// A subscription's display name as ARM returns it; a group's name lower-cased, as the
    /// inventory rows carry it.
    pub name: String,
    /// The home Entra tenant, lower-cased; empty when the row has none.
    pub tenant_id: String,
    pub tags: BTreeMap<String, String>,
}

impl Container {
    /// The resource group `resource` is in, with the tags the inventory's join gave its row
    /// (none when Resource Graph matched no group); `None` for a resource outside any group.
    pub fn group_of(resource: &Resource) -> Option<Self> {
        if resource.resource_group.is_empty() {
            return None;
        }
        Some(Self {
            id: format!(
                "/subscriptions/{}/resourcegroups/{}",
                resource.subscription_id, resource.resource_group
            ),
            kind: ContainerKind::ResourceGroup,
            subscription_id: resource.subscription_id.clone(),
            resource_group: resource.resource_group.clone(),
            name: resource.resource_group.clone(),
            tenant_id: resource.tenant_id.clone(),
            tags: resource.resource_group_tags.clone().unwrap_or_default(),
        })
    }

    /// A subscription, from what ARM says of it.
    pub fn subscription(
        subscription_id: &str,
        display_name: &str,
        tenant_id: &str,
        tags: BTreeMap<String, String>,
    ) -> Self {
        let subscription_id = subscription_id.to_ascii_lowercase();
        Self {
            id: format!("/subscriptions/{subscription_id}"),
            kind: ContainerKind::Subscription,
            subscription_id,
            resource_group: String::new(),
            name: display_name.to_owned(),
            tenant_id: tenant_id.to_ascii_lowercase(),
            tags,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::resource_graph::mapper::map_row;
    use serde_json::json;

    #[test]
    fn a_subscription_has_no_resource_group_and_keeps_its_display_name() {
        let tags = BTreeMap::from([("cost-center".into(), "42".into())]);
        let container = Container::subscription("AAAA-1", "Contoso Prod", "T-1", tags.clone());
        assert_eq!(
            container,
            Container {
                id: "/subscriptions/aaaa-1".into(),
                kind: ContainerKind::Subscription,
                subscription_id: "aaaa-1".into(),
                resource_group: String::new(),
                name: "Contoso Prod".into(),
                tenant_id: "t-1".into(),
                tags,
            }
        );
    }

    #[test]
    fn a_resources_group_carries_the_joined_tags_or_none() {
        let row = json!({"id": "/subscriptions/S1/resourceGroups/RG-Web/providers/a/b/c",
            "resourceGroup": "RG-Web", "tenantId": "T", "resourceGroupTags": {"env": "prod"}});
        let group = Container::group_of(&map_row(0, &row).unwrap()).expect("a group");
        assert_eq!(group.kind, ContainerKind::ResourceGroup);
        assert_eq!(group.id, "/subscriptions/s1/resourcegroups/rg-web");
        assert_eq!(
            (
                group.subscription_id.as_str(),
                group.resource_group.as_str()
            ),
            ("s1", "rg-web")
        );
        assert_eq!(
            (group.name.as_str(), group.tenant_id.as_str()),
            ("rg-web", "t")
        );
        assert_eq!(group.tags["env"], "prod");
        let unmatched = json!({"id": "/subscriptions/s1/resourceGroups/rg/providers/a/b/c",
            "resourceGroupTags": null});
        let group = Container::group_of(&map_row(0, &unmatched).unwrap()).expect("a group");
        assert!(group.tags.is_empty());
    }

    #[test]
    fn a_resource_outside_any_group_has_none() {
        let row = json!({"id": "/subscriptions/s1/providers/Microsoft.Security/pricings/x"});
        assert_eq!(Container::group_of(&map_row(0, &row).unwrap()), None);
    }
}
