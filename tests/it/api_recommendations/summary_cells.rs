//! The summary's cells (`recommendation_summary_cells`, kept by statement triggers on
//! recommendations, and the realised savings' `recommendation_realised_cells`, kept by statement
//! triggers on recommendations and their kept measurements) stay equal to adding up the
//! recommendations themselves through everything that writes recommendations: evaluations
//! inserting, updating, resolving and reopening findings, Advisor rows grouped and ungrouped,
//! approvals, dismissals, executions, snoozes ending, suppressions and disabled rules, a
//! subscription deleted, in two tenants. And a tenant reads
//! only its own cells, the application cannot write them, cells that no longer match their
//! recommendations stop commits instead of drifting further, and a transaction's cells are
//! locked only while it commits (no waiting for an evaluation, no deadlock).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::recommendations::query::{self, SummaryFilter};
use azcops::db::recommendations::realised;
use azcops::db::recommendations::{NewFinding, Status};
use azcops::db::{self, Scope};

use crate::support::findings::{
    ADVISOR_UNATTACHED_DISK, Estate, advisor_row, day, drive, finding, realised_cells_differing,
};
use crate::support::{ADMIN, APPROVER, READER, TestApp};

/// One summary cell: status, category, rule, currency, count, savings.
type Row = (String, String, String, String, i64, Decimal);

/// The summary's cells added up from the recommendations, as `query::cells` did before the
/// maintained cells: the oracle.
const DIRECT: &str = "SELECT r.status::text, r.category, r.rule_id, r.currency, count(*),
        coalesce(sum(r.estimated_monthly_savings), 0)
    FROM recommendations r
    WHERE ($1::uuid IS NULL OR r.tenant_id = $1)
      AND ($2::uuid IS NULL OR r.subscription_db_id IN
           (SELECT s.id FROM subscriptions s WHERE s.id = $2 OR s.subscription_id = $2))
      AND r.superseded_by IS NULL
      AND ($3 OR r.id NOT IN (SELECT h.id FROM recommendations_hidden($4) h))
    GROUP BY r.status, r.category, r.rule_id, r.currency
    ORDER BY r.status, r.category, r.rule_id, r.currency";

/// Every maintained cell that differs from the recommendations' own sums, per tenant and
/// subscription (read as the owner, beside row-level security).
const MISMATCHES: &str = "WITH direct AS (
        SELECT tenant_id, subscription_db_id, status, category, rule_id, currency,
               count(*) AS count, coalesce(sum(estimated_monthly_savings), 0) AS savings
        FROM recommendations WHERE superseded_by IS NULL
        GROUP BY 1, 2, 3, 4, 5, 6)
    SELECT format('%s %s %s %s %s %s: kept %s / %s, direct %s / %s', coalesce(c.tenant_id, d.tenant_id),
                  coalesce(c.subscription_db_id, d.subscription_db_id), coalesce(c.status, d.status),
                  coalesce(c.category, d.category), coalesce(c.rule_id, d.rule_id),
                  coalesce(c.currency, d.currency), c.count, c.savings, d.count, d.savings)
    FROM recommendation_summary_cells c
    FULL JOIN direct d USING (tenant_id, subscription_db_id, status, category, rule_id, currency)
    WHERE c.count IS DISTINCT FROM d.count OR c.savings IS DISTINCT FROM d.savings
    UNION ALL
    SELECT format('tenant %s %s %s %s %s: kept %s / %s, direct %s / %s', coalesce(t.tenant_id, d.tenant_id),
                  coalesce(t.status, d.status), coalesce(t.category, d.category),
                  coalesce(t.rule_id, d.rule_id), coalesce(t.currency, d.currency), t.count, t.savings,
                  d.count, d.savings)
    FROM recommendation_tenant_summary_cells t
    FULL JOIN (SELECT tenant_id, status, category, rule_id, currency, sum(count) AS count,
                      sum(savings) AS savings
               FROM direct GROUP BY 1, 2, 3, 4, 5) d
         USING (tenant_id, status, category, rule_id, currency)
    WHERE t.count IS DISTINCT FROM d.count OR t.savings IS DISTINCT FROM d.savings
    ORDER BY 1";

