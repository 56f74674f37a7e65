//! Tenant isolation, driven by the OpenAPI document: every operation it lists is called by
//! tenant B's admin and reader with tenant A's ids (in the path, the query and the body), and
//! must leak nothing — A's operations answer 403/404, B's lists hold none of A's data — while
//! A's own admin, making the same reads, does see its data (so a leak would be seen). An
//! operation whose path names an object this test cannot supply an id of fails the test, so a
//! new endpoint is covered as soon as it is documented. The cursors of A's lists (every
//! operation documenting `cursor`), replayed by B, are refused.

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{ADMIN, READER, Reply, TestApp};

/// One tenant's objects, and text found only in its data.
struct Objects {
    tenant: Uuid,
    azure_tenant: Uuid,
    subscription: Uuid,
    azure_subscription: Uuid,
    resource: Uuid,
    resource_arm: String,
    run: Uuid,
    recommendation: Uuid,
    advisor_rule: String,
    suppression: Uuid,
    anomaly: Uuid,
    export_job: Uuid,
    markers: Vec<String>,
}

/// Registers a tenant with a subscription, two resources, cost rows, an ingestion run, an
/// Advisor recommendation about the first resource and two suppressions.
async fn tenant_with_data(app: &TestApp, label: &str) -> Objects {
    let tag = &Uuid::new_v4().simple().to_string()[..10];
    let name = format!("Isolation {label} {tag}");
    let (tenant, azure_tenant) = app.tenant(&name).await;
    let subscription = app
        .subscription(tenant, &format!("sub {label} {tag}"))
        .await;
    let pool = &app.pool;
    let azure_subscription: Uuid =
        sqlx::query_scalar("SELECT subscription_id FROM subscriptions WHERE id = $1")
            .bind(subscription)
            .fetch_one(pool)
            .await
            .expect("subscription");
    let resource_id = format!(
        "/subscriptions/{azure_subscription}/resourcegroups/rg-{tag}/providers/microsoft.compute/disks/disk-{tag}"
    );
    let resource: Uuid = sqlx::query_scalar(
        "INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type, location, resource_group)
         VALUES ($1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2), $3, $4, 'microsoft.compute/disks', 'westeurope', $5) RETURNING id",
    )
    .bind(tenant)
    .bind(subscription)
    .bind(&resource_id)
    .bind(format!("disk-{tag}"))
    .bind(format!("rg-{tag}"))
    .fetch_one(pool)
    .await
    .expect("resource");
    let service = format!("Service {tag}");
    sqlx::query(
        "INSERT INTO costs_daily (tenant_id, subscription_db_id, date, resource_group, service_name, meter_category, cost, amortized_cost)
         SELECT $1, $2, current_date - d, $3, $4, $4, 10, 11 FROM generate_series(1, 3) AS d",
    )
    .bind(tenant)
    .bind(subscription)
    .bind(format!("rg-{tag}"))
    .bind(&service)
    .execute(pool)
    .await
    .expect("costs");
    let run = run_of(pool, tenant, subscription, azure_subscription).await;
    let advisor_rule = format!("advisor:{tag}");
    let recommendation: Uuid = sqlx::query_scalar(
        "INSERT INTO recommendations (tenant_id, subscription_db_id, resource_db_id, resource_id, rule_id, source,
                                      external_id, category, title, estimated_monthly_savings, confidence_score)
         VALUES ($1, $2, $3, $4, $5, 'advisor', $4 || '/advisor', 'cost', 'Delete it', 12, 0.7) RETURNING id",
    )
    .bind(tenant)
    .bind(subscription)
    .bind(resource)
    .bind(&resource_id)
    .bind(&advisor_rule)
    .fetch_one(pool)
    .await
    .expect("recommendation");
    let suppression: Uuid = sqlx::query_scalar(
        "INSERT INTO suppressions (tenant_id, scope, resource_id, target, kind, reason, author)
         VALUES ($1, 'resource', $2, 'all', 'exclude', 'a ghost', 'isolation') RETURNING id",
    )
    .bind(tenant)
    .bind(format!("{resource_id}-ghost"))
    .fetch_one(pool)
    .await
    .expect("suppression");
    let anomaly: Uuid = sqlx::query_scalar(
        "INSERT INTO cost_anomalies (tenant_id, subscription_db_id, service_name, start_date, end_date, peak_date,
                                     kind, severity, provisional, score, currency, actual, expected, contributors)
         VALUES ($1, $2, '', current_date - 2, current_date - 2, current_date - 2, 'spike', 'high', false,
                 9.5, 'USD', 110, 11, jsonb_build_array(jsonb_build_object('kind', 'service', 'name', $3::text,
                 'actual', 110, 'expected', 11, 'delta', 99, 'share', 1)))
         RETURNING id",
    )
    .bind(tenant)
    .bind(subscription)
    .bind(&service)
    .fetch_one(pool)
    .await
    .expect("anomaly");
    // A second resource and suppression: lists of more than one page, to page by cursor.
    sqlx::query(
        "WITH r AS (INSERT INTO resources (tenant_id, subscription_db_id, subscription_id, resource_id, name, type)
                    VALUES ($1, $2, (SELECT s.subscription_id FROM subscriptions s WHERE s.id = $2), $3 || '-2', 'second', 'microsoft.compute/disks'))
         INSERT INTO suppressions (tenant_id, scope, resource_id, target, kind, reason, author)
         VALUES ($1, 'resource', $3 || '-ghost-2', 'all', 'exclude', 'a ghost', 'isolation')",
    )
    .bind(tenant)
    .bind(subscription)
    .bind(&resource_id)
    .execute(pool)
    .await
    .expect("second resource and suppression");
    // Two export jobs (a list of more than one page), one finished.
    let export_job: Uuid = sqlx::query_scalar(
        "WITH q AS (INSERT INTO export_jobs (tenant_id, what, format, filters, requested_by)
                    VALUES ($1, 'costs', 'csv', '{}', 'isolation'))
         INSERT INTO export_jobs (tenant_id, what, format, status, row_count, bytes, sha256, lake_path, requested_by)
         VALUES ($1, 'focus', 'jsonl', 'succeeded', 3, 100, repeat('a', 64), $1 || '/exports/x/focus.jsonl.gz', $2)
         RETURNING id",
    )
    .bind(tenant)
    .bind(format!("isolation {tag}"))
    .fetch_one(pool)
    .await
    .expect("export jobs");
    Objects {
        tenant,
        azure_tenant,
        subscription,
        azure_subscription,
        resource,
        resource_arm: resource_id,
        run,
        recommendation,
        advisor_rule,
        suppression,
        anomaly,
        export_job,
        markers: vec![
            tenant.to_string(),
            azure_tenant.to_string(),
            subscription.to_string(),
            azure_subscription.to_string(),
            resource.to_string(),
            run.to_string(),
            recommendation.to_string(),
            suppression.to_string(),
            anomaly.to_string(),
            export_job.to_string(),
            tag.to_owned(),
            service,
        ],
    }
}

