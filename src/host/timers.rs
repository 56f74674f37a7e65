//! Timer triggers: each timer function fires on its NCRONTAB schedule in UTC, one invocation at
//! a time (a slot missed while the previous invocation ran is skipped), with the `TimerInfo`
//! payload the real host sends (`ScheduleStatus` only when `useMonitor` is on).

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use super::invoke::{Invoker, Outcome};
use super::payload;
use crate::schedule::Schedule;

/// One timer function.
#[derive(Debug, Clone)]
pub struct Timer {
    pub function: String,
    pub binding: String,
    pub schedule: Schedule,
    pub use_monitor: bool,
    pub run_on_startup: bool,
}

impl Timer {
    /// Fires once for `slot` (the occurrence being run; `None`: on demand, now).
    pub async fn fire(&self, invoker: &Invoker, slot: Option<DateTime<Utc>>) -> Outcome {
        let now = Utc::now();
        let status = self.use_monitor.then(|| self.status(slot, now)).flatten();
        let body = payload::timer(&self.function, &self.binding, status, false, now);
        invoker.invoke(&self.function, &body).await
    }

    /// `(Last, Next)`: the occurrence before this one and this one (on demand: the latest
    /// occurrence and the next one).
    fn status(
        &self,
        slot: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        match slot {
            Some(slot) => {
                let before = slot - chrono::Duration::seconds(1);
                Some((self.schedule.latest_at_or_before(before)?, slot))
            }
            None => Some((
                self.schedule.latest_at_or_before(now)?,
                self.schedule.next_after(now)?,
            )),
        }
    }

    /// Fires on schedule until `stopping`.
    pub async fn run(self, invoker: Invoker, mut stopping: watch::Receiver<bool>) {
        if self.run_on_startup {
            self.fire(&invoker, None).await;
        }
        loop {
            let now = Utc::now();
            let Some(next) = self.schedule.next_after(now) else {
                tracing::warn!(function = %self.function, "schedule has no next occurrence");
                return;
            };
            let wait = (next - now).to_std().unwrap_or_default();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = stopping.wait_for(|stop| *stop) => return,
            }
            self.fire(&invoker, Some(next)).await;
        }
    }
}
