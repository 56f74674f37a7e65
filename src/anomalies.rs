//! Cost anomaly detection over what the database holds (PHASE3 §5): after each cost ingestion
//! of a subscription, and on request. Reads the last [`HISTORY_DAYS`] days of the
//! subscription's daily amortized cost, scores its total and the series of the services that
//! make up 95 % of it ([`analytics::detect`]), names each anomaly's contributors
//! ([`attribution`]) and replaces what the previous detection stored. Service-level anomalies
//! are kept only where the total did not flag the same days in the same direction.

pub mod attribution;

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::analytics::BASELINE_DAYS;
use crate::analytics::detect::{self, Direction, Found, Settings};
use crate::analytics::series::{self, HISTORY_DAYS, TOP_SHARE};
use crate::db::anomalies::inputs::{self, Cell};
use crate::db::anomalies::{self, NewAnomaly};

/// The most recent days: provisional (Azure restates them) and re-scored by the next run.
pub const PROVISIONAL_DAYS: u64 = 2;

/// What one detection did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Report {
    pub series: usize,
    pub anomalies: usize,
    pub deleted: u64,
}

/// The tenant's thresholds, or the defaults.
pub async fn settings(conn: &mut PgConnection, tenant_id: Uuid) -> Result<Settings, sqlx::Error> {
    let defaults = Settings::default();
    Ok(match inputs::settings(conn, tenant_id).await? {
        Some((z, abs, rel)) => Settings {
            z_threshold: z,
            min_abs_delta: abs,
            min_rel_delta: rel,
            ..defaults
        },
        None => defaults,
    })
}

/// Detects the anomalies of one subscription over the days up to `last_day` (the last complete
/// day) in the caller's transaction (tenant-scoped), and stores them.
pub async fn detect_subscription(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    subscription_db_id: Uuid,
    last_day: NaiveDate,
) -> Result<Report, sqlx::Error> {
    let from = last_day - Days::new(HISTORY_DAYS - 1);
    let settings = settings(conn, tenant_id).await?;
    let cells = inputs::cells(conn, tenant_id, subscription_db_id, (from, last_day)).await?;
    let Some(currency) = main_currency(&cells) else {
        let since = from + Days::new(BASELINE_DAYS as u64);
        let (_, deleted) =
            anomalies::replace(conn, tenant_id, subscription_db_id, since, &[]).await?;
        return Ok(Report {
            deleted,
            ..Report::default()
        });
    };
    let cells: Vec<&Cell> = cells.iter().filter(|c| c.currency == currency).collect();
    let frame = Frame::new(&cells, (from, last_day));
    let mut found = Vec::new();
    let total = detect::detect(&frame.total, &settings);
    for f in &total.anomalies {
        found.push((String::new(), f.clone()));
    }
    let top = frame.top_services();
    for name in &top {
        let values = &frame.services[*name];
        let d = detect::detect(values, &settings);
        for f in d.anomalies {
            let covered = total
                .anomalies
                .iter()
                .any(|t| t.direction == f.direction && t.start <= f.end && f.start <= t.end);
            if !covered {
                found.push(((*name).to_owned(), f));
            }
        }
    }
    let mut rows = Vec::with_capacity(found.len());
    for (service, f) in &found {
        let mut row = new_anomaly(&frame, service, f, &currency);
        let scope = if service.is_empty() {
            None
        } else {
            Some(frame.for_service(service))
        };
        let scope = scope.as_ref().unwrap_or(&frame);
        row.contributors =
            attribution::contributors(conn, (tenant_id, subscription_db_id), scope, f).await?;
        let days = (frame.date(f.start), frame.date(f.end));
        row.new_resources =
            attribution::new_resources(conn, (tenant_id, subscription_db_id), days).await?;
        rows.push(row);
    }
    let since = from + Days::new(BASELINE_DAYS as u64);
    let (_, deleted) =
        anomalies::replace(conn, tenant_id, subscription_db_id, since, &rows).await?;
    Ok(Report {
        series: 1 + top.len(),
        anomalies: rows.len(),
        deleted,
    })
}

/// The currency of most of the cost (a subscription is billed in one).
fn main_currency(cells: &[Cell]) -> Option<String> {
    let mut by: BTreeMap<&str, f64> = BTreeMap::new();
    for c in cells {
        *by.entry(&c.currency).or_default() += c.amortized.abs();
    }
    by.into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c.to_owned())
}

/// A subscription's daily series over a window: its total, per service, per resource group and
/// per resource group × service (keys `group\u{1f}service`).
pub struct Frame {
    pub from: NaiveDate,
    pub total: Vec<f64>,
    pub services: BTreeMap<String, Vec<f64>>,
    pub groups: BTreeMap<String, Vec<f64>>,
    pub pairs: BTreeMap<String, Vec<f64>>,
}

