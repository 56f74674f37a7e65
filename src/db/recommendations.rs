//! The `recommendations` aggregate: Advisor's cost recommendations (source `advisor`, upserted
//! by their ARM id) and the rule engine's findings (source `rule`, upserted by fingerprint), with
//! their lifecycle (PHASE3 §3).
//!
//! - [`evaluation`]: what an evaluation of one subscription's rules writes;
//! - [`lifecycle`]: a person's transitions, each with its timeline event and audit record, and
//!   the end of snoozes;
//! - [`query`]: the list, one recommendation with its timeline, and the summary;
//! - [`realised`]: savings measured from per-resource costs before and after a change.
//!
//! Ingestion never touches a recommendation's status; the system changes it only through
//! [`evaluation`], inside a transaction that says so (`azcops.system_transition`), which the
//! database's status trigger requires for resolving and reopening.

pub mod evaluation;
mod grouping;
pub mod lifecycle;
pub mod query;
pub mod realised;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

pub use evaluation::{Evaluated, EvaluationOutcome, NewFinding, apply_evaluation};
pub use lifecycle::expire_snoozes;

/// Where a recommendation stands (PHASE3 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "recommendation_status", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Open,
    Approved,
    Rejected,
    Dismissed,
    Executed,
    Resolved,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 6] = [
        Status::Open,
        Status::Approved,
        Status::Rejected,
        Status::Dismissed,
        Status::Executed,
        Status::Resolved,
    ];

    /// The stored (and API) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Dismissed => "dismissed",
            Status::Executed => "executed",
            Status::Resolved => "resolved",
        }
    }
}

/// Risk or effort of acting on a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "level", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Medium,
    High,
}

/// The actions a rule finding and an Advisor recommendation are grouped by (with the resource).
/// Rules may use other words; only equal actions group.
pub mod actions {
    /// Remove an unused resource.
    pub const DELETE: &str = "delete";
    /// Stop (deallocate) an idle VM.
    pub const SHUTDOWN: &str = "shutdown";
    /// Move to a smaller size or tier of the same service.
    pub const RESIZE: &str = "resize";
    /// Change a disk's or snapshot's storage tier.
    pub const CHANGE_TIER: &str = "change_tier";
    /// Apply Azure Hybrid Benefit.
    pub const HYBRID_BENEFIT: &str = "hybrid_benefit";
    /// Buy a reservation or savings plan.
    pub const RESERVE: &str = "reserve";
    /// Add a missing tag.
    pub const TAG: &str = "tag";
    /// Move off a retired SKU.
    pub const UPGRADE_SKU: &str = "upgrade_sku";
}

/// Advisor's "Right-size or shutdown underutilized virtual machines".
const ADVISOR_VM_RIGHTSIZE: &str = "e10b1381-5f0a-47ff-8c7b-37bd13d7c974";
/// Advisor's virtual machine reserved instance purchases.
const ADVISOR_VM_RESERVATION: &str = "84b1a508-fc21-49da-979e-96894f1665df";
/// Unattached managed disks.
const ADVISOR_UNATTACHED_DISK: &str = "48eda464-1485-4dcf-a674-d0905df5054a";

/// The action of an Advisor recommendation, from its type (`advisor:<recommendationTypeId>`)
/// and, for the VM right-size type, `extendedProperties.recommendationType` (`Shutdown` or
/// `SkuChange`). Empty when it matches no rule's action, so it groups with nothing.
pub fn advisor_action(rule_id: &str, details: &Value) -> &'static str {
    let type_id = rule_id
        .strip_prefix("advisor:")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let kind = details
        .pointer("/extended_properties/recommendationType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match type_id.as_str() {
        ADVISOR_VM_RIGHTSIZE if kind.eq_ignore_ascii_case("shutdown") => actions::SHUTDOWN,
        ADVISOR_VM_RIGHTSIZE => actions::RESIZE,
        ADVISOR_UNATTACHED_DISK => actions::DELETE,
        ADVISOR_VM_RESERVATION => actions::RESERVE,
        _ => "",
    }
}

