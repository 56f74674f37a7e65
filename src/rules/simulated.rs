//! The rules against the simulated Azure's ground truth (`azure-sim`'s `truth`), in process:
//! each subscription's context is built the way the platform collects it (Resource Graph rows,
//! per-resource costs over the 30 days ending 3 days ago, 14 days of hourly metric statistics,
//! Resource SKUs sizes, the Retail Prices list) plus a condition history that has watched the
//! estate since its creation. Every planted condition that fires must be found by its rule
//! with the planted target, and nothing else (tag findings aside: the truth plants none).

mod context;

use std::collections::{BTreeMap, BTreeSet};

use azure_sim::{Estate, EstateConfig};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;

use super::{Settings, evaluate};
use context::context;

/// The planted target or reason a finding's variant must equal, per rule.
fn planted_variant(rule: &str, details: &serde_json::Map<String, Value>) -> String {
    let key = match rule {
        "vm.rightsize" => "target_size",
        "asp.oversized"
        | "disk.on_deallocated_vm"
        | "disk.premium_underused"
        | "snapshot.premium" => "target_sku",
        "sql.dtu_underused" => "target_objective",
        "sku.retired" => "reason",
        _ => return String::new(),
    };
    details
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn every_planted_condition_is_found_by_its_rule_and_nothing_else() {
    let estate = Estate::generate(&EstateConfig {
        resources_per_subscription: 150,
        today: NaiveDate::from_ymd_opt(2026, 12, 1),
        ..EstateConfig::default()
    });
    let settings = Settings {
        owns_licences: true,
        min_monthly_savings: Decimal::ZERO,
        ..Settings::default()
    };
    let mut per_rule: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut below_floor: BTreeMap<&str, usize> = BTreeMap::new();
    for sub in estate.subscriptions() {
        let ctx = context(&estate, sub, settings.clone());
        let evaluation = evaluate(&ctx);
        assert!(
            evaluation.skipped.is_empty(),
            "skipped: {:?}",
            evaluation.skipped
        );
        let found: BTreeSet<(String, String, String)> = evaluation
            .findings
            .iter()
            .filter(|f| f.rule_id != "tag.missing")
            .map(|f| {
                (
                    f.rule_id.to_owned(),
                    f.resource_id.clone(),
                    f.variant.to_ascii_lowercase(),
                )
            })
            .collect();
        let planted: BTreeSet<(String, String, String)> = estate
            .ground_truth(sub.id)
            .iter()
            .flat_map(|t| t.conditions.iter().filter(|c| c.fires).map(move |c| (t, c)))
            .map(|(t, c)| {
                (
                    c.rule_id.to_owned(),
                    t.resource_id.to_ascii_lowercase(),
                    planted_variant(c.rule_id, &c.details).to_ascii_lowercase(),
                )
            })
            .collect();
        for key in found.union(&planted) {
            let entry = per_rule
                .entry(super::rule(&key.0).map_or("?", |r| r.rule_id))
                .or_default();
            match (found.contains(key), planted.contains(key)) {
                (true, true) => entry.0 += 1,
                (true, false) => {
                    entry.1 += 1;
                    misses.push(format!("unexpected {key:?}"));
                }
                _ => {
                    entry.2 += 1;
                    misses.push(format!("missed {key:?}"));
                }
            }
        }
        for f in &evaluation.findings {
            if f.monthly_savings.is_some_and(|m| m < Decimal::ONE) {
                *below_floor.entry(f.rule_id).or_default() += 1;
            }
        }
    }
    for (rule, (tp, fp, fn_)) in &per_rule {
        let precision = *tp as f64 / (tp + fp).max(1) as f64;
        let recall = *tp as f64 / (tp + fn_).max(1) as f64;
        println!("{rule:26} found {tp:4}  precision {precision:.2}  recall {recall:.2}");
    }
    println!("findings under a 1.00 floor (left out by default): {below_floor:?}");
    assert!(
        misses.is_empty(),
        "{} differences:\n{}",
        misses.len(),
        misses.join("\n")
    );
    assert!(
        per_rule.len() >= 27,
        "rules exercised: {:?}",
        per_rule.keys()
    );
}

/// Issue 14's evidence "the savings equal the simulated cost": every finding whose saving is
/// the resource's own cost (C30) proposes exactly what the simulator billed for it and the
/// resources it names as parts (a deallocated VM's disks) over the cost window, to the cent; a
/// price-ratio saving is a positive share of that cost.
#[test]
fn cost_based_savings_equal_what_the_simulator_billed() {
    let estate = Estate::generate(&EstateConfig {
        resources_per_subscription: 150,
        today: NaiveDate::from_ymd_opt(2026, 12, 1),
        ..EstateConfig::default()
    });
    let settings = Settings {
        owns_licences: true,
        min_monthly_savings: Decimal::ZERO,
        ..Settings::default()
    };
    let (mut checked, mut ratios) = (0, 0);
    let mut wrong = Vec::new();
    for sub in estate.subscriptions() {
        let ctx = context(&estate, sub, settings.clone());
        let billed_for = |id: &str, licences_only: bool| -> Decimal {
            ctx.costs
                .iter()
                .filter(|c| c.resource_id.eq_ignore_ascii_case(id))
                .filter(|c| {
                    !licences_only
                        || c.service_name
                            .eq_ignore_ascii_case("Virtual Machines Licenses")
                })
                .map(|c| c.amortized)
                .sum()
        };
        let billed = |id: &str| billed_for(id, false);
        for f in evaluate(&ctx).findings {
            let Some(savings) = f.monthly_savings else {
                continue;
            };
            let parts: Vec<String> = f.evidence["parts"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            // A SQL Server VM's licence is billed on its VM, under the licences service.
            let total = match f.evidence["virtual_machine"].as_str() {
                Some(vm) if f.rule_id == "sqlvm.no_ahb" => billed_for(vm, true),
                _ => billed(&f.resource_id) + parts.iter().map(|p| billed(p)).sum::<Decimal>(),
            };
            match f.savings_basis {
                super::SavingsBasis::ResourceCost => {
                    checked += 1;
                    if savings != total.round_dp(2) {
                        wrong.push(format!(
                            "{} {}: {savings} proposed, {total} billed",
                            f.rule_id, f.resource_id
                        ));
                    }
                }
                super::SavingsBasis::PriceRatio => {
                    ratios += 1;
                    if savings <= Decimal::ZERO || savings > total.round_dp(2) {
                        wrong.push(format!(
                            "{} {}: {savings} of {total} billed",
                            f.rule_id, f.resource_id
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    println!("{checked} savings equal to the billed cost, {ratios} price-ratio savings within it");
    assert!(
        checked > 50 && ratios > 5,
        "{checked} / {ratios} findings checked"
    );
    assert!(
        wrong.is_empty(),
        "{} differ:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Prints how long one evaluation of a 20,000-resource subscription takes (run it with
/// `--ignored --nocapture`, ideally `--release`; `scripts/bench` owns the real figures).
#[test]
#[ignore = "a measurement, not a check"]
fn evaluating_a_20000_resource_subscription() {
    let estate = Estate::generate(&EstateConfig {
        tenants: 1,
        subscriptions_per_tenant: 1,
        resources_per_subscription: 20_000,
        today: NaiveDate::from_ymd_opt(2026, 12, 1),
        ..EstateConfig::default()
    });
    let sub = &estate.subscriptions()[0];
    let started = std::time::Instant::now();
    let ctx = context(
        &estate,
        sub,
        Settings {
            owns_licences: true,
            ..Settings::default()
        },
    );
    let built = started.elapsed();
    let started = std::time::Instant::now();
    let evaluation = evaluate(&ctx);
    println!(
        "context built in {built:?}; {} resources, {} prices evaluated in {:?}: {} findings",
        ctx.resources.len(),
        ctx.prices.len(),
        started.elapsed(),
        evaluation.findings.len()
    );
}
