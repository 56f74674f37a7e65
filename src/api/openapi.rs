//! The OpenAPI document, generated from the handlers' annotations, at `/api/openapi.json`.

use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{RefOr, Response};

use super::export;
use super::extract::Json;
use super::recommendations::{self, summary, transitions};
use super::{
    anomalies, costs, forecast, health, ingestion, resources, rules, subscriptions, suppressions,
    tenants,
};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "AzCops API", description = "Multi-tenant Azure FinOps: tenants, subscriptions, inventory, costs, and recommendations with their workflow."),
    paths(
        health::health,
        tenants::create, tenants::list, tenants::read, tenants::update, tenants::remove,
        subscriptions::create, subscriptions::list, subscriptions::read, subscriptions::update, subscriptions::remove,
        resources::list, resources::read, costs::list, costs::summary,
        anomalies::list, anomalies::read, anomalies::update, anomalies::detect, forecast::read,
        ingestion::trigger, ingestion::status, ingestion::runs,
        recommendations::list, summary::summary, recommendations::read,
        transitions::transition, transitions::bulk,
        suppressions::create, suppressions::list, suppressions::update, suppressions::remove,
        rules::list, rules::update, rules::update_settings, rules::evaluate,
        export::recommendations::export, export::resources::export, export::costs::export,
        export::focus::export_csv, export::focus::export_jsonl, export::focus::metadata,
        export::jobs::create, export::jobs::list, export::jobs::show, export::jobs::download,
    ),
    modifiers(&BearerAuth, &CommonAnswers),
    security(("bearer" = [])),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// What every operation can answer besides its own responses, and the one public operation.
struct CommonAnswers;

/// The paths that need no token: the health probe, and export downloads (the signed link
/// stands for the token).
const PUBLIC: &[&str] = &["/api/health", "/api/v1/exports/{id}/download"];

impl utoipa::Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                if PUBLIC.contains(&path.as_str()) {
                    // An empty requirement: no token needed.
                    operation.security = Some(vec![SecurityRequirement::default()]);
                } else {
                    add_common_answers(operation);
                }
            }
        }
    }
}

fn add_common_answers(operation: &mut Operation) {
    let mut answers = vec![
        (
            "400",
            "Bad input: a malformed value, an unknown parameter or an out-of-range page.",
        ),
        (
            "401",
            "No valid bearer token (with a `WWW-Authenticate` challenge).",
        ),
        ("403", "The token's roles or tenant do not allow this."),
        ("503", "The signing keys or the database cannot be reached."),
    ];
    if operation.request_body.is_some() {
        answers.push(("413", "The body is over 256 KiB."));
        answers.push(("415", "The body is not `application/json`."));
    }
    for (status, description) in answers {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(Response::new(description)));
    }
}