async fn run_of(pool: &PgPool, tenant: Uuid, subscription: Uuid, azure: Uuid) -> Uuid {
    let run: Uuid = sqlx::query_scalar(
        "INSERT INTO ingestion_runs (tenant_id, mode, trigger, requested_by) VALUES ($1, 'full', 'api', 'isolation') RETURNING id",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .expect("run");
    sqlx::query(
        "INSERT INTO ingestion_run_items (run_id, tenant_id, subscription_db_id, subscription_id, status, attempts)
         VALUES ($1, $2, $3, $4, 'succeeded', 1)",
    )
    .bind(run)
    .bind(tenant)
    .bind(subscription)
    .bind(azure)
    .execute(pool)
    .await
    .expect("run item");
    run
}

/// The id of A's object a path parameter names, from the path segment before it.
fn path_id(a: &Objects, template: &str, param: &str) -> String {
    let segments: Vec<&str> = template.split('/').collect();
    let at = segments
        .iter()
        .position(|s| *s == format!("{{{param}}}"))
        .expect("the parameter is in the template");
    let id = match segments[at - 1] {
        "tenants" => a.tenant,
        "subscriptions" => a.subscription,
        "resources" => a.resource,
        "status" => a.run,
        "recommendations" => a.recommendation,
        "suppressions" => a.suppression,
        "anomalies" => a.anomaly,
        "exports" => a.export_job,
        // Rules are the catalogue's; what is the tenant's is named by tenant_id in the body.
        "rules" => return "disk.unattached".to_owned(),
        other => panic!(
            "{template}: no id of tenant A for {{{param}}} after `{other}`: teach isolation.rs which object it names"
        ),
    };
    id.to_string()
}

/// A value for a query or body field: A's ids for fields naming A's objects, else a valid value.
fn value_for(a: &Objects, name: &str, schema: &Value, doc: &Value) -> Value {
    match name {
        "tenant_id" => return json!(a.tenant),
        // Filters take either id: the Azure one reaches the wider match.
        "subscription_id" => return json!(a.azure_subscription),
        "subscription_ids" => return json!([a.subscription]),
        "azure_tenant_id" => return json!(a.azure_tenant),
        "rule_id" => return json!(a.advisor_rule),
        "resource_id" => return json!(a.resource_arm),
        "ids" => return json!([a.recommendation]),
        _ => {}
    }
    let schema = resolve(schema, doc);
    if let Some(variants) = schema["oneOf"].as_array().or(schema["anyOf"].as_array())
        && let Some(first) = variants.iter().find(|v| resolve(v, doc)["type"] != "null")
    {
        return value_for(a, name, first, doc);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    match (kind.as_str(), schema["format"].as_str()) {
        (Some("string"), Some("date")) => json!(chrono::Utc::now().date_naive()),
        (Some("string"), Some("date-time")) => {
            json!(chrono::Utc::now() + chrono::Duration::days(1))
        }
        (Some("string"), Some("uuid")) => json!(Uuid::new_v4()),
        (Some("string"), _) => json!("isolation probe"),
        (Some("boolean"), _) => json!(false),
        (Some("integer" | "number"), _) => json!(1),
        (Some("array"), _) => json!([]),
        _ => Value::Null,
    }
}

fn resolve<'a>(schema: &'a Value, doc: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(doc.pointer(pointer).expect("the $ref resolves"), doc)
        }
        None => schema,
    }
}

