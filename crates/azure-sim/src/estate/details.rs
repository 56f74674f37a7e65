//! The kind-specific details of generated resources, and the links between them (disks and
//! NICs attached to VMs, public IPs bound to NICs or NAT gateways, snapshots of disks).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::catalog::*;
use super::{
    AppServicePlan, Details, Disk, IpBinding, Nic, PublicIp, ResourceGroup, ResourceKind, Snapshot,
    SqlDatabase, StorageAccount, Tags, Utilisation, Vm,
};
use crate::rng::{SplitMix64, uuid_from};

pub(super) fn tags(r: &mut SplitMix64) -> Tags {
    if r.chance(0.05) {
        return Tags::default();
    }
    let as_json_string = r.chance(0.04);
    Tags {
        environment: Some(r.pick(&ENVIRONMENTS)),
        cost_center: (!as_json_string && r.chance(0.8)).then(|| r.pick(&COST_CENTERS)),
        owner: r.chance(0.7).then(|| r.pick(&OWNERS)),
        application: r.chance(0.6).then(|| r.pick(&APPLICATIONS)),
        as_json_string,
    }
}

/// Ids other resources can point at.
pub(super) struct Links<'a> {
    pub(super) vms: &'a [&'a str],
    pub(super) nics: &'a [&'a str],
    pub(super) disks: &'a [&'a str],
    pub(super) subscription_id: Uuid,
    pub(super) groups: &'a [ResourceGroup],
}

impl Links<'_> {
    fn pick(r: &mut SplitMix64, ids: &[&str]) -> Option<String> {
        (!ids.is_empty()).then(|| ids[r.below(ids.len() as u64) as usize].to_owned())
    }

    /// A VM of the subscription with probability `p` (never when it has none).
    fn maybe_vm(&self, r: &mut SplitMix64, p: f64) -> Option<String> {
        if r.chance(p) {
            Self::pick(r, self.vms)
        } else {
            None
        }
    }
}

/// The details of a resource of `kind` with ARM id `id`.
pub(super) fn details(
    r: &mut SplitMix64,
    (kind, id): (ResourceKind, &str),
    links: &Links<'_>,
    midnight: DateTime<Utc>,
) -> Details {
    match kind {
        ResourceKind::VirtualMachine => {
            let time_created = created(r, midnight, 30..900);
            Details::VirtualMachine(vm(r, time_created))
        }
        ResourceKind::Disk => Details::Disk(disk(r, links, midnight)),
        ResourceKind::PublicIp => Details::PublicIp(public_ip(r, links)),
        ResourceKind::NetworkInterface => Details::NetworkInterface(Nic {
            virtual_machine: links.maybe_vm(r, 0.75),
            private_ip: format!("10.{}.{}.{}", r.below(16), r.below(256), 4 + r.below(250)),
        }),
        ResourceKind::Snapshot => Details::Snapshot(snapshot(r, links, midnight)),
        ResourceKind::AppServicePlan => {
            let (sku_name, tier, hourly_price) = r.pick(&PLANS);
            let workers = 1 + r.below(4) as u32;
            Details::AppServicePlan(AppServicePlan {
                sku_name,
                tier,
                workers,
                hourly_price,
            })
        }
        ResourceKind::SqlDatabase => Details::SqlDatabase(sql_database(r, id)),
        ResourceKind::StorageAccount => Details::StorageAccount(StorageAccount {
            sku: r.pick(&STORAGE_SKUS),
            access_tier: r.pick(&["Hot", "Cool"]),
            daily_price: (r.range(0.3, 25.0) * 100.0).round() / 100.0,
        }),
    }
}

/// A creation time between `days` days before `midnight`, at a random time of day.
fn created(
    r: &mut SplitMix64,
    midnight: DateTime<Utc>,
    days: std::ops::Range<u64>,
) -> DateTime<Utc> {
    midnight
        - Duration::days((days.start + r.below(days.end - days.start)) as i64)
        - Duration::microseconds(r.below(86_400_000_000) as i64)
}

fn disk(r: &mut SplitMix64, links: &Links<'_>, midnight: DateTime<Utc>) -> Disk {
    let time_created = created(r, midnight, 10..700);
    Disk {
        size_gb: r.pick(&DISK_SIZES),
        sku: r.pick(&DISK_SKUS),
        managed_by: links.maybe_vm(r, 0.65),
        time_created,
    }
}

fn sql_database(r: &mut SplitMix64, id: &str) -> SqlDatabase {
    let (sku_name, tier, capacity, family, daily_price) = r.pick(&SQL_SKUS);
    // The server is the 9th segment of `/subscriptions/…/providers/Microsoft.Sql/servers/{server}/…`.
    let server = id.split('/').nth(8).unwrap_or_default().to_owned();
    SqlDatabase {
        server,
        sku_name,
        tier,
        capacity,
        family,
        daily_price,
    }
}

fn vm(r: &mut SplitMix64, time_created: DateTime<Utc>) -> Vm {
    let running = r.chance(0.8);
    let roll = r.next_f64();
    let utilisation = if roll < 0.25 {
        Utilisation::Idle
    } else if roll < 0.75 {
        Utilisation::Moderate
    } else {
        Utilisation::Busy
    };
    Vm {
        size: r.pick(&VM_SIZES),
        os_type: if r.chance(0.7) { "Linux" } else { "Windows" },
        running,
        reserved: running && r.chance(0.12),
        utilisation,
        vm_id: uuid_from(r.next_u64(), "vm", 0),
        time_created,
    }
}

fn public_ip(r: &mut SplitMix64, links: &Links<'_>) -> PublicIp {
    let roll = r.next_f64();
    let group = &links.groups[r.below(links.groups.len() as u64) as usize].name;
    let binding = if roll < 0.55 {
        Links::pick(r, links.nics)
            .map(|nic| IpBinding::IpConfiguration(format!("{nic}/ipConfigurations/ipconfig1")))
            .unwrap_or(IpBinding::None)
    } else if roll < 0.7 {
        IpBinding::NatGateway(format!(
            "/subscriptions/{}/resourceGroups/{group}/providers/Microsoft.Network/natGateways/ngw-{}",
            links.subscription_id,
            r.below(4)
        ))
    } else {
        IpBinding::None
    };
    PublicIp {
        address: format!("20.{}.{}.{}", r.below(256), r.below(256), 1 + r.below(254)),
        sku: if r.chance(0.8) { "Standard" } else { "Basic" },
        binding,
    }
}

fn snapshot(r: &mut SplitMix64, links: &Links<'_>, midnight: DateTime<Utc>) -> Snapshot {
    // Ages avoid 88–92 days so that `ago(90d)` gives the same answer all day long.
    let mut age = 1 + r.below(400) as i64;
    if (88..=92).contains(&age) {
        age += 5;
    }
    Snapshot {
        size_gb: r.pick(&DISK_SIZES),
        time_created: midnight
            - Duration::days(age)
            - Duration::microseconds(r.below(86_400_000_000) as i64),
        source_disk: Links::pick(r, links.disks).unwrap_or_default(),
    }
}
