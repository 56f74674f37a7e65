//! The contract between production and the simulated Azure (`azure_sim`): every KQL query of
//! [`azcops::azure::resource_graph::queries`] runs on the simulator and returns the estate's
//! subset with the query's columns. The simulator knows nothing of AzCops (it interprets the KQL
//! it is sent), so a query changed here must still be in the subset it understands.

use std::collections::HashSet;

use azcops::azure::resource_graph::queries;
use azure_sim::estate::ResourceKind;
use azure_sim::{EstateConfig, SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const ARM: &str = "https://management.azure.com/.default";
const RG_PATH: &str = "providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";

/// Every query of the library: the inventory, the waste candidates and the rightsizing inputs.
fn library() -> Vec<&'static str> {
    let mut all = vec![queries::ALL_RESOURCES];
    all.extend(queries::WASTE.iter().map(|q| q.kql));
    all.extend(queries::RIGHTSIZING.iter().map(|q| q.kql));
    all
}

/// A running simulator (two tenants × two subscriptions × 60 resources, no throttling) and a
/// client for its Resource Graph.
struct Sim {
    handle: SimHandle,
    http: reqwest::Client,
}

impl Sim {
    async fn start() -> Self {
        let handle = azure_sim::start(SimConfig {
            estate: EstateConfig {
                seed: 7,
                tenants: 2,
                subscriptions_per_tenant: 2,
                resources_per_subscription: 60,
                ..EstateConfig::default()
            },
            throttling: false,
            ..SimConfig::default()
        })
        .await
        .expect("simulator starts");
        Self {
            handle,
            http: reqwest::Client::new(),
        }
    }

