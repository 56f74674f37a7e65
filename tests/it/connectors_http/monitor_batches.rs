//! Monitor: batches with a per-metric error, a failing batch, the fallback, chunks of 50.

use axum::response::Response;
use azcops::azure::monitor::{self, MonitorOptions, VmTarget};
use chrono::Utc;
use serde_json::{Value, json};

use super::{Received, SUB, client, context, received, reply, serve};

pub(super) fn vm_id(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/{name}"
    )
}

pub(super) fn series(values: &[f64]) -> Value {
    let data: Vec<Value> = values
        .iter()
        .enumerate()
        .map(|(h, v)| json!({"timeStamp": format!("2024-05-01T{h:02}:00:00Z"), "average": v, "maximum": v + 1.0, "minimum": v - 1.0}))
        .collect();
    json!([{"metadatavalues": [], "data": data}])
}

pub(super) fn metric(name: &str, values: &[f64]) -> Value {
    json!({"name": {"value": name, "localizedValue": name}, "unit": "Percent", "errorCode": "Success", "timeseries": series(values)})
}

pub(super) fn vm_item(id: &str, memory_fails: bool) -> Value {
    let memory = if memory_fails {
        json!({"name": {"value": "Available Memory Bytes"}, "errorCode": "InternalServerError", "errorMessage": "store timed out", "timeseries": []})
    } else {
        metric("Available Memory Bytes", &[4e9, 5e9])
    };
    let network = json!({"name": {"value": "Network Out Total"}, "unit": "Bytes", "errorCode": "Success",
        "timeseries": [{"metadatavalues": [], "data": [{"timeStamp": "2024-05-01T00:00:00Z", "total": 1e6}]}]});
    json!({"resourceid": id, "resourceregion": "westeurope", "value": [metric("Percentage CPU", &[2.0, 4.0]), memory, network]})
}

pub(super) fn monitor_answer(request: &Received, _base: &str) -> Response {
    if request.method == "GET" {
        // The per-resource ARM fallback: vm-b1 answers, vm-b2 is gone.
        if request.target.contains("/vm-b1/") {
            let answer =
                json!({"interval": "PT1H", "value": vm_item(&vm_id("vm-b1"), false)["value"]});
            return reply(200, &answer);
        }
        return reply(
            404,
            &json!({"error": {"code": "ResourceNotFound", "message": "gone"}}),
        );
    }
    let ids: Vec<String> =
        serde_json::from_value(request.body["resourceids"].clone()).expect("resourceids");
    if ids.iter().any(|id| id.ends_with("/vm-b1")) {
        return reply(
            403,
            &json!({"error": {"code": "AuthorizationFailed", "message": "no Monitoring Reader"}}),
        );
    }
    let values: Vec<Value> = ids
        .iter()
        .map(|id| vm_item(id, id.ends_with("/vm-a1")))
        .collect();
    reply(200, &json!({"values": values}))
}

pub(super) fn targets() -> Vec<VmTarget> {
    let vm = |name: &str, location: &str| VmTarget {
        resource_id: vm_id(name),
        location: location.into(),
    };
    vec![
        vm("vm-a1", "westeurope"),
        vm("vm-a2", "westeurope"),
        vm("vm-b1", "eastus"),
        vm("vm-b2", "eastus"),
    ]
}

#[tokio::test]
async fn monitor_batches_keep_good_metrics_beside_a_failed_metric_and_a_failed_batch() {
    let (azure, log) = serve(monitor_answer).await;
    let (client, ctx) = (client(&azure), context());
    let options = MonitorOptions {
        fallback_to_per_vm: false,
        ..MonitorOptions::last_14_days(Utc::now())
    };

    let vms = monitor::collect(&client, &ctx, &targets(), &options)
        .await
        .expect("collection survives");

    assert_eq!(vms.len(), 4);
    let (a1, a2, b1) = (&vms[0], &vms[1], &vms[2]);
    assert_eq!(
        a1.cpu_percent.map(|s| (s.avg, s.max, s.min, s.samples)),
        Some((3.0, 5.0, 1.0, 2))
    );
    assert_eq!(a1.available_memory_bytes, None);
    assert_eq!(
        a1.errors,
        ["Available Memory Bytes: InternalServerError: store timed out"]
    );
    assert!(a2.errors.is_empty() && a2.available_memory_bytes.map(|s| s.min) == Some(4e9 - 1.0));
    assert!(
        b1.cpu_percent.is_none()
            && b1.errors[0].starts_with("batch:")
            && b1.errors[0].contains("AuthorizationFailed")
    );
    let requests = received(&log);
    assert_eq!(requests.len(), 2, "one batch per region, no per-VM calls");
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert!(request.target.starts_with(&format!(
            "/subscriptions/{SUB}/metrics:getBatch?api-version=2024-02-01"
        )));
        for part in [
            "metricnamespace=Microsoft.Compute/virtualMachines",
            "metricnames=Percentage CPU,Available Memory Bytes,Network Out Total",
            "interval=PT1H",
            "aggregation=average,maximum,minimum,total",
            "starttime=",
            "endtime=",
        ] {
            assert!(
                request.target.contains(part),
                "{part} in {}",
                request.target
            );
        }
        assert_eq!(
            request.body["resourceids"].as_array().map(Vec::len),
            Some(2)
        );
    }
}

#[tokio::test]
async fn a_failed_batch_falls_back_to_one_arm_call_per_vm() {
    let (azure, log) = serve(monitor_answer).await;
    let (client, ctx) = (client(&azure), context());

    let vms = monitor::collect(
        &client,
        &ctx,
        &targets(),
        &MonitorOptions::last_14_days(Utc::now()),
    )
    .await
    .expect("collection");

    let (b1, b2) = (&vms[2], &vms[3]);
    assert_eq!(b1.cpu_percent.map(|s| s.avg), Some(3.0));
    assert!(b1.errors.is_empty(), "{:?}", b1.errors);
    assert!(
        b2.errors[0].starts_with("batch:")
            && b2.errors[1].starts_with("per-resource:")
            && b2.errors[1].contains("ResourceNotFound")
    );
    let requests = received(&log);
    let gets: Vec<&Received> = requests.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(gets.len(), 2);
    assert!(gets.iter().all(|r| {
        r.target
            .contains("/providers/Microsoft.Insights/metrics?api-version=2023-10-01")
            && r.target.contains("timespan=")
    }));
}

#[tokio::test]
async fn batches_hold_at_most_fifty_vms() {
    let (azure, log) = serve(monitor_answer).await;
    let (client, ctx) = (client(&azure), context());
    let vms: Vec<VmTarget> = (0..120)
        .map(|n| VmTarget {
            resource_id: vm_id(&format!("vm-a{n:03}")),
            location: "westeurope".into(),
        })
        .collect();

    let collected = monitor::collect(
        &client,
        &ctx,
        &vms,
        &MonitorOptions::last_14_days(Utc::now()),
    )
    .await
    .expect("collection");

    assert_eq!(collected.len(), 120);
    let mut sizes: Vec<usize> = received(&log)
        .iter()
        .filter_map(|r| r.body["resourceids"].as_array().map(Vec::len))
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [20, 50, 50]);
}