/// The key of a resource group × service pair.
pub fn pair_key(group: &str, service: &str) -> String {
    format!("{group}\u{1f}{service}")
}

impl Frame {
    fn new(cells: &[&Cell], (from, to): (NaiveDate, NaiveDate)) -> Self {
        let days = usize::try_from((to - from).num_days() + 1).unwrap_or(0);
        let mut frame = Frame {
            from,
            total: vec![0.0; days],
            services: BTreeMap::new(),
            groups: BTreeMap::new(),
            pairs: BTreeMap::new(),
        };
        for c in cells {
            let Some(i) = usize::try_from((c.date - from).num_days())
                .ok()
                .filter(|i| *i < days)
            else {
                continue;
            };
            frame.total[i] += c.amortized;
            let add = |map: &mut BTreeMap<String, Vec<f64>>, key: String| {
                map.entry(key).or_insert_with(|| vec![0.0; days])[i] += c.amortized;
            };
            add(&mut frame.services, c.service_name.clone());
            add(&mut frame.groups, c.resource_group.clone());
            add(
                &mut frame.pairs,
                pair_key(&c.resource_group, &c.service_name),
            );
        }
        frame.trim_leading_zeros();
        frame
    }

    /// Starts the window at the subscription's first day of cost: the days before (a
    /// subscription registered or billed lately) are no history, and would read as a shift.
    fn trim_leading_zeros(&mut self) {
        let first = self.total.iter().position(|v| *v != 0.0).unwrap_or(0);
        self.from = self.from + Days::new(first as u64);
        for values in std::iter::once(&mut self.total)
            .chain(self.services.values_mut())
            .chain(self.groups.values_mut())
            .chain(self.pairs.values_mut())
        {
            values.drain(..first);
        }
    }

    /// The part of the frame that is one service's: its series as the total, its resource
    /// groups' shares of it, and its pairs.
    fn for_service(&self, service: &str) -> Frame {
        let pairs: BTreeMap<String, Vec<f64>> = self
            .pairs
            .iter()
            .filter(|(k, _)| k.split('\u{1f}').nth(1) == Some(service))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let groups = pairs
            .iter()
            .map(|(k, v)| {
                let group = k.split('\u{1f}').next().unwrap_or_default();
                (group.to_owned(), v.clone())
            })
            .collect();
        let total = self.services.get(service).cloned().unwrap_or_default();
        Frame {
            from: self.from,
            services: BTreeMap::from([(service.to_owned(), total.clone())]),
            total,
            groups,
            pairs,
        }
    }

    /// The date of day `i`.
    pub fn date(&self, i: usize) -> NaiveDate {
        self.from + Days::new(i as u64)
    }

    fn top_services(&self) -> Vec<&str> {
        let totals: Vec<(String, f64)> = self
            .services
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().sum()))
            .collect();
        let top: Vec<String> = series::top(&totals, TOP_SHARE)
            .into_iter()
            .map(str::to_owned)
            .collect();
        self.services
            .keys()
            .filter(|k| top.contains(k))
            .map(String::as_str)
            .collect()
    }
}

fn decimal(x: f64) -> Decimal {
    Decimal::from_f64_retain(x).unwrap_or_default().round_dp(6)
}

/// How bad: by the peak score and the relative change.
fn severity(f: &Found) -> &'static str {
    let rel = (f.actual - f.expected).abs() / f.expected.abs().max(f64::EPSILON);
    if f.score.abs() >= 8.0 || rel >= 1.0 {
        "high"
    } else if f.score.abs() >= 5.0 || rel >= 0.5 {
        "medium"
    } else {
        "low"
    }
}

fn new_anomaly(frame: &Frame, service: &str, f: &Found, currency: &str) -> NewAnomaly {
    let kind = match (f.direction, f.days() > 1) {
        (Direction::Up, false) => "spike",
        (Direction::Down, false) => "drop",
        (Direction::Up, true) => "level_shift_up",
        (Direction::Down, true) => "level_shift_down",
    };
    let last = frame.total.len().saturating_sub(1);
    NewAnomaly {
        service_name: service.to_owned(),
        start_date: frame.date(f.start),
        end_date: frame.date(f.end),
        peak_date: frame.date(f.peak),
        kind,
        severity: severity(f),
        provisional: f.end + PROVISIONAL_DAYS as usize > last,
        score: f.score,
        currency: currency.to_owned(),
        actual: decimal(f.actual),
        expected: decimal(f.expected),
        contributors: Vec::new(),
        new_resources: Vec::new(),
    }
}
