//! Building the ingestion machinery from configuration: the queue (an [`Enqueue`] over the
//! Storage queue client) and the [`Ingestor`], whose lake is opened on first use so start-up
//! stays fast (opening may create the container).

use std::sync::Arc;

use clap::Args;
use futures::future::BoxFuture;
use tokio::sync::OnceCell;

use super::fanout::Enqueue;
use super::pipeline::Ingestor;
use crate::azure::client::AzureClient;
use crate::db::Database;
use crate::storage::connection::StorageConnection;
use crate::storage::lake::location::LAKE_URL_SETTING;
use crate::storage::lake::{Lake, LakeLocation};
use crate::storage::message::MessageEncoding;
use crate::storage::queue::QueueClient;

/// Queue and lake settings.
#[derive(Debug, Clone, Args)]
pub struct IngestionConfig {
    /// The setting holding the Storage connection of the ingestion queue (as in function.json).
    #[arg(
        long,
        env = "AZCOPS_QUEUE_CONNECTION",
        value_name = "AZCOPS_QUEUE_CONNECTION",
        default_value = "AzureWebJobsStorage"
    )]
    pub queue_connection: String,
    /// The ingestion queue (as in functions/ingest-subscription/function.json).
    #[arg(
        long,
        env = "AZCOPS_INGEST_QUEUE",
        value_name = "AZCOPS_INGEST_QUEUE",
        default_value = "azcops-ingest"
    )]
    pub queue_name: String,
    /// The follow-up queue (as in functions/ingest-follow-up/function.json), on the same
    /// connection: a full run's per-resource cost window and evaluation, when the tenant's Cost
    /// Management budget had no room for them, so that they do not wait behind other
    /// subscriptions' messages.
    #[arg(
        long,
        env = "AZCOPS_FOLLOW_UP_QUEUE",
        value_name = "AZCOPS_FOLLOW_UP_QUEUE",
        default_value = "azcops-ingest-follow-up"
    )]
    pub follow_up_queue: String,
    /// `base64` or `none`, as host.json's `extensions.queues.messageEncoding`.
    #[arg(long, env = "AZCOPS_QUEUE_MESSAGE_ENCODING", value_name = "AZCOPS_QUEUE_MESSAGE_ENCODING", default_value = "base64", value_parser = ["base64", "none"])]
    pub message_encoding: String,
    /// As host.json's `extensions.queues.maxDequeueCount`: the last attempt stops retrying.
    #[arg(long, env = "AZCOPS_QUEUE_MAX_DEQUEUE_COUNT", value_name = "AZCOPS_QUEUE_MAX_DEQUEUE_COUNT", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_dequeue_count: u32,
    /// Where raw snapshots go: `abfss://raw@<account>.dfs.core.windows.net[/prefix]`,
    /// `https://<account>.blob.core.windows.net/raw`, `az://raw` (the AzureWebJobsStorage
    /// account), `azurite://raw` or `file:///absolute/folder`. Without it the queue function
    /// cannot ingest; a value that is not a lake URL fails start-up.
    #[arg(
        long = "lake-url",
        env = LAKE_URL_SETTING,
        value_name = LAKE_URL_SETTING
    )]
    pub lake_url: Option<String>,
}

impl IngestionConfig {
    /// The queue message encoding.
    pub fn encoding(&self) -> MessageEncoding {
        if self.message_encoding == "none" {
            MessageEncoding::None
        } else {
            MessageEncoding::Base64
        }
    }

    /// The lake `lake_url` names, or `None` when it is not set; `lookup` reads the connection
    /// an `az://` lake refers to. The error names [`LAKE_URL_SETTING`] (or that connection).
    pub fn lake(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<LakeLocation>, crate::storage::lake::LakeError> {
        match self.lake_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => LakeLocation::parse(url, lookup).map(Some),
            _ => Ok(None),
        }
    }

    /// The ingestion queue, when its connection setting is present.
    pub fn queue(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<QueueClient>> {
        self.queue_named(&self.queue_name, lookup)
    }

    /// The follow-up queue, when the connection setting is present.
    pub fn follow_up_queue(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<QueueClient>> {
        self.queue_named(&self.follow_up_queue, lookup)
    }

    fn queue_named(
        &self,
        name: &str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Option<QueueClient>> {
        let present = lookup(&self.queue_connection).is_some_and(|v| !v.trim().is_empty())
            || lookup(&format!("{}__queueServiceUri", self.queue_connection)).is_some()
            || lookup(&format!("{}__accountName", self.queue_connection)).is_some();
        if !present {
            return Ok(None);
        }
        let connection = StorageConnection::from_settings(&self.queue_connection, lookup)?;
        Ok(Some(QueueClient::new(&connection, name, self.encoding())?))
    }
}

/// The queue client as the fan-out's [`Enqueue`].
pub struct QueueEnqueue(pub QueueClient);

impl Enqueue for QueueEnqueue {
    fn send(&self, text: String) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            self.0.send(&text, None).await?;
            Ok(())
        })
    }

    fn send_after(
        &self,
        text: String,
        delay: std::time::Duration,
    ) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            self.0.send(&text, Some(delay)).await?;
            Ok(())
        })
    }
}

/// The ingestor, built on first use.
pub struct LazyIngestor {
    cell: OnceCell<Arc<Ingestor>>,
    db: Arc<Database>,
    azure: AzureClient,
    lake: LakeLocation,
    max_dequeue_count: u32,
    follow_ups: Option<Arc<dyn Enqueue>>,
}

impl LazyIngestor {
    /// An ingestor over these parts; the lake at `lake` is opened by the first [`Self::get`].
    pub fn new(
        db: Arc<Database>,
        azure: AzureClient,
        lake: LakeLocation,
        max_dequeue_count: u32,
    ) -> Self {
        Self {
            cell: OnceCell::new(),
            db,
            azure,
            lake,
            max_dequeue_count,
            follow_ups: None,
        }
    }

    /// The queue follow-up messages go to (the ingestion queue itself): without one, an item
    /// never defers part of its work and waits for Azure's quotas instead.
    pub fn with_follow_ups(mut self, queue: Arc<dyn Enqueue>) -> Self {
        self.follow_ups = Some(queue);
        self
    }

    /// The ingestor, opening the lake the first time (retried on the next call after a failure).
    pub async fn get(&self) -> anyhow::Result<&Arc<Ingestor>> {
        self.cell
            .get_or_try_init(|| async {
                let lake = Lake::open(&self.lake).await?;
                Ok(Arc::new(Ingestor {
                    db: Arc::clone(&self.db),
                    azure: self.azure.clone(),
                    lake,
                    max_dequeue_count: self.max_dequeue_count,
                    follow_ups: self.follow_ups.clone(),
                }))
            })
            .await
    }
}
