//! Monitor for every resource kind: one batch per namespace with that namespace's metrics,
//! totals for counters, a disk's consumed percentages, "no data" kept apart from failures,
//! a failing namespace isolated and its per-resource fallback.

use axum::response::Response;
use azcops::azure::monitor::kinds::{
    DISK_IOPS_CONSUMED_METRIC, DISK_MBPS_CONSUMED_METRIC, NETWORK_OUT_METRIC, PLAN_CPU_METRIC,
    SQL_DTU_METRIC,
};
use azcops::azure::monitor::{
    self, CPU_METRIC, MEMORY_METRIC, MetricKind, MetricTarget, MonitorOptions, ResourceMetrics,
};
use chrono::Utc;
use serde_json::{Value, json};

use super::{Received, SUB, client, context, received, reply, serve};

const MIB: f64 = 1_048_576.0;

fn id(kind: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourcegroups/rg/providers/{kind}/{name}")
}

fn targets() -> Vec<MetricTarget> {
    let target = |kind_path: &str, name: &str, kind: MetricKind| MetricTarget {
        resource_id: id(kind_path, name),
        location: "westeurope".into(),
        kind,
    };
    vec![
        target(
            "microsoft.compute/virtualmachines",
            "vm-busy",
            MetricKind::Vm,
        ),
        target(
            "microsoft.compute/virtualmachines",
            "vm-idle",
            MetricKind::Vm,
        ),
        target(
            "microsoft.compute/virtualmachinescalesets",
            "ss",
            MetricKind::ScaleSet,
        ),
        target(
            "microsoft.compute/disks",
            "disk-p30",
            MetricKind::ManagedDisk {
                iops_limit: Some(120.0),
                mbps_limit: Some(25.0),
            },
        ),
        target(
            "microsoft.compute/disks",
            "disk-unknown",
            MetricKind::ManagedDisk {
                iops_limit: None,
                mbps_limit: None,
            },
        ),
        target(
            "microsoft.web/serverfarms",
            "plan",
            MetricKind::AppServicePlan,
        ),
        target(
            "microsoft.sql/servers/db/databases",
            "db",
            MetricKind::SqlDatabase,
        ),
    ]
}

/// Three hourly points of `metric`; a resource named `*-idle` has none with data.
fn metric(resource: &str, name: &str) -> Value {
    let values: [f64; 3] = match name {
        "Composite Disk Read Operations/sec" => [100.0, 50.0, 10.0],
        "Composite Disk Write Operations/sec" => [20.0, 10.0, 2.0],
        "Composite Disk Read Bytes/sec" => [25.0 * MIB, 0.0, 0.0],
        "Composite Disk Write Bytes/sec" => [0.0, 0.0, 0.0],
        "Network Out Total" => [1e6, 2e6, 3e6],
        "Available Memory Bytes" => [4e9, 5e9, 6e9],
        _ => [2.0, 4.0, 6.0],
    };
    let data: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(h, v)| {
            let stamp = format!("2024-05-01T{h:02}:00:00Z");
            if resource.ends_with("-idle") {
                return json!({"timeStamp": stamp});
            }
            json!({"timeStamp": stamp, "average": v / if name == NETWORK_OUT_METRIC { 60.0 } else { 1.0 },
                   "maximum": v, "minimum": v, "total": v})
        })
        .collect();
    json!({"name": {"value": name, "localizedValue": name}, "unit": "Unspecified-by-test",
           "errorCode": "Success", "timeseries": [{"metadatavalues": [], "data": data}]})
}

fn params(request: &Received) -> Vec<(String, String)> {
    url::form_urlencoded::parse(request.raw_query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(request: &Received, name: &str) -> String {
    params(request)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .unwrap_or_default()
}

fn metrics_of(request: &Received, resource: &str) -> Vec<Value> {
    param(request, "metricnames")
        .split(',')
        .map(|name| {
            if name == SQL_DTU_METRIC {
                json!({"name": {"value": name}, "errorCode": "InternalServerError",
                       "errorMessage": "store timed out", "timeseries": []})
            } else {
                metric(resource, name)
            }
        })
        .collect()
}

/// Batches answer per namespace; App Service plans' batch fails (403) and their per-resource
/// ARM call answers.
fn monitor_answer(request: &Received, _base: &str) -> Response {
    if request.method == "GET" {
        let resource = request
            .target
            .split("/providers/Microsoft.Insights")
            .next()
            .unwrap_or_default();
        return reply(
            200,
            &json!({"interval": "PT1H", "value": metrics_of(request, resource)}),
        );
    }
    if param(request, "metricnamespace") == "Microsoft.Web/serverfarms" {
        return reply(
            403,
            &json!({"error": {"code": "AuthorizationFailed", "message": "no Monitoring Reader"}}),
        );
    }
    let ids: Vec<String> =
        serde_json::from_value(request.body["resourceids"].clone()).expect("resourceids");
    let values: Vec<Value> = ids
        .iter()
        .map(|id| json!({"resourceid": id, "resourceregion": "westeurope",
                         "namespace": param(request, "metricnamespace"), "value": metrics_of(request, id)}))
        .collect();
    reply(200, &json!({"values": values}))
}

fn find<'a>(resources: &'a [ResourceMetrics], name: &str) -> &'a ResourceMetrics {
    resources
        .iter()
        .find(|r| r.resource_id.ends_with(&format!("/{name}")))
        .expect("resource")
}

