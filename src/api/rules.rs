//! `/api/v1/rules`: the rule catalogue with a tenant's settings (everyone reads them), and the
//! changes admins make: a rule's enablement and thresholds (`PATCH /rules/{rule_id}`), and the
//! tenant-wide settings (`PATCH /rules`): the minimum-savings floor, the required tag keys,
//! whether the tenant owns licences.
//!
//! The catalogue comes from the rule engine through [`RuleCatalogue`] in the application state,
//! so this module does not depend on it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Json, Path, Query};
use super::ingestion::{Accepted, start_run};
use super::{AppState, Caller};
use crate::db::audit::{self, Action, Entry};
use crate::db::rule_settings::{self, RuleSetting, TenantSettings};
use crate::db::tenants;
use crate::ingestion::fanout::CostWindow;
use crate::ingestion::message::Mode;

/// Most required tag keys.
pub const MAX_TAG_KEYS: usize = 50;

/// One rule of the catalogue, as the rule engine describes it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RuleInfo {
    /// Stable: findings and settings refer to it.
    pub rule_id: String,
    pub category: String,
    pub title: String,
    pub description: String,
    /// The thresholds and their defaults, by name.
    pub default_thresholds: Value,
}

/// The rule catalogue: what rules exist, and whether thresholds suit a rule.
pub trait RuleCatalogue: Send + Sync {
    /// Every rule, in a stable order.
    fn rules(&self) -> Vec<RuleInfo>;
    /// `Ok` when `thresholds` (an object of the tenant's values by name, merged over nothing
    /// else) are valid for `rule_id`; else a message for the caller.
    fn validate(&self, rule_id: &str, thresholds: &Value) -> Result<(), String>;
}

/// The rule engine's own catalogue (`crate::rules`): what the evaluations run.
#[derive(Debug, Clone, Copy, Default)]
pub struct EngineRules;

impl RuleCatalogue for EngineRules {
    fn rules(&self) -> Vec<RuleInfo> {
        crate::rules::catalogue()
            .iter()
            .map(|r| RuleInfo {
                rule_id: r.rule_id.to_owned(),
                category: r.category.as_str().to_owned(),
                title: r.title.to_owned(),
                description: r.description.to_owned(),
                default_thresholds: r.default_thresholds(),
            })
            .collect()
    }

    fn validate(&self, rule_id: &str, thresholds: &Value) -> Result<(), String> {
        crate::rules::parse_thresholds(rule_id, thresholds)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// The shared catalogue.
pub type Catalogue = Arc<dyn RuleCatalogue>;

/// The rule routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/rules/evaluate", post(evaluate))
        .route("/rules", get(list).patch(update_settings))
        .route("/rules/{rule_id}", patch(update))
}

/// A rule with the tenant's settings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleView {
    #[serde(flatten)]
    pub rule: RuleInfo,
    pub enabled: bool,
    /// What the rule runs with: the defaults with the tenant's values over them.
    pub thresholds: Value,
    /// Only the tenant's own values.
    pub tenant_thresholds: Value,
    /// Null while the defaults apply.
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The catalogue with one tenant's settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleList {
    /// Null when no tenant is named (operators) or a tenant caller named another tenant:
    /// then the rules show their defaults and `settings` is null.
    pub tenant_id: Option<Uuid>,
    pub settings: Option<TenantSettings>,
    pub rules: Vec<RuleView>,
}

/// Whose settings to show.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListRules {
    /// The tenant (operators; a tenant caller sees its own).
    pub tenant_id: Option<Uuid>,
}

/// Changes to a rule's settings for a tenant; absent fields are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRule {
    /// The tenant: required for operator callers, implied for tenant callers.
    pub tenant_id: Option<Uuid>,
    pub enabled: Option<bool>,
    /// Merged into the tenant's values (a JSON merge patch): a name set to null returns to
    /// its default.
    pub thresholds: Option<Map<String, Value>>,
}

/// Changes to a tenant's rule-wide settings; absent fields are kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRuleSettings {
    /// The tenant: required for operator callers, implied for tenant callers.
    pub tenant_id: Option<Uuid>,
    /// No cost finding worth less a month is emitted (0 to 1e9).
    #[schema(minimum = 0)]
    pub min_savings: Option<f64>,
    /// Tag keys every resource must carry (up to 50, each 1–512 characters).
    #[schema(max_items = 50)]
    pub required_tag_keys: Option<Vec<String>>,
    pub owns_licences: Option<bool>,
}

