//! The custom-handler invocation protocol for non-HTTP triggers: the body the Functions host
//! POSTs to `/<FunctionName>` (`{"Data": {...}, "Metadata": {...}}`) and the answer it expects
//! (`{"Outputs": {...}, "Logs": [...], "ReturnValue": ...}`).
//!
//! The host JSON-encodes string values in `Data` and `Metadata` a second time (a queue message
//! `hello` arrives as `"\"hello\""`, `DequeueCount` as `"1"`); older hosts and the docs send
//! them once. [`host_string`] accepts both.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the host sends.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeRequest {
    #[serde(default)]
    pub data: Map<String, Value>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// What the handler answers (HTTP 200; any non-2xx makes the host fail the invocation).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeResponse {
    /// Output binding values by binding name.
    pub outputs: Map<String, Value>,
    /// Lines the host writes to the invocation log (only read on 2xx).
    pub logs: Vec<String>,
    pub return_value: Option<Value>,
}

/// Why a payload cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvocationError {
    #[error("the invocation has no `{0}` binding in Data")]
    MissingBinding(String),
    #[error("binding `{binding}` is not a {expected}")]
    WrongShape {
        binding: String,
        expected: &'static str,
    },
}

/// Undoes the host's second JSON encoding of a string value; a single-encoded string (or a
/// string that merely looks like JSON of another type) comes back as it is.
pub fn host_string(value: &Value) -> Option<String> {
    let raw = value.as_str()?;
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::String(inner)) => Some(inner),
        _ => Some(raw.to_owned()),
    }
}

impl InvokeRequest {
    /// The text of a string binding in `Data` (a queue message), decoded.
    pub fn data_string(&self, binding: &str) -> Result<String, InvocationError> {
        let value = self
            .data
            .get(binding)
            .ok_or_else(|| InvocationError::MissingBinding(binding.to_owned()))?;
        match value {
            Value::String(_) => host_string(value).ok_or_else(|| InvocationError::WrongShape {
                binding: binding.to_owned(),
                expected: "string",
            }),
            // Some hosts hand over a JSON message already parsed.
            Value::Object(_) | Value::Array(_) => Ok(value.to_string()),
            _ => Err(InvocationError::WrongShape {
                binding: binding.to_owned(),
                expected: "string",
            }),
        }
    }

    /// A metadata string, decoded (`Id`, `PopReceipt`, `InsertionTime`, …).
    pub fn metadata_string(&self, key: &str) -> Option<String> {
        match self.metadata.get(key)? {
            Value::Number(n) => Some(n.to_string()),
            other => host_string(other),
        }
    }

    /// How many times the queue has handed this message out (a string or a number on the wire).
    pub fn dequeue_count(&self) -> Option<u32> {
        self.metadata_string("DequeueCount")?.trim().parse().ok()
    }

    /// `Metadata.sys.MethodName`: the function being invoked.
    pub fn method_name(&self) -> Option<&str> {
        self.metadata.get("sys")?.get("MethodName")?.as_str()
    }

    /// `Metadata.sys.UtcNow`: when the host invoked the function.
    pub fn utc_now(&self) -> Option<DateTime<Utc>> {
        let raw = self.metadata.get("sys")?.get("UtcNow")?.as_str()?;
        DateTime::parse_from_rfc3339(raw)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The timer binding's payload.
    pub fn timer(&self, binding: &str) -> Result<TimerInfo, InvocationError> {
        let value = self
            .data
            .get(binding)
            .ok_or_else(|| InvocationError::MissingBinding(binding.to_owned()))?;
        let value = match value {
            Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
            other => other.clone(),
        };
        serde_json::from_value(value).map_err(|_| InvocationError::WrongShape {
            binding: binding.to_owned(),
            expected: "timer payload",
        })
    }
}

/// The timer trigger's payload (`TimerInfo`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TimerInfo {
    #[serde(default)]
    pub schedule: Option<Value>,
    /// `null` when the schedule monitor is off.
    #[serde(default)]
    pub schedule_status: Option<ScheduleStatus>,
    /// True when the invocation is late (e.g. the host was down at the scheduled time).
    #[serde(default)]
    pub is_past_due: bool,
}

/// The schedule monitor's record.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleStatus {
    pub last: Option<DateTime<chrono::FixedOffset>>,
    pub next: Option<DateTime<chrono::FixedOffset>>,
    pub last_updated: Option<DateTime<chrono::FixedOffset>>,
}

impl InvokeResponse {
    /// An answer that only logs.
    pub fn logs(logs: Vec<String>) -> Self {
        Self {
            logs,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn host_strings_are_decoded_once_or_twice_encoded() {
        assert_eq!(host_string(&json!("\"hello\"")).as_deref(), Some("hello"));
        assert_eq!(host_string(&json!("hello")).as_deref(), Some("hello"));
        assert_eq!(
            host_string(&json!("{\"a\":1}")).as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(
            host_string(&json!("\"{\\\"a\\\":1}\"")).as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(host_string(&json!("1")).as_deref(), Some("1"));
        assert_eq!(host_string(&json!(1)), None);
    }

    #[test]
    fn dequeue_count_is_read_as_string_or_number() {
        let mut request = InvokeRequest::default();
        request.metadata.insert("DequeueCount".into(), json!("5"));
        assert_eq!(request.dequeue_count(), Some(5));
        request.metadata.insert("DequeueCount".into(), json!(2));
        assert_eq!(request.dequeue_count(), Some(2));
        request.metadata.insert("DequeueCount".into(), json!("two"));
        assert_eq!(request.dequeue_count(), None);
    }

    #[test]
    fn responses_use_the_hosts_property_names() {
        let mut response = InvokeResponse::logs(vec!["done".into()]);
        response.outputs.insert("queue".into(), json!(["m"]));
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({"Outputs": {"queue": ["m"]}, "Logs": ["done"], "ReturnValue": null})
        );
    }
}
