//! An Advisor recommendation and a rule finding about the same resource and action form one
//! group led by the rule finding, whichever arrives first; other actions do not group.

use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::recommendations::Status;

use crate::support::findings::{ADVISOR_UNATTACHED_DISK, Estate, advisor_row, day, drive, finding};

async fn superseded_by(pool: &PgPool, external_id: &str) -> Option<Uuid> {
    sqlx::query_scalar("SELECT superseded_by FROM recommendations WHERE external_id = $1")
        .bind(external_id)
        .fetch_one(pool)
        .await
        .expect("advisor row")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_rule_finding_leads_the_advisor_recommendation_about_the_same_resource_and_action(
    pool: PgPool,
) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    let b = estate.disk(&pool, "rg", "b", serde_json::json!({})).await;
    let advisor_a = advisor_row(ADVISOR_UNATTACHED_DISK, &a, 40);
    let other_type = advisor_row("00000000-0000-0000-0000-000000000001", &a, 5);
    assert_eq!(
        estate
            .advisor(&pool, &[advisor_a.clone(), other_type.clone()])
            .await,
        2
    );
    assert_eq!(superseded_by(&pool, &advisor_a.external_id).await, None);

    // The rule finding comes second: the evaluation groups them.
    let fa = finding("disk.unattached", &a, "delete");
    estate
        .evaluate(
            &pool,
            day(1),
            std::slice::from_ref(&fa),
            &["disk.unattached"],
        )
        .await;
    let lead = estate.finding_id(&pool, &fa.fingerprint).await;
    assert_eq!(
        superseded_by(&pool, &advisor_a.external_id).await,
        Some(lead)
    );
    assert_eq!(
        superseded_by(&pool, &other_type.external_id).await,
        None,
        "no action: no group"
    );
    // Re-ingesting the same Advisor rows writes nothing and keeps the group.
    assert_eq!(
        estate
            .advisor(&pool, &[advisor_a.clone(), other_type])
            .await,
        0
    );

    // The Advisor row comes second: it is grouped as it is written.
    let fb = finding("disk.unattached", &b, "delete");
    estate
        .evaluate(
            &pool,
            day(2),
            &[fa.clone(), fb.clone()],
            &["disk.unattached"],
        )
        .await;
    let advisor_b = advisor_row(ADVISOR_UNATTACHED_DISK, &b, 40);
    estate
        .advisor(&pool, std::slice::from_ref(&advisor_b))
        .await;
    let lead_b = estate.finding_id(&pool, &fb.fingerprint).await;
    assert_eq!(
        superseded_by(&pool, &advisor_b.external_id).await,
        Some(lead_b)
    );

    // A dismissed lead still leads (the group is dismissed, not counted as open).
    drive(&pool, lead_b, Status::Dismissed).await;
    estate
        .evaluate(
            &pool,
            day(3),
            &[fa.clone(), fb.clone()],
            &["disk.unattached"],
        )
        .await;
    assert_eq!(
        superseded_by(&pool, &advisor_b.external_id).await,
        Some(lead_b)
    );

    // A resolved lead leads no more: Advisor's recommendation stands alone again.
    for d in 4..=5 {
        estate
            .evaluate(
                &pool,
                day(d),
                std::slice::from_ref(&fb),
                &["disk.unattached"],
            )
            .await;
    }
    assert_eq!(superseded_by(&pool, &advisor_a.external_id).await, None);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn deleting_a_subscription_deletes_its_groups_and_timelines(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let a = estate.disk(&pool, "rg", "a", serde_json::json!({})).await;
    estate
        .advisor(&pool, &[advisor_row(ADVISOR_UNATTACHED_DISK, &a, 40)])
        .await;
    let fa = finding("disk.unattached", &a, "delete");
    estate
        .evaluate(
            &pool,
            day(1),
            std::slice::from_ref(&fa),
            &["disk.unattached"],
        )
        .await;
    estate
        .evaluate(&pool, day(2), &[], &["disk.unattached"])
        .await;
    estate
        .evaluate(&pool, day(3), &[], &["disk.unattached"])
        .await;
    estate
        .evaluate(&pool, day(4), &[fa], &["disk.unattached"])
        .await;
    sqlx::query("DELETE FROM subscriptions WHERE id = $1")
        .bind(estate.subscription)
        .execute(&pool)
        .await
        .expect("the subscription and everything of it go");
    let left: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM recommendations) + (SELECT count(*) FROM recommendation_events)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(left, 0);
}
