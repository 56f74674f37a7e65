//! The OpenAPI document, generated from the handlers' annotations, at `/api/openapi.json`.

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

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
    modifiers(&BearerAuth),
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

/// Serves the document.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    let mut doc = ApiDoc::openapi();
    doc.info.version = crate::VERSION.to_owned();
    Json(doc)
}
