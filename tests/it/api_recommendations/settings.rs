//! Suppressions hide findings from lists and totals (shown with `include_suppressed`), a
//! snooze ends on the API's clock, only admins change them; rules show the tenant's settings
//! and admins change enablement, thresholds and the tenant-wide settings.

use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{Value, json};
use sqlx::PgPool;

use azcops::db::rule_settings;
use azcops::db::{self, Scope};

use super::{World, ids};
use crate::support::findings::{day, finding};
use crate::support::{ADMIN, APPROVER, READER};

/// Two findings: one about a disk tagged env=dev, one about a disk in a group tagged env=dev.
async fn tagged_world(pool: PgPool) -> (World, String, String, String) {
    let w = World::new(pool).await;
    let pool = &w.app.pool;
    let dev = w
        .estate
        .disk(pool, "rg-app", "dev", json!({"env": "dev"}))
        .await;
    let prod = w
        .estate
        .disk(pool, "rg-app", "prod", json!({"env": "prod"}))
        .await;
    let inherited = w.estate.disk(pool, "rg-sandbox", "box", json!({})).await;
    sqlx::query(
        "INSERT INTO resource_containers (tenant_id, subscription_db_id, container_id, kind, resource_group, name, tags, last_seen_at)
         VALUES ($1, $2, 'rg-sandbox-id', 'resource_group', 'rg-sandbox', 'rg-sandbox', '{\"env\": \"dev\"}', now())",
    )
    .bind(w.estate.tenant)
    .bind(w.estate.subscription)
    .execute(pool)
    .await
    .expect("container");
    let findings = [
        finding("disk.unattached", &dev, "delete"),
        finding("disk.unattached", &prod, "delete"),
        finding("vm.idle", &inherited, "shutdown"),
    ];
    w.estate.evaluate(pool, day(1), &findings, &[]).await;
    let mut out = Vec::new();
    for f in &findings {
        out.push(w.estate.finding_id(pool, &f.fingerprint).await.to_string());
    }
    let [a, b, c] = <[String; 3]>::try_from(out).expect("three findings");
    (w, a, b, c)
}

async fn shown(w: &World, token: &str) -> Vec<String> {
    let mut ids = ids(&w.app.get("/api/v1/recommendations", token).await.body);
    ids.sort();
    ids
}

