//! Resource Graph: `$skipToken` paging over several subscriptions.

use axum::response::Response;
use azcops::azure::resource_graph::{self, queries};
use futures::TryStreamExt;
use serde_json::json;

use super::{Received, SUB, client, context, received, reply, serve};

pub(super) fn resource_graph_page(request: &Received, _base: &str) -> Response {
    let row = |n: u32| {
        json!({"id": format!("/subscriptions/{SUB}/resourceGroups/RG-{n}/providers/Microsoft.Compute/disks/Disk{n}"),
               "name": format!("Disk{n}"), "type": "Microsoft.Compute/disks", "location": "WestEurope",
               "subscriptionId": SUB, "tags": "{\"env\":\"prod\"}", "properties": {"diskSizeGB": n}})
    };
    let (rows, next) = match request.body["options"]["$skipToken"].as_str() {
        None => ([1, 2], Some("t1")),
        Some("t1") => ([3, 4], Some("t2")),
        _ => ([5, 6], None),
    };
    let mut page =
        json!({"totalRecords": 6, "count": 2, "resultTruncated": "false", "data": rows.map(row)});
    if let Some(token) = next {
        page["$skipToken"] = json!(token);
    }
    reply(200, &page)
}

#[tokio::test]
async fn resource_graph_pages_resend_the_same_query_and_subscriptions_with_each_skip_token() {
    let (azure, log) = serve(resource_graph_page).await;
    let (client, ctx) = (client(&azure), context());
    let subscriptions = vec![
        SUB.to_owned(),
        "22222222-2222-2222-2222-222222222222".to_owned(),
    ];

    let pages: Vec<Vec<resource_graph::Resource>> =
        resource_graph::inventory_pages(&client, &ctx, &subscriptions)
            .try_collect()
            .await
            .expect("pages");

    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 2, 2],
        "mapped page by page"
    );
    assert_eq!(pages[2][1].name, "Disk6");
    assert_eq!(pages[0][0].resource_group, "rg-1");
    assert_eq!(pages[0][0].location, "westeurope");
    assert_eq!(pages[0][0].tags["env"], "prod");
    let requests = received(&log);
    assert_eq!(requests.len(), 3);
    let tokens: Vec<Option<&str>> = requests
        .iter()
        .map(|r| r.body["options"]["$skipToken"].as_str())
        .collect();
    assert_eq!(tokens, [None, Some("t1"), Some("t2")]);
    for request in &requests {
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.target,
            "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01"
        );
        assert_eq!(request.body["query"], queries::ALL_RESOURCES);
        assert_eq!(request.body["subscriptions"], json!(subscriptions));
        assert_eq!(request.body["options"]["$top"], 1000);
    }

    let all = resource_graph::collect_inventory(&client, &ctx, &subscriptions)
        .await
        .expect("inventory");
    assert_eq!(all.len(), 6);
}
