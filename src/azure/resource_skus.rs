//! Compute Resource SKUs: the VM sizes of a subscription in a region, with what a rightsizing
//! rule must know of a size (vCPUs, memory, data disks, NICs, family) and whether the
//! subscription may deploy it there.
//!
//! `GET {arm}/subscriptions/{sub}/providers/Microsoft.Compute/skus?api-version=2021-07-01
//! &$filter=location eq '{region}'`, following `nextLink` until it is absent. The answer lists
//! every Compute SKU (disks, availability sets, …); only `virtualMachines` are kept. Numbers
//! come as strings in `capabilities` (`vCPUs`, `MemoryGB`, `MaxDataDiskCount`,
//! `MaxNetworkInterfaces`); a size missing one of them, or with one that is not a number, is
//! skipped and counted, not fatal: one odd SKU must not hide every other size.
//!
//! **Restricted.** A size is [`VmSku::restricted`] when one of its `restrictions` of type
//! `Location` covers the region (in `values` or `restrictionInfo.locations`). Azure gives two
//! reasons: `NotAvailableForSubscription` and `QuotaId` (the subscription's offer excludes the
//! size); either way the subscription cannot deploy it there, so both count. `Zone`
//! restrictions (some zones only) do not.

use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::{Api, AzureClient, CallContext};
use super::error::AzureError;
// Letters and digits only, so the region goes into the OData filter without escaping.
use super::monitor::plan::region_name as region;

/// The api-version used.
pub const API_VERSION: &str = "2021-07-01";

/// The SKU resource type kept.
pub const VM_RESOURCE_TYPE: &str = "virtualMachines";

/// Why the sizes could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum SkuError {
    /// The request failed (HTTP, throttling, token, an unreadable page, …).
    #[error("Resource SKUs: {0}")]
    Azure(#[from] AzureError),
    /// The subscription id cannot be put in a URL path.
    #[error("invalid subscription id `{0}`")]
    InvalidSubscription(String),
    /// The location is not an Azure region name (letters and digits).
    #[error("invalid location `{0}`")]
    InvalidLocation(String),
}

impl SkuError {
    /// True when asking again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Azure(e) => e.is_retryable(),
            Self::InvalidSubscription(_) | Self::InvalidLocation(_) => false,
        }
    }
}

/// A VM size as a subscription sees it in one region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VmSku {
    /// E.g. `Standard_D2s_v3`.
    pub name: String,
    /// E.g. `standardDSv3Family`; empty when Azure gives none.
    pub family: String,
    pub tier: Option<String>,
    pub vcpus: u32,
    pub memory_gb: f64,
    pub max_data_disks: u32,
    pub max_nics: u32,
    /// Lower-cased.
    pub locations: Vec<String>,
    /// The subscription may not deploy the size in the region asked for.
    pub restricted: bool,
}

/// A `ResourceSku` as far as AzCops reads it; every field optional so that one odd item
/// cannot fail its page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSkuWire {
    #[serde(default)]
    pub resource_type: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default)]
    pub locations: Vec<String>,
    #[serde(default)]
    pub capabilities: Vec<NameValue>,
    #[serde(default)]
    pub restrictions: Vec<RestrictionWire>,
}

/// A capability: `{name, value}`, the value a string (numbers are read from it).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NameValue {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub value: Value,
}

/// A restriction: its type (`Location` or `Zone`), the locations it applies to and why.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestrictionWire {
    #[serde(rename = "type", default)]
    pub restriction_type: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub restriction_info: Option<RestrictionInfo>,
    #[serde(default)]
    pub reason_code: Option<String>,
}

/// `restrictionInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RestrictionInfo {
    #[serde(default)]
    pub locations: Vec<String>,
}

/// The first page's URL.
pub fn skus_url(
    client: &AzureClient,
    subscription_id: &str,
    location: &str,
) -> Result<url::Url, SkuError> {
    let valid_subscription = !subscription_id.is_empty()
        && subscription_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !valid_subscription {
        return Err(SkuError::InvalidSubscription(subscription_id.to_owned()));
    }
    let region = region(location).ok_or_else(|| SkuError::InvalidLocation(location.to_owned()))?;
    let path = format!("/subscriptions/{subscription_id}/providers/Microsoft.Compute/skus");
    let filter = format!("location eq '{region}'");
    Ok(client.arm_url(
        &path,
        &[("api-version", API_VERSION), ("$filter", filter.as_str())],
    )?)
}

/// The VM size of `item` as seen in `location`, or `None` when it is not a VM size or lacks
/// a capability a size needs.
pub fn map_vm_sku(item: &ResourceSkuWire, location: &str) -> Option<VmSku> {
    let is_vm = item
        .resource_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(VM_RESOURCE_TYPE));
    let name = item.name.as_deref().filter(|n| !n.is_empty())?;
    if !is_vm {
        return None;
    }
    let capability = |key: &str| {
        item.capabilities
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(key))
            .and_then(|c| number(&c.value))
    };
    let count = |key: &str| {
        capability(key)
            .filter(|n| n.fract() == 0.0 && *n >= 0.0 && *n <= f64::from(u32::MAX))
            .map(|n| n as u32)
    };
    let region = region(location).unwrap_or_default();
    Some(VmSku {
        name: name.to_owned(),
        family: item.family.clone().unwrap_or_default(),
        tier: item.tier.clone().filter(|t| !t.is_empty()),
        vcpus: count("vCPUs")?,
        memory_gb: capability("MemoryGB").filter(|m| *m >= 0.0)?,
        max_data_disks: count("MaxDataDiskCount")?,
        max_nics: count("MaxNetworkInterfaces")?,
        locations: item
            .locations
            .iter()
            .map(|l| l.to_ascii_lowercase())
            .collect(),
        restricted: restricted(item, &region),
    })
}

