//! The savings maths of PHASE3 §2, monthly and in the tenant's currency:
//! - **C30**: the resource's amortized cost over the cost window (30 complete days) is what
//!   deleting or stopping it saves a month;
//! - **Δ**: C30 × (1 − price(target) ÷ price(current)) for a resize or a tier change — the
//!   ratio of list prices applied to what the tenant really pays keeps its discount;
//! - **retail**: without a per-resource cost (a resource newer than the window, costs not
//!   collected), the list price of what would be saved, marked as such (the finding's
//!   confidence is lowered);
//! - unknown when neither exists: the finding still stands, without a figure.
//!
//! The floor and the rounding to cents are applied when the finding is completed.

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::finding::{SavingsBasis, cents};
use super::input::Resource;
use super::pricing::Price;
use super::scope::{Cost, Scope};

/// A monthly saving and how it was worked out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Estimate {
    /// `None` when it could not be worked out.
    pub monthly: Option<Decimal>,
    pub basis: SavingsBasis,
    /// The costs and prices used.
    pub evidence: Map<String, Value>,
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Estimate {
    fn new(monthly: Option<Decimal>, basis: SavingsBasis, evidence: Value) -> Self {
        Self {
            monthly,
            basis,
            evidence: object(evidence),
        }
    }

    /// No cost and no price: a saving exists but its size is unknown.
    pub(crate) fn unknown() -> Self {
        Self::new(
            None,
            SavingsBasis::None,
            json!({"savings_unknown": "no per-resource cost and no retail price"}),
        )
    }

    /// The list price of what would be saved.
    pub(crate) fn retail(price: &Price<'_>) -> Self {
        Self::new(
            Some(price.monthly),
            SavingsBasis::Retail,
            json!({"retail_price": price.evidence()}),
        )
    }
}

/// The cost evidence of a resource.
fn cost_evidence(scope: &Scope<'_>, amortized: Decimal, actual: Decimal) -> Value {
    json!({
        "amortized": cents(amortized).to_string(),
        "actual": cents(actual).to_string(),
        "window": scope.ctx.cost_window,
    })
}

/// C30 of `r`, else the retail `fallback`, else unknown.
pub(crate) fn c30<'a>(
    scope: &Scope<'a>,
    r: &Resource,
    fallback: impl FnOnce() -> Option<Price<'a>>,
) -> Estimate {
    match scope.cost(&r.resource_id) {
        Some(c) => Estimate::new(
            Some(c.amortized),
            SavingsBasis::ResourceCost,
            json!({"c30": cost_evidence(scope, c.amortized, c.actual)}),
        ),
        None => fallback().map_or_else(Estimate::unknown, |p| Estimate::retail(&p)),
    }
}

/// The part of C30 billed under services that `pick` selects (e.g. a VM's compute, or its
/// SQL Server licence), else the retail `fallback`, else unknown.
pub(crate) fn c30_of_services<'a>(
    scope: &Scope<'a>,
    r: &Resource,
    pick: impl Fn(&str) -> bool,
    fallback: impl FnOnce() -> Option<Price<'a>>,
) -> Estimate {
    let part = |c: &Cost| -> Option<Decimal> {
        let picked: Vec<Decimal> = c
            .services
            .iter()
            .filter(|(s, _)| pick(s))
            .map(|(_, a)| *a)
            .collect();
        (!picked.is_empty()).then(|| {
            picked
                .iter()
                .fold(Decimal::ZERO, |a, b| a.saturating_add(*b))
        })
    };
    match scope
        .cost(&r.resource_id)
        .and_then(|c| part(c).map(|p| (p, c)))
    {
        Some((amount, c)) => {
            let services: Vec<&str> = c
                .services
                .iter()
                .filter(|(s, _)| pick(s))
                .map(|(s, _)| s.as_str())
                .collect();
            let mut evidence = cost_evidence(scope, c.amortized, c.actual);
            evidence["part"] = json!(cents(amount).to_string());
            evidence["services"] = json!(services);
            Estimate::new(
                Some(amount),
                SavingsBasis::ResourceCost,
                json!({"c30": evidence}),
            )
        }
        None => fallback().map_or_else(Estimate::unknown, |p| Estimate::retail(&p)),
    }
}

