//! Resource SKUs: `GET /subscriptions/{sub}/providers/Microsoft.Compute/skus`, the VM sizes and
//! managed disk tiers of [`crate::catalog`] per region, in the shape of the 2021-07-01
//! `ResourceSkusResult` (`value[]` with `resourceType`, `name`, `tier`, `size`, `family`,
//! `locations`, `locationInfo`, `capabilities` as `{name, value}` strings, `restrictions`;
//! `nextLink`). `$filter` supports only `location eq '…'`, as documented. A couple of
//! restrictions exist (a size not offered to the subscription in one region, a zone).

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::arm::ArmRequest;
use super::auth::authorize;
use super::catalog::{REGIONS, VM_SIZES, VmSize, disk_tiers};
use super::error::{ApiError, ApiResult};
use super::paging::{decode_token, encode_token};
use super::rng::{hash_str, hash2};
use super::server::Shared;

/// Handles one page of the list.
pub fn list(state: &Shared, request: &ArmRequest, subscription: &str) -> ApiResult {
    let sub = authorize(
        &state.estate,
        &request.principal,
        subscription,
        "Microsoft.Compute/skus/read",
    )?;
    let filter = request.param("$filter").unwrap_or_default();
    let location = location_filter(filter)?;
    let fingerprint = hash2(hash_str(&filter.to_ascii_lowercase()), sub.as_u128() as u64);
    let offset = request
        .param("$skiptoken")
        .map(|t| decode_token(t, fingerprint))
        .transpose()?
        .unwrap_or(0);
    let items = skus(location.as_deref());
    let size = state.config.sku_page_size.max(1);
    let end = (offset + size).min(items.len());
    let mut body = json!({"value": &items[offset.min(end)..end]});
    if end < items.len() {
        let mut link = format!(
            "{}{}?api-version={}",
            state.base_url.as_str().trim_end_matches('/'),
            request.path,
            request.api_version()
        );
        if !filter.is_empty() {
            let encoded: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
            link.push_str(&format!("&$filter={}", encoded.replace('+', "%20")));
        }
        link.push_str(&format!("&$skiptoken={}", encode_token(end, fingerprint)));
        body["nextLink"] = json!(link);
    }
    Ok(Json(body).into_response())
}

/// `location eq 'westeurope'` → `Some("westeurope")`; empty → `None`; anything else is refused.
fn location_filter(filter: &str) -> Result<Option<String>, ApiError> {
    if filter.trim().is_empty() {
        return Ok(None);
    }
    let refuse = || {
        ApiError::bad_request(
            "InvalidFilter",
            format!(
                "The filter '{filter}' is not supported. Only the location filter is supported currently, e.g. location eq 'westus'."
            ),
        )
    };
    let words: Vec<&str> = filter.split_whitespace().collect();
    match words.as_slice() {
        [field, op, value]
            if field.eq_ignore_ascii_case("location") && op.eq_ignore_ascii_case("eq") =>
        {
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .ok_or_else(refuse)?;
            Ok(Some(value.to_ascii_lowercase()))
        }
        _ => Err(refuse()),
    }
}

/// Every SKU item, region by region, VM sizes then disk tiers (one region for a filter).
pub fn skus(location: Option<&str>) -> Vec<Value> {
    REGIONS
        .iter()
        .map(|(region, _)| *region)
        .filter(|region| location.is_none_or(|l| l.eq_ignore_ascii_case(region)))
        .flat_map(|region| {
            let vms = VM_SIZES.iter().map(move |s| vm_sku(s, region));
            let disks = disk_tiers().iter().map(move |t| {
                json!({
                    "resourceType": "disks",
                    "name": t.sku,
                    "tier": t.sku.split('_').next().unwrap_or_default(),
                    "size": t.name,
                    "locations": [region],
                    "locationInfo": [{"location": region, "zones": ["1", "2", "3"], "zoneDetails": []}],
                    "capabilities": capabilities(&[
                        ("MaxSizeGiB", t.max_gb.to_string()),
                        ("MinSizeGiB", (t.max_gb / 2).to_string()),
                        ("MaxIOps", t.iops.to_string()),
                        ("MinIOps", t.iops.to_string()),
                        ("MaxBandwidthMBps", t.mbps.to_string()),
                        ("MinBandwidthMBps", t.mbps.to_string()),
                    ]),
                    "restrictions": [],
                })
            });
            vms.chain(disks)
        })
        .collect()
}

fn capabilities(pairs: &[(&str, String)]) -> Value {
    pairs
        .iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect()
}

fn vm_sku(s: &VmSize, region: &str) -> Value {
    let flag = |b: bool| if b { "True" } else { "False" }.to_owned();
    json!({
        "resourceType": "virtualMachines",
        "name": s.name,
        "tier": "Standard",
        "size": s.sku_size(),
        "family": s.family,
        "locations": [region],
        "locationInfo": [{"location": region, "zones": ["1", "2", "3"], "zoneDetails": []}],
        "capabilities": capabilities(&[
            ("MaxResourceVolumeMB", "0".into()),
            ("OSVhdSizeMB", "1047552".into()),
            ("vCPUs", s.vcpus.to_string()),
            ("MemoryPreservingMaintenanceSupported", "True".into()),
            ("HyperVGenerations", "V1,V2".into()),
            ("MemoryGB", s.memory_gb.to_string()),
            ("MaxDataDiskCount", s.max_data_disks.to_string()),
            ("CpuArchitectureType", "x64".into()),
            ("LowPriorityCapable", flag(!s.name.contains("_B"))),
            ("PremiumIO", "True".into()),
            ("VMDeploymentTypes", "IaaS".into()),
            ("vCPUsAvailable", s.vcpus.to_string()),
            ("ACUs", if s.name.contains("_F") { "195" } else { "100" }.into()),
            ("vCPUsPerCore", if s.vcpus == 1 { "1" } else { "2" }.into()),
            ("EphemeralOSDiskSupported", flag(!s.name.contains("_B"))),
            ("AcceleratedNetworkingEnabled", flag(s.vcpus >= 2 && !s.name.contains("_B"))),
            ("RdmaEnabled", "False".into()),
            ("MaxNetworkInterfaces", s.max_nics.to_string()),
        ]),
        "restrictions": restrictions(s.name, region),
    })
}

/// A size not offered to subscriptions in one region, and one missing a zone in another
/// (neither is a size the estate uses or a rightsizing moves to).
fn restrictions(size: &str, region: &str) -> Value {
    match (size, region) {
        ("Standard_D32s_v5", "uksouth") => json!([{
            "type": "Location", "values": [region], "restrictionInfo": {"locations": [region]},
            "reasonCode": "NotAvailableForSubscription",
        }]),
        ("Standard_E32s_v5", "francecentral") => json!([{
            "type": "Zone", "values": [region], "restrictionInfo": {"locations": [region], "zones": ["3"]},
            "reasonCode": "NotAvailableForSubscription",
        }]),
        _ => json!([]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_location_filter_is_accepted() {
        assert_eq!(
            location_filter("location eq 'WestEurope'").ok(),
            Some(Some("westeurope".into()))
        );
        assert_eq!(location_filter("").ok(), Some(None));
        assert!(location_filter("name eq 'Standard_D2s_v5'").is_err());
        assert!(location_filter("location eq westeurope").is_err());
        let one = skus(Some("eastus"));
        assert_eq!(one.len(), VM_SIZES.len() + disk_tiers().len());
        assert!(one.iter().all(|s| s["locations"] == json!(["eastus"])));
    }
}
