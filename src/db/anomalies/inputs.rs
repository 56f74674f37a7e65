//! What detection and the forecast read: daily amortized cost cells (day × resource group ×
//! service), per-resource costs over the stored window, resources first seen in a window, and
//! the tenant's thresholds.

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

/// One day's amortized cost of one resource group × service of a subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub date: NaiveDate,
    pub resource_group: String,
    pub service_name: String,
    pub currency: String,
    pub amortized: f64,
}

/// The cells of one subscription's days `from..=to`.
pub async fn cells(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Vec<Cell>, sqlx::Error> {
    sqlx::query_as!(
        Cell,
        r#"SELECT date, resource_group, service_name, currency, sum(amortized_cost)::float8 AS "amortized!"
           FROM costs_daily
           WHERE tenant_id = $1 AND subscription_db_id = $2 AND date >= $3 AND date <= $4
           GROUP BY date, resource_group, service_name, currency
           ORDER BY date, resource_group, service_name"#,
        tenant_id,
        subscription_db_id,
        from,
        to,
    )
    .fetch_all(conn)
    .await
}

/// Daily amortized totals per currency of a tenant (or of one of its subscriptions, an
/// AzCops or Azure id) over `from..=to`: (day, currency, amount).
pub async fn daily_totals(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription: Option<Uuid>,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Vec<(NaiveDate, String, f64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT c.date, c.currency, sum(c.amortized_cost)::float8 AS "amortized!"
           FROM costs_daily c JOIN subscriptions s ON s.id = c.subscription_db_id
           WHERE c.tenant_id = $1 AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
             AND c.date >= $3 AND c.date <= $4
           GROUP BY c.date, c.currency
           ORDER BY c.date"#,
        tenant_id,
        subscription,
        from,
        to,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.date, r.currency, r.amortized))
        .collect())
}

/// One resource's amortized cost over a stored window.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceCell {
    pub resource_id: String,
    pub resource_group: String,
    pub service_name: String,
    pub amortized: f64,
    pub window_days: i32,
}

/// Per-resource costs of the latest stored window that covers `day` (none when no window
/// does).
pub async fn resource_window(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    day: NaiveDate,
) -> Result<Vec<ResourceCell>, sqlx::Error> {
    sqlx::query_as!(
        ResourceCell,
        r#"SELECT resource_id, resource_group, service_name, amortized_cost::float8 AS "amortized!",
                  (window_end - window_start + 1) AS "window_days!"
           FROM resource_costs
           WHERE tenant_id = $1 AND subscription_db_id = $2 AND resource_id <> ''
             AND window_end = (SELECT max(window_end) FROM resource_costs
                               WHERE tenant_id = $1 AND subscription_db_id = $2
                                 AND window_start <= $3 AND window_end >= $3)"#,
        tenant_id,
        subscription_db_id,
        day,
    )
    .fetch_all(conn)
    .await
}

/// Resources of the subscription first seen by ingestion during `from..=to` (id, type, group).
pub async fn new_resources(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    (from, to): (NaiveDate, NaiveDate),
) -> Result<Vec<(String, String, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT resource_id, type, resource_group FROM resources
           WHERE tenant_id = $1 AND subscription_db_id = $2 AND deleted_at IS NULL
             AND (first_seen_at AT TIME ZONE 'UTC')::date BETWEEN $3 AND $4
           ORDER BY resource_id LIMIT 50"#,
        tenant_id,
        subscription_db_id,
        from,
        to,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.resource_id, r.r#type, r.resource_group))
        .collect())
}

/// The tenant's thresholds (z, absolute floor, relative floor), when it set them.
pub async fn settings(
    conn: &mut PgConnection,
    tenant_id: Uuid,
) -> Result<Option<(f64, f64, f64)>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT z_threshold, min_abs_delta::float8 AS "min_abs!", min_rel_delta
           FROM cost_anomaly_settings WHERE tenant_id = $1"#,
        tenant_id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.z_threshold, r.min_abs, r.min_rel_delta)))
}

/// The AzCops id of the tenant's subscription `subscription` (an AzCops or Azure id).
pub async fn subscription_db_id(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM subscriptions WHERE tenant_id = $1 AND (id = $2 OR subscription_id = $2)",
        tenant_id,
        subscription,
    )
    .fetch_optional(conn)
    .await
}
