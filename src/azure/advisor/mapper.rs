//! From an Advisor recommendation (`ResourceRecommendationBase`) to an
//! [`AdvisorRecommendation`]: the monthly savings and where they came from, the confidence,
//! the impacted resource id, and the free-form parts kept as JSON.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One recommendation as Advisor returns it; every field may be missing.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RecommendationWire {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub properties: Option<PropertiesWire>,
}

/// `properties` of a recommendation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PropertiesWire {
    pub category: Option<String>,
    pub impact: Option<String>,
    pub impacted_field: Option<String>,
    pub impacted_value: Option<String>,
    pub last_updated: Option<String>,
    pub recommendation_type_id: Option<String>,
    pub risk: Option<String>,
    pub short_description: Option<ShortDescriptionWire>,
    /// A string-to-string map by the spec; other values are tolerated and stringified.
    pub extended_properties: Option<BTreeMap<String, Value>>,
    pub resource_metadata: Option<ResourceMetadataWire>,
    pub description: Option<String>,
    pub label: Option<String>,
    pub learn_more_link: Option<String>,
    pub potential_benefits: Option<String>,
    pub actions: Option<Value>,
    pub remediation: Option<Value>,
}

/// `shortDescription`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ShortDescriptionWire {
    pub problem: Option<String>,
    pub solution: Option<String>,
}

/// `resourceMetadata` (only the id is used; `action` and the rest stay free-form).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ResourceMetadataWire {
    pub resource_id: Option<String>,
}

/// Where a recommendation's monthly savings figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SavingsSource {
    /// `extendedProperties.savingsAmount` (monthly).
    SavingsAmount,
    /// `extendedProperties.annualSavingsAmount` ÷ 12.
    AnnualSavingsAmount,
    /// No usable amount: an estimate from the impact (High 500, Medium 100, Low 20).
    ImpactEstimate,
    /// Neither an amount nor a known impact: zero.
    None,
}

impl SavingsSource {
    /// The name stored with the recommendation.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SavingsAmount => "savings_amount",
            Self::AnnualSavingsAmount => "annual_savings_amount",
            Self::ImpactEstimate => "impact_estimate",
            Self::None => "none",
        }
    }
}

/// A cost recommendation, normalised.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdvisorRecommendation {
    /// The recommendation's ARM id, lower-cased.
    pub recommendation_id: String,
    /// Its name (a GUID in Azure).
    pub name: String,
    /// The impacted resource: `resourceMetadata.resourceId`, else the part of the id before
    /// `/providers/Microsoft.Advisor/`; lower-cased.
    pub resource_id: String,
    pub category: String,
    pub impact: String,
    pub impacted_field: Option<String>,
    pub impacted_value: Option<String>,
    pub problem: Option<String>,
    pub solution: Option<String>,
    pub monthly_savings: Decimal,
    pub savings_currency: String,
    pub savings_source: SavingsSource,
    /// High 0.9, Medium 0.7, Low (or unknown) 0.5.
    pub confidence_score: f64,
    pub recommendation_type_id: Option<String>,
    pub last_updated: Option<DateTime<Utc>>,
    pub extended_properties: BTreeMap<String, String>,
    pub risk: Option<String>,
    pub label: Option<String>,
    pub description: Option<String>,
    pub learn_more_link: Option<String>,
    pub potential_benefits: Option<String>,
    /// Free-form, as Advisor sent them (shapes vary between api-versions).
    pub remediation: Option<Value>,
    pub actions: Option<Value>,
}

/// Maps one recommendation.
pub fn map_recommendation(wire: RecommendationWire) -> AdvisorRecommendation {
    let properties = wire.properties.unwrap_or_default();
    let id = wire.id.unwrap_or_default();
    let extended = stringify_all(properties.extended_properties.unwrap_or_default());
    let impact = properties.impact.unwrap_or_default();
    let (monthly_savings, savings_source) = monthly_savings(&extended, &impact);
    let resource_id = properties
        .resource_metadata
        .and_then(|m| m.resource_id)
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| resource_of(&id));
    let (problem, solution) = properties
        .short_description
        .map_or((None, None), |d| (d.problem, d.solution));
    AdvisorRecommendation {
        recommendation_id: id.to_ascii_lowercase(),
        name: wire.name.unwrap_or_default(),
        resource_id: resource_id.to_ascii_lowercase(),
        category: properties.category.unwrap_or_default(),
        confidence_score: confidence(&impact),
        impact,
        impacted_field: properties.impacted_field,
        impacted_value: properties.impacted_value,
        problem,
        solution,
        monthly_savings,
        savings_currency: lookup(&extended, "savingsCurrency")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .unwrap_or("USD")
            .to_owned(),
        savings_source,
        recommendation_type_id: properties.recommendation_type_id,
        last_updated: properties.last_updated.as_deref().and_then(parse_time),
        extended_properties: extended,
        risk: properties.risk,
        label: properties.label,
        description: properties.description,
        learn_more_link: properties.learn_more_link,
        potential_benefits: properties.potential_benefits,
        remediation: properties.remediation,
        actions: properties.actions,
    }
}

/// The monthly savings: `savingsAmount`, else `annualSavingsAmount / 12` (rounded to cents),
/// else the impact's estimate. Amounts that are not non-negative decimals fall through.
pub fn monthly_savings(
    extended: &BTreeMap<String, String>,
    impact: &str,
) -> (Decimal, SavingsSource) {
    if let Some(amount) = amount(extended, "savingsAmount") {
        return (amount, SavingsSource::SavingsAmount);
    }
    if let Some(annual) = amount(extended, "annualSavingsAmount") {
        return (
            (annual / Decimal::from(12)).round_dp(2),
            SavingsSource::AnnualSavingsAmount,
        );
    }
    match impact_rank(impact) {
        Some(Impact::High) => (Decimal::from(500), SavingsSource::ImpactEstimate),
        Some(Impact::Medium) => (Decimal::from(100), SavingsSource::ImpactEstimate),
        Some(Impact::Low) => (Decimal::from(20), SavingsSource::ImpactEstimate),
        None => (Decimal::ZERO, SavingsSource::None),
    }
}

