//! The `cost_anomalies` aggregate (what detection found in a subscription's daily amortized
//! cost, with its contributors, and people's acknowledgements) and the inputs detection and the
//! forecast read ([`inputs`]): daily cost cells, per-resource window costs, new resources, and
//! the tenant's thresholds.

pub mod inputs;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Listed, Page};

/// One component whose change explains an anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Contributor {
    /// `service`, `resource_group` or `resource`.
    pub kind: String,
    /// The service's name, the resource group's (lower-cased) or the resource's ARM id.
    pub name: String,
    /// Sum of its actual (amortized) cost over the anomaly's days.
    pub actual: f64,
    /// Sum of what it would have cost.
    pub expected: f64,
    /// `actual − expected`.
    pub delta: f64,
    /// Its delta over the anomaly's delta.
    pub share: f64,
}

/// A resource first seen during the anomaly's days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewResource {
    pub resource_id: String,
    pub resource_type: String,
    pub resource_group: Option<String>,
}

/// A stored anomaly, as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Anomaly {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub subscription_db_id: Uuid,
    /// The Azure subscription id.
    pub subscription_id: Uuid,
    /// Null for the subscription's total series, else the service whose series it is.
    pub service_name: Option<String>,
    /// `spike`, `drop`, `level_shift_up` or `level_shift_down`.
    pub kind: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub peak_date: NaiveDate,
    pub days: i32,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// `open`, `acknowledged` or `expected`.
    pub status: String,
    /// Touches one of the two most recent days: re-scored by the next detection.
    pub provisional: bool,
    /// The peak day's robust score (signed).
    pub score: f64,
    pub currency: String,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub actual: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub expected: Decimal,
    #[serde(with = "rust_decimal::serde::float")]
    #[schema(value_type = f64)]
    pub delta: Decimal,
    /// `100 × delta / expected`; null when nothing was expected.
    pub delta_percent: Option<f64>,
    /// Services, then resource groups, then resources; largest change first within each.
    #[schema(value_type = Vec<Contributor>)]
    pub contributors: Json<Vec<Contributor>>,
    #[schema(value_type = Vec<NewResource>)]
    pub new_resources: Json<Vec<NewResource>>,
    pub status_reason: Option<String>,
    pub status_changed_by: Option<String>,
    pub status_changed_at: Option<DateTime<Utc>>,
    pub detected_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where an anomaly sorts in lists: latest end first, then id descending.
pub type AnomalyKey = (NaiveDate, Uuid);

impl Anomaly {
    pub fn key(&self) -> AnomalyKey {
        (self.end_date, self.id)
    }
}

/// An anomaly as detection found it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAnomaly {
    /// Empty for the subscription's total.
    pub service_name: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub peak_date: NaiveDate,
    pub kind: &'static str,
    pub severity: &'static str,
    pub provisional: bool,
    pub score: f64,
    pub currency: String,
    pub actual: Decimal,
    pub expected: Decimal,
    pub contributors: Vec<Contributor>,
    pub new_resources: Vec<NewResource>,
}

/// Which anomalies a list covers; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AnomalyFilter {
    pub tenant_id: Option<Uuid>,
    /// An AzCops or Azure subscription id.
    pub subscription: Option<Uuid>,
    pub service_name: Option<String>,
    pub severity: Option<String>,
    pub status: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Replaces what detection found in one subscription since `since`: inserts the new anomalies,
