//! App Service and SQL Database rules: empty and oversized App Service plans, underused DTU
//! databases, empty elastic pools.
//!
//! A plan's sites are `numberOfSites`, or the sites of the inventory naming it when that is
//! larger; an empty plan is the empty rule's, never resized. "One size down" stays in the tier
//! and generation: `P2v3` → `P1v3`, `P1v3` → `P0v3`, `S2` → `S1`, and exists only when the price
//! list of the region has it. A DTU database moves one service objective down in its edition
//! (`S2` → `S1`; `S0` and `P1` are their edition's smallest, `Basic` has no other).

use rust_decimal::Decimal;
use serde_json::json;

use super::Rule;
use super::finding::Draft;
use super::input::Resource;
use super::pricing::{Price, meters};
use super::props::{flag, number, text};
use super::savings;
use super::scope::{Check, Verdict};

const PLAN: &str = "microsoft.web/serverfarms";

pub(crate) const RULES: [Rule; 4] = [
    Rule {
        id: "asp.empty",
        types: &[PLAN],
        check: empty_plan,
    },
    Rule {
        id: "asp.oversized",
        types: &[PLAN],
        check: oversized_plan,
    },
    Rule {
        id: "sql.dtu_underused",
        types: &["microsoft.sql/servers/databases"],
        check: dtu_database,
    },
    Rule {
        id: "sql.pool_empty",
        types: &["microsoft.sql/servers/elasticpools"],
        check: empty_pool,
    },
];

/// Tiers that cost nothing per plan (consumption plans bill executions).
const FREE_TIERS: [&str; 4] = ["free", "shared", "dynamic", "flexconsumption"];

/// Whether the plan is billed per instance, `None` when its tier is unknown.
fn paid(plan: &Resource) -> Option<bool> {
    let tier = plan.sku_tier().to_ascii_lowercase();
    (!tier.is_empty()).then(|| !FREE_TIERS.contains(&tier.as_str()))
}

fn sites(c: &Check<'_, '_>, plan: &Resource) -> u64 {
    let counted = c.scope.plan_sites(&plan.resource_id) as u64;
    let reported = number(plan.props(), &["numberOfSites"])
        .unwrap_or(0.0)
        .max(0.0) as u64;
    counted.max(reported)
}

fn linux(plan: &Resource) -> bool {
    flag(plan.props(), &["reserved"]).unwrap_or(false)
}

fn empty_plan(c: &Check<'_, '_>, plan: &Resource) -> Verdict {
    match paid(plan) {
        None => return Verdict::Skip("sku_unknown"),
        Some(false) => return Verdict::Pass,
        Some(true) => {}
    }
    if sites(c, plan) > 0 {
        return Verdict::Pass;
    }
    let estimate = savings::c30(c.scope, plan, || meters::resource(&c.scope.prices, plan));
    Verdict::fire(
        Draft::new(
            format!("Delete empty App Service plan {}", plan.name),
            format!(
                "App Service plan {} ({} {}) hosts no site but its instances are billed. Delete it.",
                plan.name,
                plan.sku_tier(),
                plan.sku_name()
            ),
            0.9,
        )
        .evidence(json!({"sites": 0, "sku": plan.sku_name(), "tier": plan.sku_tier()}))
        .savings(estimate),
    )
}

/// `P2v3` → (`P`, 2, `v3`).
fn split_sku(sku: &str) -> Option<(&str, u32, &str)> {
    let start = sku.find(|c: char| c.is_ascii_digit())?;
    let end = sku[start..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(sku.len(), |e| start + e);
    Some((&sku[..start], sku[start..end].parse().ok()?, &sku[end..]))
}

/// The plan SKU one size down in its tier and the price of `workers` of it, if the region's
/// price list has one.
fn one_size_down<'a>(
    c: &Check<'_, 'a>,
    plan: &Resource,
    workers: Decimal,
) -> Option<(String, Price<'a>)> {
    let (prefix, n, suffix) = split_sku(plan.sku_name())?;
    let smaller = format!("{prefix}{}{suffix}", n.checked_sub(1)?);
    let price = meters::app_service_plan(
        &c.scope.prices,
        &plan.location,
        &smaller,
        linux(plan),
        workers,
    )?;
    Some((smaller, price))
}

