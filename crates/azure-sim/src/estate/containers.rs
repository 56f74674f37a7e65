//! Resource containers: the subscriptions and resource groups of the estate as Resource Graph's
//! `ResourceContainers` table returns them, with their own tags (some carry `cost-center`,
//! some not), so a tag rule can see what a resource inherits.

use serde_json::{Value, json};
use uuid::Uuid;

use super::catalog::{COST_CENTERS, ENVIRONMENTS, OWNERS};
use super::{Estate, Tags};
use crate::rng::{SplitMix64, hash_str, hash2};

/// The `type` of a subscription row.
pub const SUBSCRIPTION_TYPE: &str = "microsoft.resources/subscriptions";
/// The `type` of a resource group row.
pub const GROUP_TYPE: &str = "microsoft.resources/subscriptions/resourcegroups";

/// Rows per subscription are numbered `subscription index × STRIDE + k`: `k = 0` is the
/// subscription, `k = g + 1` its `g`-th resource group in id order.
pub const STRIDE: u32 = 64;

fn container_tags(seed: u64, cost_center: f64) -> Tags {
    let mut r = SplitMix64::new(seed);
    Tags {
        environment: r.chance(0.8).then(|| r.pick(&ENVIRONMENTS)),
        cost_center: r.chance(cost_center).then(|| r.pick(&COST_CENTERS)),
        owner: r.chance(0.5).then(|| r.pick(&OWNERS)),
        application: None,
        as_json_string: false,
    }
}

/// A resource group's tags (derived from its name, so regenerating never moves them).
pub(super) fn group_tags(subscription_id: Uuid, name: &str) -> Tags {
    container_tags(
        hash2(hash_str(&subscription_id.to_string()), hash_str(name)),
        0.55,
    )
}

/// A subscription's tags.
pub(super) fn subscription_tags(subscription_id: Uuid) -> Tags {
    container_tags(
        hash2(
            hash_str(&subscription_id.to_string()),
            hash_str("subscription"),
        ),
        0.5,
    )
}

impl Estate {
    /// The container row numbers of a subscription, in id order (see [`STRIDE`]).
    pub fn container_rows(&self, subscription_id: Uuid) -> Vec<u32> {
        let Some(&s) = self.subscription_index.get(&subscription_id) else {
            return Vec::new();
        };
        let sub = &self.subscriptions[s];
        let prefix = format!("/subscriptions/{}/resourceGroups/", sub.id);
        let mut groups: Vec<(String, u32)> = sub
            .resource_groups
            .iter()
            .enumerate()
            .map(|(g, group)| (format!("{prefix}{}", group.name), g as u32 + 1))
            .collect();
        groups.sort();
        let base = s as u32 * STRIDE;
        std::iter::once(base)
            .chain(groups.into_iter().map(|(_, k)| base + k))
            .collect()
    }

    /// One `ResourceContainers` row by number (see [`Self::container_rows`]).
    pub fn container_json(&self, row: u32) -> Value {
        let (s, k) = ((row / STRIDE) as usize, (row % STRIDE) as usize);
        let Some(sub) = self.subscriptions.get(s) else {
            return Value::Null;
        };
        let tenant = self.home_tenant(sub.id).unwrap_or(sub.tenant_id);
        let common = |id: String, name: &str, kind: &str| {
            json!({
                "id": id, "name": name, "type": kind, "tenantId": tenant, "kind": "",
                "subscriptionId": sub.id, "managedBy": "", "sku": null, "plan": null,
                "identity": null, "zones": null, "extendedLocation": null,
            })
        };
        match k.checked_sub(1).and_then(|g| sub.resource_groups.get(g)) {
            None => {
                let mut row = common(
                    format!("/subscriptions/{}", sub.id),
                    &sub.display_name,
                    SUBSCRIPTION_TYPE,
                );
                row["location"] = json!("");
                row["resourceGroup"] = json!("");
                row["tags"] = sub.tags.to_json();
                row["properties"] = json!({
                    "state": "Enabled",
                    "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
                    "managementGroupAncestorsChain": [{"displayName": "Tenant Root Group", "name": tenant}],
                });
                row
            }
            Some(group) => {
                let id = format!("/subscriptions/{}/resourceGroups/{}", sub.id, group.name);
                let mut row = common(id, &group.name, GROUP_TYPE);
                row["location"] = json!(group.location);
                row["resourceGroup"] = json!(group.name);
                row["tags"] = group.tags.to_json();
                row["properties"] = json!({"provisioningState": "Succeeded"});
                row
            }
        }
    }
}
