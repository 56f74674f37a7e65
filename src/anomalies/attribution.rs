//! An anomaly's contributors: the services and resource groups whose own change over its days
//! explains it (each against its own baseline, [`series::attribute`]), and the resources, where
//! per-resource cost exists. Per-resource cost is stored as a window total (`resource_costs`),
//! not per day, so a resource's change is estimated: its resource group × service pair's change
//! split by the resources' shares of the pair's cost over the window.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Frame, pair_key};
use crate::analytics::detect::{Direction, Found};
use crate::analytics::series::{self, Contribution};
use crate::db::anomalies::inputs;
use crate::db::anomalies::{Contributor, NewResource};

/// Contributors of each kind listed.
pub const TOP: usize = 3;

fn contributor(kind: &str, c: &Contribution, total_delta: f64) -> Contributor {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    Contributor {
        kind: kind.to_owned(),
        name: c.name.clone(),
        actual: round(c.actual),
        expected: round(c.expected),
        delta: round(c.delta()),
        share: if total_delta.abs() > f64::EPSILON {
            (c.delta() / total_delta * 1000.0).round() / 1000.0
        } else {
            0.0
        },
    }
}

/// The first [`TOP`] that moved with the anomaly (or the first one, if none did).
fn leading(mut list: Vec<Contribution>, up: bool) -> Vec<Contribution> {
    let moved = list
        .iter()
        .take_while(|c| if up { c.delta() > 0.0 } else { c.delta() < 0.0 })
        .count();
    list.truncate(moved.clamp(1, TOP));
    list
}

fn of(map: &BTreeMap<String, Vec<f64>>) -> Vec<(String, Vec<f64>)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Services, then resource groups, then resources, largest change first within each.
pub async fn contributors(
    conn: &mut PgConnection,
    (tenant_id, subscription_db_id): (Uuid, Uuid),
    frame: &Frame,
    f: &Found,
) -> Result<Vec<Contributor>, sqlx::Error> {
    let up = f.direction == Direction::Up;
    let total = f.actual - f.expected;
    let attribute = |map| leading(series::attribute(&of(map), f.start, f.end, up), up);
    let mut out: Vec<Contributor> = attribute(&frame.services)
        .iter()
        .map(|c| contributor("service", c, total))
        .collect();
    out.extend(
        attribute(&frame.groups)
            .iter()
            .map(|c| contributor("resource_group", c, total)),
    );
    let pairs = series::attribute(&of(&frame.pairs), f.start, f.end, up);
    let window =
        inputs::resource_window(conn, tenant_id, subscription_db_id, frame.date(f.peak)).await?;
    out.extend(
        resources(&pairs, &window, up)
            .iter()
            .map(|c| contributor("resource", c, total)),
    );
    Ok(out)
}

/// Each resource's estimated contribution: its pair's, split by its share of the pair's window
/// cost.
fn resources(
    pairs: &[Contribution],
    window: &[inputs::ResourceCell],
    up: bool,
) -> Vec<Contribution> {
    let mut pair_cost: BTreeMap<String, f64> = BTreeMap::new();
    for r in window {
        *pair_cost
            .entry(pair_key(&r.resource_group, &r.service_name))
            .or_default() += r.amortized;
    }
    let mut out: Vec<Contribution> = window
        .iter()
        .filter_map(|r| {
            let key = pair_key(&r.resource_group, &r.service_name);
            let pair = pairs.iter().find(|p| p.name == key)?;
            let share = r.amortized / pair_cost.get(&key).copied().filter(|c| *c > 0.0)?;
            Some(Contribution {
                name: r.resource_id.clone(),
                actual: pair.actual * share,
                expected: pair.expected * share,
            })
        })
        .collect();
    let along = |c: &Contribution| if up { c.delta() } else { -c.delta() };
    out.sort_by(|a, b| {
        along(b)
            .total_cmp(&along(a))
            .then_with(|| a.name.cmp(&b.name))
    });
    out.retain(|c| along(c) > 0.0);
    out.truncate(TOP);
    out
}

/// Resources first seen during the anomaly's days.
pub async fn new_resources(
    conn: &mut PgConnection,
    (tenant_id, subscription_db_id): (Uuid, Uuid),
    days: (NaiveDate, NaiveDate),
) -> Result<Vec<NewResource>, sqlx::Error> {
    Ok(
        inputs::new_resources(conn, tenant_id, subscription_db_id, days)
            .await?
            .into_iter()
            .map(|(resource_id, resource_type, resource_group)| NewResource {
                resource_id,
                resource_type,
                resource_group,
            })
            .collect(),
    )
}
