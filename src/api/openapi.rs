//! The OpenAPI document, generated from the handlers' annotations, at `/api/openapi.json`.

use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{RefOr, Response};

use super::extract::Json;
use super::{costs, health, ingestion, resources, subscriptions, tenants};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "AzCops API", description = "Multi-tenant Azure FinOps: tenants, subscriptions, inventory and costs."),
    paths(
        health::health,
        tenants::create, tenants::list, tenants::read, tenants::update, tenants::remove,
        subscriptions::create, subscriptions::list, subscriptions::read, subscriptions::update, subscriptions::remove,
        resources::list, resources::read, costs::list, costs::summary,
        ingestion::trigger, ingestion::status, ingestion::runs,
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

/// The path that needs no token.
const PUBLIC: &str = "/api/health";

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
                if path == PUBLIC {
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
