//! The calls of a collection: one batch (falling back to per-resource ARM calls when it fails
//! for any reason but throttling), the per-resource calls, and how their outcomes combine so
//! that one call's failure stays on its resources.

use std::collections::HashMap;

use futures::{StreamExt, stream};

use super::kinds::MetricKind;
use super::series::{ResourceMetrics, resource_metrics};
use super::stats::{VmMetrics, vm_metrics};
use super::wire::{BatchRequest, BatchResponse, MetricsResponse};
use super::{Batch, MetricsWindow, MonitorError, MonitorOptions, Single, batch_url, resource_url};
use crate::azure::client::{Api, AzureClient, CallContext};
use crate::azure::error::AzureError;

/// The kind of each target, by lower-cased resource id (a disk's limits live here).
pub(super) type Kinds = HashMap<String, MetricKind>;

/// The kind of `id`, else the plain kind of `namespace`.
fn kind_of(kinds: &Kinds, id: &str, namespace: &str) -> MetricKind {
    kinds
        .get(id)
        .copied()
        .filter(|k| k.namespace() == namespace)
        .or_else(|| MetricKind::of_namespace(namespace))
        .unwrap_or(MetricKind::Vm)
}

/// One resource through ARM: its metrics, or the request's failure.
pub(super) async fn fetch_resource(
    client: &AzureClient,
    ctx: &CallContext,
    resource_id: &str,
    kind: &MetricKind,
    window: &MetricsWindow,
) -> Result<ResourceMetrics, AzureError> {
    let url = resource_url(client, resource_id, kind.namespace(), window)?;
    let response: MetricsResponse = client.get(ctx, Api::MonitorMetrics, url).await?;
    Ok(resource_metrics(resource_id, kind, window, &response.value))
}

/// The resources of a batch answer, in the batch's order; one missing from it is failed.
pub fn resources_from_batch(
    batch: &Batch,
    response: &BatchResponse,
    kinds: &HashMap<String, MetricKind>,
    window: &MetricsWindow,
) -> Vec<ResourceMetrics> {
    batch
        .resource_ids
        .iter()
        .map(|id| {
            let kind = kind_of(kinds, id, batch.namespace);
            match find_item(response, id) {
                Some(item) => resource_metrics(id, &kind, window, &item.value),
                None => ResourceMetrics::failed(
                    id,
                    &kind,
                    window,
                    "no metrics in the batch answer".into(),
                ),
            }
        })
        .collect()
}

fn find_item<'a>(response: &'a BatchResponse, id: &str) -> Option<&'a super::wire::BatchItem> {
    response.values.iter().find(|item| {
        item.resourceid
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(id))
    })
}

/// The VMs of a batch answer (CPU and memory), in the batch's order; a VM missing from it
/// gets an error.
pub fn vms_from_batch(batch: &Batch, response: &BatchResponse) -> Vec<VmMetrics> {
    batch
        .resource_ids
        .iter()
        .map(|id| match find_item(response, id) {
            Some(item) => vm_metrics(id, &item.value),
            None => VmMetrics::failed(id, "no metrics in the batch answer".into()),
        })
        .collect()
}

/// The outcome of one call (or one batch and its fallback): the resources, and the first
/// request failure when nothing succeeded.
#[derive(Debug)]
pub struct Outcome {
    pub resources: Vec<ResourceMetrics>,
    pub failure: Option<AzureError>,
}

pub(super) async fn run_batch(
    client: &AzureClient,
    ctx: &CallContext,
    batch: Batch,
    kinds: &Kinds,
    options: &MonitorOptions,
) -> Outcome {
    let body = BatchRequest {
        resourceids: batch.resource_ids.clone(),
    };
    let answer = match batch_url(client, &batch, &options.window) {
        Ok(url) => {
            client
                .post::<_, BatchResponse>(ctx, Api::MonitorBatch, url, &body)
                .await
        }
        Err(e) => Err(e),
    };
    let error = match answer {
        Ok(response) => {
            return Outcome {
                resources: resources_from_batch(&batch, &response, kinds, &options.window),
                failure: None,
            };
        }
        Err(error) => error,
    };
    let throttled = matches!(error, AzureError::Throttled { .. });
    if options.fallback_to_per_vm && !throttled {
        tracing::warn!(azure.region = %batch.region, azure.namespace = batch.namespace, resources = batch.resource_ids.len(), error = %error, "metrics batch failed; querying its resources one by one");
        let singles = batch
            .resource_ids
            .into_iter()
            .map(|resource_id| Single {
                namespace: batch.namespace,
                resource_id,
            })
            .collect();
        return run_singles(client, ctx, singles, kinds, options, Some(&error)).await;
    }
    let resources = batch
        .resource_ids
        .iter()
        .map(|id| {
            let kind = kind_of(kinds, id, batch.namespace);
            ResourceMetrics::failed(id, &kind, &options.window, format!("batch: {error}"))
        })
        .collect();
    Outcome {
        resources,
        failure: Some(error),
    }
}

