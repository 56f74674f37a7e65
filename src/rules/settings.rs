//! A tenant's rule settings: which rules run, threshold overrides (defaults in the catalogue),
//! the minimum monthly saving a cost finding must reach, the tag keys every resource must carry,
//! and whether the tenant owns licences it could bring with Azure Hybrid Benefit. An override is
//! validated against the catalogue, so a bad one is refused when it is set (a `400` for the
//! API), never discovered during an evaluation.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::catalogue::{self, Parameter, RuleInfo};

/// One rule's per-tenant settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSettings {
    pub enabled: bool,
    /// Parameter name → value, for the parameters the tenant changed.
    #[serde(default)]
    pub thresholds: BTreeMap<String, f64>,
}

impl Default for RuleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            thresholds: BTreeMap::new(),
        }
    }
}

/// A tenant's settings for every rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// By rule id; a rule without an entry runs with its defaults.
    #[serde(default)]
    pub rules: BTreeMap<String, RuleSettings>,
    /// Cost findings saving less than this a month are not emitted (default 1.00).
    pub min_monthly_savings: Decimal,
    /// Tag keys every resource must carry, itself or through its resource group or
    /// subscription (compared case-insensitively, as Azure compares tag names).
    pub required_tags: Vec<String>,
    /// Whether the tenant owns Windows Server / SQL Server licences with Software Assurance:
    /// the Azure Hybrid Benefit rules fire only when it does.
    pub owns_licences: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rules: BTreeMap::new(),
            min_monthly_savings: Decimal::ONE,
            required_tags: vec!["cost-center".to_owned()],
            owns_licences: false,
        }
    }
}

/// Why a setting is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    #[error("unknown rule `{0}`")]
    UnknownRule(String),
    #[error("rule `{rule_id}` has no parameter `{parameter}`")]
    UnknownParameter { rule_id: String, parameter: String },
    #[error("`{rule_id}.{parameter}` must be between {min} and {max}, not {value}")]
    OutOfRange {
        rule_id: String,
        parameter: String,
        value: f64,
        min: f64,
        max: f64,
    },
    #[error("`{rule_id}.{parameter}` must be a whole number, not {value}")]
    NotInteger {
        rule_id: String,
        parameter: String,
        value: f64,
    },
    #[error("`{rule_id}.{parameter}` must be a number")]
    NotANumber { rule_id: String, parameter: String },
    #[error("the thresholds of `{0}` must be a JSON object of numbers by name")]
    NotAnObject(String),
    #[error("the minimum monthly saving must be zero or more, not {0}")]
    NegativeFloor(Decimal),
    #[error("a required tag key must be 1 to 512 characters without `<>%&\\?/`, not `{0}`")]
    BadTagKey(String),
}

/// Checks one threshold override against the catalogue.
pub fn validate_threshold(rule_id: &str, parameter: &str, value: f64) -> Result<(), SettingsError> {
    let rule =
        catalogue::rule(rule_id).ok_or_else(|| SettingsError::UnknownRule(rule_id.into()))?;
    let p = rule
        .parameter(parameter)
        .ok_or_else(|| SettingsError::UnknownParameter {
            rule_id: rule_id.into(),
            parameter: parameter.into(),
        })?;
    if !value.is_finite() || value < p.min || value > p.max {
        return Err(SettingsError::OutOfRange {
            rule_id: rule_id.into(),
            parameter: parameter.into(),
            value,
            min: p.min,
            max: p.max,
        });
    }
    if p.integer && value.fract() != 0.0 {
        return Err(SettingsError::NotInteger {
            rule_id: rule_id.into(),
            parameter: parameter.into(),
            value,
        });
    }
    Ok(())
}

/// A rule's thresholds from JSON (an object of numbers by name, as an API or a database keeps
/// them; a null value means the default), each checked against the catalogue.
pub fn parse_thresholds(
    rule_id: &str,
    thresholds: &Value,
) -> Result<BTreeMap<String, f64>, SettingsError> {
    catalogue::rule(rule_id).ok_or_else(|| SettingsError::UnknownRule(rule_id.into()))?;
    let object = match thresholds {
        Value::Null => return Ok(BTreeMap::new()),
        Value::Object(o) => o,
        _ => return Err(SettingsError::NotAnObject(rule_id.into())),
    };
    let mut out = BTreeMap::new();
    for (parameter, value) in object {
        if value.is_null() {
            continue;
        }
        let number = value.as_f64().ok_or_else(|| SettingsError::NotANumber {
            rule_id: rule_id.into(),
            parameter: parameter.clone(),
        })?;
        validate_threshold(rule_id, parameter, number)?;
        out.insert(parameter.clone(), number);
    }
    Ok(out)
}

/// Azure's tag name limits: 512 characters, none of `<>%&\?/`.
fn valid_tag_key(key: &str) -> bool {
    let key = key.trim();
    !key.is_empty()
        && key.chars().count() <= 512
        && !key.contains(['<', '>', '%', '&', '\\', '?', '/'])
}

