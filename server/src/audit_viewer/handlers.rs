//! `GET /api/v1/audit-log` (issue #17, "Audit log viewer").

use actix_web::{get, web};
use daftar_client_core::protocol::{AuditPage, AuditQuery, Problem};

use super::repo;
use crate::auth::AuthUser;
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};

/// Entries per page unless `limit` says otherwise.
pub const DEFAULT_PAGE: i64 = 50;
/// The most entries one page may ask for.
pub const MAX_PAGE: i64 = 200;

/// The school's audit log, newest first, filtered by user, device, entity and time (all
/// optional, combined with AND). Admin only: the log holds every user's actions and the
/// security events (logins, failed logins, revoked tokens).
///
/// Errors: 403 for any other role; 422 naming `limit` (1..=200), `entity` (at most 64
/// characters), `entity_id` (at most 200) or `to` (before `from`; equal is an empty window).
#[utoipa::path(tag = "audit", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), (status = 403, body = Problem), (status = 422, body = Problem)))]
#[get("/audit-log")]
pub async fn list_audit_log(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<AuditQuery>,
) -> ApiResult<web::Json<AuditPage>> {
    auth.require_admin()?;
    let q = q.into_inner();
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        ));
    }
    for (field, value, max) in [("entity", &q.entity, 64), ("entity_id", &q.entity_id, 200)] {
        if value.as_ref().is_some_and(|v| v.chars().count() > max) {
            return Err(ApiError::validation(
                field,
                format!("at most {max} characters"),
            ));
        }
    }
    if let (Some(from), Some(to)) = (q.from, q.to) {
        if to < from {
            return Err(ApiError::validation("to", "must not be before `from`"));
        }
    }
    let items = db
        .run(move |conn| Ok(repo::list(conn, auth.school_id, &q, limit + 1)?))
        .await?;
    Ok(web::Json(page(items, limit)))
}

/// The first `limit` of `items` (asked for one more than `limit`), and the cursor to the next
/// page when there was more.
fn page(mut items: Vec<daftar_client_core::protocol::AuditEvent>, limit: i64) -> AuditPage {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    AuditPage {
        next_before: if more {
            items.last().map(|e| e.id)
        } else {
            None
        },
        items,
    }
}
