//! Resource Graph: paging with `$skipToken`, unsupported queries, the per-principal quota.

use std::time::Duration;

use azure_sim::SimConfig;
use azure_sim::estate::ResourceKind;
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{ARM, Sim, queries, small};

#[tokio::test]
async fn resource_graph_pages_through_every_resource_exactly_once() {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(0), ARM).await;
    let subs = [s.subscription(0, 1), s.subscription(0, 0)];
    let (rows, pages) = s.graph_all(&token, queries::ALL_RESOURCES, &subs, 50).await;
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = subs
        .iter()
        .flat_map(|sub| {
            s.handle
                .estate
                .resources_of(*sub)
                .iter()
                .map(|r| r.id.clone())
        })
        .collect();
    expected.sort();
    let got: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(got, expected);
    assert!(
        rows.iter()
            .all(|r| r["properties"].is_object() && r["subscriptionId"].is_string())
    );
    assert!(
        rows.iter().any(|r| r["tags"].is_string()),
        "some resources carry tags as a JSON string"
    );
    let first = s.graph(&token, json!({"query": queries::ALL_RESOURCES, "subscriptions": subs, "options": {"$top": 50}})).await;
    assert_eq!(
        (
            first.body["totalRecords"].as_u64(),
            first.body["count"].as_u64()
        ),
        (Some(120), Some(50))
    );
    assert_eq!(
        (
            first.body["resultTruncated"].as_str(),
            &first.body["facets"]
        ),
        (Some("false"), &json!([]))
    );
    let token_of_first = first.body["$skipToken"].clone();
    let replayed = s.graph(&token, json!({"query": queries::ALL_VMS, "subscriptions": subs, "options": {"$skipToken": token_of_first}})).await;
    assert_eq!(replayed.status, StatusCode::BAD_REQUEST);
    let unknown = s
        .graph(
            &token,
            json!({"query": "Resources | summarize count() by type", "subscriptions": subs}),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidQuery"))
    );
}

#[tokio::test]
async fn resource_graph_quota_headers_count_down_and_the_sixteenth_request_is_throttled() {
    let s = Sim::start(SimConfig {
        throttling: true,
        time_scale: 2.0,
        ..small()
    })
    .await;
    let token = s.token(s.tenant(0), ARM).await;
    let body = json!({"query": queries::ALL_VMS, "subscriptions": [s.subscription(0, 0)]});
    for expected in (0..15).rev() {
        let r = s.graph(&token, body.clone()).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("x-ms-user-quota-remaining"), expected.to_string());
        assert!(
            r.header("x-ms-user-quota-resets-after")
                .starts_with("00:00:0")
        );
    }
    let throttled = s.graph(&token, body.clone()).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.body["error"]["code"], "RateLimiting");
    assert_eq!(throttled.header("x-ms-user-quota-remaining"), "0");
    let retry: u64 = throttled
        .header("retry-after")
        .parse()
        .expect("Retry-After seconds");
    tokio::time::sleep(Duration::from_secs(retry)).await;
    assert_eq!(s.graph(&token, body).await.status, StatusCode::OK);
    assert_eq!(s.handle.stats().throttled.resource_graph, 1);
}

#[tokio::test]
async fn any_query_in_the_kql_subset_runs_not_only_azcops_library() {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(0), ARM).await;
    let sub = s.subscription(0, 0);
    let query = "Resources | where type =~ 'microsoft.compute/disks' \
                 | project id, name, diskState = tostring(properties.diskState) \
                 | order by name desc";
    let (rows, _) = s.graph_all(&token, query, &[sub], 1000).await;
    let disks = s.handle.estate.expected_count(sub, ResourceKind::Disk);
    assert!(disks > 0, "the estate has disks");
    assert_eq!(rows.len(), disks);
    let names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(names, sorted, "ordered by name descending");
    assert!(
        rows.iter()
            .all(|r| r["diskState"].is_string() && r.get("properties").is_none()),
        "{rows:?}"
    );
}

