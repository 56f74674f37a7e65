//! Azure Hybrid Benefit rules: Windows VMs billed the Windows price, and SQL Server VMs
//! licensed pay-as-you-go, when the tenant says it owns licences to bring. Without that
//! setting neither fires (they are evaluated and pass, so their findings resolve when the
//! tenant switches it off).
//!
//! A Windows VM's saving is Δ from the Windows to the Linux price of its size, on the compute
//! part of its C30 (`Virtual Machines`, not the SQL Server licence billed on the same VM); a
//! SQL VM's is the licence share of its VM's C30 (`Virtual Machines Licenses`). Developer and
//! Express editions are free and never flagged.

use serde_json::json;

use super::Rule;
use super::compute::{Power, hybrid_benefit, power, size_name, windows};
use super::finding::Draft;
use super::input::Resource;
use super::pricing::meters;
use super::props::text;
use super::savings;
use super::scope::{Check, Verdict};

pub(crate) const RULES: [Rule; 2] = [
    Rule {
        id: "vm.no_ahb",
        types: &["microsoft.compute/virtualmachines"],
        check: windows_vm,
    },
    Rule {
        id: "sqlvm.no_ahb",
        types: &["microsoft.sqlvirtualmachine/sqlvirtualmachines"],
        check: sql_vm,
    },
];

const LICENCES: &str = "virtual machines licenses";

fn windows_vm(c: &Check<'_, '_>, vm: &Resource) -> Verdict {
    if !c.scope.ctx.settings.owns_licences || !windows(vm) || hybrid_benefit(vm) {
        return Verdict::Pass;
    }
    let book = &c.scope.prices;
    let size = size_name(vm);
    let prices = meters::vm(book, &vm.location, size, true, rust_decimal::Decimal::ONE).zip(
        meters::vm(book, &vm.location, size, false, rust_decimal::Decimal::ONE),
    );
    let Some((windows_price, linux_price)) = prices else {
        return Verdict::Skip("no_price");
    };
    let deallocated = power(vm) == Some(Power::Deallocated);
    let estimate = if deallocated && c.scope.cost(&vm.resource_id).is_none() {
        savings::nothing_billed()
    } else {
        let compute = |s: &str| !s.eq_ignore_ascii_case(LICENCES);
        savings::delta_of_services(c.scope, vm, compute, &windows_price, &linux_price)
    };
    Verdict::fire(
        Draft::new(
            format!("Enable Azure Hybrid Benefit on Windows VM {}", vm.name),
            format!(
                "Windows VM {} ({size}) pays the Windows licence with its compute. With Windows Server licences under Software Assurance, set its licence type to Windows_Server to pay the Linux price.",
                vm.name
            ),
            0.85,
        )
        .evidence(json!({"os_type": "Windows", "license_type": text(vm.props(), &["licenseType"]),
            "owns_licences": true, "size": size}))
        .savings(estimate),
    )
}

