//! Virtual machine sizes: shape (vCPUs, memory, data disks, NICs), the Resource SKUs family and
//! the hourly Linux and Windows pay-as-you-go prices. Four families, each with the sizes a
//! rightsizing moves between.

/// A VM size with its shape and pay-as-you-go prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VmSize {
    /// `Standard_D4s_v5`.
    pub name: &'static str,
    /// The Resource SKUs `family`, e.g. `standardDSv5Family`.
    pub family: &'static str,
    /// The Retail Prices `productName` of the Linux meter (Windows appends ` Windows`).
    pub product: &'static str,
    pub vcpus: u32,
    pub memory_gb: u32,
    pub max_data_disks: u32,
    pub max_nics: u32,
    /// Linux, per hour (what the estate's cost model called `hourly_price`).
    pub hourly_price: f64,
    /// Windows (licence included), per hour.
    pub windows_hourly: f64,
}

impl VmSize {
    /// The Retail Prices `skuName`/`meterName` stem: `Standard_D4s_v5` → `D4s v5`.
    pub fn meter_stem(&self) -> String {
        self.name.trim_start_matches("Standard_").replace('_', " ")
    }

    /// The Resource SKUs `size`: `Standard_D4s_v5` → `D4s_v5`.
    pub fn sku_size(&self) -> &'static str {
        self.name.trim_start_matches("Standard_")
    }

    /// The hourly price for an OS (`windows` without Azure Hybrid Benefit).
    pub fn hourly(&self, windows: bool) -> f64 {
        if windows {
            self.windows_hourly
        } else {
            self.hourly_price
        }
    }
}

const fn size(
    name: &'static str,
    (family, product): (&'static str, &'static str),
    (vcpus, memory_gb, max_data_disks, max_nics): (u32, u32, u32, u32),
    (hourly_price, windows_hourly): (f64, f64),
) -> VmSize {
    VmSize {
        name,
        family,
        product,
        vcpus,
        memory_gb,
        max_data_disks,
        max_nics,
        hourly_price,
        windows_hourly,
    }
}

const B: (&str, &str) = ("standardBSFamily", "Virtual Machines BS Series");
const D: (&str, &str) = ("standardDSv5Family", "Virtual Machines Dsv5 Series");
const E: (&str, &str) = ("standardESv5Family", "Virtual Machines Esv5 Series");
const F: (&str, &str) = ("standardFSv2Family", "Virtual Machines FSv2 Series");

/// Every size the simulator knows, family by family, smallest first.
pub const VM_SIZES: [VmSize; 21] = [
    size("Standard_B1s", B, (1, 1, 2, 2), (0.0104, 0.0146)),
    size("Standard_B1ms", B, (1, 2, 2, 2), (0.0207, 0.0287)),
    size("Standard_B2s", B, (2, 4, 4, 3), (0.0416, 0.0496)),
    size("Standard_B2ms", B, (2, 8, 4, 3), (0.0832, 0.0992)),
    size("Standard_B4ms", B, (4, 16, 8, 4), (0.166, 0.198)),
    size("Standard_B8ms", B, (8, 32, 16, 4), (0.333, 0.397)),
    size("Standard_D2s_v5", D, (2, 8, 4, 2), (0.096, 0.188)),
    size("Standard_D4s_v5", D, (4, 16, 8, 2), (0.192, 0.376)),
    size("Standard_D8s_v5", D, (8, 32, 16, 4), (0.384, 0.752)),
    size("Standard_D16s_v5", D, (16, 64, 32, 8), (0.768, 1.504)),
    size("Standard_D32s_v5", D, (32, 128, 32, 8), (1.536, 3.008)),
    size("Standard_E2s_v5", E, (2, 16, 4, 2), (0.126, 0.218)),
    size("Standard_E4s_v5", E, (4, 32, 8, 2), (0.252, 0.436)),
    size("Standard_E8s_v5", E, (8, 64, 16, 4), (0.504, 0.872)),
    size("Standard_E16s_v5", E, (16, 128, 32, 8), (1.008, 1.744)),
    size("Standard_E32s_v5", E, (32, 256, 32, 8), (2.016, 3.488)),
    size("Standard_F2s_v2", F, (2, 4, 4, 2), (0.0846, 0.1766)),
    size("Standard_F4s_v2", F, (4, 8, 8, 2), (0.169, 0.353)),
    size("Standard_F8s_v2", F, (8, 16, 16, 4), (0.338, 0.706)),
    size("Standard_F16s_v2", F, (16, 32, 32, 4), (0.677, 1.413)),
    size("Standard_F32s_v2", F, (32, 64, 32, 8), (1.353, 2.825)),
];

/// A size by name (case-insensitive).
pub fn vm_size(name: &str) -> Option<VmSize> {
    VM_SIZES
        .into_iter()
        .find(|s| s.name.eq_ignore_ascii_case(name))
}

/// The sizes of `family`, smallest (and cheapest) first.
pub fn family_sizes(family: &str) -> impl Iterator<Item = VmSize> + '_ {
    VM_SIZES.into_iter().filter(move |s| s.family == family)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_a_family_price_grows_with_size_and_windows_costs_more() {
        for s in VM_SIZES {
            assert!(s.windows_hourly > s.hourly_price, "{}", s.name);
            let bigger = family_sizes(s.family).filter(|o| o.vcpus > s.vcpus);
            assert!(bigger.into_iter().all(|o| o.hourly_price > s.hourly_price));
        }
        assert_eq!(
            vm_size("standard_d4s_v5").map(|s| s.meter_stem()),
            Some("D4s v5".into())
        );
    }
}