/// One documented operation, with A's ids filled in.
struct Call {
    method: Method,
    template: String,
    uri: String,
    body: Option<Value>,
    names_a_object: bool,
    /// A list that pages by cursor.
    pages: bool,
    /// Needs no token (an empty security requirement): a signed export download link.
    public: bool,
}

/// Operations that answer the same to every tenant (no tenant data to see): the description
/// of the FOCUS export's columns.
const TENANT_FREE: &[&str] = &["/api/v1/exports/focus-metadata"];

fn calls(doc: &Value, a: &Objects) -> Vec<Call> {
    let mut out = Vec::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (template, operations) in paths {
        for (method, op) in operations.as_object().expect("operations") {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let mut uri = template.clone();
            let mut query = Vec::new();
            let mut names_a_object = false;
            let mut pages = false;
            let public = op["security"] == serde_json::json!([{}]);
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().expect("parameter name");
                match param["in"].as_str() {
                    Some("path") => {
                        let id = path_id(a, template, name);
                        uri = uri.replace(&format!("{{{name}}}"), &id);
                        names_a_object = true;
                    }
                    Some("query") => {
                        pages |= name == "cursor";
                        let value = value_for(a, name, &param["schema"], doc);
                        if name.ends_with("_id") {
                            query.push(format!("{name}={}", value.as_str().expect("an id")));
                        } else if public {
                            // A public operation's query stands for its token (a signed
                            // link): every parameter, with a value that signs nothing.
                            let value = match value {
                                Value::String(text) => text.replace(' ', "%20"),
                                other => other.to_string(),
                            };
                            query.push(format!("{name}={value}"));
                        }
                    }
                    other => panic!("{method} {template}: parameter {name} in {other:?}"),
                }
            }
            assert!(
                !uri.contains('{'),
                "{method} {template}: every path parameter is declared"
            );
            if !query.is_empty() {
                uri = format!("{uri}?{}", query.join("&"));
            }
            let body = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|schema| {
                    let schema = resolve(&Value::Object(schema.clone()), doc).clone();
                    let mut fields = Map::new();
                    for (name, field) in schema["properties"].as_object().into_iter().flatten() {
                        fields.insert(name.clone(), value_for(a, name, field, doc));
                    }
                    Value::Object(fields)
                });
            out.push(Call {
                method,
                template: template.clone(),
                uri,
                body,
                names_a_object,
                pages,
                public,
            });
        }
    }
    out
}

