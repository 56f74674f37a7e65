//! Storage against a real Azurite (`scripts/ensure-azurite` starts it: blob on 127.0.0.1:10000,
//! queue on 10001, with the development account of `UseDevelopmentStorage=true`): queue round
//! trips in both message encodings, with the stored text read back over the raw REST API;
//! dequeue counts, deletes, visibility changes and delays; queue creation; SAS signatures that
//! Azurite checks; and the create-only lake on Azurite and on the local file system.
//!
//! Every test uses its own queue, or its own tenant in the lake, so they run in parallel.

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta, Utc};
use secrecy::ExposeSecret;
use tokio::net::TcpStream;
use uuid::Uuid;

use azcops::storage::connection::{DEVELOPMENT_ACCOUNT, DEVELOPMENT_ACCOUNT_KEY};
use azcops::storage::sas::{AccountKey, AccountSas, SasProtocol};
use azcops::storage::{
    Lake, LakeError, LakeLocation, MessageEncoding, QueueClient, QueueError, StorageConnection,
    snapshot_path,
};

const BLOB: &str = "http://127.0.0.1:10000/devstoreaccount1";
const QUEUE: &str = "http://127.0.0.1:10001/devstoreaccount1";

/// The development connection, after checking that Azurite answers (a clear failure if not).
async fn azurite() -> StorageConnection {
    for port in [10000, 10001] {
        let connect = TcpStream::connect(("127.0.0.1", port));
        let reachable = matches!(
            tokio::time::timeout(Duration::from_secs(2), connect).await,
            Ok(Ok(_))
        );
        assert!(
            reachable,
            "Azurite does not answer on 127.0.0.1:{port}: run scripts/ensure-azurite first"
        );
    }
    StorageConnection::development()
}

/// A new queue, created, with `encoding`.
async fn new_queue(encoding: MessageEncoding) -> QueueClient {
    let queue = QueueClient::new(&azurite().await, &unique("it"), encoding).expect("queue client");
    queue.create_if_missing().await.expect("creating the queue");
    queue
}

/// `prefix-<32 hex digits>`: a valid, unique queue name.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// An account SAS for the development account, for raw REST calls.
fn dev_sas(services: &str) -> String {
    let key = AccountKey::from_base64(DEVELOPMENT_ACCOUNT_KEY).expect("the development key");
    let sas = AccountSas {
        services: services.into(),
        resource_types: "sco".into(),
        permissions: "rl".into(),
        start: None,
        expiry: Utc::now() + TimeDelta::minutes(10),
        protocol: SasProtocol::HttpsAndHttp,
    };
    sas.token(DEVELOPMENT_ACCOUNT, &key)
        .expose_secret()
        .to_owned()
}

/// The message texts of `queue` exactly as stored, by a REST Peek Messages call of our own.
async fn stored_texts(queue: &str) -> Vec<String> {
    let url = format!(
        "{QUEUE}/{queue}/messages?peekonly=true&numofmessages=32&{}",
        dev_sas("q")
    );
    let response = reqwest::Client::new()
        .get(url)
        .header("x-ms-version", "2021-12-02")
        .send()
        .await
        .expect("peeking over REST");
    assert_eq!(response.status(), 200);
    let xml = response.text().await.expect("the peek answer");
    xml.split("<MessageText>")
        .skip(1)
        .filter_map(|rest| rest.split("</MessageText>").next().map(unescape))
        .collect()
}

fn unescape(xml: &str) -> String {
    xml.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

const MESSAGE: &str =
    r#"{"v":1,"run_id":"r-1","tenant_id":"t-1","mode":"full","note":"<Zürich & co>"}"#;

#[tokio::test]
async fn a_base64_queue_stores_base64_of_the_json_and_hands_back_the_json() {
    let queue = new_queue(MessageEncoding::Base64).await;
    let id = queue.send(MESSAGE, None).await.unwrap();

    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(MESSAGE);
    assert_eq!(stored_texts(queue.name()).await, vec![expected]);

    let received = queue.receive(1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].id, id);
    assert_eq!(received[0].dequeue_count, 1);
    assert_eq!(received[0].text().unwrap(), MESSAGE);
    assert!(received[0].inserted_at.is_some());
}