/// A tenant and its subscriptions (AzCops id, Azure id).
struct Tenant {
    id: Uuid,
    entra: Uuid,
    subscriptions: Vec<Estate>,
}

/// Two tenants: A with two subscriptions, B with one.
struct Msp {
    app: TestApp,
    a: Tenant,
    b: Tenant,
}

impl Msp {
    async fn new(pool: PgPool) -> Self {
        let app = TestApp::new(pool).await;
        let mut tenants = Vec::new();
        for (name, subscriptions) in [("A", 2), ("B", 1)] {
            let (id, entra) = app.tenant(name).await;
            let mut estates = Vec::new();
            for n in 0..subscriptions {
                let sub = app.subscription(id, &format!("{name}{n}")).await;
                estates.push(Estate::of(&app.pool, id, sub).await);
            }
            tenants.push(Tenant {
                id,
                entra,
                subscriptions: estates,
            });
        }
        let b = tenants.pop().expect("B");
        let a = tenants.pop().expect("A");
        Self { app, a, b }
    }

    fn tenants(&self) -> [&Tenant; 2] {
        [&self.a, &self.b]
    }

    /// The recommendation's id in `estate` by fingerprint.
    async fn id(&self, estate: &Estate, f: &NewFinding) -> Uuid {
        estate.finding_id(&self.app.pool, &f.fingerprint).await
    }

