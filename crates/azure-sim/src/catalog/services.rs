//! Tiers and prices of everything that is not a VM size: managed disk tiers, App Service plans,
//! SQL Database service objectives and elastic pools, application gateway, VPN gateway and
//! ExpressRoute SKUs.

/// A managed disk tier: `P10` of `Premium_LRS` and its provisioned performance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiskTier {
    /// The ARM disk SKU, e.g. `Premium_LRS`.
    pub sku: &'static str,
    /// `P10`, `E10`, `S10`.
    pub name: &'static str,
    pub max_gb: u32,
    pub monthly: f64,
    pub iops: u32,
    pub mbps: u32,
}

impl DiskTier {
    /// The Retail Prices `productName` of the tier's SKU.
    pub fn product(&self) -> &'static str {
        match self.sku {
            "Premium_LRS" => "Premium SSD Managed Disks",
            "StandardSSD_LRS" => "Standard SSD Managed Disks",
            _ => "Standard HDD Managed Disks",
        }
    }
}

const fn tier(
    sku: &'static str,
    name: &'static str,
    max_gb: u32,
    monthly: f64,
    (iops, mbps): (u32, u32),
) -> DiskTier {
    DiskTier {
        sku,
        name,
        max_gb,
        monthly,
        iops,
        mbps,
    }
}

const DISK_TIERS: [DiskTier; 18] = [
    tier("Premium_LRS", "P4", 32, 5.28, (120, 25)),
    tier("Premium_LRS", "P6", 64, 10.21, (240, 50)),
    tier("Premium_LRS", "P10", 128, 19.71, (500, 100)),
    tier("Premium_LRS", "P15", 256, 38.01, (1100, 125)),
    tier("Premium_LRS", "P20", 512, 73.22, (2300, 150)),
    tier("Premium_LRS", "P30", 1024, 135.17, (5000, 200)),
    tier("StandardSSD_LRS", "E4", 32, 2.40, (500, 60)),
    tier("StandardSSD_LRS", "E6", 64, 4.80, (500, 60)),
    tier("StandardSSD_LRS", "E10", 128, 9.60, (500, 60)),
    tier("StandardSSD_LRS", "E15", 256, 19.20, (500, 60)),
    tier("StandardSSD_LRS", "E20", 512, 38.40, (500, 60)),
    tier("StandardSSD_LRS", "E30", 1024, 76.80, (500, 60)),
    tier("Standard_LRS", "S4", 32, 1.54, (500, 60)),
    tier("Standard_LRS", "S6", 64, 3.01, (500, 60)),
    tier("Standard_LRS", "S10", 128, 5.89, (500, 60)),
    tier("Standard_LRS", "S15", 256, 11.33, (500, 60)),
    tier("Standard_LRS", "S20", 512, 21.76, (500, 60)),
    tier("Standard_LRS", "S30", 1024, 40.96, (500, 60)),
];

/// Every disk tier.
pub fn disk_tiers() -> &'static [DiskTier] {
    &DISK_TIERS
}

/// The tier a disk of `sku` and `size_gb` is billed at: the smallest that holds it.
pub fn disk_tier(sku: &str, size_gb: u32) -> Option<DiskTier> {
    DISK_TIERS
        .iter()
        .filter(|t| t.sku.eq_ignore_ascii_case(sku))
        .find(|t| t.max_gb >= size_gb)
        .copied()
}

/// An App Service plan SKU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanSku {
    /// ARM `sku.name`, e.g. `P1v3`.
    pub name: &'static str,
    /// ARM `sku.tier`, e.g. `PremiumV3`.
    pub tier: &'static str,
    /// Retail `productName`.
    pub product: &'static str,
    /// Retail `skuName`, e.g. `P1 v3`.
    pub meter_sku: &'static str,
    /// Per instance and hour.
    pub hourly: f64,
}

const fn plan(
    name: &'static str,
    tier: &'static str,
    product: &'static str,
    meter_sku: &'static str,
    hourly: f64,
) -> PlanSku {
    PlanSku {
        name,
        tier,
        product,
        meter_sku,
        hourly,
    }
}

