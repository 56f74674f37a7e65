//! The calls of a collection: one batch (falling back to per-VM ARM calls when it fails for
//! any reason but throttling), the per-VM calls, and how their outcomes combine so that one
//! call's failure stays on its VMs.

use futures::{StreamExt, stream};

use super::stats::{VmMetrics, vm_metrics};
use super::wire::{BatchRequest, BatchResponse, MetricsResponse};
use super::{Batch, MetricsWindow, MonitorError, MonitorOptions, batch_url, vm_url};
use crate::azure::client::{Api, AzureClient, CallContext};
use crate::azure::error::AzureError;

/// One VM through ARM: its metrics, or the request's failure.
pub(super) async fn fetch_vm(
    client: &AzureClient,
    ctx: &CallContext,
    resource_id: &str,
    window: &MetricsWindow,
) -> Result<VmMetrics, AzureError> {
    let url = vm_url(client, resource_id, window)?;
    let response: MetricsResponse = client.get(ctx, Api::MonitorMetrics, url).await?;
    Ok(vm_metrics(resource_id, &response.value))
}

/// The VMs of a batch answer, in the batch's order; a VM missing from it gets an error.
pub fn vms_from_batch(batch: &Batch, response: &BatchResponse) -> Vec<VmMetrics> {
    batch
        .resource_ids
        .iter()
        .map(|id| {
            let item = response.values.iter().find(|item| {
                item.resourceid
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(id))
            });
            match item {
                Some(item) => vm_metrics(id, &item.value),
                None => VmMetrics::failed(id, "no metrics in the batch answer".into()),
            }
        })
        .collect()
}

/// The outcome of one call (or one batch and its fallback): the VMs, and the first request
/// failure when nothing succeeded.
pub(super) struct Outcome {
    pub vms: Vec<VmMetrics>,
    pub failure: Option<AzureError>,
}

pub(super) async fn run_batch(
    client: &AzureClient,
    ctx: &CallContext,
    batch: Batch,
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
                vms: vms_from_batch(&batch, &response),
                failure: None,
            };
        }
        Err(error) => error,
    };
    let throttled = matches!(error, AzureError::Throttled { .. });
    if options.fallback_to_per_vm && !throttled {
        tracing::warn!(azure.region = %batch.region, vms = batch.resource_ids.len(), error = %error, "metrics batch failed; querying its VMs one by one");
        return run_singles(client, ctx, batch.resource_ids, options, Some(&error)).await;
    }
    let vms = batch
        .resource_ids
        .iter()
        .map(|id| VmMetrics::failed(id, format!("batch: {error}")))
        .collect();
    Outcome {
        vms,
        failure: Some(error),
    }
}

pub(super) async fn run_singles(
    client: &AzureClient,
    ctx: &CallContext,
    ids: Vec<String>,
    options: &MonitorOptions,
    batch_error: Option<&AzureError>,
) -> Outcome {
    let results: Vec<(String, Result<VmMetrics, AzureError>)> = stream::iter(ids)
        .map(|id| async move {
            let result = fetch_vm(client, ctx, &id, &options.window).await;
            (id, result)
        })
        .buffered(options.concurrency.max(1))
        .collect()
        .await;
    let mut outcome = Outcome {
        vms: Vec::new(),
        failure: None,
    };
    let mut succeeded = false;
    for (id, result) in results {
        match result {
            Ok(vm) => {
                succeeded = true;
                outcome.vms.push(vm);
            }
            Err(error) => {
                let mut vm = VmMetrics::failed(&id, format!("per-VM: {error}"));
                if let Some(batch_error) = batch_error {
                    vm.errors.insert(0, format!("batch: {batch_error}"));
                }
                outcome.vms.push(vm);
                outcome.failure.get_or_insert(error);
            }
        }
    }
    if succeeded {
        outcome.failure = None;
    }
    outcome
}

pub(super) fn combine(outcomes: Vec<Outcome>) -> Result<Vec<VmMetrics>, MonitorError> {
    let total: usize = outcomes.iter().map(|o| o.vms.len()).sum();
    let all_failed = total > 0
        && outcomes
            .iter()
            .all(|o| o.vms.is_empty() || o.failure.is_some());
    let mut first_failure = None;
    let mut vms = Vec::with_capacity(total);
    for outcome in outcomes {
        vms.extend(outcome.vms);
        if first_failure.is_none() {
            first_failure = outcome.failure;
        }
    }
    if let (true, Some(source)) = (all_failed, first_failure) {
        return Err(MonitorError::AllFailed { vms: total, source });
    }
    vms.sort_by(|a, b| a.resource_id.cmp(&b.resource_id));
    Ok(vms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vm_missing_from_a_batch_answer_gets_an_error() {
        let batch = Batch {
            subscription_id: "s".into(),
            region: "westeurope".into(),
            resource_ids: vec!["/a".into(), "/b".into()],
        };
        let response: BatchResponse = serde_json::from_value(
            serde_json::json!({"values": [{"resourceid": "/A", "value": []}]}),
        )
        .unwrap();
        let vms = vms_from_batch(&batch, &response);
        assert_eq!(vms[0].errors.len(), 2, "both metrics missing for /a");
        assert_eq!(
            vms[1].errors,
            vec!["no metrics in the batch answer".to_owned()]
        );
    }

    #[test]
    fn the_collection_fails_only_when_every_call_failed() {
        let failed = || Outcome {
            vms: vec![VmMetrics::failed("/x", "e".into())],
            failure: Some(AzureError::InvalidUrl("x".into())),
        };
        let fine = Outcome {
            vms: vec![VmMetrics::failed("/y", "metric".into())],
            failure: None,
        };
        assert!(combine(vec![failed(), fine]).is_ok());
        assert!(matches!(
            combine(vec![failed(), failed()]),
            Err(MonitorError::AllFailed { vms: 2, .. })
        ));
        assert!(
            combine(vec![Outcome {
                vms: vec![],
                failure: None
            }])
            .unwrap()
            .is_empty()
        );
    }
}