/// A's markers in the answer. The ids a per-item answer echoes from the request are the
/// caller's own input, not a leak.
fn leaked<'a>(reply: &Reply, a: &'a Objects) -> Vec<&'a str> {
    let mut body = reply.body.clone();
    if is_per_item_answer(reply) {
        for result in body["results"].as_array_mut().into_iter().flatten() {
            result.as_object_mut().map(|r| r.remove("id"));
        }
    }
    let text = body.to_string();
    a.markers
        .iter()
        .filter(|m| text.contains(m.as_str()))
        .map(String::as_str)
        .collect()
}

/// What A's data looks like from the database, to show that B changed none of it.
async fn a_state(pool: &PgPool, a: &Objects) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT to_jsonb(t)::text FROM tenants t WHERE id = $1
         UNION ALL SELECT to_jsonb(s)::text FROM subscriptions s WHERE tenant_id = $1
         UNION ALL SELECT to_jsonb(r)::text FROM resources r WHERE tenant_id = $1
         UNION ALL SELECT to_jsonb(c)::text FROM costs_daily c WHERE tenant_id = $1
         UNION ALL SELECT to_jsonb(i)::text FROM ingestion_run_items i WHERE tenant_id = $1
         UNION ALL SELECT to_jsonb(r)::text FROM recommendations r WHERE tenant_id = $1
         UNION ALL SELECT to_jsonb(s)::text FROM suppressions s WHERE tenant_id = $1
         UNION ALL SELECT to_jsonb(r)::text FROM rule_settings r WHERE tenant_id = $1
         UNION ALL SELECT to_jsonb(t)::text FROM tenant_rule_settings t WHERE tenant_id = $1
         UNION ALL SELECT to_jsonb(c)::text FROM cost_anomalies c WHERE tenant_id = $1
         ORDER BY 1",
    )
    .bind(a.tenant)
    .fetch_all(pool)
    .await
    .expect("A's rows")
}

/// A 200 answer holding one result per id of the request (bulk transitions).
fn is_per_item_answer(reply: &Reply) -> bool {
    reply.status == StatusCode::OK && reply.body["results"].is_array()
}