#[tokio::test]
async fn a_left_outer_join_gives_each_resource_its_groups_tags_page_after_page() {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(0), ARM).await;
    let subs = [s.subscription(0, 0), s.subscription(0, 1)];
    let query = "Resources | extend rgKey = tolower(resourceGroup) \
| join kind=leftouter (ResourceContainers \
| where type =~ 'microsoft.resources/subscriptions/resourcegroups' \
| project subscriptionId, rgKey = tolower(resourceGroup), groupTags = tags) on subscriptionId, rgKey \
| project id, resourceGroup, subscriptionId, groupTags | order by id asc";
    let (rows, pages) = s.graph_all(&token, query, &subs, 50).await;
    let resources: usize = subs
        .iter()
        .map(|sub| s.handle.estate.resources_of(*sub).len())
        .sum();
    assert_eq!(rows.len(), resources, "one row per resource");
    assert_eq!(pages, resources.div_ceil(50));
    for row in &rows {
        let sub: uuid::Uuid = row["subscriptionId"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("subscription");
        let group = s
            .handle
            .estate
            .subscription(sub)
            .and_then(|x| {
                let name = row["resourceGroup"].as_str()?;
                x.resource_groups.iter().find(|g| g.name == name)
            })
            .expect("the resource's group");
        assert_eq!(row["groupTags"], group.tags.to_json(), "{row}");
        assert_eq!(row.as_object().map(|o| o.len()), Some(4), "{row}");
    }
    // A right side with two rows of one key would repeat resources: refused, not guessed.
    let many = "Resources | join kind=leftouter (ResourceContainers | project subscriptionId, name) \
on subscriptionId | project id";
    let body = json!({"query": many, "subscriptions": subs});
    let reply = s.graph(&token, body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert!(
        reply.text.contains("at most one right row per key"),
        "{}",
        reply.text
    );
    let inner = "Resources | join kind=inner (ResourceContainers | project subscriptionId) \
on subscriptionId | project id";
    let body = json!({"query": inner, "subscriptions": subs});
    assert_eq!(s.graph(&token, body).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn resource_containers_page_subscriptions_and_groups_with_their_tags_and_quota_headers() {
    let s = Sim::start(SimConfig {
        throttling: true,
        ..small()
    })
    .await;
    let token = s.token(s.tenant(0), ARM).await;
    let subs = s.handle.estate.tenants()[0].subscription_ids.clone();
    let query = "resourcecontainers \
| where type in~ ('microsoft.resources/subscriptions','microsoft.resources/subscriptions/resourcegroups') \
| project id, name, type, tenantId, subscriptionId, resourceGroup, tags | order by id asc";
    let first = s
        .graph(
            &token,
            json!({"query": query, "subscriptions": subs, "options": {"$top": 3}}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.header("x-ms-user-quota-remaining"), "14");
    assert!(first.body["$skipToken"].is_string());
    let (rows, pages) = s.graph_all(&token, query, &subs, 3).await;
    let expected: usize = subs
        .iter()
        .map(|id| {
            1 + s
                .handle
                .estate
                .subscription(*id)
                .expect("sub")
                .resource_groups
                .len()
        })
        .sum();
    assert_eq!(rows.len(), expected);
    assert_eq!(pages, expected.div_ceil(3));
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert!(ids.is_sorted(), "ordered by id");
    let subscriptions: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["type"] == "microsoft.resources/subscriptions")
        .collect();
    assert_eq!(subscriptions.len(), subs.len());
    assert!(
        subscriptions
            .iter()
            .all(|r| r["resourceGroup"] == "" && r["tenantId"] == s.tenant(0).to_string())
    );
    assert!(
        rows.iter()
            .all(|r| r.as_object().is_some_and(|o| o.len() == 7))
    );
    let tagged = |r: &&serde_json::Value| r["tags"].get("cost-center").is_some();
    let groups: Vec<&serde_json::Value> = rows
        .iter()
        .filter(|r| r["type"] == "microsoft.resources/subscriptions/resourcegroups")
        .collect();
    assert!(
        groups.iter().any(tagged) && !groups.iter().all(tagged),
        "some groups carry cost-center, some not"
    );
    let other = s.token(s.tenant(1), ARM).await;
    let denied = s
        .graph(&other, json!({"query": query, "subscriptions": subs}))
        .await;
    assert_eq!(
        denied.status,
        StatusCode::FORBIDDEN,
        "a principal sees only its tenant's containers"
    );
}
