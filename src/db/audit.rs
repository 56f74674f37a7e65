//! The append-only `audit_logs`: who changed what, with before and after images.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

/// What happened to the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// The `tenant_id` of the audit records of no tenant: the nil UUID, which no tenant has
/// (`tenant_id` is in the key, so never NULL; only the operator sees these records).
pub const NO_TENANT: Uuid = Uuid::nil();

/// One audit record.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// The tenant the record belongs to; `None` for the operator's own records (a rejected
    /// queue message), stored under [`NO_TENANT`].
    pub tenant_id: Option<Uuid>,
    pub action: Action,
    /// Who acted: the caller's object id (or subject), never a token.
    pub actor: &'a str,
    pub target_type: &'a str,
    pub target_id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub correlation_id: Option<&'a str>,
}

impl<'a> Entry<'a> {
    /// An entry for `action` on `target_type`/`target_id`, images taken from serialisable rows.
    pub fn new<T: Serialize>(
        action: Action,
        target_type: &'a str,
        target_id: impl ToString,
        before: Option<&T>,
        after: Option<&T>,
    ) -> Self {
        let image = |row: Option<&T>| row.and_then(|r| serde_json::to_value(r).ok());
        Self {
            tenant_id: None,
            action,
            actor: "",
            target_type,
            target_id: target_id.to_string(),
            before: image(before),
            after: image(after),
            correlation_id: None,
        }
    }
}

/// Appends `entry` in the caller's transaction, so the record commits with the change it describes.
pub async fn record(conn: &mut PgConnection, entry: &Entry<'_>) -> Result<(), sqlx::Error> {
    let metadata = json!({ "before": entry.before, "after": entry.after });
    sqlx::query!(
        "INSERT INTO audit_logs (tenant_id, action, actor, target_type, target_id, metadata, correlation_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        entry.tenant_id.unwrap_or(NO_TENANT),
        entry.action.as_str(),
        entry.actor,
        entry.target_type,
        entry.target_id,
        metadata,
        entry.correlation_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}
