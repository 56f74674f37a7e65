//! Realised savings: executing captures the resource's mean daily amortized cost before the
//! change; a cost window after it (14 days on) gives the other side; without per-resource cost
//! the savings are unmeasurable. An approved finding that resolves counts too.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::PgPool;
use uuid::Uuid;

use azcops::db::recommendations::lifecycle::{self, Change, Decider};
use azcops::db::recommendations::query::{self, SummaryFilter};
use azcops::db::recommendations::realised::{self, Measurement};
use azcops::db::recommendations::{Status, realised::RealisedRow};
use azcops::db::resource_costs::{self, NewResourceCost, Window};
use azcops::db::{self, Scope};

use crate::support::findings::{Estate, day, drive, finding, realised_cells_differing};

fn date(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, day).expect("a date")
}

/// One window of the subscription's costs: `amortized` for each resource given.
async fn window(pool: &PgPool, estate: &Estate, window: Window, costs: &[(&String, i64)]) {
    let rows: Vec<NewResourceCost> = costs
        .iter()
        .map(|(resource, amortized)| NewResourceCost {
            resource_id: resource.to_string(),
            service_name: "Storage".into(),
            resource_group: "rg".into(),
            cost: Decimal::from(*amortized),
            amortized_cost: Decimal::from(*amortized),
            currency: "EUR".into(),
        })
        .collect();
    let mut tx = db::begin(pool, Scope::Tenant(estate.tenant))
        .await
        .expect("transaction");
    resource_costs::upsert(&mut tx, estate.tenant, estate.subscription, window, &rows)
        .await
        .expect("costs");
    tx.commit().await.expect("commit");
}

/// One unattached disk's finding, evaluated on day 1 and approved, with an October cost window
/// of `october` for the disk.
async fn approved_disk(pool: &PgPool, october: i64) -> (Estate, String, Uuid) {
    let estate = Estate::create(pool).await;
    let disk = estate.disk(pool, "rg", "d", serde_json::json!({})).await;
    let f = finding("disk.unattached", &disk, "delete");
    estate
        .evaluate(pool, day(1), std::slice::from_ref(&f), &["disk.unattached"])
        .await;
    let window_of_october = Window {
        start: date(10, 1),
        end: date(10, 30),
    };
    window(pool, &estate, window_of_october, &[(&disk, october)]).await;
    let id = estate.finding_id(pool, &f.fingerprint).await;
    drive(pool, id, Status::Approved).await;
    (estate, disk, id)
}

async fn execute(pool: &PgPool, estate: &Estate, id: Uuid) {
    let mut tx = db::begin(pool, Scope::Tenant(estate.tenant))
        .await
        .expect("transaction");
    let locked = lifecycle::lock(&mut tx, Some(estate.tenant), id)
        .await
        .expect("lock")
        .expect("recommendation");
    let change = Change {
        reference: Some("CHG-42".into()),
        ..Change::default()
    };
    let decider = Decider {
        principal: "admin",
        at: day(5),
        correlation_id: None,
    };
    lifecycle::transition(&mut tx, locked, Status::Executed, &change, decider)
        .await
        .expect("executed");
    tx.commit().await.expect("commit");
}

