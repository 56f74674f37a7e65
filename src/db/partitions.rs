//! The monthly partitions of the cost tables (`costs_daily`, its rollups and `resource_costs`,
//! README "Cost storage"): created ahead of time and for every month an ingestion is about to
//! write, rows that fell into a DEFAULT partition moved into their month's, and whole months
//! dropped once older than the retention.
//!
//! The work is done by SECURITY DEFINER functions of the migration (the application's role
//! owns nothing) that require an operator transaction. Each step runs in a short transaction of
//! its own: creating a partition locks its parent briefly (SHARE UPDATE EXCLUSIVE, which lets
//! reads and writes go on) and must not wait inside, or hold up, an ingestion's transaction.

use std::collections::BTreeSet;

use chrono::{Datelike, Months, NaiveDate};
use sqlx::{PgConnection, PgPool};

use super::{Scope, begin};

/// Months created ahead of the current one.
pub const MONTHS_AHEAD: u32 = 3;

/// The smallest retention, in months before the current one: a summary covers up to 366 days.
pub const MIN_RETENTION_MONTHS: u32 = 12;

/// How long cost data is kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Retention {
    /// Nothing is dropped.
    #[default]
    KeepAll,
    /// The current month and this many whole months before it are kept; older monthly
    /// partitions are dropped ([`MIN_RETENTION_MONTHS`] at least).
    Months(u32),
}

/// Makes sure every cost table has the partitions of the months from `from` to `to` (any days
/// of them), moving the rows of those months out of DEFAULT. Returns partitions created. Needs
/// an operator transaction; cheap when they exist (a catalogue lookup, no lock).
pub async fn ensure(
    conn: &mut PgConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT azcops_ensure_cost_partitions($1, $2) AS "created!""#,
        from,
        to
    )
    .fetch_one(conn)
    .await
}

/// Moves whatever rows the DEFAULT partitions hold into partitions of their months, created
/// for them. Returns partitions created. Needs an operator transaction.
pub async fn drain_defaults(conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT azcops_drain_cost_default_partitions() AS "created!""#)
        .fetch_one(conn)
        .await
}

/// Drops the monthly partitions of every cost table whose month ended before the `keep_months`
/// whole months preceding the current one (the database's date), whole: rows are never deleted
/// one by one. Returns their names. Needs an operator transaction; refused below
/// [`MIN_RETENTION_MONTHS`].
pub async fn drop_expired(
    conn: &mut PgConnection,
    keep_months: u32,
) -> Result<Vec<String>, sqlx::Error> {
    let keep = i32::try_from(keep_months).unwrap_or(i32::MAX);
    sqlx::query_scalar!(
        r#"SELECT name AS "name!" FROM azcops_drop_cost_partitions($1) AS name"#,
        keep
    )
    .fetch_all(conn)
    .await
}

/// The months kept ready around `today`: the previous one (Cost Management restates it in the
/// first days of a month), the current one and [`MONTHS_AHEAD`] after it.
pub fn months_ahead(today: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = today.with_day(1).unwrap_or(today);
    let from = first.checked_sub_months(Months::new(1)).unwrap_or(first);
    let to = first
        .checked_add_months(Months::new(MONTHS_AHEAD))
        .unwrap_or(first);
    (from, to)
}

/// [`ensure`] in an operator transaction of its own (start-up after migrating, the daily
/// upkeep).
pub async fn ensure_range(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<i32, sqlx::Error> {
    let mut tx = begin(pool, Scope::Operator).await?;
    let created = ensure(&mut tx, from, to).await?;
    tx.commit().await?;
    Ok(created)
}

/// Makes sure the months of `days` have their partitions, in an operator transaction of its
/// own: what an ingestion calls before its transaction writes rows of those days (a backfill
/// of old months included). Only the months present, however far apart. Returns partitions
/// created.
pub async fn ensure_months_of(
    pool: &PgPool,
    days: impl IntoIterator<Item = NaiveDate>,
) -> Result<i32, sqlx::Error> {
    let months: BTreeSet<NaiveDate> = days.into_iter().filter_map(|d| d.with_day(1)).collect();
    if months.is_empty() {
        return Ok(0);
    }
    let mut tx = begin(pool, Scope::Operator).await?;
    let mut created = 0;
    for month in months {
        created += ensure(&mut tx, month, month).await?;
    }
    tx.commit().await?;
    Ok(created)
}

/// What one run of [`maintain`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Partitions created for rows found in DEFAULT.
    pub drained: i32,
    /// Partitions created ahead of time.
    pub created: i32,
    /// Partitions dropped past the retention.
    pub dropped: Vec<String>,
}

/// The daily upkeep: DEFAULT drained, the months around `today` made ready, and, with a
/// retention, the expired months dropped; each step in a transaction of its own.
pub async fn maintain(
    pool: &PgPool,
    today: NaiveDate,
    retention: Retention,
) -> Result<Maintenance, sqlx::Error> {
    let mut tx = begin(pool, Scope::Operator).await?;
    let drained = drain_defaults(&mut tx).await?;
    tx.commit().await?;
    let (from, to) = months_ahead(today);
    let created = ensure_range(pool, from, to).await?;
    let dropped = match retention {
        Retention::KeepAll => Vec::new(),
        Retention::Months(keep) => {
            let mut tx = begin(pool, Scope::Operator).await?;
            let dropped = drop_expired(&mut tx, keep).await?;
            tx.commit().await?;
            dropped
        }
    };
    Ok(Maintenance {
        drained,
        created,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_months_kept_ready_are_the_previous_the_current_and_three_ahead() {
        assert_eq!(
            months_ahead(day(2026, 12, 5)),
            (day(2026, 11, 1), day(2027, 3, 1))
        );
        assert_eq!(
            months_ahead(day(2026, 1, 31)),
            (day(2025, 12, 1), day(2026, 4, 1))
        );
    }
}