/// Δ for moving `r` from `current` to `target`: C30 × (1 − target ÷ current), else the list
/// price difference. A target that is not cheaper saves nothing.
pub(crate) fn delta(
    scope: &Scope<'_>,
    r: &Resource,
    current: &Price<'_>,
    target: &Price<'_>,
) -> Estimate {
    delta_of_services(scope, r, |_| true, current, target)
}

/// [`delta`] on the part of C30 billed under the services `pick` selects (a VM's compute
/// without its SQL Server licence).
pub(crate) fn delta_of_services(
    scope: &Scope<'_>,
    r: &Resource,
    pick: impl Fn(&str) -> bool,
    current: &Price<'_>,
    target: &Price<'_>,
) -> Estimate {
    let prices = json!({"current_price": current.evidence(), "target_price": target.evidence()});
    if current.monthly <= Decimal::ZERO {
        return Estimate::new(None, SavingsBasis::None, prices);
    }
    let Some(ratio) = target.monthly.checked_div(current.monthly) else {
        return Estimate::new(None, SavingsBasis::None, prices);
    };
    let share = (Decimal::ONE - ratio).max(Decimal::ZERO);
    let mut evidence = object(prices);
    evidence.insert(
        "price_ratio".into(),
        json!(ratio.round_dp(6).normalize().to_string()),
    );
    match scope.cost(&r.resource_id) {
        Some(c) => {
            let part: Decimal = c
                .services
                .iter()
                .filter(|(s, _)| pick(s))
                .fold(Decimal::ZERO, |sum, (_, a)| sum.saturating_add(*a));
            let mut cost = cost_evidence(scope, c.amortized, c.actual);
            if part != c.amortized {
                cost["part"] = json!(cents(part).to_string());
            }
            evidence.insert("c30".into(), cost);
            Estimate {
                monthly: Some(part * share),
                basis: SavingsBasis::PriceRatio,
                evidence,
            }
        }
        None => Estimate {
            monthly: Some((current.monthly - target.monthly).max(Decimal::ZERO)),
            basis: SavingsBasis::Retail,
            evidence,
        },
    }
}

/// Nothing billed in the cost window (a VM deallocated throughout): C30 is zero.
pub(crate) fn nothing_billed() -> Estimate {
    Estimate::new(
        Some(Decimal::ZERO),
        SavingsBasis::ResourceCost,
        json!({"c30": {"amortized": "0.00", "note": "not billed in the cost window"}}),
    )
}

/// Δ for keeping `share` (0..1) of `r`'s cost, e.g. fewer instances: C30 × (1 − share), else
/// the retail `current` price × (1 − share).
pub(crate) fn scaled(
    scope: &Scope<'_>,
    r: &Resource,
    keep: Decimal,
    current: Option<&Price<'_>>,
) -> Estimate {
    let saved = (Decimal::ONE - keep).max(Decimal::ZERO);
    let ratio = json!({"kept_share": keep.round_dp(6).normalize().to_string()});
    match (scope.cost(&r.resource_id), current) {
        (Some(c), _) => {
            let mut evidence = object(ratio);
            evidence.insert("c30".into(), cost_evidence(scope, c.amortized, c.actual));
            Estimate {
                monthly: Some(c.amortized * saved),
                basis: SavingsBasis::PriceRatio,
                evidence,
            }
        }
        (None, Some(p)) => {
            let mut e = Estimate::retail(p);
            e.monthly = Some(p.monthly * saved);
            e.evidence.extend(object(ratio));
            e
        }
        (None, None) => Estimate::unknown(),
    }
}

