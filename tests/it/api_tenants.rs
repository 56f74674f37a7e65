//! Tenants CRUD, pagination, conflicts, audit, and bad input.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{READER, TestApp};

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn operator_creates_reads_updates_and_deletes_a_tenant(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let op = app.operator();
    let tid = Uuid::new_v4();
    let created = app
        .post(
            "/api/v1/tenants",
            &op,
            json!({"name": " Contoso ", "azure_tenant_id": tid, "type": "internal"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.id();
    assert_eq!(created.body["name"], "Contoso");
    assert_eq!(created.body["type"], "internal");
    assert_eq!(created.body["is_active"], true);
    assert_eq!(
        created.headers["location"],
        format!("/api/v1/tenants/{id}").as_str()
    );

    let read = app.get(&format!("/api/v1/tenants/{id}"), &op).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["azure_tenant_id"], tid.to_string());

    let updated = app
        .patch(
            &format!("/api/v1/tenants/{id}"),
            &op,
            json!({"name": "Contoso Ltd", "is_active": false}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.body);
    assert_eq!(updated.body["name"], "Contoso Ltd");
    assert_eq!(updated.body["is_active"], false);
    assert_eq!(updated.body["type"], "internal", "fields not sent are kept");
    assert_ne!(
        updated.body["updated_at"], created.body["updated_at"],
        "updated_at maintained by the database"
    );

    let deleted = app.delete(&format!("/api/v1/tenants/{id}"), &op).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.get(&format!("/api/v1/tenants/{id}"), &op).await;
    gone.assert_error(StatusCode::NOT_FOUND, "not_found");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn every_change_to_a_tenant_is_audited_with_before_and_after(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let op = app.operator();
    let (id, _) = app.tenant("Fabrikam").await;
    app.patch(
        &format!("/api/v1/tenants/{id}"),
        &op,
        json!({"name": "Fabrikam Inc"}),
    )
    .await;
    app.delete(&format!("/api/v1/tenants/{id}"), &op).await;

    let rows = app.audit_rows(id).await;
    let actions: Vec<&str> = rows.iter().map(|(action, _, _)| action.as_str()).collect();
    assert_eq!(actions, ["create", "update", "delete"]);
    assert!(rows.iter().all(|(_, actor, _)| !actor.is_empty()));
    let (_, _, update) = &rows[1];
    assert_eq!(update["before"]["name"], "Fabrikam");
    assert_eq!(update["after"]["name"], "Fabrikam Inc");
    assert!(rows[0].2["before"].is_null() && rows[2].2["after"].is_null());
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_duplicate_azure_tenant_id_is_a_conflict(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let tid = Uuid::new_v4();
    let body = json!({"name": "A", "azure_tenant_id": tid});
    let first = app
        .post("/api/v1/tenants", &app.operator(), body.clone())
        .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let again = app.post("/api/v1/tenants", &app.operator(), body).await;
    again.assert_error(StatusCode::CONFLICT, "conflict");
    assert!(
        again.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("azure_tenant_id")
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_tenant_with_subscriptions_cannot_be_deleted(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (id, _) = app.tenant("Busy").await;
    app.subscription(id, "prod").await;
    let reply = app
        .delete(&format!("/api/v1/tenants/{id}"), &app.operator())
        .await;
    reply.assert_error(StatusCode::CONFLICT, "conflict");
    let still = app
        .get(&format!("/api/v1/tenants/{id}"), &app.operator())
        .await;
    assert_eq!(still.status, StatusCode::OK, "nothing was lost");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn lists_are_paginated_with_totals(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for i in 0..5 {
        app.tenant(&format!("tenant-{i}")).await;
    }
    let op = app.operator();
    let page = app
        .get("/api/v1/tenants?page=2&page_size=2&include_total=true", &op)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body["page"], 2);
    assert_eq!(page.body["page_size"], 2);
    assert_eq!(page.body["total"], 5);
    assert_eq!(page.body["total_pages"], 3);
    let names: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tenant-2", "tenant-3"]);

    let last = app.get("/api/v1/tenants?page=3&page_size=2", &op).await;
    assert_eq!(last.body["items"].as_array().unwrap().len(), 1);
    let beyond = app.get("/api/v1/tenants?page=9&page_size=2", &op).await;
    assert_eq!(beyond.status, StatusCode::OK);
    assert!(beyond.body["items"].as_array().unwrap().is_empty());
    let default = app.get("/api/v1/tenants", &op).await;
    assert_eq!(default.body["page_size"], 50);
    let max = app.get("/api/v1/tenants?page_size=500", &op).await;
    assert_eq!(max.status, StatusCode::OK);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn out_of_range_paging_is_a_400_with_the_envelope(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let op = app.operator();
    for query in [
        "page=0",
        "page=-1",
        "page_size=0",
        "page_size=501",
        "page=abc",
        "page_size=1.5",
        "colour=red",
    ] {
        let reply = app.get(&format!("/api/v1/tenants?{query}"), &op).await;
        reply.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    }
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn bad_input_gets_a_4xx_with_the_envelope(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let op = app.operator();
    let post = |body: &'static str, content_type: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/tenants")
            .header("authorization", format!("Bearer {op}"))
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let malformed = app.send(post("{\"name\": ", "application/json")).await;
    malformed.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        malformed.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("malformed JSON")
    );

    let bad_uuid = app
        .send(post(
            r#"{"name":"x","azure_tenant_id":"nope"}"#,
            "application/json",
        ))
        .await;
    bad_uuid.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        bad_uuid.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("azure_tenant_id")
    );

    let bad_enum = app
        .send(post(r#"{"name":"x","azure_tenant_id":"8c1f0f3e-1e0a-4f55-9d6e-2f0c8f0e7c11","type":"partner"}"#, "application/json"))
        .await;
    bad_enum.assert_error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        bad_enum.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("partner")
    );

    let unknown = app
        .send(post(
            r#"{"name":"x","azure_tenant_id":"8c1f0f3e-1e0a-4f55-9d6e-2f0c8f0e7c11","owner":"me"}"#,
            "application/json",
        ))
        .await;
    unknown.assert_error(StatusCode::BAD_REQUEST, "bad_request");

    let blank = app
        .send(post(
            r#"{"name":"   ","azure_tenant_id":"8c1f0f3e-1e0a-4f55-9d6e-2f0c8f0e7c11"}"#,
            "application/json",
        ))
        .await;
    blank.assert_error(StatusCode::BAD_REQUEST, "bad_request");

    let not_json = app.send(post("name=x", "text/plain")).await;
    not_json.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");

    let path = app.get("/api/v1/tenants/not-a-uuid", &op).await;
    path.assert_error(StatusCode::BAD_REQUEST, "bad_request");

    let huge = format!(
        r#"{{"name":"{}","azure_tenant_id":"8c1f0f3e-1e0a-4f55-9d6e-2f0c8f0e7c11"}}"#,
        "x".repeat(300 * 1024)
    );
    let too_large = app
        .send(post(Box::leak(huge.into_boxed_str()), "application/json"))
        .await;
    too_large.assert_error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tenants")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0, "no bad request created anything");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn unknown_routes_and_methods_answer_with_the_envelope(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let missing = app.get("/api/v1/nothing-here", &app.operator()).await;
    missing.assert_error(StatusCode::NOT_FOUND, "not_found");
    let method = app
        .call(Method::PUT, "/api/v1/tenants", Some(&app.operator()), None)
        .await;
    method.assert_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn correlation_id_is_echoed_or_generated(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let request = Request::builder()
        .uri("/api/v1/tenants/00000000-0000-0000-0000-000000000001")
        .header("authorization", format!("Bearer {}", app.operator()))
        .header("x-correlation-id", "trace-42")
        .body(Body::empty())
        .unwrap();
    let reply = app.send(request).await;
    assert_eq!(reply.headers["x-correlation-id"], "trace-42");
    assert_eq!(reply.body["error"]["correlation_id"], "trace-42");

    let generated = app.call(Method::GET, "/api/health", None, None).await;
    let id = generated.headers["x-correlation-id"].to_str().unwrap();
    assert!(
        Uuid::parse_str(id).is_ok(),
        "a fresh UUID when none is given"
    );
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn health_reports_the_database_and_version(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let reply = app.call(Method::GET, "/api/health", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["database"], "ok");
    assert_eq!(reply.body["version"], env!("CARGO_PKG_VERSION"));
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn openapi_document_lists_the_endpoints(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let reply = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(reply.status, StatusCode::OK);
    let paths = reply.body["paths"].as_object().expect("paths");
    for path in [
        "/api/health",
        "/api/v1/tenants",
        "/api/v1/tenants/{id}",
        "/api/v1/subscriptions",
        "/api/v1/subscriptions/{id}",
    ] {
        assert!(paths.contains_key(path), "missing {path}");
    }
    assert!(reply.body["components"]["schemas"]["Tenant"].is_object());
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn openapi_document_states_the_common_answers_and_limits(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let doc = app
        .call(Method::GET, "/api/openapi.json", None, None)
        .await
        .body;
    let paths = doc["paths"].as_object().expect("paths");
    assert_eq!(doc["paths"]["/api/health"]["get"]["security"], json!([{}]));
    for (path, item) in paths.iter().filter(|(p, _)| *p != "/api/health") {
        for (method, operation) in item.as_object().expect("path item") {
            if operation["security"] == json!([{}]) {
                // A signed export download link: the link stands for the token.
                assert_eq!(path, "/api/v1/exports/{id}/download");
                continue;
            }
            let responses = &operation["responses"];
            for status in ["400", "401", "403"] {
                assert!(
                    responses[status].is_object(),
                    "{method} {path}: no {status}"
                );
            }
            let has_body = operation.get("requestBody").is_some();
            assert_eq!(
                responses["415"].is_object(),
                has_body,
                "{method} {path}: 415"
            );
        }
    }
    let params = doc["paths"]["/api/v1/resources"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let param = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("parameter {name}"))
            .clone()
    };
    assert_eq!(param("page_size")["in"], "query");
    assert_eq!(param("page_size")["schema"]["maximum"], 500);
    assert_eq!(param("page")["schema"]["minimum"], 1);
    assert_eq!(param("location")["schema"]["minLength"], 1);
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn a_reader_cannot_write_tenants(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let reader = app.token(app.operator_tid, &[READER]);
    let body = json!({"name": "X", "azure_tenant_id": Uuid::new_v4()});
    let reply = app.post("/api/v1/tenants", &reader, body).await;
    reply.assert_error(StatusCode::FORBIDDEN, "forbidden");
    let list = app.get("/api/v1/tenants", &reader).await;
    assert_eq!(list.status, StatusCode::OK, "but may read");
}
