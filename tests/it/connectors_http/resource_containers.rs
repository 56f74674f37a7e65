//! Resource Graph containers: the `ResourceContainers` query, `$skipToken` paging, mapping.

use axum::response::Response;
use azcops::azure::client::Api;
use azcops::azure::resource_graph::{self, ContainerKind, queries};
use serde_json::json;

use super::{Received, SUB, client, context, received, reply, serve};

fn containers_page(request: &Received, _base: &str) -> Response {
    let subscription = json!({"id": format!("/subscriptions/{SUB}"), "name": "Contoso Prod",
        "type": "microsoft.resources/subscriptions", "tenantId": "AAAA0000-0000-4000-8000-000000000001",
        "subscriptionId": SUB, "resourceGroup": "", "tags": {"cost-center": "42"}});
    let group = |name: &str, tags: serde_json::Value| {
        json!({"id": format!("/subscriptions/{SUB}/resourceGroups/{name}"), "name": name,
            "type": "microsoft.resources/subscriptions/resourcegroups",
            "tenantId": "aaaa0000-0000-4000-8000-000000000001", "subscriptionId": SUB,
            "resourceGroup": name, "tags": tags})
    };
    let page = match request.body["options"]["$skipToken"].as_str() {
        None => {
            json!({"totalRecords": 3, "count": 2, "resultTruncated": "false", "$skipToken": "c1",
            "data": [subscription, group("RG-Web", json!({"env": "prod"}))]})
        }
        Some(_) => json!({"totalRecords": 3, "count": 1, "resultTruncated": "false",
            "data": [group("rg-data", json!(null))]}),
    };
    reply(200, &page)
}

#[tokio::test]
async fn containers_are_read_page_by_page_with_their_tags() {
    let (azure, log) = serve(containers_page).await;
    let (client, ctx) = (client(&azure), context());

    let containers = resource_graph::collect_containers(&client, &ctx, &[SUB.to_owned()])
        .await
        .expect("containers");

    let got: Vec<(ContainerKind, &str, &str, usize)> = containers
        .iter()
        .map(|c| {
            (
                c.kind,
                c.resource_group.as_str(),
                c.name.as_str(),
                c.tags.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (ContainerKind::Subscription, "", "Contoso Prod", 1),
            (ContainerKind::ResourceGroup, "rg-web", "RG-Web", 1),
            (ContainerKind::ResourceGroup, "rg-data", "rg-data", 0),
        ]
    );
    assert_eq!(containers[0].tags["cost-center"], "42");
    assert_eq!(
        containers[1].id,
        format!("/subscriptions/{SUB}/resourcegroups/rg-web")
    );
    assert!(
        containers
            .iter()
            .all(|c| c.subscription_id == SUB
                && c.tenant_id == "aaaa0000-0000-4000-8000-000000000001")
    );
    let requests = received(&log);
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(request.body["query"], queries::RESOURCE_CONTAINERS);
        assert_eq!(request.body["subscriptions"], json!([SUB]));
    }
    assert_eq!(requests[1].body["options"]["$skipToken"], "c1");
    assert_eq!(ctx.stats.api(Api::ResourceGraph).calls, 2);
}