#[tokio::test]
async fn each_namespace_gets_one_batch_with_its_metrics_and_the_aggregations_they_need() {
    let (azure, log) = serve(monitor_answer).await;
    let (client, ctx) = (client(&azure), context());
    let options = MonitorOptions::last_14_days(Utc::now());

    let resources = monitor::collect_resources(&client, &ctx, &targets(), &options)
        .await
        .expect("collection");

    assert_eq!(resources.len(), 7);
    let mut batches: Vec<(String, String, usize)> = received(&log)
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| {
            // The total only where a metric is a counter (VMs' network out).
            let expected = if param(r, "metricnamespace") == "Microsoft.Compute/virtualMachines" {
                "average,maximum,minimum,total"
            } else {
                "average,maximum,minimum"
            };
            assert_eq!(param(r, "aggregation"), expected);
            assert_eq!(param(r, "interval"), "PT1H");
            let ids = r.body["resourceids"].as_array().map_or(0, Vec::len);
            (param(r, "metricnamespace"), param(r, "metricnames"), ids)
        })
        .collect();
    batches.sort();
    assert_eq!(
        batches,
        [
            ("Microsoft.Compute/disks".into(), "Composite Disk Read Operations/sec,Composite Disk Write Operations/sec,Composite Disk Read Bytes/sec,Composite Disk Write Bytes/sec".into(), 2),
            ("Microsoft.Compute/virtualMachineScaleSets".into(), "Percentage CPU,Available Memory Bytes".into(), 1),
            ("Microsoft.Compute/virtualMachines".into(), "Percentage CPU,Available Memory Bytes,Network Out Total".into(), 2),
            ("Microsoft.Sql/servers/databases".into(), "dtu_consumption_percent,cpu_percent".into(), 1),
            ("Microsoft.Web/serverfarms".into(), "CpuPercentage,MemoryPercentage".into(), 1),
        ]
    );
    let busy = find(&resources, "vm-busy");
    let network = busy.stats(NETWORK_OUT_METRIC).expect("network out");
    assert_eq!(
        (network.avg, network.max, network.samples),
        (2e6, 3e6, 3),
        "hourly totals"
    );
    assert_eq!(busy.stats(CPU_METRIC).map(|s| s.p95), Some(6.0));
    assert_eq!(busy.namespace, "Microsoft.Compute/virtualMachines");
    assert_eq!(
        (busy.window_start, busy.window_end),
        (options.window.start, options.window.end)
    );
    assert!(busy.errors.is_empty(), "{:?}", busy.errors);

    let disk = find(&resources, "disk-p30");
    let iops = disk.stats(DISK_IOPS_CONSUMED_METRIC).expect("iops %");
    assert_eq!((iops.max, iops.min, iops.samples), (100.0, 10.0, 3));
    let mbps = disk.stats(DISK_MBPS_CONSUMED_METRIC).expect("MBps %");
    assert_eq!((mbps.max, mbps.min), (100.0, 0.0));
    assert_eq!(
        find(&resources, "disk-unknown").series.len(),
        4,
        "no limits, raw rates only"
    );
}

#[tokio::test]
async fn no_data_failed_metrics_and_a_failed_batch_are_told_apart() {
    let (azure, log) = serve(monitor_answer).await;
    let (client, ctx) = (client(&azure), context());
    let options = MonitorOptions {
        fallback_to_per_vm: false,
        ..MonitorOptions::last_14_days(Utc::now())
    };

    let resources = monitor::collect_resources(&client, &ctx, &targets(), &options)
        .await
        .expect("collection survives");

    let idle = find(&resources, "vm-idle");
    assert!(
        idle.series.iter().all(|s| s.stats.is_none() && !s.failed),
        "idle: no data, not failed"
    );
    assert!(idle.errors.is_empty());
    let db = find(&resources, "db");
    let dtu = db.series(SQL_DTU_METRIC).expect("dtu");
    assert!(dtu.failed && dtu.stats.is_none());
    assert!(
        db.stats("cpu_percent").is_some(),
        "the other metric is kept"
    );
    let plan = find(&resources, "plan");
    assert!(
        plan.series.iter().all(|s| s.failed),
        "a failed batch is failed, never idle"
    );
    assert!(plan.errors[0].starts_with("batch:") && plan.errors[0].contains("AuthorizationFailed"));
    assert!(
        received(&log).iter().all(|r| r.method == "POST"),
        "no fallback asked for"
    );
}

#[tokio::test]
async fn a_failed_namespace_falls_back_to_one_arm_call_per_resource() {
    let (azure, log) = serve(monitor_answer).await;
    let (client, ctx) = (client(&azure), context());

    let resources = monitor::collect_resources(
        &client,
        &ctx,
        &targets(),
        &MonitorOptions::last_14_days(Utc::now()),
    )
    .await
    .expect("collection");

    let plan = find(&resources, "plan");
    assert_eq!(plan.stats(PLAN_CPU_METRIC).map(|s| s.avg), Some(4.0));
    assert!(plan.errors.is_empty(), "{:?}", plan.errors);
    let gets: Vec<Received> = received(&log)
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert_eq!(gets.len(), 1);
    assert!(gets[0].target.contains("/providers/microsoft.web/serverfarms/plan/providers/Microsoft.Insights/metrics?api-version=2023-10-01"));
    assert_eq!(
        param(&gets[0], "metricnamespace"),
        "Microsoft.Web/serverfarms"
    );
    assert_eq!(
        param(&gets[0], "metricnames"),
        "CpuPercentage,MemoryPercentage"
    );
    // The VM view of the same collection keeps CPU and memory.
    let vms = monitor::collect(
        &client,
        &ctx,
        &[monitor::VmTarget {
            resource_id: id("microsoft.compute/virtualmachines", "vm-busy"),
            location: "westeurope".into(),
        }],
        &MonitorOptions::last_14_days(Utc::now()),
    )
    .await
    .expect("vms");
    assert_eq!(vms[0].available_memory_bytes.map(|s| s.min), Some(4e9));
    assert!(find(&resources, "vm-busy").stats(MEMORY_METRIC).is_some());
}
