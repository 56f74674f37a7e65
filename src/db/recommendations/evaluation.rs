//! What an evaluation of one subscription's rules writes (PHASE3 §3, re-evaluation): findings
//! upserted by fingerprint, absent ones counted and resolved after two evaluations in a row,
//! findings of deleted resources resolved at once, reappearing ones reopened, Advisor
//! recommendations grouped under the rule finding about the same resource and action. The
//! absence count stops at two, and is kept only for findings it can still change (open,
//! approved, rejected: resolution; executed: regression), so it too stops writing.
//!
//! Nothing is written for what did not change: a finding equal to its row (content, status,
//! no absence to reset) is not touched, so a second evaluation of unchanged data writes no row.
//! `last_detected_at` is therefore the last evaluation that *wrote* a finding; whether it is
//! still current is `absent_evaluations = 0`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::{Actor, EventRow, SYSTEM_ACTOR, Status, record_events};

/// One finding of a rule, as the rule engine emits it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    /// The ARM id of the resource, lower-cased.
    pub resource_id: String,
    pub rule_id: String,
    pub category: String,
    /// What to do (see [`super::actions`]); with the resource, what groups it with Advisor's.
    pub action: String,
    pub variant: String,
    /// Stable over evaluations: from rule, resource and variant.
    pub fingerprint: String,
    pub title: String,
    pub description: String,
    /// Monthly, in `currency`; `None` for findings without savings (governance).
    pub monthly_savings: Option<Decimal>,
    pub currency: String,
    /// How the savings were computed (`c30`, `delta`, `retail`, …).
    pub savings_basis: String,
    /// 0 to 1 (clamped, kept to three decimals).
    pub confidence: f64,
    /// `low`, `medium` or `high` (anything else fails the evaluation).
    pub risk: String,
    /// `low`, `medium` or `high`.
    pub effort: String,
    /// The observed values next to the thresholds that fired.
    pub evidence: Value,
}

/// What an evaluation covered, so that only what it looked at can be resolved.
#[derive(Debug, Clone, Copy)]
pub struct Evaluated<'a> {
    /// The rules that ran with complete data: only their absent findings count as absent.
    pub rule_ids: &'a [String],
    /// (rule id, resource id) pairs the rule could not judge for lack of data: their findings
    /// are left alone, present or not.
    pub skipped: &'a [(String, String)],
}

/// Rows an evaluation wrote, by what happened to them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvaluationOutcome {
    /// New findings.
    pub inserted: u64,
    /// Findings whose content changed, or that were seen again after one absence (a dismissed
    /// finding that reappears stays dismissed and is counted here).
    pub updated: u64,
    /// Findings resolved by the system: absent from two evaluations in a row, or of a deleted
    /// resource.
    pub resolved: u64,
    /// Resolved or executed findings found again, now open.
    pub reopened: u64,
    /// Findings present and equal to their row: not written.
    pub unchanged: u64,
}

