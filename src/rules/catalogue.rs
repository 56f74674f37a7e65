//! The rule catalogue (PHASE3 §2): each rule's stable id, category, the action it proposes
//! (the verb that pairs it with an Advisor recommendation about the same resource), its risk
//! and effort, and its tunable parameters with their defaults and allowed ranges. The rules'
//! logic lives in the family modules; this table is what `GET /api/v1/rules` lists and what a
//! threshold override is validated against.

mod table;

use serde::Serialize;
use utoipa::ToSchema;

use table::CATALOGUE;

/// What kind of saving or hygiene a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Waste,
    Rightsizing,
    Cost,
    Commitment,
    Governance,
}

impl Category {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waste => "waste",
            Self::Rightsizing => "rightsizing",
            Self::Cost => "cost",
            Self::Commitment => "commitment",
            Self::Governance => "governance",
        }
    }
}

/// Risk of acting on a finding, or the effort it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Low,
    Medium,
    High,
}

impl Level {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

/// A tunable threshold of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Parameter {
    pub name: &'static str,
    pub default: f64,
    /// Smallest allowed value (inclusive).
    pub min: f64,
    /// Largest allowed value (inclusive).
    pub max: f64,
    /// Whether only whole numbers are allowed (days, samples).
    pub integer: bool,
    pub unit: &'static str,
    pub description: &'static str,
}

/// One rule of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct RuleInfo {
    pub rule_id: &'static str,
    /// A short name for lists (`Unattached managed disk`).
    pub title: &'static str,
    pub category: Category,
    /// The verb of its findings: `delete`, `resize`, `shutdown`, `stop`, `change_tier`,
    /// `hybrid_benefit`, `tag`, `upgrade_sku`.
    pub action: &'static str,
    pub description: &'static str,
    pub risk: Level,
    pub effort: Level,
    pub parameters: &'static [Parameter],
}

impl RuleInfo {
    /// A parameter by name.
    pub fn parameter(&self, name: &str) -> Option<&'static Parameter> {
        self.parameters.iter().find(|p| p.name == name)
    }

    /// The parameters' defaults as a JSON object, by name.
    pub fn default_thresholds(&self) -> serde_json::Value {
        let defaults = self
            .parameters
            .iter()
            .map(|p| (p.name.to_owned(), serde_json::json!(p.default)));
        serde_json::Value::Object(defaults.collect())
    }
}

/// Every rule of the catalogue.
pub fn catalogue() -> &'static [RuleInfo] {
    &CATALOGUE
}

/// One rule by id.
pub fn rule(rule_id: &str) -> Option<&'static RuleInfo> {
    CATALOGUE.iter().find(|r| r.rule_id == rule_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_catalogue_has_28_distinct_rules_with_sane_parameters() {
        let ids: BTreeSet<&str> = CATALOGUE.iter().map(|r| r.rule_id).collect();
        assert_eq!(ids.len(), 28);
        for r in &CATALOGUE {
            for p in r.parameters {
                assert!(
                    p.min <= p.default && p.default <= p.max,
                    "{}.{}",
                    r.rule_id,
                    p.name
                );
                assert!(!p.integer || p.default.fract() == 0.0);
            }
            let governance = r.category == Category::Governance;
            assert_eq!(governance, matches!(r.action, "tag" | "upgrade_sku"));
        }
        assert_eq!(rule("vm.idle").map(|r| r.action), Some("shutdown"));
        assert!(rule("vm.nope").is_none());
    }
}
