//! `/api/v1/recommendations`: the list with its filters and order, one recommendation with its
//! evidence, group and timeline, and the summary counting each Advisor + rule group once.
//! The lifecycle, suppressions and rules, and bad input are in the submodules.

mod bad_input;
mod lifecycle;
mod settings;
mod summary_cells;

use axum::http::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::findings::{ADVISOR_UNATTACHED_DISK, Estate, advisor_row, day, finding};
use crate::support::{ADMIN, READER, TestApp};

/// A tenant registered through the API with one subscription of findings.
pub struct World {
    pub app: TestApp,
    pub tid: Uuid,
    pub estate: Estate,
}

impl World {
    pub async fn new(pool: PgPool) -> Self {
        let app = TestApp::new(pool).await;
        let (tenant, tid) = app.tenant("Contoso").await;
        let subscription = app.subscription(tenant, "prod").await;
        let estate = Estate::of(&app.pool, tenant, subscription).await;
        Self { app, tid, estate }
    }

    /// A token of this tenant with `roles`.
    pub fn token(&self, roles: &[&str]) -> String {
        self.app.token(self.tid, roles)
    }

    /// A new open recommendation (a finding about a disk of its own); returns its id.
    pub async fn fresh(&self) -> Uuid {
        let name = format!("d{}", &Uuid::new_v4().simple().to_string()[..8]);
        let disk = self
            .estate
            .disk(&self.app.pool, "rg", &name, json!({}))
            .await;
        let f = finding("disk.unattached", &disk, "delete");
        self.estate
            .evaluate(&self.app.pool, day(1), std::slice::from_ref(&f), &[])
            .await;
        self.estate.finding_id(&self.app.pool, &f.fingerprint).await
    }
}

