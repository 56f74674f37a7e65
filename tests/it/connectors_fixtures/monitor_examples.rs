//! Monitor examples: statistics per metric and per resource, batch items per VM.

use azcops::azure::monitor::stats::stats_by_resource;
use azcops::azure::monitor::wire::Metric;
use azcops::azure::monitor::{
    self, Batch, BatchRequest, BatchResponse, MetricStats, MetricsResponse,
};
use serde_json::Value;

use super::{body, close};

pub(super) fn stats_of(metric: &Metric) -> MetricStats {
    monitor::metric_stats(metric)
        .expect("metric succeeded")
        .expect("metric has data")
}

pub(super) fn assert_stats(
    stats: MetricStats,
    avg: f64,
    max: f64,
    min: f64,
    p95: f64,
    samples: usize,
) {
    close(stats.avg, avg);
    assert_eq!(
        (stats.max, stats.min, stats.p95, stats.samples),
        (max, min, p95, samples)
    );
}

pub(super) fn metrics_get(example: &Value) {
    let response: MetricsResponse =
        serde_json::from_value(body(example).clone()).expect("Response");
    assert_eq!(response.interval.as_deref(), Some("PT1H"));
    assert_eq!(response.value.len(), 2);
    // Five tiers × five hours: 7s, 2s and fifteen 0s.
    assert_stats(stats_of(&response.value[0]), 1.8, 7.0, 0.0, 7.0, 25);
    assert_stats(
        stats_of(&response.value[1]),
        125_245.0,
        621_492.0,
        0.0,
        621_492.0,
        25,
    );
    // Neither is a VM metric: both are recorded as missing for the VM view.
    let vm = monitor::vm_metrics(
        "/subscriptions/1f3fa6d2-851c-4a91-9087-1a050f3a9c38/x",
        &response.value,
    );
    assert_eq!(
        (vm.cpu_percent, vm.available_memory_bytes, vm.errors.len()),
        (None, None, 2)
    );
}

pub(super) fn metrics_multi_resource(example: &Value) {
    let response: MetricsResponse =
        serde_json::from_value(body(example).clone()).expect("Response");
    let by_resource = stats_by_resource(&response.value[0]);
    let prefix = "/subscriptions/92d2a2d8-b514-432d-8cc9-a5f9272630d5/resourcegroups";
    let names: Vec<&str> = by_resource
        .keys()
        .map(|k| k.rsplit('/').next().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["sas1-dev", "sas2-vm", "sas3-vm", "sas4-vm", "sas5-vm-asc"]
    );
    let sas1 =
        by_resource[&format!("{prefix}/sas1/providers/microsoft.compute/virtualmachines/sas1-dev")];
    assert_stats(sas1, 1277.0 / 13.0, 413.0, 72.0, 413.0, 13);
    let sas4 =
        by_resource[&format!("{prefix}/sas4/providers/microsoft.compute/virtualmachines/sas4-vm")];
    assert_stats(sas4, 72.0, 72.0, 72.0, 72.0, 13);
}

pub(super) fn metrics_batch(example: &Value) {
    let request: BatchRequest =
        serde_json::from_value(example["parameters"]["batchRequest"].clone()).expect("body");
    assert_eq!(request.resourceids.len(), 2);
    let response: BatchResponse = serde_json::from_value(body(example).clone()).expect("batch");
    let ids: Vec<&str> = response
        .values
        .iter()
        .filter_map(|v| v.resourceid.as_deref())
        .collect();
    assert_eq!(
        ids,
        request
            .resourceids
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert!(
        response
            .values
            .iter()
            .all(|v| v.resourceregion.as_deref() == Some("eastus"))
    );
    let ingress1 = stats_of(&response.values[0].value[0]);
    assert_stats(
        ingress1,
        430.065_607_031_036_05,
        583.0,
        342.0,
        438.073_529_411_764_7,
        13,
    );
    assert_stats(
        stats_of(&response.values[0].value[1]),
        396.141_385_485_815_8,
        1018.0,
        361.0,
        796.0,
        13,
    );
    assert_stats(
        stats_of(&response.values[1].value[0]),
        330.0,
        330.0,
        330.0,
        330.0,
        1,
    );
    assert_stats(
        stats_of(&response.values[1].value[1]),
        880.0,
        880.0,
        880.0,
        880.0,
        1,
    );
    // Mapped per requested VM (ids matched case-insensitively): no VM metrics, both missing.
    let batch = Batch {
        namespace: "Microsoft.Storage/storageAccounts",
        subscription_id: "12345678-abcd-1234-abcd-123456789abc".into(),
        region: "eastus".into(),
        resource_ids: request
            .resourceids
            .iter()
            .map(|id| id.to_ascii_lowercase())
            .collect(),
    };
    let vms = monitor::vms_from_batch(&batch, &response);
    assert_eq!(vms.len(), 2);
    assert!(
        vms.iter()
            .all(|vm| vm.errors.iter().all(|e| e.ends_with("not in the answer")))
    );
}
