//! Daily series from cost rows, the services that make up most of a subscription's spend, and
//! the attribution of an anomaly's days to the components (services, resource groups) whose
//! change explains it.

use chrono::NaiveDate;

use super::{BASELINE_DAYS, PERIOD, median};

/// Share of a subscription's spend whose services get their own series.
pub const TOP_SHARE: f64 = 0.95;
/// Days of history scored.
pub const HISTORY_DAYS: u64 = 90;

/// One value per day of `from..=to`, zero where `points` has none (points outside are
/// ignored; several on one day add up).
pub fn daily(from: NaiveDate, to: NaiveDate, points: &[(NaiveDate, f64)]) -> Vec<f64> {
    let days = (to - from).num_days() + 1;
    let mut out = vec![0.0; usize::try_from(days).unwrap_or(0)];
    for (date, value) in points {
        let i = (*date - from).num_days();
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| out.get_mut(i)) {
            *slot += value;
        }
    }
    out
}

/// The largest components whose total reaches `share` of the whole (all of them when the
/// whole is not positive), largest first.
pub fn top(totals: &[(String, f64)], share: f64) -> Vec<&str> {
    let mut sorted: Vec<&(String, f64)> = totals.iter().collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let whole: f64 = totals.iter().map(|(_, v)| v.max(0.0)).sum();
    let mut sum = 0.0;
    let mut out = Vec::new();
    for (name, value) in sorted {
        if whole > 0.0 && sum >= share * whole {
            break;
        }
        sum += value.max(0.0);
        out.push(name.as_str());
    }
    out
}

/// What one day of a component would have been without the anomaly: the median of the same
/// weekday over the four weeks before `start` when they are all there, else the median of the
/// 14 days before `start` (or of what there is).
pub fn expected_day(values: &[f64], start: usize, day: usize) -> f64 {
    let same_weekday: Vec<f64> = (1..)
        .map_while(|k| day.checked_sub(k * PERIOD))
        .filter(|i| *i < start)
        .take(4)
        .filter_map(|i| values.get(i).copied())
        .collect();
    if same_weekday.len() == 4 {
        return median(&same_weekday);
    }
    let from = start.saturating_sub(BASELINE_DAYS);
    let m = median(&values[from..start.min(values.len())]);
    if m.is_nan() { 0.0 } else { m }
}

/// One component's actual and expected sums over `start..=end`.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub name: String,
    pub actual: f64,
    pub expected: f64,
}

impl Contribution {
    pub fn delta(&self) -> f64 {
        self.actual - self.expected
    }
}

/// The components' contributions to days `start..=end`, those moving with `up` (the anomaly's
/// direction) first, largest change first; components without change are left out.
pub fn attribute(
    components: &[(String, Vec<f64>)],
    start: usize,
    end: usize,
    up: bool,
) -> Vec<Contribution> {
    let mut out: Vec<Contribution> = components
        .iter()
        .map(|(name, values)| {
            let end = end.min(values.len().saturating_sub(1));
            let (actual, expected) = (start..=end).fold((0.0, 0.0), |(a, e), d| {
                (a + values[d], e + expected_day(values, start, d))
            });
            Contribution {
                name: name.clone(),
                actual,
                expected,
            }
        })
        .filter(|c| c.delta().abs() > 0.005)
        .collect();
    let along = |c: &Contribution| if up { c.delta() } else { -c.delta() };
    out.sort_by(|a, b| {
        along(b)
            .total_cmp(&along(a))
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default()
    }

    #[test]
    fn gaps_are_zero_and_points_outside_are_ignored() {
        let v = daily(
            day(1),
            day(4),
            &[(day(2), 1.0), (day(2), 2.0), (day(9), 5.0)],
        );
        assert_eq!(v, vec![0.0, 3.0, 0.0, 0.0]);
    }

    #[test]
    fn the_top_services_reach_95_percent() {
        let t = vec![
            ("a".to_owned(), 80.0),
            ("b".to_owned(), 16.0),
            ("c".to_owned(), 3.0),
            ("d".to_owned(), 1.0),
        ];
        assert_eq!(top(&t, TOP_SHARE), vec!["a", "b"]);
    }

    #[test]
    fn the_component_that_jumped_comes_first() {
        let flat = vec![10.0; 40];
        let mut jumped = vec![20.0; 40];
        jumped[35] = 120.0;
        let comps = vec![("flat".to_owned(), flat), ("vm".to_owned(), jumped)];
        let c = attribute(&comps, 35, 35, true);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].name, "vm");
        assert!((c[0].delta() - 100.0).abs() < 1e-9);
    }
}
