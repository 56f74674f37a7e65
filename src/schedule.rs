//! NCRONTAB schedules as Azure Functions timers use them: six fields, `{second} {minute}
//! {hour} {day} {month} {day-of-week}`, in UTC, with `*`, lists, ranges and steps
//! (`0 */5 * * * *`), month and day names, and Sunday as 0 or 7.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};

/// A parsed schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    seconds: BTreeSet<u32>,
    minutes: BTreeSet<u32>,
    hours: BTreeSet<u32>,
    days: BTreeSet<u32>,
    months: BTreeSet<u32>,
    weekdays: BTreeSet<u32>,
    day_restricted: bool,
    weekday_restricted: bool,
}

/// Why a schedule does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule `{schedule}`: {problem}")]
pub struct ScheduleError {
    pub schedule: String,
    pub problem: String,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(token: &str, names: &[&str], offset: u32) -> Option<u32> {
    let lower = token.to_ascii_lowercase();
    match names.iter().position(|n| *n == lower) {
        Some(i) => Some(i as u32 + offset),
        None => token.parse().ok(),
    }
}

/// Parses one field into the set of values it allows, within `min..=max`.
fn field(
    text: &str,
    min: u32,
    max: u32,
    names: &[&str],
    offset: u32,
) -> Result<BTreeSet<u32>, String> {
    let mut set = BTreeSet::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or(format!("bad step in `{part}`"))?,
            ),
            None => (part, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            let a = value(a, names, offset).ok_or(format!("bad value `{a}`"))?;
            let b = value(b, names, offset).ok_or(format!("bad value `{b}`"))?;
            (a, b)
        } else {
            let v = value(range, names, offset).ok_or(format!("bad value `{range}`"))?;
            (v, if part.contains('/') { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("`{part}` is outside {min}-{max}"));
        }
        set.extend((lo..=hi).step_by(step as usize));
    }
    Ok(set)
}

impl Schedule {
    /// Parses a six-field NCRONTAB expression.
    pub fn parse(text: &str) -> Result<Self, ScheduleError> {
        let error = |problem: String| ScheduleError {
            schedule: text.to_owned(),
            problem,
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [s, m, h, d, mo, w] = fields.as_slice() else {
            return Err(error(format!(
                "expected 6 fields (second minute hour day month day-of-week), got {}",
                fields.len()
            )));
        };
        let mut weekdays = field(w, 0, 7, &WEEKDAYS, 0).map_err(error)?;
        if weekdays.remove(&7) {
            weekdays.insert(0);
        }
        Ok(Self {
            text: text.to_owned(),
            seconds: field(s, 0, 59, &[], 0).map_err(error)?,
            minutes: field(m, 0, 59, &[], 0).map_err(error)?,
            hours: field(h, 0, 23, &[], 0).map_err(error)?,
            days: field(d, 1, 31, &[], 0).map_err(error)?,
            months: field(mo, 1, 12, &MONTHS, 1).map_err(error)?,
            weekdays,
            day_restricted: *d != "*",
            weekday_restricted: *w != "*",
        })
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn day_matches(&self, t: DateTime<Utc>) -> bool {
        let day = self.days.contains(&t.day());
        let weekday = self.weekdays.contains(&t.weekday().num_days_from_sunday());
        match (self.day_restricted, self.weekday_restricted) {
            // As in cron: when both are restricted, either may match.
            (true, true) => day || weekday,
            _ => day && weekday,
        }
    }

    fn minute_matches(&self, t: DateTime<Utc>) -> bool {
        self.months.contains(&t.month())
            && self.day_matches(t)
            && self.hours.contains(&t.hour())
            && self.minutes.contains(&t.minute())
    }

    /// Whether the schedule fires at `t` (to the second).
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        self.minute_matches(t) && self.seconds.contains(&t.second())
    }

    /// The first occurrence strictly after `t`, searching up to about five years ahead.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = t.duration_trunc(Duration::seconds(1)).ok()? + Duration::seconds(1);
        let mut minute = start.duration_trunc(Duration::minutes(1)).ok()?;
        for _ in 0..(5 * 366 * 24 * 60) {
            if self.minute_matches(minute) {
                let from = if minute < start { start.second() } else { 0 };
                if let Some(s) = self.seconds.range(from..).next() {
                    return Some(minute + Duration::seconds(i64::from(*s)));
                }
            }
            minute += Duration::minutes(1);
        }
        None
    }

