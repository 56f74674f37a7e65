//! What an evaluation writes (PHASE3 §3): findings upserted by fingerprint with no write when
//! nothing changed, resolution after two absences (never for missing data), deleted resources
//! resolved at once, reappearance reopening (regressed after an execution, never a dismissal),
//! snoozes ending, Advisor groups, and the status machine the database enforces.

mod grouping;
mod planning;
mod realised;

use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::recommendations::{EvaluationOutcome, Status, expire_snoozes};
use azcops::db::{self, Scope};

use crate::support::findings::{Estate, day, drive, finding, plus_days, state_of};

const DISK_RULE: &str = "disk.unattached";

/// (status, kind, actor) of the recommendation's timeline, oldest first.
async fn timeline(pool: &PgPool, id: uuid::Uuid) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT to_status::text, kind, actor FROM recommendation_events WHERE recommendation_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("timeline")
}

/// The transaction ids that last wrote the subscription's recommendations, by id.
async fn row_versions(pool: &PgPool, estate: &Estate) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT id::text || ':' || xmin::text FROM recommendations WHERE subscription_db_id = $1 ORDER BY id",
    )
    .bind(estate.subscription)
    .fetch_all(pool)
    .await
    .expect("rows")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_second_evaluation_of_unchanged_findings_writes_no_row(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    let b = estate.disk(&pool, "rg", "b", serde_json::json!({})).await;
    let findings = [
        finding(DISK_RULE, &a, "delete"),
        finding(DISK_RULE, &b, "delete"),
    ];
    let first = estate
        .evaluate(&pool, day(1), &findings, &[DISK_RULE])
        .await;
    assert_eq!(first.inserted, 2);
    let before = row_versions(&pool, &estate).await;
    let second = estate
        .evaluate(&pool, day(2), &findings, &[DISK_RULE])
        .await;
    assert_eq!(
        second,
        EvaluationOutcome {
            unchanged: 2,
            ..Default::default()
        }
    );
    assert_eq!(
        row_versions(&pool, &estate).await,
        before,
        "no row rewritten"
    );
    let last: Vec<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT last_detected_at FROM recommendations ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(last, [day(1), day(1)], "timestamps of unchanged rows stay");

    let mut changed = findings.clone();
    changed[0].monthly_savings = Some(rust_decimal::Decimal::from(20));
    let third = estate.evaluate(&pool, day(3), &changed, &[DISK_RULE]).await;
    assert_eq!((third.updated, third.unchanged), (1, 1));
    let id = estate.finding_id(&pool, &changed[0].fingerprint).await;
    let (first_seen, last_seen): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as(
            "SELECT first_detected_at, last_detected_at FROM recommendations WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((first_seen, last_seen), (day(1), day(3)));
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_absent_finding_resolves_after_two_evaluations_not_one(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    let f = finding(DISK_RULE, &a, "delete");
    estate
        .evaluate(&pool, day(1), std::slice::from_ref(&f), &[DISK_RULE])
        .await;
    let id = estate.finding_id(&pool, &f.fingerprint).await;

    let once = estate.evaluate(&pool, day(2), &[], &[DISK_RULE]).await;
    assert_eq!((once.updated, once.resolved), (1, 0));
    assert_eq!(state_of(&pool, id).await, (Status::Open, false, 1));

    let twice = estate.evaluate(&pool, day(3), &[], &[DISK_RULE]).await;
    assert_eq!(twice.resolved, 1);
    assert_eq!(state_of(&pool, id).await, (Status::Resolved, false, 2));
    assert_eq!(
        timeline(&pool, id).await,
        [("resolved".into(), "resolved".into(), "system".into())]
    );
    let audit: Vec<(String, String)> = sqlx::query_as(
        "SELECT action, actor FROM audit_logs WHERE target_type = 'recommendation' AND target_id = $1",
    )
    .bind(id.to_string())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(audit, [("transition".into(), "system".into())]);

    let third = estate.evaluate(&pool, day(4), &[], &[DISK_RULE]).await;
    assert_eq!(third, EvaluationOutcome::default(), "nothing left to write");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_finding_seen_again_after_one_absence_stays_open_with_its_count_reset(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    let f = finding(DISK_RULE, &a, "delete");
    for (d, present) in [(1, true), (2, false), (3, true), (4, false)] {
        let findings = if present { vec![f.clone()] } else { vec![] };
        estate
            .evaluate(&pool, day(d), &findings, &[DISK_RULE])
            .await;
    }
    let id = estate.finding_id(&pool, &f.fingerprint).await;
    assert_eq!(state_of(&pool, id).await, (Status::Open, false, 1));
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn missing_data_never_resolves_a_finding(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    let b = estate.disk(&pool, "rg", "b", serde_json::json!({})).await;
    let fa = finding(DISK_RULE, &a, "delete");
    let fb = finding(DISK_RULE, &b, "delete");
    estate
        .evaluate(&pool, day(1), &[fa.clone(), fb.clone()], &[DISK_RULE])
        .await;
    let skipped = [(DISK_RULE.to_owned(), b.clone())];
    for d in 2..=4 {
        // The rule did not run: nothing of it is absent.
        let idle = estate.evaluate(&pool, day(d), &[], &["vm.idle"]).await;
        assert_eq!(idle, EvaluationOutcome::default());
        // It ran, but without data for b: a goes, b stays.
        estate
            .evaluate_skipping(&pool, day(d), &[], &[DISK_RULE], &skipped)
            .await;
    }
    let ida = estate.finding_id(&pool, &fa.fingerprint).await;
    let idb = estate.finding_id(&pool, &fb.fingerprint).await;
    assert_eq!(state_of(&pool, ida).await.0, Status::Resolved);
    assert_eq!(state_of(&pool, idb).await, (Status::Open, false, 0));
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_deleted_resource_resolves_its_findings_at_once(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    let f = finding(DISK_RULE, &a, "delete");
    estate
        .evaluate(&pool, day(1), std::slice::from_ref(&f), &[DISK_RULE])
        .await;
    let id = estate.finding_id(&pool, &f.fingerprint).await;
    drive(&pool, id, Status::Approved).await;
    sqlx::query("UPDATE resources SET deleted_at = $1 WHERE resource_id = $2")
        .bind(day(2))
        .bind(&a)
        .execute(&pool)
        .await
        .unwrap();
    // Even a stale finding of the deleted resource does not keep it open.
    let outcome = estate
        .evaluate(&pool, day(2), std::slice::from_ref(&f), &[DISK_RULE])
        .await;
    assert_eq!(outcome.resolved, 1);
    assert_eq!(state_of(&pool, id).await.0, Status::Resolved);
    let again = estate.evaluate(&pool, day(3), &[f], &[DISK_RULE]).await;
    assert_eq!(
        (again.reopened, again.resolved),
        (0, 0),
        "it stays resolved"
    );
    assert_eq!(
        timeline(&pool, id).await.last().map(|e| e.1.clone()),
        Some("resolved".into())
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_resolved_finding_that_reappears_reopens_without_the_regressed_flag(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    let f = finding(DISK_RULE, &a, "delete");
    estate
        .evaluate(&pool, day(1), std::slice::from_ref(&f), &[DISK_RULE])
        .await;
    let id = estate.finding_id(&pool, &f.fingerprint).await;
    estate.evaluate(&pool, day(2), &[], &[DISK_RULE]).await;
    estate.evaluate(&pool, day(3), &[], &[DISK_RULE]).await;
    let back = estate.evaluate(&pool, day(4), &[f], &[DISK_RULE]).await;
    assert_eq!(back.reopened, 1);
    assert_eq!(state_of(&pool, id).await, (Status::Open, false, 0));
    let kinds: Vec<String> = timeline(&pool, id).await.into_iter().map(|e| e.1).collect();
    assert_eq!(kinds, ["resolved", "reopened"]);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_executed_finding_that_went_and_came_back_is_open_and_regressed(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    let f = finding(DISK_RULE, &a, "delete");
    estate
        .evaluate(&pool, day(1), std::slice::from_ref(&f), &[DISK_RULE])
        .await;
    let id = estate.finding_id(&pool, &f.fingerprint).await;
    drive(&pool, id, Status::Executed).await;
    // Still there right after the execution (the change is not made yet): no regression.
    let still = estate
        .evaluate(&pool, day(2), std::slice::from_ref(&f), &[DISK_RULE])
        .await;
    assert_eq!(still.unchanged, 1);
    assert_eq!(state_of(&pool, id).await, (Status::Executed, false, 0));
    // Gone (it stays executed), then back.
    estate.evaluate(&pool, day(3), &[], &[DISK_RULE]).await;
    estate.evaluate(&pool, day(4), &[], &[DISK_RULE]).await;
    assert_eq!(state_of(&pool, id).await, (Status::Executed, false, 2));
    let back = estate.evaluate(&pool, day(5), &[f], &[DISK_RULE]).await;
    assert_eq!(back.reopened, 1);
    assert_eq!(state_of(&pool, id).await, (Status::Open, true, 0));
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_dismissed_finding_stays_dismissed_when_it_reappears(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    let f = finding(DISK_RULE, &a, "delete");
    estate
        .evaluate(&pool, day(1), std::slice::from_ref(&f), &[DISK_RULE])
        .await;
    let id = estate.finding_id(&pool, &f.fingerprint).await;
    drive(&pool, id, Status::Dismissed).await;
    estate.evaluate(&pool, day(2), &[], &[DISK_RULE]).await;
    estate.evaluate(&pool, day(3), &[], &[DISK_RULE]).await;
    assert_eq!(state_of(&pool, id).await, (Status::Dismissed, false, 0));
    let back = estate.evaluate(&pool, day(4), &[f], &[DISK_RULE]).await;
    assert_eq!((back.reopened, back.unchanged), (0, 1));
    assert_eq!(state_of(&pool, id).await, (Status::Dismissed, false, 0));
    assert!(timeline(&pool, id).await.is_empty(), "no status change");
}

/// A dismissal of `estate`'s one finding, snoozed until day 10.
async fn snoozed(pool: &PgPool, estate: &Estate) -> Uuid {
    let a = estate.disk(pool, "rg", "a", serde_json::json!({})).await;
    let f = finding(DISK_RULE, &a, "delete");
    estate
        .evaluate(pool, day(1), std::slice::from_ref(&f), &[DISK_RULE])
        .await;
    let id = estate.finding_id(pool, &f.fingerprint).await;
    drive(pool, id, Status::Dismissed).await;
    sqlx::query("UPDATE recommendations SET snoozed_until = $2 WHERE id = $1")
        .bind(id)
        .bind(day(10))
        .execute(pool)
        .await
        .expect("snooze");
    id
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_snooze_reopens_when_its_end_passes_and_not_before(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let id = snoozed(&pool, &estate).await;
    let mut tx = db::begin(&pool, Scope::Tenant(estate.tenant))
        .await
        .unwrap();
    assert_eq!(
        expire_snoozes(&mut tx, Some(estate.tenant), plus_days(day(10), -1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        expire_snoozes(&mut tx, Some(estate.tenant), day(10))
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();
    assert_eq!(state_of(&pool, id).await.0, Status::Open);
    let until: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT snoozed_until FROM recommendations WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(until, None, "the snooze is gone with the dismissal");
    assert_eq!(
        timeline(&pool, id).await,
        [("open".into(), "snooze_expired".into(), "system".into())]
    );
}

/// A tenant's reads reopen its own ended snoozes only; the operator's, every tenant's.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_tenants_read_reopens_its_own_ended_snoozes_and_the_operators_every_tenants(
    pool: PgPool,
) {
    let (one, other) = (Estate::create(&pool).await, Estate::create(&pool).await);
    let (mine, theirs) = (snoozed(&pool, &one).await, snoozed(&pool, &other).await);
    let mut tx = db::begin(&pool, Scope::Tenant(one.tenant)).await.unwrap();
    assert_eq!(
        expire_snoozes(&mut tx, Some(one.tenant), day(11))
            .await
            .unwrap(),
        1
    );
    tx.commit().await.unwrap();
    assert_eq!(state_of(&pool, mine).await.0, Status::Open);
    assert_eq!(state_of(&pool, theirs).await.0, Status::Dismissed);

    let mut tx = db::begin(&pool, Scope::Operator).await.unwrap();
    assert_eq!(expire_snoozes(&mut tx, None, day(11)).await.unwrap(), 1);
    assert_eq!(
        expire_snoozes(&mut tx, None, day(11)).await.unwrap(),
        0,
        "nothing left to reopen"
    );
    tx.commit().await.unwrap();
    assert_eq!(state_of(&pool, theirs).await.0, Status::Open);
    assert_eq!(
        timeline(&pool, theirs).await,
        [("open".into(), "snooze_expired".into(), "system".into())]
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn only_the_system_resolves_and_reopens_and_an_execution_needs_its_reference(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    let f = finding(DISK_RULE, &a, "delete");
    estate
        .evaluate(&pool, day(1), std::slice::from_ref(&f), &[DISK_RULE])
        .await;
    let id = estate.finding_id(&pool, &f.fingerprint).await;
    let refused = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            let err = sqlx::query(sql)
                .bind(id)
                .execute(&pool)
                .await
                .expect_err(sql);
            err.as_database_error()
                .and_then(|e| e.constraint().map(str::to_owned))
        }
    };
    let transition = Some("recommendations_status_transition".to_owned());
    assert_eq!(
        refused(
            "UPDATE recommendations SET status = 'resolved', resolved_at = now() WHERE id = $1"
        )
        .await,
        transition
    );
    drive(&pool, id, Status::Approved).await;
    assert_eq!(
        refused("UPDATE recommendations SET status = 'executed' WHERE id = $1").await,
        Some("recommendations_executed_reference".to_owned())
    );
    sqlx::query("UPDATE recommendations SET status = 'executed', executed_reference = 'CHG-9' WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        refused("UPDATE recommendations SET status = 'open' WHERE id = $1").await,
        transition,
        "a person cannot reopen an execution"
    );
}
