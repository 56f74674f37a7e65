//! The compute rules judged by metrics: idle VMs, oversized VMs, underused scale sets. Only a
//! running VM is judged (a stopped or deallocated one is another rule's); a metric that is
//! missing, failed, without data or with fewer than `min_samples` hours skips the resource.
//!
//! Memory use is the peak: 100 % × (1 − the smallest available memory ÷ the size's memory),
//! the conservative reading of "memory used < 50 %". Network out is the p95 of hourly totals
//! in bytes, turned into Mbps (× 8 ÷ 3600 ÷ 10⁶). A rightsizing target must carry the VM's p95
//! CPU and its peak memory at `target_percent` or less (the load scaled by the vCPU and memory
//! ratios), take its data disks and NICs, and be cheaper at the VM's own OS price; the
//! cheapest such size of the family is proposed. An idle VM is the idle rule's, not resized.

use rust_decimal::Decimal;
use serde_json::json;

use super::{Power, pays_windows, power, size_name};
use crate::rules::catalogue;
use crate::rules::finding::Draft;
use crate::rules::input::{Resource, VmSize};
use crate::rules::pricing::meters;
use crate::rules::props::{list, number, text};
use crate::rules::savings;
use crate::rules::scope::{Check, Stat, Verdict};

const CPU: &str = "Percentage CPU";
const MEMORY: &str = "Available Memory Bytes";
const NETWORK_OUT: &str = "Network Out Total";
const GIB: f64 = 1_073_741_824.0;

/// An hourly byte total as a rate in megabits per second.
fn mbps(bytes_per_hour: f64) -> f64 {
    bytes_per_hour * 8.0 / 3600.0 / 1e6
}

/// Peak memory use in percent of `size`.
fn memory_used_percent(memory: &Stat, size: &VmSize) -> f64 {
    let total = size.memory_gb * GIB;
    if total <= 0.0 {
        return 100.0;
    }
    ((1.0 - memory.min / total) * 100.0).clamp(0.0, 100.0)
}

macro_rules! stat {
    ($c:expr, $id:expr, $metric:expr) => {
        match $c.stat($id, $metric) {
            Ok(s) => s,
            Err(reason) => return Verdict::Skip(reason),
        }
    };
}

/// Running, or the verdict for a VM that is not.
fn running(vm: &Resource) -> Result<(), Verdict> {
    match power(vm) {
        None => Err(Verdict::Skip("power_state_unknown")),
        Some(Power::Running) => Ok(()),
        Some(_) => Err(Verdict::Pass),
    }
}

pub(super) fn idle(c: &Check<'_, '_>, vm: &Resource) -> Verdict {
    if let Err(v) = running(vm) {
        return v;
    }
    let cpu = stat!(c, &vm.resource_id, CPU);
    let net = stat!(c, &vm.resource_id, NETWORK_OUT);
    let (max_p95, max_peak, max_net) = (
        c.param("max_cpu_p95_percent"),
        c.param("max_cpu_max_percent"),
        c.param("max_network_out_p95_mbps"),
    );
    let net_p95 = mbps(net.p95);
    if !(cpu.p95 < max_p95 && cpu.max < max_peak && net_p95 < max_net) {
        return Verdict::Pass;
    }
    let savings = savings::c30(c.scope, vm, || {
        super::compute_price(c.scope, vm, pays_windows(vm))
    });
    Verdict::fire(
        Draft::new(
            format!("Shut down idle VM {}", vm.name),
            format!(
                "VM {} ({}) is idle: p95 CPU {:.1} % (threshold {max_p95} %), peak CPU {:.1} % (threshold {max_peak} %), p95 network out {:.3} Mbps (threshold {max_net} Mbps) over {} hours. Shut it down or delete it.",
                vm.name,
                size_name(vm),
                cpu.p95,
                cpu.max,
                net_p95,
                cpu.samples.min(net.samples)
            ),
            0.8,
        )
        .evidence(json!({
            "cpu_p95_percent": cpu.p95, "max_cpu_p95_percent": max_p95,
            "cpu_max_percent": cpu.max, "max_cpu_max_percent": max_peak,
            "network_out_p95_mbps": net_p95, "max_network_out_p95_mbps": max_net,
            "samples": cpu.samples.min(net.samples), "min_samples": c.param("min_samples"),
        }))
        .savings(savings),
    )
}

/// Whether the idle rule (enabled, with the tenant's thresholds) fires for `vm`.
fn idle_fires(c: &Check<'_, '_>, vm: &Resource) -> bool {
    let Some(info) = catalogue::rule("vm.idle") else {
        return false;
    };
    let idle_check = Check {
        scope: c.scope,
        info,
    };
    c.scope.ctx.settings.enabled(info.rule_id) && matches!(idle(&idle_check, vm), Verdict::Fire(_))
}

/// What the VM needs of a size: vCPUs and GB at `target` percent, data disks, NICs.
struct Needs {
    vcpus: f64,
    memory_gb: f64,
    disks: u32,
    nics: u32,
}

fn fits(size: &VmSize, current: &VmSize, needs: &Needs) -> bool {
    !current.family.is_empty()
        && size.family.eq_ignore_ascii_case(&current.family)
        && !size.name.eq_ignore_ascii_case(&current.name)
        && f64::from(size.vcpus) >= needs.vcpus
        && size.memory_gb >= needs.memory_gb
        && size.max_data_disks >= needs.disks
        && size.max_nics >= needs.nics
}

