//! The `tenants` aggregate: the Azure AD tenants whose subscriptions AzCops looks after.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Listed, Page};

/// Whether the tenant is the operator's own or a customer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type, ToSchema)]
#[sqlx(type_name = "tenant_type", rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum TenantType {
    Internal,
    External,
}

/// A registered tenant.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    /// The Entra ID (directory) tenant id; its callers see this tenant.
    pub azure_tenant_id: Uuid,
    #[serde(rename = "type")]
    pub tenant_type: TenantType,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields of a tenant to create.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub name: String,
    pub azure_tenant_id: Uuid,
    pub tenant_type: TenantType,
    pub is_active: bool,
}

/// The fields of a tenant to change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct TenantChanges {
    pub name: Option<String>,
    pub tenant_type: Option<TenantType>,
    pub is_active: Option<bool>,
}

/// Inserts a tenant.
pub async fn insert(conn: &mut PgConnection, new: &NewTenant) -> Result<Tenant, sqlx::Error> {
    sqlx::query_as!(
        Tenant,
        r#"INSERT INTO tenants (name, azure_tenant_id, type, is_active)
           VALUES ($1, $2, $3, $4)
           RETURNING id, name, azure_tenant_id, type AS "tenant_type: TenantType", is_active, created_at, updated_at"#,
        new.name,
        new.azure_tenant_id,
        new.tenant_type as TenantType,
        new.is_active,
    )
    .fetch_one(conn)
    .await
}

/// One tenant by id.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Tenant>, sqlx::Error> {
    sqlx::query_as!(
        Tenant,
        r#"SELECT id, name, azure_tenant_id, type AS "tenant_type: TenantType", is_active, created_at, updated_at
           FROM tenants WHERE id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// One tenant by id, locked until the transaction ends (to record a before image).
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Option<Tenant>, sqlx::Error> {
    sqlx::query_as!(
        Tenant,
        r#"SELECT id, name, azure_tenant_id, type AS "tenant_type: TenantType", is_active, created_at, updated_at
           FROM tenants WHERE id = $1 FOR UPDATE"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// The tenant registered for an Entra ID tenant.
pub async fn find_by_azure_tenant_id(
    conn: &mut PgConnection,
    azure_tenant_id: Uuid,
) -> Result<Option<Tenant>, sqlx::Error> {
    sqlx::query_as!(
        Tenant,
        r#"SELECT id, name, azure_tenant_id, type AS "tenant_type: TenantType", is_active, created_at, updated_at
           FROM tenants WHERE azure_tenant_id = $1"#,
        azure_tenant_id,
    )
    .fetch_optional(conn)
    .await
}

/// Where a tenant sorts in lists: its name, then its id.
pub type TenantKey = (String, Uuid);

impl Tenant {
    /// Its place in the list order.
    pub fn key(&self) -> TenantKey {
        (self.name.clone(), self.id)
    }
}

/// A page of tenants by name (then id), limited to `only` when set, and the total when asked
/// for.
pub async fn list(
    conn: &mut PgConnection,
    only: Option<Uuid>,
    page: &Page<TenantKey>,
) -> Result<Listed<Tenant>, sqlx::Error> {
    let total = if page.count {
        Some(
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!" FROM tenants WHERE $1::uuid IS NULL OR id = $1"#,
                only
            )
            .fetch_one(&mut *conn)
            .await?,
        )
    } else {
        None
    };
    let (after_name, after_id) = page.after().cloned().unzip();
    let rows = sqlx::query_as!(
        Tenant,
        r#"SELECT id, name, azure_tenant_id, type AS "tenant_type: TenantType", is_active, created_at, updated_at
           FROM tenants
           WHERE ($1::uuid IS NULL OR id = $1) AND ($2::text IS NULL OR (name, id) > ($2, $3::uuid))
           ORDER BY name, id LIMIT $4 OFFSET $5"#,
        only,
        after_name,
        after_id,
        page.fetch(),
        page.offset(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Listed { rows, total })
}

/// Applies `changes` to a tenant; `None` when it does not exist.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    changes: &TenantChanges,
) -> Result<Option<Tenant>, sqlx::Error> {
    sqlx::query_as!(
        Tenant,
        r#"UPDATE tenants SET
               name = coalesce($2, name),
               type = coalesce($3, type),
               is_active = coalesce($4, is_active)
           WHERE id = $1
           RETURNING id, name, azure_tenant_id, type AS "tenant_type: TenantType", is_active, created_at, updated_at"#,
        id,
        changes.name,
        changes.tenant_type as Option<TenantType>,
        changes.is_active,
    )
    .fetch_optional(conn)
    .await
}

/// Deletes a tenant; `None` when it does not exist. Refused by the database while it has subscriptions.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<Option<Tenant>, sqlx::Error> {
    sqlx::query_as!(
        Tenant,
        r#"DELETE FROM tenants WHERE id = $1
           RETURNING id, name, azure_tenant_id, type AS "tenant_type: TenantType", is_active, created_at, updated_at"#,
        id,
    )
    .fetch_optional(conn)
    .await
}