    /// A status change through the API; must succeed.
    async fn transition(&self, tenant: &Tenant, role: &str, id: Uuid, body: Value) {
        let reply = self
            .app
            .post(
                &format!("/api/v1/recommendations/{id}/transition"),
                &self.app.token(tenant.entra, &[role]),
                body,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    /// After `step`: the API's summaries equal the ones added up from the recommendations, and
    /// `query::cells` equals the direct sums for every tenant, subscription (either id) and
    /// `include_suppressed`, as the tenant and as the operator; the maintained cells equal the
    /// recommendations' sums cell by cell.
    async fn check(&self, step: &str) {
        let at = self.app.clock.now();
        // The API first: its reads end expired snoozes, which the sums below then include.
        for tenant in self.tenants() {
            let reader = self.app.token(tenant.entra, &[READER]);
            let mut queries = vec![
                (String::new(), Some(tenant.id), None, false),
                (
                    "?include_suppressed=true".to_owned(),
                    Some(tenant.id),
                    None,
                    true,
                ),
            ];
            for estate in &tenant.subscriptions {
                queries.push((
                    format!("?subscription_id={}", estate.azure_subscription),
                    Some(tenant.id),
                    Some(estate.azure_subscription),
                    false,
                ));
            }
            for (query, tenant_id, subscription, include_suppressed) in queries {
                let reply = self
                    .app
                    .get(&format!("/api/v1/recommendations/summary{query}"), &reader)
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{step}: {}", reply.body);
                let filter = SummaryFilter {
                    tenant_id,
                    subscription,
                    include_suppressed,
                    at: self.app.clock.now(),
                };
                let direct = direct(&self.app.pool, Scope::Tenant(tenant.id), &filter).await;
                assert_eq!(
                    summary_parts(&reply.body),
                    expected_summary(&direct),
                    "{step}: the API's summary{query} of tenant {}",
                    tenant.id
                );
            }
        }
        let reply = self
            .app
            .get("/api/v1/recommendations/summary", &self.app.operator())
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{step}: {}", reply.body);
        let everything = SummaryFilter {
            tenant_id: None,
            subscription: None,
            include_suppressed: false,
            at: self.app.clock.now(),
        };
        assert_eq!(
            summary_parts(&reply.body),
            expected_summary(&direct(&self.app.pool, Scope::Operator, &everything).await),
            "{step}: the operator's summary"
        );

        assert_cells_match(&self.app.pool, step).await;

        let mut filters = Vec::new();
        for include_suppressed in [false, true] {
            let filter = |tenant_id, subscription| SummaryFilter {
                tenant_id,
                subscription,
                include_suppressed,
                at,
            };
            filters.push((Scope::Operator, filter(None, None)));
            for tenant in self.tenants() {
                for scope in [Scope::Operator, Scope::Tenant(tenant.id)] {
                    filters.push((scope, filter(Some(tenant.id), None)));
                    for estate in &tenant.subscriptions {
                        for sub in [estate.subscription, estate.azure_subscription] {
                            filters.push((scope, filter(Some(tenant.id), Some(sub))));
                        }
                        filters.push((
                            Scope::Operator,
                            filter(None, Some(estate.azure_subscription)),
                        ));
                    }
                }
            }
        }
        for (scope, filter) in filters {
            let mut tx = db::begin(&self.app.pool, scope).await.expect("begin");
            let kept: Vec<Row> = query::cells(&mut tx, &filter)
                .await
                .expect("cells")
                .into_iter()
                .map(|c| {
                    (
                        c.status.as_str().to_owned(),
                        c.category,
                        c.rule_id,
                        c.currency,
                        c.count,
                        c.savings,
                    )
                })
                .collect();
            tx.rollback().await.expect("rollback");
            assert_eq!(
                kept,
                direct(&self.app.pool, scope, &filter).await,
                "{step}: cells of {scope:?} {filter:?}"
            );
            let mut tx = db::begin(&self.app.pool, scope).await.expect("begin");
            let read = realised::figures(&mut tx, &filter).await.expect("figures");
            let added_up = realised::figures_of_recommendations(&mut tx, &filter)
                .await
                .expect("figures of the recommendations");
            tx.rollback().await.expect("rollback");
            assert_eq!(
                realised_sums(&read),
                realised_sums(&added_up),
                "{step}: realised figures of {scope:?} {filter:?}"
            );
        }
    }
}

/// A realised figure's rule, estimate currency, measurement and measured currency.
type RealisedKey = (String, String, String, Option<String>);

/// Realised figures summed per [`RealisedKey`]: how many, their estimates and their measured
/// savings (however the figures were split).
fn realised_sums(figures: &[realised::Figure]) -> BTreeMap<RealisedKey, (i64, Decimal, Decimal)> {
    let mut sums = BTreeMap::new();
    for f in figures {
        let sum = sums
            .entry((
                f.rule_id.clone(),
                f.estimate_currency.clone(),
                format!("{:?}", f.measurement),
                f.currency.clone(),
            ))
            .or_insert((0, Decimal::ZERO, Decimal::ZERO));
        sum.0 += f.count;
        sum.1 += f.estimated_monthly_savings.unwrap_or_default();
        sum.2 += f.monthly_savings.unwrap_or_default();
    }
    sums
}

/// The maintained cells, per subscription and per tenant, equal the recommendations' sums, none
/// is empty, nothing is left queued.
async fn assert_cells_match(pool: &PgPool, step: &str) {
    let mismatches: Vec<String> = sqlx::query_scalar(MISMATCHES)
        .fetch_all(pool)
        .await
        .expect("mismatches");
    assert!(
        mismatches.is_empty(),
        "{step}: maintained cells differ:\n{}",
        mismatches.join("\n")
    );
    let realised = realised_cells_differing(pool).await;
    assert!(
        realised.is_empty(),
        "{step}: realised cells differ:\n{}",
        realised.join("\n")
    );
    let (empty, queued): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM recommendation_summary_cells WHERE count <= 0)
              + (SELECT count(*) FROM recommendation_tenant_summary_cells WHERE count <= 0),
                (SELECT count(*) FROM recommendation_summary_pending)",
    )
    .fetch_one(pool)
    .await
    .expect("empty cells");
    assert_eq!(
        (empty, queued),
        (0, 0),
        "{step}: no cell without recommendations is kept, no delta outlives its transaction"
    );
}