fn view(rule: RuleInfo, setting: Option<&RuleSetting>) -> RuleView {
    let own = setting.map_or_else(|| Value::Object(Map::new()), |s| s.thresholds.clone());
    let mut thresholds = match &rule.default_thresholds {
        Value::Object(defaults) => defaults.clone(),
        _ => Map::new(),
    };
    if let Value::Object(own) = &own {
        thresholds.extend(own.clone());
    }
    RuleView {
        rule,
        enabled: setting.is_none_or(|s| s.enabled),
        thresholds: Value::Object(thresholds),
        tenant_thresholds: own,
        updated_by: setting.map(|s| s.updated_by.clone()),
        updated_at: setting.map(|s| s.updated_at),
    }
}

/// Lists the rules with a tenant's settings.
#[utoipa::path(get, path = "/api/v1/rules", operation_id = "listRules", tag = "rules", params(ListRules),
    responses((status = 200, description = "Every rule of the catalogue with the tenant's enablement and thresholds, and its rule-wide settings.", body = RuleList),
        (status = 404, description = "An operator named no such tenant.")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<ListRules>,
) -> Result<Json<RuleList>, ApiError> {
    let catalogue = state.rules.rules();
    let tenant_id = match (caller.tenant(), params.tenant_id) {
        (Some(own), Some(named)) if named != own => None,
        (Some(own), _) => Some(own),
        (None, named) => named,
    };
    let Some(tenant_id) = tenant_id else {
        let rules = catalogue.into_iter().map(|r| view(r, None)).collect();
        return Ok(Json(RuleList {
            tenant_id: None,
            settings: None,
            rules,
        }));
    };
    let mut tx = state.begin(caller.scope).await?;
    tenants::get(&mut tx, tenant_id)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    let settings = rule_settings::load(&mut tx, tenant_id).await?;
    tx.commit().await?;
    let rules = catalogue
        .into_iter()
        .map(|r| {
            let setting = settings.rules.get(&r.rule_id);
            view(r, setting)
        })
        .collect();
    Ok(Json(RuleList {
        tenant_id: Some(tenant_id),
        settings: Some(settings.tenant),
        rules,
    }))
}

/// Changes a rule's enablement or thresholds for a tenant (admins).
#[utoipa::path(patch, path = "/api/v1/rules/{rule_id}", operation_id = "updateRule", tag = "rules",
    params(("rule_id" = String, Path, description = "A rule id of the catalogue")), request_body = UpdateRule,
    responses((status = 200, description = "The rule with the tenant's settings as changed.", body = RuleView),
        (status = 400, description = "Thresholds the rule does not accept."),
        (status = 403, description = "Only admins change rule settings."),
        (status = 404, description = "No such rule, or no tenant with this id that the caller may manage.")))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(rule_id): Path<String>,
    Json(body): Json<UpdateRule>,
) -> Result<Json<RuleView>, ApiError> {
    caller.require_admin()?;
    let tenant_id = caller.tenant_for(body.tenant_id, "changes a rule")?;
    let mut tx = state.begin(caller.scope).await?;
    tenants::get(&mut tx, tenant_id)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    let rule = state
        .rules
        .rules()
        .into_iter()
        .find(|r| r.rule_id == rule_id)
        .ok_or(ApiError::NotFound("rule"))?;
    let before = rule_settings::lock_rule(&mut tx, tenant_id, &rule_id).await?;
    let mut thresholds = match before.as_ref().map(|b| &b.thresholds) {
        Some(Value::Object(own)) => own.clone(),
        _ => Map::new(),
    };
    for (name, value) in body.thresholds.unwrap_or_default() {
        if value.is_null() {
            thresholds.remove(&name);
        } else {
            thresholds.insert(name, value);
        }
    }
    let thresholds = Value::Object(thresholds);
    state
        .rules
        .validate(&rule_id, &thresholds)
        .map_err(|m| ApiError::BadRequest(format!("thresholds of {rule_id}: {m}")))?;
    let enabled = body
        .enabled
        .unwrap_or_else(|| before.as_ref().is_none_or(|b| b.enabled));
    let after = rule_settings::save_rule(
        &mut tx,
        tenant_id,
        &rule_id,
        enabled,
        &thresholds,
        &caller.principal,
    )
    .await?;
    let action = if before.is_some() {
        Action::Update
    } else {
        Action::Create
    };
    let target = format!("{tenant_id}/{rule_id}");
    let entry = Entry::new(
        action,
        "rule_setting",
        target,
        before.as_ref(),
        Some(&after),
    );
    audit::record(&mut tx, &caller.audit(entry, tenant_id)).await?;
    tx.commit().await?;
    Ok(Json(view(rule, Some(&after))))
}

