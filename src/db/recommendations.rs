//! The `recommendations` aggregate. Advisor's cost recommendations are upserted by their ARM
//! id; their workflow status (open → approved → executed, …) is never touched by ingestion.

use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

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
/// statement, linking each to its resource when the inventory has it. Returns rows written.
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
    let result = sqlx::query!(
        r#"INSERT INTO recommendations (tenant_id, subscription_db_id, resource_db_id, rule_id, source, external_id,
                                       category, title, description, estimated_monthly_savings, currency,
                                       confidence_score, details)
           SELECT $1, $2, res.id, r.rule_id, 'advisor', r.external_id, r.category, r.title, r.description,
                  greatest(r.savings, 0), r.currency, least(greatest(r.confidence, 0), 1), r.details
           FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::numeric[],
                       $10::text[], $11::numeric[], $12::jsonb[])
                AS r(external_id, resource_id, rule_id, category, title, description, savings, currency, confidence, details)
           LEFT JOIN resources res ON res.subscription_db_id = $2 AND res.resource_id = r.resource_id
           ON CONFLICT (subscription_db_id, source, external_id) DO UPDATE SET
               resource_db_id = EXCLUDED.resource_db_id, rule_id = EXCLUDED.rule_id, category = EXCLUDED.category,
               title = EXCLUDED.title, description = EXCLUDED.description,
               estimated_monthly_savings = EXCLUDED.estimated_monthly_savings, currency = EXCLUDED.currency,
               confidence_score = EXCLUDED.confidence_score, details = EXCLUDED.details
           WHERE (recommendations.resource_db_id, recommendations.rule_id, recommendations.category,
                  recommendations.title, recommendations.description, recommendations.estimated_monthly_savings,
                  recommendations.currency, recommendations.confidence_score, recommendations.details)
                 IS DISTINCT FROM
                 (EXCLUDED.resource_db_id, EXCLUDED.rule_id, EXCLUDED.category, EXCLUDED.title, EXCLUDED.description,
                  EXCLUDED.estimated_monthly_savings, EXCLUDED.currency, EXCLUDED.confidence_score, EXCLUDED.details)"#,
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
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}
