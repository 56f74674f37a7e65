//! The queue message that asks for one subscription to be ingested (schema version 1):
//! `{"v":1,"run_id":"…","tenant_id":"…","subscription_id":"…","mode":"full"}`, optionally with
//! a cost window (`cost_from`, `cost_to`, inclusive dates). `run_id` may be left out by a
//! message put on the queue by hand; a run is then created for it.
//!
//! No top-level field is named like a queue metadata key (`Id`, `DequeueCount`, …): the host
//! copies message fields into `Metadata`, where they would collide.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Longest cost window one message may ask for.
pub const MAX_COST_WINDOW_DAYS: i64 = 366;

/// What to collect: the database's run mode (`"full"` or `"cost"` on the wire).
pub use crate::db::ingestion::RunMode as Mode;

/// One subscription to ingest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestMessage {
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<Uuid>,
    /// The AzCops tenant id.
    pub tenant_id: Uuid,
    /// The Azure subscription id.
    pub subscription_id: Uuid,
    pub mode: Mode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_to: Option<NaiveDate>,
    /// A later part of a full run's item ([`Stage`]); `None` for the item's first message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<Stage>,
    /// How many times this stage was put back on the queue to wait for Azure's quota.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deferrals: u32,
}

/// The part of a full run's item a follow-up message carries.
///
/// A full run whose per-resource cost window must be queried (once a day) collects everything
/// else first and leaves the window to a follow-up message, made visible when the tenant's
/// Cost Management budget has room for it: the queue slot is not held while the budget refills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The per-resource cost window, then the rules' evaluation; the item ends with it.
    ResourceCosts,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Why a message can never be processed (retrying it would not help).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("the message is not JSON: {0}")]
    NotJson(String),
    #[error("the message has schema version {found}; this build reads version {SCHEMA_VERSION}")]
    WrongVersion { found: String },
    #[error("the message does not match schema version {SCHEMA_VERSION}: {0}")]
    Invalid(String),
}

impl IngestMessage {
    /// Parses and checks a message's text.
    pub fn parse(text: &str) -> Result<Self, MessageError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| MessageError::NotJson(e.to_string()))?;
        match value.get("v") {
            Some(v) if v.as_u64() == Some(u64::from(SCHEMA_VERSION)) => {}
            Some(other) => {
                return Err(MessageError::WrongVersion {
                    found: other.to_string(),
                });
            }
            None => {
                return Err(MessageError::WrongVersion {
                    found: "none".into(),
                });
            }
        }
        let message: Self =
            serde_json::from_value(value).map_err(|e| MessageError::Invalid(e.to_string()))?;
        message.check_window()?;
        message.check_stage()?;
        Ok(message)
    }

    fn check_window(&self) -> Result<(), MessageError> {
        match (self.cost_from, self.cost_to) {
            (Some(from), Some(to)) if from > to => Err(MessageError::Invalid(format!(
                "cost_from {from} is after cost_to {to}"
            ))),
            (Some(from), Some(to)) if (to - from).num_days() >= MAX_COST_WINDOW_DAYS => {
                Err(MessageError::Invalid(format!(
                    "the cost window may cover at most {MAX_COST_WINDOW_DAYS} days"
                )))
            }
            (Some(_), None) | (None, Some(_)) => Err(MessageError::Invalid(
                "give both cost_from and cost_to, or neither".into(),
            )),
            _ => Ok(()),
        }
    }

    /// A stage continues an item: it names its run, and only full runs have stages.
    fn check_stage(&self) -> Result<(), MessageError> {
        match self.stage {
            Some(_) if self.run_id.is_none() || self.mode != Mode::Full => {
                Err(MessageError::Invalid(
                    "a message with a stage continues a full run's item: give its run_id and mode full"
                        .into(),
                ))
            }
            _ => Ok(()),
        }
    }

    /// The follow-up message that carries `stage` of this message's item.
    pub fn next_stage(&self, stage: Stage, deferrals: u32) -> Self {
        Self {
            stage: Some(stage),
            deferrals,
            ..self.clone()
        }
    }

    /// The compact JSON text put on the queue.
    pub fn to_text(&self) -> String {
        // Serialising a struct of plain fields cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> IngestMessage {
        IngestMessage {
            v: 1,
            run_id: Some(Uuid::nil()),
            tenant_id: Uuid::nil(),
            subscription_id: Uuid::nil(),
            mode: Mode::Full,
            cost_from: None,
            cost_to: None,
            stage: None,
            deferrals: 0,
        }
    }

    #[test]
    fn messages_round_trip_compactly() {
        let text = message().to_text();
        assert!(!text.contains(' ') && !text.contains("cost_from"), "{text}");
        assert_eq!(IngestMessage::parse(&text).unwrap(), message());
    }

    #[test]
    fn messages_that_can_never_succeed_say_why() {
        assert!(matches!(
            IngestMessage::parse("{ message: \"x\" }"),
            Err(MessageError::NotJson(_))
        ));
        let v2 = message().to_text().replace("\"v\":1", "\"v\":2");
        assert!(matches!(
            IngestMessage::parse(&v2),
            Err(MessageError::WrongVersion { .. })
        ));
        assert!(matches!(
            IngestMessage::parse("{\"tenant_id\":1}"),
            Err(MessageError::WrongVersion { .. })
        ));
        let extra = message()
            .to_text()
            .replace("\"v\":1", "\"v\":1,\"Id\":\"x\"");
        assert!(matches!(
            IngestMessage::parse(&extra),
            Err(MessageError::Invalid(_))
        ));
        let bad_mode = message().to_text().replace("full", "everything");
        assert!(matches!(
            IngestMessage::parse(&bad_mode),
            Err(MessageError::Invalid(_))
        ));
        let mut inverted = message();
        inverted.cost_from = NaiveDate::from_ymd_opt(2026, 2, 1);
        inverted.cost_to = NaiveDate::from_ymd_opt(2026, 1, 1);
        assert!(matches!(
            IngestMessage::parse(&inverted.to_text()),
            Err(MessageError::Invalid(_))
        ));
    }

    #[test]
    fn a_stage_continues_a_full_runs_item() {
        let next = message().next_stage(Stage::ResourceCosts, 2);
        let text = next.to_text();
        assert!(
            text.contains(r#""stage":"resource_costs","deferrals":2"#),
            "{text}"
        );
        assert_eq!(IngestMessage::parse(&text).unwrap(), next);
        let mut adhoc = next.clone();
        adhoc.run_id = None;
        assert!(matches!(
            IngestMessage::parse(&adhoc.to_text()),
            Err(MessageError::Invalid(_))
        ));
        let mut cost = next;
        cost.mode = Mode::Cost;
        assert!(matches!(
            IngestMessage::parse(&cost.to_text()),
            Err(MessageError::Invalid(_))
        ));
    }

    #[test]
    fn a_hand_written_message_needs_no_run_id() {
        let text = r#"{"v":1,"tenant_id":"00000000-0000-0000-0000-000000000001","subscription_id":"00000000-0000-0000-0000-000000000002","mode":"cost","cost_from":"2026-11-01","cost_to":"2026-11-27"}"#;
        let message = IngestMessage::parse(text).unwrap();
        assert_eq!((message.run_id, message.mode), (None, Mode::Cost));
    }
}
