//! Keeps the raw bodies of an ingestion's successful Azure responses, per API, so each
//! collector's raw snapshot can be written to the lake exactly as Azure sent it (before the
//! database is touched). Bodies are kept once, as the bytes received.
//!
//! The APIs whose answers are the bulk of a large subscription (Monitor's metrics: several MB per
//! batch of 50 resources) can instead be *spilled*: each response goes, as it arrives, into a
//! bounded channel whose reader writes it to the lake, so no more than a few are held at once
//! (the channel's capacity makes the calls wait for the writer).

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::body::Bytes;
use tokio::sync::mpsc;

use super::client::Api;

/// One successful response.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The request URL with secrets removed.
    pub url: String,
    pub status: u16,
    /// The body as received (JSON; empty for 204).
    pub body: Bytes,
}

/// The recorded responses of one ingestion, by API.
#[derive(Debug, Default)]
pub struct Recorder {
    responses: Mutex<BTreeMap<&'static str, Vec<RawResponse>>>,
    spill: Option<Spill>,
}

/// Where the responses of some APIs go instead of being kept.
#[derive(Debug)]
struct Spill {
    apis: Vec<Api>,
    sender: mpsc::Sender<(Api, RawResponse)>,
}

impl Recorder {
    /// A recorder that sends the responses of `apis` to `sender` as they arrive (waiting while
    /// the channel is full) and keeps the others. Once the receiver is gone, spilled responses
    /// are dropped: the reader's own error reports that the snapshot is incomplete.
    pub fn spilling(apis: &[Api], sender: mpsc::Sender<(Api, RawResponse)>) -> Self {
        Self {
            responses: Mutex::default(),
            spill: Some(Spill {
                apis: apis.to_vec(),
                sender,
            }),
        }
    }

    /// Records a successful response of `api`.
    pub async fn record(&self, api: Api, response: RawResponse) {
        if let Some(spill) = self.spill.as_ref().filter(|s| s.apis.contains(&api)) {
            let _ = spill.sender.send((api, response)).await;
            return;
        }
        if let Ok(mut map) = self.responses.lock() {
            map.entry(api.name()).or_default().push(response);
        }
    }

    /// Takes the responses recorded for `apis` (in the order received), leaving none behind.
    pub fn take(&self, apis: &[Api]) -> Vec<RawResponse> {
        let Ok(mut map) = self.responses.lock() else {
            return Vec::new();
        };
        apis.iter()
            .flat_map(|api| map.remove(api.name()).unwrap_or_default())
            .collect()
    }
}

/// A snapshot document: metadata and the responses, each body embedded unchanged.
pub fn snapshot_json(meta: &serde_json::Value, responses: &[RawResponse]) -> Vec<u8> {
    snapshot_chunks(meta, responses).concat()
}

/// The same document as [`snapshot_json`], as chunks that share the recorded bodies instead
/// of copying them: a large subscription's snapshot (hundreds of MB of Monitor metrics) is
/// then not held twice while it is written.
pub fn snapshot_chunks(meta: &serde_json::Value, responses: &[RawResponse]) -> Vec<Bytes> {
    let mut chunks = Vec::with_capacity(responses.len() * 2 + 2);
    let mut text = format!("{{\"meta\":{meta},\"responses\":[");
    for (i, response) in responses.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let head = serde_json::json!({ "url": response.url, "status": response.status });
        let head = head.to_string();
        // `{"url":…,"status":…}` → `{"url":…,"status":…,"body":<raw>}`
        text.push_str(&head[..head.len() - 1]);
        text.push_str(",\"body\":");
        if response.body.iter().all(u8::is_ascii_whitespace) {
            text.push_str("null}");
            continue;
        }
        chunks.push(Bytes::from(std::mem::take(&mut text)));
        chunks.push(response.body.clone());
        text.push('}');
    }
    text.push_str("]}");
    chunks.push(Bytes::from(text));
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spilled_apis_go_to_the_channel_and_the_rest_is_kept() {
        let (sender, mut receiver) = mpsc::channel(1);
        let recorder = Recorder::spilling(&[Api::MonitorBatch], sender);
        let response = |url: &str| RawResponse {
            url: url.into(),
            status: 200,
            body: Bytes::from_static(b"{}"),
        };
        recorder.record(Api::MonitorBatch, response("m1")).await;
        recorder.record(Api::Advisor, response("a1")).await;
        let (api, spilled) = receiver.recv().await.expect("spilled");
        assert_eq!((api, spilled.url.as_str()), (Api::MonitorBatch, "m1"));
        assert!(recorder.take(&[Api::MonitorBatch]).is_empty(), "not kept");
        assert_eq!(recorder.take(&[Api::Advisor]).len(), 1);
        drop(receiver);
        // With the reader gone a spilled response is dropped, not kept nor waited for.
        recorder.record(Api::MonitorBatch, response("m2")).await;
        assert!(recorder.take(&[Api::MonitorBatch]).is_empty());
    }

    #[tokio::test]
    async fn snapshots_embed_bodies_unchanged_and_parse_as_json() {
        let recorder = Recorder::default();
        let body = |s: &'static str| Bytes::from_static(s.as_bytes());
        recorder
            .record(
                Api::Advisor,
                RawResponse {
                    url: "https://a/1".into(),
                    status: 200,
                    body: body("{\"value\": [1, 2]}"),
                },
            )
            .await;
        recorder
            .record(
                Api::Advisor,
                RawResponse {
                    url: "https://a/2".into(),
                    status: 204,
                    body: body(""),
                },
            )
            .await;
        recorder
            .record(
                Api::CostManagement,
                RawResponse {
                    url: "https://c".into(),
                    status: 200,
                    body: body("{}"),
                },
            )
            .await;
        let advisor = recorder.take(&[Api::Advisor]);
        assert_eq!(advisor.len(), 2);
        assert!(recorder.take(&[Api::Advisor]).is_empty(), "taken once");
        let doc: serde_json::Value =
            serde_json::from_slice(&snapshot_json(&serde_json::json!({"k": 1}), &advisor)).unwrap();
        assert_eq!(doc["meta"]["k"], 1);
        assert_eq!(doc["responses"][0]["body"]["value"][1], 2);
        assert_eq!(doc["responses"][1]["body"], serde_json::Value::Null);
        assert_eq!(doc["responses"][0]["url"], "https://a/1");
        assert_eq!(recorder.take(&[Api::CostManagement]).len(), 1);
    }
}
