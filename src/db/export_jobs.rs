//! Export jobs (`export_jobs`): one large export run through the queue into the lake. Each
//! function runs in the caller's transaction, limited to one tenant by row-level security.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Listed, Page};

/// One export job.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ExportJob {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `costs`, `focus`, `resources` or `recommendations`.
    pub what: String,
    /// `csv` or `jsonl`.
    pub format: String,
    /// The list filters, as given.
    #[schema(value_type = Object)]
    pub filters: serde_json::Value,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// Deliveries of its queue message so far.
    pub attempts: i32,
    /// Rows in the file, once written.
    pub row_count: Option<i64>,
    /// Size of the compressed file, once written.
    pub bytes: Option<i64>,
    /// SHA-256 (hex) of the compressed file as downloaded, once written.
    pub sha256: Option<String>,
    #[serde(skip)]
    pub lake_path: Option<String>,
    /// Why the job failed.
    pub error: Option<String>,
    pub requested_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Where a job sorts in the list: newest first, then by id (descending).
pub type JobKey = (DateTime<Utc>, Uuid);

impl ExportJob {
    /// Its place in the list order.
    pub fn key(&self) -> JobKey {
        (self.created_at, self.id)
    }
}

/// Creates a queued job; returns it.
pub async fn create(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    what: &str,
    format: &str,
    filters: &serde_json::Value,
    requested_by: &str,
) -> Result<ExportJob, sqlx::Error> {
    sqlx::query_as!(
        ExportJob,
        r#"INSERT INTO export_jobs (tenant_id, what, format, filters, requested_by)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, tenant_id, what, format, filters, status, attempts, row_count, bytes, sha256,
                     lake_path, error, requested_by, created_at, started_at, finished_at"#,
        tenant_id,
        what,
        format,
        filters,
        requested_by,
    )
    .fetch_one(conn)
    .await
}

/// One job, if the transaction's tenant may see it.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<ExportJob>, sqlx::Error> {
    sqlx::query_as!(
        ExportJob,
        r#"SELECT id, tenant_id, what, format, filters, status, attempts, row_count, bytes, sha256,
                  lake_path, error, requested_by, created_at, started_at, finished_at
           FROM export_jobs WHERE id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// A page of jobs (of `tenant_id` when given), newest first, with the total when asked.
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    page: &Page<JobKey>,
) -> Result<Listed<ExportJob>, sqlx::Error> {
    let total = if page.count {
        Some(
            sqlx::query_scalar!(
                r#"SELECT count(*) AS "count!" FROM export_jobs WHERE ($1::uuid IS NULL OR tenant_id = $1)"#,
                tenant_id
            )
            .fetch_one(&mut *conn)
            .await?,
        )
    } else {
        None
    };
    let after = page.after();
    let rows = sqlx::query_as!(
        ExportJob,
        r#"SELECT id, tenant_id, what, format, filters, status, attempts, row_count, bytes, sha256,
                  lake_path, error, requested_by, created_at, started_at, finished_at
           FROM export_jobs
           WHERE ($1::uuid IS NULL OR tenant_id = $1)
             AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3::uuid))
           ORDER BY created_at DESC, id DESC
           LIMIT $4 OFFSET $5"#,
        tenant_id,
        after.map(|k| k.0),
        after.map(|k| k.1),
        page.fetch(),
        page.offset(),
    )
    .fetch_all(conn)
    .await?;
    Ok(Listed { rows, total })
}

/// Marks a queued or running job as running (one more attempt); `None` when it is finished
/// already (or unknown).
pub async fn start(conn: &mut PgConnection, id: Uuid) -> Result<Option<ExportJob>, sqlx::Error> {
    sqlx::query_as!(
        ExportJob,
        r#"UPDATE export_jobs SET status = 'running', attempts = attempts + 1,
                  started_at = coalesce(started_at, now()), error = NULL
           WHERE id = $1 AND status IN ('queued', 'running')
           RETURNING id, tenant_id, what, format, filters, status, attempts, row_count, bytes, sha256,
                     lake_path, error, requested_by, created_at, started_at, finished_at"#,
        id,
    )
    .fetch_optional(conn)
    .await
}

/// What a finished file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub rows: i64,
    pub bytes: i64,
    pub sha256: String,
    pub lake_path: String,
}

/// Marks a job succeeded with its file.
pub async fn succeed(conn: &mut PgConnection, id: Uuid, file: &Written) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE export_jobs SET status = 'succeeded', row_count = $2, bytes = $3, sha256 = $4,
                  lake_path = $5, error = NULL, finished_at = now()
           WHERE id = $1"#,
        id,
        file.rows,
        file.bytes,
        file.sha256,
        file.lake_path,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Records why an attempt failed: the job fails for good when `last`, else it waits for the
/// queue's next delivery (still `running`, the error kept).
pub async fn fail(
    conn: &mut PgConnection,
    id: Uuid,
    error: &str,
    last: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE export_jobs
           SET status = CASE WHEN $3 THEN 'failed' ELSE status END, error = $2,
               finished_at = CASE WHEN $3 THEN now() ELSE finished_at END
           WHERE id = $1 AND status IN ('queued', 'running')"#,
        id,
        error,
        last,
    )
    .execute(conn)
    .await?;
    Ok(())
}
