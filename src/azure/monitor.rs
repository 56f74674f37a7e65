//! Azure Monitor: how busy each resource was over the last 14 days, as hourly (`PT1H`)
//! statistics per metric (avg, max, min, nearest-rank p95, samples: [`stats`]), for the
//! resource kinds of [`kinds`]: VMs (CPU, available memory, network out), scale sets (CPU,
//! memory), managed disks (read/write operations and bytes per second, and from them the
//! consumed share of the provisioned IOPS and MBps: [`consumed`]), App Service plans (CPU,
//! memory) and SQL databases (DTU, CPU). The VM underutilisation rule is in [`rules`].
//!
//! The data plane batch API is preferred: `POST {monitor endpoint of the region}/subscriptions
//! /{sub}/metrics:getBatch?api-version=2024-02-01&metricnamespace=…&…` with
//! `{"resourceids":[…]}`, up to 50 resources of one subscription, region and namespace a call
//! ([`plan`]). The per-resource ARM call (`GET {resourceId}/providers/Microsoft.Insights/metrics
//! ?api-version=2023-10-01&…`) serves single resources ([`collect_vm`]), resources that cannot
//! be batched, and as the fallback for a batch that failed for any reason but throttling (e.g.
//! no Monitoring Reader on the subscription).
//!
//! Failures are isolated and visible ([`series`]): a metric Azure reports an error for (inside
//! a 200) is a failed series of its resource, the others kept; a failed call fails every
//! series of its resources. A failed series is never "no data", so a failure never reads as
//! an idle resource. The collection fails only when every call failed, so the job can be
//! retried. [`metric_batches`] yields each call's outcome as it completes, so a caller can
//! write results (and the raw answers its recorder kept) batch by batch.

pub mod consumed;
pub mod kinds;
pub mod plan;
pub mod rules;
mod run;
pub mod series;
pub mod stats;
pub mod wire;

use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use futures::{Stream, StreamExt, stream};

use run::{Kinds, combine, fetch_resource, run_batch, run_singles};

pub use kinds::{
    APP_SERVICE_PLAN_NAMESPACE, Aggregation, DISK_NAMESPACE, MetricKind, MetricSpec, MetricTarget,
    SCALE_SET_NAMESPACE, SQL_DATABASE_NAMESPACE, VM_NAMESPACE, aggregations_of, metric_names,
    metrics_of,
};
pub use plan::{Batch, MAX_BATCH, Plan, Single, VmTarget, plan_batches, plan_targets};
pub use rules::{UnderutilisationThresholds, underutilisation_reason};
pub use run::{Outcome, resources_from_batch, vms_from_batch};
pub use series::{MetricSeries, ResourceMetrics, resource_metrics};
pub use stats::{
    CPU_METRIC, MEMORY_METRIC, MetricStats, VmMetrics, metric_stats, metric_stats_with,
    percentile_nearest_rank, vm_metrics,
};
pub use wire::{BatchRequest, BatchResponse, MetricsResponse};

use super::client::{AzureClient, CallContext};
use super::error::AzureError;

/// api-version of the batch API.
pub const BATCH_API_VERSION: &str = "2024-02-01";
/// api-version of the ARM metrics API.
pub const ARM_API_VERSION: &str = "2023-10-01";
/// The time grain.
pub const INTERVAL: &str = "PT1H";

/// Why a metrics collection failed.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// A single resource's request failed.
    #[error("Monitor metrics: {0}")]
    Azure(#[from] AzureError),
    /// Every call of a collection failed (the first failure is given).
    #[error("Monitor metrics: all {resources} resources failed: {source}")]
    AllFailed {
        resources: usize,
        #[source]
        source: AzureError,
    },
}

impl MonitorError {
    /// True when running the collection again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Azure(source) | Self::AllFailed { source, .. } => source.is_retryable(),
        }
    }
}