#[sqlx::test(migrator = "azcops::db::MIGRATOR")]
async fn every_documented_operation_called_with_another_tenants_token_and_ids_leaks_nothing(
    pool: PgPool,
) {
    let app = TestApp::new(pool).await;
    let a = tenant_with_data(&app, "A").await;
    let b = tenant_with_data(&app, "B").await;
    let doc = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let calls = calls(&doc.body, &a);
    let documented: usize = doc.body["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|ops| ops.as_object().map_or(0, Map::len))
        .sum();
    assert_eq!(calls.len(), documented, "every documented operation");
    assert!(documented >= 18, "the whole API: {documented}");

    // A sees its own data through the same reads, so a leak to B would show.
    let a_admin = app.token(a.azure_tenant, &[ADMIN]);
    for call in calls
        .iter()
        .filter(|c| c.method == Method::GET && !c.public)
    {
        let reply = app
            .call(call.method.clone(), &call.uri, Some(&a_admin), None)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "A: GET {}: {}",
            call.uri,
            reply.body
        );
        if call.template.starts_with("/api/v1/") && !TENANT_FREE.contains(&call.template.as_str()) {
            assert!(
                !leaked(&reply, &a).is_empty(),
                "A's own GET {} shows A's data: {}",
                call.uri,
                reply.body
            );
        }
    }

    // The cursors of A's lists (one row a page), to be replayed by B.
    let mut cursors = Vec::new();
    for call in calls.iter().filter(|c| c.pages) {
        let separator = if call.uri.contains('?') { '&' } else { '?' };
        let first = format!("{}{separator}page_size=1", call.uri);
        let reply = app.call(Method::GET, &first, Some(&a_admin), None).await;
        if let Some(cursor) = reply.body["next_cursor"].as_str() {
            cursors.push(format!("{first}&cursor={cursor}"));
        }
    }
    assert!(!cursors.is_empty(), "A has a list of more than one row");

    let before = a_state(&app.pool, &a).await;
    let audit_before: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&app.pool)
        .await
        .expect("audit");
    let mut answers = Vec::new();
    for role in [ADMIN, READER] {
        let token = app.token(b.azure_tenant, &[role]);
        for call in &calls {
            let reply = app
                .call(
                    call.method.clone(),
                    &call.uri,
                    Some(&token),
                    call.body.clone(),
                )
                .await;
            let what = format!("B's {role}: {} {}", call.method, call.uri);
            assert!(
                leaked(&reply, &a).is_empty(),
                "{what} leaks {:?}: {}",
                leaked(&reply, &a),
                reply.body
            );
            if is_per_item_answer(&reply) {
                // A bulk request answers for each id: A's must all be unknown to B.
                let results = reply.body["results"].as_array().expect("results");
                assert!(
                    !results.is_empty() && results.iter().all(|r| r["outcome"] == "not_found"),
                    "{what}: every id of A is not found: {}",
                    reply.body
                );
            } else if call.names_a_object || call.method != Method::GET {
                assert!(
                    matches!(reply.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
                    "{what} (body {:?}) must be refused: {} {}",
                    call.body,
                    reply.status,
                    reply.body
                );
            } else {
                assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
            }
            answers.push(reply.status.as_u16());
        }
        // A cursor belongs to the query that made it, A's: B's is another.
        for uri in &cursors {
            let reply = app.call(Method::GET, uri, Some(&token), None).await;
            let what = format!("B's {role} with A's cursor: GET {uri}");
            assert!(leaked(&reply, &a).is_empty(), "{what}: {}", reply.body);
            reply.assert_error(StatusCode::BAD_REQUEST, "bad_request");
        }
    }
    assert_eq!(a_state(&app.pool, &a).await, before, "A's data unchanged");
    let audit_after: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_logs")
        .fetch_one(&app.pool)
        .await
        .expect("audit");
    assert_eq!(audit_after, audit_before, "B changed nothing");
    let count = |s: u16| answers.iter().filter(|&&a| a == s).count();
    eprintln!(
        "reliability/isolation: {documented} documented operations × 2 roles of another tenant: \
         {} calls, {} answered 404, {} answered 403, {} answered 200 with none of A's data; \
         {} reads of A's own data checked; {} cursors of A's lists refused to B",
        answers.len(),
        count(404),
        count(403),
        count(200),
        calls.iter().filter(|c| c.method == Method::GET).count(),
        cursors.len(),
    );
}
