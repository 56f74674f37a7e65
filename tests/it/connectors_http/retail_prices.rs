//! Retail Prices: no `Authorization` header, the strict filter on the wire, `NextPageLink`
//! paging held to the configured endpoint (another origin or path, or a repeated link, fails
//! the query), SKU chunks, throttling and retries, currency checks.

use std::sync::Arc;

use axum::response::Response;
use azcops::azure::client::Api;
use azcops::azure::retail_prices::{self, PriceError, PriceQuery};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Received, client, context, received, reply, retrying_client, serve, serve_numbered};

const PATH: &str = "/api/retail/prices";

fn item(sku: &str, price: f64, currency: &str) -> Value {
    json!({"currencyCode": currency, "tierMinimumUnits": 0.0, "retailPrice": price, "unitPrice": price,
        "armRegionName": "westeurope", "location": "EU West", "effectiveStartDate": "2023-04-01T00:00:00Z",
        "meterId": format!("meter-{sku}"), "meterName": sku, "productId": "DZH318Z0BQ5S",
        "skuId": "DZH318Z0BQ5S/00TG", "productName": "Virtual Machines DSv3 Series", "skuName": sku,
        "serviceName": "Virtual Machines", "serviceId": "DZH313Z7MMC8", "serviceFamily": "Compute",
        "unitOfMeasure": "1 Hour", "type": "Consumption", "isPrimaryMeterRegion": true, "armSkuName": sku})
}

fn page(items: Vec<Value>, next: Option<String>) -> Value {
    json!({"BillingCurrency": "EUR", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
        "Items": items, "NextPageLink": next, "Count": 1})
}

/// Two pages: the link keeps the query and adds `$skip`, as Azure's do.
fn two_pages(request: &Received, base: &str) -> Response {
    if !request.target.starts_with(PATH) {
        return reply(
            404,
            &json!({"error": {"code": "NotFound", "message": "no such path"}}),
        );
    }
    if request.raw_query.contains("skip=1000") {
        return reply(
            200,
            &page(vec![item("Standard_D4s_v3", 0.192, "EUR")], None),
        );
    }
    let next = format!("{base}{PATH}?{}&$skip=1000", request.raw_query);
    reply(
        200,
        &page(vec![item("Standard_D2s_v3", 0.096, "EUR")], Some(next)),
    )
}

fn query(skus: &[&str]) -> PriceQuery {
    PriceQuery::consumption(
        "EUR",
        "westeurope",
        "Virtual Machines",
        skus.iter().map(|s| (*s).to_owned()).collect(),
    )
}

#[tokio::test]
async fn prices_are_read_across_next_page_links_without_any_authorization_header() {
    let (azure, log) = serve(two_pages).await;
    let (client, ctx) = (client(&azure), context());

    let prices = retail_prices::query_prices(
        &client,
        &ctx,
        &query(&["Standard_D2s_v3", "Standard_D4s_v3"]),
    )
    .await
    .expect("prices");

    let got: Vec<(&str, Decimal, &str)> = prices
        .iter()
        .map(|p| (p.arm_sku_name.as_str(), p.retail_price, p.currency.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("Standard_D2s_v3", Decimal::new(96, 3), "EUR"),
            ("Standard_D4s_v3", Decimal::new(192, 3), "EUR")
        ]
    );
    let requests = received(&log);
    assert_eq!(requests.len(), 2);
    assert!(
        requests.iter().all(|r| r.authorization.is_none()),
        "no token to a public API"
    );
    assert_eq!(
        requests[0].raw_query,
        "api-version=2023-01-01-preview&currencyCode=%27EUR%27&%24filter=armRegionName%20eq%20%27westeurope%27%20and%20serviceName%20eq%20%27Virtual%20Machines%27%20and%20priceType%20eq%20%27Consumption%27%20and%20%28armSkuName%20eq%20%27Standard_D2s_v3%27%20or%20armSkuName%20eq%20%27Standard_D4s_v3%27%29"
    );
    let stats = ctx.stats.api(Api::RetailPrices);
    assert_eq!((stats.calls, stats.failures, stats.qpu_units), (2, 0, 0));
}

#[tokio::test]
async fn a_next_page_link_to_another_origin_or_path_is_never_followed() {
    let (elsewhere, elsewhere_log) = serve(two_pages).await;
    for target in [
        format!("{elsewhere}api/retail/prices?$skip=1000"),
        "/internal/admin?$skip=1000".to_owned(),
    ] {
        let answer: super::Numbered = Arc::new(move |_request: &Received, base: &str, _| {
            let link = if target.starts_with('/') {
                format!("{base}{target}")
            } else {
                target.clone()
            };
            reply(
                200,
                &page(vec![item("Standard_D2s_v3", 0.096, "EUR")], Some(link)),
            )
        });
        let (azure, log) = serve_numbered(answer).await;
        let (client, ctx) = (client(&azure), context());

        let err = retail_prices::query_prices(&client, &ctx, &query(&["Standard_D2s_v3"]))
            .await
            .expect_err("foreign link");

        assert!(matches!(err, PriceError::ForeignLink(_)), "{err}");
        assert!(!err.is_retryable());
        assert_eq!(received(&log).len(), 1, "only the first page was asked for");
    }
    assert!(
        received(&elsewhere_log).is_empty(),
        "nothing was sent elsewhere"
    );
}

