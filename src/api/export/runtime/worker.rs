//! The `export-job` queue function: runs one export job. The rows are read in batches as the
//! synchronous exports read them (keyset, each batch in a short transaction under the job's
//! tenant), gzip-compressed as they come and uploaded to the lake in parts, so memory stays
//! bounded whatever the size; the SHA-256 and size are of the compressed file. A failed
//! attempt is retried by the queue; the last one (`maxDequeueCount`) marks the job failed with
//! the reason.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload, WriteMultipart};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{ExportJobs, ExportMessage};
use crate::api::export::costs::{Costs, ExportCosts};
use crate::api::export::focus::{Focus, FocusMetadata};
use crate::api::export::recommendations::{ExportRecommendations, Recommendations};
use crate::api::export::resources::{ExportResources, Resources};
use crate::api::export::{Export, Format, rows};
use crate::api::{AppState, Caller};
use crate::db::Scope;
use crate::db::export_jobs::{self, ExportJob, Written};
use crate::ingestion::pipeline::Disposition;

/// Compressed bytes gathered before a part is handed to the upload.
const PART_BYTES: usize = 8 * 1024 * 1024;

/// Where job `id`'s files go: `{tenant}/exports/{id}/{name}`.
pub fn file_path(tenant: Uuid, id: Uuid, name: &str) -> Path {
    Path::from_iter([
        tenant.to_string(),
        "exports".to_owned(),
        id.to_string(),
        name.to_owned(),
    ])
}

/// The data file's name: `{what}.{csv|jsonl}.gz`.
pub fn file_name(job: &ExportJob) -> String {
    format!("{}.{}.gz", job.what, job.format)
}

/// Handles one delivery of an export job message.
pub async fn handle(
    state: &AppState,
    jobs: &ExportJobs,
    text: &str,
    dequeue_count: u32,
) -> Disposition {
    let message = match ExportMessage::parse(text) {
        Ok(message) => message,
        Err(reason) => return Disposition::Rejected(reason),
    };
    // The job's own bookkeeping is not checked against the tenant's state; reading its rows is
    // ([`rows`], as a tenant's synchronous export): a deactivated tenant's job fails saying so.
    let scope = Scope::Tenant(message.tenant_id);
    let started = async {
        let mut tx = state.begin_unchecked(scope).await?;
        let job = export_jobs::start(&mut tx, message.export_id).await?;
        tx.commit().await?;
        Ok::<_, crate::api::ApiError>(job)
    }
    .await;
    let job = match started {
        Ok(Some(job)) => job,
        Ok(None) => {
            return Disposition::Done(format!(
                "export {} is finished already or unknown",
                message.export_id
            ));
        }
        Err(e) => return Disposition::Retry(format!("database: {e}")),
    };
    match run(state, jobs, &job).await {
        Ok(file) => {
            let done = async {
                let mut tx = state.begin_unchecked(scope).await?;
                export_jobs::succeed(&mut tx, job.id, &file).await?;
                tx.commit().await?;
                Ok::<_, crate::api::ApiError>(())
            }
            .await;
            match done {
                Ok(()) => Disposition::Done(format!(
                    "export {} written: {} rows, {} bytes",
                    job.id, file.rows, file.bytes
                )),
                Err(e) => Disposition::Retry(format!("database: {e}")),
            }
        }
        Err(error) => {
            let last = dequeue_count >= jobs.max_dequeue_count;
            tracing::warn!(export.id = %job.id, dequeue_count, last, %error, "export job attempt failed");
            let recorded = async {
                let mut tx = state.begin_unchecked(scope).await?;
                export_jobs::fail(&mut tx, job.id, &error, last).await?;
                tx.commit().await?;
                Ok::<_, crate::api::ApiError>(())
            }
            .await;
            match (recorded, last) {
                (Ok(()), true) => Disposition::Done(format!("export {} failed: {error}", job.id)),
                (Err(e), _) => Disposition::Retry(format!("{error}; recording it: {e}")),
                (Ok(()), false) => Disposition::Retry(error),
            }
        }
    }
}

fn filters<T: DeserializeOwned>(job: &ExportJob) -> Result<T, String> {
    serde_json::from_value(job.filters.clone())
        .map_err(|e| format!("the job's filters are not valid any more: {e}"))
}