fn valid_tag_keys(keys: Vec<String>) -> Result<Vec<String>, ApiError> {
    if keys.len() > MAX_TAG_KEYS {
        return Err(ApiError::BadRequest(format!(
            "required_tag_keys may hold at most {MAX_TAG_KEYS} keys"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(keys.len());
    for key in keys {
        let key = key.trim();
        if key.is_empty() || key.chars().count() > 512 {
            return Err(ApiError::BadRequest(
                "each required tag key must be 1 to 512 characters".into(),
            ));
        }
        if !out.iter().any(|k| k == key) {
            out.push(key.to_owned());
        }
    }
    Ok(out)
}

/// Changes a tenant's rule-wide settings (admins).
#[utoipa::path(patch, path = "/api/v1/rules", operation_id = "updateRuleSettings", tag = "rules",
    request_body = UpdateRuleSettings,
    responses((status = 200, description = "The tenant's rule-wide settings as changed.", body = TenantSettings),
        (status = 403, description = "Only admins change rule settings."),
        (status = 404, description = "No tenant with this id that the caller may manage.")))]
pub async fn update_settings(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<UpdateRuleSettings>,
) -> Result<Json<TenantSettings>, ApiError> {
    caller.require_admin()?;
    let tenant_id = caller.tenant_for(body.tenant_id, "changes rule settings")?;
    let min_savings = match body.min_savings {
        Some(v) if !v.is_finite() || !(0.0..=1e9).contains(&v) => {
            return Err(ApiError::BadRequest(
                "min_savings must be a number from 0 to 1e9".into(),
            ));
        }
        Some(v) => Decimal::from_f64_retain(v).map(|d| d.round_dp(6)),
        None => None,
    };
    let tag_keys = body.required_tag_keys.map(valid_tag_keys).transpose()?;
    let mut tx = state.begin(caller.scope).await?;
    tenants::get(&mut tx, tenant_id)
        .await?
        .ok_or(ApiError::NotFound("tenant"))?;
    let before = rule_settings::tenant(&mut tx, tenant_id).await?;
    let wanted = TenantSettings {
        min_savings: min_savings.unwrap_or(before.min_savings),
        required_tag_keys: tag_keys.unwrap_or_else(|| before.required_tag_keys.clone()),
        owns_licences: body.owns_licences.unwrap_or(before.owns_licences),
        ..before.clone()
    };
    let after = rule_settings::save_tenant(&mut tx, tenant_id, &wanted, &caller.principal).await?;
    let entry = Entry::new(
        Action::Update,
        "rule_settings",
        tenant_id,
        Some(&before),
        Some(&after),
    );
    audit::record(&mut tx, &caller.audit(entry, tenant_id)).await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// Which subscriptions to evaluate.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// The tenant (operators only; a tenant caller's own tenant is implied).
    pub tenant_id: Option<Uuid>,
    /// AzCops or Azure subscription ids; default every active subscription of the tenant.
    #[serde(default)]
    pub subscription_ids: Vec<Uuid>,
}

/// Evaluates the rules again over the stored data (admins): a run of mode `evaluate`, one queue
/// message per subscription, no Azure call; follow it at `status_url`. Findings are upserted by
/// fingerprint (unchanged ones write nothing) and resolved only where a rule judged the
/// resource. Full ingestions evaluate on their own; this is for changed settings or thresholds.
#[utoipa::path(post, path = "/api/v1/rules/evaluate", operation_id = "evaluateRules", tag = "rules",
    request_body = EvaluateRequest,
    responses((status = 202, description = "The evaluation is queued: one message per subscription.", body = Accepted),
        (status = 400, description = "A malformed body."),
        (status = 403, description = "Only admins start an evaluation."),
        (status = 404, description = "A `tenant_id` the caller may not manage, or a subscription id that is not an active subscription of the tenant."),
        (status = 409, description = "An evaluation of the tenant is still queued or running (named in the message)."),
        (status = 503, description = "The queue or the database cannot be reached.")))]
pub async fn evaluate(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    caller.require_admin()?;
    let body: EvaluateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        EvaluateRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid request body: {e}")))?
    };
    let tenant_id = caller.tenant_for(body.tenant_id, "evaluates rules")?;
    let window = CostWindow {
        from: None,
        to: None,
    };
    let accepted = start_run(
        &state,
        &caller,
        tenant_id,
        Mode::Evaluate,
        window,
        &body.subscription_ids,
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(accepted)))
}
