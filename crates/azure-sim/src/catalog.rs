//! Sizes, tiers and pay-as-you-go list prices (in USD): the one table the estate generator, the
//! cost model, the Resource SKUs API and the Retail Prices API all read, so that a price ratio
//! taken from the price list and applied to a served cost is right to the cent.
//!
//! Prices are close to Azure's public list prices (East US, 2024) and the same in every region.
//! Monthly prices become daily ones as Azure prorates them: by the hour, 730 hours a month.

mod services;
mod vm_sizes;

pub use services::{
    APP_GATEWAY_SKUS, AppGatewaySku, DiskTier, ER_CIRCUITS, ErCircuit, GatewaySku, PLAN_SKUS,
    POOL_SKUS, PlanSku, PoolSku, SQL_DTU_SKUS, SqlDtuSku, VPN_GATEWAY_SKUS, disk_tier, disk_tiers,
    plan_one_size_down, sql_one_objective_down,
};
pub use vm_sizes::{VM_SIZES, VmSize, family_sizes, vm_size};

/// Hours in Azure's billing month.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// Euro to dollar: EUR tenants are billed (and priced) at the dollar price divided by this.
pub const EUR_TO_USD: f64 = 1.08;

/// The regions of the estate (`armRegionName`) and their display names (`location`).
pub const REGIONS: [(&str, &str); 7] = [
    ("westeurope", "EU West"),
    ("northeurope", "EU North"),
    ("eastus", "US East"),
    ("eastus2", "US East 2"),
    ("westus2", "US West 2"),
    ("uksouth", "UK South"),
    ("francecentral", "FR Central"),
];

/// Currencies the simulated tenants bill in.
pub const CURRENCIES: [&str; 2] = ["USD", "EUR"];

/// How many units of `currency` one US dollar buys (`None` for a currency no tenant uses).
pub fn per_usd(currency: &str) -> Option<f64> {
    match currency.to_ascii_uppercase().as_str() {
        "USD" => Some(1.0),
        "EUR" => Some(1.0 / EUR_TO_USD),
        _ => None,
    }
}

/// The daily cost of a monthly price.
pub fn monthly_to_daily(monthly: f64) -> f64 {
    monthly * 24.0 / HOURS_PER_MONTH
}

/// Public IP address, per hour: `(Standard, Basic)` static IPv4.
pub const PUBLIC_IP_HOURLY: (f64, f64) = (0.005, 0.0036);
/// Standard load balancer, per hour (Basic is free).
pub const LOAD_BALANCER_HOURLY: f64 = 0.025;
/// NAT gateway, per hour.
pub const NAT_GATEWAY_HOURLY: f64 = 0.045;
/// Private endpoint, per hour.
pub const PRIVATE_ENDPOINT_HOURLY: f64 = 0.01;
/// DDoS Network Protection plan, per month.
pub const DDOS_PLAN_MONTHLY: f64 = 2944.0;
/// Managed disk snapshots, per GB and month: `(Standard_LRS, Premium_LRS)`.
pub const SNAPSHOT_GB_MONTHLY: (f64, f64) = (0.05, 0.12);
/// SQL Server licence on a pay-as-you-go SQL VM, per vCPU and hour (Standard edition, at
/// least four cores licensed, as Azure bills it).
pub const SQL_LICENSE_VCPU_HOURLY: f64 = 0.05;
/// vCore SQL Database (General Purpose, Gen5), per vCore and hour.
pub const SQL_VCORE_HOURLY: f64 = 0.2521;

/// The SQL Server licence of a pay-as-you-go SQL VM of `vcpus`, per hour.
pub fn sql_license_hourly(vcpus: u32) -> f64 {
    SQL_LICENSE_VCPU_HOURLY * f64::from(vcpus.max(4))
}

/// Rounds to whole cents (half away from zero).
pub fn round_cents(amount: f64) -> f64 {
    (amount * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn euro_prices_are_the_dollar_price_divided_by_the_rate() {
        assert_eq!(per_usd("usd"), Some(1.0));
        assert!((per_usd("EUR").unwrap_or_default() * EUR_TO_USD - 1.0).abs() < 1e-12);
        assert_eq!(per_usd("JPY"), None);
        assert!((monthly_to_daily(730.0) - 24.0).abs() < 1e-12);
    }
}
