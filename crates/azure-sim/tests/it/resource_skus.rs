//! Resource SKUs: the documented shape (checked against Microsoft's example), the location
//! filter, `nextLink` paging and errors.

use std::collections::HashSet;

use azure_sim::SimConfig;
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use crate::support::{ARM, Sim, small};

fn skus_url(s: &Sim, sub: uuid::Uuid, filter: Option<&str>) -> Url {
    let mut url = s.url(&format!(
        "subscriptions/{sub}/providers/Microsoft.Compute/skus"
    ));
    url.query_pairs_mut()
        .append_pair("api-version", "2021-07-01");
    if let Some(f) = filter {
        url.query_pairs_mut().append_pair("$filter", f);
    }
    url
}

fn example() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/azure-rest-examples/compute-skus/2021-07-01/ListAvailableResourceSkusForARegion.json"
    );
    let text = std::fs::read_to_string(path).expect("the Microsoft example is in the repository");
    serde_json::from_str(&text).expect("example JSON")
}

#[tokio::test]
async fn a_region_lists_every_vm_size_and_disk_tier_shaped_like_microsofts_example() {
    let s = Sim::start(small()).await;
    let sub = s.subscription(0, 0);
    let token = s.token(s.tenant(0), ARM).await;
    let r = s
        .get(skus_url(&s, sub, Some("location eq 'westeurope'")), &token)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let items = r.body["value"].as_array().expect("value");
    assert!(
        r.body.get("nextLink").is_none(),
        "one page, as Azure answers"
    );
    let sample = &example()["responses"]["200"]["body"]["value"][0];
    let vms: Vec<&Value> = items
        .iter()
        .filter(|i| i["resourceType"] == "virtualMachines")
        .collect();
    for key in sample.as_object().expect("object").keys() {
        assert!(
            vms.iter().all(|v| v.get(key).is_some()),
            "every VM SKU has `{key}`"
        );
    }
    assert!(
        items
            .iter()
            .all(|i| i["locations"] == serde_json::json!(["westeurope"]))
    );
    let capability = |item: &Value, name: &str| {
        item["capabilities"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["name"] == name))
            .and_then(|c| c["value"].as_str())
            .map(str::to_owned)
    };
    let d4 = vms
        .iter()
        .find(|v| v["name"] == "Standard_D4s_v5")
        .expect("D4s_v5");
    assert_eq!(
        [
            "vCPUs",
            "MemoryGB",
            "MaxDataDiskCount",
            "MaxNetworkInterfaces"
        ]
        .map(|n| capability(d4, n)),
        ["4", "16", "8", "2"].map(|v| Some(v.to_owned()))
    );
    assert_eq!(d4["family"], "standardDSv5Family");
    let estate_sizes: HashSet<&str> = s
        .handle
        .estate
        .resources()
        .iter()
        .filter_map(|r| r.vm())
        .flat_map(|vm| [Some(vm.size.name), vm.rightsize_target.map(|t| t.name)])
        .flatten()
        .collect();
    let listed: HashSet<&str> = vms.iter().filter_map(|v| v["name"].as_str()).collect();
    assert!(estate_sizes.is_subset(&listed), "{estate_sizes:?}");
    let p10 = items
        .iter()
        .find(|i| i["resourceType"] == "disks" && i["size"] == "P10")
        .expect("P10");
    assert_eq!(capability(p10, "MaxIOps"), Some("500".into()));
}

#[tokio::test]
async fn skus_page_by_next_link_and_count_per_subscription() {
    let s = Sim::start(SimConfig {
        sku_page_size: 40,
        ..small()
    })
    .await;
    let sub = s.subscription(0, 0);
    let token = s.token(s.tenant(0), ARM).await;
    let (mut url, mut names, mut pages) = (skus_url(&s, sub, None), Vec::new(), 0);
    loop {
        let r = s.get(url, &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        pages += 1;
        for item in r.body["value"].as_array().expect("value") {
            names.push(format!(
                "{}|{}|{}",
                item["locations"][0], item["name"], item["size"]
            ));
        }
        match r.body["nextLink"].as_str() {
            Some(next) => url = Url::parse(next).expect("absolute nextLink"),
            None => break,
        }
    }
    assert_eq!(names.len(), 7 * (21 + 18), "every region's SKUs");
    assert_eq!(
        names.iter().collect::<HashSet<_>>().len(),
        names.len(),
        "none twice"
    );
    assert_eq!(pages, names.len().div_ceil(40));
    let stats = s.handle.stats();
    assert_eq!(stats.requests.resource_skus, pages as u64);
    assert_eq!(
        stats.per_subscription[&sub.to_string()]["resource_skus"],
        pages as u64
    );
}

#[tokio::test]
async fn other_filters_other_tenants_and_unknown_versions_are_refused() {
    let s = Sim::start(small()).await;
    let sub = s.subscription(0, 0);
    let token = s.token(s.tenant(0), ARM).await;
    let bad = s
        .get(skus_url(&s, sub, Some("name eq 'Standard_D2s_v5'")), &token)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["code"], "InvalidFilter");
    let other = s.token(s.tenant(1), ARM).await;
    assert_eq!(
        s.get(skus_url(&s, sub, None), &other).await.status,
        StatusCode::FORBIDDEN
    );
    let mut old = skus_url(&s, sub, None);
    old.set_query(Some("api-version=2015-01-01"));
    assert_eq!(s.get(old, &token).await.status, StatusCode::BAD_REQUEST);
    let nowhere = s
        .get(skus_url(&s, sub, Some("location eq 'mars'")), &token)
        .await;
    assert_eq!(nowhere.body["value"], serde_json::json!([]));
}