/// Confidence in a recommendation from its impact: High 0.9, Medium 0.7, Low 0.5; an unknown
/// impact is treated as Low.
pub fn confidence(impact: &str) -> f64 {
    match impact_rank(impact) {
        Some(Impact::High) => 0.9,
        Some(Impact::Medium) => 0.7,
        Some(Impact::Low) | None => 0.5,
    }
}

enum Impact {
    High,
    Medium,
    Low,
}

fn impact_rank(impact: &str) -> Option<Impact> {
    match impact.trim().to_ascii_lowercase().as_str() {
        "high" => Some(Impact::High),
        "medium" => Some(Impact::Medium),
        "low" => Some(Impact::Low),
        _ => None,
    }
}

/// A key of `extendedProperties`, matched case-insensitively.
fn lookup<'a>(extended: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    extended
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

fn amount(extended: &BTreeMap<String, String>, key: &str) -> Option<Decimal> {
    let text = lookup(extended, key)?.trim();
    Decimal::from_str(text)
        .ok()
        .or_else(|| Decimal::from_scientific(text).ok())
        .filter(|d| !d.is_sign_negative())
}

fn stringify_all(map: BTreeMap<String, Value>) -> BTreeMap<String, String> {
    map.into_iter()
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k, text)
        })
        .collect()
}

/// The resource a recommendation id is about: the part before `/providers/Microsoft.Advisor/`.
fn resource_of(id: &str) -> String {
    let marker = "/providers/microsoft.advisor/";
    id.to_ascii_lowercase()
        .find(marker)
        .map(|at| id[..at].to_owned())
        .unwrap_or_default()
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn monthly_savings_come_from_savings_amount_first() {
        let extended = props(&[("savingsAmount", "123.45"), ("annualSavingsAmount", "1200")]);
        assert_eq!(
            monthly_savings(&extended, "High"),
            (Decimal::new(12345, 2), SavingsSource::SavingsAmount)
        );
    }

    #[test]
    fn annual_savings_are_divided_by_twelve() {
        let extended = props(&[("annualSavingsAmount", "1000")]);
        assert_eq!(
            monthly_savings(&extended, "Low"),
            (Decimal::new(8333, 2), SavingsSource::AnnualSavingsAmount)
        );
    }

    #[test]
    fn the_impact_estimates_savings_when_no_amount_is_given() {
        assert_eq!(
            monthly_savings(&props(&[]), "High"),
            (Decimal::from(500), SavingsSource::ImpactEstimate)
        );
        assert_eq!(
            monthly_savings(&props(&[]), "Medium"),
            (Decimal::from(100), SavingsSource::ImpactEstimate)
        );
        assert_eq!(
            monthly_savings(&props(&[]), "low"),
            (Decimal::from(20), SavingsSource::ImpactEstimate)
        );
        assert_eq!(
            monthly_savings(&props(&[]), "Severe"),
            (Decimal::ZERO, SavingsSource::None)
        );
    }

    #[test]
    fn garbage_amounts_fall_through_to_the_next_rule() {
        let extended = props(&[("savingsAmount", "n/a"), ("annualSavingsAmount", "240")]);
        assert_eq!(
            monthly_savings(&extended, "High"),
            (Decimal::from(20), SavingsSource::AnnualSavingsAmount)
        );
        let extended = props(&[("savingsAmount", ""), ("annualSavingsAmount", "-5")]);
        assert_eq!(
            monthly_savings(&extended, "Medium"),
            (Decimal::from(100), SavingsSource::ImpactEstimate)
        );
    }

    #[test]
    fn confidence_follows_the_impact() {
        assert_eq!(confidence("High"), 0.9);
        assert_eq!(confidence("Medium"), 0.7);
        assert_eq!(confidence("Low"), 0.5);
        assert_eq!(confidence(""), 0.5);
    }

    #[test]
    fn the_resource_id_is_derived_from_the_recommendation_id_when_metadata_lacks_it() {
        let wire: RecommendationWire = serde_json::from_value(json!({
            "id": "/subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM1/providers/Microsoft.Advisor/recommendations/G1",
            "name": "G1",
            "properties": {"category": "Cost", "impact": "High",
                "extendedProperties": {"savingsAmount": "40", "savingsCurrency": "EUR", "term": 3},
                "lastUpdated": "2024-05-01T10:00:00.1234567Z"}
        }))
        .unwrap();
        let rec = map_recommendation(wire);
        assert_eq!(
            rec.resource_id,
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"
        );
        assert_eq!(rec.savings_currency, "EUR");
        assert_eq!(rec.extended_properties["term"], "3");
        assert_eq!(rec.confidence_score, 0.9);
        assert_eq!(
            rec.last_updated.map(|t| t.to_rfc3339()),
            Some("2024-05-01T10:00:00.123456700+00:00".into())
        );
    }

    #[test]
    fn an_empty_recommendation_maps_to_defaults() {
        let rec = map_recommendation(RecommendationWire::default());
        assert_eq!(rec.resource_id, "");
        assert_eq!(rec.savings_source, SavingsSource::None);
        assert_eq!(rec.savings_currency, "USD");
    }
}
