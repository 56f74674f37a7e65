//! Fixtures of the recommendation tests: a tenant's subscription with resources, rule findings
//! evaluated into it, Advisor rows, and recommendations driven into any status.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::recommendations::{
    self, AdvisorRow, Evaluated, EvaluationOutcome, NewFinding, Status,
};
use azcops::db::{self, Scope};

/// A tenant's subscription to put resources and findings in.
#[derive(Debug, Clone, Copy)]
pub struct Estate {
    pub tenant: Uuid,
    pub subscription: Uuid,
    pub azure_subscription: Uuid,
}

impl Estate {
    /// A new tenant with one subscription, written directly.
    pub async fn create(pool: &PgPool) -> Self {
        let tenant: Uuid = sqlx::query_scalar(
            "INSERT INTO tenants (name, azure_tenant_id) VALUES ('t', gen_random_uuid()) RETURNING id",
        )
        .fetch_one(pool)
        .await
        .expect("tenant");
        let subscription: Uuid = sqlx::query_scalar(
            "INSERT INTO subscriptions (tenant_id, subscription_id, display_name) VALUES ($1, gen_random_uuid(), 's') RETURNING id",
        )
        .bind(tenant)
        .fetch_one(pool)
        .await
        .expect("subscription");
        Self::of(pool, tenant, subscription).await
    }

    /// An existing tenant's subscription.
    pub async fn of(pool: &PgPool, tenant: Uuid, subscription: Uuid) -> Self {
        let azure_subscription: Uuid =
            sqlx::query_scalar("SELECT subscription_id FROM subscriptions WHERE id = $1")
                .bind(subscription)
                .fetch_one(pool)
                .await
                .expect("subscription");
        Self {
            tenant,
            subscription,
            azure_subscription,
        }
    }

    /// The lower-cased ARM id of a disk `name` in resource group `rg`.
    pub fn disk_id(&self, rg: &str, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourcegroups/{rg}/providers/microsoft.compute/disks/{name}",
            self.azure_subscription
        )
    }

    /// Adds a disk to the inventory; returns its ARM id.
    pub async fn disk(&self, pool: &PgPool, rg: &str, name: &str, tags: Value) -> String {
        let id = self.disk_id(rg, name);
        sqlx::query(
            "INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type, location, resource_group, tags)
             VALUES ($1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2), $3, $4, 'microsoft.compute/disks', 'westeurope', $5, $6)",
        )
        .bind(self.tenant)
        .bind(self.subscription)
        .bind(&id)
        .bind(name)
        .bind(rg)
        .bind(tags)
        .execute(pool)
        .await
        .expect("resource");
        id
    }

    /// Evaluates `rule_ids` at `at` with `findings`, nothing skipped.
    pub async fn evaluate(
        &self,
        pool: &PgPool,
        at: DateTime<Utc>,
        findings: &[NewFinding],
        rule_ids: &[&str],
    ) -> EvaluationOutcome {
        self.evaluate_skipping(pool, at, findings, rule_ids, &[])
            .await
    }

    /// Evaluates, with (rule, resource) pairs skipped for lack of data.
    pub async fn evaluate_skipping(
        &self,
        pool: &PgPool,
        at: DateTime<Utc>,
        findings: &[NewFinding],
        rule_ids: &[&str],
        skipped: &[(String, String)],
    ) -> EvaluationOutcome {
        let rule_ids: Vec<String> = rule_ids.iter().map(|r| r.to_string()).collect();
        let evaluated = Evaluated {
            rule_ids: &rule_ids,
            skipped,
        };
        let mut tx = db::begin(pool, Scope::Tenant(self.tenant))
            .await
            .expect("transaction");
        let outcome = recommendations::apply_evaluation(
            &mut tx,
            self.tenant,
            self.subscription,
            at,
            findings,
            &evaluated,
        )
        .await
        .expect("evaluation");
        tx.commit().await.expect("commit");
        outcome
    }

    /// Upserts Advisor rows.
    pub async fn advisor(&self, pool: &PgPool, rows: &[AdvisorRow]) -> u64 {
        let mut tx = db::begin(pool, Scope::Tenant(self.tenant))
            .await
            .expect("transaction");
        let n = recommendations::upsert_advisor(&mut tx, self.tenant, self.subscription, rows)
            .await
            .expect("advisor");
        tx.commit().await.expect("commit");
        n
    }

    /// The id of the rule finding with `fingerprint`.
    pub async fn finding_id(&self, pool: &PgPool, fingerprint: &str) -> Uuid {
        sqlx::query_scalar(
            "SELECT id FROM recommendations WHERE subscription_db_id = $1 AND fingerprint = $2",
        )
        .bind(self.subscription)
        .bind(fingerprint)
        .fetch_one(pool)
        .await
        .expect("finding")
    }
}

/// 2026-11-`day` 02:00 UTC.
pub fn day(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, 2, 0, 0).unwrap()
}

/// A finding of `rule_id` about `resource_id` (fingerprint `rule|resource`), saving 12.50 EUR.
pub fn finding(rule_id: &str, resource_id: &str, action: &str) -> NewFinding {
    NewFinding {
        resource_id: resource_id.to_owned(),
        rule_id: rule_id.to_owned(),
        category: "waste".to_owned(),
        action: action.to_owned(),
        variant: String::new(),
        fingerprint: format!("{rule_id}|{resource_id}"),
        title: format!("{rule_id} fired"),
        description: "found by the test".to_owned(),
        monthly_savings: Some(Decimal::new(1250, 2)),
        currency: "EUR".to_owned(),
        savings_basis: "c30".to_owned(),
        confidence: 0.9,
        risk: "low".to_owned(),
        effort: "low".to_owned(),
        evidence: json!({ "unattached_days": 12, "threshold_days": 7 }),
    }
}