#[tokio::test]
async fn a_queue_with_encoding_none_stores_the_json_itself() {
    let queue = new_queue(MessageEncoding::None).await;
    queue.send(MESSAGE, None).await.unwrap();

    assert_eq!(stored_texts(queue.name()).await, vec![MESSAGE.to_owned()]);
    let peeked = queue.peek(32).await.unwrap();
    assert_eq!(peeked.len(), 1);
    assert_eq!(peeked[0].text().unwrap(), MESSAGE);
    let received = queue.receive(1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(received[0].text().unwrap(), MESSAGE);
}

#[tokio::test]
async fn a_message_not_deleted_comes_back_after_its_visibility_timeout_with_a_higher_dequeue_count()
{
    let queue = new_queue(MessageEncoding::Base64).await;
    queue.send(MESSAGE, None).await.unwrap();

    let first = queue.receive(1, Duration::from_secs(1)).await.unwrap();
    assert_eq!(first[0].dequeue_count, 1);
    assert!(
        queue
            .receive(1, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let second = queue.receive(1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, first[0].id);
    assert_eq!(second[0].dequeue_count, 2);
    assert_ne!(second[0].pop_receipt, first[0].pop_receipt);
}

#[tokio::test]
async fn a_deleted_message_is_gone_from_the_queue() {
    let queue = new_queue(MessageEncoding::Base64).await;
    queue.send("one", None).await.unwrap();
    queue.send("two", None).await.unwrap();
    assert_eq!(queue.approximate_count().await.unwrap(), 2);

    let received = queue.receive(32, Duration::from_secs(1)).await.unwrap();
    assert_eq!(received.len(), 2);
    for message in &received {
        queue
            .delete(&message.id, &message.pop_receipt)
            .await
            .unwrap();
    }

    assert_eq!(queue.approximate_count().await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        queue
            .receive(32, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(queue.peek(32).await.unwrap().is_empty());
}

#[tokio::test]
async fn update_visibility_makes_a_received_message_visible_again_with_a_new_pop_receipt() {
    let queue = new_queue(MessageEncoding::Base64).await;
    queue.send(MESSAGE, None).await.unwrap();
    let taken = queue.receive(1, Duration::from_secs(600)).await.unwrap();
    assert!(
        queue
            .receive(1, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty()
    );

    let receipt = queue
        .update_visibility(&taken[0].id, &taken[0].pop_receipt, Duration::ZERO)
        .await
        .unwrap();
    assert_ne!(receipt, taken[0].pop_receipt);

    let again = queue.receive(1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(again.len(), 1, "the message is visible again at once");
    assert_eq!(again[0].id, taken[0].id);
    assert_eq!(again[0].dequeue_count, 2);
    queue
        .delete(&again[0].id, &again[0].pop_receipt)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_delayed_message_stays_invisible_until_its_delay_has_passed() {
    let queue = new_queue(MessageEncoding::Base64).await;
    queue
        .send(MESSAGE, Some(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_eq!(queue.approximate_count().await.unwrap(), 1);
    assert!(
        queue
            .receive(1, Duration::from_secs(30))
            .await
            .unwrap()
            .is_empty()
    );

    tokio::time::sleep(Duration::from_millis(3100)).await;
    let received = queue.receive(1, Duration::from_secs(30)).await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].text().unwrap(), MESSAGE);
}

#[tokio::test]
async fn a_missing_queue_is_created_once_and_an_existing_one_is_left_alone() {
    let queue =
        QueueClient::new(&azurite().await, &unique("new"), MessageEncoding::Base64).unwrap();
    let err = queue.send(MESSAGE, None).await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");

    queue.create_if_missing().await.unwrap();
    queue.send(MESSAGE, None).await.unwrap();
    queue.create_if_missing().await.unwrap();
    assert_eq!(
        queue.approximate_count().await.unwrap(),
        1,
        "creating again keeps the queue"
    );
}

#[tokio::test]
async fn a_connection_string_with_explicit_endpoints_reaches_azurite_and_a_wrong_key_is_refused() {
    azurite().await;
    let connection = |key: &str| {
        StorageConnection::parse_connection_string(
            "AzureWebJobsStorage",
            &format!(
                "DefaultEndpointsProtocol=http;AccountName={DEVELOPMENT_ACCOUNT};AccountKey={key};\
                 BlobEndpoint={BLOB}/;QueueEndpoint={QUEUE}/;"
            ),
        )
        .unwrap()
    };
    let name = unique("conn");
    let good = QueueClient::new(
        &connection(DEVELOPMENT_ACCOUNT_KEY),
        &name,
        MessageEncoding::None,
    )
    .unwrap();
    good.create_if_missing().await.unwrap();
    good.send("hello", None).await.unwrap();

    let wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let bad = QueueClient::new(&connection(wrong_key), &name, MessageEncoding::None).unwrap();
    let err = bad.send("hello", None).await.unwrap_err();
    assert!(
        matches!(
            err,
            QueueError::Request {
                status: Some(403),
                ..
            }
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        !text.contains(wrong_key) && !text.contains(DEVELOPMENT_ACCOUNT_KEY),
        "{text}"
    );
    assert_eq!(good.approximate_count().await.unwrap(), 1);
}

fn snapshot_for(tenant: Uuid) -> object_store::path::Path {
    let date = NaiveDate::from_ymd_opt(2026, 11, 28).expect("a date");
    snapshot_path(tenant, "resource_graph", date, "sub-1", "run-1")
}

#[tokio::test]
async fn a_snapshot_is_written_once_to_container_raw_on_azurite_at_the_documented_path() {
    azurite().await;
    let lake = Lake::from_settings(|name| match name {
        "AZCOPS_LAKE_URL" => Some("az://raw".to_owned()),
        "AzureWebJobsStorage" => Some("UseDevelopmentStorage=true".to_owned()),
        _ => None,
    })
    .await
    .unwrap();
    let debug = format!("{lake:?}");
    assert!(
        !debug.contains("AccessKey") && debug.contains("raw"),
        "{debug}"
    );
    let tenant = Uuid::new_v4();
    let path = snapshot_for(tenant);
    lake.put_json(&path, br#"{"data":[1]}"#.to_vec())
        .await
        .unwrap();

    let url = format!(
        "{BLOB}/raw/{tenant}/resource_graph/2026/11/28/sub-1/run-1.json?{}",
        dev_sas("b")
    );
    let blob = reqwest::get(url).await.unwrap();
    assert_eq!(blob.status(), 200);
    assert_eq!(blob.headers()["content-type"], "application/json");
    assert_eq!(blob.text().await.unwrap(), r#"{"data":[1]}"#);

    let again = lake.put_json(&path, br#"{"data":[2]}"#.to_vec()).await;
    assert!(
        matches!(again, Err(LakeError::AlreadyExists { .. })),
        "{again:?}"
    );
    assert_eq!(lake.get(&path).await.unwrap(), br#"{"data":[1]}"#);
}

#[tokio::test]
async fn a_lake_on_azurite_creates_its_container_when_missing() {
    azurite().await;
    let container = unique("lake");
    let location = LakeLocation::parse(&format!("azurite://{container}/prefix"), |_| None).unwrap();
    let lake = Lake::open(&location).await.unwrap();
    let path = snapshot_for(Uuid::new_v4());
    lake.put_json(&path, "{}").await.unwrap();

    let url = format!("{BLOB}/{container}/prefix/{path}?{}", dev_sas("b"));
    assert_eq!(reqwest::get(url).await.unwrap().status(), 200);
    assert!(matches!(
        lake.get(&snapshot_for(Uuid::new_v4())).await,
        Err(LakeError::NotFound { .. })
    ));
}

#[tokio::test]
async fn a_snapshot_is_written_once_to_a_local_folder() {
    let root = std::env::temp_dir().join(format!("azcops-lake-{}", Uuid::new_v4()));
    let url = url::Url::from_directory_path(&root).unwrap();
    let lake = Lake::open(&LakeLocation::parse(url.as_str(), |_| None).unwrap())
        .await
        .unwrap();
    let tenant = Uuid::new_v4();
    let path = snapshot_for(tenant);
    lake.put_json(&path, br#"{"data":[1]}"#.to_vec())
        .await
        .unwrap();

    let file = root.join(format!(
        "{tenant}/resource_graph/2026/11/28/sub-1/run-1.json"
    ));
    assert_eq!(std::fs::read(&file).unwrap(), br#"{"data":[1]}"#);
    let again = lake.put_json(&path, br#"{"data":[2]}"#.to_vec()).await;
    assert!(
        again.as_ref().is_err_and(LakeError::is_already_exists),
        "{again:?}"
    );
    assert_eq!(lake.get(&path).await.unwrap(), br#"{"data":[1]}"#);
    std::fs::remove_dir_all(&root).unwrap();
}
