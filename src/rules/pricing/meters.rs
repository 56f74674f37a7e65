//! Which Retail Prices meter prices which resource, with the names the price list uses:
//! VM sizes by `armSkuName` (Linux product, or the product ending in ` Windows`), managed disk
//! tiers as `P10 LRS` of `Premium SSD Managed Disks`, snapshots per GB, network resources by
//! product and meter, App Service plans by their SKU (`P1v3` is `P1 v3`), SQL Database by
//! service objective and elastic pool size.

use rust_decimal::Decimal;

use super::{Price, PriceBook};
use crate::rules::input::{Resource, RetailPrice};
use crate::rules::props::{flag, number, text};

fn eq(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

fn hourly(p: &RetailPrice) -> bool {
    p.unit_of_measure.to_ascii_lowercase().contains("hour")
}

/// `count` instances of VM size `size` for an OS: the Windows product carries the licence.
pub(crate) fn vm<'a>(
    book: &PriceBook<'a>,
    region: &str,
    size: &str,
    windows: bool,
    count: Decimal,
) -> Option<Price<'a>> {
    let item = book.find_arm_sku(region, "Virtual Machines", size, |p| {
        hourly(p)
            && p.product_name.trim_end().ends_with(" Windows") == windows
            && !p.product_name.contains("Cloud Services")
    })?;
    Some(Price {
        monthly: super::monthly_amount(item)? * count,
        item,
    })
}

/// The disk tiers by size: (number, largest size in GiB). Standard HDD starts at 4.
const DISK_TIERS: [(u32, f64); 14] = [
    (1, 4.0),
    (2, 8.0),
    (3, 16.0),
    (4, 32.0),
    (6, 64.0),
    (10, 128.0),
    (15, 256.0),
    (20, 512.0),
    (30, 1024.0),
    (40, 2048.0),
    (50, 4096.0),
    (60, 8192.0),
    (70, 16384.0),
    (80, 32767.0),
];

/// A managed disk SKU's tier letter and Retail Prices product.
fn disk_family(sku: &str) -> Option<(&'static str, &'static str)> {
    let family = sku
        .split('_')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match family.as_str() {
        "premium" => Some(("P", "Premium SSD Managed Disks")),
        "standardssd" => Some(("E", "Standard SSD Managed Disks")),
        "standard" => Some(("S", "Standard HDD Managed Disks")),
        _ => None,
    }
}

/// `LRS` or `ZRS` of a disk SKU (`Premium_ZRS`); LRS when it says neither.
pub(crate) fn redundancy(sku: &str) -> &'static str {
    if sku.to_ascii_uppercase().ends_with("_ZRS") {
        "ZRS"
    } else {
        "LRS"
    }
}

/// The tier a disk of `sku` and `size_gb` is billed at (`P10`): the smallest that holds it.
pub(crate) fn disk_tier(sku: &str, size_gb: f64) -> Option<String> {
    let (letter, _) = disk_family(sku)?;
    let smallest = if letter == "S" { 4 } else { 1 };
    DISK_TIERS
        .iter()
        .filter(|(n, _)| *n >= smallest)
        .find(|(_, max)| *max >= size_gb)
        .map(|(n, _)| format!("{letter}{n}"))
}

/// The monthly price of a disk of `sku` and `size_gb` (the tier from the size; `tier`, when
/// ARM names one, wins for a Premium disk with a performance tier).
pub(crate) fn disk<'a>(
    book: &PriceBook<'a>,
    region: &str,
    sku: &str,
    size_gb: f64,
    tier: Option<&str>,
) -> Option<Price<'a>> {
    let (letter, product) = disk_family(sku)?;
    let tier = tier
        .filter(|t| t.to_ascii_uppercase().starts_with(letter))
        .map(str::to_owned)
        .or_else(|| disk_tier(sku, size_gb))?;
    let sku_name = format!("{tier} {}", redundancy(sku));
    let meter = format!("{sku_name} Disk");
    book.monthly(region, "Storage", Decimal::ONE, |p| {
        eq(&p.product_name, product) && eq(&p.sku_name, &sku_name) && eq(&p.meter_name, &meter)
    })
}