#[tokio::test]
async fn a_repeated_next_page_link_ends_paging_with_an_error() {
    let (azure, log) = serve(|request, base| {
        let link = format!(
            "{base}{PATH}?{}&$skip=1000",
            request.raw_query.split("&$skip").next().unwrap_or_default()
        );
        reply(
            200,
            &page(vec![item("Standard_D2s_v3", 0.096, "EUR")], Some(link)),
        )
    })
    .await;
    let (client, ctx) = (client(&azure), context());

    let err = retail_prices::query_prices(&client, &ctx, &query(&["Standard_D2s_v3"]))
        .await
        .expect_err("loop");

    assert!(matches!(err, PriceError::RepeatedLink(_)), "{err}");
    assert_eq!(received(&log).len(), 2);
}

#[tokio::test]
async fn long_sku_lists_become_requests_of_at_most_twenty_skus() {
    let (azure, log) = serve(|_, _| reply(200, &page(vec![], None))).await;
    let (client, ctx) = (client(&azure), context());
    let names: Vec<String> = (0..45).map(|n| format!("Standard_E{n}s_v5")).collect();
    let skus: Vec<&str> = names.iter().map(String::as_str).collect();

    let prices = retail_prices::query_prices(&client, &ctx, &query(&skus))
        .await
        .expect("prices");

    assert!(prices.is_empty());
    let requests = received(&log);
    let counts: Vec<usize> = requests
        .iter()
        .map(|r| r.target.matches("armSkuName eq '").count())
        .collect();
    assert_eq!(counts, [20, 20, 5]);
    assert!(requests.iter().all(|r| r.raw_query.len() < 2000));
}

#[tokio::test]
async fn throttling_is_waited_out_and_a_long_wait_fails_as_retryable() {
    let answer: super::Numbered = Arc::new(|request: &Received, base: &str, number: usize| {
        if number == 0 {
            return Response::builder()
                .status(429)
                .header("retry-after", "0.05")
                .body(axum::body::Body::from("Too Many Requests"))
                .expect("response");
        }
        two_pages(request, base)
    });
    let (azure, log) = serve_numbered(answer).await;
    let (client, ctx) = (retrying_client(&azure), context());
    let prices = retail_prices::query_prices(&client, &ctx, &query(&["Standard_D2s_v3"]))
        .await
        .expect("waited");
    assert_eq!(prices.len(), 2);
    assert_eq!(received(&log).len(), 3);
    let stats = ctx.stats.api(Api::RetailPrices);
    assert_eq!((stats.throttled, stats.retries), (1, 1));

    let (azure, _log) = serve(|_, _| {
        Response::builder()
            .status(429)
            .header("retry-after", "3600")
            .body(axum::body::Body::empty())
            .expect("response")
    })
    .await;
    let (client, ctx) = (retrying_client(&azure), context());
    let err = retail_prices::query_prices(&client, &ctx, &query(&["Standard_D2s_v3"]))
        .await
        .expect_err("an hour is too long to hold a worker");
    assert!(err.is_retryable(), "{err}");
}

#[tokio::test]
async fn prices_in_another_currency_fail_the_query() {
    let (azure, _log) =
        serve(|_, _| reply(200, &page(vec![item("Standard_D2s_v3", 0.1, "USD")], None))).await;
    let (client, ctx) = (client(&azure), context());
    let err = retail_prices::query_prices(&client, &ctx, &query(&["Standard_D2s_v3"]))
        .await
        .expect_err("USD for EUR");
    assert!(matches!(err, PriceError::CurrencyMismatch { .. }), "{err}");
    let mut bad = query(&["x"]);
    bad.currency = "EURO".into();
    assert!(matches!(
        retail_prices::query_prices(&client, &ctx, &bad).await,
        Err(PriceError::InvalidQuery(_))
    ));
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed_and_one_to_the_same_origin_is() {
    let (elsewhere, elsewhere_log) = serve(two_pages).await;
    let target = format!("{elsewhere}api/retail/prices");
    let answer: super::Numbered = Arc::new(move |request: &Received, base: &str, _| {
        let location = if request.raw_query.contains("moved=1") {
            return two_pages(request, base);
        } else if request.raw_query.contains("Standard_D2s_v3") {
            format!("{base}{PATH}?{}&moved=1", request.raw_query)
        } else {
            target.clone()
        };
        Response::builder()
            .status(302)
            .header("location", location)
            .body(axum::body::Body::empty())
            .expect("response")
    });
    let (azure, log) = serve_numbered(answer).await;
    let (client, ctx) = (client(&azure), context());

    let prices = retail_prices::query_prices(&client, &ctx, &query(&["Standard_D2s_v3"]))
        .await
        .expect("same-origin redirect followed");
    assert_eq!(prices.len(), 2);
    assert!(received(&log).iter().all(|r| r.authorization.is_none()));

    let err = retail_prices::query_prices(&client, &ctx, &query(&["Standard_E2s_v5"]))
        .await
        .expect_err("cross-origin redirect");
    assert!(
        matches!(&err, PriceError::Azure(e) if e.status() == Some(302)),
        "{err}"
    );
    assert!(!err.is_retryable());
    assert!(
        received(&elsewhere_log).is_empty(),
        "nothing was sent elsewhere"
    );
}