fn oversized_plan(c: &Check<'_, '_>, plan: &Resource) -> Verdict {
    if paid(plan) != Some(true) || sites(c, plan) == 0 {
        return Verdict::Pass;
    }
    let stats = c
        .stat(&plan.resource_id, "CpuPercentage")
        .and_then(|cpu| Ok((cpu, c.stat(&plan.resource_id, "MemoryPercentage")?)));
    let (cpu, memory) = match stats {
        Ok(s) => s,
        Err(reason) => return Verdict::Skip(reason),
    };
    let (max_cpu, max_memory) = (
        c.param("max_cpu_p95_percent"),
        c.param("max_memory_p95_percent"),
    );
    if !(cpu.p95 < max_cpu && memory.p95 < max_memory) {
        return Verdict::Pass;
    }
    let workers = number(plan.props(), &["numberOfWorkers"])
        .unwrap_or(1.0)
        .max(1.0);
    let workers = Decimal::from(workers as i64);
    let book = &c.scope.prices;
    let Some(current) =
        meters::app_service_plan(book, &plan.location, plan.sku_name(), linux(plan), workers)
    else {
        return Verdict::Skip("no_price");
    };
    let Some((target, target_price)) = one_size_down(c, plan, workers) else {
        return Verdict::Pass;
    };
    Verdict::fire(
        Draft::new(
            format!("Resize App Service plan {} from {} to {target}", plan.name, plan.sku_name()),
            format!(
                "App Service plan {} uses little of its {}: p95 CPU {:.1} % (threshold {max_cpu} %), p95 memory {:.1} % (threshold {max_memory} %). Scale it down one size to {target}.",
                plan.name,
                plan.sku_name(),
                cpu.p95,
                memory.p95
            ),
            0.75,
        )
        .variant(target.clone())
        .evidence(json!({"current_sku": plan.sku_name(), "target_sku": target,
            "cpu_p95_percent": cpu.p95, "max_cpu_p95_percent": max_cpu,
            "memory_p95_percent": memory.p95, "max_memory_p95_percent": max_memory,
            "samples": cpu.samples.min(memory.samples), "min_samples": c.param("min_samples")}))
        .savings(savings::delta(c.scope, plan, &current, &target_price)),
    )
}

/// DTU service objectives by edition, smallest first.
const DTU_OBJECTIVES: [&[&str]; 3] = [
    &["Basic"],
    &["S0", "S1", "S2", "S3", "S4", "S6", "S7", "S9", "S12"],
    &["P1", "P2", "P4", "P6", "P11", "P15"],
];

/// The objective one down in its edition, `None` for an edition's smallest or an unknown one.
fn objective_down(objective: &str) -> Option<&'static str> {
    DTU_OBJECTIVES.iter().find_map(|edition| {
        let i = edition
            .iter()
            .position(|o| o.eq_ignore_ascii_case(objective))?;
        edition.get(i.checked_sub(1)?).copied()
    })
}

fn dtu_database(c: &Check<'_, '_>, db: &Resource) -> Verdict {
    let tier = db.sku_tier().to_ascii_lowercase();
    let pooled = !text(db.props(), &["elasticPoolId"]).is_empty()
        || db.sku_name().eq_ignore_ascii_case("ElasticPool");
    if !matches!(tier.as_str(), "basic" | "standard" | "premium") || pooled {
        return Verdict::Pass;
    }
    let objective = match text(db.props(), &["currentServiceObjectiveName"]) {
        "" => db.sku_name(),
        o => o,
    };
    let Some(target) = objective_down(objective) else {
        return Verdict::Pass;
    };
    let dtu = match c.stat(&db.resource_id, "dtu_consumption_percent") {
        Ok(s) => s,
        Err(reason) => return Verdict::Skip(reason),
    };
    let max_dtu = c.param("max_dtu_p95_percent");
    if dtu.p95 >= max_dtu {
        return Verdict::Pass;
    }
    let book = &c.scope.prices;
    let prices = meters::sql_objective(book, &db.location, objective).zip(meters::sql_objective(
        book,
        &db.location,
        target,
    ));
    let Some((current, to)) = prices else {
        return Verdict::Skip("no_price");
    };
    Verdict::fire(
        Draft::new(
            format!("Scale database {} down from {objective} to {target}", db.name),
            format!(
                "Database {} uses little of its {objective} service objective: p95 DTU consumption {:.1} % (threshold {max_dtu} %). Move it one objective down to {target}.",
                db.name, dtu.p95
            ),
            0.75,
        )
        .variant(target)
        .evidence(json!({"current_objective": objective, "target_objective": target,
            "dtu_p95_percent": dtu.p95, "max_dtu_p95_percent": max_dtu,
            "samples": dtu.samples, "min_samples": c.param("min_samples")}))
        .savings(savings::delta(c.scope, db, &current, &to)),
    )
}

fn empty_pool(c: &Check<'_, '_>, pool: &Resource) -> Verdict {
    if c.scope.pool_databases(&pool.resource_id) > 0 {
        return Verdict::Pass;
    }
    let estimate = savings::c30(c.scope, pool, || meters::resource(&c.scope.prices, pool));
    Verdict::fire(
        Draft::new(
            format!("Delete empty elastic pool {}", pool.name),
            format!(
                "Elastic pool {} ({} {}) holds no database. Delete it.",
                pool.name,
                pool.sku_tier(),
                pool.sku_name()
            ),
            0.9,
        )
        .evidence(json!({"databases": 0, "sku": pool.sku_name(), "tier": pool.sku_tier()}))
        .savings(estimate),
    )
}

#[cfg(test)]
mod tests;
