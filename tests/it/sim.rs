//! The simulated Azure (`azcops::sim`), started in-process on port 0 with a small estate and
//! driven over HTTP like the connectors drive the real one.

mod subscriptions;

use std::collections::HashSet;
use std::time::Duration;

use azcops::azure::resource_graph::queries;
use azcops::sim::costs::CostType;
use azcops::sim::estate::{ResourceKind, Utilisation};
use azcops::sim::{self, EstateConfig, FaultConfig, SimConfig, SimHandle};
use chrono::{Datelike, DurationRound, Utc};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

const ARM: &str = "https://management.azure.com/.default";
const METRICS: &str = "https://metrics.monitor.azure.com/.default";
const RG_PATH: &str = "providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";

/// A running simulator and a client for it.
struct Sim {
    handle: SimHandle,
    http: reqwest::Client,
}

/// A response: status, headers, and the body parsed as JSON (`Null` if it is not JSON).
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// Two tenants × two subscriptions × 60 resources, throttling off.
fn small() -> SimConfig {
    SimConfig {
        estate: EstateConfig {
            seed: 7,
            tenants: 2,
            subscriptions_per_tenant: 2,
            resources_per_subscription: 60,
            ..EstateConfig::default()
        },
        throttling: false,
        ..SimConfig::default()
    }
}

