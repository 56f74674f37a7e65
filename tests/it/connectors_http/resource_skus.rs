//! Resource SKUs: the region filter, `nextLink` paging, VM sizes only, odd items skipped,
//! failures classified.

use std::sync::Arc;

use axum::response::Response;
use azcops::azure::client::Api;
use azcops::azure::resource_skus::{self, SkuError};
use serde_json::{Value, json};

use super::{
    Received, SUB, client, context, received, reply, retrying_client, serve, serve_numbered,
};

fn size(name: &str, vcpus: &str, memory: &str, restrictions: Value) -> Value {
    json!({"resourceType": "virtualMachines", "name": name, "tier": "Standard",
        "size": name.trim_start_matches("Standard_"), "family": "standardDSv3Family",
        "locations": ["westeurope"],
        "capabilities": [{"name": "vCPUs", "value": vcpus}, {"name": "MemoryGB", "value": memory},
                         {"name": "MaxDataDiskCount", "value": "8"}, {"name": "MaxNetworkInterfaces", "value": "2"},
                         {"name": "PremiumIO", "value": "True"}],
        "restrictions": restrictions})
}

fn skus_page(request: &Received, base: &str) -> Response {
    if request.target.contains("$skiptoken=2") {
        let restricted = json!([{"type": "Location", "values": ["westeurope"],
            "restrictionInfo": {"locations": ["westeurope"]}, "reasonCode": "NotAvailableForSubscription"}]);
        return reply(
            200,
            &json!({"value": [size("Standard_D4s_v3", "4", "16", restricted)]}),
        );
    }
    let next = format!(
        "{base}/subscriptions/{SUB}/providers/Microsoft.Compute/skus?api-version=2021-07-01&$filter=location%20eq%20%27westeurope%27&$skiptoken=2"
    );
    reply(
        200,
        &json!({"value": [
            size("Standard_D2s_v3", "2", "8", json!([])),
            {"resourceType": "disks", "name": "Premium_LRS", "tier": "Premium", "locations": ["westeurope"]},
            {"resourceType": "virtualMachines", "name": "Standard_Odd", "capabilities": "not a list"},
            {"resourceType": "virtualMachines", "name": "Standard_NoNics",
             "capabilities": [{"name": "vCPUs", "value": "2"}, {"name": "MemoryGB", "value": "4"}]}
        ], "nextLink": next}),
    )
}

#[tokio::test]
async fn vm_sizes_of_a_region_are_read_across_pages_and_odd_items_are_skipped() {
    let (azure, log) = serve(skus_page).await;
    let (client, ctx) = (client(&azure), context());

    let skus = resource_skus::list_vm_skus(&client, &ctx, SUB, "West Europe")
        .await
        .expect("sizes");

    let got: Vec<(&str, u32, f64, u32, u32, bool)> = skus
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.vcpus,
                s.memory_gb,
                s.max_data_disks,
                s.max_nics,
                s.restricted,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("Standard_D2s_v3", 2, 8.0, 8, 2, false),
            ("Standard_D4s_v3", 4, 16.0, 8, 2, true)
        ]
    );
    let requests = received(&log);
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].target,
        format!(
            "/subscriptions/{SUB}/providers/Microsoft.Compute/skus?api-version=2021-07-01&$filter=location eq 'westeurope'"
        )
    );
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer test-token"))
    );
    let stats = ctx.stats.api(Api::ResourceSkus);
    assert_eq!((stats.calls, stats.failures), (2, 0));
    assert!(ctx.stats.snapshot().contains_key("resource_skus"));
}

#[tokio::test]
async fn a_forbidden_subscription_is_a_final_error_and_a_503_is_retried() {
    let (azure, _log) = serve(|_, _| {
        reply(
            403,
            &json!({"error": {"code": "AuthorizationFailed", "message": "no read on skus"}}),
        )
    })
    .await;
    let (client, ctx) = (client(&azure), context());
    let err = resource_skus::list_vm_skus(&client, &ctx, SUB, "westeurope")
        .await
        .expect_err("forbidden");
    assert!(matches!(err, SkuError::Azure(_)) && !err.is_retryable());
    assert!(err.to_string().contains("AuthorizationFailed"), "{err}");

    let flaky = Arc::new(|request: &Received, base: &str, number: usize| {
        if number == 0 {
            return reply(
                503,
                &json!({"error": {"code": "ServiceUnavailable", "message": "busy"}}),
            );
        }
        skus_page(request, base)
    });
    let (azure, log) = serve_numbered(flaky).await;
    let (client, ctx) = (retrying_client(&azure), context());
    let skus = resource_skus::list_vm_skus(&client, &ctx, SUB, "westeurope")
        .await
        .expect("retried");
    assert_eq!(skus.len(), 2);
    assert_eq!(received(&log).len(), 3);
    assert_eq!(ctx.stats.api(Api::ResourceSkus).retries, 1);
}

#[tokio::test]
async fn a_location_that_is_not_a_region_name_sends_nothing() {
    let (azure, log) = serve(skus_page).await;
    let (client, ctx) = (client(&azure), context());
    let err = resource_skus::list_vm_skus(&client, &ctx, SUB, "westeurope' or name ne '")
        .await
        .expect_err("refused");
    assert!(matches!(err, SkuError::InvalidLocation(_)) && !err.is_retryable());
    let err = resource_skus::list_vm_skus(&client, &ctx, "../x", "westeurope")
        .await
        .expect_err("refused");
    assert!(matches!(err, SkuError::InvalidSubscription(_)));
    assert!(received(&log).is_empty());
}