/// updates those it found again (same series and first day; their status is kept), and deletes
/// the open ones it no longer finds (restated away). Acknowledged and expected ones stay.
/// Returns (written, deleted).
pub async fn replace(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    since: NaiveDate,
    found: &[NewAnomaly],
) -> Result<(u64, u64), sqlx::Error> {
    let text = |f: fn(&NewAnomaly) -> &str| -> Vec<String> {
        found.iter().map(|a| f(a).to_owned()).collect()
    };
    let dates =
        |f: fn(&NewAnomaly) -> NaiveDate| -> Vec<NaiveDate> { found.iter().map(f).collect() };
    let json = |f: fn(&NewAnomaly) -> serde_json::Value| -> Vec<serde_json::Value> {
        found.iter().map(f).collect()
    };
    let deleted = sqlx::query!(
        r#"DELETE FROM cost_anomalies
           WHERE tenant_id = $1 AND subscription_db_id = $2 AND status = 'open' AND end_date >= $3
             AND (service_name, start_date) NOT IN (SELECT * FROM UNNEST($4::text[], $5::date[]))"#,
        tenant_id,
        subscription_db_id,
        since,
        &text(|a| &a.service_name),
        &dates(|a| a.start_date),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let written = sqlx::query!(
        r#"INSERT INTO cost_anomalies (tenant_id, subscription_db_id, service_name, start_date, end_date,
                                      peak_date, kind, severity, provisional, score, currency, actual,
                                      expected, contributors, new_resources)
           SELECT $1, $2, a.service_name, a.start_date, a.end_date, a.peak_date, a.kind, a.severity,
                  a.provisional, a.score, a.currency, a.actual, a.expected, a.contributors, a.new_resources
           FROM UNNEST($3::text[], $4::date[], $5::date[], $6::date[], $7::text[], $8::text[], $9::bool[],
                       $10::float8[], $11::text[], $12::numeric[], $13::numeric[], $14::jsonb[], $15::jsonb[])
                AS a(service_name, start_date, end_date, peak_date, kind, severity, provisional, score,
                     currency, actual, expected, contributors, new_resources)
           ON CONFLICT (tenant_id, subscription_db_id, service_name, start_date) DO UPDATE SET
               end_date = EXCLUDED.end_date, peak_date = EXCLUDED.peak_date, kind = EXCLUDED.kind,
               severity = EXCLUDED.severity, provisional = EXCLUDED.provisional, score = EXCLUDED.score,
               currency = EXCLUDED.currency, actual = EXCLUDED.actual, expected = EXCLUDED.expected,
               contributors = EXCLUDED.contributors, new_resources = EXCLUDED.new_resources"#,
        tenant_id,
        subscription_db_id,
        &text(|a| &a.service_name),
        &dates(|a| a.start_date),
        &dates(|a| a.end_date),
        &dates(|a| a.peak_date),
        &text(|a| a.kind),
        &text(|a| a.severity),
        &found.iter().map(|a| a.provisional).collect::<Vec<_>>(),
        &found.iter().map(|a| a.score).collect::<Vec<_>>(),
        &text(|a| &a.currency),
        &found.iter().map(|a| a.actual).collect::<Vec<_>>(),
        &found.iter().map(|a| a.expected).collect::<Vec<_>>(),
        &json(|a| serde_json::to_value(&a.contributors).unwrap_or_default()),
        &json(|a| serde_json::to_value(&a.new_resources).unwrap_or_default()),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((written, deleted))
}

/// A page of anomalies, latest end first, and the total when asked for.
pub async fn list(
    conn: &mut PgConnection,
    f: &AnomalyFilter,
    page: &Page<AnomalyKey>,
) -> Result<Listed<Anomaly>, sqlx::Error> {
    let total = if page.count {
        Some(
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!" FROM cost_anomalies a JOIN subscriptions s ON s.id = a.subscription_db_id
                   WHERE ($1::uuid IS NULL OR a.tenant_id = $1)
                     AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
                     AND ($3::text IS NULL OR a.service_name = $3
                          OR a.contributors @> jsonb_build_array(jsonb_build_object('kind', 'service', 'name', $3::text)))
                     AND ($4::text IS NULL OR a.severity = $4) AND ($5::text IS NULL OR a.status = $5)
                     AND ($6::date IS NULL OR a.end_date >= $6) AND ($7::date IS NULL OR a.start_date <= $7)"#,
                f.tenant_id, f.subscription, f.service_name, f.severity, f.status, f.from, f.to,
            )
            .fetch_one(&mut *conn)
            .await?,
        )
    } else {
        None
    };
    let after = page.after();
    let rows = sqlx::query_as!(
        Anomaly,
        r#"SELECT a.id, a.tenant_id, a.subscription_db_id, s.subscription_id, NULLIF(a.service_name, '') AS service_name,
                  a.kind, a.start_date, a.end_date, a.peak_date, (a.end_date - a.start_date + 1) AS "days!",
                  a.severity, a.status, a.provisional, a.score, a.currency, a.actual, a.expected,
                  (a.actual - a.expected) AS "delta!",
                  CASE WHEN a.expected > 0 THEN (100 * (a.actual - a.expected) / a.expected)::float8 END AS delta_percent,
                  a.contributors AS "contributors: Json<Vec<Contributor>>",
                  a.new_resources AS "new_resources: Json<Vec<NewResource>>",
                  a.status_reason, a.status_changed_by, a.status_changed_at, a.detected_at, a.updated_at
           FROM cost_anomalies a JOIN subscriptions s ON s.id = a.subscription_db_id
           WHERE ($1::uuid IS NULL OR a.tenant_id = $1)
             AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
             AND ($3::text IS NULL OR a.service_name = $3
                  OR a.contributors @> jsonb_build_array(jsonb_build_object('kind', 'service', 'name', $3::text)))
             AND ($4::text IS NULL OR a.severity = $4) AND ($5::text IS NULL OR a.status = $5)
             AND ($6::date IS NULL OR a.end_date >= $6) AND ($7::date IS NULL OR a.start_date <= $7)
             AND ($8::date IS NULL OR (a.end_date, a.id) < ($8, $9::uuid))
           ORDER BY a.end_date DESC, a.id DESC
           LIMIT $10 OFFSET $11"#,
        f.tenant_id, f.subscription, f.service_name, f.severity, f.status, f.from, f.to,
        after.map(|k| k.0), after.map(|k| k.1), page.fetch(), page.offset(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Listed { rows, total })
}

/// One anomaly (of `tenant_id` when given).
pub async fn get(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<Anomaly>, sqlx::Error> {
    sqlx::query_as!(
        Anomaly,
        r#"SELECT a.id, a.tenant_id, a.subscription_db_id, s.subscription_id, NULLIF(a.service_name, '') AS service_name,
                  a.kind, a.start_date, a.end_date, a.peak_date, (a.end_date - a.start_date + 1) AS "days!",
                  a.severity, a.status, a.provisional, a.score, a.currency, a.actual, a.expected,
                  (a.actual - a.expected) AS "delta!",
                  CASE WHEN a.expected > 0 THEN (100 * (a.actual - a.expected) / a.expected)::float8 END AS delta_percent,
                  a.contributors AS "contributors: Json<Vec<Contributor>>",
                  a.new_resources AS "new_resources: Json<Vec<NewResource>>",
                  a.status_reason, a.status_changed_by, a.status_changed_at, a.detected_at, a.updated_at
           FROM cost_anomalies a JOIN subscriptions s ON s.id = a.subscription_db_id
           WHERE a.id = $1 AND ($2::uuid IS NULL OR a.tenant_id = $2)"#,
        id,
        tenant_id,
    )
    .fetch_optional(conn)
    .await
}

/// Locks one anomaly for a status change; its tenant and status.
pub async fn lock(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT tenant_id, status FROM cost_anomalies
         WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2) FOR UPDATE",
        id,
        tenant_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.tenant_id, r.status)))
}

/// Sets an anomaly's status, with who and why.
pub async fn set_status(
    conn: &mut PgConnection,
    (tenant_id, id): (Uuid, Uuid),
    status: &str,
    reason: Option<&str>,
    (by, at): (&str, DateTime<Utc>),
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE cost_anomalies SET status = $3, status_reason = $4, status_changed_by = $5, status_changed_at = $6
         WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        id,
        status,
        reason,
        by,
        at,
    )
    .execute(conn)
    .await?;
    Ok(())
}