/// The monthly price of a managed disk resource as it is.
pub(crate) fn disk_resource<'a>(book: &PriceBook<'a>, r: &Resource) -> Option<Price<'a>> {
    let size = number(r.props(), &["diskSizeGB"])?;
    let tier = text(r.props(), &["tier"]);
    disk(
        book,
        &r.location,
        r.sku_name(),
        size,
        Some(tier).filter(|t| !t.is_empty()),
    )
}

/// Snapshots of `sku` per GB: Premium ones are billed on the Premium SSD product, others on
/// Standard HDD.
pub(crate) fn snapshot<'a>(
    book: &PriceBook<'a>,
    region: &str,
    sku: &str,
    size_gb: f64,
) -> Option<Price<'a>> {
    let product = if sku.to_ascii_lowercase().starts_with("premium") {
        "Premium SSD Managed Disks"
    } else {
        "Standard HDD Managed Disks"
    };
    let sku_name = format!("Snapshots {}", redundancy(sku));
    let size = Decimal::from_f64_retain(size_gb)?;
    book.monthly(region, "Storage", size, |p| {
        eq(&p.product_name, product) && eq(&p.sku_name, &sku_name)
    })
}

/// An App Service plan SKU as the price list writes it: `P1v3` → `p1v3` (spaces dropped).
fn plan_key(sku: &str) -> String {
    sku.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// `workers` instances of App Service plan SKU `sku` (Linux plans are `reserved`).
pub(crate) fn app_service_plan<'a>(
    book: &PriceBook<'a>,
    region: &str,
    sku: &str,
    linux: bool,
    workers: Decimal,
) -> Option<Price<'a>> {
    let key = plan_key(sku);
    book.monthly(region, "Azure App Service", workers, |p| {
        (plan_key(&p.sku_name) == key || plan_key(&p.arm_sku_name) == key)
            && p.meter_name.trim_end().ends_with(" App")
            && p.product_name.contains("Linux") == linux
            && hourly(p)
    })
}

/// A DTU service objective of SQL Database (`S2`), per database.
pub(crate) fn sql_objective<'a>(
    book: &PriceBook<'a>,
    region: &str,
    objective: &str,
) -> Option<Price<'a>> {
    book.monthly(region, "SQL Database", Decimal::ONE, |p| {
        p.product_name.starts_with("SQL Database Single ")
            && eq(&p.sku_name, objective)
            && p.meter_name.contains("DTU")
    })
}

/// The SQL Server licence of a pay-as-you-go SQL VM of `vcpus` (at least four are licensed).
pub(crate) fn sql_licence<'a>(
    book: &PriceBook<'a>,
    region: &str,
    edition: &str,
    vcpus: u32,
) -> Option<Price<'a>> {
    let product = format!("SQL Server {edition}");
    let sku = match vcpus {
        0..=4 => "1-4 vCPU VM".to_owned(),
        n => format!("{n} vCPU VM"),
    };
    book.monthly(region, "Virtual Machines Licenses", Decimal::ONE, |p| {
        eq(&p.product_name, &product) && eq(&p.sku_name, &sku)
    })
}

