//! Shared test harness: the application router over a test database, a JWKS server, tokens,
//! and a one-call request helper.

pub mod findings;
pub mod logs;
pub mod pipeline;
pub mod rules;
pub mod scratch;
pub mod sim_azure;
pub mod tokens;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

use azcops::api::{self, AppState, Authn};
use azcops::azure::client::AzureClient;
use azcops::config::ExportConfig;
use azcops::db::subscriptions::NewSubscription;
use azcops::db::{Database, Scope};
use tokens::{JwksServer, TokenBuilder};

pub const ADMIN: &str = "AzCops.Admin";
pub const APPROVER: &str = "AzCops.Approver";
pub const READER: &str = "AzCops.Reader";

/// The application under test and what it needs to be called.
pub struct TestApp {
    pub router: Router,
    pub jwks: JwksServer,
    pub operator_tid: Uuid,
    pub pool: PgPool,
    /// The API's time (the real time unless a test moves it).
    pub clock: rules::TestClock,
}

/// A response, its body parsed as JSON (`Null` when empty; a JSON string holding the text when
/// it is text but not JSON, e.g. a CSV export).
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl TestApp {
    /// The API without Azure (registering a subscription answers 503).
    pub async fn new(pool: PgPool) -> Self {
        Self::build(pool, None, ExportConfig::default(), None).await
    }

    /// The handler (API and functions) without Azure, with export jobs over `jobs` and these
    /// export limits.
    pub async fn with_export_jobs(
        pool: PgPool,
        exports: ExportConfig,
        jobs: std::sync::Arc<azcops::api::export::runtime::ExportJobs>,
    ) -> Self {
        Self::build(pool, None, exports, Some(jobs)).await
    }

    /// The API without Azure, with these export limits (batch size, synchronous row limit).
    pub async fn with_exports(pool: PgPool, exports: ExportConfig) -> Self {
        Self::build(pool, None, exports, None).await
    }

    /// The API with an Azure client (e.g. one of [`sim_azure`]'s, against a simulator).
    pub async fn with_azure(pool: PgPool, azure: AzureClient) -> Self {
        Self::build(pool, Some(azure), ExportConfig::default(), None).await
    }

    async fn build(
        pool: PgPool,
        azure: Option<AzureClient>,
        exports: ExportConfig,
        jobs: Option<std::sync::Arc<azcops::api::export::runtime::ExportJobs>>,
    ) -> Self {
        let jwks = JwksServer::start().await;
        let operator_tid = Uuid::new_v4();
        let authn = Authn::Entra {
            verifier: jwks.verifier(),
            operator_tenant_id: operator_tid,
        };
        let clock = rules::TestClock::default();
        let api_clock = clock.clone();
        let mut state = AppState::new(Database::from_pool(pool.clone()), authn)
            .with_rules(std::sync::Arc::new(rules::TestCatalogue))
            .with_clock(std::sync::Arc::new(move || api_clock.now()))
            .with_exports(exports);
        if let Some(azure) = azure {
            state = state.with_azure(azure);
        }
        let router = match jobs {
            Some(jobs) => azcops::server::handler_router(state.with_export_jobs(jobs)),
            None => api::router(state),
        };
        Self {
            router,
            jwks,
            operator_tid,
            pool,
            clock,
        }
    }

    /// A valid token for a caller of Entra tenant `tid` with `roles`.
    pub fn token(&self, tid: Uuid, roles: &[&str]) -> String {
        TokenBuilder::new(tid).roles(roles).rs256()
    }

    /// A token of the operator tenant's admin.
    pub fn operator(&self) -> String {
        self.token(self.operator_tid, &[ADMIN])
    }

    /// Sends one request; `token` as bearer, `body` as JSON.
    pub async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.send(request(method, uri, token, body)).await
    }

    /// `GET uri` with `token` as bearer.
    pub async fn get(&self, uri: &str, token: &str) -> Reply {
        self.call(Method::GET, uri, Some(token), None).await
    }

    /// `POST uri` with `token` as bearer and `body` as JSON.
    pub async fn post(&self, uri: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, Some(token), Some(body)).await
    }

    /// `PATCH uri` with `token` as bearer and `body` as JSON.
    pub async fn patch(&self, uri: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, uri, Some(token), Some(body)).await
    }

    /// `DELETE uri` with `token` as bearer.
    pub async fn delete(&self, uri: &str, token: &str) -> Reply {
        self.call(Method::DELETE, uri, Some(token), None).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        send(&self.router, request).await
    }

    /// Registers a tenant as the operator; returns (tenant id, Entra tenant id).
    pub async fn tenant(&self, name: &str) -> (Uuid, Uuid) {
        let tid = Uuid::new_v4();
        let body = serde_json::json!({ "name": name, "azure_tenant_id": tid });
        let reply = self.post("/api/v1/tenants", &self.operator(), body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        (reply.id(), tid)
    }

    /// Registers a tenant for Entra tenant `azure_tenant_id` as the operator; returns its id.
    pub async fn tenant_of(&self, name: &str, azure_tenant_id: Uuid) -> Uuid {
        let body = serde_json::json!({ "name": name, "azure_tenant_id": azure_tenant_id });
        let reply = self.post("/api/v1/tenants", &self.operator(), body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.id()
    }

    /// A subscription (a random Azure id) of `tenant_id`, set up directly in the database for
    /// tests whose subject is not registration (which asks Azure); returns its id.
    pub async fn subscription(&self, tenant_id: Uuid, name: &str) -> Uuid {
        let new = NewSubscription {
            tenant_id,
            subscription_id: Uuid::new_v4(),
            display_name: name.to_owned(),
            billing_scope: None,
            is_active: true,
        };
        let mut tx = azcops::db::begin(&self.pool, Scope::Operator)
            .await
            .expect("transaction");
        let created = azcops::db::subscriptions::insert(&mut tx, &new)
            .await
            .expect("subscription");
        tx.commit().await.expect("commit");
        created.id
    }

    /// Audit rows for a target, oldest first (read as the superuser, beside RLS).
    pub async fn audit_rows(&self, target_id: Uuid) -> Vec<(String, String, Value)> {
        sqlx::query_as(
            "SELECT action, actor, metadata FROM audit_logs WHERE target_id = $1 ORDER BY id",
        )
        .bind(target_id.to_string())
        .fetch_all(&self.pool)
        .await
        .expect("audit rows")
    }
}

/// A tenant with one subscription, written straight into `pool`: `(tenant id, subscription id)`.
pub async fn tenant_and_subscription(pool: &PgPool) -> (Uuid, Uuid) {
    let tenant: Uuid = sqlx::query_scalar(
        "INSERT INTO tenants (name, azure_tenant_id) VALUES ('t', gen_random_uuid()) RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("tenant");
    let sub: Uuid = sqlx::query_scalar(
        "INSERT INTO subscriptions (tenant_id, subscription_id, display_name) VALUES ($1, gen_random_uuid(), 's') RETURNING id",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .expect("subscription");
    (tenant, sub)
}

/// A request to `uri`: `token` as bearer, `body` as JSON (with its content type).
pub fn request(
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(json) => {
            request = request.header("content-type", "application/json");
            Body::from(json.to_string())
        }
        None => Body::empty(),
    };
    request.body(body).expect("request")
}

/// Sends `request` to `router`; the answer with its body parsed as JSON (`Null` when empty or
/// not UTF-8, a JSON string of the text when it is text but not JSON).
pub async fn send(router: &Router, request: Request<Body>) -> Reply {
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("router answers");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            String::from_utf8(bytes.to_vec()).map_or(Value::Null, Value::String)
        })
    };
    Reply {
        status,
        headers,
        body,
    }
}

impl Reply {
    /// The `id` field of the body.
    pub fn id(&self) -> Uuid {
        self.body["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("body has an id")
    }

    /// Asserts the error envelope: status, code, a message and the correlation id echoed.
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        let error = &self.body["error"];
        assert_eq!(error["code"], code, "{}", self.body);
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            self.body
        );
        let echoed = self
            .headers
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok())
            .expect("correlation header");
        assert_eq!(error["correlation_id"], echoed);
    }
}
