//! The simulator started in-process on port 0 with a small estate, and a client that drives it
//! over HTTP like AzCops' connectors drive the real Azure.

use azure_sim::{self as sim, EstateConfig, SimConfig, SimHandle};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

/// Resource Graph queries these tests send: the simulator runs any text in its KQL subset (that
/// AzCops' own library runs here is the `azcops` package's contract test, tests/it/sim_contract.rs).
pub mod queries {
    /// Every resource with its properties, in id order.
    pub const ALL_RESOURCES: &str = "Resources \
| project id, name, type, kind, location, resourceGroup, subscriptionId, tenantId, sku, tags, properties \
| order by id asc";

    /// Virtual machines with their size and power state.
    pub const ALL_VMS: &str = "Resources \
| where type =~ 'microsoft.compute/virtualmachines' \
| project id, name, type, location, resourceGroup, subscriptionId, tags, \
vmSize = tostring(properties.hardwareProfile.vmSize), \
powerState = tostring(properties.extended.instanceView.powerState.code) \
| order by id asc";
}

pub const ARM: &str = "https://management.azure.com/.default";
pub const METRICS: &str = "https://metrics.monitor.azure.com/.default";
pub const RG_PATH: &str = "providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01";

/// A running simulator and a client for it.
pub struct Sim {
    pub handle: SimHandle,
    pub http: reqwest::Client,
}

/// A response: status, headers, and the body parsed as JSON (`Null` if it is not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// Two tenants × two subscriptions × 60 resources, throttling off.
pub fn small() -> SimConfig {
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
    pub async fn start(config: SimConfig) -> Self {
        let handle = sim::start(config).await.expect("simulator starts");
        Self {
            handle,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> Url {
        self.handle.base_url.join(path).expect("valid path")
    }

    pub fn tenant(&self, i: usize) -> Uuid {
        self.handle.estate.tenants()[i].id
    }

    pub fn subscription(&self, tenant: usize, i: usize) -> Uuid {
        self.handle.estate.tenants()[tenant].subscription_ids[i]
    }

    pub async fn token_reply(&self, tenant: &str, scope: &str) -> Reply {
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

    pub async fn token(&self, tenant: Uuid, scope: &str) -> String {
        let reply = self.token_reply(&tenant.to_string(), scope).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub async fn post(&self, url: Url, token: &str, body: &Value) -> Reply {
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

    pub async fn get(&self, url: Url, token: &str) -> Reply {
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

    pub async fn graph(&self, token: &str, body: Value) -> Reply {
        self.post(self.url(RG_PATH), token, &body).await
    }

    /// Every row of a Resource Graph query over `subscriptions`, following `$skipToken`s.
    pub async fn graph_all(
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

    pub fn cost_url(&self, subscription: Uuid) -> Url {
        self.url(&format!("subscriptions/{subscription}/providers/Microsoft.CostManagement/query?api-version=2023-11-01"))
    }

    /// All pages of a cost query: the columns and every row.
    pub async fn cost_all(
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

impl Sim {
    /// `GET /_sim/estate?subscription=…`: the subscription's ground truth.
    pub async fn truth(&self, subscription: Uuid) -> Vec<Value> {
        let url = self.url(&format!("_sim/estate?subscription={subscription}"));
        let r = reply(self.http.get(url).send().await.expect("sent")).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.body["conditions"].as_array().expect("conditions").clone()
    }

    /// A public GET (no token).
    pub async fn get_public(&self, url: Url) -> Reply {
        reply(self.http.get(url).send().await.expect("request sent")).await
    }

    /// One `metrics:getBatch` call over the last `hours` whole hours, hourly, all aggregations.
    pub async fn batch(
        &self,
        token: &str,
        (region, subscription): (&str, Uuid),
        (namespace, metrics): (&str, &str),
        ids: &[&str],
        hours: i64,
    ) -> Reply {
        let end =
            chrono::DurationRound::duration_trunc(chrono::Utc::now(), chrono::Duration::hours(1))
                .expect("truncates");
        let start = end - chrono::Duration::hours(hours);
        let mut url = self.url(&format!(
            "monitor/{region}/subscriptions/{subscription}/metrics:getBatch"
        ));
        url.query_pairs_mut()
            .append_pair("api-version", "2024-02-01")
            .append_pair("metricnamespace", namespace)
            .append_pair("metricnames", metrics)
            .append_pair("starttime", &start.to_rfc3339())
            .append_pair("endtime", &end.to_rfc3339())
            .append_pair("interval", "PT1H")
            .append_pair("aggregation", "average,maximum,minimum,total");
        self.post(url, token, &json!({"resourceids": ids})).await
    }
}

/// The values of one aggregation across a batch answer's first resource and metric `m`.
pub fn series(body: &Value, resource: usize, metric: usize, aggregation: &str) -> Vec<f64> {
    body["values"][resource]["value"][metric]["timeseries"][0]["data"]
        .as_array()
        .map(|points| {
            points
                .iter()
                .filter_map(|p| p[aggregation].as_f64())
                .collect()
        })
        .unwrap_or_default()
}

pub async fn reply(response: reqwest::Response) -> Reply {
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

pub fn cost_body(
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