impl Settings {
    /// Checks every override, the floor and the tag keys.
    pub fn validate(&self) -> Result<(), SettingsError> {
        for (rule_id, rule) in &self.rules {
            if catalogue::rule(rule_id).is_none() {
                return Err(SettingsError::UnknownRule(rule_id.clone()));
            }
            for (parameter, value) in &rule.thresholds {
                validate_threshold(rule_id, parameter, *value)?;
            }
        }
        if self.min_monthly_savings < Decimal::ZERO {
            return Err(SettingsError::NegativeFloor(self.min_monthly_savings));
        }
        match self.required_tags.iter().find(|k| !valid_tag_key(k)) {
            Some(bad) => Err(SettingsError::BadTagKey(bad.clone())),
            None => Ok(()),
        }
    }

    /// Whether `rule_id` runs for this tenant.
    pub fn enabled(&self, rule_id: &str) -> bool {
        self.rules.get(rule_id).is_none_or(|r| r.enabled)
    }

    /// The value of a parameter of `rule`: the tenant's override, else the default.
    pub(crate) fn threshold(&self, rule: &RuleInfo, parameter: &Parameter) -> f64 {
        self.rules
            .get(rule.rule_id)
            .and_then(|r| r.thresholds.get(parameter.name))
            .copied()
            .unwrap_or(parameter.default)
    }

    /// Every parameter of `rule` with the value in force.
    pub fn thresholds(&self, rule: &RuleInfo) -> BTreeMap<&'static str, f64> {
        rule.parameters
            .iter()
            .map(|p| (p.name, self.threshold(rule, p)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_checked_against_the_catalogue() {
        assert!(validate_threshold("vm.idle", "max_cpu_p95_percent", 7.5).is_ok());
        assert!(validate_threshold("vm.idle", "max_cpu_p95_percent", 100.0).is_ok());
        assert!(matches!(
            validate_threshold("vm.idle", "max_cpu_p95_percent", 100.5),
            Err(SettingsError::OutOfRange { .. })
        ));
        assert!(matches!(
            validate_threshold("vm.idle", "max_cpu_p95_percent", f64::NAN),
            Err(SettingsError::OutOfRange { .. })
        ));
        assert!(matches!(
            validate_threshold("disk.unattached", "min_days", 7.5),
            Err(SettingsError::NotInteger { .. })
        ));
        assert!(matches!(
            validate_threshold("disk.unattached", "max_days", 7.0),
            Err(SettingsError::UnknownParameter { .. })
        ));
        assert!(matches!(
            validate_threshold("disk.gone", "min_days", 7.0),
            Err(SettingsError::UnknownRule(_))
        ));
    }

    #[test]
    fn thresholds_from_json_are_numbers_of_known_parameters() {
        let parsed = parse_thresholds(
            "vm.idle",
            &serde_json::json!({"min_samples": 96, "max_cpu_p95_percent": null}),
        );
        assert_eq!(
            parsed,
            Ok(BTreeMap::from([("min_samples".to_owned(), 96.0)]))
        );
        assert_eq!(
            parse_thresholds("vm.idle", &Value::Null),
            Ok(BTreeMap::new())
        );
        assert!(matches!(
            parse_thresholds("vm.idle", &serde_json::json!({"min_samples": "96"})),
            Err(SettingsError::NotANumber { .. })
        ));
        assert!(matches!(
            parse_thresholds("vm.idle", &serde_json::json!([1])),
            Err(SettingsError::NotAnObject(_))
        ));
        assert!(matches!(
            parse_thresholds("vm.idle", &serde_json::json!({"min_samples": 0})),
            Err(SettingsError::OutOfRange { .. })
        ));
        let defaults = catalogue::rule("vm.idle").map(|r| r.default_thresholds());
        assert_eq!(
            defaults.as_ref().map(|d| d["min_samples"].clone()),
            Some(serde_json::json!(72.0))
        );
    }

    #[test]
    fn settings_validate_floor_tags_and_rules() {
        let mut s = Settings::default();
        assert!(s.validate().is_ok());
        s.min_monthly_savings = Decimal::NEGATIVE_ONE;
        assert!(matches!(s.validate(), Err(SettingsError::NegativeFloor(_))));
        s.min_monthly_savings = Decimal::ZERO;
        s.required_tags = vec!["a/b".into()];
        assert!(matches!(s.validate(), Err(SettingsError::BadTagKey(_))));
        s.required_tags = vec!["owner".into()];
        s.rules.insert("nope".into(), RuleSettings::default());
        assert!(matches!(s.validate(), Err(SettingsError::UnknownRule(_))));
    }

    #[test]
    fn a_threshold_is_the_override_else_the_default() {
        let mut s = Settings::default();
        let rule = catalogue::rule("disk.unattached").expect("known rule");
        assert_eq!(s.thresholds(rule)["min_days"], 7.0);
        s.rules.insert(
            "disk.unattached".into(),
            RuleSettings {
                enabled: false,
                thresholds: BTreeMap::from([("min_days".into(), 14.0)]),
            },
        );
        assert_eq!(s.thresholds(rule)["min_days"], 14.0);
        assert!(!s.enabled("disk.unattached") && s.enabled("vm.idle"));
    }
}