/// The period metrics are read for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl MetricsWindow {
    /// The `days` days up to the start of the current hour.
    pub fn last_days(now: DateTime<Utc>, days: i64) -> Self {
        let end = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        Self {
            start: end - Duration::days(days),
            end,
        }
    }

    fn format(time: DateTime<Utc>) -> String {
        time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

/// How to collect.
#[derive(Debug, Clone)]
pub struct MonitorOptions {
    pub window: MetricsWindow,
    /// Use the batch API (else one ARM call per resource).
    pub use_batch: bool,
    /// Retry the resources of a failed (not throttled) batch one by one through ARM.
    pub fallback_to_per_vm: bool,
    /// Calls in flight at once.
    pub concurrency: usize,
}

impl MonitorOptions {
    /// The defaults: the last 14 days, batches with per-resource fallback, 4 calls at once.
    pub fn last_14_days(now: DateTime<Utc>) -> Self {
        Self {
            window: MetricsWindow::last_days(now, 14),
            use_batch: true,
            fallback_to_per_vm: true,
            concurrency: 4,
        }
    }
}

/// The batch call of `batch` (its namespace's metrics).
pub fn batch_url(
    client: &AzureClient,
    batch: &Batch,
    window: &MetricsWindow,
) -> Result<url::Url, AzureError> {
    let path = format!("/subscriptions/{}/metrics:getBatch", batch.subscription_id);
    let (start, end) = (
        MetricsWindow::format(window.start),
        MetricsWindow::format(window.end),
    );
    let names = metric_names(batch.namespace);
    let query = [
        ("api-version", BATCH_API_VERSION),
        ("metricnamespace", batch.namespace),
        ("metricnames", names.as_str()),
        ("starttime", start.as_str()),
        ("endtime", end.as_str()),
        ("interval", INTERVAL),
        ("aggregation", aggregations_of(batch.namespace)),
    ];
    client.monitor_url(&batch.region, &path, &query)
}

/// The ARM call for one resource of `namespace`.
pub fn resource_url(
    client: &AzureClient,
    resource_id: &str,
    namespace: &str,
    window: &MetricsWindow,
) -> Result<url::Url, AzureError> {
    if !resource_id.starts_with('/') || resource_id.split('/').any(|s| s == "..") {
        return Err(AzureError::InvalidUrl(format!(
            "`{resource_id}` is not an ARM resource id"
        )));
    }
    let path = format!("{resource_id}/providers/Microsoft.Insights/metrics");
    let timespan = format!(
        "{}/{}",
        MetricsWindow::format(window.start),
        MetricsWindow::format(window.end)
    );
    let names = metric_names(namespace);
    let query = [
        ("api-version", ARM_API_VERSION),
        ("metricnamespace", namespace),
        ("metricnames", names.as_str()),
        ("timespan", timespan.as_str()),
        ("interval", INTERVAL),
        ("aggregation", aggregations_of(namespace)),
    ];
    client.arm_url(&path, &query)
}

/// The ARM call for one VM.
pub fn vm_url(
    client: &AzureClient,
    resource_id: &str,
    window: &MetricsWindow,
) -> Result<url::Url, AzureError> {
    resource_url(client, resource_id, VM_NAMESPACE, window)
}

/// The CPU and memory of one VM through the ARM API (per-metric errors are in its `errors`).
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = ctx.subscription_id.as_deref(), azure.resource_id = resource_id))]
pub async fn collect_vm(
    client: &AzureClient,
    ctx: &CallContext,
    resource_id: &str,
    window: &MetricsWindow,
) -> Result<VmMetrics, MonitorError> {
    let id = resource_id.to_ascii_lowercase();
    let metrics = fetch_resource(client, ctx, &id, &MetricKind::Vm, window).await?;
    Ok(VmMetrics::from(&metrics))
}

/// The CPU and memory of `vms` (the VM view of [`collect_resources`]), sorted by resource id.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = ctx.subscription_id.as_deref(), vms = vms.len()))]
pub async fn collect(
    client: &AzureClient,
    ctx: &CallContext,
    vms: &[VmTarget],
    options: &MonitorOptions,
) -> Result<Vec<VmMetrics>, MonitorError> {
    let targets: Vec<MetricTarget> = vms.iter().map(MetricTarget::from).collect();
    let outcomes: Vec<Outcome> = metric_batches(client, ctx, &targets, options)
        .collect()
        .await;
    Ok(combine(outcomes)?.iter().map(VmMetrics::from).collect())
}

/// The metrics of `targets`: batches per namespace, subscription and region (or one ARM call
/// per resource), run `options.concurrency` at a time, results sorted by resource id.
/// Per-resource and per-batch failures are failed series with the reason in `errors`; the
/// collection fails only when every call failed.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = ctx.subscription_id.as_deref(), resources = targets.len()))]
pub async fn collect_resources(
    client: &AzureClient,
    ctx: &CallContext,
    targets: &[MetricTarget],
    options: &MonitorOptions,
) -> Result<Vec<ResourceMetrics>, MonitorError> {
    let outcomes: Vec<Outcome> = metric_batches(client, ctx, targets, options)
        .collect()
        .await;
    combine(outcomes)
}

/// Each call's [`Outcome`] as it completes (batches, with their fallbacks, and the resources
/// queried one by one), `options.concurrency` calls at a time: for callers that write results
/// batch by batch instead of holding them all. The caller decides what a failed outcome
/// means ([`collect_resources`] fails only when all failed).
pub fn metric_batches<'a>(
    client: &'a AzureClient,
    ctx: &'a CallContext,
    targets: &[MetricTarget],
    options: &'a MonitorOptions,
) -> impl Stream<Item = Outcome> + 'a {
    let kinds: Arc<Kinds> = Arc::new(
        targets
            .iter()
            .map(|t| (t.resource_id.trim().to_ascii_lowercase(), t.kind))
            .collect(),
    );
    let mut plan = plan_targets(targets);
    if !options.use_batch {
        let batched = plan.batches.drain(..).flat_map(|b| {
            let namespace = b.namespace;
            b.resource_ids.into_iter().map(move |resource_id| Single {
                namespace,
                resource_id,
            })
        });
        plan.singles.extend(batched.collect::<Vec<_>>());
    }
    let batch_kinds = Arc::clone(&kinds);
    let batches = stream::iter(plan.batches)
        .map(move |batch| {
            let kinds = Arc::clone(&batch_kinds);
            async move { run_batch(client, ctx, batch, &kinds, options).await }
        })
        .buffer_unordered(options.concurrency.max(1));
    let singles = plan.singles;
    let singles = stream::iter((!singles.is_empty()).then_some(singles)).then(move |singles| {
        let kinds = Arc::clone(&kinds);
        async move { run_singles(client, ctx, singles, &kinds, options, None).await }
    });
    stream::select(batches, singles)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_at_the_hour_and_spans_fourteen_days() {
        let now = DateTime::parse_from_rfc3339("2024-05-15T10:42:13Z")
            .unwrap()
            .with_timezone(&Utc);
        let window = MetricsWindow::last_days(now, 14);
        assert_eq!(
            MetricsWindow::format(window.end),
            "2024-05-15T10:00:00.000Z"
        );
        assert_eq!(
            MetricsWindow::format(window.start),
            "2024-05-01T10:00:00.000Z"
        );
    }
}
