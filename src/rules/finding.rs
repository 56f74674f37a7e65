//! What a rule produces: a [`Finding`] with its stable fingerprint, its savings and how they
//! were worked out, and the evidence (the observed values next to the thresholds that fired,
//! and the costs and prices used). Rules build a [`Draft`]; the evaluation completes it with
//! the catalogue's fixed parts, the savings floor and the confidence adjustments.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::catalogue::{Category, Level, RuleInfo};
use super::savings::Estimate;

/// How a finding's monthly saving was worked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SavingsBasis {
    /// The resource's own amortized cost over the last 30 complete days (C30).
    ResourceCost,
    /// C30 × (1 − target price ÷ current price): the ratio keeps the tenant's discount.
    PriceRatio,
    /// From retail prices, as no per-resource cost exists (confidence lowered).
    Retail,
    /// No saving (governance, hygiene) or none could be worked out.
    None,
}

impl SavingsBasis {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResourceCost => "resource_cost",
            Self::PriceRatio => "price_ratio",
            Self::Retail => "retail",
            Self::None => "none",
        }
    }
}

/// One finding of one rule about one resource.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Finding {
    pub rule_id: &'static str,
    pub category: Category,
    /// Lower-cased ARM id.
    pub resource_id: String,
    /// The verb shared with Advisor recommendations about the same resource and action.
    pub action: &'static str,
    /// What distinguishes two findings of one rule on one resource (a target size or SKU, a
    /// retirement reason); "" for most rules.
    pub variant: String,
    /// `{rule_id}|{resource_id}|{variant}`: stable while the rule, resource and variant are.
    pub fingerprint: String,
    pub title: String,
    pub description: String,
    /// Per month, in `currency`, rounded to cents; `None` when the finding has no saving by
    /// design (governance, hygiene) or no cost or price was available to work it out.
    #[schema(value_type = Option<String>)]
    pub monthly_savings: Option<Decimal>,
    pub currency: String,
    pub savings_basis: SavingsBasis,
    /// 0 to 1, two decimals.
    pub confidence: f64,
    pub risk: Level,
    pub effort: Level,
    /// A JSON object: observed values, thresholds, costs and prices used.
    #[schema(value_type = Object)]
    pub evidence: Value,
}

/// The stable key of a finding.
pub fn fingerprint(rule_id: &str, resource_id: &str, variant: &str) -> String {
    format!(
        "{rule_id}|{}|{}",
        resource_id.to_ascii_lowercase(),
        variant.to_ascii_lowercase()
    )
}

/// What a rule says when it fires.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Draft {
    pub variant: String,
    pub title: String,
    pub description: String,
    /// `None`: no saving by design (governance, hygiene: the floor does not apply).
    pub savings: Option<Estimate>,
    /// Before the savings basis lowers it.
    pub confidence: f64,
    pub evidence: Map<String, Value>,
}

impl Draft {
    /// A draft without variant, evidence or saving.
    pub(crate) fn new(title: String, description: String, confidence: f64) -> Self {
        Self {
            variant: String::new(),
            title,
            description,
            savings: None,
            confidence,
            evidence: Map::new(),
        }
    }

    pub(crate) fn variant(mut self, variant: impl Into<String>) -> Self {
        self.variant = variant.into();
        self
    }

    pub(crate) fn savings(mut self, estimate: Estimate) -> Self {
        self.savings = Some(estimate);
        self
    }

    /// Adds observed values and thresholds.
    pub(crate) fn evidence(mut self, value: Value) -> Self {
        if let Value::Object(map) = value {
            self.evidence.extend(map);
        }
        self
    }
}

/// How much less sure a saving from retail prices is than one from the resource's own cost,
/// and one that could not be worked out at all.
const RETAIL_PENALTY: f64 = 0.2;
const UNKNOWN_PENALTY: f64 = 0.3;

/// Rounds to cents, half away from zero, always with two decimals (`50.00`).
pub(crate) fn cents(amount: Decimal) -> Decimal {
    let mut rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(2);
    rounded
}

/// Completes a draft, or `None` when its saving is under `floor` (not emitted as a cost
/// finding).
pub(crate) fn finish(
    rule: &RuleInfo,
    resource_id: &str,
    currency: &str,
    floor: Decimal,
    draft: Draft,
) -> Option<Finding> {
    let mut evidence = draft.evidence;
    let (monthly, basis, penalty) = match draft.savings {
        None => (None, SavingsBasis::None, 0.0),
        Some(estimate) => {
            evidence.extend(estimate.evidence);
            match estimate.monthly.map(cents) {
                Some(m) if m < floor => return None,
                Some(m) => {
                    let penalty = match estimate.basis {
                        SavingsBasis::Retail => RETAIL_PENALTY,
                        _ => 0.0,
                    };
                    (Some(m), estimate.basis, penalty)
                }
                None => (None, SavingsBasis::None, UNKNOWN_PENALTY),
            }
        }
    };
    let confidence = ((draft.confidence - penalty).clamp(0.05, 1.0) * 100.0).round() / 100.0;
    Some(Finding {
        rule_id: rule.rule_id,
        category: rule.category,
        resource_id: resource_id.to_owned(),
        action: rule.action,
        fingerprint: fingerprint(rule.rule_id, resource_id, &draft.variant),
        variant: draft.variant,
        title: draft.title,
        description: draft.description,
        monthly_savings: monthly,
        currency: currency.to_owned(),
        savings_basis: basis,
        confidence,
        risk: rule.risk,
        effort: rule.effort,
        evidence: Value::Object(evidence),
    })
}
