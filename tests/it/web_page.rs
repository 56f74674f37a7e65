//! The web page (`/api/ui/`): public static content with a strict policy and hashed,
//! immutable assets; and the cost summary and list, which the page's overview reads for the
//! tenant an operator picks.

use axum::http::{Method, StatusCode};
use chrono::NaiveDate;
use sqlx::PgPool;
use uuid::Uuid;

use azcops::api::{self, AppState, Authn};
use azcops::config::UiSettings;
use azcops::db::costs::{self, NewCostRow};
use azcops::db::{self, Database, Scope};

use crate::support::tokens::JwksServer;
use crate::support::{self, READER, TestApp, request};

async fn page_router(pool: PgPool) -> (axum::Router, JwksServer) {
    let jwks = JwksServer::start().await;
    let authn = Authn::Entra {
        verifier: jwks.verifier(),
        operator_tenant_id: Uuid::new_v4(),
    };
    let ui = UiSettings {
        client_id: Some("spa-client".into()),
        authority: "https://login.microsoftonline.com/organizations/v2.0".into(),
        scope: Some("api://azcops/.default".into()),
        operator_tenant_id: None,
    };
    let state = AppState::new(Database::from_pool(pool), authn).with_ui(ui);
    (api::router(state), jwks)
}

fn header<'a>(reply: &'a support::Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_page_is_public_with_a_strict_policy_and_immutable_hashed_assets(pool: PgPool) {
    let (router, _jwks) = page_router(pool).await;
    let get = |uri: &str| support::send(&router, request(Method::GET, uri, None, None));

    let page = get("/api/ui/").await;
    assert_eq!(page.status, StatusCode::OK, "no token needed for the page");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let csp = header(&page, "content-security-policy");
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(
        csp.contains("connect-src 'self' https://login.microsoftonline.com;"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    let html = page.body.as_str().expect("html");
    let version = api::ui::version();
    assert!(html.contains(&format!("assets/{version}/app.js")), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "nothing inline"
    );

    let asset = get(&format!("/api/ui/assets/{version}/views/overview.js")).await;
    assert_eq!(asset.status, StatusCode::OK);
    assert_eq!(
        header(&asset, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        header(&asset, "content-type"),
        "text/javascript; charset=utf-8"
    );
    get("/api/ui/assets/0123456789abcdef/app.js")
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    get(&format!("/api/ui/assets/{version}/../Cargo.toml"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");

    let config = get("/api/ui/config.json").await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(config.body["client_id"], "spa-client");
    assert_eq!(config.body["scope"], "api://azcops/.default");
    assert_eq!(header(&config, "cache-control"), "no-cache");
    let bare = get("/api/ui").await;
    assert_eq!(bare.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(header(&bare, "location"), "/api/ui/");
}

fn day_cost(day: u32, amount: &str) -> NewCostRow {
    NewCostRow {
        date: NaiveDate::from_ymd_opt(2026, 11, day).expect("date"),
        resource_group: "rg-web".into(),
        service_name: "Storage".into(),
        meter_category: "Storage".into(),
        cost: amount.parse().expect("decimal"),
        amortized_cost: amount.parse().expect("decimal"),
        currency: "USD".into(),
    }
}

async fn tenant_with_costs(app: &TestApp, name: &str, amount: &str) -> (Uuid, Uuid) {
    let (tenant, azure_tenant) = app.tenant(name).await;
    let sub = app.subscription(tenant, name).await;
    let mut tx = db::begin(&app.pool, Scope::Tenant(tenant))
        .await
        .expect("tx");
    costs::upsert(&mut tx, tenant, sub, &[day_cost(1, amount)])
        .await
        .expect("costs");
    tx.commit().await.expect("commit");
    (tenant, azure_tenant)
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_cost_summary_and_list_cover_the_tenant_an_operator_names_and_only_the_callers_own(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let (a, a_tid) = tenant_with_costs(&app, "A", "10.00").await;
    let (b, _) = tenant_with_costs(&app, "B", "32.50").await;
    let window = "from=2026-11-01&to=2026-11-30";
    let operator = app.operator();
    let total = |reply: &support::Reply| reply.body["total_amortized_cost"].as_f64();

    let every = app
        .get(&format!("/api/v1/costs/summary?{window}"), &operator)
        .await;
    assert_eq!(total(&every), Some(42.5), "{}", every.body);
    for (tenant, expected) in [(a, 10.0), (b, 32.5)] {
        let one = app
            .get(
                &format!("/api/v1/costs/summary?{window}&tenant_id={tenant}"),
                &operator,
            )
            .await;
        assert_eq!(total(&one), Some(expected), "{}", one.body);
        let rows = app
            .get(
                &format!("/api/v1/costs?{window}&tenant_id={tenant}&include_total=true"),
                &operator,
            )
            .await;
        assert_eq!(rows.body["total"], 1, "{}", rows.body);
        assert_eq!(rows.body["items"][0]["tenant_id"], tenant.to_string());
    }

    // A's reader naming B's tenant sees nothing of B's, and its own as always.
    let reader = app.token(a_tid, &[READER]);
    let other = app
        .get(
            &format!("/api/v1/costs/summary?{window}&tenant_id={b}"),
            &reader,
        )
        .await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.body);
    assert_eq!(
        other.body["totals"],
        serde_json::json!([]),
        "{}",
        other.body
    );
    let rows = app
        .get(
            &format!("/api/v1/costs?{window}&tenant_id={b}&include_total=true"),
            &reader,
        )
        .await;
    assert_eq!(rows.body["total"], 0, "{}", rows.body);
    let own = app
        .get(
            &format!("/api/v1/costs/summary?{window}&tenant_id={a}"),
            &reader,
        )
        .await;
    assert_eq!(total(&own), Some(10.0), "{}", own.body);
}

/// A form body (`application/x-www-form-urlencoded`).
fn form(pairs: &[(&str, &str)]) -> String {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        body.append_pair(name, value);
    }
    body.finish()
}

#[tokio::test]
async fn the_development_identity_provider_signs_a_browser_in_with_pkce_and_each_code_once() {
    use azcops::auth::{ROLE_APPROVER, Verifier, VerifierSettings};
    use azure_sim::dev_idp::{self, DevIdpConfig};
    use base64::Engine;
    use sha2::Digest;

    let key_file = std::env::temp_dir().join(format!("azcops-dev-idp-{}.der", Uuid::new_v4()));
    let config = DevIdpConfig {
        listen: "127.0.0.1:0".parse().expect("address"),
        key_file: key_file.clone(),
        audience: crate::support::tokens::TEST_AUDIENCE.to_owned(),
        default_tenant_id: Uuid::new_v4(),
        https_listen: None,
        tls_file: std::env::temp_dir().join("unused-dev-idp-tls.pem"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let router = dev_idp::router(&config).expect("dev IdP router");
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    let discovery = http
        .get(format!("{base}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery");
    assert_eq!(discovery.headers()["access-control-allow-origin"], "*");
    let discovery: serde_json::Value = discovery.json().await.expect("json");
    assert_eq!(discovery["token_endpoint"], format!("{base}/token"));
    assert_eq!(discovery["code_challenge_methods_supported"][0], "S256");

    let verifier = "a-verifier-of-the-browser-that-is-long-enough-1234";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    let redirect = "http://127.0.0.1:7071/api/ui/";
    let tid = Uuid::new_v4().to_string();
    let request = |redirect: &'static str| {
        vec![
            ("client_id", "spa"),
            ("redirect_uri", redirect),
            ("response_type", "code"),
            ("scope", "openid api://azcops-test/.default"),
            ("state", "s1"),
            ("code_challenge_method", "S256"),
            ("response_mode", "fragment"),
        ]
    };
    let mut query = request(redirect);
    query.push(("code_challenge", &challenge));
    let page = http
        .get(format!("{base}/authorize?{}", form(&query)))
        .send()
        .await
        .expect("authorize");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains(r#"name="tid""#));
    let mut foreign = request("https://elsewhere.example/");
    foreign.push(("code_challenge", &challenge));
    let refused = http
        .get(format!("{base}/authorize?{}", form(&foreign)))
        .send()
        .await
        .expect("authorize");
    assert_eq!(refused.status(), 400, "only loopback redirect URIs");

    let code = || async {
        let mut decision = query.clone();
        decision.extend([
            ("tid", tid.as_str()),
            ("role", ROLE_APPROVER),
            ("name", "Ada"),
        ]);
        let answer = http
            .post(format!("{base}/authorize"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&decision))
            .send()
            .await
            .expect("decision");
        assert_eq!(answer.status(), 303);
        let location = answer.headers()["location"].to_str().expect("location");
        let fragment = location
            .strip_prefix(&format!("{redirect}#"))
            .expect("the code comes back in the fragment");
        let pairs: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(fragment.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(pairs["state"], "s1");
        pairs["code"].clone()
    };
    let redeem = |code: String, verifier: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.post(format!("{base}/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("code_verifier", verifier),
                    ("redirect_uri", redirect),
                    ("client_id", "spa"),
                ]))
                .send()
                .await
                .expect("token")
        }
    };

    let first = code().await;
    let wrong = redeem(
        first.clone(),
        "another-verifier-entirely-that-is-long-enough-000",
    )
    .await;
    assert_eq!(wrong.status(), 400);
    let wrong: serde_json::Value = wrong.json().await.expect("json");
    assert_eq!(wrong["error"], "invalid_grant");
    let again = redeem(first, verifier).await;
    assert_eq!(
        again.status(),
        400,
        "a code is used once, even by a wrong verifier"
    );

    let answer = redeem(code().await, verifier).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["access-control-allow-origin"], "*");
    let answer: serde_json::Value = answer.json().await.expect("json");
    let token = answer["access_token"].as_str().expect("access token");
    let settings = VerifierSettings {
        jwks_url: format!("{base}/keys").parse().expect("JWKS URL"),
        ..crate::support::tokens::verifier_settings(&"http://unused/".parse().expect("URL"))
    };
    let claims = Verifier::new(settings, crate::support::tokens::http_client())
        .verify(token)
        .await
        .expect("the browser's token is a valid access token");
    assert_eq!(claims.tid.to_string(), tid);
    assert!(claims.has_role(ROLE_APPROVER));
    server.abort();
    std::fs::remove_file(key_file).ok();
}