async fn open_count(w: &World, query: &str) -> Value {
    let reply = w
        .app
        .get(
            &format!("/api/v1/recommendations/summary{query}"),
            &w.token(&[READER]),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["open"][0]["count"].clone()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_tag_scoped_suppression_hides_findings_until_asked_for(pool: PgPool) {
    let (w, dev, prod, inherited) = tagged_world(pool).await;
    let admin = w.token(&[ADMIN]);
    let exclude = json!({
        "scope": "tag", "tag_key": "env", "tag_value": "dev",
        "target": "all", "kind": "exclude", "reason": "dev is torn down weekly",
    });
    let reply = w
        .app
        .post("/api/v1/suppressions", &admin, exclude.clone())
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    assert!(reply.body["author"].as_str().is_some_and(|a| !a.is_empty()));
    let suppression = reply.id();
    let reader = w.token(&[READER]);
    let list = w.app.get("/api/v1/recommendations", &reader).await;
    assert_eq!(
        ids(&list.body),
        vec![prod.clone()],
        "own and inherited tags hide"
    );
    assert_eq!(open_count(&w, "").await, 1);
    let all = w
        .app
        .get("/api/v1/recommendations?include_suppressed=true", &reader)
        .await;
    let mut shown = ids(&all.body);
    shown.sort();
    let mut expected = vec![dev, prod, inherited];
    expected.sort();
    assert_eq!(shown, expected);
    assert!(
        all.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["suppressed"] == true)
    );
    assert_eq!(open_count(&w, "?include_suppressed=true").await, 3);

    // Readers and approvers do not change suppressions; the admin removes it.
    for role in [READER, APPROVER] {
        let reply = w
            .app
            .post("/api/v1/suppressions", &w.token(&[role]), exclude.clone())
            .await;
        reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
    }
    let uri = format!("/api/v1/suppressions/{suppression}");
    assert_eq!(
        w.app.delete(&uri, &admin).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(open_count(&w, "").await, 3);
    assert_eq!(
        w.app.audit_rows(suppression).await.len(),
        2,
        "created and deleted"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_tag_scoped_snooze_of_one_rule_expires(pool: PgPool) {
    let (w, dev, prod, inherited) = tagged_world(pool).await;
    let admin = w.token(&[ADMIN]);
    let snooze = json!({
        "scope": "tag", "tag_key": "env", "tag_value": "dev", "target": "rule",
        "rule_id": "disk.unattached", "kind": "snooze", "reason": "migration in progress",
        "expires_at": w.app.clock.now() + Duration::days(7),
    });
    let reply = w.app.post("/api/v1/suppressions", &admin, snooze).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let mut visible = vec![prod.clone(), inherited.clone()];
    visible.sort();
    assert_eq!(
        shown(&w, &admin).await,
        visible,
        "the other rule's dev finding stays"
    );
    let active = w
        .app
        .get(
            "/api/v1/suppressions?active=true&include_total=true",
            &admin,
        )
        .await;
    assert_eq!(active.body["total"], 1);
    w.app.clock.advance(Duration::days(8));
    let mut all = vec![dev, prod, inherited];
    all.sort();
    assert_eq!(shown(&w, &admin).await, all);
    let expired = w
        .app
        .get(
            "/api/v1/suppressions?active=false&include_total=true",
            &admin,
        )
        .await;
    assert_eq!(expired.body["total"], 1);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn rules_show_the_tenants_settings_and_admins_change_them(pool: PgPool) {
    let (w, _, prod, _) = tagged_world(pool).await;
    let admin = w.token(&[ADMIN]);
    let reply = w.app.get("/api/v1/rules", &w.token(&[READER])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["tenant_id"], w.estate.tenant.to_string());
    assert_eq!(reply.body["settings"]["min_savings"], 1.0);
    assert_eq!(
        reply.body["settings"]["required_tag_keys"],
        json!(["cost-center"])
    );
    assert_eq!(
        reply.body["rules"][1]["thresholds"],
        json!({"cpu_p95_pct": 5, "min_samples": 72})
    );

    let patch = json!({ "thresholds": { "cpu_p95_pct": 3 } });
    let reply = w
        .app
        .patch("/api/v1/rules/vm.idle", &admin, patch.clone())
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        reply.body["thresholds"],
        json!({"cpu_p95_pct": 3, "min_samples": 72})
    );
    assert_eq!(reply.body["tenant_thresholds"], json!({"cpu_p95_pct": 3}));
    let approver = w
        .app
        .patch("/api/v1/rules/vm.idle", &w.token(&[APPROVER]), patch)
        .await;
    approver.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let bad = json!({ "thresholds": { "cpu_p95_pct": -1 } });
    let reply = w.app.patch("/api/v1/rules/vm.idle", &admin, bad).await;
    reply.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let reply = w
        .app
        .patch(
            "/api/v1/rules/no.such.rule",
            &admin,
            json!({ "enabled": false }),
        )
        .await;
    reply.assert_error(StatusCode::NOT_FOUND, "not_found");

    // Disabling a rule hides its findings like a suppression.
    let reply = w
        .app
        .patch(
            "/api/v1/rules/vm.idle",
            &admin,
            json!({ "enabled": false, "thresholds": { "cpu_p95_pct": null } }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        (
            reply.body["enabled"].clone(),
            reply.body["tenant_thresholds"].clone()
        ),
        (json!(false), json!({}))
    );
    let list = w
        .app
        .get(
            "/api/v1/recommendations?rule_id=vm.idle&include_total=true",
            &admin,
        )
        .await;
    assert_eq!(list.body["total"], 0);
    let rest = w
        .app
        .get(
            "/api/v1/recommendations?resource_group=rg-app&tag_key=env&tag_value=prod",
            &admin,
        )
        .await;
    assert_eq!(ids(&rest.body), [prod]);

    let tenant_wide = json!({ "min_savings": 5.5, "required_tag_keys": ["owner", " owner ", "cost-center"], "owns_licences": true });
    let reply = w.app.patch("/api/v1/rules", &admin, tenant_wide).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let mut tx = db::begin(&w.app.pool, Scope::Tenant(w.estate.tenant))
        .await
        .unwrap();
    let settings = rule_settings::load(&mut tx, w.estate.tenant).await.unwrap();
    assert_eq!(
        settings.tenant.min_savings,
        rust_decimal::Decimal::new(55, 1)
    );
    assert_eq!(settings.tenant.required_tag_keys, ["owner", "cost-center"]);
    assert!(settings.tenant.owns_licences);
    assert!(!settings.enabled("vm.idle"));
    assert!(settings.enabled("disk.unattached"));
}
