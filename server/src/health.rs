//! Liveness and readiness probes.

use actix_web::{get, web, HttpResponse};

use crate::db::{migrations_current, Db};
use crate::errors::ApiError;

/// Liveness: the process is up. Never touches the database.
#[utoipa::path(tag = "health", responses((status = 200, description = "Process up")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Readiness: the database answers and every embedded migration is applied; 503 otherwise.
#[utoipa::path(tag = "health", responses(
    (status = 200, description = "Database reachable and migrations current"),
    (status = 503, description = "Database unreachable or migrations pending")))]
#[get("/readyz")]
pub async fn readyz(db: web::Data<Db>) -> HttpResponse {
    let ready = db
        .run(|conn| migrations_current(conn).map_err(ApiError::Internal))
        .await;
    match ready {
        Ok(true) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Ok(false) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "migrations_pending" })),
        Err(_) => HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({ "status": "database_unreachable" })),
    }
}
