//! Governance rules, without savings: a required tag key missing on a resource and on
//! everything it inherits from (its resource group, its subscription), with the untagged spend
//! reported; and retired SKUs or deployment models (Basic public IPs and load balancers,
//! Application Gateway v1, VMs on unmanaged disks, classic resources), the reason being the
//! finding's variant.

use serde_json::json;

use super::finding::Draft;
use super::finding::cents;
use super::input::Resource;
use super::props::{list, present, text};
use super::scope::{Check, Verdict};
use super::{ALL_TYPES, Rule};

pub(crate) const RULES: [Rule; 2] = [
    Rule {
        id: "tag.missing",
        types: ALL_TYPES,
        check: missing_tags,
    },
    Rule {
        id: "sku.retired",
        types: ALL_TYPES,
        check: retired,
    },
];

/// Whether `tags` hold `key` (any case, as Azure compares tag names) with a value.
fn holds<'a>(tags: impl IntoIterator<Item = (&'a String, &'a String)>, key: &str) -> bool {
    tags.into_iter()
        .any(|(k, v)| k.trim().eq_ignore_ascii_case(key.trim()) && !v.trim().is_empty())
}

fn missing_tags(c: &Check<'_, '_>, r: &Resource) -> Verdict {
    let ctx = c.scope.ctx;
    let group = ctx
        .resource_group_tags
        .get(&r.resource_group.to_ascii_lowercase());
    let missing: Vec<&str> = ctx
        .settings
        .required_tags
        .iter()
        .map(String::as_str)
        .filter(|key| {
            !holds(r.tags.iter().map(|(k, v)| (k, v)), key)
                && !group.is_some_and(|g| holds(g, key))
                && !holds(&ctx.subscription_tags, key)
        })
        .collect();
    if missing.is_empty() {
        return Verdict::Pass;
    }
    let untagged = c
        .scope
        .cost(&r.resource_id)
        .map(|cost| cents(cost.amortized).to_string());
    Verdict::fire(
        Draft::new(
            format!("Tag {} with {}", r.name, missing.join(", ")),
            format!(
                "{} carries no {} tag, nor does its resource group {} or its subscription: its spend{} cannot be allocated. Add the tag to the resource or its resource group.",
                r.name,
                missing.join(", "),
                r.resource_group,
                untagged.as_ref().map(|u| format!(" ({u} {} over the cost window)", ctx.currency)).unwrap_or_default()
            ),
            1.0,
        )
        .evidence(json!({"missing_tags": missing, "required_tags": ctx.settings.required_tags,
            "untagged_cost": untagged, "cost_window": ctx.cost_window})),
    )
}

/// Why a resource's SKU or deployment model is retired, if it is.
fn retirement(r: &Resource) -> Option<(&'static str, &'static str)> {
    let p = r.props();
    let basic = r.sku_name().eq_ignore_ascii_case("basic");
    match r.resource_type.as_str() {
        "microsoft.network/publicipaddresses" if basic => Some((
            "basic_public_ip",
            "Basic SKU public IP addresses are retired: upgrade to Standard.",
        )),
        "microsoft.network/loadbalancers" if basic => Some((
            "basic_load_balancer",
            "Basic load balancers are retired: upgrade to Standard.",
        )),
        "microsoft.network/applicationgateways" => {
            let tier = text(p, &["sku", "tier"]).to_ascii_lowercase();
            (matches!(tier.as_str(), "standard" | "waf")).then_some((
                "application_gateway_v1",
                "Application Gateway v1 is retired: migrate to Standard_v2 or WAF_v2.",
            ))
        }
        "microsoft.compute/virtualmachines" => {
            let os = present(p, &["storageProfile", "osDisk", "vhd"]);
            let data = list(p, &["storageProfile", "dataDisks"])
                .iter()
                .any(|d| present(d, &["vhd"]));
            (os || data).then_some((
                "unmanaged_disks",
                "Unmanaged (VHD in a storage account) disks are retired: migrate to managed disks.",
            ))
        }
        t if t.starts_with("microsoft.classicstorage/") => Some((
            "classic_storage",
            "Classic storage accounts are retired: migrate to Azure Resource Manager.",
        )),
        t if t.starts_with("microsoft.classiccompute/") => Some((
            "classic_compute",
            "Classic (Cloud Services / ASM) compute is retired: migrate to Azure Resource Manager.",
        )),
        t if t.starts_with("microsoft.classicnetwork/") => Some((
            "classic_network",
            "Classic networking is retired: migrate to Azure Resource Manager.",
        )),
        _ => None,
    }
}