/// The sum of several resources' estimates (a deallocated VM's disks and IPs): the weakest
/// basis wins, unknown parts are counted as unknown.
pub(crate) fn sum(parts: Vec<(String, Estimate)>) -> Estimate {
    let mut total = Decimal::ZERO;
    let mut basis = SavingsBasis::ResourceCost;
    let mut items = Map::new();
    for (id, e) in parts {
        match e.monthly {
            Some(m) => total = total.saturating_add(m),
            None => basis = SavingsBasis::None,
        }
        if e.basis == SavingsBasis::Retail && basis != SavingsBasis::None {
            basis = SavingsBasis::Retail;
        }
        items.insert(id, Value::Object(e.evidence));
    }
    let monthly = (basis != SavingsBasis::None).then_some(total);
    Estimate::new(monthly, basis, json!({"parts": items}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::finding::{Draft, finish};
    use crate::rules::testing::*;

    fn price_of<'a>(item: &'a crate::rules::RetailPrice, monthly: &str) -> Price<'a> {
        Price {
            monthly: dec(monthly),
            item,
        }
    }

    #[test]
    fn a_price_ratio_keeps_the_tenants_discount() {
        let mut c = ctx();
        let r = resource("Microsoft.Compute/disks", "d", serde_json::json!({}));
        // Billed 50 where the list says 100: half price. Moving to a 60 list price saves
        // 40 % of what the tenant pays (20), not the list difference (40).
        c.costs.push(cost(&r.resource_id, "Storage", "30"));
        c.costs.push(cost(&r.resource_id, "Storage", "20"));
        let item = price("Storage", "p", "s", "m", "1/Month", "1");
        let scope = Scope::new(&c);
        let e = delta(&scope, &r, &price_of(&item, "100"), &price_of(&item, "60"));
        assert_eq!(
            (e.monthly, e.basis),
            (Some(dec("20")), SavingsBasis::PriceRatio)
        );
        assert_eq!(e.evidence["price_ratio"], "0.6");
        assert_eq!(e.evidence["c30"]["amortized"], "50.00");
        let e = delta(&scope, &r, &price_of(&item, "100"), &price_of(&item, "120"));
        assert_eq!(
            e.monthly,
            Some(Decimal::ZERO),
            "a dearer target saves nothing"
        );
        let e = delta(&scope, &r, &price_of(&item, "0"), &price_of(&item, "0"));
        assert_eq!((e.monthly, e.basis), (None, SavingsBasis::None));
    }

    #[test]
    fn without_cost_the_list_difference_is_used_and_marked_retail() {
        let c = ctx();
        let r = resource("Microsoft.Compute/disks", "d", serde_json::json!({}));
        let item = price("Storage", "p", "s", "m", "1/Month", "1");
        let scope = Scope::new(&c);
        let e = delta(&scope, &r, &price_of(&item, "100"), &price_of(&item, "60"));
        assert_eq!(
            (e.monthly, e.basis),
            (Some(dec("40")), SavingsBasis::Retail)
        );
        let e = c30(&scope, &r, || Some(price_of(&item, "12.5")));
        assert_eq!(
            (e.monthly, e.basis),
            (Some(dec("12.5")), SavingsBasis::Retail)
        );
        assert_eq!(c30(&scope, &r, || None), Estimate::unknown());
    }

    #[test]
    fn a_sum_is_as_weak_as_its_weakest_part() {
        let known = |m: &str, basis| Estimate::new(Some(dec(m)), basis, serde_json::json!({}));
        let e = sum(vec![
            ("a".into(), known("1", SavingsBasis::ResourceCost)),
            ("b".into(), known("2", SavingsBasis::Retail)),
        ]);
        assert_eq!((e.monthly, e.basis), (Some(dec("3")), SavingsBasis::Retail));
        let e = sum(vec![
            ("a".into(), known("1", SavingsBasis::ResourceCost)),
            ("b".into(), Estimate::unknown()),
        ]);
        assert_eq!((e.monthly, e.basis), (None, SavingsBasis::None));
        assert_eq!(sum(Vec::new()).monthly, Some(Decimal::ZERO));
    }

    #[test]
    fn savings_are_rounded_to_cents_before_the_floor_is_applied() {
        let rule = crate::rules::rule("disk.unattached").expect("known rule");
        let draft = |m: &str| {
            Draft::new("t".into(), "d".into(), 0.9).savings(Estimate::new(
                Some(dec(m)),
                SavingsBasis::ResourceCost,
                serde_json::json!({}),
            ))
        };
        let kept = finish(rule, "/r", "EUR", Decimal::ONE, draft("0.995")).expect("rounds to 1.00");
        assert_eq!(
            (kept.monthly_savings, kept.currency.as_str()),
            (Some(dec("1.00")), "EUR")
        );
        assert!(finish(rule, "/r", "EUR", Decimal::ONE, draft("0.994")).is_none());
        let unknown = Draft::new("t".into(), "d".into(), 0.9).savings(Estimate::unknown());
        assert!(
            finish(rule, "/r", "EUR", Decimal::ONE, unknown).is_some(),
            "an unknown saving is not under the floor"
        );
        let hygiene = Draft::new("t".into(), "d".into(), 0.9);
        assert!(
            finish(rule, "/r", "EUR", dec("1000"), hygiene).is_some(),
            "no saving by design: no floor"
        );
    }
}
