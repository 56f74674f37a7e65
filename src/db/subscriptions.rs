//! The `subscriptions` aggregate: the Azure subscriptions registered for a tenant.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Listed, Page};

/// A registered Azure subscription.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Subscription {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// The Azure subscription id.
    pub subscription_id: Uuid,
    pub display_name: String,
    /// Cost Management scope to query instead of the subscription (e.g. a billing account), if any.
    pub billing_scope: Option<String>,
    /// Inactive subscriptions are kept but not ingested.
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields of a subscription to register.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub tenant_id: Uuid,
    pub subscription_id: Uuid,
    pub display_name: String,
    pub billing_scope: Option<String>,
    pub is_active: bool,
}

/// The fields to change; `None` keeps the value. `billing_scope: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionChanges {
    pub display_name: Option<String>,
    pub billing_scope: Option<Option<String>>,
    pub is_active: Option<bool>,
}

/// Which subscriptions a list returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct SubscriptionFilter {
    pub tenant_id: Option<Uuid>,
    pub is_active: Option<bool>,
}

/// Registers a subscription.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewSubscription,
) -> Result<Subscription, sqlx::Error> {
    sqlx::query_as!(
        Subscription,
        r#"INSERT INTO subscriptions (tenant_id, subscription_id, display_name, billing_scope, is_active)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, tenant_id, subscription_id, display_name, billing_scope, is_active, created_at, updated_at"#,
        new.tenant_id,
        new.subscription_id,
        new.display_name,
        new.billing_scope,
        new.is_active,
    )
    .fetch_one(conn)
    .await
}

/// One subscription by id within a tenant (`None` for every tenant).
pub async fn get(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<Subscription>, sqlx::Error> {
    sqlx::query_as!(
        Subscription,
        r#"SELECT id, tenant_id, subscription_id, display_name, billing_scope, is_active, created_at, updated_at
           FROM subscriptions WHERE id = $2 AND ($1::uuid IS NULL OR tenant_id = $1)"#,
        tenant_id,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Like [`get`], locking the row until the transaction ends.
pub async fn lock(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<Subscription>, sqlx::Error> {
    sqlx::query_as!(
        Subscription,
        r#"SELECT id, tenant_id, subscription_id, display_name, billing_scope, is_active, created_at, updated_at
           FROM subscriptions WHERE id = $2 AND ($1::uuid IS NULL OR tenant_id = $1) FOR UPDATE"#,
        tenant_id,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// Where a subscription sorts in lists: its display name, then its id.
pub type SubscriptionKey = (String, Uuid);

impl Subscription {
    /// Its place in the list order.
    pub fn key(&self) -> SubscriptionKey {
        (self.display_name.clone(), self.id)
    }
}

/// A page of subscriptions ordered by display name (then id), and the total when asked for.
pub async fn list(
    conn: &mut PgConnection,
    filter: SubscriptionFilter,
    page: &Page<SubscriptionKey>,
) -> Result<Listed<Subscription>, sqlx::Error> {
    let total = if page.count {
        Some(
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!" FROM subscriptions
                   WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::bool IS NULL OR is_active = $2)"#,
                filter.tenant_id,
                filter.is_active,
            )
            .fetch_one(&mut *conn)
            .await?,
        )
    } else {
        None
    };
    let (after_name, after_id) = page.after().cloned().unzip();
    let rows = sqlx::query_as!(
        Subscription,
        r#"SELECT id, tenant_id, subscription_id, display_name, billing_scope, is_active, created_at, updated_at
           FROM subscriptions
           WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::bool IS NULL OR is_active = $2)
             AND ($3::text IS NULL OR (display_name, id) > ($3, $4::uuid))
           ORDER BY display_name, id LIMIT $5 OFFSET $6"#,
        filter.tenant_id,
        filter.is_active,
        after_name,
        after_id,
        page.fetch(),
        page.offset(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Listed { rows, total })
}

/// Applies `changes` to a subscription of `tenant_id`; `None` when there is no such subscription.
pub async fn update(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
    changes: &SubscriptionChanges,
) -> Result<Option<Subscription>, sqlx::Error> {
    let (set_scope, scope) = match &changes.billing_scope {
        Some(value) => (true, value.clone()),
        None => (false, None),
    };
    sqlx::query_as!(
        Subscription,
        r#"UPDATE subscriptions SET
               display_name = coalesce($3, display_name),
               billing_scope = CASE WHEN $4 THEN $5 ELSE billing_scope END,
               is_active = coalesce($6, is_active)
           WHERE tenant_id = $1 AND id = $2
           RETURNING id, tenant_id, subscription_id, display_name, billing_scope, is_active, created_at, updated_at"#,
        tenant_id,
        id,
        changes.display_name,
        set_scope,
        scope,
        changes.is_active,
    )
    .fetch_optional(conn)
    .await
}

/// Deletes a subscription of `tenant_id` and, by cascade, its ingested rows.
pub async fn delete(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Subscription>, sqlx::Error> {
    sqlx::query_as!(
        Subscription,
        r#"DELETE FROM subscriptions WHERE tenant_id = $1 AND id = $2
           RETURNING id, tenant_id, subscription_id, display_name, billing_scope, is_active, created_at, updated_at"#,
        tenant_id,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// The active subscriptions of a tenant among `ids` (AzCops or Azure ids; all of them when
/// `ids` is empty), as (AzCops id, Azure id).
pub async fn active_for_ingestion(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, Uuid)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, subscription_id FROM subscriptions
         WHERE tenant_id = $1 AND is_active AND (cardinality($2::uuid[]) = 0 OR id = ANY($2) OR subscription_id = ANY($2))
         ORDER BY subscription_id",
        tenant_id,
        ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.subscription_id))
        .collect())
}

/// A subscription as ingestion needs it.
#[derive(Debug, Clone)]
pub struct IngestionTarget {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub subscription_id: Uuid,
    /// The Entra tenant whose credential reads the subscription.
    pub azure_tenant_id: Uuid,
    pub billing_scope: Option<String>,
    /// Both the subscription and its tenant are active.
    pub active: bool,
}

/// The subscription `subscription_id` (Azure id) of tenant `tenant_id`, for ingestion.
pub async fn for_ingestion(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_id: Uuid,
) -> Result<Option<IngestionTarget>, sqlx::Error> {
    sqlx::query_as!(
        IngestionTarget,
        r#"SELECT s.id, s.tenant_id, s.subscription_id, t.azure_tenant_id, s.billing_scope,
                  (s.is_active AND t.is_active) AS "active!"
           FROM subscriptions s JOIN tenants t ON t.id = s.tenant_id
           WHERE s.tenant_id = $1 AND s.subscription_id = $2"#,
        tenant_id,
        subscription_id,
    )
    .fetch_optional(conn)
    .await
}