/// Writes one evaluation of `subscription_db_id`'s rules, made at `evaluated_at`, in a
/// transaction of its own (a savepoint when `conn` is already in one). Evaluations of one
/// subscription are serialised by an advisory lock. Duplicate fingerprints: the first wins.
/// System transitions are audited with actor [`SYSTEM_ACTOR`].
///
/// Sets are compared here rather than in SQL: the planner cannot size an `UNNEST` of
/// parameters, and joined to another set it picks a nested loop (tens of seconds for 20,000
/// findings); each statement below reaches its rows through an index.
pub async fn apply_evaluation(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    evaluated_at: DateTime<Utc>,
    findings: &[NewFinding],
    evaluated: &Evaluated<'_>,
) -> Result<EvaluationOutcome, sqlx::Error> {
    let mut seen = HashSet::new();
    let findings: Vec<&NewFinding> = findings
        .iter()
        .filter(|f| seen.insert(f.fingerprint.as_str()))
        .collect();
    let mut tx = conn.begin().await?;
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended('azcops.evaluation:' || $1::text, 0)),
                set_config('azcops.system_transition', 'on', true)",
        subscription_db_id.to_string()
    )
    .fetch_one(&mut *tx)
    .await?;
    let scope = (tenant_id, subscription_db_id, evaluated_at);
    let existing = existing_findings(&mut tx, tenant_id, subscription_db_id).await?;
    let gone = deleted_resources(&mut tx, scope, &findings).await?;
    let mut outcome = EvaluationOutcome::default();
    let mut events = upsert_findings(&mut tx, scope, &findings, &existing, &mut outcome).await?;
    let live = findings.iter().filter(|f| !gone.contains(&f.resource_id));
    outcome.unchanged =
        (live.count() as u64).saturating_sub(outcome.inserted + outcome.updated + outcome.reopened);
    events.extend(resolve_deleted(&mut tx, scope).await?);
    let absent = absent_ids(&existing, &findings, evaluated);
    let (counted, resolved) = count_absent(&mut tx, scope, &absent).await?;
    outcome.updated += counted;
    events.extend(resolved);
    outcome.resolved = events.iter().filter(|e| e.kind == "resolved").count() as u64;
    let approved_then_resolved: Vec<Uuid> = events
        .iter()
        .filter(|e| e.kind == "resolved" && e.from == Status::Approved)
        .map(|e| e.recommendation_id)
        .collect();
    super::realised::capture_baselines(&mut tx, &approved_then_resolved).await?;
    super::grouping::regroup(&mut tx, tenant_id, subscription_db_id).await?;
    // Measured again after every evaluation, which follows each full run's cost writes: a
    // measurement kept by a concurrent execution from costs this run has since replaced is
    // corrected here.
    let realised = super::query::SummaryFilter {
        tenant_id: Some(tenant_id),
        subscription: Some(subscription_db_id),
        include_suppressed: true,
        at: evaluated_at,
    };
    super::realised::store(&mut tx, &realised, None).await?;
    let actor = Actor {
        name: SYSTEM_ACTOR,
        at: evaluated_at,
        correlation_id: None,
    };
    record_events(&mut tx, actor, &events).await?;
    sqlx::query!("SELECT set_config('azcops.system_transition', '', true)")
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(outcome)
}

type Scope = (Uuid, Uuid, DateTime<Utc>);

/// A rule finding of the subscription as the evaluation found it.
struct Existing {
    id: Uuid,
    fingerprint: String,
    rule_id: String,
    resource_id: Option<String>,
    status: Status,
    absent_evaluations: i32,
}

/// The subscription's rule findings, by fingerprint.
async fn existing_findings(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
) -> Result<HashMap<String, Existing>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Existing,
        r#"SELECT id, fingerprint AS "fingerprint!", rule_id, resource_id, status AS "status: Status",
                  absent_evaluations
           FROM recommendations
           WHERE tenant_id = $1 AND subscription_db_id = $2 AND source = 'rule' AND fingerprint IS NOT NULL"#,
        tenant_id,
        subscription_db_id,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.fingerprint.clone(), r))
        .collect())
}