/// A capability value: a string holding a number (as Azure sends it) or a number.
fn number(value: &Value) -> Option<f64> {
    let n = match value {
        Value::String(text) => text.trim().parse::<f64>().ok()?,
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

fn restricted(item: &ResourceSkuWire, region: &str) -> bool {
    item.restrictions.iter().any(|r| {
        let location_wide = r
            .restriction_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("Location"));
        let info = r.restriction_info.iter().flat_map(|i| &i.locations);
        location_wide
            && r.values
                .iter()
                .chain(info)
                .any(|l| l.eq_ignore_ascii_case(region))
    })
}

/// The VM sizes of `subscription_id` in `location`, every page, in Azure's order.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = subscription_id, azure.location = location))]
pub async fn list_vm_skus(
    client: &AzureClient,
    ctx: &CallContext,
    subscription_id: &str,
    location: &str,
) -> Result<Vec<VmSku>, SkuError> {
    let url = skus_url(client, subscription_id, location)?;
    // Items are decoded one by one, so a malformed item is skipped rather than failing its page.
    let mut pages = std::pin::pin!(client.get_pages::<Value>(ctx, Api::ResourceSkus, url));
    let (mut skus, mut skipped) = (Vec::new(), 0usize);
    while let Some(page) = pages.try_next().await? {
        for item in page {
            let is_vm = item["resourceType"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(VM_RESOURCE_TYPE));
            if !is_vm {
                continue;
            }
            let sku = serde_json::from_value::<ResourceSkuWire>(item)
                .ok()
                .and_then(|wire| map_vm_sku(&wire, location));
            match sku {
                Some(sku) => skus.push(sku),
                None => skipped += 1,
            }
        }
    }
    if skipped > 0 {
        tracing::warn!(
            skipped,
            "VM sizes without vCPUs, memory, data disk or NIC counts were skipped"
        );
    }
    Ok(skus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wire(value: Value) -> ResourceSkuWire {
        serde_json::from_value(value).unwrap()
    }

    fn size(restrictions: Value) -> ResourceSkuWire {
        wire(json!({
            "resourceType": "virtualMachines", "name": "Standard_D2s_v3", "tier": "Standard",
            "family": "standardDSv3Family", "locations": ["WestEurope"],
            "capabilities": [{"name": "vCPUs", "value": "2"}, {"name": "MemoryGB", "value": "8"},
                             {"name": "MaxDataDiskCount", "value": "4"},
                             {"name": "MaxNetworkInterfaces", "value": "2"}],
            "restrictions": restrictions
        }))
    }

    #[test]
    fn a_vm_size_is_read_from_its_capabilities() {
        let sku = map_vm_sku(&size(json!([])), "westeurope").unwrap();
        assert_eq!(
            sku,
            VmSku {
                name: "Standard_D2s_v3".into(),
                family: "standardDSv3Family".into(),
                tier: Some("Standard".into()),
                vcpus: 2,
                memory_gb: 8.0,
                max_data_disks: 4,
                max_nics: 2,
                locations: vec!["westeurope".into()],
                restricted: false,
            }
        );
    }

    #[test]
    fn location_restrictions_of_the_region_restrict_and_zone_ones_do_not() {
        let not_here = json!([{"type": "Location", "values": ["westeurope"],
            "restrictionInfo": {"locations": ["westeurope"]}, "reasonCode": "NotAvailableForSubscription"}]);
        assert!(
            map_vm_sku(&size(not_here), "West Europe")
                .unwrap()
                .restricted
        );
        let quota = json!([{"type": "Location", "values": [], "restrictionInfo": {"locations": ["WESTEUROPE"]},
            "reasonCode": "QuotaId"}]);
        assert!(map_vm_sku(&size(quota), "westeurope").unwrap().restricted);
        let elsewhere = json!([{"type": "Location", "values": ["eastus"], "reasonCode": "NotAvailableForSubscription"}]);
        assert!(
            !map_vm_sku(&size(elsewhere), "westeurope")
                .unwrap()
                .restricted
        );
        let zone = json!([{"type": "Zone", "values": ["westeurope"],
            "restrictionInfo": {"locations": ["westeurope"], "zones": ["1"]}, "reasonCode": "NotAvailableForSubscription"}]);
        assert!(!map_vm_sku(&size(zone), "westeurope").unwrap().restricted);
    }

    #[test]
    fn other_resource_types_and_sizes_missing_a_capability_are_skipped() {
        let disk =
            wire(json!({"resourceType": "disks", "name": "Premium_LRS", "capabilities": []}));
        assert_eq!(map_vm_sku(&disk, "westeurope"), None);
        let mut odd = size(json!([]));
        odd.capabilities
            .retain(|c| c.name != "MaxNetworkInterfaces");
        assert_eq!(map_vm_sku(&odd, "westeurope"), None);
        let mut fraction = size(json!([]));
        fraction.capabilities[0].value = json!("1.5");
        assert_eq!(
            map_vm_sku(&fraction, "westeurope"),
            None,
            "vCPUs must be whole"
        );
        let garbage =
            json!({"resourceType": "virtualMachines", "name": "x", "capabilities": "nope"});
        assert!(
            serde_json::from_value::<ResourceSkuWire>(garbage).is_err(),
            "skipped by the caller"
        );
    }

    #[test]
    fn region_names_are_letters_and_digits_only() {
        assert_eq!(region("West Europe").as_deref(), Some("westeurope"));
        assert_eq!(region("westeurope' or 1 eq 1"), None);
        assert_eq!(region(""), None);
    }
}
