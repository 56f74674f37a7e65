//! Monitor metrics: the ARM and batch APIs, and errors inside a 200.

use std::collections::HashSet;

use azure_sim::estate::Utilisation;
use azure_sim::{EstateConfig, SimConfig};
use chrono::{DurationRound, Utc};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{ARM, METRICS, Sim, small};

/// The last whole hours: `hours` of them ending at the previous full hour.
fn past_hours(hours: i64) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let end = Utc::now()
        .duration_trunc(chrono::Duration::hours(1))
        .expect("truncates");
    (end - chrono::Duration::hours(hours), end)
}

#[tokio::test]
async fn arm_metrics_return_hourly_points_and_idle_vms_stay_under_five_percent() {
    let s = Sim::start(small()).await;
    let e = &s.handle.estate;
    let vm = e
        .resources()
        .iter()
        .find(|r| {
            r.vm()
                .is_some_and(|v| v.is_running() && v.utilisation == Utilisation::Idle)
        })
        .expect("an idle VM");
    let token = s.token(vm.tenant_id, ARM).await;
    let (start, end) = past_hours(24);
    let mut url = s.url(&format!(
        "{}/providers/Microsoft.Insights/metrics",
        &vm.id[1..]
    ));
    url.query_pairs_mut()
        .append_pair("api-version", "2023-10-01")
        .append_pair("metricnames", "Percentage CPU,Available Memory Bytes")
        .append_pair(
            "timespan",
            &format!("{}/{}", start.to_rfc3339(), end.to_rfc3339()),
        )
        .append_pair("interval", "PT1H")
        .append_pair("aggregation", "average,maximum,minimum");
    let r = s.get(url, &token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (
            r.body["interval"].as_str(),
            r.body["resourceregion"].as_str()
        ),
        (Some("PT1H"), Some(vm.location))
    );
    let metrics = r.body["value"].as_array().expect("value");
    assert_eq!(
        metrics
            .iter()
            .map(|m| m["unit"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        ["Percent", "Bytes"]
    );
    let points = metrics[0]["timeseries"][0]["data"]
        .as_array()
        .expect("data");
    assert_eq!(points.len(), 24);
    assert!(
        points
            .iter()
            .all(|p| p["average"].as_f64().is_some_and(|a| a < 5.0) && p["maximum"].is_number())
    );
    assert!(metrics.iter().all(|m| m["errorCode"] == "Success"));
}

#[tokio::test]
async fn the_batch_api_takes_fifty_resources_and_rejects_fifty_one_mixed_regions_and_timespan() {
    let s = Sim::start(small()).await;
    let e = &s.handle.estate;
    let (sub, region) = e
        .subscriptions()
        .iter()
        .find_map(|sub| {
            let regions: HashSet<&str> = e
                .resources_of(sub.id)
                .iter()
                .filter(|r| r.vm().is_some())
                .map(|r| r.location)
                .collect();
            (regions.len() > 1).then(|| (sub.id, *regions.iter().next().expect("a region")))
        })
        .expect("a subscription with VMs in two regions");
    let tenant = e.subscription(sub).expect("sub").tenant_id;
    let token = s.token(tenant, METRICS).await;
    let vms: Vec<&str> = e
        .resources_of(sub)
        .iter()
        .filter(|r| r.vm().is_some())
        .map(|r| r.id.as_str())
        .collect();
    let local: Vec<String> = e
        .resources_of(sub)
        .iter()
        .filter(|r| r.vm().is_some() && r.location == region)
        .map(|r| r.id.clone())
        .collect();
    let ghost = |i: usize| {
        format!(
            "/subscriptions/{sub}/resourceGroups/rg-gone/providers/Microsoft.Compute/virtualMachines/ghost-{i}"
        )
    };
    let fifty: Vec<String> = local
        .iter()
        .cloned()
        .chain((0..).map(ghost))
        .take(50)
        .collect();
    let (start, end) = past_hours(6);
    let batch = |extra: &str| {
        let fmt = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        s.url(&format!(
            "monitor/{region}/subscriptions/{sub}/metrics:getBatch?api-version=2024-02-01&metricnamespace=Microsoft.Compute/virtualMachines&metricnames=Percentage%20CPU&starttime={}&endtime={}&interval=PT1H&aggregation=average{extra}",
            fmt(start), fmt(end)
        ))
    };
    let ok = s
        .post(batch(""), &token, &json!({"resourceids": fifty}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let values = ok.body["values"].as_array().expect("values");
    assert_eq!(values.len(), 50);
    assert_eq!(values[0]["value"][0]["errorCode"], "Success");
    assert_eq!(
        values[0]["value"][0]["timeseries"][0]["data"]
            .as_array()
            .map(Vec::len),
        Some(6)
    );
    assert_eq!(values[49]["value"][0]["errorCode"], "ResourceNotFound");
    let fifty_one: Vec<String> = (0..51).map(ghost).collect();
    let other_region = vms
        .iter()
        .find(|id| e.resource(id).is_some_and(|r| r.location != region))
        .expect("other region");
    for (url, body) in [
        (batch(""), json!({"resourceids": fifty_one})),
        (batch(""), json!({"resourceids": [local[0], other_region]})),
        (
            batch(&format!(
                "&timespan={}/{}",
                start.to_rfc3339(),
                end.to_rfc3339()
            )),
            json!({"resourceids": [local[0]]}),
        ),
    ] {
        let refused = s.post(url, &token, &body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
        assert_eq!(
            (
                refused.header("x-ms-error-code"),
                refused.body["error"]["code"].as_str()
            ),
            ("BadRequest", Some("BadRequest"))
        );
        assert!(refused.body["error"]["additionalInfo"].is_array());
    }
    let arm_token = s.token(tenant, ARM).await;
    assert_eq!(
        s.post(batch(""), &arm_token, &json!({"resourceids": [local[0]]}))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn metric_errors_are_reported_inside_a_200() {
    let s = Sim::start(SimConfig {
        estate: EstateConfig {
            metric_error_rate: 1.0,
            ..small().estate
        },
        ..small()
    })
    .await;
    let vm = s
        .handle
        .estate
        .resources()
        .iter()
        .find(|r| r.vm().is_some())
        .expect("a VM");
    let token = s.token(vm.tenant_id, ARM).await;
    let r = s
        .get(
            s.url(&format!(
                "{}/providers/Microsoft.Insights/metrics?api-version=2023-10-01&interval=PT1H",
                &vm.id[1..]
            )),
            &token,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.body["value"][0]["errorCode"], "Success");
    assert_eq!(r.body["value"][0]["timeseries"], json!([]));
}

#[tokio::test]
async fn every_namespace_serves_its_metrics_with_azures_units_and_refuses_unknown_names() {
    use azure_sim::estate::ResourceKind as K;
    let s = Sim::start(small()).await;
    let e = &s.handle.estate;
    let sub = s.subscription(0, 0);
    let token = s.token(s.tenant(0), METRICS).await;
    let cases = [
        (
            K::VirtualMachineScaleSet,
            "Microsoft.Compute/virtualMachineScaleSets",
            "Percentage CPU,Available Memory Bytes",
            ["Percent", "Bytes"],
        ),
        (
            K::Disk,
            "Microsoft.Compute/disks",
            "Composite Disk Read Operations/sec,Composite Disk Write Bytes/sec",
            ["CountPerSecond", "BytesPerSecond"],
        ),
        (
            K::AppServicePlan,
            "Microsoft.Web/serverfarms",
            "CpuPercentage,MemoryPercentage",
            ["Percent", "Percent"],
        ),
        (
            K::SqlDatabase,
            "Microsoft.Sql/servers/databases",
            "dtu_consumption_percent,cpu_percent",
            ["Percent", "Percent"],
        ),
        (
            K::VirtualMachine,
            "Microsoft.Compute/virtualMachines",
            "Network Out Total,Percentage CPU",
            ["Bytes", "Percent"],
        ),
    ];
    for (kind, namespace, names, units) in cases {
        let r = e
            .resources_of(sub)
            .iter()
            .find(|r| r.kind() == kind)
            .expect("one of each");
        let ok = s
            .batch(&token, (r.location, sub), (namespace, names), &[&r.id], 4)
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
        let metrics = ok.body["values"][0]["value"].as_array().expect("value");
        assert_eq!(
            metrics
                .iter()
                .map(|m| m["unit"].as_str().unwrap_or_default())
                .collect::<Vec<_>>(),
            units
        );
        assert_eq!(ok.body["values"][0]["namespace"], namespace);
        let unknown = s
            .batch(
                &token,
                (r.location, sub),
                (namespace, "Nonsense Metric"),
                &[&r.id],
                4,
            )
            .await;
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        let message = unknown.body["error"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.starts_with("Failed to find metric configuration for provider:"),
            "{message}"
        );
        assert!(
            message.contains("metric: Nonsense Metric, Valid metrics:"),
            "{message}"
        );
    }
    let vm = e
        .resources_of(sub)
        .iter()
        .find(|r| r.kind() == K::VirtualMachine)
        .expect("a VM");
    let mismatch = s
        .batch(
            &token,
            (vm.location, sub),
            (
                "Microsoft.Compute/disks",
                "Composite Disk Read Operations/sec",
            ),
            &[&vm.id],
            4,
        )
        .await;
    assert_eq!(
        mismatch.status,
        StatusCode::BAD_REQUEST,
        "a VM in a disks batch"
    );
    let plan = e
        .resources_of(sub)
        .iter()
        .find(|r| r.kind() == K::AppServicePlan)
        .expect("a plan");
    let arm_token = s.token(s.tenant(0), ARM).await;
    let arm = s
        .get(
            s.url(&format!(
                "{}/providers/Microsoft.Insights/metrics?api-version=2023-10-01&metricnamespace=Microsoft.Web/serverfarms&metricnames=CpuPercentage&interval=PT1H&aggregation=average,maximum",
                &plan.id[1..]
            )),
            &arm_token,
        )
        .await;
    assert_eq!(arm.status, StatusCode::OK, "{}", arm.text);
    assert_eq!(
        (
            arm.body["namespace"].as_str(),
            arm.body["value"][0]["unit"].as_str()
        ),
        (Some("Microsoft.Web/serverfarms"), Some("Percent"))
    );
    let unknown_ns = s
        .batch(
            &token,
            (vm.location, sub),
            ("Microsoft.Foo/bars", "x"),
            &[&vm.id],
            4,
        )
        .await;
    assert_eq!(unknown_ns.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_deallocated_vm_and_a_detached_disk_return_points_without_values() {
    let s = Sim::start(small()).await;
    let e = &s.handle.estate;
    let sub = s.subscription(0, 0);
    let token = s.token(s.tenant(0), METRICS).await;
    let vm = e
        .resources_of(sub)
        .iter()
        .find(|r| {
            r.vm()
                .is_some_and(|v| v.power == azure_sim::estate::PowerState::Deallocated)
        })
        .expect("a deallocated VM");
    let r = s
        .batch(
            &token,
            (vm.location, sub),
            ("Microsoft.Compute/virtualMachines", "Percentage CPU"),
            &[&vm.id],
            3,
        )
        .await;
    let data = r.body["values"][0]["value"][0]["timeseries"][0]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(data.len(), 3);
    assert!(data.iter().all(|p| {
        p.as_object()
            .is_some_and(|o| o.len() == 1 && o.contains_key("timeStamp"))
    }));
    let disk = e
        .resources_of(sub)
        .iter()
        .find(
            |r| matches!(&r.details, azure_sim::estate::Details::Disk(d) if d.managed_by.is_none()),
        )
        .expect("a detached disk");
    let r = s
        .batch(
            &token,
            (disk.location, sub),
            ("Microsoft.Compute/disks", "Composite Disk Read Bytes/sec"),
            &[&disk.id],
            3,
        )
        .await;
    assert!(crate::support::series(&r.body, 0, 0, "average").is_empty());
    assert_eq!(r.body["values"][0]["value"][0]["errorCode"], "Success");
}
