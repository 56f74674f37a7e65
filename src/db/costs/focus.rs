//! The daily cost rows as the FOCUS export reads them: the list's rows, filters and keyset
//! order ([`super::list`]), with what FOCUS names beside them (the subscription's display name
//! and billing scope).

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{CostFilter, CostKey};
use crate::db::{Listed, Page};

/// One day of cost for one (subscription, resource group, service, meter category).
#[derive(Debug, Clone, PartialEq)]
pub struct FocusCost {
    pub id: Uuid,
    pub subscription_db_id: Uuid,
    /// The Azure subscription id.
    pub subscription_id: Uuid,
    pub subscription_name: String,
    /// The subscription's billing scope, when it was registered with one.
    pub billing_scope: Option<String>,
    pub date: NaiveDate,
    pub resource_group: String,
    pub service_name: String,
    pub meter_category: String,
    pub cost: Decimal,
    pub amortized_cost: Decimal,
    pub currency: String,
}

impl FocusCost {
    /// Its place in the cost list's order.
    pub fn key(&self) -> CostKey {
        (
            self.date,
            self.subscription_db_id,
            self.resource_group.clone(),
            self.service_name.clone(),
            self.meter_category.clone(),
            self.id,
        )
    }
}

/// A page of cost rows in the cost list's order (newest day first), and the total when asked.
pub async fn list(
    conn: &mut PgConnection,
    f: &CostFilter,
    page: &Page<CostKey>,
) -> Result<Listed<FocusCost>, sqlx::Error> {
    let total = if page.count {
        Some(super::count(conn, f).await?)
    } else {
        None
    };
    let after = page.after();
    let rows = sqlx::query_as!(
        FocusCost,
        r#"SELECT c.id, c.subscription_db_id, s.subscription_id, s.display_name AS subscription_name, s.billing_scope,
                  c.date, c.resource_group, c.service_name, c.meter_category, c.cost, c.amortized_cost, c.currency
           FROM costs_daily c JOIN subscriptions s ON s.id = c.subscription_db_id
           WHERE ($1::uuid IS NULL OR c.tenant_id = $1)
             AND ($2::uuid IS NULL OR s.id = $2 OR s.subscription_id = $2)
             AND ($3::date IS NULL OR c.date >= $3) AND ($4::date IS NULL OR c.date <= $4)
             AND ($5::text IS NULL OR c.service_name = $5) AND ($6::text IS NULL OR c.resource_group = $6)
             AND ($7::date IS NULL OR c.date <= $7)
             AND ($7::date IS NULL OR c.date < $7
                  OR (c.subscription_db_id, c.resource_group, c.service_name, c.meter_category, c.id)
                     > ($8::uuid, $9::text, $10::text, $11::text, $12::uuid))
           ORDER BY c.date DESC, c.subscription_db_id, c.resource_group, c.service_name, c.meter_category, c.id
           LIMIT $13 OFFSET $14"#,
        f.tenant_id, f.subscription, f.from, f.to, f.service_name, f.resource_group,
        after.map(|k| k.0), after.map(|k| k.1), after.map(|k| k.2.as_str()), after.map(|k| k.3.as_str()),
        after.map(|k| k.4.as_str()), after.map(|k| k.5), page.fetch(), page.offset(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Listed { rows, total })
}