const BASIC: &str = "Azure App Service Basic Plan";
const STANDARD: &str = "Azure App Service Standard Plan";
const PREMIUM_V3: &str = "Azure App Service Premium v3 Plan";
const ISOLATED_V2: &str = "Azure App Service Isolated v2 Plan";

/// Paid App Service plan SKUs, tier by tier, smallest first.
pub const PLAN_SKUS: [PlanSku; 13] = [
    plan("B1", "Basic", BASIC, "B1", 0.075),
    plan("B2", "Basic", BASIC, "B2", 0.15),
    plan("B3", "Basic", BASIC, "B3", 0.30),
    plan("S1", "Standard", STANDARD, "S1", 0.10),
    plan("S2", "Standard", STANDARD, "S2", 0.20),
    plan("S3", "Standard", STANDARD, "S3", 0.40),
    plan("P0v3", "PremiumV3", PREMIUM_V3, "P0 v3", 0.125),
    plan("P1v3", "PremiumV3", PREMIUM_V3, "P1 v3", 0.25),
    plan("P2v3", "PremiumV3", PREMIUM_V3, "P2 v3", 0.50),
    plan("P3v3", "PremiumV3", PREMIUM_V3, "P3 v3", 1.00),
    plan("I1v2", "IsolatedV2", ISOLATED_V2, "I1 v2", 0.52),
    plan("I2v2", "IsolatedV2", ISOLATED_V2, "I2 v2", 1.04),
    plan("I3v2", "IsolatedV2", ISOLATED_V2, "I3 v2", 2.08),
];

/// The next smaller SKU of the same tier (`P2v3` → `P1v3`); `None` for a tier's smallest.
pub fn plan_one_size_down(name: &str) -> Option<PlanSku> {
    let i = PLAN_SKUS.iter().position(|p| p.name == name)?;
    let smaller = PLAN_SKUS.get(i.checked_sub(1)?)?;
    (smaller.tier == PLAN_SKUS[i].tier).then_some(*smaller)
}

/// A DTU service objective of SQL Database.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SqlDtuSku {
    /// `S2`, also `currentServiceObjectiveName`.
    pub objective: &'static str,
    /// `Standard`.
    pub tier: &'static str,
    pub dtus: u32,
    pub daily: f64,
}

const fn dtu(objective: &'static str, tier: &'static str, dtus: u32, daily: f64) -> SqlDtuSku {
    SqlDtuSku {
        objective,
        tier,
        dtus,
        daily,
    }
}

/// DTU service objectives, edition by edition, smallest first.
pub const SQL_DTU_SKUS: [SqlDtuSku; 9] = [
    dtu("Basic", "Basic", 5, 0.16),
    dtu("S0", "Standard", 10, 0.48),
    dtu("S1", "Standard", 20, 0.97),
    dtu("S2", "Standard", 50, 2.42),
    dtu("S3", "Standard", 100, 4.84),
    dtu("S4", "Standard", 200, 9.68),
    dtu("P1", "Premium", 125, 15.0),
    dtu("P2", "Premium", 250, 30.0),
    dtu("P4", "Premium", 500, 60.0),
];

/// The next smaller objective of the same edition (`S2` → `S1`); `None` for an edition's smallest.
pub fn sql_one_objective_down(objective: &str) -> Option<SqlDtuSku> {
    let i = SQL_DTU_SKUS.iter().position(|s| s.objective == objective)?;
    let smaller = SQL_DTU_SKUS.get(i.checked_sub(1)?)?;
    (smaller.tier == SQL_DTU_SKUS[i].tier).then_some(*smaller)
}

/// An elastic pool SKU (ARM `sku.name`, `tier`, `capacity` in eDTUs) and its daily price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolSku {
    pub name: &'static str,
    pub tier: &'static str,
    pub edtus: u32,
    pub daily: f64,
}