/// Serves the document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
    doc.info.version = crate::VERSION.to_owned();
    Json(doc)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::*;

    /// Every operation of the document as (`METHOD path`, operation), walked from its JSON.
    fn operations(doc: &Value) -> Vec<(String, &Value)> {
        let paths = doc["paths"].as_object().expect("paths");
        let mut found = Vec::new();
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("path item") {
                found.push((format!("{} {path}", method.to_uppercase()), operation));
            }
        }
        found
    }

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).expect("the document serialises")
    }

    #[test]
    fn every_operation_has_a_unique_operation_id_saying_what_it_does() {
        let doc = document();
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        for (operation, body) in operations(&doc) {
            let id = body["operationId"].as_str().unwrap_or_default();
            assert!(
                id.starts_with(|c: char| c.is_ascii_lowercase())
                    && id.chars().all(|c| c.is_ascii_alphanumeric())
                    && id.chars().any(|c| c.is_ascii_uppercase()),
                "{operation}: operationId {id:?} is not a lowerCamelCase verb and noun"
            );
            if let Some(other) = ids.insert(id.to_owned(), operation.clone()) {
                panic!("operationId {id:?} is used by both {other} and {operation}");
            }
        }
        assert!(ids.len() >= 30, "the whole API: {ids:?}");
    }

    #[test]
    fn operation_ids_stay_as_published() {
        let doc = document();
        let ids: BTreeMap<String, &str> = operations(&doc)
            .into_iter()
            .map(|(op, body)| (op, body["operationId"].as_str().unwrap_or_default()))
            .collect();
        let published = [
            ("GET /api/health", "getHealth"),
            ("POST /api/v1/tenants", "createTenant"),
            ("GET /api/v1/tenants", "listTenants"),
            ("GET /api/v1/tenants/{id}", "getTenant"),
            ("PATCH /api/v1/tenants/{id}", "updateTenant"),
            ("DELETE /api/v1/tenants/{id}", "deleteTenant"),
            ("POST /api/v1/subscriptions", "createSubscription"),
            ("GET /api/v1/subscriptions", "listSubscriptions"),
            ("GET /api/v1/subscriptions/{id}", "getSubscription"),
            ("PATCH /api/v1/subscriptions/{id}", "updateSubscription"),
            ("DELETE /api/v1/subscriptions/{id}", "deleteSubscription"),
            ("GET /api/v1/resources", "listResources"),
            ("GET /api/v1/resources/{id}", "getResource"),
            ("GET /api/v1/costs", "listCosts"),
            ("GET /api/v1/costs/summary", "getCostSummary"),
            ("POST /api/v1/ingestion/trigger", "triggerIngestion"),
            ("GET /api/v1/ingestion/status/{run_id}", "getIngestionRun"),
            ("GET /api/v1/ingestion/runs", "listIngestionRuns"),
            ("GET /api/v1/recommendations", "listRecommendations"),
            (
                "GET /api/v1/recommendations/summary",
                "getRecommendationSummary",
            ),
            ("GET /api/v1/recommendations/{id}", "getRecommendation"),
            (
                "POST /api/v1/recommendations/{id}/transition",
                "transitionRecommendation",
            ),
            (
                "POST /api/v1/recommendations/transitions",
                "transitionRecommendations",
            ),
            ("POST /api/v1/suppressions", "createSuppression"),
            ("GET /api/v1/suppressions", "listSuppressions"),
            ("PATCH /api/v1/suppressions/{id}", "updateSuppression"),
            ("DELETE /api/v1/suppressions/{id}", "deleteSuppression"),
            ("GET /api/v1/rules", "listRules"),
            ("PATCH /api/v1/rules", "updateRuleSettings"),
            ("PATCH /api/v1/rules/{rule_id}", "updateRule"),
            (
                "GET /api/v1/recommendations/export.csv",
                "exportRecommendations",
            ),
            ("GET /api/v1/resources/export.csv", "exportResources"),
            ("GET /api/v1/costs/export.csv", "exportCosts"),
            ("GET /api/v1/costs/export.focus.csv", "exportCostsFocusCsv"),
            (
                "GET /api/v1/costs/export.focus.jsonl",
                "exportCostsFocusJsonl",
            ),
            ("GET /api/v1/exports/focus-metadata", "getFocusMetadata"),
            ("POST /api/v1/exports", "createExport"),
            ("GET /api/v1/exports", "listExports"),
            ("GET /api/v1/exports/{id}", "getExport"),
            ("GET /api/v1/exports/{id}/download", "downloadExport"),
        ];
        for (operation, id) in published {
            assert_eq!(ids.get(operation), Some(&id), "{operation}");
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        out.push(r);
                    }
                    map.values().for_each(|v| refs(v, out));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        let dangling: Vec<&str> = found
            .into_iter()
            .filter(|r| doc.pointer(r.trim_start_matches('#')).is_none())
            .collect();
        assert!(dangling.is_empty(), "unresolved: {dangling:?}");
    }

    #[test]
    fn every_response_of_every_operation_has_a_description() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for (operation, body) in operations(&doc) {
            let responses = body["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{operation}: no responses");
            for (status, response) in responses {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    !description.trim().is_empty(),
                    "{operation}: the {status} response has no description"
                );
            }
        }
    }
}
