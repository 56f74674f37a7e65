//! Groups: an Advisor recommendation and a rule finding about the same resource and action
//! are one group, led by the rule finding (the earliest detected one not resolved); the Advisor
//! recommendation points at it with `superseded_by` and drops out of lists and totals. Advisor
//! rows are grouped as ingestion writes them ([`super::upsert_advisor`]) and again after each
//! evaluation, since findings come and go.

use sqlx::PgConnection;
use uuid::Uuid;

/// Points each of the subscription's Advisor recommendations at the rule finding about the
/// same resource and action that leads its group (the earliest detected one not resolved), or
/// at none. Writes only the rows whose group changed.
pub(crate) async fn regroup(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        r#"UPDATE recommendations a SET superseded_by = g.lead
           FROM (SELECT adv.id, l.lead
                 FROM recommendations adv
                 LEFT JOIN (SELECT DISTINCT ON (r.resource_id, r.action) r.resource_id, r.action, r.id AS lead
                            FROM recommendations r
                            WHERE r.tenant_id = $1 AND r.subscription_db_id = $2 AND r.source = 'rule'
                              AND r.action <> '' AND r.status <> 'resolved'
                            ORDER BY r.resource_id, r.action, r.first_detected_at, r.id) l
                        ON l.resource_id = adv.resource_id AND l.action = adv.action
                 WHERE adv.tenant_id = $1 AND adv.subscription_db_id = $2 AND adv.source = 'advisor') g
           WHERE a.id = g.id AND a.superseded_by IS DISTINCT FROM g.lead"#,
        tenant_id,
        subscription_db_id,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