/// The oracle's cells in `scope`.
async fn direct(pool: &PgPool, scope: Scope, f: &SummaryFilter) -> Vec<Row> {
    let mut tx = db::begin(pool, scope).await.expect("begin");
    let rows = sqlx::query_as(DIRECT)
        .bind(f.tenant_id)
        .bind(f.subscription)
        .bind(f.include_suppressed)
        .bind(f.at)
        .fetch_all(&mut *tx)
        .await
        .expect("direct sums");
    tx.rollback().await.expect("rollback");
    rows
}

/// The parts of a summary that come from the cells.
fn summary_parts(body: &Value) -> Value {
    json!({
        "open": body["open"],
        "open_by_category": body["open_by_category"],
        "open_by_rule": body["open_by_rule"],
        "by_status": body["by_status"],
    })
}

/// What the summary shows of `cells`, added up as the API does.
fn expected_summary(cells: &[Row]) -> Value {
    let open = |r: &&Row| r.0 == "open" || r.0 == "approved";
    let add_up = |rows: Vec<&Row>, key: &dyn Fn(&Row) -> Option<String>| {
        let mut groups: BTreeMap<(Option<String>, String), (i64, Decimal)> = BTreeMap::new();
        for r in rows {
            let g = groups.entry((key(r), r.3.clone())).or_default();
            g.0 += r.4;
            g.1 += r.5;
        }
        Value::Array(
            groups
                .into_iter()
                .map(|((key, currency), (count, savings))| {
                    let mut v = json!({
                        "currency": currency,
                        "count": count,
                        "monthly_savings": savings.to_f64().expect("f64"),
                    });
                    if let Some(key) = key {
                        v["key"] = json!(key);
                    }
                    v
                })
                .collect(),
        )
    };
    json!({
        "open": add_up(cells.iter().filter(open).collect(), &|_| None),
        "open_by_category": add_up(cells.iter().filter(open).collect(), &|r| Some(r.1.clone())),
        "open_by_rule": add_up(cells.iter().filter(open).collect(), &|r| Some(r.2.clone())),
        "by_status": add_up(cells.iter().collect(), &|r| Some(r.0.clone())),
    })
}

/// A finding with its category, currency and savings set.
fn finding_of(
    rule: &str,
    resource: &str,
    action: &str,
    category: &str,
    currency: &str,
    savings: Option<i64>,
) -> NewFinding {
    let mut f = finding(rule, resource, action);
    f.category = category.to_owned();
    f.currency = currency.to_owned();
    f.monthly_savings = savings.map(|s| Decimal::new(s, 2));
    f
}

