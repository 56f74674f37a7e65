//! The rule engine (PHASE3 §2): 28 pure rules over one subscription's loaded [`Context`]
//! (inventory, tags, per-resource costs, metric statistics, condition history, VM sizes,
//! retail prices, the tenant's [`Settings`]), each returning [`Finding`]s with honest savings,
//! confidence, risk, effort and evidence. A foundation module: it uses no other module of the
//! crate and defines its own input types, so the caller loads the context from wherever it
//! keeps it and the rules stay testable with hand-built contexts.
//!
//! **Evaluated and skipped.** Missing data must never resolve a finding. [`evaluate`] returns
//! the rules it ran ([`Evaluation::evaluated_rules`]: the enabled ones) and, for each of them,
//! the resources it could *not* judge ([`Evaluation::skipped`], with the reason: a metric
//! missing, failed, without data or with too few samples; no VM size or price where the rule
//! needs one and has no fallback; no condition history where a duration is needed; a source in
//! another subscription). A previously stored finding of rule R about resource X is therefore
//! absent-because-resolved only when [`Evaluation::judged`]`(R, X)` is true: R ran and did not
//! skip X. A resource that is no longer in the inventory is judged by every rule that ran.
//! A disabled rule is not evaluated (its findings are left as they are); the Hybrid Benefit
//! rules with `owns_licences` off are evaluated and pass (the tenant said no licence exists).
//!
//! **Savings.** Monthly, in the tenant's currency, rounded to cents: C30 is taken as the
//! month; retail prices are prorated at 730 hours a month. A cost finding under
//! [`Settings::min_monthly_savings`] is left out (counted in [`Evaluation::below_floor`]); a
//! finding without savings by design (governance, `nic.orphaned`) or whose saving could not be
//! worked out (no cost, no price: `monthly_savings` `None`, confidence lowered) is kept.
//!
//! **Durations.** How long a state has held comes from the condition history, except where
//! Azure itself dates it (a disk's `LastOwnershipUpdateTime`, a resource's `timeCreated`),
//! which wins or, for a deallocated VM, bounds it: nothing fires earlier than it should.
//!
//! Rules live by family: compute (VMs, scale sets), storage (disks, snapshots),
//! network, paas (App Service, SQL), licensing (Azure Hybrid Benefit) and governance (tags,
//! retired SKUs); savings maths in `savings`, meters in `pricing`.

mod catalogue;
mod compute;
mod finding;
mod governance;
mod input;
mod licensing;
mod network;
mod paas;
mod pricing;
mod props;
mod savings;
mod scope;
mod settings;
#[cfg(test)]
mod simulated;
mod storage;
#[cfg(test)]
mod testing;

use std::collections::{BTreeMap, BTreeSet};

pub use catalogue::{Category, Level, Parameter, RuleInfo, catalogue, rule};
pub use finding::{Finding, SavingsBasis, fingerprint};
pub use input::{
    ConditionSince, Context, CostWindow, Json, MetricState, MetricStats, Resource, ResourceCost,
    RetailPrice, VmSize,
};
pub use scope::Skip;
pub use settings::{RuleSettings, Settings, SettingsError, parse_thresholds, validate_threshold};

use scope::{Check, Scope, Verdict};

/// The outcome of evaluating every enabled rule over one subscription.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evaluation {
    /// Findings in catalogue order, then resource order.
    pub findings: Vec<Finding>,
    /// The rules that ran (the tenant's enabled ones).
    pub evaluated_rules: BTreeSet<&'static str>,
    /// `(rule_id, resource_id)` → why that rule could not judge that resource.
    pub skipped: BTreeMap<(&'static str, String), Skip>,
    /// Findings left out because their saving was under the tenant's floor.
    pub below_floor: usize,
}

impl Evaluation {
    /// Whether `rule_id` judged `resource_id`: it ran and did not skip the resource. Only then
    /// does the absence of a finding mean the condition no longer holds.
    pub fn judged(&self, rule_id: &str, resource_id: &str) -> bool {
        self.evaluated_rules.contains(rule_id) && self.skip_reason(rule_id, resource_id).is_none()
    }

    /// Why `rule_id` could not judge `resource_id`, if it could not.
    pub fn skip_reason(&self, rule_id: &str, resource_id: &str) -> Option<Skip> {
        let rule_id: &'static str = self.evaluated_rules.get(rule_id)?;
        self.skipped
            .get(&(rule_id, resource_id.to_ascii_lowercase()))
            .copied()
    }
}

/// Every resource type (for a rule that judges them all).
const ALL_TYPES: &[&str] = &["*"];

/// One rule's implementation: the resource types it judges and its check.
pub(crate) struct Rule {
    pub id: &'static str,
    pub types: &'static [&'static str],
    pub check: fn(&Check<'_, '_>, &Resource) -> Verdict,
}

/// Every implementation, family by family.
fn implementations() -> impl Iterator<Item = &'static Rule> {
    compute::RULES
        .iter()
        .chain(storage::RULES.iter())
        .chain(network::RULES.iter())
        .chain(paas::RULES.iter())
        .chain(licensing::RULES.iter())
        .chain(governance::RULES.iter())
}