/// One Advisor recommendation, ready to upsert.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisorRow {
    /// The recommendation's ARM id.
    pub external_id: String,
    /// The impacted resource's ARM id, lower-cased, if any.
    pub resource_id: Option<String>,
    /// `advisor:<recommendationTypeId>`.
    pub rule_id: String,
    pub category: String,
    pub title: String,
    pub description: Option<String>,
    pub monthly_savings: Decimal,
    pub currency: String,
    pub confidence: Decimal,
    pub details: Value,
}

/// Inserts or updates a batch of one subscription's Advisor recommendations in one
/// statement, linking each to its resource when the inventory has it and to the rule finding
/// that leads its group (same resource and action) when there is one. Returns rows written.
pub async fn upsert_advisor(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    rows: &[AdvisorRow],
) -> Result<u64, sqlx::Error> {
    let text =
        |f: fn(&AdvisorRow) -> Option<String>| rows.iter().map(f).collect::<Vec<Option<String>>>();
    let dec = |f: fn(&AdvisorRow) -> Decimal| rows.iter().map(f).collect::<Vec<Decimal>>();
    let details: Vec<Value> = rows.iter().map(|r| r.details.clone()).collect();
    let actions: Vec<String> = rows
        .iter()
        .map(|r| advisor_action(&r.rule_id, &r.details).to_owned())
        .collect();
    let result = sqlx::query!(
        r#"INSERT INTO recommendations AS t (tenant_id, subscription_db_id, resource_db_id, resource_id, rule_id, source,
                                       external_id, category, action, title, description, estimated_monthly_savings,
                                       currency, savings_basis, confidence_score, details, superseded_by)
           SELECT $1, $2, res.id, r.resource_id, r.rule_id, 'advisor', r.external_id, r.category, r.action, r.title,
                  r.description, greatest(r.savings, 0), r.currency, 'advisor', least(greatest(r.confidence, 0), 1),
                  r.details,
                  (SELECT lead.id FROM recommendations lead
                   WHERE lead.tenant_id = $1 AND lead.subscription_db_id = $2 AND lead.source = 'rule'
                     AND lead.resource_id = r.resource_id AND lead.action = r.action AND lead.action <> ''
                     AND lead.status <> 'resolved'
                   ORDER BY lead.first_detected_at, lead.id LIMIT 1)
           FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::numeric[],
                       $10::text[], $11::numeric[], $12::jsonb[], $13::text[])
                AS r(external_id, resource_id, rule_id, category, title, description, savings, currency, confidence,
                     details, action)
           LEFT JOIN resources res ON res.subscription_db_id = $2 AND res.resource_id = r.resource_id
           ON CONFLICT (subscription_db_id, source, external_id, tenant_id) DO UPDATE SET
               resource_db_id = EXCLUDED.resource_db_id, resource_id = EXCLUDED.resource_id,
               rule_id = EXCLUDED.rule_id, category = EXCLUDED.category, action = EXCLUDED.action,
               title = EXCLUDED.title, description = EXCLUDED.description,
               estimated_monthly_savings = EXCLUDED.estimated_monthly_savings, currency = EXCLUDED.currency,
               savings_basis = EXCLUDED.savings_basis, confidence_score = EXCLUDED.confidence_score,
               details = EXCLUDED.details, superseded_by = EXCLUDED.superseded_by,
               last_detected_at = now()
           WHERE (t.resource_db_id, t.resource_id, t.rule_id, t.category, t.action, t.title, t.description,
                  t.estimated_monthly_savings, t.currency, t.savings_basis, t.confidence_score, t.details,
                  t.superseded_by)
                 IS DISTINCT FROM
                 (EXCLUDED.resource_db_id, EXCLUDED.resource_id, EXCLUDED.rule_id, EXCLUDED.category,
                  EXCLUDED.action, EXCLUDED.title, EXCLUDED.description, EXCLUDED.estimated_monthly_savings,
                  EXCLUDED.currency, EXCLUDED.savings_basis, EXCLUDED.confidence_score, EXCLUDED.details,
                  EXCLUDED.superseded_by)"#,
        tenant_id,
        subscription_db_id,
        &text(|r| Some(r.external_id.clone())) as &[Option<String>],
        &text(|r| r.resource_id.clone()) as &[Option<String>],
        &text(|r| Some(r.rule_id.clone())) as &[Option<String>],
        &text(|r| Some(r.category.clone())) as &[Option<String>],
        &text(|r| Some(r.title.clone())) as &[Option<String>],
        &text(|r| r.description.clone()) as &[Option<String>],
        &dec(|r| r.monthly_savings),
        &text(|r| Some(r.currency.clone())) as &[Option<String>],
        &dec(|r| r.confidence),
        &details,
        &actions,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// A status change to record: one timeline event and one audit record.
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub(crate) tenant_id: Uuid,
    pub(crate) recommendation_id: Uuid,
    /// `decision`, `resolved`, `reopened` or `snooze_expired`.
    pub(crate) kind: &'static str,
    pub(crate) from: Status,
    pub(crate) to: Status,
    pub(crate) reason: Option<String>,
    pub(crate) details: Value,
}

