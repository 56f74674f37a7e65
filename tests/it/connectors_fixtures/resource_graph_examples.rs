//! Resource Graph examples: rows mapped to resources, paging tokens and requests.

use azcops::azure::resource_graph::{self, QueryRequest, QueryResponse};
use serde_json::{Value, json};

use super::{body, read};

pub(super) fn rg_page(example: &Value) -> QueryResponse {
    serde_json::from_value(body(example).clone()).expect("QueryResponse")
}

pub(super) fn rg_basic(example: &Value) {
    let page = rg_page(example);
    assert_eq!(
        (page.total_records, page.count, page.next_token()),
        (Some(3), Some(3), None)
    );
    let resources = resource_graph::map_page("fixture", &page).expect("rows map");
    assert_eq!(resources.len(), 3);
    let nic = &resources[0];
    assert_eq!(
        nic.resource_id,
        "/subscriptions/cfbbd179-59d2-4052-aa06-9270a38aa9d6/resourcegroups/rg1/providers/microsoft.network/networkinterfaces/mynetworkinterface"
    );
    assert_eq!(nic.name, "myNetworkInterface");
    assert_eq!(nic.resource_type, "microsoft.network/networkinterfaces");
    assert_eq!(
        (nic.location.as_str(), nic.resource_group.as_str()),
        ("centralus", "rg1")
    );
    assert_eq!(nic.subscription_id, "cfbbd179-59d2-4052-aa06-9270a38aa9d6");
    assert_eq!(nic.tags.get("tag1").map(String::as_str), Some("Value1"));
    let names: Vec<&str> = resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["myNetworkInterface", "myVnet", "myPublicIp"]);
    assert!(resources[1].tags.is_empty() && resources[2].tags.is_empty());
    assert_eq!(resources[2].resource_group, "rg2");
    // The example request has the shape the connector sends.
    let request: QueryRequest =
        serde_json::from_value(example["parameters"]["query"].clone()).expect("QueryRequest");
    assert!(request.query.starts_with("Resources"));
}

pub(super) fn rg_facet(example: &Value) {
    let page = rg_page(example);
    let candidates = resource_graph::map_candidate_page("fixture", &page).expect("rows map");
    assert_eq!(candidates.len(), 5);
    let groups: Vec<&str> = candidates
        .iter()
        .map(|c| c.resource.resource_group.as_str())
        .collect();
    assert_eq!(groups, ["b-test-rg", "c-rg", "i-rg", "x-test-rg", "y-rg"]);
    assert_eq!(candidates[0].resource.name, "myTestVm");
    assert_eq!(candidates[0].resource.location, "eastus");
    assert_eq!(
        candidates[0].details["properties_storageProfile_osDisk_osType"],
        json!("Windows")
    );
    assert_eq!(
        candidates[2].details["properties_storageProfile_osDisk_osType"],
        json!("Linux")
    );
}

pub(super) fn rg_first_page(example: &Value) {
    let page = rg_page(example);
    assert_eq!(page.total_records, Some(386));
    let token = page.next_token().expect("a first page has a $skipToken");
    assert_eq!(
        token,
        "eyAibm8iOiAibHVjayIsICJidXQiOiAibmljZSIsICJ0cnkiOiAiISIgfQ=="
    );
    let resources = resource_graph::map_page("fixture", &page).expect("rows map");
    let names: Vec<&str> = resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "yetanothertest_OsDisk_1_f396cbcb625a457bb69fe2abf5975820",
            "TestAA",
            "TestRB"
        ]
    );
    assert_eq!(
        resources[2].resource_type,
        "microsoft.automation/automationaccounts/runbooks"
    );
    // The next page repeats the query and subscriptions with the token, as the next example does.
    let first: QueryRequest =
        serde_json::from_value(example["parameters"]["query"].clone()).expect("request");
    let next = QueryRequest::new(first.query.clone(), &first.subscriptions).next_page(token);
    let expected = read("resourcegraph/2022-10-01/ResourcesNextPageQuery.json");
    let expected: QueryRequest =
        serde_json::from_value(expected["parameters"]["query"].clone()).expect("request");
    assert_eq!(
        (&next.query, &next.subscriptions, &next.options.skip_token),
        (
            &expected.query,
            &expected.subscriptions,
            &expected.options.skip_token
        )
    );
}

pub(super) fn rg_next_page(example: &Value) {
    let page = rg_page(example);
    assert_eq!(
        page.next_token(),
        Some("eyAibm8yIjogImx1Y2syIiwgImJ1dDIiOiAibmljZTIiLCAidHJ5MiI6ICIhIiB9")
    );
    let resources = resource_graph::map_page("fixture", &page).expect("rows map");
    let names: Vec<&str> = resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "second_OsDisk_dddddbcb625a457bb69fe2abf5975820",
            "AATest",
            "RBTest"
        ]
    );
}

pub(super) fn rg_random_page(example: &Value) {
    let page = rg_page(example);
    let resources = resource_graph::map_page("fixture", &page).expect("rows map");
    assert_eq!(resources.len(), 2);
    assert_eq!(resources[1].name, "CCTest");
    assert_eq!(resources[1].location, "westcentralus");
    assert_eq!(resources[0].resource_group, "rg1");
}
