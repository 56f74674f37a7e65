//! `GET /api/health`: is the database reachable, and which version is running.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::extract::Json;

/// Health of the service and its database.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// `ok` or `unreachable`.
    pub database: &'static str,
    pub version: &'static str,
}

/// Reports health; 503 with the same body when the database does not answer within 3 s.
#[utoipa::path(get, path = "/api/health", operation_id = "getHealth", tag = "health",
    responses((status = 200, description = "The database answers.", body = Health),
        (status = 503, description = "The database does not answer within 3 s.", body = Health)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let reachable = tokio::time::timeout(Duration::from_secs(3), async {
        let pool = state.db.pool().await.ok()?;
        sqlx::query("SELECT 1").execute(pool).await.ok()
    })
    .await
    .ok()
    .flatten()
    .is_some();
    let (code, status, database) = if reachable {
        (StatusCode::OK, "ok", "ok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "unreachable",
        )
    };
    (
        code,
        Json(Health {
            status,
            database,
            version: crate::VERSION,
        }),
    )
}