fn retired(_: &Check<'_, '_>, r: &Resource) -> Verdict {
    let Some((reason, advice)) = retirement(r) else {
        return Verdict::Pass;
    };
    Verdict::fire(
        Draft::new(
            format!("Migrate {} off a retired SKU", r.name),
            format!("{}: {advice}", r.name),
            1.0,
        )
        .variant(reason)
        .evidence(json!({"reason": reason, "resource_type": r.resource_type, "sku": r.sku})),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::rules::SavingsBasis;
    use crate::rules::testing::*;

    #[test]
    fn a_required_tag_missing_everywhere_is_reported_with_the_untagged_spend() {
        let mut c = ctx();
        let mut bare = resource("Microsoft.Storage/storageAccounts", "st", json!({}));
        bare.tags = [("Cost-Center".to_owned(), " ".to_owned())].into();
        let mut tagged = bare.clone();
        tagged.resource_id = id("Microsoft.Storage/storageAccounts", "ok");
        tagged.tags = [("COST-CENTER".to_owned(), "cc-1".to_owned())].into();
        c.costs.push(cost(&bare.resource_id, "Storage", "12.345"));
        c.resources.extend([bare.clone(), tagged.clone()]);
        let f = outcome(&c, "tag.missing", &bare.resource_id).finding();
        assert_eq!(
            (f.monthly_savings, f.savings_basis, f.action),
            (None, SavingsBasis::None, "tag")
        );
        assert_eq!(f.evidence["missing_tags"], json!(["cost-center"]));
        assert_eq!(f.evidence["untagged_cost"], json!("12.35"));
        assert_eq!(
            outcome(&c, "tag.missing", &tagged.resource_id),
            Outcome::Passed
        );
    }

    #[test]
    fn a_tag_inherited_from_the_group_or_subscription_counts() {
        let mut c = ctx();
        let mut r = resource("Microsoft.Storage/storageAccounts", "st", json!({}));
        r.tags.clear();
        c.resources.push(r.clone());
        assert!(outcome(&c, "tag.missing", &r.resource_id).fired());
        c.resource_group_tags.insert(
            "rg".into(),
            [("cost-center".to_owned(), "cc".to_owned())].into(),
        );
        assert_eq!(outcome(&c, "tag.missing", &r.resource_id), Outcome::Passed);
        c.resource_group_tags.clear();
        c.subscription_tags
            .insert("Cost-Center".into(), "cc".into());
        assert_eq!(outcome(&c, "tag.missing", &r.resource_id), Outcome::Passed);
        c.settings.required_tags = vec!["owner".into()];
        assert!(outcome(&c, "tag.missing", &r.resource_id).fired());
        c.settings.required_tags.clear();
        assert_eq!(outcome(&c, "tag.missing", &r.resource_id), Outcome::Passed);
    }

    #[test]
    fn retired_skus_are_reported_with_their_reason_as_variant() {
        let mut c = ctx();
        let ip = |name: &str, sku: &str| {
            with_sku(
                resource("Microsoft.Network/publicIPAddresses", name, json!({})),
                json!({"name": sku}),
            )
        };
        let lb = with_sku(
            resource("Microsoft.Network/loadBalancers", "lb", json!({})),
            json!({"name": "Basic"}),
        );
        let gw = |name: &str, tier: &str| {
            resource(
                "Microsoft.Network/applicationGateways",
                name,
                json!({"sku": {"name": format!("{tier}_x"), "tier": tier}}),
            )
        };
        let mut unmanaged = vm("old", "Standard_D2s_v5", "running", "Linux");
        set(
            &mut unmanaged,
            &["storageProfile", "osDisk"],
            json!({"vhd": {"uri": "https://st.blob.core.windows.net/vhds/a.vhd"}}),
        );
        let classic = resource("Microsoft.ClassicStorage/storageAccounts", "cl", json!({}));
        let cases = [
            (ip("basic", "Basic"), Some("basic_public_ip")),
            (ip("std", "Standard"), None),
            (lb, Some("basic_load_balancer")),
            (gw("v1", "WAF"), Some("application_gateway_v1")),
            (gw("v2", "WAF_v2"), None),
            (unmanaged, Some("unmanaged_disks")),
            (vm("new", "Standard_D2s_v5", "running", "Linux"), None),
            (classic, Some("classic_storage")),
        ];
        c.resources.extend(cases.iter().map(|(r, _)| r.clone()));
        let e = crate::rules::evaluate(&c);
        for (r, reason) in &cases {
            match (outcome_of(&e, "sku.retired", &r.resource_id), reason) {
                (Outcome::Fired(f), Some(reason)) => {
                    assert_eq!(
                        (f.variant.as_str(), f.action, f.monthly_savings),
                        (*reason, "upgrade_sku", None)
                    );
                }
                (Outcome::Passed, None) => {}
                (other, _) => panic!("{}: {other:?}", r.name),
            }
        }
    }
}