    /// The latest occurrence at or before `t`: the schedule slot `t` belongs to.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let end = t.duration_trunc(Duration::seconds(1)).ok()?;
        let mut minute = end.duration_trunc(Duration::minutes(1)).ok()?;
        for _ in 0..(5 * 366 * 24 * 60) {
            if self.minute_matches(minute) {
                let until = if minute + Duration::minutes(1) > end {
                    end.second()
                } else {
                    59
                };
                if let Some(s) = self.seconds.range(..=until).next_back() {
                    return Some(minute + Duration::seconds(i64::from(*s)));
                }
            }
            minute -= Duration::minutes(1);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn daily_at_two_finds_its_slot_and_the_next() {
        let daily = Schedule::parse("0 0 2 * * *").unwrap();
        assert_eq!(
            daily.latest_at_or_before(at("2026-11-28T02:30:00Z")),
            Some(at("2026-11-28T02:00:00Z"))
        );
        assert_eq!(
            daily.latest_at_or_before(at("2026-11-28T01:59:59Z")),
            Some(at("2026-11-27T02:00:00Z"))
        );
        assert_eq!(
            daily.latest_at_or_before(at("2026-11-28T02:00:00Z")),
            Some(at("2026-11-28T02:00:00Z"))
        );
        assert_eq!(
            daily.next_after(at("2026-11-28T02:00:00Z")),
            Some(at("2026-11-29T02:00:00Z"))
        );
        assert_eq!(
            daily.next_after(at("2026-11-28T01:59:59.5Z")),
            Some(at("2026-11-28T02:00:00Z"))
        );
    }

    #[test]
    fn hourly_and_stepped_schedules() {
        let hourly = Schedule::parse("0 0 * * * *").unwrap();
        assert_eq!(
            hourly.next_after(at("2026-11-28T17:59:59Z")),
            Some(at("2026-11-28T18:00:00Z"))
        );
        let every_five = Schedule::parse("0 */5 * * * *").unwrap();
        assert_eq!(
            every_five.next_after(at("2026-11-28T17:01:00Z")),
            Some(at("2026-11-28T17:05:00Z"))
        );
        let every_ten_seconds = Schedule::parse("*/10 * * * * *").unwrap();
        assert_eq!(
            every_ten_seconds.next_after(at("2026-11-28T17:00:05Z")),
            Some(at("2026-11-28T17:00:10Z"))
        );
        assert!(every_ten_seconds.matches(at("2026-11-28T17:00:20Z")));
    }

    #[test]
    fn names_ranges_lists_and_sunday_as_seven() {
        let weekdays = Schedule::parse("0 30 9 * * mon-fri").unwrap();
        assert_eq!(
            weekdays.next_after(at("2026-11-28T00:00:00Z")),
            Some(at("2026-11-30T09:30:00Z")),
            "Sat → Mon"
        );
        let sundays = Schedule::parse("0 0 12 * * 7").unwrap();
        assert_eq!(
            sundays.next_after(at("2026-11-28T00:00:00Z")),
            Some(at("2026-11-29T12:00:00Z"))
        );
        let quarterly = Schedule::parse("0 0 0 1 jan,apr,jul,oct *").unwrap();
        assert_eq!(
            quarterly.next_after(at("2026-11-28T00:00:00Z")),
            Some(at("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        assert!(
            Schedule::parse("0 0 2 * *")
                .unwrap_err()
                .problem
                .contains("6 fields")
        );
        assert!(Schedule::parse("0 0 24 * * *").is_err());
        assert!(Schedule::parse("0 0 */0 * * *").is_err());
        assert!(Schedule::parse("0 0 x * * *").is_err());
        assert!(Schedule::parse("0 0 5-2 * * *").is_err());
    }
}