impl Sim {
    async fn start(config: SimConfig) -> Self {
        let handle = sim::start(config).await.expect("simulator starts");
        Self {
            handle,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> Url {
        self.handle.base_url.join(path).expect("valid path")
    }

    fn tenant(&self, i: usize) -> Uuid {
        self.handle.estate.tenants()[i].id
    }

    fn subscription(&self, tenant: usize, i: usize) -> Uuid {
        self.handle.estate.tenants()[tenant].subscription_ids[i]
    }

    async fn token_reply(&self, tenant: &str, scope: &str) -> Reply {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "client_credentials"),
                ("client_id", "app-1"),
                ("client_secret", "s3cret"),
                ("scope", scope),
            ])
            .finish();
        let request = self
            .http
            .post(self.url(&format!("{tenant}/oauth2/v2.0/token")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        reply(request.send().await.expect("token request")).await
    }

    async fn token(&self, tenant: Uuid, scope: &str) -> String {
        let reply = self.token_reply(&tenant.to_string(), scope).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    async fn post(&self, url: Url, token: &str, body: &Value) -> Reply {
        let sent = self
            .http
            .post(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent");
        reply(sent).await
    }

    async fn get(&self, url: Url, token: &str) -> Reply {
        reply(
            self.http
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    async fn graph(&self, token: &str, body: Value) -> Reply {
        self.post(self.url(RG_PATH), token, &body).await
    }

    /// Every row of a Resource Graph query over `subscriptions`, following `$skipToken`s.
    async fn graph_all(
        &self,
        token: &str,
        query: &str,
        subscriptions: &[Uuid],
        top: u32,
    ) -> (Vec<Value>, usize) {
        let (mut rows, mut pages, mut skip) = (Vec::new(), 0, None::<String>);
        loop {
            let mut options = json!({"$top": top});
            if let Some(s) = &skip {
                options["$skipToken"] = json!(s);
            }
            let r = self
                .graph(
                    token,
                    json!({"query": query, "subscriptions": subscriptions, "options": options}),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            rows.extend(r.body["data"].as_array().expect("data").iter().cloned());
            pages += 1;
            match r.body["$skipToken"].as_str() {
                Some(s) => skip = Some(s.to_owned()),
                None => return (rows, pages),
            }
        }
    }

    fn cost_url(&self, subscription: Uuid) -> Url {
        self.url(&format!("subscriptions/{subscription}/providers/Microsoft.CostManagement/query?api-version=2023-11-01"))
    }

    /// All pages of a cost query: the columns and every row.
    async fn cost_all(
        &self,
        token: &str,
        subscription: Uuid,
        body: &Value,
    ) -> (Vec<Value>, Vec<Value>, usize) {
        let (mut rows, mut pages, mut url) = (Vec::new(), 0, self.cost_url(subscription));
        loop {
            let r = self.post(url, token, body).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            rows.extend(
                r.body["properties"]["rows"]
                    .as_array()
                    .expect("rows")
                    .iter()
                    .cloned(),
            );
            pages += 1;
            match r.body["properties"]["nextLink"].as_str() {
                Some(next) => url = Url::parse(next).expect("absolute nextLink"),
                None => {
                    return (
                        r.body["properties"]["columns"]
                            .as_array()
                            .expect("columns")
                            .clone(),
                        rows,
                        pages,
                    );
                }
            }
        }
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let (status, headers) = (response.status(), response.headers().clone());
    let text = response.text().await.expect("body read");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        body,
    }
}

fn cost_body(
    cost_type: &str,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    grouping: &[&str],
) -> Value {
    let grouping: Vec<Value> = grouping
        .iter()
        .map(|g| json!({"type": "Dimension", "name": g}))
        .collect();
    json!({
        "type": cost_type, "timeframe": "Custom",
        "timePeriod": {"from": format!("{from}T00:00:00Z"), "to": format!("{to}T23:59:59Z")},
        "dataset": {"granularity": "Daily", "aggregation": {"totalCost": {"name": "Cost", "function": "Sum"}}, "grouping": grouping},
    })
}

#[tokio::test]
async fn the_same_seed_gives_the_same_estate_and_byte_identical_responses() {
    let (a, b) = (Sim::start(small()).await, Sim::start(small()).await);
    let ids = |s: &Sim| {
        s.handle
            .estate
            .resources()
            .iter()
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), ids(&b));
    assert_eq!(a.tenant(1), b.tenant(1));
    let sub = a.subscription(0, 1);
    let (ta, tb) = (
        a.token(a.tenant(0), ARM).await,
        b.token(b.tenant(0), ARM).await,
    );
    let (from, to) = a.handle.estate.cost_data_range();
    let cost = cost_body(
        "AmortizedCost",
        from,
        to,
        &["ResourceGroupName", "ServiceName"],
    );
    let advisor = format!(
        "subscriptions/{sub}/providers/Microsoft.Advisor/recommendations?api-version=2023-01-01"
    );
    let graph = json!({"query": queries::ALL_RESOURCES, "subscriptions": [sub]});
    assert_eq!(
        a.graph(&ta, graph.clone()).await.text,
        b.graph(&tb, graph).await.text
    );
    assert_eq!(
        a.post(a.cost_url(sub), &ta, &cost).await.text,
        b.post(b.cost_url(sub), &tb, &cost).await.text
    );
    assert_eq!(
        a.get(a.url(&advisor), &ta).await.text,
        b.get(b.url(&advisor), &tb).await.text
    );
    let other = Sim::start(SimConfig {
        estate: EstateConfig {
            seed: 8,
            ..small().estate
        },
        ..small()
    })
    .await;
    assert_ne!(other.tenant(0), a.tenant(0));
}

#[tokio::test]
async fn a_token_is_issued_and_calls_without_it_or_with_an_expired_one_get_401() {
    let s = Sim::start(SimConfig {
        token_lifetime: Duration::from_secs(1),
        ..small()
    })
    .await;
    let issued = s.token_reply(&s.tenant(0).to_string(), ARM).await;
    assert_eq!(issued.status, StatusCode::OK);
    assert_eq!(issued.body["token_type"], "Bearer");
    assert_eq!(issued.body["expires_in"], json!(1));
    assert!(issued.body["ext_expires_in"].is_number());
    let token = issued.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let body = json!({"query": queries::ALL_VMS});
    let missing = reply(
        s.http
            .post(s.url(RG_PATH))
            .json(&body)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(
        (missing.status, missing.body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("AuthenticationFailed"))
    );
    let forged = s.graph("not-a-token", body.clone()).await;
    assert_eq!(
        (forged.status, forged.body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("InvalidAuthenticationToken"))
    );
    let metrics_token = s.token(s.tenant(0), METRICS).await;
    assert_eq!(
        s.graph(&metrics_token, body.clone()).await.body["error"]["code"],
        "InvalidAuthenticationToken"
    );
    assert_eq!(s.graph(&token, body.clone()).await.status, StatusCode::OK);
    let own_scope = format!(
        "{}/.default",
        s.handle.base_url.as_str().trim_end_matches('/')
    );
    let own = s.token(s.tenant(0), &own_scope).await;
    assert_eq!(
        s.graph(&own, body.clone()).await.status,
        StatusCode::OK,
        "the simulator's URL is an ARM resource"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = s.graph(&token, body).await;
    assert_eq!(
        (expired.status, expired.body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("ExpiredAuthenticationToken"))
    );
    let unknown = s.token_reply(&Uuid::new_v4().to_string(), ARM).await;
    assert_eq!(
        (unknown.status, unknown.body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert_eq!(unknown.body["error_codes"], json!([90002]));
}

#[tokio::test]
async fn a_token_of_one_tenant_is_forbidden_on_another_tenants_subscription_but_the_managed_identity_sees_all()
 {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(0), ARM).await;
    let foreign = s.subscription(1, 0);
    let (from, to) = s.handle.estate.cost_data_range();
    let denied = s
        .post(
            s.cost_url(foreign),
            &token,
            &cost_body("ActualCost", from, to, &[]),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(denied.body["error"]["code"], "AuthorizationFailed");
    let message = denied.body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("does not have authorization to perform action")
            && message.contains(&format!("/subscriptions/{foreign}")),
        "{message}"
    );
    let graph = s
        .graph(
            &token,
            json!({"query": queries::ALL_VMS, "subscriptions": [s.subscription(0, 0), foreign]}),
        )
        .await;
    assert_eq!(graph.status, StatusCode::FORBIDDEN);

    let mut msi = s.url("msi/token");
    msi.query_pairs_mut()
        .append_pair("resource", "https://management.azure.com/")
        .append_pair("api-version", "2019-08-01");
    let refused = reply(s.http.get(msi.clone()).send().await.expect("sent")).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let issued = reply(
        s.http
            .get(msi)
            .header("X-IDENTITY-HEADER", "azure-sim-identity-header")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(issued.status, StatusCode::OK);
    assert!(
        issued.body["expires_on"]
            .as_str()
            .expect("string")
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(
        issued.body["client_id"],
        s.handle.estate.msi_client_id().to_string()
    );
    let msi_token = issued.body["access_token"].as_str().expect("token");
    assert_eq!(
        s.post(
            s.cost_url(foreign),
            msi_token,
            &cost_body("ActualCost", from, to, &[])
        )
        .await
        .status,
        StatusCode::OK
    );
}

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
            json!({"query": "Resources | project id", "subscriptions": subs}),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidQuery"))
    );
}

#[tokio::test]
async fn each_library_query_returns_the_estates_subset_with_its_columns() {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(1), ARM).await;
    let sub = s.subscription(1, 0);
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
        let (rows, _) = s.graph_all(&token, query, &[sub], 1000).await;
        assert_eq!(rows.len(), count, "{query}");
        assert!(count > 0, "the estate has something for {query}");
        assert!(
            rows.iter()
                .all(|r| r.get(column).is_some() && r.get("properties").is_none()),
            "{query}"
        );
    }
    let (vms, _) = s.graph_all(&token, queries::ALL_VMS, &[sub], 1000).await;
    let states: HashSet<&str> = vms
        .iter()
        .filter_map(|v| v["powerState"].as_str())
        .collect();
    assert_eq!(
        states,
        HashSet::from(["PowerState/running", "PowerState/deallocated"])
    );
    let table = s.graph(&token, json!({"query": queries::UNATTACHED_DISKS, "subscriptions": [sub], "options": {"resultFormat": "table"}})).await;
    let columns = table.body["data"]["columns"].as_array().expect("columns");
    assert!(columns.contains(&json!({"name": "diskSizeGb", "type": "integer"})));
    assert_eq!(
        table.body["data"]["rows"].as_array().map(Vec::len),
        Some(e.expected_unattached_disks(sub))
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
async fn cost_rows_sum_to_the_estates_cost_and_columns_are_named_and_ordered_like_azure() {
    let s = Sim::start(SimConfig {
        cost_page_size: 40,
        ..small()
    })
    .await;
    let token = s.token(s.tenant(0), ARM).await;
    let sub = s.subscription(0, 0);
    let (from, to) = s.handle.estate.cost_data_range();
    for (kind, cost_type) in [
        ("ActualCost", CostType::ActualCost),
        ("AmortizedCost", CostType::AmortizedCost),
    ] {
        let (columns, rows, pages) = s
            .cost_all(
                &token,
                sub,
                &cost_body(kind, from, to, &["ResourceGroupName", "ResourceId"]),
            )
            .await;
        assert_eq!(
            columns,
            vec![
                json!({"name": "Cost", "type": "Number"}),
                json!({"name": "ResourceGroupName", "type": "String"}),
                json!({"name": "ResourceId", "type": "String"}),
                json!({"name": "UsageDate", "type": "Number"}),
                json!({"name": "Currency", "type": "String"}),
            ]
        );
        assert!(pages >= 3, "{pages} pages");
        let keys: HashSet<String> = rows.iter().map(|r| format!("{}|{}", r[2], r[3])).collect();
        assert_eq!(keys.len(), rows.len(), "no row twice across pages");
        let total: f64 = rows.iter().map(|r| r[0].as_f64().expect("number")).sum();
        let expected = s.handle.estate.expected_cost(sub, cost_type, from, to);
        assert!(
            (total - expected).abs() < 0.005,
            "{kind}: {total} vs {expected}"
        );
        let date = rows[0][3].as_u64().expect("UsageDate is a number");
        assert!((20_000_101..=29_991_231).contains(&date));
        assert_eq!(rows[0][4], "USD");
    }
    let three = cost_body(
        "ActualCost",
        from,
        to,
        &["ResourceGroupName", "ServiceName", "MeterCategory"],
    );
    let refused = s.post(s.cost_url(sub), &token, &three).await;
    assert_eq!(
        (refused.status, refused.body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BadRequest"))
    );
}

#[tokio::test]
async fn query_units_run_out_with_the_documented_429_and_headers() {
    let s = Sim::start(SimConfig {
        throttling: true,
        ..small()
    })
    .await;
    let token = s.token(s.tenant(0), ARM).await;
    let sub = s.subscription(0, 0);
    let today = s.handle.estate.today();
    let from = (today - chrono::Months::new(2))
        .with_day0(0)
        .expect("first of month");
    let body = cost_body("ActualCost", from, today, &["ResourceGroupName"]);
    let first = s.post(s.cost_url(sub), &token, &body).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(
        first.header("x-ms-ratelimit-microsoft.costmanagement-qpu-consumed"),
        "3"
    );
    assert_eq!(
        first.header("x-ms-ratelimit-microsoft.costmanagement-qpu-remaining"),
        "QueriesPerHour:597,QueriesPerMin:57,QueriesPer10Sec:9"
    );
    for _ in 0..3 {
        assert_eq!(
            s.post(s.cost_url(sub), &token, &body).await.status,
            StatusCode::OK
        );
    }
    let throttled = s.post(s.cost_url(sub), &token, &body).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        throttled.body,
        json!({"error": {"code": "429", "message": "Too many requests. Please retry."}})
    );
    let retry: u64 = throttled
        .header("x-ms-ratelimit-microsoft.costmanagement-qpu-retry-after")
        .parse()
        .expect("seconds");
    assert!((1..=10).contains(&retry));
    assert_eq!(throttled.header("retry-after"), retry.to_string());
    let other_tenant = s.token(s.tenant(1), ARM).await;
    assert_eq!(
        s.post(s.cost_url(s.subscription(1, 0)), &other_tenant, &body)
            .await
            .status,
        StatusCode::OK,
        "quotas are per tenant"
    );
    assert_eq!(s.handle.stats().throttled.cost_management, 1);
}

#[tokio::test]
async fn advisor_pages_cost_recommendations_with_string_extended_properties() {
    let s = Sim::start(SimConfig {
        advisor_page_size: 3,
        ..small()
    })
    .await;
    let token = s.token(s.tenant(0), ARM).await;
    let sub = s.subscription(0, 0);
    let mut url = s.url(&format!(
        "subscriptions/{sub}/providers/Microsoft.Advisor/recommendations"
    ));
    url.query_pairs_mut()
        .append_pair("api-version", "2023-01-01")
        .append_pair("$filter", "Category eq 'Cost'");
    let (mut items, mut pages) = (Vec::new(), 0);
    loop {
        let r = s.get(url.clone(), &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        items.extend(r.body["value"].as_array().expect("value").iter().cloned());
        pages += 1;
        match r.body["nextLink"].as_str() {
            Some(next) => url = Url::parse(next).expect("absolute nextLink"),
            None => break,
        }
    }
    assert_eq!(
        items.len(),
        s.handle.estate.expected_cost_recommendations(sub)
    );
    assert!(
        pages >= 2 && items.len() > 3,
        "{} items in {pages} pages",
        items.len()
    );
    for item in &items {
        let p = &item["properties"];
        assert_eq!(
            (p["category"].as_str(), item["type"].as_str()),
            (Some("Cost"), Some("Microsoft.Advisor/recommendations"))
        );
        assert!(
            p["extendedProperties"]
                .as_object()
                .expect("map")
                .values()
                .all(Value::is_string)
        );
        assert!(
            p["shortDescription"]["problem"].is_string() && p["recommendationTypeId"].is_string()
        );
        let target = p["resourceMetadata"]["resourceId"]
            .as_str()
            .expect("resourceId");
        assert!(
            s.handle.estate.resource(target).is_some() || target == format!("/subscriptions/{sub}"),
            "{target}"
        );
    }
    let has = |key: &str| {
        items
            .iter()
            .any(|i| i["properties"]["extendedProperties"].get(key).is_some())
    };
    assert!(has("savingsAmount") && has("annualSavingsAmount") && has("savingsCurrency"));
    let mut top = s.url(&format!(
        "subscriptions/{sub}/providers/Microsoft.Advisor/recommendations"
    ));
    top.query_pairs_mut()
        .append_pair("api-version", "2025-01-01")
        .append_pair("$top", "2");
    let first = s.get(top, &token).await;
    assert_eq!(first.body["value"].as_array().map(Vec::len), Some(2));
    assert!(
        first.body["nextLink"]
            .as_str()
            .is_some_and(|l| l.contains("%24top=2") || l.contains("$top=2"))
    );
}

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
                .is_some_and(|v| v.running && v.utilisation == Utilisation::Idle)
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
async fn injected_faults_fail_calls_as_configured() {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(0), ARM).await;
    let body = json!({"query": queries::ALL_VMS});
    let set = |faults: Value| s.http.post(s.url("_sim/faults")).json(&faults).send();
    assert_eq!(
        set(json!({"rate_5xx": 1.0})).await.expect("sent").status(),
        StatusCode::OK
    );
    let current: FaultConfig = s
        .http
        .get(s.url("_sim/faults"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(current.rate_5xx, 1.0);
    for _ in 0..8 {
        let r = s.graph(&token, body.clone()).await;
        assert!(
            r.status.is_server_error() && r.body["error"]["code"].is_string(),
            "{}",
            r.status
        );
    }
    assert_eq!(s.handle.stats().faults.server_error, 8);
    assert_eq!(
        s.token_reply(&s.tenant(0).to_string(), ARM).await.status,
        StatusCode::OK,
        "the token endpoint has no faults"
    );

    set(json!({"rate_reset": 1.0})).await.expect("sent");
    for _ in 0..3 {
        let sent = s
            .http
            .post(s.url(RG_PATH))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        assert!(
            sent.is_err(),
            "a reset connection is an error, got {:?}",
            sent.map(|r| r.status())
        );
    }
    set(json!({"rate_truncate": 1.0, "seed": 3}))
        .await
        .expect("sent");
    for _ in 0..4 {
        let sent = s
            .http
            .post(s.url(RG_PATH))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        let parsed = match sent {
            Ok(response) => response.json::<Value>().await.is_ok(),
            Err(_) => false,
        };
        assert!(!parsed, "a truncated body must not parse");
    }
    set(json!({})).await.expect("sent");
    assert_eq!(s.graph(&token, body).await.status, StatusCode::OK);
    let faults = s.handle.stats().faults;
    assert_eq!((faults.reset, faults.truncate), (3, 4));
}

#[tokio::test]
async fn stats_count_what_was_called_per_api_and_subscription_until_reset() {
    let s = Sim::start(small()).await;
    let tenant = s.tenant(0);
    let sub = s.subscription(0, 0);
    let token = s.token(tenant, ARM).await;
    s.graph(
        &token,
        json!({"query": queries::ALL_VMS, "subscriptions": [sub]}),
    )
    .await;
    let (from, to) = s.handle.estate.cost_data_range();
    s.post(
        s.cost_url(sub),
        &token,
        &cost_body("ActualCost", from, to, &[]),
    )
    .await;
    s.post(
        s.cost_url(sub),
        &token,
        &cost_body("AmortizedCost", from, to, &[]),
    )
    .await;
    s.get(
        s.url(&format!(
            "subscriptions/{sub}/providers/Microsoft.Advisor/recommendations?api-version=2023-01-01"
        )),
        &token,
    )
    .await;
    let stats: sim::StatsSnapshot = s
        .http
        .get(s.url("_sim/stats"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            stats.requests.token,
            stats.requests.resource_graph,
            stats.requests.cost_management
        ),
        (1, 1, 2)
    );
    assert_eq!(
        (stats.requests.advisor, stats.requests.monitor_batch),
        (1, 0)
    );
    assert_eq!(
        stats.per_subscription[&sub.to_string()]["cost_management"],
        2
    );
    assert_eq!(stats.tokens[&tenant.to_string()][ARM], 1);
    assert_eq!(stats.responses["cost_management"][&200u16], 2);
    assert_eq!(
        s.http
            .post(s.url("_sim/reset"))
            .send()
            .await
            .expect("sent")
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.handle.stats().requests.total(), 0);
}
