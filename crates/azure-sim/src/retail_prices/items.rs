//! The price list: every meter of [`crate::catalog`] in every region, as Retail Prices API
//! items, in one currency. Next to the meters the cost model bills there are the items a
//! client must tell apart: Spot meters and 1- and 3-year reservations of VM sizes (a
//! reservation's `retailPrice` is the price of the whole term), the Windows product of each VM
//! series, and disk mount meters.

use serde_json::{Value, json};

use crate::catalog::{
    self, APP_GATEWAY_SKUS, DDOS_PLAN_MONTHLY, ER_CIRCUITS, LOAD_BALANCER_HOURLY,
    NAT_GATEWAY_HOURLY, PLAN_SKUS, POOL_SKUS, PRIVATE_ENDPOINT_HOURLY, PUBLIC_IP_HOURLY, REGIONS,
    SNAPSHOT_GB_MONTHLY, SQL_DTU_SKUS, SQL_VCORE_HOURLY, VM_SIZES, VPN_GATEWAY_SKUS, disk_tiers,
};
use crate::rng::{hash_str, hash2, uuid_from};

/// One meter before it is placed in a region and currency.
struct Meter {
    service: &'static str,
    family: &'static str,
    product: String,
    sku: String,
    meter: String,
    arm_sku: String,
    unit: &'static str,
    usd: f64,
    /// `Consumption` or `Reservation`.
    price_type: &'static str,
    term: Option<&'static str>,
    /// Offered with savings plans (2023-01-01-preview shows them).
    savings_plan: bool,
}

fn meter(
    (service, family): (&'static str, &'static str),
    (product, sku, meter): (String, String, String),
    unit: &'static str,
    usd: f64,
) -> Meter {
    Meter {
        service,
        family,
        product,
        sku,
        meter,
        arm_sku: String::new(),
        unit,
        usd,
        price_type: "Consumption",
        term: None,
        savings_plan: false,
    }
}

const VMS: (&str, &str) = ("Virtual Machines", "Compute");
const STORAGE: (&str, &str) = ("Storage", "Storage");

fn s(v: &str) -> String {
    v.to_owned()
}

fn vm_meters(out: &mut Vec<Meter>) {
    for size in VM_SIZES {
        let stem = size.meter_stem();
        for (windows, price) in [(false, size.hourly_price), (true, size.windows_hourly)] {
            let product = if windows {
                format!("{} Windows", size.product)
            } else {
                s(size.product)
            };
            let spot = format!("{stem} Spot");
            for (sku, usd, payg) in [(stem.clone(), price, true), (spot, price * 0.2, false)] {
                out.push(Meter {
                    arm_sku: s(size.name),
                    savings_plan: payg,
                    ..meter(VMS, (product.clone(), sku.clone(), sku), "1 Hour", usd)
                });
            }
        }
        for (term, hours, share) in [("1 Year", 8760.0, 0.6), ("3 Years", 26280.0, 0.4)] {
            out.push(Meter {
                arm_sku: s(size.name),
                price_type: "Reservation",
                term: Some(term),
                ..meter(
                    VMS,
                    (s(size.product), stem.clone(), stem.clone()),
                    "1 Hour",
                    (size.hourly_price * hours * share).round(),
                )
            });
        }
    }
    for vcpus in [4, 8, 16, 32] {
        let sku = if vcpus == 4 {
            s("1-4 vCPU VM")
        } else {
            format!("{vcpus} vCPU VM")
        };
        let names = (
            s("SQL Server Standard"),
            sku.clone(),
            format!("{sku} License"),
        );
        out.push(meter(
            ("Virtual Machines Licenses", "Compute"),
            names,
            "1 Hour",
            catalog::sql_license_hourly(vcpus),
        ));
    }
}