    async fn token(&self, tenant: Uuid) -> String {
        let response = self
            .http
            .post(self.handle.token_url(tenant))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([
                        ("grant_type", "client_credentials"),
                        ("client_id", "app-1"),
                        ("client_secret", "s3cret"),
                        ("scope", ARM),
                    ])
                    .finish(),
            )
            .send()
            .await
            .expect("token request");
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.expect("token JSON");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// One Resource Graph request: its status and JSON body.
    async fn graph(&self, token: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.handle.base_url.join(RG_PATH).expect("valid path"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body read");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Every row of `query` over `subscriptions`, following `$skipToken`s.
    async fn graph_all(&self, token: &str, query: &str, subscriptions: &[Uuid]) -> Vec<Value> {
        let mut rows = Vec::new();
        let mut options = json!({"$top": 1000});
        loop {
            let body = json!({"query": query, "subscriptions": subscriptions, "options": options});
            let (status, page) = self.graph(token, body).await;
            assert_eq!(status, StatusCode::OK, "{query}: {page}");
            rows.extend(page["data"].as_array().expect("data").iter().cloned());
            match page["$skipToken"].as_str() {
                Some(skip) => options = json!({"$top": 1000, "$skipToken": skip}),
                None => return rows,
            }
        }
    }
}

#[test]
fn every_library_query_is_in_the_simulators_kql_and_orders_by_id() {
    for kql in library() {
        let plan = azure_sim::kql::parse(kql).unwrap_or_else(|e| panic!("{kql}: {e}"));
        assert!(plan.orders_by_id_ascending(), "{kql}");
    }
}

#[tokio::test]
async fn every_library_query_runs_on_the_simulator_in_id_order() {
    let s = Sim::start().await;
    let token = s.token(s.handle.estate.tenants()[0].id).await;
    let subs = s.handle.estate.tenants()[0].subscription_ids.clone();
    for kql in library() {
        let rows = s.graph_all(&token, kql, &subs).await;
        let ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
        assert_eq!(ids.len(), rows.len(), "every row has an id: {kql}");
        assert!(ids.is_sorted(), "ordered by id: {kql}");
    }
    let all = s.graph_all(&token, queries::ALL_RESOURCES, &subs).await;
    let expected: usize = subs
        .iter()
        .map(|sub| s.handle.estate.resource_range(*sub).len())
        .sum();
    assert_eq!(all.len(), expected, "the inventory is the whole estate");
}

#[tokio::test]
async fn each_library_query_returns_the_estates_subset_with_its_columns() {
    let s = Sim::start().await;
    let token = s.token(s.handle.estate.tenants()[1].id).await;
    let sub = s.handle.estate.tenants()[1].subscription_ids[0];
    let e = &s.handle.estate;
    let expected = [
        (
            queries::UNATTACHED_DISKS,
            e.expected_unattached_disks(sub),
            "diskSizeGb",
        ),
        (
            queries::ORPHANED_PUBLIC_IPS,
            e.expected_orphaned_public_ips(sub),
            "ipAddress",
        ),
        (
            queries::ORPHANED_NICS,
            e.expected_orphaned_nics(sub),
            "resourceGroup",
        ),
        (
            queries::STALE_SNAPSHOTS,
            e.expected_stale_snapshots(sub),
            "timeCreated",
        ),
        (
            queries::MISSING_COST_CENTER_TAG,
            e.expected_missing_cost_center(sub),
            "tags",
        ),
        (
            queries::ALL_VMS,
            e.expected_count(sub, ResourceKind::VirtualMachine),
            "powerState",
        ),
        (
            queries::APP_SERVICE_PLANS,
            e.expected_count(sub, ResourceKind::AppServicePlan),
            "workers",
        ),
        (
            queries::SQL_DATABASES,
            e.expected_count(sub, ResourceKind::SqlDatabase),
            "skuTier",
        ),
    ];
    for (query, count, column) in expected {
        let rows = s.graph_all(&token, query, &[sub]).await;
        assert_eq!(rows.len(), count, "{query}");
        assert!(count > 0, "the estate has something for {query}");
        assert!(
            rows.iter()
                .all(|r| r.get(column).is_some() && r.get("properties").is_none()),
            "{query}"
        );
    }
    let vms = s.graph_all(&token, queries::ALL_VMS, &[sub]).await;
    let states: HashSet<&str> = vms
        .iter()
        .filter_map(|v| v["powerState"].as_str())
        .collect();
    let known = HashSet::from([
        "PowerState/running",
        "PowerState/deallocated",
        "PowerState/stopped",
    ]);
    assert!(states.is_subset(&known), "{states:?}");
    assert!(
        states.contains("PowerState/running") && states.contains("PowerState/deallocated"),
        "{states:?}"
    );
    // The inventory's join: every row carries its own group's tags, as `ResourceContainers`
    // holds them (the key is the subscription and the group's name, whatever its case).
    let subscription = e
        .tenants()
        .iter()
        .flat_map(|t| e.subscriptions_of(t.id))
        .find(|x| x.id == sub)
        .expect("the subscription");
    let inventory = s.graph_all(&token, queries::ALL_RESOURCES, &[sub]).await;
    let mut groups_seen = HashSet::new();
    for row in &inventory {
        let name = row["resourceGroup"].as_str().expect("a group");
        let group = subscription
            .resource_groups
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(name))
            .expect("a group of the estate");
        assert_eq!(row["resourceGroupTags"], group.tags.to_json(), "{row}");
        assert!(row.get("rgKey").is_none() && row.get("subscriptionId1").is_none());
        groups_seen.insert(group.name.clone());
    }
    // The estate keeps a group without resources: `ResourceContainers` lists it, the
    // inventory's rows cannot.
    let containers = s
        .graph_all(
            &token,
            "ResourceContainers | where type =~ 'microsoft.resources/subscriptions/resourcegroups' \
             | project id, resourceGroup, tags | order by id asc",
            &[sub],
        )
        .await;
    assert_eq!(containers.len(), subscription.resource_groups.len());
    assert_eq!(groups_seen.len() + 1, containers.len(), "{groups_seen:?}");
    let (_, table) = s.graph(&token, json!({"query": queries::UNATTACHED_DISKS, "subscriptions": [sub], "options": {"resultFormat": "table"}})).await;
    let columns = table["data"]["columns"].as_array().expect("columns");
    assert!(columns.contains(&json!({"name": "diskSizeGb", "type": "integer"})));
    assert_eq!(
        table["data"]["rows"].as_array().map(Vec::len),
        Some(e.expected_unattached_disks(sub))
    );
}
