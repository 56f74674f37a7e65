//! The bodies the Functions host POSTs to `/<FunctionName>` for non-HTTP triggers, built the
//! way the real host builds them: string values in `Data` and `Metadata` JSON-encoded twice,
//! `DequeueCount` as a string, the top-level fields of a JSON-object queue message copied into
//! `Metadata`, and `Metadata.sys`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::storage::message::ReceivedMessage;

/// `Metadata.sys`.
pub fn sys(function: &str, now: DateTime<Utc>) -> Value {
    json!({
        "MethodName": function,
        "UtcNow": now.to_rfc3339_opts(SecondsFormat::Micros, true),
        "RandGuid": Uuid::new_v4().to_string(),
    })
}

/// A value as the host serializes a scalar binding-data value: JSON text inside a JSON string.
pub fn twice(text: &str) -> Value {
    Value::String(Value::String(text.to_owned()).to_string())
}

/// A timestamp as the host renders `DateTimeOffset` metadata (whole seconds, `+00:00`).
pub fn host_time(t: DateTime<Utc>) -> Value {
    Value::String(t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string())
}

/// The timer payload. `status` is `(last, next)` when the schedule monitor is on.
pub fn timer(
    function: &str,
    binding: &str,
    status: Option<(DateTime<Utc>, DateTime<Utc>)>,
    past_due: bool,
    now: DateTime<Utc>,
) -> Value {
    let status = match status {
        Some((last, next)) => json!({
            "Last": last.to_rfc3339_opts(SecondsFormat::AutoSi, false),
            "Next": next.to_rfc3339_opts(SecondsFormat::AutoSi, false),
            "LastUpdated": last.to_rfc3339_opts(SecondsFormat::AutoSi, false),
        }),
        None => Value::Null,
    };
    let mut data = Map::new();
    data.insert(
        binding.to_owned(),
        json!({"Schedule": {"AdjustForDST": true}, "ScheduleStatus": status, "IsPastDue": past_due}),
    );
    json!({"Data": data, "Metadata": {"sys": sys(function, now)}})
}

/// The queue-trigger payload for `message`, whose decoded text is `text`.
pub fn queue(
    function: &str,
    binding: &str,
    message: &ReceivedMessage,
    text: &str,
    now: DateTime<Utc>,
) -> Value {
    let mut metadata = Map::new();
    metadata.insert(
        "DequeueCount".into(),
        Value::String(message.dequeue_count.to_string()),
    );
    let times = [
        ("ExpirationTime", message.expires_at),
        ("InsertionTime", message.inserted_at),
        ("NextVisibleTime", message.next_visible_at),
    ];
    for (key, time) in times {
        if let Some(t) = time {
            metadata.insert(key.into(), host_time(t));
        }
    }
    metadata.insert("Id".into(), twice(&message.id));
    metadata.insert("PopReceipt".into(), twice(&message.pop_receipt));
    metadata.insert("sys".into(), sys(function, now));
    if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) {
        for (key, value) in fields {
            if let Some(value) = binding_data(&value) {
                metadata.insert(key, value);
            }
        }
    }
    let mut data = Map::new();
    data.insert(binding.to_owned(), twice(text));
    json!({"Data": data, "Metadata": metadata})
}

/// A message field as the host copies it into `Metadata` (`Utility.ApplyBindingData`): arrays
/// and nulls are left out, objects stay objects, strings (ISO dates in culture format) and other
/// scalars become JSON text inside a string.
fn binding_data(value: &Value) -> Option<Value> {
    match value {
        Value::Null | Value::Array(_) => None,
        Value::Object(_) => Some(value.clone()),
        Value::String(s) => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(twice(&t.format("%m/%d/%Y %H:%M:%S").to_string())),
            Err(_) => Some(twice(s)),
        },
        other => Some(Value::String(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invocation::InvokeRequest;
    use crate::storage::message::MessageEncoding;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/functions-host/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    /// Everything but the values that differ per invocation (`sys.UtcNow`, `sys.RandGuid`).
    fn comparable(mut payload: Value) -> Value {
        if let Some(sys) = payload.pointer_mut("/Metadata/sys") {
            sys["UtcNow"] = Value::Null;
            sys["RandGuid"] = Value::Null;
        }
        payload
    }

    #[test]
    fn a_json_queue_message_is_built_like_the_captured_one() {
        let expected = fixture("queue-json-double-encoded.json");
        let text = r#"{"scraperId":"viennaHousingScraper002","timestamp":"2024-04-06T15:30:00Z","listings":[]}"#;
        let message = ReceivedMessage {
            id: "4434c659-815f-434e-a851-f1df7b701f27".into(),
            pop_receipt: "AgAAAAMAAAAAAAAAVqQNb/ai2gE=".into(),
            dequeue_count: 5,
            inserted_at: Some(at("2024-05-10T16:13:45Z")),
            expires_at: Some(at("2024-05-17T16:13:45Z")),
            next_visible_at: Some(at("2024-05-10T16:23:46Z")),
            raw_text: text.into(),
            encoding: MessageEncoding::None,
        };
        let built = queue("scraperResultTrigger", "msg", &message, text, Utc::now());
        assert_eq!(comparable(built.clone()), comparable(expected));
        let request: InvokeRequest = serde_json::from_value(built).unwrap();
        assert_eq!(request.data_string("msg").unwrap(), text);
        assert_eq!(request.dequeue_count(), Some(5));
        assert_eq!(request.method_name(), Some("scraperResultTrigger"));
    }

    #[test]
    fn a_string_queue_message_is_encoded_twice() {
        let expected = fixture("queue-string-double-encoded.json");
        let text = expected["Data"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        let binding = expected["Data"].as_object().unwrap().keys().next().unwrap();
        let inner: String = serde_json::from_str(text.as_str().unwrap()).unwrap();
        let message = ReceivedMessage {
            id: "i".into(),
            pop_receipt: "p".into(),
            dequeue_count: 1,
            inserted_at: None,
            expires_at: None,
            next_visible_at: None,
            raw_text: inner.clone(),
            encoding: MessageEncoding::None,
        };
        let built = queue("f", binding, &message, &inner, Utc::now());
        assert_eq!(built["Data"][binding], *text);
        assert_eq!(built["Metadata"]["DequeueCount"], json!("1"));
        assert_eq!(built["Metadata"]["Id"], json!("\"i\""));
    }

    #[test]
    fn timer_payloads_have_the_captured_shape() {
        let without = timer("timer", "timer", None, false, Utc::now());
        let fixture_without = fixture("timer-no-status.json");
        assert_eq!(
            without["Data"]["timer"],
            fixture_without["Data"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .clone()
        );
        let with = timer(
            "timer",
            "timer",
            Some((at("2022-03-28T20:40:00Z"), at("2022-03-28T20:45:00Z"))),
            false,
            Utc::now(),
        );
        let request: InvokeRequest = serde_json::from_value(with).unwrap();
        let info = request.timer("timer").unwrap();
        let status = info.schedule_status.unwrap();
        assert_eq!(
            status.next.map(|t| t.to_utc()),
            Some(at("2022-03-28T20:45:00Z"))
        );
        assert!(!info.is_past_due);
        assert!(request.utc_now().is_some());
    }
}