/// Evaluates every enabled rule over `ctx`.
pub fn evaluate(ctx: &Context) -> Evaluation {
    let scope = Scope::new(ctx);
    let settings = &ctx.settings;
    let mut out = Evaluation::default();
    for info in catalogue::catalogue() {
        if !settings.enabled(info.rule_id) {
            continue;
        }
        let Some(rule) = implementations().find(|r| r.id == info.rule_id) else {
            continue;
        };
        out.evaluated_rules.insert(info.rule_id);
        let check = Check {
            scope: &scope,
            info,
        };
        let resources: Vec<&Resource> = if rule.types == ALL_TYPES {
            ctx.resources.iter().collect()
        } else {
            rule.types
                .iter()
                .flat_map(|t| scope.of_type(t))
                .copied()
                .collect()
        };
        for r in resources {
            match (rule.check)(&check, r) {
                Verdict::Pass => {}
                Verdict::Skip(reason) => {
                    out.skipped
                        .insert((info.rule_id, r.resource_id.to_ascii_lowercase()), reason);
                }
                Verdict::Fire(draft) => {
                    let floor = settings.min_monthly_savings;
                    match finding::finish(
                        info,
                        &r.resource_id.to_ascii_lowercase(),
                        &ctx.currency,
                        floor,
                        *draft,
                    ) {
                        Some(f) => out.findings.push(f),
                        None => out.below_floor += 1,
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn every_catalogue_rule_has_exactly_one_implementation() {
        for info in catalogue() {
            let n = implementations().filter(|r| r.id == info.rule_id).count();
            assert_eq!(n, 1, "{}", info.rule_id);
        }
        assert_eq!(implementations().count(), catalogue().len());
    }

    #[test]
    fn a_disabled_rule_is_not_evaluated_and_judges_nothing() {
        let mut c = ctx();
        let ip = resource("Microsoft.Network/publicIPAddresses", "ip", json!({}));
        c.conditions.push(condition(
            &ip.resource_id,
            "public_ip_unassociated",
            days_ago(30.0),
        ));
        c.resources.push(ip.clone());
        assert!(outcome(&c, "publicip.orphaned", &ip.resource_id).fired());
        c.settings.rules.insert(
            "publicip.orphaned".into(),
            RuleSettings {
                enabled: false,
                ..Default::default()
            },
        );
        let e = evaluate(&c);
        assert_eq!(
            outcome_of(&e, "publicip.orphaned", &ip.resource_id),
            Outcome::NotEvaluated
        );
        assert!(!e.judged("publicip.orphaned", &ip.resource_id));
        assert!(e.judged("nic.orphaned", "/subscriptions/sub/gone"));
    }

    #[test]
    fn odd_inventory_rows_never_panic_and_bad_metrics_are_not_judged() {
        let types = implementations()
            .flat_map(|r| r.types.iter())
            .filter(|t| **t != "*");
        let shapes = [
            serde_json::Value::Null,
            json!("text"),
            json!([1, 2]),
            json!({}),
            json!({"diskState": 3, "diskSizeGB": "NaN", "numberOfWorkers": 1e300, "sku": {"capacity": -5},
                "storageProfile": {"osDisk": "x", "dataDisks": {"a": 1}}, "creationData": {"sourceResourceId": "ü/€"},
                "extended": {"instanceView": {"powerState": {"code": "PowerState/running"}}}}),
        ];
        let mut c = ctx();
        c.settings.owns_licences = true;
        for (i, t) in types.enumerate() {
            for (j, shape) in shapes.iter().enumerate() {
                let mut r = resource(t, &format!("r{i}-{j}"), shape.clone());
                r.properties = (!shape.is_null()).then(|| testing::to_json(shape.clone()));
                r.sku = Some(testing::to_json(
                    json!({"name": "P€1v3", "tier": 7, "capacity": 1e300}),
                ));
                for m in [
                    "Percentage CPU",
                    "Available Memory Bytes",
                    "Network Out Total",
                    "CpuPercentage",
                ] {
                    c.metrics.push(metric(
                        &r.resource_id,
                        m,
                        f64::NAN,
                        f64::INFINITY,
                        -1.0,
                        500,
                    ));
                }
                c.costs.push(cost(
                    &r.resource_id,
                    "Storage",
                    "79228162514264337593543950",
                ));
                c.resources.push(r);
            }
        }
        c.prices.push(price(
            "Storage",
            "x",
            "x",
            "x",
            "1 Hour",
            "79228162514264337593543950",
        ));
        let e = evaluate(&c);
        assert_eq!(e.evaluated_rules.len(), 28);
        assert!(e.skipped.values().all(|reason| !reason.is_empty()));
        assert!(
            !e.skipped
                .values()
                .any(|reason| *reason == "too_few_samples")
        );
    }

    #[test]
    fn findings_are_the_same_for_the_same_context() {
        let mut c = ctx();
        let disk = resource(
            "Microsoft.Compute/disks",
            "d",
            json!({"diskState": "Unattached", "diskSizeGB": 128, "timeCreated": days_ago(40.0)}),
        );
        c.costs.push(cost(&disk.resource_id, "Storage", "19.71"));
        c.resources.push(disk);
        let (a, b) = (evaluate(&c), evaluate(&c));
        assert_eq!(a, b);
        assert_eq!(a.findings.len(), 1);
        assert_eq!(
            a.findings[0].fingerprint,
            fingerprint("disk.unattached", &c.resources[0].resource_id, "")
        );
    }
}