fn sql_vm(c: &Check<'_, '_>, sql: &Resource) -> Verdict {
    let p = sql.props();
    let licence = text(p, &["sqlServerLicenseType"]);
    let edition = text(p, &["sqlImageSku"]);
    let free = ["developer", "express"].contains(&edition.to_ascii_lowercase().as_str());
    if !c.scope.ctx.settings.owns_licences || !licence.eq_ignore_ascii_case("PAYG") || free {
        return Verdict::Pass;
    }
    let vm_id = text(p, &["virtualMachineResourceId"]);
    let estimate = match c.scope.resource(vm_id) {
        Some(vm) => savings::c30_of_services(
            c.scope,
            vm,
            |s| s.eq_ignore_ascii_case(LICENCES),
            || {
                if power(vm) == Some(Power::Deallocated) {
                    return None;
                }
                let vcpus = c.scope.size(&vm.location, size_name(vm))?.vcpus;
                let edition = if edition.is_empty() {
                    "Standard"
                } else {
                    edition
                };
                meters::sql_licence(&c.scope.prices, &vm.location, edition, vcpus)
            },
        ),
        None => savings::Estimate::unknown(),
    };
    Verdict::fire(
        Draft::new(
            format!("Enable Azure Hybrid Benefit on SQL Server VM {}", sql.name),
            format!(
                "SQL Server{} on VM {} is licensed pay-as-you-go. With SQL Server licences under Software Assurance, set its licence type to AHUB to stop paying the licence by the hour.",
                if edition.is_empty() { String::new() } else { format!(" {edition}") },
                sql.name
            ),
            0.85,
        )
        .evidence(json!({"sql_server_license_type": licence, "edition": edition,
            "virtual_machine": vm_id.to_ascii_lowercase(), "owns_licences": true}))
        .savings(estimate),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::rules::testing::*;
    use crate::rules::{Context, SavingsBasis};

    fn windows_vm(c: &mut Context, licence: Option<&str>) -> String {
        let mut v = vm("vm1", "Standard_D2s_v5", "running", "Windows");
        if let Some(l) = licence {
            set(&mut v, &["licenseType"], json!(l));
        }
        c.prices.extend([
            vm_price("Standard_D2s_v5", false, "0.096"),
            vm_price("Standard_D2s_v5", true, "0.188"),
        ]);
        c.costs
            .push(cost(&v.resource_id, "Virtual Machines", "135.36"));
        c.costs
            .push(cost(&v.resource_id, "Virtual Machines Licenses", "36.00"));
        c.settings.owns_licences = true;
        c.resources.push(v.clone());
        v.resource_id
    }

    #[test]
    fn a_windows_vm_without_ahb_saves_the_linux_price_ratio_of_its_compute() {
        let mut c = ctx();
        let v = windows_vm(&mut c, None);
        let f = outcome(&c, "vm.no_ahb", &v).finding();
        // 135.36 × (1 − 0.096 / 0.188) = 66.24
        assert_eq!(f.monthly_savings, Some(dec("66.24")));
        assert_eq!(
            (f.action, f.savings_basis),
            ("hybrid_benefit", SavingsBasis::PriceRatio)
        );
    }

    #[test]
    fn ahb_vm_findings_need_owned_licences_windows_and_no_benefit_yet() {
        let mut c = ctx();
        let v = windows_vm(&mut c, Some("Windows_Server"));
        assert_eq!(outcome(&c, "vm.no_ahb", &v), Outcome::Passed);
        let mut c = ctx();
        let v = windows_vm(&mut c, None);
        c.settings.owns_licences = false;
        assert_eq!(outcome(&c, "vm.no_ahb", &v), Outcome::Passed);
        let mut c = ctx();
        let v = windows_vm(&mut c, None);
        set(
            &mut c.resources[0],
            &["storageProfile", "osDisk", "osType"],
            json!("Linux"),
        );
        assert_eq!(outcome(&c, "vm.no_ahb", &v), Outcome::Passed);
        c.prices.clear();
        set(
            &mut c.resources[0],
            &["storageProfile", "osDisk", "osType"],
            json!("Windows"),
        );
        assert_eq!(outcome(&c, "vm.no_ahb", &v), Outcome::Skipped("no_price"));
    }

    fn sql_vm(c: &mut Context, licence: &str, edition: &str) -> String {
        let v = windows_vm(c, None);
        let s = resource(
            "Microsoft.SqlVirtualMachine/sqlVirtualMachines",
            "vm1",
            json!({"virtualMachineResourceId": v.to_uppercase(), "sqlServerLicenseType": licence, "sqlImageSku": edition}),
        );
        c.resources.push(s.clone());
        s.resource_id
    }

    #[test]
    fn a_payg_sql_vm_saves_the_licence_share_of_its_vms_cost() {
        let mut c = ctx();
        let s = sql_vm(&mut c, "PAYG", "Standard");
        let f = outcome(&c, "sqlvm.no_ahb", &s).finding();
        assert_eq!(
            (f.monthly_savings, f.savings_basis),
            (Some(dec("36.00")), SavingsBasis::ResourceCost)
        );
        c.costs.retain(|r| r.service_name == "Virtual Machines");
        c.vm_sizes
            .push(size("Standard_D2s_v5", "standardDSv5Family", 2, 8.0, 4, 2));
        c.prices.push(price(
            "Virtual Machines Licenses",
            "SQL Server Standard",
            "1-4 vCPU VM",
            "1-4 vCPU VM License",
            "1 Hour",
            "0.2",
        ));
        let f = outcome(&c, "sqlvm.no_ahb", &s).finding();
        assert_eq!(
            (f.monthly_savings, f.savings_basis),
            (Some(dec("146.00")), SavingsBasis::Retail)
        );
    }

    #[test]
    fn ahub_developer_or_unowned_sql_vms_do_not_fire() {
        for (licence, edition, owns) in [
            ("AHUB", "Standard", true),
            ("PAYG", "Developer", true),
            ("PAYG", "Enterprise", false),
        ] {
            let mut c = ctx();
            let s = sql_vm(&mut c, licence, edition);
            c.settings.owns_licences = owns;
            assert_eq!(
                outcome(&c, "sqlvm.no_ahb", &s),
                Outcome::Passed,
                "{licence} {edition} {owns}"
            );
        }
    }
}