/// The monthly list price of a resource as it is, for the kinds a waste rule deletes.
pub(crate) fn resource<'a>(book: &PriceBook<'a>, r: &Resource) -> Option<Price<'a>> {
    let region = r.location.as_str();
    let p = r.props();
    let one = Decimal::ONE;
    match r.resource_type.as_str() {
        "microsoft.compute/disks" => disk_resource(book, r),
        "microsoft.compute/snapshots" => {
            snapshot(book, region, r.sku_name(), number(p, &["diskSizeGB"])?)
        }
        "microsoft.network/publicipaddresses" => {
            let method = text(p, &["publicIPAllocationMethod"]);
            book.monthly(region, "Virtual Network", one, |i| {
                eq(&i.product_name, "IP Addresses")
                    && eq(&i.sku_name, r.sku_name())
                    && (method.is_empty() || i.meter_name.contains(method))
                    && i.meter_name.contains("Public IP")
            })
        }
        "microsoft.network/loadbalancers" => book.monthly(region, "Load Balancer", one, |i| {
            eq(&i.sku_name, r.sku_name()) && i.meter_name.contains("Included")
        }),
        "microsoft.network/applicationgateways" => app_gateway(book, r),
        "microsoft.network/natgateways" => book.monthly(region, "NAT Gateway", one, |i| {
            i.meter_name.contains("Gateway") && hourly(i)
        }),
        "microsoft.network/virtualnetworkgateways" => {
            let sku = text(p, &["sku", "name"]);
            book.monthly(region, "VPN Gateway", one, |i| {
                eq(&i.sku_name, sku) && hourly(i)
            })
        }
        "microsoft.network/expressroutecircuits" => {
            let mbps = number(p, &["serviceProviderProperties", "bandwidthInMbps"])?;
            let meter = format!("{mbps} Mbps Circuit");
            book.monthly(region, "ExpressRoute", one, |i| eq(&i.meter_name, &meter))
        }
        "microsoft.network/ddosprotectionplans" => {
            book.monthly(region, "Azure DDOS Protection", one, |i| {
                i.meter_name.contains("Protection Plan")
            })
        }
        "microsoft.network/privateendpoints" => book.monthly(region, "Virtual Network", one, |i| {
            eq(&i.meter_name, "Standard Private Endpoint")
        }),
        "microsoft.web/serverfarms" => {
            let workers = number(p, &["numberOfWorkers"])
                .or_else(|| r.sku.as_ref().and_then(|s| number(s, &["capacity"])))
                .unwrap_or(1.0);
            let linux = flag(p, &["reserved"]).unwrap_or(false);
            app_service_plan(
                book,
                region,
                r.sku_name(),
                linux,
                Decimal::from_f64_retain(workers)?,
            )
        }
        "microsoft.sql/servers/elasticpools" => {
            let capacity = r.sku.as_ref().and_then(|s| number(s, &["capacity"]))?;
            let product = format!("SQL Database Elastic Pool - {}", r.sku_tier());
            let sku = format!("{capacity} eDTUs");
            book.monthly(region, "SQL Database", one, |i| {
                eq(&i.product_name, &product) && eq(&i.sku_name, &sku)
            })
        }
        _ => None,
    }
}

/// An application gateway: v2 by its fixed cost, v1 by its size times its instances.
fn app_gateway<'a>(book: &PriceBook<'a>, r: &Resource) -> Option<Price<'a>> {
    let p = r.props();
    let (name, tier) = (text(p, &["sku", "name"]), text(p, &["sku", "tier"]));
    if tier.to_ascii_lowercase().ends_with("_v2") {
        let product = format!("Application Gateway {}", tier.replace('_', " "));
        return book.monthly(&r.location, "Application Gateway", Decimal::ONE, |i| {
            eq(&i.product_name, &product) && i.meter_name.contains("Fixed Cost")
        });
    }
    let size = name.rsplit('_').next().unwrap_or_default();
    let product = format!("Application Gateway {tier}");
    let meter = format!("{size} Gateway");
    let capacity = Decimal::from_f64_retain(number(p, &["sku", "capacity"]).unwrap_or(1.0))?;
    book.monthly(&r.location, "Application Gateway", capacity, |i| {
        eq(&i.product_name, &product) && eq(&i.meter_name, &meter)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_tiers_are_the_smallest_that_hold_the_size() {
        assert_eq!(disk_tier("Premium_LRS", 100.0).as_deref(), Some("P10"));
        assert_eq!(disk_tier("Premium_LRS", 128.0).as_deref(), Some("P10"));
        assert_eq!(disk_tier("Premium_LRS", 129.0).as_deref(), Some("P15"));
        assert_eq!(disk_tier("StandardSSD_ZRS", 4.0).as_deref(), Some("E1"));
        assert_eq!(disk_tier("Standard_LRS", 4.0).as_deref(), Some("S4"));
        assert_eq!(disk_tier("UltraSSD_LRS", 4.0), None);
        assert_eq!(disk_tier("Premium_LRS", 40000.0), None);
        assert_eq!(redundancy("Premium_ZRS"), "ZRS");
        assert_eq!(plan_key("P1 v3"), plan_key("P1v3"));
    }
}
