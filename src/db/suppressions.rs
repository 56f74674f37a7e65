//! The `suppressions` aggregate: what a tenant hides from its recommendation lists and totals
//! (PHASE3 §3). A scope (tenant, subscription, resource group, resource, tag key=value) and a
//! target (one rule, a category, every rule); an exclusion lasts until removed, a snooze until
//! `expires_at`. Matching is the database function `recommendations_hidden`, which the
//! recommendation queries call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Listed, Page};

/// Which findings a suppression covers, by where they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SuppressionScope {
    Tenant,
    Subscription,
    ResourceGroup,
    Resource,
    /// Resources carrying `tag_key` = `tag_value` (themselves, or their group or subscription).
    Tag,
}

/// Which findings a suppression covers, by what found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SuppressionTarget {
    Rule,
    Category,
    All,
}

/// How long a suppression lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum SuppressionKind {
    /// Until removed.
    Exclude,
    /// Until `expires_at`.
    Snooze,
}

/// A suppression as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Suppression {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub scope: SuppressionScope,
    /// The AzCops subscription (scope `subscription`; optional for `resource_group`).
    pub subscription_db_id: Option<Uuid>,
    /// Lower-cased (scope `resource_group`).
    pub resource_group: Option<String>,
    /// Lower-cased ARM id (scope `resource`).
    pub resource_id: Option<String>,
    pub tag_key: Option<String>,
    pub tag_value: Option<String>,
    pub target: SuppressionTarget,
    pub rule_id: Option<String>,
    pub category: Option<String>,
    pub kind: SuppressionKind,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: String,
    /// Who created it (or last changed it).
    pub author: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A suppression to create; the fields must fit its scope and target (the table's checks say
/// how).
#[derive(Debug, Clone)]
pub struct NewSuppression {
    pub tenant_id: Uuid,
    pub scope: SuppressionScope,
    pub subscription_db_id: Option<Uuid>,
    pub resource_group: Option<String>,
    pub resource_id: Option<String>,
    pub tag_key: Option<String>,
    pub tag_value: Option<String>,
    pub target: SuppressionTarget,
    pub rule_id: Option<String>,
    pub category: Option<String>,
    pub kind: SuppressionKind,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: String,
    pub author: String,
}

/// Inserts a suppression.
pub async fn insert(
    conn: &mut PgConnection,
    new: &NewSuppression,
) -> Result<Suppression, sqlx::Error> {
    sqlx::query_as!(
        Suppression,
        r#"INSERT INTO suppressions (tenant_id, scope, subscription_db_id, resource_group, resource_id, tag_key,
                                    tag_value, target, rule_id, category, kind, expires_at, reason, author)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           RETURNING id, tenant_id, scope AS "scope: SuppressionScope", subscription_db_id, resource_group,
                     resource_id, tag_key, tag_value, target AS "target: SuppressionTarget", rule_id, category,
                     kind AS "kind: SuppressionKind", expires_at, reason, author, created_at, updated_at"#,
        new.tenant_id,
        new.scope as SuppressionScope,
        new.subscription_db_id,
        new.resource_group,
        new.resource_id,
        new.tag_key,
        new.tag_value,
        new.target as SuppressionTarget,
        new.rule_id,
        new.category,
        new.kind as SuppressionKind,
        new.expires_at,
        new.reason,
        new.author,
    )
    .fetch_one(conn)
    .await
}

/// Which suppressions a list returns.
#[derive(Debug, Clone, Copy)]
pub struct SuppressionFilter {
    pub tenant_id: Option<Uuid>,
    /// Only those in force at `at` (true), only expired snoozes (false), or all.
    pub active: Option<bool>,
    pub at: DateTime<Utc>,
}

/// Where a suppression sorts in lists: newest first, then by id (descending too).
pub type SuppressionKey = (DateTime<Utc>, Uuid);

impl Suppression {
    /// Its place in the list order.
    pub fn key(&self) -> SuppressionKey {
        (self.created_at, self.id)
    }
}

/// A page of suppressions, newest first, and the total when asked for.
pub async fn list(
    conn: &mut PgConnection,
    f: SuppressionFilter,
    page: &Page<SuppressionKey>,
) -> Result<Listed<Suppression>, sqlx::Error> {
    let total = if page.count {
        Some(
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!" FROM suppressions
                   WHERE ($1::uuid IS NULL OR tenant_id = $1)
                     AND ($2::boolean IS NULL OR (kind = 'exclude' OR expires_at > $3) = $2)"#,
                f.tenant_id,
                f.active,
                f.at,
            )
            .fetch_one(&mut *conn)
            .await?,
        )
    } else {
        None
    };
    let (after_created, after_id) = page.after().copied().unzip();
    let rows = sqlx::query_as!(
        Suppression,
        r#"SELECT id, tenant_id, scope AS "scope: SuppressionScope", subscription_db_id, resource_group,
                  resource_id, tag_key, tag_value, target AS "target: SuppressionTarget", rule_id, category,
                  kind AS "kind: SuppressionKind", expires_at, reason, author, created_at, updated_at
           FROM suppressions
           WHERE ($1::uuid IS NULL OR tenant_id = $1)
             AND ($2::boolean IS NULL OR (kind = 'exclude' OR expires_at > $3) = $2)
             AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
           ORDER BY created_at DESC, id DESC
           LIMIT $6 OFFSET $7"#,
        f.tenant_id,
        f.active,
        f.at,
        after_created,
        after_id,
        page.fetch(),
        page.offset(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Listed { rows, total })
}

/// Locks suppression `id` (of `tenant_id` when given) for a change.
pub async fn lock(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    id: Uuid,
) -> Result<Option<Suppression>, sqlx::Error> {
    sqlx::query_as!(
        Suppression,
        r#"SELECT id, tenant_id, scope AS "scope: SuppressionScope", subscription_db_id, resource_group,
                  resource_id, tag_key, tag_value, target AS "target: SuppressionTarget", rule_id, category,
                  kind AS "kind: SuppressionKind", expires_at, reason, author, created_at, updated_at
           FROM suppressions WHERE id = $1 AND ($2::uuid IS NULL OR tenant_id = $2)
           FOR UPDATE"#,
        id,
        tenant_id,
    )
    .fetch_optional(conn)
    .await
}

/// What a change sets: how long it lasts and why, and who changed it.
#[derive(Debug, Clone)]
pub struct SuppressionChanges {
    pub kind: SuppressionKind,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: String,
    pub author: String,
}

/// Changes a suppression's duration and reason.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    c: &SuppressionChanges,
) -> Result<Suppression, sqlx::Error> {
    sqlx::query_as!(
        Suppression,
        r#"UPDATE suppressions SET kind = $2, expires_at = $3, reason = $4, author = $5 WHERE id = $1
           RETURNING id, tenant_id, scope AS "scope: SuppressionScope", subscription_db_id, resource_group,
                     resource_id, tag_key, tag_value, target AS "target: SuppressionTarget", rule_id, category,
                     kind AS "kind: SuppressionKind", expires_at, reason, author, created_at, updated_at"#,
        id,
        c.kind as SuppressionKind,
        c.expires_at,
        c.reason,
        c.author,
    )
    .fetch_one(conn)
    .await
}

/// Deletes a suppression.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!("DELETE FROM suppressions WHERE id = $1", id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected())
}

/// The AzCops id of the tenant's subscription named by its AzCops or its Azure id.
pub async fn subscription_of(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    id: Uuid,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM subscriptions WHERE tenant_id = $1 AND (id = $2 OR subscription_id = $2)",
        tenant_id,
        id,
    )
    .fetch_optional(conn)
    .await
}
