//! The containers a resource inherits tags from, without a request of their own: each
//! inventory row carries its resource group's tags (`resourceGroupTags`, joined by the inventory
//! query), and the subscription's tags come with ARM's `GET /subscriptions/{id}`.

use axum::response::Response;
use azcops::azure::client::Api;
use azcops::azure::resource_graph::{self, Container, ContainerKind, queries};
use azcops::azure::subscriptions;
use serde_json::json;

use super::{Received, SUB, client, context, received, reply, serve};

const HOME: &str = "aaaa0000-0000-4000-8000-000000000001";

fn azure(request: &Received, _base: &str) -> Response {
    if request.method == "GET" {
        return reply(
            200,
            &json!({"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB,
                "tenantId": HOME.to_ascii_uppercase(), "displayName": "Contoso Prod", "state": "Enabled",
                "tags": {"cost-center": "42"}}),
        );
    }
    let row = |group: &str, name: &str, tags: serde_json::Value| {
        json!({"id": format!("/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.Compute/disks/{name}"),
            "name": name, "type": "Microsoft.Compute/disks", "resourceGroup": group, "subscriptionId": SUB,
            "tenantId": HOME, "tags": {}, "resourceGroupTags": tags})
    };
    let page = match request.body["options"]["$skipToken"].as_str() {
        None => {
            json!({"totalRecords": 3, "count": 2, "resultTruncated": "false", "$skipToken": "c1",
            "data": [row("RG-Web", "a", json!({"env": "prod"})), row("rg-web", "b", json!({"env": "prod"}))]})
        }
        Some(_) => json!({"totalRecords": 3, "count": 1, "resultTruncated": "false",
            "data": [row("rg-data", "c", json!(null))]}),
    };
    reply(200, &page)
}

#[tokio::test]
async fn groups_tags_ride_on_the_inventory_rows_and_the_subscriptions_on_arms_answer() {
    let (azure, log) = serve(azure).await;
    let (client, ctx) = (client(&azure), context());

    let info = subscriptions::get_at_home(&client, &ctx, SUB, HOME)
        .await
        .expect("read")
        .expect("at home");
    let resources = resource_graph::collect_inventory(&client, &ctx, &[SUB.to_owned()])
        .await
        .expect("inventory");

    assert_eq!(info.tags["cost-center"], "42");
    let own = Container::subscription(
        &info.subscription_id,
        &info.display_name,
        info.tenant_id.as_deref().unwrap_or_default(),
        info.tags.clone(),
    );
    assert_eq!(
        (
            own.kind,
            own.id.clone(),
            own.name.as_str(),
            own.tenant_id.as_str()
        ),
        (
            ContainerKind::Subscription,
            format!("/subscriptions/{SUB}"),
            "Contoso Prod",
            HOME
        )
    );
    let groups: Vec<Container> = resources.iter().filter_map(Container::group_of).collect();
    let got: Vec<(&str, usize)> = groups
        .iter()
        .map(|g| (g.resource_group.as_str(), g.tags.len()))
        .collect();
    // Both rows of RG-Web name the same group, whatever the case; rg-data's tags were null.
    assert_eq!(got, [("rg-web", 1), ("rg-web", 1), ("rg-data", 0)]);
    assert_eq!(groups[0], groups[1]);
    assert_eq!(groups[0].tags["env"], "prod");
    assert_eq!(
        groups[0].id,
        format!("/subscriptions/{SUB}/resourcegroups/rg-web")
    );
    let requests = received(&log);
    let posts: Vec<&Received> = requests.iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 2, "the inventory's two pages, nothing else");
    for request in &posts {
        assert_eq!(request.body["query"], queries::ALL_RESOURCES);
    }
    assert_eq!(ctx.stats.api(Api::ResourceGraph).calls, 2);
    assert_eq!(ctx.stats.api(Api::Subscriptions).calls, 1);
}