fn storage_meters(out: &mut Vec<Meter>) {
    for t in disk_tiers() {
        let sku = format!("{} LRS", t.name);
        out.push(meter(
            STORAGE,
            (s(t.product()), sku.clone(), format!("{sku} Disk")),
            "1/Month",
            t.monthly,
        ));
        if t.sku == "Premium_LRS" {
            let names = (s(t.product()), sku.clone(), format!("{sku} Disk Mount"));
            out.push(meter(
                STORAGE,
                names,
                "1/Month",
                (t.monthly * 0.06 * 100.0).round() / 100.0,
            ));
        }
    }
    for (product, usd) in [
        ("Standard HDD Managed Disks", SNAPSHOT_GB_MONTHLY.0),
        ("Premium SSD Managed Disks", SNAPSHOT_GB_MONTHLY.1),
    ] {
        out.push(meter(
            STORAGE,
            (s(product), s("Snapshots LRS"), s("LRS Snapshots")),
            "1 GB/Month",
            usd,
        ));
    }
}

fn network_meters(out: &mut Vec<Meter>) {
    let net = |service: &'static str| (service, "Networking");
    for (sku, usd) in [
        ("Standard", PUBLIC_IP_HOURLY.0),
        ("Basic", PUBLIC_IP_HOURLY.1),
    ] {
        let names = (
            s("IP Addresses"),
            s(sku),
            format!("{sku} IPv4 Static Public IP"),
        );
        out.push(meter(net("Virtual Network"), names, "1 Hour", usd));
    }
    let names = (
        s("Virtual Network Private Link"),
        s("Standard"),
        s("Standard Private Endpoint"),
    );
    out.push(meter(
        net("Virtual Network"),
        names,
        "1 Hour",
        PRIVATE_ENDPOINT_HOURLY,
    ));
    let names = (
        s("Load Balancer"),
        s("Standard"),
        s("Standard Included LB Rules and Outbound Rules"),
    );
    out.push(meter(
        net("Load Balancer"),
        names,
        "1 Hour",
        LOAD_BALANCER_HOURLY,
    ));
    for g in APP_GATEWAY_SKUS {
        let names = (s(g.product), s(g.meter_sku), s(g.meter));
        out.push(meter(net("Application Gateway"), names, "1 Hour", g.hourly));
    }
    let names = (s("NAT Gateway"), s("Standard"), s("Standard Gateway"));
    out.push(meter(
        net("NAT Gateway"),
        names,
        "1 Hour",
        NAT_GATEWAY_HOURLY,
    ));
    for g in VPN_GATEWAY_SKUS {
        out.push(meter(
            net("VPN Gateway"),
            (s("VPN Gateway"), s(g.name), s(g.name)),
            "1 Hour",
            g.hourly,
        ));
    }
    for c in ER_CIRCUITS {
        let names = (
            s("ExpressRoute"),
            s("Standard Metered Data"),
            format!("{} Mbps Circuit", c.bandwidth_mbps),
        );
        out.push(meter(net("ExpressRoute"), names, "1/Month", c.monthly));
    }
    let names = (
        s("Azure DDOS Protection"),
        s("Network Protection"),
        s("Network Protection Plan"),
    );
    out.push(meter(
        net("Azure DDOS Protection"),
        names,
        "1/Month",
        DDOS_PLAN_MONTHLY,
    ));
}

fn data_meters(out: &mut Vec<Meter>) {
    for p in PLAN_SKUS {
        out.push(Meter {
            arm_sku: s(p.name),
            ..meter(
                ("Azure App Service", "Compute"),
                (s(p.product), s(p.meter_sku), format!("{} App", p.meter_sku)),
                "1 Hour",
                p.hourly,
            )
        });
    }
    let sql = ("SQL Database", "Databases");
    for d in SQL_DTU_SKUS {
        let names = (
            format!("SQL Database Single {}", d.tier),
            s(d.objective),
            format!("{} DTUs", d.objective),
        );
        out.push(meter(sql, names, "1/Day", d.daily));
    }
    let names = (
        s("SQL Database Single/Elastic Pool General Purpose - Compute Gen5"),
        s("vCore"),
        s("vCore"),
    );
    out.push(meter(sql, names, "1 Hour", SQL_VCORE_HOURLY));
    for p in POOL_SKUS {
        let names = (
            format!("SQL Database Elastic Pool - {}", p.tier),
            format!("{} eDTUs", p.edtus),
            format!("{} eDTUs Pool", p.edtus),
        );
        out.push(meter(sql, names, "1/Day", p.daily));
    }
}

