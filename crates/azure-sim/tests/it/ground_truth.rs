//! Ground truth at `/_sim/estate`: its shape, and each planted condition checked against the
//! inventory Resource Graph serves, both ways (a resource in the state has the condition, a
//! resource with the condition is in the state).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{ARM, Sim, queries, small};

/// `(resource id, rule id)` of every condition, and the conditions by that key.
fn planted(truth: &[Value]) -> HashMap<(String, String), Value> {
    truth
        .iter()
        .flat_map(|t| {
            let id = t["resource_id"].as_str().unwrap_or_default().to_owned();
            t["conditions"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |c| {
                    (
                        (
                            id.clone(),
                            c["rule_id"].as_str().unwrap_or_default().to_owned(),
                        ),
                        c,
                    )
                })
        })
        .collect()
}

fn time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// What the inventory says about a resource, per rule: whether the rule's state holds.
fn state_holds(rule: &str, r: &Value, all: &HashMap<String, Value>) -> Option<bool> {
    let p = &r["properties"];
    let kind = r["type"].as_str().unwrap_or_default();
    let empty = |v: &Value| v.as_array().is_none_or(Vec::is_empty);
    let named_by = |field: &str, path: &[&str]| {
        let id = r["id"].as_str().unwrap_or_default().to_ascii_lowercase();
        all.values().any(|o| {
            o["type"] == field
                && path
                    .iter()
                    .try_fold(&o["properties"], |v, k| v.get(*k))
                    .and_then(Value::as_str)
                    .is_some_and(|x| x.eq_ignore_ascii_case(&id))
        })
    };
    let power = p["extended"]["instanceView"]["powerState"]["code"].as_str();
    Some(match (rule, kind) {
        ("disk.unattached", "microsoft.compute/disks") => p["diskState"] == "Unattached",
        ("publicip.orphaned", "microsoft.network/publicipaddresses") => {
            p.get("ipConfiguration").is_none() && p.get("natGateway").is_none()
        }
        ("nic.orphaned", "microsoft.network/networkinterfaces") => {
            p.get("virtualMachine").is_none() && p.get("privateEndpoint").is_none()
        }
        ("vm.stopped_allocated", "microsoft.compute/virtualmachines") => {
            power == Some("PowerState/stopped")
        }
        ("vm.long_deallocated", "microsoft.compute/virtualmachines") => {
            power == Some("PowerState/deallocated")
        }
        ("vm.no_ahb", "microsoft.compute/virtualmachines") => {
            p["storageProfile"]["osDisk"]["osType"] == "Windows" && p.get("licenseType").is_none()
        }
        ("natgw.orphaned", "microsoft.network/natgateways") => empty(&p["subnets"]),
        ("lb.backendless", "microsoft.network/loadbalancers") => {
            r["sku"]["name"] == "Standard"
                && p["backendAddressPools"].as_array().is_some_and(|pools| {
                    pools
                        .iter()
                        .all(|x| empty(&x["properties"]["backendIPConfigurations"]))
                })
        }
        ("appgw.backendless", "microsoft.network/applicationgateways") => {
            p["backendAddressPools"].as_array().is_some_and(|pools| {
                pools
                    .iter()
                    .all(|x| empty(&x["properties"]["backendAddresses"]))
            })
        }
        ("vnetgw.idle", "microsoft.network/virtualnetworkgateways") => !named_by(
            "microsoft.network/connections",
            &["virtualNetworkGateway1", "id"],
        ),
        ("ddos.unassociated", "microsoft.network/ddosprotectionplans") => {
            empty(&p["virtualNetworks"])
        }
        ("er.unprovisioned", "microsoft.network/expressroutecircuits") => {
            p["serviceProviderProvisioningState"] == "NotProvisioned"
        }
        ("pe.unused", "microsoft.network/privateendpoints") => p["privateLinkServiceConnections"]
            .as_array()
            .is_some_and(|c| {
                c.iter().all(|c| {
                    c["properties"]["privateLinkServiceConnectionState"]["status"] != "Approved"
                })
            }),
        ("asp.empty", "microsoft.web/serverfarms") => p["numberOfSites"] == 0,
        ("sql.pool_empty", "microsoft.sql/servers/elasticpools") => {
            !named_by("microsoft.sql/servers/databases", &["elasticPoolId"])
        }
        ("sqlvm.no_ahb", "microsoft.sqlvirtualmachine/sqlvirtualmachines") => {
            p["sqlServerLicenseType"] == "PAYG"
        }
        ("snapshot.premium", "microsoft.compute/snapshots") => r["sku"]["name"] == "Premium_LRS",
        ("snapshot.orphaned_source", "microsoft.compute/snapshots") => {
            let source = p["creationData"]["sourceResourceId"]
                .as_str()
                .unwrap_or_default();
            !all.contains_key(&source.to_ascii_lowercase())
        }
        _ => return None,
    })
}