/// The resources of `findings` the inventory marked deleted.
async fn deleted_resources(
    conn: &mut PgConnection,
    (tenant_id, subscription_db_id, _): Scope,
    findings: &[&NewFinding],
) -> Result<HashSet<String>, sqlx::Error> {
    let ids: Vec<String> = findings.iter().map(|f| f.resource_id.clone()).collect();
    let rows = sqlx::query_scalar!(
        "SELECT resource_id FROM resources
         WHERE tenant_id = $1 AND subscription_db_id = $2 AND deleted_at IS NOT NULL
           AND resource_id = ANY($3)",
        tenant_id,
        subscription_db_id,
        &ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// The findings of the rules that ran which this evaluation did not report (unless skipped
/// for their resource), and whose absence still counts: up to two, for those that can still
/// resolve or regress (open, approved, rejected, executed).
fn absent_ids(
    existing: &HashMap<String, Existing>,
    findings: &[&NewFinding],
    evaluated: &Evaluated<'_>,
) -> Vec<Uuid> {
    let present: HashSet<&str> = findings.iter().map(|f| f.fingerprint.as_str()).collect();
    let ran: HashSet<&str> = evaluated.rule_ids.iter().map(String::as_str).collect();
    let skipped: HashSet<(&str, &str)> = evaluated
        .skipped
        .iter()
        .map(|(rule, resource)| (rule.as_str(), resource.as_str()))
        .collect();
    existing
        .values()
        .filter(|e| {
            let counts = matches!(
                e.status,
                Status::Open | Status::Approved | Status::Rejected | Status::Executed
            );
            let resource = e.resource_id.as_deref().unwrap_or_default();
            counts
                && e.absent_evaluations < 2
                && ran.contains(e.rule_id.as_str())
                && !present.contains(e.fingerprint.as_str())
                && !skipped.contains(&(e.rule_id.as_str(), resource))
        })
        .map(|e| e.id)
        .collect()
}

/// Inserts new findings and writes changed or reappearing ones; findings of deleted resources
/// are left to [`resolve_deleted`]. Counts what it wrote; returns the reopenings to record.
async fn upsert_findings(
    conn: &mut PgConnection,
    (tenant_id, subscription_db_id, at): Scope,
    findings: &[&NewFinding],
    existing: &HashMap<String, Existing>,
    outcome: &mut EvaluationOutcome,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let text = |f: fn(&NewFinding) -> &str| -> Vec<String> {
        findings.iter().map(|n| f(n).to_owned()).collect()
    };
    let savings: Vec<Option<Decimal>> = findings.iter().map(|f| f.monthly_savings).collect();
    let confidence: Vec<f64> = findings.iter().map(|f| f.confidence).collect();
    let evidence: Vec<Value> = findings.iter().map(|f| f.evidence.clone()).collect();
    let rows = sqlx::query!(
        r#"INSERT INTO recommendations AS r (tenant_id, subscription_db_id, resource_db_id, resource_id, rule_id,
               source, fingerprint, category, action, variant, title, description, estimated_monthly_savings,
               currency, savings_basis, confidence_score, risk_level, effort_level, evidence, first_detected_at,
               last_detected_at)
           SELECT $1, $2, res.id, f.resource_id, f.rule_id, 'rule', f.fingerprint, f.category, f.action,
                  f.variant, f.title, f.description, CASE WHEN f.savings < 0 THEN 0 ELSE f.savings END, f.currency,
                  f.savings_basis, round(least(greatest(f.confidence, 0), 1)::numeric, 3), f.risk::level,
                  f.effort::level, f.evidence, $3, $3
           FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                       $11::text[], $12::numeric[], $13::text[], $14::text[], $15::float8[], $16::text[],
                       $17::text[], $18::jsonb[])
                AS f(resource_id, rule_id, category, action, variant, fingerprint, title, description, savings,
                     currency, savings_basis, confidence, risk, effort, evidence)
           LEFT JOIN resources res
                  ON res.tenant_id = $1 AND res.subscription_db_id = $2 AND res.resource_id = f.resource_id
           WHERE res.deleted_at IS NULL
           ON CONFLICT (tenant_id, subscription_db_id, source, fingerprint) DO UPDATE SET
               resource_db_id = EXCLUDED.resource_db_id, resource_id = EXCLUDED.resource_id,
               rule_id = EXCLUDED.rule_id, category = EXCLUDED.category, action = EXCLUDED.action,
               variant = EXCLUDED.variant, title = EXCLUDED.title, description = EXCLUDED.description,
               estimated_monthly_savings = EXCLUDED.estimated_monthly_savings, currency = EXCLUDED.currency,
               savings_basis = EXCLUDED.savings_basis, confidence_score = EXCLUDED.confidence_score,
               risk_level = EXCLUDED.risk_level, effort_level = EXCLUDED.effort_level,
               evidence = EXCLUDED.evidence, last_detected_at = EXCLUDED.last_detected_at,
               absent_evaluations = 0,
               -- Found again: a resolved finding reopens, and an executed one that had gone
               -- (the trigger flags it regressed). A dismissed one stays dismissed.
               status = CASE WHEN r.status = 'resolved' OR (r.status = 'executed' AND r.absent_evaluations > 0)
                             THEN 'open'::recommendation_status ELSE r.status END
           WHERE (r.resource_db_id, r.resource_id, r.rule_id, r.category, r.action, r.variant, r.title,
                  r.description, r.estimated_monthly_savings, r.currency, r.savings_basis, r.confidence_score,
                  r.risk_level, r.effort_level, r.evidence)
                 IS DISTINCT FROM
                 (EXCLUDED.resource_db_id, EXCLUDED.resource_id, EXCLUDED.rule_id, EXCLUDED.category,
                  EXCLUDED.action, EXCLUDED.variant, EXCLUDED.title, EXCLUDED.description,
                  EXCLUDED.estimated_monthly_savings, EXCLUDED.currency, EXCLUDED.savings_basis,
                  EXCLUDED.confidence_score, EXCLUDED.risk_level, EXCLUDED.effort_level, EXCLUDED.evidence)
              OR r.absent_evaluations > 0 OR r.status = 'resolved'
           RETURNING r.id, r.fingerprint AS "fingerprint!", r.status AS "status: Status", r.regressed"#,
        tenant_id,
        subscription_db_id,
        at,
        &text(|f| &f.resource_id),
        &text(|f| &f.rule_id),
        &text(|f| &f.category),
        &text(|f| &f.action),
        &text(|f| &f.variant),
        &text(|f| &f.fingerprint),
        &text(|f| &f.title),
        &text(|f| &f.description),
        &savings as &[Option<Decimal>],
        &text(|f| &f.currency),
        &text(|f| &f.savings_basis),
        &confidence,
        &text(|f| &f.risk),
        &text(|f| &f.effort),
        &evidence,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut events = Vec::new();
    for row in rows {
        match existing.get(&row.fingerprint) {
            None => outcome.inserted += 1,
            // Only the system reopens; a status that moved otherwise (a person, meanwhile) is
            // not this evaluation's to record.
            Some(old)
                if matches!(old.status, Status::Resolved | Status::Executed)
                    && row.status == Status::Open =>
            {
                outcome.reopened += 1;
                events.push(EventRow {
                    tenant_id,
                    recommendation_id: row.id,
                    kind: "reopened",
                    from: old.status,
                    to: row.status,
                    reason: Some("the finding was detected again".into()),
                    details: json!({ "regressed": old.status == Status::Executed && row.regressed }),
                });
            }
            Some(_) => outcome.updated += 1,
        }
    }
    Ok(events)
}

/// Resolves the subscription's open, approved and rejected recommendations (of either source)
/// whose resource the inventory marked deleted.
async fn resolve_deleted(
    conn: &mut PgConnection,
    (tenant_id, subscription_db_id, at): Scope,
) -> Result<Vec<EventRow>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"WITH target AS (
               SELECT r.id, r.status FROM recommendations r JOIN resources res ON res.id = r.resource_db_id
               WHERE r.tenant_id = $1 AND r.subscription_db_id = $2 AND res.deleted_at IS NOT NULL
                 AND r.status IN ('open', 'approved', 'rejected')
               FOR UPDATE OF r)
           UPDATE recommendations r SET status = 'resolved', resolved_at = $3
           FROM target t WHERE r.id = t.id
           RETURNING r.id, t.status AS "old_status: Status""#,
        tenant_id,
        subscription_db_id,
        at,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| resolved_event(tenant_id, r.id, r.old_status, "the resource was deleted"))
        .collect())
}