/// The ids of a list answer, in order.
fn ids(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_list_filters_orders_and_hides_superseded_advisor_recommendations(pool: PgPool) {
    let w = World::new(pool).await;
    let pool = &w.app.pool;
    let cheap = w
        .estate
        .disk(pool, "rg-a", "cheap", json!({"env": "dev"}))
        .await;
    let dear = w
        .estate
        .disk(pool, "rg-b", "dear", json!({"env": "prod"}))
        .await;
    let mut f_cheap = finding("disk.unattached", &cheap, "delete");
    f_cheap.monthly_savings = Some(3.into());
    f_cheap.confidence = 0.95;
    let mut f_dear = finding("vm.idle", &dear, "shutdown");
    f_dear.monthly_savings = Some(300.into());
    f_dear.confidence = 0.6;
    f_dear.risk = "medium".into();
    w.estate
        .evaluate(pool, day(1), &[f_cheap.clone(), f_dear.clone()], &[])
        .await;
    w.estate
        .advisor(pool, &[advisor_row(ADVISOR_UNATTACHED_DISK, &cheap, 7)])
        .await;
    let cheap_id = w
        .estate
        .finding_id(pool, &f_cheap.fingerprint)
        .await
        .to_string();
    let dear_id = w
        .estate
        .finding_id(pool, &f_dear.fingerprint)
        .await
        .to_string();
    let reader = w.token(&[READER]);
    let list = |query: &str| {
        // Counted, so `total` and `total_pages` can be checked.
        let sep = if query.is_empty() { '?' } else { '&' };
        let uri = format!("/api/v1/recommendations{query}{sep}include_total=true");
        let app = &w.app;
        let reader = reader.clone();
        async move {
            let reply = app.get(&uri, &reader).await;
            assert_eq!(reply.status, StatusCode::OK, "{uri}: {}", reply.body);
            reply.body
        }
    };
    let all = list("").await;
    assert_eq!(
        ids(&all),
        [dear_id.clone(), cheap_id.clone()],
        "largest savings first"
    );
    assert_eq!(
        all["total"], 2,
        "the superseded Advisor recommendation is hidden"
    );
    assert_eq!(all["items"][1]["resource_group"], "rg-a");
    assert_eq!(all["items"][1]["savings_basis"], "c30");
    let with_advisor = list("?include_superseded=true&source=advisor").await;
    assert_eq!(with_advisor["items"][0]["superseded_by"], cheap_id.as_str());
    assert_eq!(
        ids(&list("?sort=confidence").await),
        [cheap_id.clone(), dear_id.clone()]
    );
    for (query, expected) in [
        ("?rule_id=vm.idle", vec![dear_id.clone()]),
        ("?resource_group=RG-A", vec![cheap_id.clone()]),
        ("?tag_key=env&tag_value=prod", vec![dear_id.clone()]),
        ("?tag_key=env", vec![dear_id.clone(), cheap_id.clone()]),
        ("?min_savings=10", vec![dear_id.clone()]),
        ("?risk=medium", vec![dear_id.clone()]),
        ("?status=approved", vec![]),
        (
            "?source=rule&category=waste",
            vec![dear_id.clone(), cheap_id.clone()],
        ),
        (
            &format!("?resource_id={}", cheap.to_uppercase()),
            vec![cheap_id.clone()],
        ),
        (
            &format!("?subscription_id={}", w.estate.azure_subscription),
            vec![dear_id.clone(), cheap_id.clone()],
        ),
    ] {
        assert_eq!(ids(&list(query).await), expected, "{query}");
    }
    let paged = list("?page=2&page_size=1").await;
    assert_eq!(
        (ids(&paged), paged["total_pages"].clone()),
        (vec![cheap_id], json!(2))
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn one_recommendation_shows_its_evidence_group_and_timeline(pool: PgPool) {
    let w = World::new(pool).await;
    let pool = &w.app.pool;
    let disk = w.estate.disk(pool, "rg", "d", json!({})).await;
    let f = finding("disk.unattached", &disk, "delete");
    w.estate
        .evaluate(pool, day(1), std::slice::from_ref(&f), &[])
        .await;
    let advisor = advisor_row(ADVISOR_UNATTACHED_DISK, &disk, 9);
    w.estate.advisor(pool, &[advisor]).await;
    let id = w.estate.finding_id(pool, &f.fingerprint).await;
    let approve = json!({ "to": "approved", "reason": "worth it" });
    let admin = w.token(&[ADMIN]);
    let uri = format!("/api/v1/recommendations/{id}");
    let reply = w
        .app
        .post(&format!("{uri}/transition"), &admin, approve)
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let reply = w.app.get(&uri, &w.token(&[READER])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let body = &reply.body;
    assert_eq!(body["evidence"], f.evidence);
    assert_eq!(body["status"], "approved");
    assert_eq!(body["group"].as_array().map(Vec::len), Some(1));
    let timeline = body["timeline"].as_array().expect("timeline");
    assert_eq!(timeline.len(), 1);
    assert_eq!(timeline[0]["from"], "open");
    assert_eq!(timeline[0]["to"], "approved");
    assert_eq!(timeline[0]["kind"], "decision");
    assert_eq!(timeline[0]["reason"], "worth it");
    assert!(body["realised"].is_null(), "not executed");
    let missing = w
        .app
        .get(
            &format!("/api/v1/recommendations/{}", Uuid::new_v4()),
            &admin,
        )
        .await;
    missing.assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_summary_counts_an_advisor_and_rule_pair_once(pool: PgPool) {
    let w = World::new(pool).await;
    let pool = &w.app.pool;
    let a = w.estate.disk(pool, "rg", "a", json!({})).await;
    let b = w.estate.disk(pool, "rg", "b", json!({})).await;
    let mut fa = finding("disk.unattached", &a, "delete");
    fa.monthly_savings = Some(40.into());
    w.estate.evaluate(pool, day(1), &[fa], &[]).await;
    // Advisor says the same about a (grouped), and something else about b (alone).
    w.estate
        .advisor(
            pool,
            &[
                advisor_row(ADVISOR_UNATTACHED_DISK, &a, 45),
                advisor_row(ADVISOR_UNATTACHED_DISK, &b, 10),
            ],
        )
        .await;
    let reply = w
        .app
        .get("/api/v1/recommendations/summary", &w.token(&[READER]))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let open = &reply.body["open"];
    assert_eq!(
        *open,
        json!([
            { "currency": "EUR", "count": 1, "monthly_savings": 40.0 },
            { "currency": "USD", "count": 1, "monthly_savings": 10.0 },
        ])
    );
    let rules: Vec<&str> = reply.body["open_by_rule"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            format!("advisor:{ADVISOR_UNATTACHED_DISK}").as_str(),
            "disk.unattached"
        ]
    );
    assert_eq!(reply.body["realised"], json!([]));
}