/// Elastic pool SKUs.
pub const POOL_SKUS: [PoolSku; 4] = [
    PoolSku {
        name: "BasicPool",
        tier: "Basic",
        edtus: 100,
        daily: 4.90,
    },
    PoolSku {
        name: "StandardPool",
        tier: "Standard",
        edtus: 100,
        daily: 7.26,
    },
    PoolSku {
        name: "StandardPool",
        tier: "Standard",
        edtus: 200,
        daily: 14.52,
    },
    PoolSku {
        name: "PremiumPool",
        tier: "Premium",
        edtus: 125,
        daily: 22.50,
    },
];

/// An application gateway SKU (`sku.name`, `sku.tier`), its retail product and hourly price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AppGatewaySku {
    pub name: &'static str,
    pub tier: &'static str,
    pub product: &'static str,
    pub meter_sku: &'static str,
    pub meter: &'static str,
    pub hourly: f64,
    /// Application Gateway v1 (retired).
    pub v1: bool,
}

/// Application gateway SKUs, v1 and v2.
pub const APP_GATEWAY_SKUS: [AppGatewaySku; 5] = [
    appgw(
        "Standard_Medium",
        "Standard",
        "Application Gateway Standard",
        "Medium",
        "Medium Gateway",
        0.07,
        true,
    ),
    appgw(
        "Standard_Large",
        "Standard",
        "Application Gateway Standard",
        "Large",
        "Large Gateway",
        0.32,
        true,
    ),
    appgw(
        "WAF_Medium",
        "WAF",
        "Application Gateway WAF",
        "Medium",
        "Medium Gateway",
        0.126,
        true,
    ),
    appgw(
        "Standard_v2",
        "Standard_v2",
        "Application Gateway Standard v2",
        "Standard",
        "Standard Fixed Cost",
        0.246,
        false,
    ),
    appgw(
        "WAF_v2",
        "WAF_v2",
        "Application Gateway WAF v2",
        "Standard",
        "Standard Fixed Cost",
        0.443,
        false,
    ),
];

const fn appgw(
    name: &'static str,
    tier: &'static str,
    product: &'static str,
    meter_sku: &'static str,
    meter: &'static str,
    hourly: f64,
    v1: bool,
) -> AppGatewaySku {
    AppGatewaySku {
        name,
        tier,
        product,
        meter_sku,
        meter,
        hourly,
        v1,
    }
}

/// A virtual network (VPN) gateway SKU and its hourly price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GatewaySku {
    pub name: &'static str,
    pub hourly: f64,
}

/// VPN gateway SKUs.
pub const VPN_GATEWAY_SKUS: [GatewaySku; 3] = [
    GatewaySku {
        name: "VpnGw1",
        hourly: 0.19,
    },
    GatewaySku {
        name: "VpnGw2",
        hourly: 0.49,
    },
    GatewaySku {
        name: "VpnGw1AZ",
        hourly: 0.361,
    },
];

/// An ExpressRoute circuit offer (Standard, metered data) and its monthly port fee.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErCircuit {
    pub bandwidth_mbps: u32,
    pub monthly: f64,
}

/// ExpressRoute Standard metered circuits.
pub const ER_CIRCUITS: [ErCircuit; 3] = [
    ErCircuit {
        bandwidth_mbps: 50,
        monthly: 55.0,
    },
    ErCircuit {
        bandwidth_mbps: 200,
        monthly: 160.0,
    },
    ErCircuit {
        bandwidth_mbps: 1000,
        monthly: 436.0,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_is_billed_at_the_smallest_tier_that_holds_it() {
        assert_eq!(disk_tier("Premium_LRS", 100).map(|t| t.name), Some("P10"));
        assert_eq!(
            disk_tier("standardssd_lrs", 128).map(|t| t.name),
            Some("E10")
        );
        assert_eq!(disk_tier("Standard_LRS", 4096), None);
    }

    #[test]
    fn one_size_down_stays_in_its_tier() {
        assert_eq!(plan_one_size_down("P2v3").map(|p| p.name), Some("P1v3"));
        assert_eq!(plan_one_size_down("S1"), None);
        assert_eq!(
            sql_one_objective_down("S2").map(|s| s.objective),
            Some("S1")
        );
        assert_eq!(sql_one_objective_down("S0"), None);
        assert_eq!(sql_one_objective_down("P1"), None);
    }
}