/// An Advisor recommendation of type `type_id` about `resource_id`, saving `savings` USD.
pub fn advisor_row(type_id: &str, resource_id: &str, savings: i64) -> AdvisorRow {
    AdvisorRow {
        external_id: format!("{resource_id}/providers/microsoft.advisor/recommendations/{type_id}"),
        resource_id: Some(resource_id.to_owned()),
        rule_id: format!("advisor:{type_id}"),
        category: "cost".to_owned(),
        title: "Advisor says".to_owned(),
        description: None,
        monthly_savings: Decimal::from(savings),
        currency: "USD".to_owned(),
        confidence: Decimal::new(7, 1),
        details: json!({ "extended_properties": {} }),
    }
}

/// Advisor's unattached-disk type (action `delete`).
pub const ADVISOR_UNATTACHED_DISK: &str = "48eda464-1485-4dcf-a674-d0905df5054a";

/// A recommendation's status, regressed flag and absence count (read beside row-level security).
pub async fn state_of(pool: &PgPool, id: Uuid) -> (Status, bool, i32) {
    sqlx::query_as(
        "SELECT status, regressed, absent_evaluations FROM recommendations WHERE id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .expect("recommendation")
}

/// Drives recommendation `id` from open to `status` the way the lifecycle allows (the system's
/// steps with the system's setting).
pub async fn drive(pool: &PgPool, id: Uuid, status: Status) {
    let path: &[&str] = match status {
        Status::Open => &[],
        Status::Approved => &["approved"],
        Status::Rejected => &["rejected"],
        Status::Dismissed => &["dismissed"],
        Status::Executed => &["approved", "executed"],
        Status::Resolved => &["resolved"],
    };
    let mut tx = pool.begin().await.expect("transaction");
    sqlx::query("SELECT set_config('azcops.system_transition', 'on', true)")
        .execute(&mut *tx)
        .await
        .expect("system");
    for step in path {
        sqlx::query(
            "UPDATE recommendations SET status = $2::recommendation_status,
                    approved_at = CASE WHEN $2 = 'approved' THEN now() ELSE approved_at END,
                    executed_reference = CASE WHEN $2 = 'executed' THEN 'CHG-1' END,
                    executed_at = CASE WHEN $2 = 'executed' THEN now() END
             WHERE id = $1",
        )
        .bind(id)
        .bind(step)
        .execute(&mut *tx)
        .await
        .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    tx.commit().await.expect("commit");
}

/// `at` moved by `days`.
pub fn plus_days(at: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    at + Duration::days(days)
}

/// Every realised-savings cell (`recommendation_realised_cells`, kept by statement triggers) that
/// differs from adding up the changed, unsuperseded recommendations and their kept measurements,
/// every measurement kept of anything else, every empty cell and every delta left queued after
/// its transaction: the cells' oracle, read as the owner (beside row-level security).
pub async fn realised_cells_differing(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "WITH direct AS (
             SELECT r.tenant_id, r.rule_id, r.currency AS estimate_currency,
                    coalesce(m.measurement::text, '') AS measurement, coalesce(m.currency, '') AS currency,
                    count(*) AS count, coalesce(sum(r.estimated_monthly_savings), 0) AS estimated,
                    coalesce(sum(m.monthly_savings), 0) AS savings
             FROM recommendations r
             LEFT JOIN recommendation_realised m ON m.tenant_id = r.tenant_id AND m.recommendation_id = r.id
             WHERE (r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
               AND r.superseded_by IS NULL
             GROUP BY 1, 2, 3, 4, 5)
         SELECT format('%s %s %s %s %s: kept %s / %s / %s, direct %s / %s / %s',
                       coalesce(c.tenant_id, d.tenant_id), coalesce(c.rule_id, d.rule_id),
                       coalesce(c.estimate_currency, d.estimate_currency),
                       coalesce(c.measurement, d.measurement), coalesce(c.currency, d.currency),
                       c.count, c.estimated_monthly_savings, c.monthly_savings,
                       d.count, d.estimated, d.savings)
         FROM recommendation_realised_cells c
         FULL JOIN direct d USING (tenant_id, rule_id, estimate_currency, measurement, currency)
         WHERE (c.count, c.estimated_monthly_savings, c.monthly_savings)
               IS DISTINCT FROM (d.count, d.estimated, d.savings)
            OR c.count <= 0
         UNION ALL
         SELECT format('measurement kept of %s (%s, %s)', r.id, r.status, r.superseded_by)
         FROM recommendation_realised m
         JOIN recommendations r ON r.tenant_id = m.tenant_id AND r.id = m.recommendation_id
         WHERE NOT ((r.status = 'executed' OR (r.status = 'resolved' AND r.approved_at IS NOT NULL))
                    AND r.superseded_by IS NULL)
            OR (m.rule_id, m.estimate_currency, m.estimated_monthly_savings)
               IS DISTINCT FROM (r.rule_id, r.currency, r.estimated_monthly_savings)
         UNION ALL
         SELECT format('%s deltas left queued', count(*)) FROM recommendation_realised_pending
         HAVING count(*) > 0
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("realised cells against their recommendations")
}
