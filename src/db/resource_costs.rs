//! The `resource_costs` aggregate: what each resource (and service) cost over a window of
//! complete days, actual and amortized. Charges without a resource (purchases, support,
//! Marketplace) are kept under the empty resource id, so a window's rows add up to what the
//! subscription was charged.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

/// One resource's (or one charge's) cost over the window, mapped from Cost Management's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResourceCost {
    /// The ARM id, lower-cased; empty for charges without a resource.
    pub resource_id: String,
    pub service_name: String,
    /// Lower-cased; empty when the charge has none.
    pub resource_group: String,
    pub cost: Decimal,
    pub amortized_cost: Decimal,
    pub currency: String,
}

/// The window the rows cover (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// Inserts or updates a batch of one subscription's rows of `window` in one statement;
/// unchanged rows are left alone. Returns rows written.
pub async fn upsert(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    window: Window,
    rows: &[NewResourceCost],
) -> Result<u64, sqlx::Error> {
    let text = |f: fn(&NewResourceCost) -> &str| -> Vec<String> {
        rows.iter().map(|r| f(r).to_owned()).collect()
    };
    let costs: Vec<Decimal> = rows.iter().map(|r| r.cost).collect();
    let amortized: Vec<Decimal> = rows.iter().map(|r| r.amortized_cost).collect();
    let result = sqlx::query!(
        r#"INSERT INTO resource_costs (tenant_id, subscription_db_id, window_end, resource_id, service_name,
                                      window_start, resource_group, cost, amortized_cost, currency)
           SELECT $1, $2, $3, c.resource_id, c.service_name, $4, c.resource_group, c.cost, c.amortized, c.currency
           FROM UNNEST($5::text[], $6::text[], $7::text[], $8::numeric[], $9::numeric[], $10::text[])
                AS c(resource_id, service_name, resource_group, cost, amortized, currency)
           ON CONFLICT (tenant_id, subscription_db_id, window_end, resource_id, service_name) DO UPDATE SET
               window_start = EXCLUDED.window_start, resource_group = EXCLUDED.resource_group,
               cost = EXCLUDED.cost, amortized_cost = EXCLUDED.amortized_cost, currency = EXCLUDED.currency
           WHERE (resource_costs.window_start, resource_costs.resource_group, resource_costs.cost,
                  resource_costs.amortized_cost, resource_costs.currency)
                 IS DISTINCT FROM (EXCLUDED.window_start, EXCLUDED.resource_group, EXCLUDED.cost,
                                   EXCLUDED.amortized_cost, EXCLUDED.currency)"#,
        tenant_id,
        subscription_db_id,
        window.end,
        window.start,
        &text(|r| &r.resource_id),
        &text(|r| &r.service_name),
        &text(|r| &r.resource_group),
        &costs,
        &amortized,
        &text(|r| &r.currency),
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// Deletes the rows of `window` whose (resource, service) is not in `keep`: the window's
/// answer is complete, so a row it no longer holds was restated away. Returns rows deleted.
/// `NOT IN` over the keys (never null) is a hashed anti-join: one pass, however many rows
/// (a correlated `NOT EXISTS` over the array was a nested loop, quadratic in the rows).
pub async fn delete_absent(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    window: Window,
    keep: &[(String, String)],
) -> Result<u64, sqlx::Error> {
    let (ids, services): (Vec<String>, Vec<String>) = keep.iter().cloned().unzip();
    let result = sqlx::query!(
        r#"DELETE FROM resource_costs c
           WHERE c.tenant_id = $1 AND c.subscription_db_id = $2 AND c.window_end = $3
             AND (c.resource_id, c.service_name) NOT IN
                 (SELECT k.resource_id, k.service_name
                  FROM UNNEST($4::text[], $5::text[]) AS k(resource_id, service_name))"#,
        tenant_id,
        subscription_db_id,
        window.end,
        &ids,
        &services,
    )
    .execute(conn)
    .await?;
    Ok(result.rows_affected())
}

/// One resource's cost over the latest window of its subscription (all services together).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceCost {
    pub resource_id: String,
    pub window_start: NaiveDate,
    pub window_end: NaiveDate,
    pub cost: Decimal,
    pub amortized_cost: Decimal,
    pub currency: String,
}

/// The per-resource costs of one subscription's latest window, by resource id.
pub async fn latest_for_subscription(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
) -> Result<Vec<ResourceCost>, sqlx::Error> {
    sqlx::query_as!(
        ResourceCost,
        r#"SELECT c.resource_id, min(c.window_start) AS "window_start!", c.window_end,
                  sum(c.cost) AS "cost!", sum(c.amortized_cost) AS "amortized_cost!", c.currency
           FROM resource_costs c
           WHERE c.tenant_id = $1 AND c.subscription_db_id = $2
             AND c.window_end = (SELECT max(window_end) FROM resource_costs
                                 WHERE tenant_id = $1 AND subscription_db_id = $2)
           GROUP BY c.resource_id, c.window_end, c.currency
           ORDER BY c.resource_id"#,
        tenant_id,
        subscription_db_id,
    )
    .fetch_all(conn)
    .await
}

/// The last day of the subscription's latest per-resource cost window, if one is stored.
pub async fn latest_window_end(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
) -> Result<Option<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT max(window_end) FROM resource_costs WHERE tenant_id = $1 AND subscription_db_id = $2",
        tenant_id,
        subscription_db_id,
    )
    .fetch_one(conn)
    .await
}

/// The rows of one subscription's latest window, one per (resource, service): what a rule
/// evaluation reads (a licence's share of a VM's cost is its own service).
pub async fn latest_rows(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
) -> Result<Vec<(Window, NewResourceCost)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT window_start, window_end, resource_id, service_name, resource_group, cost, amortized_cost, currency
           FROM resource_costs
           WHERE tenant_id = $1 AND subscription_db_id = $2
             AND window_end = (SELECT max(window_end) FROM resource_costs
                               WHERE tenant_id = $1 AND subscription_db_id = $2)
           ORDER BY resource_id, service_name"#,
        tenant_id,
        subscription_db_id,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let window = Window {
                start: r.window_start,
                end: r.window_end,
            };
            let row = NewResourceCost {
                resource_id: r.resource_id,
                service_name: r.service_name,
                resource_group: r.resource_group,
                cost: r.cost,
                amortized_cost: r.amortized_cost,
                currency: r.currency,
            };
            (window, row)
        })
        .collect())
}
