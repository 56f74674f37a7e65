//! Export jobs (`POST /api/v1/exports`) through the real queue (Azurite) into a real lake: a
//! job completes, its downloaded file (through the link `GET /api/v1/exports/{id}` gives: a
//! read-only SAS of the blob, checked by Azurite itself, for a blob lake; the handler's own
//! signed link for a folder lake) is the synchronous export's, compressed, with the recorded row
//! count and SHA-256; a FOCUS job writes `focus-metadata.json` beside its file; altered or
//! expired links of both kinds are refused; another tenant sees none of the jobs and cannot
//! turn a link into one of its own; a lake that cannot be written ends the job failed, saying
//! why.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use azcops::api::export::runtime::ExportJobs;
use azcops::api::export::runtime::link::LinkKey;
use azcops::config::ExportConfig;
use azcops::storage::connection::StorageConnection;
use azcops::storage::lake::{Lake, LakeLocation};
use azcops::storage::message::MessageEncoding;
use azcops::storage::queue::QueueClient;

use crate::api_focus::{csv_rows, decimal, json_lines, tenant_with_costs};
use crate::support::pipeline::{queue_payload, unique};
use crate::support::{ADMIN, READER, Reply, TestApp};

const MAX_DEQUEUE_COUNT: u32 = 2;

/// The handler with export jobs on a fresh Azurite queue and `lake`; the queue's reading end.
async fn app_with_jobs(pool: PgPool, lake: LakeLocation) -> (TestApp, QueueClient) {
    app_with_link_ttl(pool, lake, Duration::from_secs(300)).await
}

/// As [`app_with_jobs`], with links valid for `ttl`.
async fn app_with_link_ttl(
    pool: PgPool,
    lake: LakeLocation,
    ttl: Duration,
) -> (TestApp, QueueClient) {
    let name = unique("export-jobs");
    let connection = StorageConnection::development();
    let queue = QueueClient::new(&connection, &name, MessageEncoding::Base64).expect("queue");
    queue
        .create_if_missing()
        .await
        .expect("Azurite must run on 127.0.0.1:10001 (scripts/ensure-azurite)");
    let sender = QueueClient::new(&connection, &name, MessageEncoding::Base64).expect("queue");
    let jobs = ExportJobs::new(sender, lake, LinkKey::random(ttl), MAX_DEQUEUE_COUNT);
    let exports = ExportConfig {
        export_batch_rows: 7,
        ..ExportConfig::default()
    };
    let app = TestApp::with_export_jobs(pool, exports, Arc::new(jobs)).await;
    (app, queue)
}

fn azurite_lake() -> LakeLocation {
    LakeLocation::parse(&format!("azurite://raw/{}", unique("exports")), |_| None)
        .expect("lake URL")
}

fn folder_lake() -> LakeLocation {
    let root = std::env::temp_dir().join(unique("azcops-export-lake"));
    std::fs::create_dir_all(&root).expect("lake folder");
    LakeLocation::Local(root)
}

/// Takes the one message off the queue and invokes the function with it, as the host does,
/// `deliveries` times at most until it answers 2xx; the last answer.
async fn deliver(app: &TestApp, queue: &QueueClient, deliveries: u32) -> (StatusCode, Value) {
    let messages = queue
        .receive(1, Duration::from_secs(1))
        .await
        .expect("receive");
    assert_eq!(messages.len(), 1, "one message on the queue");
    let text = messages[0].text().expect("decodes");
    let mut last = (StatusCode::INTERNAL_SERVER_ERROR, Value::Null);
    for dequeue_count in 1..=deliveries {
        let request = Request::post("/export-job")
            .header("content-type", "application/json")
            .body(Body::from(queue_payload(&text, dequeue_count).to_string()))
            .expect("request");
        let reply = app.send(request).await;
        last = (reply.status, reply.body);
        if last.0.is_success() {
            break;
        }
    }
    queue
        .delete(&messages[0].id, &messages[0].pop_receipt)
        .await
        .expect("delete");
    last
}

/// GET of a download link, without a token.
async fn fetch(app: &TestApp, url: &str) -> Reply {
    app.call(Method::GET, url, None, None).await
}