/// A stable id in the style of the price list's product and SKU ids (`DZH318Z0BQ4L`).
fn short_id(seed: u64) -> String {
    const ALPHABET: &[u8] = b"0123456789BCDFGHJKLMNPQRSTVWXZ";
    let mut h = seed;
    (0..4)
        .map(|_| {
            let c = ALPHABET[(h % ALPHABET.len() as u64) as usize] as char;
            h /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// Every item of the price list in `currency` (`per_usd` units for a dollar), in a stable order.
pub fn price_list(currency: &str, per_usd: f64, savings_plans: bool) -> Vec<Value> {
    let mut meters = Vec::new();
    vm_meters(&mut meters);
    storage_meters(&mut meters);
    network_meters(&mut meters);
    data_meters(&mut meters);
    let mut items = Vec::with_capacity(meters.len() * REGIONS.len());
    for m in &meters {
        let product_id = format!("DZH318Z0{}", short_id(hash_str(&m.product)));
        let sku_key = hash2(hash_str(&m.product), hash_str(&m.sku));
        let service_id = format!("DZH3{}", short_id(hash_str(m.service)));
        for (region, location) in REGIONS {
            let price = m.usd * per_usd;
            let seed = hash2(sku_key, hash2(hash_str(&m.meter), hash_str(region)));
            let mut item = json!({
                "currencyCode": currency,
                "tierMinimumUnits": 0.0,
                "retailPrice": price,
                "unitPrice": price,
                "armRegionName": region,
                "location": location,
                "effectiveStartDate": if seed.is_multiple_of(3) { "2023-05-01T00:00:00Z" } else { "2024-01-01T00:00:00Z" },
                "meterId": uuid_from(seed, "meter", 0),
                "meterName": m.meter,
                "productId": product_id,
                "skuId": format!("{product_id}/{}", short_id(sku_key)),
                "productName": m.product,
                "skuName": m.sku,
                "serviceName": m.service,
                "serviceId": service_id,
                "serviceFamily": m.family,
                "unitOfMeasure": m.unit,
                "type": m.price_type,
                "isPrimaryMeterRegion": true,
                "armSkuName": m.arm_sku,
            });
            if let Some(term) = m.term {
                item["reservationTerm"] = json!(term);
            }
            if savings_plans && m.savings_plan {
                item["savingsPlan"] = json!([
                    {"unitPrice": price * 0.65, "retailPrice": price * 0.65, "term": "3 Years"},
                    {"unitPrice": price * 0.8, "retailPrice": price * 0.8, "term": "1 Year"},
                ]);
            }
            items.push(item);
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_prices_every_meter_once() {
        let items = price_list("USD", 1.0, false);
        assert_eq!(items.len() % REGIONS.len(), 0);
        let d2 = items
            .iter()
            .filter(|i| i["armSkuName"] == "Standard_D2s_v5" && i["armRegionName"] == "westeurope")
            .filter(|i| {
                i["type"] == "Consumption" && i["productName"] == "Virtual Machines Dsv5 Series"
            })
            .filter(|i| i["skuName"] == "D2s v5")
            .collect::<Vec<_>>();
        assert_eq!(d2.len(), 1);
        assert_eq!(d2[0]["retailPrice"], json!(0.096));
        let eur = price_list("EUR", 1.0 / catalog::EUR_TO_USD, true);
        assert!(eur.iter().all(|i| i["currencyCode"] == "EUR"));
        assert!(eur.iter().any(|i| i["savingsPlan"].is_array()));
    }
}