/// Who made a set of changes, when, and in which request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Actor<'a> {
    pub(crate) name: &'a str,
    pub(crate) at: DateTime<Utc>,
    pub(crate) correlation_id: Option<&'a str>,
}

/// The actor of the system's own transitions.
pub const SYSTEM_ACTOR: &str = "system";

/// Appends the events to the recommendations' timelines and to `audit_logs`, in one statement.
pub(crate) async fn record_events(
    conn: &mut PgConnection,
    actor: Actor<'_>,
    events: &[EventRow],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = events.iter().map(|e| e.tenant_id).collect();
    let ids: Vec<Uuid> = events.iter().map(|e| e.recommendation_id).collect();
    let kinds: Vec<String> = events.iter().map(|e| e.kind.to_owned()).collect();
    let from: Vec<String> = events.iter().map(|e| e.from.as_str().to_owned()).collect();
    let to: Vec<String> = events.iter().map(|e| e.to.as_str().to_owned()).collect();
    let reasons: Vec<Option<String>> = events.iter().map(|e| e.reason.clone()).collect();
    let details: Vec<Value> = events.iter().map(|e| e.details.clone()).collect();
    sqlx::query!(
        r#"WITH e AS (
               SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[])
                   AS e(tenant_id, recommendation_id, kind, from_status, to_status, reason, details)),
           timeline AS (
               INSERT INTO recommendation_events (tenant_id, recommendation_id, at, actor, kind, from_status,
                                                  to_status, reason, details, correlation_id)
               SELECT e.tenant_id, e.recommendation_id, $8, $9, e.kind, e.from_status::recommendation_status,
                      e.to_status::recommendation_status, e.reason, e.details, $10
               FROM e)
           INSERT INTO audit_logs (tenant_id, action, actor, target_type, target_id, metadata, correlation_id, created_at)
           SELECT e.tenant_id, 'transition', $9, 'recommendation', e.recommendation_id::text,
                  jsonb_build_object('before', jsonb_build_object('status', e.from_status),
                                     'after', jsonb_build_object('status', e.to_status),
                                     'kind', e.kind, 'reason', e.reason, 'details', e.details),
                  $10, $8
           FROM e"#,
        &tenants,
        &ids,
        &kinds,
        &from,
        &to,
        &reasons as &[Option<String>],
        &details,
        actor.at,
        actor.name,
        actor.correlation_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn advisor_types_map_to_the_rules_actions() {
        let shutdown = json!({"extended_properties": {"recommendationType": "Shutdown"}});
        let resize = json!({"extended_properties": {"recommendationType": "SkuChange"}});
        let rightsize = format!("advisor:{ADVISOR_VM_RIGHTSIZE}");
        assert_eq!(advisor_action(&rightsize, &shutdown), actions::SHUTDOWN);
        assert_eq!(advisor_action(&rightsize, &resize), actions::RESIZE);
        assert_eq!(
            advisor_action(
                &rightsize.to_uppercase().replace("ADVISOR", "advisor"),
                &resize
            ),
            actions::RESIZE
        );
        let disk = format!("advisor:{ADVISOR_UNATTACHED_DISK}");
        assert_eq!(advisor_action(&disk, &json!({})), actions::DELETE);
        assert_eq!(advisor_action("advisor:unknown", &json!({})), "");
        assert_eq!(advisor_action("vm.idle", &json!({})), "");
    }

    #[test]
    fn statuses_have_their_stored_names() {
        for status in Status::ALL {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.as_str());
        }
    }
}