fn until(at: DateTime<Utc>, days: i64) -> Value {
    json!(at + Duration::days(days))
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_maintained_cells_equal_the_recommendations_sums_through_every_write(pool: PgPool) {
    let mut m = Msp::new(pool).await;
    let pool = &m.app.pool;
    let (a1, a2, b1) = (
        m.a.subscriptions[0],
        m.a.subscriptions[1],
        m.b.subscriptions[0],
    );
    const DISK: &str = "disk.unattached";
    const IDLE: &str = "vm.idle";
    const ALL: [&str; 2] = [DISK, IDLE];
    m.check("nothing yet").await;

    // Evaluations insert findings: two rules, two categories, two currencies, a NULL saving.
    let a1_disks = [
        a1.disk(pool, "rg-app", "a", json!({})).await,
        a1.disk(pool, "rg-app", "b", json!({"env": "dev"})).await,
        a1.disk(pool, "rg-dev", "c", json!({})).await,
        a1.disk(pool, "rg-app", "e", json!({})).await,
    ];
    let mut a1_findings = vec![
        finding_of(DISK, &a1_disks[0], "delete", "waste", "EUR", Some(1250)),
        finding_of(DISK, &a1_disks[1], "delete", "waste", "EUR", Some(333)),
        finding_of(IDLE, &a1_disks[2], "shutdown", "usage", "EUR", None),
        finding_of(IDLE, &a1_disks[3], "shutdown", "usage", "USD", Some(1001)),
    ];
    a1.evaluate(pool, day(1), &a1_findings, &ALL).await;
    let a2_disks = [
        a2.disk(pool, "rg", "x", json!({})).await,
        a2.disk(pool, "rg", "y", json!({})).await,
    ];
    let a2_findings = vec![
        finding_of(DISK, &a2_disks[0], "delete", "waste", "EUR", Some(500)),
        finding_of(DISK, &a2_disks[1], "delete", "waste", "EUR", Some(700)),
    ];
    a2.evaluate(pool, day(1), &a2_findings, &ALL).await;
    let b1_disks = [
        b1.disk(pool, "rg", "p", json!({})).await,
        b1.disk(pool, "rg", "q", json!({})).await,
    ];
    let b1_findings = vec![
        finding_of(DISK, &b1_disks[0], "delete", "waste", "EUR", Some(900)),
        finding_of(IDLE, &b1_disks[1], "shutdown", "usage", "GBP", Some(100)),
    ];
    b1.evaluate(pool, day(1), &b1_findings, &ALL).await;
    m.check("first evaluations").await;

    // Advisor: grouped under a finding (a, p) and alone (about a disk without a finding).
    let lonely = a1.disk(pool, "rg-app", "lonely", json!({})).await;
    a1.advisor(
        pool,
        &[
            advisor_row(ADVISOR_UNATTACHED_DISK, &a1_disks[0], 45),
            advisor_row(ADVISOR_UNATTACHED_DISK, &lonely, 10),
        ],
    )
    .await;
    b1.advisor(
        pool,
        &[advisor_row(ADVISOR_UNATTACHED_DISK, &b1_disks[0], 8)],
    )
    .await;
    m.check("Advisor rows").await;
    // Advisor again, its savings changed (an update of a superseded row and of a counted one).
    a1.advisor(
        pool,
        &[
            advisor_row(ADVISOR_UNATTACHED_DISK, &a1_disks[0], 50),
            advisor_row(ADVISOR_UNATTACHED_DISK, &lonely, 12),
        ],
    )
    .await;
    m.check("Advisor rows updated").await;

    // Evaluations update savings, then resolve `a` (absent twice): its Advisor row loses its
    // lead and counts again.
    a1_findings[1].monthly_savings = Some(Decimal::new(444, 2));
    a1_findings[3].currency = "EUR".into();
    a1.evaluate(pool, day(2), &a1_findings, &ALL).await;
    m.check("savings and currency changed").await;
    let without_a = a1_findings[1..].to_vec();
    a1.evaluate(pool, day(3), &without_a, &ALL).await;
    m.check("a absent once").await;
    a1.evaluate(pool, day(4), &without_a, &ALL).await;
    m.check("a resolved, its Advisor row ungrouped").await;

    // People decide: approve, dismiss with a snooze, reject, execute.
    let b_id = m.id(&a1, &a1_findings[1]).await;
    let c_id = m.id(&a1, &a1_findings[2]).await;
    let x_id = m.id(&a2, &a2_findings[0]).await;
    let p_id = m.id(&b1, &b1_findings[0]).await;
    m.transition(&m.a, APPROVER, b_id, json!({"to": "approved"}))
        .await;
    m.transition(
        &m.a,
        APPROVER,
        c_id,
        json!({"to": "dismissed", "reason": "later", "until": until(m.app.clock.now(), 5)}),
    )
    .await;
    m.transition(
        &m.a,
        APPROVER,
        x_id,
        json!({"to": "rejected", "reason": "no"}),
    )
    .await;
    m.transition(&m.b, APPROVER, p_id, json!({"to": "approved"}))
        .await;
    m.check("approved, dismissed, rejected").await;
    m.transition(
        &m.a,
        ADMIN,
        b_id,
        json!({"to": "executed", "reference": "CHG-1"}),
    )
    .await;
    m.transition(&m.a, ADMIN, x_id, json!({"to": "open"})).await;
    // One executed in A2 too: hidden by the snooze of A2's disks below, deleted with A2.
    let y_id = m.id(&a2, &a2_findings[1]).await;
    m.transition(&m.a, APPROVER, y_id, json!({"to": "approved"}))
        .await;
    m.transition(
        &m.a,
        ADMIN,
        y_id,
        json!({"to": "executed", "reference": "CHG-2"}),
    )
    .await;
    m.check("executed, reopened").await;

    // The snooze ends: the next read reopens it.
    m.app.clock.advance(Duration::days(6));
    m.check("snooze ended").await;
    let status: Status = sqlx::query_scalar("SELECT status FROM recommendations WHERE id = $1")
        .bind(c_id)
        .fetch_one(pool)
        .await
        .expect("status");
    assert_eq!(status, Status::Open, "the summary's read ended the snooze");

    // Suppressions and a disabled rule hide findings; a snooze of them ends.
    let admin_a = m.app.token(m.a.entra, &[ADMIN]);
    for body in [
        json!({"scope": "tag", "tag_key": "env", "tag_value": "dev", "target": "all",
               "kind": "exclude", "reason": "dev"}),
        json!({"scope": "subscription", "subscription_id": a2.subscription, "target": "rule",
               "rule_id": DISK, "kind": "snooze", "reason": "migration",
               "expires_at": until(m.app.clock.now(), 3)}),
        json!({"scope": "resource_group", "resource_group": "rg-dev", "target": "category",
               "category": "usage", "kind": "exclude", "reason": "sandbox"}),
    ] {
        let reply = m.app.post("/api/v1/suppressions", &admin_a, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let reply = m
        .app
        .patch(
            "/api/v1/rules/vm.idle",
            &m.app.token(m.b.entra, &[ADMIN]),
            json!({"enabled": false}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    m.check("suppressed and disabled").await;
    m.app.clock.advance(Duration::days(4));
    m.check("the suppression's snooze ended").await;

    // `a` found again: reopened, and it leads its Advisor row again; `q` gone from B (a rule
    // that ran judged it) while its rule is disabled.
    a1.evaluate(pool, day(5), &a1_findings, &ALL).await;
    m.check("a reopened and regrouped").await;
    b1.evaluate(pool, day(5), &b1_findings[..1], &ALL).await;
    b1.evaluate(pool, day(6), &b1_findings[..1], &ALL).await;
    m.check("q resolved").await;

    // A2 deleted: its recommendations and cells go with it.
    let reply = m
        .app
        .delete(
            &format!("/api/v1/subscriptions/{}", a2.subscription),
            &admin_a,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM recommendation_summary_cells WHERE subscription_db_id = $1",
    )
    .bind(a2.subscription)
    .fetch_one(pool)
    .await
    .expect("cells");
    assert_eq!(left, 0, "the deleted subscription's cells are gone");
    m.a.subscriptions.truncate(1);
    m.check("A2 deleted").await;
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_tenant_reads_only_its_own_cells_and_cannot_write_any(pool: PgPool) {
    let m = Msp::new(pool).await;
    let pool = &m.app.pool;
    for tenant in m.tenants() {
        let estate = tenant.subscriptions[0];
        let disk = estate.disk(pool, "rg", "d", json!({})).await;
        estate
            .evaluate(
                pool,
                day(1),
                &[finding("disk.unattached", &disk, "delete")],
                &[],
            )
            .await;
    }
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM recommendation_summary_cells")
        .fetch_one(pool)
        .await
        .expect("cells");
    assert_eq!(total, 2, "one cell per tenant");

    let mut tx = db::begin(pool, Scope::Tenant(m.a.id)).await.expect("begin");
    let seen: Vec<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM recommendation_summary_cells")
        .fetch_all(&mut *tx)
        .await
        .expect("select");
    assert_eq!(seen, [m.a.id], "row-level security shows A's cells only");
    let foreign = SummaryFilter {
        tenant_id: Some(m.b.id),
        subscription: None,
        include_suppressed: true,
        at: Utc::now(),
    };
    assert!(
        query::cells(&mut tx, &foreign)
            .await
            .expect("cells")
            .is_empty(),
        "B's cells asked for in A's transaction"
    );
    tx.rollback().await.expect("rollback");

    for sql in [
        "UPDATE recommendation_summary_cells SET count = count + 1",
        "DELETE FROM recommendation_summary_cells",
        "INSERT INTO recommendation_summary_cells SELECT * FROM recommendation_summary_cells",
        "DELETE FROM recommendation_summary_pending",
        "UPDATE recommendation_realised_cells SET count = count + 1",
        "DELETE FROM recommendation_realised_cells",
        "DELETE FROM recommendation_realised_pending",
        "INSERT INTO recommendation_realised_pending (tenant_id, rule_id, estimate_currency, measurement, currency, count, estimated_monthly_savings, monthly_savings) \
         SELECT tenant_id, rule_id, currency, '', '', 1, 0, 0 FROM recommendation_summary_cells",
        "INSERT INTO recommendation_summary_pending (tenant_id, subscription_db_id, status, category, rule_id, currency, count, savings) \
         SELECT tenant_id, subscription_db_id, status, category, rule_id, currency, 1, 0 FROM recommendation_summary_cells",
    ] {
        for scope in [Scope::Tenant(m.a.id), Scope::Operator] {
            let mut tx = db::begin(pool, scope).await.expect("begin");
            let err = sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .expect_err(sql);
            assert_eq!(
                err.as_database_error().and_then(|e| e.code()).as_deref(),
                Some("42501"),
                "{sql}: only the triggers write cells"
            );
        }
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn cells_that_no_longer_match_stop_the_commit_that_would_take_them_below_zero(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let disk = estate.disk(&pool, "rg", "d", json!({})).await;
    let f = finding("disk.unattached", &disk, "delete");
    estate
        .evaluate(&pool, day(1), std::slice::from_ref(&f), &[])
        .await;
    let id = estate.finding_id(&pool, &f.fingerprint).await;
    // Someone with the owner's rights empties the cells by hand.
    let err = emptied_then_deleted(&pool, &estate, "recommendation_summary_cells", id).await;
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("22000"),
        "{err}"
    );
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM recommendations")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(kept, 1, "the delete was rolled back");

    // The same for the realised savings' cells: an executed recommendation's cell emptied by
    // hand, then the recommendation deleted.
    let other = estate.disk(&pool, "rg", "e", json!({})).await;
    let g = finding("disk.unattached", &other, "delete");
    estate
        .evaluate(&pool, day(2), &[f.clone(), g.clone()], &[])
        .await;
    let executed = estate.finding_id(&pool, &g.fingerprint).await;
    drive(&pool, executed, Status::Executed).await;
    assert_eq!(realised_cells_differing(&pool).await, Vec::<String>::new());
    let err = emptied_then_deleted(&pool, &estate, "recommendation_realised_cells", executed).await;
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("22000"),
        "{err}"
    );
    assert!(
        err.to_string().contains("recommendation_realised_cells"),
        "{err}"
    );
}

/// Empties `cells` by hand (as the owner), then deletes recommendation `id` as its tenant: the
/// commit's error, which it must fail with.
async fn emptied_then_deleted(
    pool: &PgPool,
    estate: &Estate,
    cells: &str,
    id: Uuid,
) -> sqlx::Error {
    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {cells}")))
        .execute(pool)
        .await
        .expect("tampering");
    let mut tx = db::begin(pool, Scope::Tenant(estate.tenant))
        .await
        .expect("begin");
    sqlx::query("DELETE FROM recommendations WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .expect("the delta is queued");
    tx.commit().await.expect_err("a cell below zero")
}

/// Like an evaluation (several statements in one transaction) against an approval in the same
/// subscription and cell: the approval does not wait for the evaluation's cells, and the
/// evaluation's later update of the approved row does not deadlock. With a statement's deltas
/// added to the cells at once, the approval would wait for the cell the evaluation's first
/// statement locked while holding the row the evaluation's next statement needs.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_approval_during_an_evaluation_neither_waits_for_its_cells_nor_deadlocks(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let one = estate.disk(&pool, "rg", "one", json!({})).await;
    let two = estate.disk(&pool, "rg", "two", json!({})).await;
    let f1 = finding("disk.unattached", &one, "delete");
    let f2 = finding("disk.unattached", &two, "delete");
    estate
        .evaluate(&pool, day(1), &[f1.clone(), f2.clone()], &[])
        .await;
    let first = estate.finding_id(&pool, &f1.fingerprint).await;
    let second = estate.finding_id(&pool, &f2.fingerprint).await;

    let mut evaluation = db::begin(&pool, Scope::Tenant(estate.tenant))
        .await
        .expect("begin");
    sqlx::query("UPDATE recommendations SET estimated_monthly_savings = 20 WHERE id = $1")
        .bind(first)
        .execute(&mut *evaluation)
        .await
        .expect("the evaluation's first statement");
    let approval = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        let mut tx = db::begin(&pool, Scope::Tenant(estate.tenant)).await?;
        sqlx::query("SELECT id FROM recommendations WHERE id = $1 FOR UPDATE")
            .bind(second)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE recommendations SET status = 'approved', approved_at = now() WHERE id = $1",
        )
        .bind(second)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    })
    .await;
    assert!(
        matches!(approval, Ok(Ok(()))),
        "the approval waited for the evaluation or failed: {approval:?}"
    );
    sqlx::query("UPDATE recommendations SET absent_evaluations = 1 WHERE id = $1")
        .bind(second)
        .execute(&mut *evaluation)
        .await
        .expect("the evaluation's later statement");
    evaluation.commit().await.expect("the evaluation commits");
    assert_cells_match(&pool, "after both").await;
    let approved: i64 = sqlx::query_scalar(
        "SELECT count FROM recommendation_summary_cells WHERE status = 'approved'",
    )
    .fetch_one(&pool)
    .await
    .expect("approved cell");
    assert_eq!(approved, 1);
}

/// Six writers, fifteen transactions each, every one updating three recommendations (in id
/// order, so the rows alone cannot deadlock) and moving each to another currency's cell: the
/// cells are taken at commit in key order, so no writer deadlocks, and no delta is lost. With a
/// statement's deltas added at once, each transaction would lock cells in the order of its
/// statements, and two of them would deadlock.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn concurrent_writers_of_the_same_cells_neither_deadlock_nor_lose_a_delta(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let rules = ["disk.unattached", "vm.idle", "ip.unused", "snapshot.old"];
    let mut findings = Vec::new();
    for i in 0..24 {
        let disk = estate.disk(&pool, "rg", &format!("d{i}"), json!({})).await;
        let currency = if i % 3 == 0 { "USD" } else { "EUR" };
        findings.push(finding_of(
            rules[i % rules.len()],
            &disk,
            "delete",
            "waste",
            currency,
            Some(100 + i as i64),
        ));
    }
    estate.evaluate(&pool, day(1), &findings, &[]).await;
    let ids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM recommendations ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("ids");
    let writers: Vec<_> = (0..6)
        .map(|writer| {
            let (pool, ids, tenant) = (pool.clone(), ids.clone(), estate.tenant);
            tokio::spawn(async move {
                for n in 0..15 {
                    let mut picked: Vec<Uuid> = (0..3)
                        .map(|k| ids[(writer * 7 + n * 5 + k * 11) % ids.len()])
                        .collect();
                    picked.sort();
                    picked.dedup();
                    let mut tx = db::begin(&pool, Scope::Tenant(tenant)).await?;
                    for id in picked {
                        sqlx::query(
                            "UPDATE recommendations
                             SET estimated_monthly_savings = estimated_monthly_savings + 1,
                                 currency = CASE currency WHEN 'EUR' THEN 'USD' ELSE 'EUR' END
                             WHERE id = $1",
                        )
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                }
                Ok::<(), sqlx::Error>(())
            })
        })
        .collect();
    for writer in writers {
        writer
            .await
            .expect("writer")
            .expect("no deadlock, no error");
    }
    assert_cells_match(&pool, "after the concurrent writers").await;
}
