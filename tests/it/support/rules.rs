//! A small rule catalogue and a settable clock for the recommendation tests (the real
//! catalogue is the rule engine's).

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use azcops::api::{RuleCatalogue, RuleInfo};

/// Three rules with numeric thresholds; a threshold must be a known name and a number ≥ 0.
pub struct TestCatalogue;

impl RuleCatalogue for TestCatalogue {
    fn rules(&self) -> Vec<RuleInfo> {
        let rule = |id: &str, category: &str, defaults: Value| RuleInfo {
            rule_id: id.to_owned(),
            category: category.to_owned(),
            title: format!("Test rule {id}"),
            description: "A rule of the tests' catalogue".to_owned(),
            default_thresholds: defaults,
        };
        vec![
            rule("disk.unattached", "waste", json!({ "min_days": 7 })),
            rule(
                "vm.idle",
                "waste",
                json!({ "cpu_p95_pct": 5, "min_samples": 72 }),
            ),
            rule("tag.missing", "governance", json!({})),
        ]
    }

    fn validate(&self, rule_id: &str, thresholds: &Value) -> Result<(), String> {
        let rule = self
            .rules()
            .into_iter()
            .find(|r| r.rule_id == rule_id)
            .ok_or_else(|| format!("no rule {rule_id}"))?;
        for (name, value) in thresholds.as_object().into_iter().flatten() {
            if rule.default_thresholds.get(name).is_none() {
                return Err(format!("unknown threshold {name}"));
            }
            if !value.as_f64().is_some_and(|v| v >= 0.0) {
                return Err(format!("{name} must be a number of 0 or more"));
            }
        }
        Ok(())
    }
}

/// The time the API acts at: the real time moved by an offset the test sets.
#[derive(Clone, Default)]
pub struct TestClock(Arc<Mutex<Duration>>);

impl TestClock {
    /// Now, as the API sees it.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.0.lock().expect("clock")
    }

    /// Moves the API's time forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock") += by;
    }
}
