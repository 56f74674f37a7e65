//! Paging: `nextLink` with GET, the same body POSTed to each link, Resource Graph's
//! `$skipToken`; an empty page with a link does not stop paging.

use azcops::azure::client::Api;
use azcops::azure::paging::{PostPaging, cost_next_link};
use futures::TryStreamExt;
use serde_json::{Value, json};

use super::fakes::{context, quick_client, reply, serve};

#[tokio::test]
async fn get_pages_follows_next_link_across_an_empty_middle_page() {
    let azure = serve(|r| async move {
        let link = |token: &str| {
            format!(
                "{}/recommendations?api-version=1&%24skipToken={token}",
                r.base
            )
        };
        let page = match r.path_and_query.rsplit('=').next() {
            Some("1") => json!({"value": [1, 2], "nextLink": link("a")}),
            Some("a") => json!({"value": [], "nextLink": link("b")}),
            _ => json!({"value": [3], "nextLink": null}),
        };
        reply(200, &[], page)
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let ctx = context();
    let url = client
        .arm_url("/recommendations", &[("api-version", "1")])
        .expect("url");

    let pages: Vec<Vec<u32>> = client
        .get_pages(&ctx, Api::Advisor, url)
        .try_collect()
        .await
        .expect("pages");

    assert_eq!(pages, vec![vec![1, 2], vec![], vec![3]]);
    let received = azure.received();
    assert_eq!(received.len(), 3);
    assert!(received.iter().all(|r| r.method == "GET"));
    assert!(received[2].path_and_query.ends_with("skipToken=b"));
}

#[tokio::test]
async fn cost_query_pages_post_the_same_body_to_every_next_link() {
    let azure = serve(|r| async move {
        let link = |token: &str| {
            format!(
                "{}/query?api-version=2023-11-01&%24skiptoken={token}",
                r.base
            )
        };
        let page = match r.index {
            // The examples put the link in `properties`, the spec also declares it at the top.
            0 => json!({"properties": {"nextLink": link("p2"), "rows": [[1.5, 20240101, "EUR"]]}}),
            1 => json!({"properties": {"rows": []}, "nextLink": link("p3")}),
            _ => json!({"properties": {"nextLink": null, "rows": [[2.5, 20240102, "EUR"]]}}),
        };
        reply(200, &[], page)
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let ctx = context();
    let url = client
        .arm_url(
            "/subscriptions/s/providers/Microsoft.CostManagement/query",
            &[("api-version", "2023-11-01")],
        )
        .expect("url");
    let body =
        json!({"type": "ActualCost", "timeframe": "Custom", "dataset": {"granularity": "Daily"}});

    let pages: Vec<Value> = client
        .post_pages(&ctx, PostPaging::cost_query(2), url, &body, cost_next_link)
        .try_collect()
        .await
        .expect("pages");

    let rows: Vec<usize> = pages
        .iter()
        .map(|p| p["properties"]["rows"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(rows, vec![1, 0, 1]);
    let received = azure.received();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(
            serde_json::from_str::<Value>(&request.body).expect("json body"),
            body
        );
    }
    assert!(received[1].path_and_query.ends_with("skiptoken=p2"));
    assert!(received[2].path_and_query.ends_with("skiptoken=p3"));
    assert_eq!(ctx.stats.api(Api::CostManagement).qpu_units, 6);
}

#[tokio::test]
async fn resource_graph_pages_resend_the_query_with_the_skip_token() {
    let azure = serve(|r| async move {
        let body: Value = serde_json::from_str(&r.body).unwrap_or_default();
        let page = match body["options"]["$skipToken"].as_str() {
            None => json!({"data": [{"id": "a"}], "$skipToken": "t1"}),
            Some("t1") => json!({"data": [], "$skipToken": "t2"}),
            Some(_) => json!({"data": [{"id": "b"}]}),
        };
        reply(200, &[], page)
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let ctx = context();
    let url = client
        .arm_url(
            "/providers/Microsoft.ResourceGraph/resources",
            &[("api-version", "2022-10-01")],
        )
        .expect("url");
    let query = json!({"query": "Resources | project id", "subscriptions": ["s"], "options": {"$top": 1000}});
    let next = |page: &Value| page["$skipToken"].as_str().map(str::to_owned);

    let pages: Vec<Value> = client
        .post_pages(
            &ctx,
            PostPaging::skip_token(Api::ResourceGraph),
            url,
            &query,
            next,
        )
        .try_collect()
        .await
        .expect("pages");

    assert_eq!(pages.len(), 3);
    let bodies: Vec<Value> = azure
        .received()
        .iter()
        .map(|r| serde_json::from_str(&r.body).expect("json"))
        .collect();
    for (body, token) in bodies.iter().zip([None, Some("t1"), Some("t2")]) {
        assert_eq!(body["query"], query["query"]);
        assert_eq!(body["subscriptions"], query["subscriptions"]);
        assert_eq!(body["options"]["$top"], 1000);
        assert_eq!(body["options"]["$skipToken"].as_str(), token);
    }
}

#[tokio::test]
async fn a_failed_page_ends_the_stream_with_its_error() {
    let azure = serve(|r| async move {
        if r.index == 0 {
            reply(
                200,
                &[],
                json!({"value": [1], "nextLink": format!("{}/next", r.base)}),
            )
        } else {
            reply(
                404,
                &[],
                json!({"error": {"code": "NotFound", "message": "gone"}}),
            )
        }
    })
    .await;
    let (client, _tokens) = quick_client(&azure.url).await;
    let ctx = context();

    let results: Vec<_> = futures::StreamExt::collect(client.get_pages::<u32>(
        &ctx,
        Api::Advisor,
        client.arm_url("/x", &[]).expect("url"),
    ))
    .await;

    assert_eq!(results.len(), 2);
    assert_eq!(results[0].as_ref().expect("first page"), &vec![1]);
    assert_eq!(
        results[1].as_ref().err().and_then(|e| e.code()),
        Some("NotFound")
    );
}
