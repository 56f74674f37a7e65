//! The `resource_containers` aggregate: a subscription and its resource groups with their tags
//! (Resource Graph's `ResourceContainers`), so what a resource inherits can be read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// What a container is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    Subscription,
    ResourceGroup,
}

impl ContainerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerKind::Subscription => "subscription",
            ContainerKind::ResourceGroup => "resource_group",
        }
    }
}

/// One container to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContainer {
    /// Lower-cased ARM id.
    pub container_id: String,
    pub kind: ContainerKind,
    /// Lower-cased; empty for the subscription.
    pub resource_group: String,
    pub name: String,
    pub tags: BTreeMap<String, String>,
}

/// A stored container's tags.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerTags {
    pub kind: String,
    pub resource_group: String,
    pub tags: Value,
}

/// Replaces the subscription's containers with `containers`, seen at `seen_at`: rows are
/// upserted (unchanged ones left alone) and containers no longer reported are deleted.
pub async fn replace(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    seen_at: DateTime<Utc>,
    containers: &[NewContainer],
) -> Result<u64, sqlx::Error> {
    let ids: Vec<String> = containers.iter().map(|c| c.container_id.clone()).collect();
    let kinds: Vec<String> = containers
        .iter()
        .map(|c| c.kind.as_str().to_owned())
        .collect();
    let groups: Vec<String> = containers
        .iter()
        .map(|c| c.resource_group.clone())
        .collect();
    let names: Vec<String> = containers.iter().map(|c| c.name.clone()).collect();
    let tags: Vec<Value> = containers
        .iter()
        .map(|c| serde_json::to_value(&c.tags).unwrap_or_default())
        .collect();
    let written = sqlx::query!(
        r#"INSERT INTO resource_containers (tenant_id, subscription_db_id, container_id, kind, resource_group,
                                           name, tags, last_seen_at)
           SELECT $1, $2, c.id, c.kind, c.resource_group, c.name, c.tags, $3
           FROM UNNEST($4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[])
                AS c(id, kind, resource_group, name, tags)
           ON CONFLICT (tenant_id, subscription_db_id, container_id) DO UPDATE SET
               kind = EXCLUDED.kind, resource_group = EXCLUDED.resource_group, name = EXCLUDED.name,
               tags = EXCLUDED.tags, last_seen_at = greatest(resource_containers.last_seen_at, EXCLUDED.last_seen_at)
           WHERE (resource_containers.kind, resource_containers.resource_group, resource_containers.name,
                  resource_containers.tags)
                 IS DISTINCT FROM (EXCLUDED.kind, EXCLUDED.resource_group, EXCLUDED.name, EXCLUDED.tags)
              OR resource_containers.last_seen_at < EXCLUDED.last_seen_at"#,
        tenant_id,
        subscription_db_id,
        seen_at,
        &ids,
        &kinds,
        &groups,
        &names,
        &tags,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query!(
        "DELETE FROM resource_containers
         WHERE tenant_id = $1 AND subscription_db_id = $2 AND NOT (container_id = ANY($3::text[]))",
        tenant_id,
        subscription_db_id,
        &ids,
    )
    .execute(conn)
    .await?;
    Ok(written)
}

/// The subscription's containers' tags: the subscription's under the empty resource group,
/// each resource group's under its lower-cased name.
pub async fn tags_for_subscription(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
) -> Result<Vec<ContainerTags>, sqlx::Error> {
    sqlx::query_as!(
        ContainerTags,
        "SELECT kind, resource_group, tags FROM resource_containers
         WHERE tenant_id = $1 AND subscription_db_id = $2 ORDER BY kind, resource_group",
        tenant_id,
        subscription_db_id,
    )
    .fetch_all(conn)
    .await
}
