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
           FROM (SELECT adv.id,
                        (SELECT lead.id FROM recommendations lead
                         WHERE lead.tenant_id = $1 AND lead.subscription_db_id = $2 AND lead.source = 'rule'
                           AND lead.resource_id = adv.resource_id AND lead.action = adv.action
                           AND lead.action <> '' AND lead.status <> 'resolved'
                         ORDER BY lead.first_detected_at, lead.id LIMIT 1) AS lead
                 FROM recommendations adv
                 WHERE adv.tenant_id = $1 AND adv.subscription_db_id = $2 AND adv.source = 'advisor') g
           WHERE a.id = g.id AND a.superseded_by IS DISTINCT FROM g.lead"#,
        tenant_id,
        subscription_db_id,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
