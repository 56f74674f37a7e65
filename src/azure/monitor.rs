//! Azure Monitor: how busy each VM was — `Percentage CPU` and `Available Memory Bytes`,
//! hourly (`PT1H`) averages, maxima and minima over the last 14 days — summarised per VM
//! ([`stats`]: avg, max, min, nearest-rank p95) and judged by the underutilisation rule
//! ([`rules`]).
//!
//! The data plane batch API is preferred: `POST {monitor endpoint of the region}/subscriptions
//! /{sub}/metrics:getBatch?api-version=2024-02-01&…` with `{"resourceids":[…]}`, up to 50 VMs
//! of one subscription and region a call ([`plan`]). The per-VM ARM call
//! (`GET {resourceId}/providers/Microsoft.Insights/metrics?api-version=2023-10-01&…`) serves
//! single VMs ([`collect_vm`]), VMs that cannot be batched, and as the fallback for a batch
//! that failed for any reason but throttling (e.g. no Monitoring Reader on the subscription).
//!
//! Failures are isolated: a metric Azure reports an error for (inside a 200) is recorded on
//! its VM and the other metric kept; a failed call is recorded on each of its VMs. The
//! collection fails only when every call failed, so the job can be retried.

pub mod plan;
pub mod rules;
mod run;
pub mod stats;
pub mod wire;

use chrono::{DateTime, Duration, DurationRound, Utc};
use futures::{StreamExt, stream};

use run::{Outcome, combine, fetch_vm, run_batch, run_singles};

pub use plan::{Batch, MAX_BATCH, Plan, VmTarget, plan_batches};
pub use rules::{UnderutilisationThresholds, underutilisation_reason};
pub use run::vms_from_batch;
pub use stats::{
    CPU_METRIC, MEMORY_METRIC, MetricStats, VmMetrics, metric_stats, percentile_nearest_rank,
    vm_metrics,
};
pub use wire::{BatchRequest, BatchResponse, MetricsResponse};

use super::client::{AzureClient, CallContext};
use super::error::AzureError;

/// api-version of the batch API.
pub const BATCH_API_VERSION: &str = "2024-02-01";
/// api-version of the ARM metrics API.
pub const ARM_API_VERSION: &str = "2023-10-01";
/// The metrics namespace of VMs.
pub const VM_NAMESPACE: &str = "Microsoft.Compute/virtualMachines";
/// Aggregations requested.
pub const AGGREGATIONS: &str = "average,maximum,minimum";
/// The time grain.
pub const INTERVAL: &str = "PT1H";

/// Why a metrics collection failed.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// A single VM's request failed.
    #[error("Monitor metrics: {0}")]
    Azure(#[from] AzureError),
    /// Every call of a collection failed (the first failure is given).
    #[error("Monitor metrics: all {vms} VMs failed: {source}")]
    AllFailed {
        vms: usize,
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
    /// Use the batch API (else one ARM call per VM).
    pub use_batch: bool,
    /// Retry the VMs of a failed (not throttled) batch one by one through ARM.
    pub fallback_to_per_vm: bool,
    /// Calls in flight at once.
    pub concurrency: usize,
}

impl MonitorOptions {
    /// The defaults: the last 14 days, batches with per-VM fallback, 4 calls at once.
    pub fn last_14_days(now: DateTime<Utc>) -> Self {
        Self {
            window: MetricsWindow::last_days(now, 14),
            use_batch: true,
            fallback_to_per_vm: true,
            concurrency: 4,
        }
    }
}

fn metric_names() -> String {
    format!("{CPU_METRIC},{MEMORY_METRIC}")
}

/// The batch call of `batch`.
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
    let names = metric_names();
    let query = [
        ("api-version", BATCH_API_VERSION),
        ("metricnamespace", VM_NAMESPACE),
        ("metricnames", names.as_str()),
        ("starttime", start.as_str()),
        ("endtime", end.as_str()),
        ("interval", INTERVAL),
        ("aggregation", AGGREGATIONS),
    ];
    client.monitor_url(&batch.region, &path, &query)
}

/// The ARM call for one VM.
pub fn vm_url(
    client: &AzureClient,
    resource_id: &str,
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
    let names = metric_names();
    let query = [
        ("api-version", ARM_API_VERSION),
        ("metricnamespace", VM_NAMESPACE),
        ("metricnames", names.as_str()),
        ("timespan", timespan.as_str()),
        ("interval", INTERVAL),
        ("aggregation", AGGREGATIONS),
    ];
    client.arm_url(&path, &query)
}

/// The metrics of one VM through the ARM API (per-metric errors are in its `errors`).
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = ctx.subscription_id.as_deref(), azure.resource_id = resource_id))]
pub async fn collect_vm(
    client: &AzureClient,
    ctx: &CallContext,
    resource_id: &str,
    window: &MetricsWindow,
) -> Result<VmMetrics, MonitorError> {
    Ok(fetch_vm(client, ctx, &resource_id.to_ascii_lowercase(), window).await?)
}

/// The metrics of `vms`: batches per subscription and region (or one ARM call per VM), run
/// `options.concurrency` at a time, results sorted by resource id. Per-VM and per-batch
/// failures are in each VM's `errors`; the collection fails only when every call failed.
#[tracing::instrument(skip_all, err, fields(azure.subscription_id = ctx.subscription_id.as_deref(), vms = vms.len()))]
pub async fn collect(
    client: &AzureClient,
    ctx: &CallContext,
    vms: &[VmTarget],
    options: &MonitorOptions,
) -> Result<Vec<VmMetrics>, MonitorError> {
    let mut plan = plan_batches(vms);
    if !options.use_batch {
        let batched = plan.batches.drain(..).flat_map(|b| b.resource_ids);
        plan.singles.extend(batched);
    }
    let batches = stream::iter(plan.batches)
        .map(|batch| run_batch(client, ctx, batch, options))
        .buffer_unordered(options.concurrency.max(1))
        .collect::<Vec<Outcome>>();
    let (mut outcomes, singles) = futures::join!(
        batches,
        run_singles(client, ctx, plan.singles, options, None)
    );
    outcomes.push(singles);
    combine(outcomes)
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
