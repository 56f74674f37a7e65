//! The `resource_conditions` aggregate: since when a tracked condition (a disk unattached, a VM
//! deallocated, …) has held for a resource. A full inventory reports every condition it sees;
//! a condition seen for the first time starts its clock, one seen again keeps it, and one no
//! longer seen has ended, so its row goes (a later recurrence starts a new clock).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A condition observed on a resource by one inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Lower-cased ARM id.
    pub resource_id: String,
    /// A stable name, e.g. `disk_unattached`.
    pub condition: String,
    /// When Azure itself says the condition began, where it says it (e.g. a disk's
    /// `LastOwnershipUpdateTime`).
    pub since_hint: Option<DateTime<Utc>>,
}

/// A condition and since when it has held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub resource_id: String,
    pub condition: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub since_hint: Option<DateTime<Utc>>,
}

impl Condition {
    /// The best estimate of when it began: Azure's own time if it has one and it is earlier,
    /// else when AzCops first saw it.
    pub fn since(&self) -> DateTime<Utc> {
        match self.since_hint {
            Some(hint) if hint < self.first_seen_at => hint,
            _ => self.first_seen_at,
        }
    }
}

/// Records what the inventory taken at `seen_at` observed (one statement for a batch): new
/// conditions start at `seen_at`, known ones keep their start. Unchanged rows are not written.
pub async fn observe(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    seen_at: DateTime<Utc>,
    observed: &[Observed],
) -> Result<u64, sqlx::Error> {
    let ids: Vec<String> = observed.iter().map(|o| o.resource_id.clone()).collect();
    let names: Vec<String> = observed.iter().map(|o| o.condition.clone()).collect();
    let hints: Vec<Option<DateTime<Utc>>> = observed.iter().map(|o| o.since_hint).collect();
    let result = sqlx::query!(
        r#"INSERT INTO resource_conditions (tenant_id, subscription_db_id, resource_id, condition,
                                           first_seen_at, last_seen_at, since_hint)
           SELECT $1, $2, o.resource_id, o.condition, $3, $3, o.since_hint
           FROM UNNEST($4::text[], $5::text[], $6::timestamptz[]) AS o(resource_id, condition, since_hint)
           ON CONFLICT (tenant_id, subscription_db_id, resource_id, condition) DO UPDATE SET
               first_seen_at = least(resource_conditions.first_seen_at, EXCLUDED.first_seen_at),
               last_seen_at = greatest(resource_conditions.last_seen_at, EXCLUDED.last_seen_at),
               since_hint = EXCLUDED.since_hint
           WHERE (resource_conditions.last_seen_at, resource_conditions.since_hint)
                 IS DISTINCT FROM (greatest(resource_conditions.last_seen_at, EXCLUDED.last_seen_at),
                                   EXCLUDED.since_hint)
              OR resource_conditions.first_seen_at > EXCLUDED.first_seen_at"#,
        tenant_id,
        subscription_db_id,
        seen_at,
        &ids,
        &names,
        &hints as &[Option<DateTime<Utc>>],
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Ends the conditions of the subscription that the inventory taken at `seen_at` (complete, and
/// already passed to [`observe`]) did not see. Returns how many ended.
pub async fn end_unseen(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    seen_at: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        "DELETE FROM resource_conditions
         WHERE tenant_id = $1 AND subscription_db_id = $2 AND last_seen_at < $3",
        tenant_id,
        subscription_db_id,
        seen_at,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Every condition of one subscription, by resource and condition.
pub async fn for_subscription(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
) -> Result<Vec<Condition>, sqlx::Error> {
    sqlx::query_as!(
        Condition,
        "SELECT resource_id, condition, first_seen_at, last_seen_at, since_hint
         FROM resource_conditions WHERE tenant_id = $1 AND subscription_db_id = $2
         ORDER BY resource_id, condition",
        tenant_id,
        subscription_db_id,
    )
    .fetch_all(conn)
    .await
}