pub(super) async fn run_singles(
    client: &AzureClient,
    ctx: &CallContext,
    singles: Vec<Single>,
    kinds: &Kinds,
    options: &MonitorOptions,
    batch_error: Option<&AzureError>,
) -> Outcome {
    let window = &options.window;
    let results: Vec<(String, MetricKind, Result<ResourceMetrics, AzureError>)> =
        stream::iter(singles)
            .map(|single| async move {
                let kind = kind_of(kinds, &single.resource_id, single.namespace);
                let result = fetch_resource(client, ctx, &single.resource_id, &kind, window).await;
                (single.resource_id, kind, result)
            })
            .buffered(options.concurrency.max(1))
            .collect()
            .await;
    let mut outcome = Outcome {
        resources: Vec::new(),
        failure: None,
    };
    let mut succeeded = false;
    for (id, kind, result) in results {
        match result {
            Ok(resource) => {
                succeeded = true;
                outcome.resources.push(resource);
            }
            Err(error) => {
                let mut failed =
                    ResourceMetrics::failed(&id, &kind, window, format!("per-resource: {error}"));
                if let Some(batch_error) = batch_error {
                    failed.errors.insert(0, format!("batch: {batch_error}"));
                }
                outcome.resources.push(failed);
                outcome.failure.get_or_insert(error);
            }
        }
    }
    if succeeded {
        outcome.failure = None;
    }
    outcome
}

/// All outcomes' resources sorted by id; an error only when there were resources and every
/// call failed.
pub(super) fn combine(outcomes: Vec<Outcome>) -> Result<Vec<ResourceMetrics>, MonitorError> {
    let total: usize = outcomes.iter().map(|o| o.resources.len()).sum();
    let all_failed = total > 0
        && outcomes
            .iter()
            .all(|o| o.resources.is_empty() || o.failure.is_some());
    let mut first_failure = None;
    let mut resources = Vec::with_capacity(total);
    for outcome in outcomes {
        resources.extend(outcome.resources);
        if first_failure.is_none() {
            first_failure = outcome.failure;
        }
    }
    if let (true, Some(source)) = (all_failed, first_failure) {
        return Err(MonitorError::AllFailed {
            resources: total,
            source,
        });
    }
    resources.sort_by(|a, b| {
        (a.resource_id.as_str(), a.namespace).cmp(&(b.resource_id.as_str(), b.namespace))
    });
    Ok(resources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn window() -> MetricsWindow {
        MetricsWindow::last_days(Utc::now(), 14)
    }

    #[test]
    fn a_resource_missing_from_a_batch_answer_is_failed() {
        let batch = Batch {
            namespace: "Microsoft.Web/serverfarms",
            subscription_id: "s".into(),
            region: "westeurope".into(),
            resource_ids: vec!["/a".into(), "/b".into()],
        };
        let response: BatchResponse = serde_json::from_value(
            serde_json::json!({"values": [{"resourceid": "/A", "value": []}]}),
        )
        .unwrap();
        let resources = resources_from_batch(&batch, &response, &Kinds::new(), &window());
        assert_eq!(resources[0].errors.len(), 2, "both metrics missing for /a");
        assert_eq!(resources[1].errors, ["no metrics in the batch answer"]);
        assert!(resources.iter().all(|r| r.series.iter().all(|s| s.failed)));
        let vms = vms_from_batch(&batch, &response);
        assert_eq!(vms[1].errors, ["no metrics in the batch answer"]);
    }

    #[test]
    fn the_collection_fails_only_when_every_call_failed() {
        let failed = || Outcome {
            resources: vec![ResourceMetrics::failed(
                "/x",
                &MetricKind::Vm,
                &window(),
                "e".into(),
            )],
            failure: Some(AzureError::InvalidUrl("x".into())),
        };
        let fine = Outcome {
            resources: vec![ResourceMetrics::failed(
                "/y",
                &MetricKind::Vm,
                &window(),
                "m".into(),
            )],
            failure: None,
        };
        assert!(combine(vec![failed(), fine]).is_ok());
        assert!(matches!(
            combine(vec![failed(), failed()]),
            Err(MonitorError::AllFailed { resources: 2, .. })
        ));
        assert!(
            combine(vec![Outcome {
                resources: vec![],
                failure: None
            }])
            .unwrap()
            .is_empty()
        );
    }
}