pub(super) fn rightsize(c: &Check<'_, '_>, vm: &Resource) -> Verdict {
    if let Err(v) = running(vm) {
        return v;
    }
    let cpu = stat!(c, &vm.resource_id, CPU);
    let memory = stat!(c, &vm.resource_id, MEMORY);
    let Some(current) = c.scope.size(&vm.location, size_name(vm)) else {
        return Verdict::Skip("no_vm_size");
    };
    let (max_cpu, max_memory, target) = (
        c.param("max_cpu_p95_percent"),
        c.param("max_memory_used_percent"),
        c.param("target_percent"),
    );
    let used = memory_used_percent(&memory, current);
    if !(cpu.p95 < max_cpu && used < max_memory) || idle_fires(c, vm) {
        return Verdict::Pass;
    }
    let windows = pays_windows(vm);
    let book = &c.scope.prices;
    let Some(current_price) = meters::vm(book, &vm.location, &current.name, windows, Decimal::ONE)
    else {
        return Verdict::Skip("no_price");
    };
    let needs = Needs {
        vcpus: f64::from(current.vcpus) * cpu.p95 / target,
        memory_gb: current.memory_gb * used / target,
        disks: list(vm.props(), &["storageProfile", "dataDisks"]).len() as u32,
        nics: list(vm.props(), &["networkProfile", "networkInterfaces"]).len() as u32,
    };
    let best = c
        .scope
        .sizes_in(&vm.location)
        .filter(|s| fits(s, current, &needs))
        .filter_map(|s| {
            Some((
                s,
                meters::vm(book, &vm.location, &s.name, windows, Decimal::ONE)?,
            ))
        })
        .filter(|(_, p)| p.monthly < current_price.monthly)
        .min_by(|(a, pa), (b, pb)| {
            (pa.monthly, a.vcpus, &a.name).cmp(&(pb.monthly, b.vcpus, &b.name))
        });
    let Some((to, target_price)) = best else {
        return Verdict::Pass;
    };
    let estimate = savings::delta(c.scope, vm, &current_price, &target_price);
    Verdict::fire(
        Draft::new(
            format!("Resize VM {} from {} to {}", vm.name, current.name, to.name),
            format!(
                "VM {} uses little of its {} ({} vCPUs, {} GB): p95 CPU {:.1} % (threshold {max_cpu} %), peak memory use {:.1} % (threshold {max_memory} %). {} ({} vCPUs, {} GB) carries that load at {target} % or less and takes its disks and NICs.",
                vm.name, current.name, current.vcpus, current.memory_gb, cpu.p95, used, to.name, to.vcpus, to.memory_gb
            ),
            0.75,
        )
        .variant(to.name.clone())
        .evidence(json!({
            "current_size": current.name, "target_size": to.name,
            "cpu_p95_percent": cpu.p95, "max_cpu_p95_percent": max_cpu,
            "memory_used_peak_percent": used, "max_memory_used_percent": max_memory,
            "target_percent": target, "needed_vcpus": needs.vcpus, "needed_memory_gb": needs.memory_gb,
            "data_disks": needs.disks, "nics": needs.nics, "samples": cpu.samples.min(memory.samples),
            "windows_price": windows,
        }))
        .savings(estimate),
    )
}

pub(super) fn scale_set(c: &Check<'_, '_>, vmss: &Resource) -> Verdict {
    let cpu = stat!(c, &vmss.resource_id, CPU);
    let memory = stat!(c, &vmss.resource_id, MEMORY);
    let Some(size) = c.scope.size(&vmss.location, vmss.sku_name()) else {
        return Verdict::Skip("no_vm_size");
    };
    let capacity = vmss
        .sku
        .as_ref()
        .and_then(|s| number(s, &["capacity"]))
        .unwrap_or(0.0)
        .floor();
    let (max_cpu, max_memory, target) = (
        c.param("max_cpu_p95_percent"),
        c.param("max_memory_used_percent"),
        c.param("target_percent"),
    );
    let used = memory_used_percent(&memory, size);
    if !(cpu.p95 < max_cpu && used < max_memory) || capacity < 2.0 {
        return Verdict::Pass;
    }
    let load = cpu.p95.max(used) / target;
    let to = (capacity * load).ceil().max(1.0);
    if to >= capacity {
        return Verdict::Pass;
    }
    let profile = &[
        "virtualMachineProfile",
        "storageProfile",
        "osDisk",
        "osType",
    ];
    let windows = text(vmss.props(), profile).eq_ignore_ascii_case("windows")
        && !text(vmss.props(), &["virtualMachineProfile", "licenseType"])
            .eq_ignore_ascii_case("Windows_Server");
    let instances = Decimal::from_f64_retain(capacity).unwrap_or(Decimal::ONE);
    let price = meters::vm(
        &c.scope.prices,
        &vmss.location,
        &size.name,
        windows,
        instances,
    );
    let keep = Decimal::from(to as i64) / Decimal::from(capacity as i64);
    Verdict::fire(
        Draft::new(
            format!("Scale in scale set {} from {capacity} to {to} instances", vmss.name),
            format!(
                "Scale set {} ({capacity} × {}) is underused: p95 CPU {:.1} % (threshold {max_cpu} %), peak memory use {:.1} % (threshold {max_memory} %). {to} instances carry that load at {target} % or less.",
                vmss.name, size.name, cpu.p95, used
            ),
            0.7,
        )
        .evidence(json!({
            "current_size": size.name, "capacity": capacity, "target_capacity": to,
            "cpu_p95_percent": cpu.p95, "max_cpu_p95_percent": max_cpu,
            "memory_used_peak_percent": used, "max_memory_used_percent": max_memory,
            "target_percent": target, "samples": cpu.samples.min(memory.samples),
        }))
        .savings(savings::scaled(c.scope, vmss, keep, price.as_ref())),
    )
}

#[cfg(test)]
mod tests;
