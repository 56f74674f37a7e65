//! Export jobs (`POST /api/v1/exports`): the job row is created by the API, a queue message
//! (`{"v":1,"export_id":…,"tenant_id":…}` on `AZCOPS_EXPORT_QUEUE`) hands the work to the
//! `export-job` function ([`worker`]), which streams the rows from the database through gzip
//! into the lake at `{tenant}/exports/{id}/…` and records the row count and SHA-256; the API
//! then hands out a short-lived, read-only download link ([`ExportJobs::download_link`]): a SAS
//! of the file's blob when the lake is a blob container (in Azure a user-delegation SAS), else
//! a link the handler itself serves ([`link`]).

pub mod link;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::storage::lake::{Lake, LakeLocation};
use crate::storage::queue::QueueClient;
use link::LinkKey;

pub use crate::config::ExportJobConfig;

/// The schema version of the queue message this build writes and reads.
pub const MESSAGE_VERSION: u32 = 1;

/// The queue message of one export job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportMessage {
    pub v: u32,
    pub export_id: Uuid,
    pub tenant_id: Uuid,
}

impl ExportMessage {
    /// The message of job `export_id` of `tenant_id`.
    pub fn new(tenant_id: Uuid, export_id: Uuid) -> Self {
        Self {
            v: MESSAGE_VERSION,
            export_id,
            tenant_id,
        }
    }

    /// Parses a message's text; the error says why it can never be processed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let message: Self =
            serde_json::from_str(text).map_err(|e| format!("not an export job message: {e}"))?;
        if message.v != MESSAGE_VERSION {
            return Err(format!(
                "export job message version {}; this build reads version {MESSAGE_VERSION}",
                message.v
            ));
        }
        Ok(message)
    }

    /// The compact JSON text put on the queue.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What export jobs need: their queue, the lake (opened on first use) and the link key.
pub struct ExportJobs {
    queue: QueueClient,
    queue_ready: OnceCell<()>,
    lake_location: LakeLocation,
    lake: OnceCell<Lake>,
    pub links: LinkKey,
    /// As host.json's `maxDequeueCount`: the last delivery fails the job for good.
    pub max_dequeue_count: u32,
}

impl ExportJobs {
    /// Export jobs over these parts.
    pub fn new(
        queue: QueueClient,
        lake_location: LakeLocation,
        links: LinkKey,
        max_dequeue_count: u32,
    ) -> Self {
        Self {
            queue,
            queue_ready: OnceCell::new(),
            lake_location,
            lake: OnceCell::new(),
            links,
            max_dequeue_count,
        }
    }

    /// Puts job `export_id`'s message on the queue (created on first use).
    pub async fn enqueue(&self, tenant_id: Uuid, export_id: Uuid) -> anyhow::Result<()> {
        self.queue_ready
            .get_or_try_init(|| self.queue.create_if_missing())
            .await?;
        self.queue
            .send(&ExportMessage::new(tenant_id, export_id).to_text(), None)
            .await?;
        Ok(())
    }

    /// The read-only link of finished job `export_id`'s file at `lake_path`, valid for the
    /// link TTL: a SAS of the blob when the lake can sign one (a blob container with an account
    /// key, or Entra ID: a user-delegation SAS), so the download goes straight to the storage
    /// account; otherwise (a local folder, a connection that is itself a SAS), or if signing
    /// fails (logged here), the handler's own signed link ([`link`]).
    pub async fn download_link(
        &self,
        tenant_id: Uuid,
        export_id: Uuid,
        lake_path: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> link::Link {
        let signed = match self.lake().await {
            Ok(lake) => lake
                .read_url(&object_store::path::Path::from(lake_path), self.links.ttl)
                .await
                .map_err(anyhow::Error::new),
            Err(e) => Err(e),
        };
        match signed {
            Ok(Some(url)) => {
                // The SAS's expiry is set from this machine's clock, as Azure reads it.
                let ttl = chrono::Duration::from_std(self.links.ttl)
                    .unwrap_or(chrono::Duration::minutes(15));
                return link::Link {
                    url: url.to_string(),
                    expires_at: chrono::Utc::now() + ttl,
                };
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(
                export.id = %export_id,
                error = %crate::storage::redact_sas(&format!("{e:#}")),
                "no SAS could be signed for an export's file: the handler's own link is given instead"
            ),
        }
        self.links.sign(tenant_id, export_id, now)
    }

    /// The lake, opened the first time (retried on the next call after a failure).
    pub async fn lake(&self) -> anyhow::Result<&Lake> {
        Ok(self
            .lake
            .get_or_try_init(|| Lake::open(&self.lake_location))
            .await?)
    }
}

/// Export jobs from configuration: the queue on `queue` (the ingestion queue's connection) and
/// the lake; the link key from `AZCOPS_EXPORT_LINK_KEY` or drawn at random.
pub fn from_config(
    config: &ExportJobConfig,
    queue: QueueClient,
    lake: LakeLocation,
    max_dequeue_count: u32,
) -> anyhow::Result<Arc<ExportJobs>> {
    let ttl = Duration::from_secs(config.export_link_ttl_secs);
    let links = match config.export_link_key.as_deref().map(str::trim) {
        Some(key) if !key.is_empty() => LinkKey::from_base64(key, ttl)?,
        _ => {
            tracing::warn!(
                "AZCOPS_EXPORT_LINK_KEY is not set: export download links are signed with a key of this process only"
            );
            LinkKey::random(ttl)
        }
    };
    Ok(Arc::new(ExportJobs::new(
        queue,
        lake,
        links,
        max_dequeue_count,
    )))
}
