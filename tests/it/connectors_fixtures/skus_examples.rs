//! Compute Resource SKU examples: VM sizes read from their string capabilities.

use azcops::azure::resource_skus::{ResourceSkuWire, VmSku, map_vm_sku};
use serde_json::Value;

use super::body;

fn sizes(example: &Value, location: &str) -> Vec<VmSku> {
    assert!(body(example)["nextLink"].is_null(), "one page");
    let items: Vec<ResourceSkuWire> =
        serde_json::from_value(body(example)["value"].clone()).expect("ResourceSkusResult");
    items
        .iter()
        .map(|item| map_vm_sku(item, location).expect("a complete VM size"))
        .collect()
}

/// Name, family, tier, vCPUs, memory, data disks, NICs.
type Size<'a> = (&'a str, &'a str, Option<&'a str>, u32, f64, u32, u32);

fn a0_and_a1(skus: &[VmSku]) {
    let got: Vec<Size<'_>> = skus
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.family.as_str(),
                s.tier.as_deref(),
                s.vcpus,
                s.memory_gb,
                s.max_data_disks,
                s.max_nics,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "Standard_A0",
                "standardA0_A7Family",
                Some("Standard"),
                1,
                0.75,
                1,
                2
            ),
            (
                "Standard_A1",
                "standardA0_A7Family",
                Some("Standard"),
                1,
                1.75,
                2,
                2
            ),
        ]
    );
    assert!(
        skus.iter()
            .all(|s| s.locations == ["westus"] && !s.restricted)
    );
}

pub(super) fn skus_for_region(example: &Value) {
    assert_eq!(example["parameters"]["$filter"], "location eq 'westus'");
    a0_and_a1(&sizes(example, "westus"));
}

pub(super) fn skus_all(example: &Value) {
    a0_and_a1(&sizes(example, "westus"));
}

pub(super) fn skus_extended_locations(example: &Value) {
    // The Edge Zone entry of `locationInfo` changes nothing about the size.
    a0_and_a1(&sizes(example, "West US"));
}