fn resolved_event(tenant_id: Uuid, id: Uuid, from: Status, reason: &str) -> EventRow {
    EventRow {
        tenant_id,
        recommendation_id: id,
        kind: "resolved",
        from,
        to: Status::Resolved,
        reason: Some(reason.to_owned()),
        details: json!({}),
    }
}

/// Counts one more absence for the findings `ids`; the second resolves open, approved and
/// rejected ones. Returns the rows counted without a status change, and the resolutions.
async fn count_absent(
    conn: &mut PgConnection,
    (tenant_id, _, at): Scope,
    ids: &[Uuid],
) -> Result<(u64, Vec<EventRow>), sqlx::Error> {
    if ids.is_empty() {
        return Ok((0, Vec::new()));
    }
    let rows = sqlx::query!(
        r#"WITH target AS (
               SELECT r.id, r.status FROM recommendations r
               WHERE r.id = ANY($2) AND r.tenant_id = $1 AND r.absent_evaluations < 2
                 AND r.status IN ('open', 'approved', 'rejected', 'executed')
               FOR UPDATE OF r)
           UPDATE recommendations r SET
               absent_evaluations = r.absent_evaluations + 1,
               status = CASE WHEN r.absent_evaluations + 1 >= 2 AND r.status IN ('open', 'approved', 'rejected')
                             THEN 'resolved'::recommendation_status ELSE r.status END,
               resolved_at = CASE WHEN r.absent_evaluations + 1 >= 2 AND r.status IN ('open', 'approved', 'rejected')
                                  THEN $3 ELSE r.resolved_at END
           FROM target t WHERE r.id = t.id
           RETURNING r.id, t.status AS "old_status: Status", r.status AS "status: Status""#,
        tenant_id,
        ids,
        at,
    )
    .fetch_all(conn)
    .await?;
    let mut counted = 0;
    let mut events = Vec::new();
    for row in rows {
        if row.status == row.old_status {
            counted += 1;
        } else {
            events.push(resolved_event(
                tenant_id,
                row.id,
                row.old_status,
                "the finding was absent from two evaluations in a row",
            ));
        }
    }
    Ok((counted, events))
}