async fn realised_rows(pool: &PgPool, estate: &Estate) -> Vec<RealisedRow> {
    let filter = SummaryFilter {
        tenant_id: Some(estate.tenant),
        subscription: None,
        include_suppressed: false,
        at: day(1),
    };
    let mut tx = db::begin(pool, Scope::Tenant(estate.tenant))
        .await
        .expect("transaction");
    realised::rows(&mut tx, &filter, None)
        .await
        .expect("realised")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_execution_is_measured_from_the_cost_windows_around_it(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let measured = estate
        .disk(&pool, "rg", "measured", serde_json::json!({}))
        .await;
    let uncosted = estate
        .disk(&pool, "rg", "uncosted", serde_json::json!({}))
        .await;
    let findings = [
        finding("disk.unattached", &measured, "delete"),
        finding("disk.unattached", &uncosted, "delete"),
    ];
    estate
        .evaluate(&pool, day(1), &findings, &["disk.unattached"])
        .await;
    // October: 300 over 30 days, 10 a day.
    let october = Window {
        start: date(10, 1),
        end: date(10, 30),
    };
    window(&pool, &estate, october, &[(&measured, 300)]).await;
    let ids = [
        estate.finding_id(&pool, &findings[0].fingerprint).await,
        estate.finding_id(&pool, &findings[1].fingerprint).await,
    ];
    for id in ids {
        drive(&pool, id, Status::Approved).await;
        execute(&pool, &estate, id).await;
    }
    let rows = realised_rows(&pool, &estate).await;
    let by_id = |id: Uuid| rows.iter().find(|r| r.id == id).expect("row").realised();
    let pending = by_id(ids[0]);
    assert_eq!(pending.measurement, Measurement::Pending);
    assert_eq!(pending.baseline_daily_cost, Some(Decimal::from(10)));
    assert_eq!(pending.baseline_window_end, Some(date(10, 30)));
    assert_eq!(by_id(ids[1]).measurement, Measurement::Unmeasurable);

    // A window that starts before the change does not count; one fully after it does.
    let overlapping = Window {
        start: date(11, 1),
        end: date(11, 30),
    };
    window(&pool, &estate, overlapping, &[(&measured, 30)]).await;
    let rows = realised_rows(&pool, &estate).await;
    let still = rows.iter().find(|r| r.id == ids[0]).unwrap().realised();
    assert_eq!(still.measurement, Measurement::Pending);
    let after = Window {
        start: date(11, 6),
        end: date(12, 5),
    };
    window(&pool, &estate, after, &[(&measured, 60)]).await;
    let rows = realised_rows(&pool, &estate).await;
    let done = rows.iter().find(|r| r.id == ids[0]).unwrap().realised();
    assert_eq!(done.measurement, Measurement::Measured);
    assert_eq!(done.after_daily_cost, Some(Decimal::from(2)));
    // (10 − 2) × 30.44
    assert_eq!(done.monthly_savings, Some(Decimal::new(24352, 2)));
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn an_approved_finding_that_resolves_counts_as_realised_and_a_deleted_resource_costs_nothing(
    pool: PgPool,
) {
    let (estate, _, _) = approved_disk(&pool, 150).await;
    estate
        .evaluate(&pool, day(2), &[], &["disk.unattached"])
        .await;
    estate
        .evaluate(&pool, day(3), &[], &["disk.unattached"])
        .await;
    // The subscription's window after the change has no row of the deleted disk.
    let after = Window {
        start: date(11, 4),
        end: date(12, 3),
    };
    let other = "/subscriptions/x/other".to_owned();
    window(&pool, &estate, after, &[(&other, 99)]).await;
    let rows = realised_rows(&pool, &estate).await;
    assert_eq!(rows.len(), 1);
    let realised = rows[0].realised();
    assert_eq!(realised.baseline_daily_cost, Some(Decimal::from(5)));
    assert_eq!(realised.after_daily_cost, Some(Decimal::ZERO));
    assert_eq!(realised.monthly_savings, Some(Decimal::new(15220, 2)));
}

/// The kept measurements of a tenant, by recommendation.
async fn kept(pool: &PgPool, estate: &Estate) -> Vec<(Uuid, Measurement, Option<Decimal>)> {
    sqlx::query_as(
        "SELECT recommendation_id, measurement, monthly_savings FROM recommendation_realised
         WHERE tenant_id = $1 ORDER BY recommendation_id",
    )
    .bind(estate.tenant)
    .fetch_all(pool)
    .await
    .expect("kept measurements")
}

async fn figures(pool: &PgPool, estate: &Estate) -> Vec<realised::Figure> {
    let filter = SummaryFilter {
        tenant_id: Some(estate.tenant),
        subscription: None,
        include_suppressed: false,
        at: day(1),
    };
    // Planned as the API's summary of a tenant is: generic plans, kept per session.
    assert_eq!(query::summary_planning(&filter), db::Planning::Generic);
    let mut tx = db::begin_planned(pool, Scope::Tenant(estate.tenant), db::Planning::Generic)
        .await
        .expect("transaction");
    realised::figures(&mut tx, &filter).await.expect("figures")
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_kept_measurement_is_forgotten_when_its_inputs_change_and_kept_again_by_the_evaluation(
    pool: PgPool,
) {
    let (estate, disk, id) = approved_disk(&pool, 300).await;
    assert!(kept(&pool, &estate).await.is_empty());

    // The execution keeps its measurement: pending, the baseline known.
    execute(&pool, &estate, id).await;
    assert_eq!(
        kept(&pool, &estate).await,
        [(id, Measurement::Pending, None)]
    );
    let read = figures(&pool, &estate).await;
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].measurement, Measurement::Pending);
    assert_eq!(realised_cells_differing(&pool).await, Vec::<String>::new());

    // A cost window of the subscription forgets it; the summary measures it at the request.
    let after = Window {
        start: date(11, 6),
        end: date(12, 5),
    };
    window(&pool, &estate, after, &[(&disk, 60)]).await;
    assert!(kept(&pool, &estate).await.is_empty());
    assert_eq!(realised_cells_differing(&pool).await, Vec::<String>::new());
    let read = figures(&pool, &estate).await;
    assert_eq!(read[0].measurement, Measurement::Measured);
    // (10 − 2) × 30.44
    let savings = Some(Decimal::new(24352, 2));
    assert_eq!(read[0].monthly_savings, savings);
    assert_eq!(read[0].currency.as_deref(), Some("EUR"));

    // The evaluation after a run (here of no rule) keeps it again, equal to what was measured at the request.
    estate.evaluate(&pool, day(6), &[], &[]).await;
    assert_eq!(
        kept(&pool, &estate).await,
        [(id, Measurement::Measured, savings)]
    );
    assert_eq!(realised_cells_differing(&pool).await, Vec::<String>::new());
    assert_eq!(figures(&pool, &estate).await, read);

    // A change of the recommendation's baseline forgets it too.
    sqlx::query("UPDATE recommendations SET baseline_daily_cost = 20 WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await
        .expect("baseline");
    assert!(kept(&pool, &estate).await.is_empty());
    // (20 − 2) × 30.44
    assert_eq!(
        figures(&pool, &estate).await[0].monthly_savings,
        Some(Decimal::new(54792, 2))
    );

    // So do the subscription's daily costs and their coverage.
    estate.evaluate(&pool, day(7), &[], &[]).await;
    assert_eq!(kept(&pool, &estate).await.len(), 1);
    sqlx::query(
        "INSERT INTO resource_daily_cost_coverage (tenant_id, subscription_db_id, resource_id, covered_from, covered_to)
         VALUES ($1, $2, $3, '2026-09-01', '2026-12-31')",
    )
    .bind(estate.tenant)
    .bind(estate.subscription)
    .bind(&disk)
    .execute(&pool)
    .await
    .expect("coverage");
    assert!(kept(&pool, &estate).await.is_empty());
}

/// The summary's figures add the kept measurements up in PostgreSQL, one figure per rule,
/// currencies and measurement, and measure at the request only those without a kept one: the
/// counts and sums equal those of the recommendations measured one by one.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn the_figures_add_up_the_kept_measurements_and_those_measured_at_the_request(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let mut disks = Vec::new();
    for name in ["a", "b", "c", "uncosted"] {
        disks.push(estate.disk(&pool, "rg", name, serde_json::json!({})).await);
    }
    let findings: Vec<_> = disks
        .iter()
        .map(|d| finding("disk.unattached", d, "delete"))
        .collect();
    estate
        .evaluate(&pool, day(1), &findings, &["disk.unattached"])
        .await;
    let october = Window {
        start: date(10, 1),
        end: date(10, 30),
    };
    window(
        &pool,
        &estate,
        october,
        &[(&disks[0], 300), (&disks[1], 600), (&disks[2], 900)],
    )
    .await;
    let mut ids = Vec::new();
    for f in &findings {
        let id = estate.finding_id(&pool, &f.fingerprint).await;
        drive(&pool, id, Status::Approved).await;
        execute(&pool, &estate, id).await;
        ids.push(id);
    }
    let after = Window {
        start: date(11, 6),
        end: date(12, 5),
    };
    window(
        &pool,
        &estate,
        after,
        &[(&disks[0], 60), (&disks[1], 60), (&disks[2], 60)],
    )
    .await;
    // Kept by the evaluation, and read from the tenant's realised cells: one figure per cell.
    estate.evaluate(&pool, day(6), &[], &[]).await;
    assert_eq!(kept(&pool, &estate).await.len(), 4);
    assert_eq!(realised_cells_differing(&pool).await, Vec::<String>::new());
    let from_cells = figures(&pool, &estate).await;
    let mut cells: Vec<(Measurement, i64)> = from_cells
        .iter()
        .map(|f| (f.measurement, f.count))
        .collect();
    cells.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(
        cells,
        [(Measurement::Measured, 3), (Measurement::Unmeasurable, 1)],
        "{from_cells:?}"
    );
    // Then one forgotten (its baseline changed), measured at the request.
    sqlx::query("UPDATE recommendations SET baseline_daily_cost = 40 WHERE id = $1")
        .bind(ids[2])
        .execute(&pool)
        .await
        .expect("baseline");
    assert_eq!(kept(&pool, &estate).await.len(), 3);
    assert_eq!(realised_cells_differing(&pool).await, Vec::<String>::new());

    let figures = figures(&pool, &estate).await;
    let measured: Vec<_> = figures
        .iter()
        .filter(|f| f.measurement == Measurement::Measured)
        .collect();
    let mut counts: Vec<i64> = measured.iter().map(|f| f.count).collect();
    counts.sort();
    assert_eq!(
        counts,
        [1, 2],
        "the two kept measurements in one figure, the forgotten one in its own: {figures:?}"
    );
    let one_by_one = realised_rows(&pool, &estate).await;
    let sum = |kind: Measurement| -> (i64, Decimal, Decimal) {
        let rows: Vec<_> = one_by_one
            .iter()
            .filter(|r| r.realised().measurement == kind)
            .collect();
        (
            rows.len() as i64,
            rows.iter()
                .filter_map(|r| r.estimated_monthly_savings)
                .sum(),
            rows.iter()
                .filter_map(|r| r.realised().monthly_savings)
                .sum(),
        )
    };
    let added = |kind: Measurement| -> (i64, Decimal, Decimal) {
        let of: Vec<_> = figures.iter().filter(|f| f.measurement == kind).collect();
        (
            of.iter().map(|f| f.count).sum(),
            of.iter().filter_map(|f| f.estimated_monthly_savings).sum(),
            of.iter().filter_map(|f| f.monthly_savings).sum(),
        )
    };
    assert_eq!(added(Measurement::Measured), sum(Measurement::Measured));
    assert_eq!(added(Measurement::Measured).0, 3);
    // (10 − 2) + (20 − 2) + (40 − 2) a day, × 30.44
    assert_eq!(added(Measurement::Measured).2, Decimal::new(194816, 2));
    assert_eq!(
        added(Measurement::Unmeasurable),
        sum(Measurement::Unmeasurable)
    );
    assert_eq!(added(Measurement::Unmeasurable).0, 1);
}

/// A measurement kept while its recommendation is being changed by another transaction waits
/// for that transaction, and is then made of the recommendation as it committed: its copy of the
/// estimate matches, and so do the realised cells. Without the lock, the measurement would copy
/// the estimate its snapshot saw, and the cells would count the difference twice.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn keeping_a_measurement_waits_for_a_change_of_its_recommendation(pool: PgPool) {
    let estate = Estate::create(&pool).await;
    let disk = estate.disk(&pool, "rg", "d", serde_json::json!({})).await;
    let f = finding("disk.unattached", &disk, "delete");
    estate
        .evaluate(
            &pool,
            day(1),
            std::slice::from_ref(&f),
            &["disk.unattached"],
        )
        .await;
    let id = estate.finding_id(&pool, &f.fingerprint).await;
    drive(&pool, id, Status::Executed).await;
    assert!(kept(&pool, &estate).await.is_empty(), "not measured yet");
    assert_eq!(realised_cells_differing(&pool).await, Vec::<String>::new());

    // Another transaction changes the estimate and has not committed yet.
    let mut change = db::begin(&pool, Scope::Tenant(estate.tenant))
        .await
        .expect("begin");
    sqlx::query("UPDATE recommendations SET estimated_monthly_savings = 77 WHERE id = $1")
        .bind(id)
        .execute(&mut *change)
        .await
        .expect("the change");
    let keeping = tokio::spawn({
        let pool = pool.clone();
        async move { realised::store_unmeasured(&pool, day(2)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!keeping.is_finished(), "keeping waits for the change");
    change.commit().await.expect("commit the change");
    let written = keeping.await.expect("task").expect("kept");
    assert_eq!(written, 1);

    let copied: Option<Decimal> = sqlx::query_scalar(
        "SELECT estimated_monthly_savings FROM recommendation_realised WHERE recommendation_id = $1",
    )
    .bind(id)
    .fetch_one(&pool)
    .await
    .expect("kept measurement");
    assert_eq!(copied, Some(Decimal::from(77)), "the committed estimate");
    assert_eq!(realised_cells_differing(&pool).await, Vec::<String>::new());
}