/// Runs the job's export into the lake.
async fn run(state: &AppState, jobs: &ExportJobs, job: &ExportJob) -> Result<Written, String> {
    let caller = Caller {
        principal: job.requested_by.clone().unwrap_or_default(),
        is_admin: false,
        is_approver: false,
        scope: Scope::Tenant(job.tenant_id),
        correlation_id: None,
    };
    let format = match job.format.as_str() {
        "jsonl" => Format::Jsonl,
        _ => Format::Csv,
    };
    let bad = |e: crate::api::ApiError| format!("the job's filters are refused: {e}");
    match job.what.as_str() {
        "costs" => {
            let p: ExportCosts = filters(job)?;
            let filter = p.filter(&caller).map_err(bad)?;
            write(state, jobs, job, Costs(filter), format).await
        }
        "focus" => {
            let p: ExportCosts = filters(job)?;
            let filter = p.filter(&caller).map_err(bad)?;
            let file = write(state, jobs, job, Focus(filter), format).await?;
            write_metadata(jobs, job, &file).await?;
            Ok(file)
        }
        "resources" => {
            let p: ExportResources = filters(job)?;
            let filter = p.filter(&caller).map_err(bad)?;
            write(state, jobs, job, Resources(filter), format).await
        }
        "recommendations" => {
            let p: ExportRecommendations = filters(job)?;
            let (filter, _) = p.filter(&caller, state.now()).map_err(bad)?;
            write(state, jobs, job, Recommendations(filter), format).await
        }
        other => Err(format!("unknown export `{other}`")),
    }
}

/// Streams the export through gzip into the lake, hashing what is written.
async fn write<E: Export>(
    state: &AppState,
    jobs: &ExportJobs,
    job: &ExportJob,
    export: E,
    format: Format,
) -> Result<Written, String> {
    let lake = jobs
        .lake()
        .await
        .map_err(|e| format!("the lake cannot be opened: {e:#}"))?;
    let path = file_path(job.tenant_id, job.id, &file_name(job));
    let scope = Scope::Tenant(job.tenant_id);
    let rows = rows(state, scope, export, false, format, None)
        .await
        .map_err(|e| format!("reading the rows: {e}"))?;
    let lake_error = |e: object_store::Error| {
        format!(
            "writing the file to the lake failed: {}",
            crate::storage::redact_sas(&e.to_string())
        )
    };
    let upload = lake
        .store()
        .put_multipart(&path)
        .await
        .map_err(lake_error)?;
    let mut upload = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let mut gzip = GzEncoder::new(Vec::with_capacity(PART_BYTES), Compression::fast());
    let mut hash = Sha256::new();
    let (mut count, mut bytes) = (0_u64, 0_u64);
    let mut body = std::pin::pin!(rows.body);
    let result: Result<(), String> = async {
        while let Some((chunk, n)) = body
            .try_next()
            .await
            .map_err(|e| format!("reading the rows: {e}"))?
        {
            count += n;
            gzip.write_all(&chunk)
                .map_err(|e| format!("compressing: {e}"))?;
            if gzip.get_ref().len() >= PART_BYTES {
                let out = std::mem::take(gzip.get_mut());
                hash.update(&out);
                bytes += out.len() as u64;
                upload.wait_for_capacity(2).await.map_err(lake_error)?;
                upload.write(&out);
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = upload.abort().await;
        return Err(e);
    }
    let out = gzip.finish().map_err(|e| format!("compressing: {e}"))?;
    hash.update(&out);
    bytes += out.len() as u64;
    upload.write(&out);
    upload.finish().await.map_err(lake_error)?;
    let sha256 = hash
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    Ok(Written {
        rows: i64::try_from(count).unwrap_or(i64::MAX),
        bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
        sha256,
        lake_path: path.to_string(),
    })
}

/// Writes `focus-metadata.json` beside a FOCUS job's file.
async fn write_metadata(jobs: &ExportJobs, job: &ExportJob, file: &Written) -> Result<(), String> {
    let mut metadata = FocusMetadata::new();
    metadata.export = Some(serde_json::json!({
        "id": job.id,
        "tenant_id": job.tenant_id,
        "format": job.format,
        "filters": job.filters,
        "file": file_name(job),
        "compression": "gzip",
        "rows": file.rows,
        "bytes": file.bytes,
        "sha256": file.sha256,
        "created_at": job.created_at,
    }));
    let text = serde_json::to_vec_pretty(&metadata).map_err(|e| e.to_string())?;
    let lake = jobs
        .lake()
        .await
        .map_err(|e| format!("the lake cannot be opened: {e:#}"))?;
    let path = file_path(job.tenant_id, job.id, "focus-metadata.json");
    lake.store()
        .put(&path, PutPayload::from(text))
        .await
        .map_err(|e| {
            format!(
                "writing focus-metadata.json to the lake failed: {}",
                crate::storage::redact_sas(&e.to_string())
            )
        })?;
    Ok(())
}