#[tokio::test]
async fn inventory_conditions_are_planted_exactly_where_the_inventory_shows_them() {
    let s = Sim::start(small()).await;
    let token = s.token(s.tenant(0), ARM).await;
    let sub = s.subscription(0, 0);
    let (rows, _) = s
        .graph_all(&token, queries::ALL_RESOURCES, &[sub], 1000)
        .await;
    let all: HashMap<String, Value> = rows
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap_or_default().to_ascii_lowercase(),
                r.clone(),
            )
        })
        .collect();
    let truth = s.truth(sub).await;
    let planted = planted(&truth);
    let rules: BTreeSet<&str> = planted.keys().map(|(_, rule)| rule.as_str()).collect();
    let mut checked = BTreeSet::new();
    for rule in &rules {
        for r in &rows {
            let id = r["id"].as_str().unwrap_or_default().to_owned();
            let Some(holds) = state_holds(rule, r, &all) else {
                continue;
            };
            checked.insert(*rule);
            assert_eq!(
                holds,
                planted.contains_key(&(id.clone(), (*rule).to_owned())),
                "{rule} on {id}"
            );
        }
    }
    for rule in [
        "disk.unattached",
        "publicip.orphaned",
        "nic.orphaned",
        "vm.long_deallocated",
        "lb.backendless",
        "appgw.backendless",
        "natgw.orphaned",
        "vnetgw.idle",
        "ddos.unassociated",
        "er.unprovisioned",
        "pe.unused",
        "asp.empty",
        "sql.pool_empty",
        "sqlvm.no_ahb",
        "vm.no_ahb",
        "vm.stopped_allocated",
    ] {
        assert!(checked.contains(rule), "{rule} was checked");
    }
    for ((id, rule), c) in &planted {
        let r = &all[&id.to_ascii_lowercase()];
        let since = time(&c["since"]).expect("since is RFC 3339");
        match rule.as_str() {
            "disk.unattached" => {
                let last = time(&r["properties"]["LastOwnershipUpdateTime"]);
                let created = time(&r["properties"]["timeCreated"]);
                assert_eq!(
                    Some(since),
                    last.or(created).map(|t| t.with_nanosecond_zero()),
                    "{id}"
                );
            }
            "sku.retired" => assert!(c["details"]["reason"].is_string()),
            _ => {}
        }
        assert!(since <= Utc::now(), "{rule} on {id} began in the past");
    }
}

trait NanosZero {
    fn with_nanosecond_zero(self) -> Self;
}

impl NanosZero for DateTime<Utc> {
    fn with_nanosecond_zero(self) -> Self {
        chrono::Timelike::with_nanosecond(&self, 0).unwrap_or(self)
    }
}

#[tokio::test]
async fn the_estate_endpoint_lists_ground_truth_deterministically_and_refuses_a_bad_filter() {
    let (a, b) = (Sim::start(small()).await, Sim::start(small()).await);
    let text = |s: &Sim| {
        let url = s.url("_sim/estate");
        let http = s.http.clone();
        async move {
            http.get(url)
                .send()
                .await
                .expect("sent")
                .text()
                .await
                .expect("body")
        }
    };
    let (ta, tb) = (text(&a).await, text(&b).await);
    assert_eq!(ta, tb, "the same seed plants the same conditions");
    let body: Value = serde_json::from_str(&ta).expect("JSON");
    assert!(body["tenants"].is_array() && body["operator_tenant_id"].is_string());
    assert_eq!(body["threshold_days"]["disk.unattached"], 7);
    let subs: HashSet<&str> = body["conditions"]
        .as_array()
        .expect("conditions")
        .iter()
        .filter_map(|c| c["subscription_id"].as_str())
        .collect();
    assert_eq!(subs.len(), 4, "every subscription has planted conditions");
    let only = a.truth(a.subscription(1, 1)).await;
    assert!(
        only.iter()
            .all(|t| t["subscription_id"] == a.subscription(1, 1).to_string())
    );
    let bad = a.get_public(a.url("_sim/estate?subscription=nope")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
