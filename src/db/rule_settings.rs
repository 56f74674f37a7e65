//! Per-tenant rule settings: each rule's enablement and the thresholds the tenant changed
//! (`rule_settings`), and the tenant-wide ones (`tenant_rule_settings`): the minimum-savings
//! floor, the required tag keys, whether the tenant owns licences. A rule or tenant without a
//! row has the defaults; the rule engine owns the thresholds' names and defaults.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

/// The minimum monthly savings of a cost finding when the tenant sets none.
pub const DEFAULT_MIN_SAVINGS: Decimal = Decimal::ONE;

/// The tag keys every resource must carry when the tenant sets none.
pub const DEFAULT_REQUIRED_TAG_KEYS: [&str; 1] = ["cost-center"];

/// One rule's settings for a tenant.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RuleSetting {
    pub rule_id: String,
    pub enabled: bool,
    /// Only the thresholds the tenant changed, by name.
    pub thresholds: Value,
    pub updated_by: String,
    pub updated_at: DateTime<Utc>,
}

/// A tenant's rule-wide settings.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TenantSettings {
    /// No cost finding worth less a month is emitted.
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub min_savings: Decimal,
    /// Tag keys every resource must carry (itself or through its group or subscription).
    pub required_tag_keys: Vec<String>,
    /// The tenant owns Windows Server / SQL Server licences (Hybrid Benefit rules).
    pub owns_licences: bool,
    /// Null while the defaults apply.
    pub updated_by: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            min_savings: DEFAULT_MIN_SAVINGS,
            required_tag_keys: DEFAULT_REQUIRED_TAG_KEYS.map(str::to_owned).to_vec(),
            owns_licences: false,
            updated_by: None,
            updated_at: None,
        }
    }
}

/// Everything an evaluation of the tenant's rules needs from here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    pub tenant: TenantSettings,
    /// The rules the tenant changed, by rule id (absent: enabled with the defaults).
    pub rules: BTreeMap<String, RuleSetting>,
}

impl Settings {
    /// Whether rule `rule_id` runs for the tenant.
    pub fn enabled(&self, rule_id: &str) -> bool {
        self.rules.get(rule_id).is_none_or(|r| r.enabled)
    }
}

/// The tenant's settings.
pub async fn load(conn: &mut PgConnection, tenant_id: Uuid) -> Result<Settings, sqlx::Error> {
    let tenant = tenant(conn, tenant_id).await?;
    let rules = rules(conn, tenant_id)
        .await?
        .into_iter()
        .map(|r| (r.rule_id.clone(), r))
        .collect();
    Ok(Settings { tenant, rules })
}

/// The rules the tenant changed.
pub async fn rules(
    conn: &mut PgConnection,
    tenant_id: Uuid,
) -> Result<Vec<RuleSetting>, sqlx::Error> {
    sqlx::query_as!(
        RuleSetting,
        "SELECT rule_id, enabled, thresholds, updated_by, updated_at FROM rule_settings
         WHERE tenant_id = $1 ORDER BY rule_id",
        tenant_id,
    )
    .fetch_all(conn)
    .await
}

/// The tenant-wide settings (the defaults when it has none).
pub async fn tenant(
    conn: &mut PgConnection,
    tenant_id: Uuid,
) -> Result<TenantSettings, sqlx::Error> {
    let row = sqlx::query_as!(
        TenantSettings,
        r#"SELECT min_savings, required_tag_keys, owns_licences, updated_by AS "updated_by?",
                  updated_at AS "updated_at?"
           FROM tenant_rule_settings WHERE tenant_id = $1"#,
        tenant_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.unwrap_or_default())
}

/// Writes one rule's settings for the tenant (the whole threshold object), locking the row.
pub async fn save_rule(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    rule_id: &str,
    enabled: bool,
    thresholds: &Value,
    updated_by: &str,
) -> Result<RuleSetting, sqlx::Error> {
    sqlx::query_as!(
        RuleSetting,
        "INSERT INTO rule_settings (tenant_id, rule_id, enabled, thresholds, updated_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, rule_id) DO UPDATE SET
             enabled = EXCLUDED.enabled, thresholds = EXCLUDED.thresholds, updated_by = EXCLUDED.updated_by
         RETURNING rule_id, enabled, thresholds, updated_by, updated_at",
        tenant_id,
        rule_id,
        enabled,
        thresholds,
        updated_by,
    )
    .fetch_one(conn)
    .await
}

/// Locks one rule's settings row, if the tenant has one.
pub async fn lock_rule(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    rule_id: &str,
) -> Result<Option<RuleSetting>, sqlx::Error> {
    sqlx::query_as!(
        RuleSetting,
        "SELECT rule_id, enabled, thresholds, updated_by, updated_at FROM rule_settings
         WHERE tenant_id = $1 AND rule_id = $2 FOR UPDATE",
        tenant_id,
        rule_id,
    )
    .fetch_optional(conn)
    .await
}

/// Writes the tenant-wide settings.
pub async fn save_tenant(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    settings: &TenantSettings,
    updated_by: &str,
) -> Result<TenantSettings, sqlx::Error> {
    sqlx::query_as!(
        TenantSettings,
        r#"INSERT INTO tenant_rule_settings (tenant_id, min_savings, required_tag_keys, owns_licences, updated_by)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant_id) DO UPDATE SET
               min_savings = EXCLUDED.min_savings, required_tag_keys = EXCLUDED.required_tag_keys,
               owns_licences = EXCLUDED.owns_licences, updated_by = EXCLUDED.updated_by
           RETURNING min_savings, required_tag_keys, owns_licences, updated_by AS "updated_by?",
                     updated_at AS "updated_at?""#,
        tenant_id,
        settings.min_savings,
        &settings.required_tag_keys,
        settings.owns_licences,
        updated_by,
    )
    .fetch_one(conn)
    .await
}