async fn start(app: &TestApp, token: &str, body: Value) -> Value {
    let reply = app.post("/api/v1/exports", token, body).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    assert_eq!(reply.body["status"], "queued");
    assert_eq!(
        reply.headers["location"].to_str().expect("present"),
        format!(
            "/api/v1/exports/{}",
            reply.body["id"].as_str().expect("present")
        )
    );
    reply.body
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("a gzip file of UTF-8 text");
    text
}

/// GET of a download link without any credential, and the raw bytes answered: from the
/// storage account (Azurite) for a SAS URL, from the handler for its own path.
async fn raw(app: &TestApp, url: &str) -> (StatusCode, Vec<u8>) {
    if url.starts_with("http") {
        let reply = reqwest::get(url).await.expect("Azurite answers");
        let status = StatusCode::from_u16(reply.status().as_u16()).expect("status");
        return (status, reply.bytes().await.expect("body").to_vec());
    }
    let request = Request::get(url).body(Body::empty()).expect("request");
    let response = tower::ServiceExt::oneshot(app.router.clone(), request)
        .await
        .expect("response");
    let status = response.status();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .expect("body")
        .to_bytes();
    (status, bytes.to_vec())
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_job_completes_through_the_queue_and_its_file_is_the_export(pool: PgPool) {
    let lake_location = azurite_lake();
    let (app, queue) = app_with_jobs(pool, lake_location.clone()).await;
    let (tenant, tid, _) = tenant_with_costs(&app, "A").await;
    let token = app.token(tid, &[READER]);
    let window = json!({"from": "2026-01-05", "to": "2026-02-03"});

    // Costs as CSV: the file is the synchronous export's body, byte for byte.
    let job = start(&app, &token, json!({"what": "costs", "filters": window})).await;
    let id = job["id"].as_str().expect("present").to_owned();
    let (status, answer) = deliver(&app, &queue, 1).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let done = app.get(&format!("/api/v1/exports/{id}"), &token).await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    assert_eq!(done.body["row_count"], 90);
    let url = done.body["download"]["url"]
        .as_str()
        .expect("a link")
        .to_owned();
    // A blob lake: a read-only SAS of the file's blob, straight from the storage account.
    assert!(
        url.starts_with("http://127.0.0.1:10000/devstoreaccount1/raw/")
            && url.contains(&format!("/{tenant}/exports/{id}/costs.csv.gz?"))
            && url.contains("sp=r&")
            && url.contains("sr=b&")
            && url.contains("&sig="),
        "{url}"
    );
    let (status, file) = raw(&app, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done.body["bytes"], file.len());
    let digest: String = Sha256::digest(&file)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(done.body["sha256"], digest);
    let sync = app
        .get(
            "/api/v1/costs/export.csv?from=2026-01-05&to=2026-02-03",
            &token,
        )
        .await;
    assert_eq!(gunzip(&file), sync.body.as_str().expect("present"));
    let (_, rows) = csv_rows(&gunzip(&file));
    assert_eq!(rows.len(), 90);

    // FOCUS as JSON Lines, with its metadata beside it in the lake, under the tenant's prefix.
    let job = start(
        &app,
        &token,
        json!({"what": "focus", "format": "jsonl", "filters": window}),
    )
    .await;
    let focus_id = job["id"].as_str().expect("present").to_owned();
    let (status, answer) = deliver(&app, &queue, 1).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let done = app
        .get(&format!("/api/v1/exports/{focus_id}"), &token)
        .await;
    assert_eq!(done.body["status"], "succeeded", "{}", done.body);
    assert_eq!(done.body["download"]["file_name"], "focus.jsonl.gz");
    let (_, file) = raw(
        &app,
        done.body["download"]["url"].as_str().expect("present"),
    )
    .await;
    let lines = json_lines(&gunzip(&file));
    assert_eq!(lines.len(), 90);
    let summary = app
        .get(
            "/api/v1/costs/summary?from=2026-01-05&to=2026-02-03",
            &token,
        )
        .await;
    let billed: rust_decimal::Decimal = lines
        .iter()
        .map(|r| decimal(&r["BilledCost"].to_string()))
        .sum();
    assert_eq!(
        billed.round_dp(2),
        rust_decimal::Decimal::from_f64_retain(
            summary.body["total_cost"].as_f64().expect("present")
        )
        .expect("present")
        .round_dp(2)
    );
    let lake = Lake::open(&lake_location).await.expect("lake");
    let metadata = lake
        .get(&object_store::path::Path::from(format!(
            "{tenant}/exports/{focus_id}/focus-metadata.json"
        )))
        .await
        .expect("focus-metadata.json beside the file");
    let metadata: Value = serde_json::from_slice(&metadata).expect("JSON");
    assert_eq!(metadata["focus_version"], "1.2");
    assert_eq!(metadata["export"]["rows"], 90);
    assert_eq!(metadata["export"]["sha256"], done.body["sha256"]);
    assert!(
        metadata["null_columns"]
            .as_array()
            .expect("present")
            .contains(&json!("ListCost"))
    );

    // The tenant's list holds both, newest first.
    let list = app.get("/api/v1/exports?include_total=true", &token).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let ids: Vec<&str> = list.body["items"]
        .as_array()
        .expect("present")
        .iter()
        .map(|j| j["id"].as_str().expect("present"))
        .collect();
    assert_eq!(ids, [focus_id.as_str(), id.as_str()]);
    assert_eq!(list.body["total"], 2);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn altered_or_expired_handler_links_are_refused(pool: PgPool) {
    // A folder lake cannot sign a SAS: the handler serves its own signed link.
    let (app, queue) = app_with_jobs(pool, folder_lake()).await;
    let (tenant, tid, _) = tenant_with_costs(&app, "A").await;
    let token = app.token(tid, &[READER]);
    let job = start(&app, &token, json!({"what": "costs"})).await;
    let id = job["id"].as_str().expect("present");
    assert!(job["download"].is_null(), "no link before the file exists");
    deliver(&app, &queue, 1).await;
    let done = app.get(&format!("/api/v1/exports/{id}"), &token).await;
    let url = done.body["download"]["url"]
        .as_str()
        .expect("present")
        .to_owned();
    assert!(
        url.starts_with(&format!("/api/v1/exports/{id}/download?")),
        "{url}"
    );
    assert_eq!(fetch(&app, &url).await.status, StatusCode::OK);

    let expires = url
        .split("expires=")
        .nth(1)
        .expect("present")
        .split('&')
        .next()
        .expect("present")
        .to_owned();
    let later: i64 = expires.parse::<i64>().expect("present") + 3600;
    let extended = url.replace(&format!("expires={expires}"), &format!("expires={later}"));
    fetch(&app, &extended)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    let sig = url.split("sig=").nth(1).expect("present").to_owned();
    let mut tampered = sig.clone().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    let tampered = url.replace(&sig, std::str::from_utf8(&tampered).expect("present"));
    fetch(&app, &tampered)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    let other_job = url.replace(id, &Uuid::new_v4().to_string());
    fetch(&app, &other_job)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
    let other_tenant = url.replace(&tenant.to_string(), &Uuid::new_v4().to_string());
    assert_ne!(other_tenant, url);
    fetch(&app, &other_tenant)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");

    app.clock.advance(chrono::Duration::seconds(301));
    let reply = fetch(&app, &url).await;
    reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .expect("present")
            .contains("expired"),
        "{}",
        reply.body
    );
    let fresh = app.get(&format!("/api/v1/exports/{id}"), &token).await;
    let fresh = fresh.body["download"]["url"]
        .as_str()
        .expect("present")
        .to_owned();
    assert_eq!(
        fetch(&app, &fresh).await.status,
        StatusCode::OK,
        "a new link works"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn altered_expired_or_widened_sas_links_are_refused_by_the_storage_account(pool: PgPool) {
    // Links valid for 2 s, so that one can be seen to expire.
    let (app, queue) = app_with_link_ttl(pool, azurite_lake(), Duration::from_secs(2)).await;
    let (tenant, tid, _) = tenant_with_costs(&app, "A").await;
    let token = app.token(tid, &[READER]);
    let job = start(&app, &token, json!({"what": "costs"})).await;
    let id = job["id"].as_str().expect("present");
    deliver(&app, &queue, 1).await;
    let done = app.get(&format!("/api/v1/exports/{id}"), &token).await;
    let url = done.body["download"]["url"]
        .as_str()
        .expect("present")
        .to_owned();
    let (status, file) = raw(&app, &url).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&file));
    assert_eq!(done.body["bytes"], file.len());

    let forbidden = |what: &'static str| {
        move |(status, body): (StatusCode, Vec<u8>)| {
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{what}: {}",
                String::from_utf8_lossy(&body)
            );
        }
    };
    let sig = url.split("&sig=").nth(1).expect("signed").to_owned();
    let mut tampered = sig.clone().into_bytes();
    tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
    let tampered = url.replace(&sig, std::str::from_utf8(&tampered).expect("ASCII"));
    forbidden("an altered signature")(raw(&app, &tampered).await);
    // Another blob of the same container (another job's, another tenant's): the signature
    // covers the blob's path.
    let other = url.replace(id, &Uuid::new_v4().to_string());
    forbidden("another job's blob")(raw(&app, &other).await);
    let other_tenant = url.replace(&tenant.to_string(), &Uuid::new_v4().to_string());
    forbidden("another tenant's blob")(raw(&app, &other_tenant).await);
    // Read-only: the link cannot overwrite the file.
    let put = reqwest::Client::new()
        .put(&url)
        .header("x-ms-blob-type", "BlockBlob")
        .body("overwritten")
        .send()
        .await
        .expect("Azurite answers");
    assert_eq!(put.status().as_u16(), 403, "a read link cannot write");
    let (_, again) = raw(&app, &url).await;
    assert_eq!(again, file, "the file is untouched");

    tokio::time::sleep(Duration::from_millis(3500)).await;
    forbidden("an expired link")(raw(&app, &url).await);
    let fresh = app.get(&format!("/api/v1/exports/{id}"), &token).await;
    let fresh = fresh.body["download"]["url"].as_str().expect("present");
    assert_eq!(raw(&app, fresh).await.0, StatusCode::OK, "a new link works");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn another_tenant_sees_none_of_the_jobs(pool: PgPool) {
    let (app, queue) = app_with_jobs(pool, azurite_lake()).await;
    let (a, a_tid, _) = tenant_with_costs(&app, "A").await;
    let (b, b_tid, _) = tenant_with_costs(&app, "B").await;
    let a_token = app.token(a_tid, &[READER]);
    let job = start(&app, &a_token, json!({"what": "focus"})).await;
    let id = job["id"].as_str().expect("present");
    deliver(&app, &queue, 1).await;
    let url = app
        .get(&format!("/api/v1/exports/{id}"), &a_token)
        .await
        .body["download"]["url"]
        .as_str()
        .expect("present")
        .to_owned();

    for token in [app.token(b_tid, &[READER]), app.token(b_tid, &[ADMIN])] {
        app.get(&format!("/api/v1/exports/{id}"), &token)
            .await
            .assert_error(StatusCode::NOT_FOUND, "not_found");
        let list = app.get("/api/v1/exports?include_total=true", &token).await;
        assert_eq!(list.body["total"], 0, "{}", list.body);
        let named = app
            .get(&format!("/api/v1/exports?tenant_id={a}"), &token)
            .await;
        assert_eq!(named.body["items"], json!([]), "{}", named.body);
        // Starting one for A is refused as if A did not exist.
        app.post(
            "/api/v1/exports",
            &token,
            json!({"what": "costs", "tenant_id": a}),
        )
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    }
    // A's link with B's tenant in it (B's prefix in the lake) is refused by the account.
    let as_b = url.replace(&a.to_string(), &b.to_string());
    assert_ne!(as_b, url);
    assert_eq!(raw(&app, &as_b).await.0, StatusCode::FORBIDDEN);
    // The operator sees A's job when naming A.
    let list = app
        .get(
            &format!("/api/v1/exports?tenant_id={a}&include_total=true"),
            &app.operator(),
        )
        .await;
    assert_eq!(list.body["total"], 1, "{}", list.body);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_lake_that_cannot_be_written_fails_the_job_saying_why(pool: PgPool) {
    // A file lake in which the tenant's prefix is a file: no folder can be made under it.
    let root = std::env::temp_dir().join(unique("azcops-export-lake"));
    std::fs::create_dir_all(&root).expect("lake folder");
    let (app, queue) = app_with_jobs(pool, LakeLocation::Local(root.clone())).await;
    let (tenant, tid, _) = tenant_with_costs(&app, "A").await;
    std::fs::write(root.join(tenant.to_string()), b"in the way").expect("a file");
    let token = app.token(tid, &[READER]);
    let job = start(&app, &token, json!({"what": "costs", "format": "jsonl"})).await;
    let id = job["id"].as_str().expect("present");

    let (status, answer) = deliver(&app, &queue, MAX_DEQUEUE_COUNT).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the last delivery ends the job: {answer}"
    );
    let failed = app.get(&format!("/api/v1/exports/{id}"), &token).await;
    assert_eq!(failed.body["status"], "failed", "{}", failed.body);
    assert_eq!(failed.body["attempts"], MAX_DEQUEUE_COUNT);
    let error = failed.body["error"].as_str().expect("present");
    assert!(
        error.contains("writing the file to the lake failed"),
        "{error}"
    );
    assert!(failed.body["download"].is_null());

    // A message that is not an export job's is rejected, not retried.
    let request = Request::post("/export-job")
        .header("content-type", "application/json")
        .body(Body::from(queue_payload("{\"v\":1}", 1).to_string()))
        .expect("request");
    let reply = app.send(request).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(
        reply.body["Logs"][0]
            .as_str()
            .expect("present")
            .starts_with("rejected:"),
        "{}",
        reply.body
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn bad_requests_are_refused_before_any_job(pool: PgPool) {
    let (app, _queue) = app_with_jobs(pool, azurite_lake()).await;
    let (_, tid, _) = tenant_with_costs(&app, "A").await;
    let token = app.token(tid, &[READER]);
    for body in [
        json!({"what": "everything"}),
        json!({"what": "costs", "format": "parquet"}),
        json!({"what": "costs", "filters": {"from": "2026-02-01", "to": "2026-01-01"}}),
        json!({"what": "costs", "filters": {"nope": 1}}),
        json!({"what": "resources", "filters": []}),
    ] {
        app.post("/api/v1/exports", &token, body.clone())
            .await
            .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
    app.post("/api/v1/exports", &app.operator(), json!({"what": "costs"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    let list = app.get("/api/v1/exports?include_total=true", &token).await;
    assert_eq!(list.body["total"], 0);
}

/// Export jobs and the tenant's state: an operator naming a tenant that does not exist gets a
/// 404, not a tenant caller's 403; a job whose tenant was deactivated after it was queued fails
/// saying so, recorded on the job (the job's bookkeeping is not refused, reading the tenant's
/// rows is), and its tenant's callers are refused from then on.
#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_deactivated_tenants_job_fails_saying_so_and_an_unknown_tenant_is_a_404(pool: PgPool) {
    let (app, queue) = app_with_jobs(pool.clone(), azurite_lake()).await;
    app.post(
        "/api/v1/exports",
        &app.operator(),
        json!({"what": "costs", "tenant_id": Uuid::new_v4()}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "not_found");

    let (tenant, tid, _) = tenant_with_costs(&app, "A").await;
    let token = app.token(tid, &[READER]);
    let job = start(&app, &token, json!({"what": "costs"})).await;
    let id = job["id"].as_str().expect("present");
    sqlx::query("UPDATE tenants SET is_active = false WHERE id = $1")
        .bind(tenant)
        .execute(&pool)
        .await
        .expect("deactivate");

    let (status, answer) = deliver(&app, &queue, MAX_DEQUEUE_COUNT).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the last delivery ends the job: {answer}"
    );
    let job = app
        .get(&format!("/api/v1/exports/{id}"), &app.operator())
        .await;
    assert_eq!(job.body["status"], "failed", "{}", job.body);
    let error = job.body["error"].as_str().expect("present");
    assert!(error.contains("deactivated"), "{error}");
    app.get(&format!("/api/v1/exports/{id}"), &token)
        .await
        .assert_error(StatusCode::FORBIDDEN, "forbidden");
}
