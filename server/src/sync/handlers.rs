//! Sync endpoints under `/api/v1/sync` (ARCHITECTURE.md §6). JWT-authenticated and device-bound
//! (except enrolment, which binds the device).

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{get, post, web, HttpResponse};
use daftar_client_core::protocol::sync::{
    DeviceRegistration, EnrolledDevice, FieldConflict, NewClient, OpStatus, OutboxExport,
    PullQuery, PullResponse, PushRequest, PushResponse, RegisterDeviceRequest, Rejection,
    ResolveRejectionRequest, SyncDigest, MAX_REPORTED_QUEUE, OUTBOX_EXPORT_FORMAT,
};
use daftar_client_core::protocol::Problem;
use diesel::prelude::*;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::events::Pokes;
use super::{devices, pull, push};
use crate::auth::AuthUser;
use crate::config::AuthConfig;
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};
use crate::json::Json;
use crate::schema::applied_ops;

/// Enrol the caller's device: returns its id, first `client_id`, receipt series, scope, and
/// tokens bound to the device (use them for every sync call).
#[utoipa::path(tag = "sync", request_body = RegisterDeviceRequest, security(("bearer" = [])),
    responses((status = 201, body = DeviceRegistration), (status = 422, body = Problem)))]
#[post("/sync/devices")]
pub async fn register_device(
    db: web::Data<Db>,
    config: web::Data<AuthConfig>,
    auth: AuthUser,
    body: Json<RegisterDeviceRequest>,
) -> ApiResult<HttpResponse> {
    let name = body.into_inner().name;
    let config = config.into_inner();
    let reg = db
        .transaction(move |conn| {
            let (device, client_id) = devices::register(conn, &auth, &name)?;
            let scope = devices::scope_of(conn, &auth)?;
            let tokens = crate::auth::handlers::device_tokens(conn, &config, &auth, device.id)?;
            Ok(DeviceRegistration {
                device_id: device.id,
                client_id,
                receipt_series: device.receipt_series,
                scope,
                tokens,
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(reg))
}

/// A new `client_id` for the calling device (the lifeboat re-sends a salvaged outbox from it).
#[utoipa::path(tag = "sync", security(("bearer" = [])),
    responses((status = 201, body = NewClient), (status = 403, body = Problem)))]
#[post("/sync/clients")]
pub async fn new_client(db: web::Data<Db>, auth: AuthUser) -> ApiResult<HttpResponse> {
    let c = db
        .transaction(move |conn| {
            let device = devices::caller_device(conn, &auth)?;
            let client_id = devices::new_client(conn, &device)?;
            Ok(NewClient {
                client_id,
                scope: devices::scope_of(conn, &auth)?,
                receipt_series: device.receipt_series,
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(c))
}

/// Push a batch of ops (in seq order, at most 1,000). Each op is applied exactly once; a
/// repeated op id replays its stored outcome. Business refusals come back as `rejected`
/// outcomes and are kept; a transient failure ends the batch early with `retry_after_secs`.
#[utoipa::path(tag = "sync", request_body = PushRequest, security(("bearer" = [])),
    responses((status = 200, body = PushResponse),
        (status = 409, description = "`seq_gap` (detail names the expected seq) or `op_id_reused`", body = Problem),
        (status = 503, description = "Transient failure before any op; retry after `Retry-After`", body = Problem)))]
#[post("/sync/push")]
pub async fn push_ops(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<PushRequest>,
) -> ApiResult<HttpResponse> {
    let req = body.into_inner();
    let resp = db
        .run_push(move |conn| {
            let device = devices::caller_device(conn, &auth)?;
            devices::record_activity(conn, &device, false, None)?;
            push::push(conn, &auth, &device, &req)
        })
        .await?;
    let mut r = HttpResponse::Ok();
    if let Some(secs) = resp.retry_after_secs {
        r.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
    }
    Ok(r.json(resp))
}

/// Changes in the device's scope after `cursor`, oldest first. Stage pages locally and apply
/// them with the final cursor in one transaction when `has_more` is false. A cursor behind the
/// school's compaction horizon is answered 410 `cursor_expired`.
#[utoipa::path(tag = "sync", params(PullQuery), security(("bearer" = [])),
    responses((status = 200, body = PullResponse),
        (status = 410, description = "`cursor_expired`: the change log behind the cursor was compacted; pull without a cursor to rebuild the replica", body = Problem),
        (status = 422, body = Problem)))]
#[get("/sync/pull")]
pub async fn pull_changes(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<PullQuery>,
) -> ApiResult<web::Json<PullResponse>> {
    let q = q.into_inner();
    if q.queued.is_some_and(|n| n > MAX_REPORTED_QUEUE) {
        return Err(crate::errors::ApiError::validation(
            "queued",
            format!("at most {MAX_REPORTED_QUEUE}"),
        ));
    }
    let page = db
        .run(move |conn| {
            let device = devices::caller_device(conn, &auth)?;
            devices::record_activity(conn, &device, true, q.queued)?;
            let scope = devices::scope_of(conn, &auth)?;
            pull::pull(conn, auth.school_id, &scope, q.cursor.as_deref(), q.limit)
        })
        .await?;
    Ok(web::Json(page))
}

/// Per-entity count and hash of the rows in the device's scope at the current version.
#[utoipa::path(tag = "sync", security(("bearer" = [])),
    responses((status = 200, body = SyncDigest)))]
#[get("/sync/digest")]
pub async fn digest(db: web::Data<Db>, auth: AuthUser) -> ApiResult<web::Json<SyncDigest>> {
    let d = db
        .run(move |conn| {
            devices::caller_device(conn, &auth)?;
            let scope = devices::scope_of(conn, &auth)?;
            pull::digest(conn, auth.school_id, &scope)
        })
        .await?;
    Ok(web::Json(d))
}

/// Server-Sent Events (`text/event-stream`): `event: poke` with `data: <version>` whenever the
/// school commits a change (first one at once with the current version), and a comment every
/// 15 s to keep proxies from closing the stream. Clients pull on every poke.
#[utoipa::path(tag = "sync", security(("bearer" = [])),
    responses((status = 200, description = "An endless text/event-stream of pokes", content_type = "text/event-stream", body = String)))]
#[get("/sync/events")]
pub async fn events(
    db: web::Data<Db>,
    pokes: web::Data<Pokes>,
    auth: AuthUser,
) -> ApiResult<HttpResponse> {
    let rx = pokes.subscribe();
    let school = auth.school_id;
    let version = db
        .run(move |conn| {
            devices::caller_device(conn, &auth)?;
            Ok(super::feed::watermark(conn, school)?)
        })
        .await?;
    let first = Bytes::from(format!("event: poke\ndata: {version}\n\n"));
    let stream =
        futures_util::stream::unfold((rx, Some(first)), move |(mut rx, first)| async move {
            if let Some(b) = first {
                return Some((Ok::<_, actix_web::Error>(b), (rx, None)));
            }
            loop {
                match tokio::time::timeout(Duration::from_secs(15), rx.recv()).await {
                    Err(_) => {
                        return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), (rx, None)))
                    }
                    Ok(Ok((s, v))) if s == school => {
                        let b = Bytes::from(format!("event: poke\ndata: {v}\n\n"));
                        return Some((Ok(b), (rx, None)));
                    }
                    Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => continue,
                    Ok(Err(RecvError::Closed)) => return None,
                }
            }
        });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

#[derive(Queryable)]
struct RejectionRow {
    op_id: Uuid,
    client_id: Uuid,
    device_id: Uuid,
    seq: i64,
    mutation: String,
    status: String,
    result: Value,
    args: Value,
    device_created_at: Option<chrono::DateTime<chrono::Utc>>,
    applied_at: chrono::DateTime<chrono::Utc>,
    resolved_at: Option<chrono::DateTime<chrono::Utc>>,
    resolution: Option<String>,
}

/// Ops that were rejected or applied with field conflicts and are not yet resolved, oldest
/// first: the school's for the office, the caller's own devices' for others.
#[utoipa::path(tag = "sync", security(("bearer" = [])),
    responses((status = 200, body = Vec<Rejection>)))]
#[get("/sync/rejections")]
pub async fn list_rejections(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<Vec<Rejection>>> {
    let rows = db
        .run(move |conn| {
            let mut q = applied_ops::table
                .filter(applied_ops::school_id.eq(auth.school_id))
                .filter(applied_ops::status.ne("applied"))
                .filter(applied_ops::resolved_at.is_null())
                .into_boxed();
            if !auth.is_office() {
                let mine = crate::schema::devices::table
                    .filter(crate::schema::devices::school_id.eq(auth.school_id))
                    .filter(crate::schema::devices::user_id.eq(auth.user_id))
                    .select(crate::schema::devices::id);
                q = q.filter(applied_ops::device_id.eq_any(mine));
            }
            let rows: Vec<RejectionRow> = q
                .order(applied_ops::applied_at)
                .limit(1000)
                .select((
                    applied_ops::op_id,
                    applied_ops::client_id,
                    applied_ops::device_id,
                    applied_ops::seq,
                    applied_ops::mutation,
                    applied_ops::status,
                    applied_ops::result,
                    applied_ops::args,
                    applied_ops::device_created_at,
                    applied_ops::applied_at,
                    applied_ops::resolved_at,
                    applied_ops::resolution,
                ))
                .load(conn)?;
            Ok(rows)
        })
        .await?;
    Ok(web::Json(rows.into_iter().map(rejection).collect()))
}

fn rejection(r: RejectionRow) -> Rejection {
    let text = |k: &str| r.result.get(k).and_then(|v| v.as_str()).map(String::from);
    let conflicts: Vec<FieldConflict> = r
        .result
        .get("conflicts")
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default();
    Rejection {
        op_id: r.op_id,
        client_id: r.client_id,
        device_id: r.device_id,
        seq: r.seq,
        mutation: r.mutation,
        status: if r.status == "rejected" {
            OpStatus::Rejected
        } else {
            OpStatus::Conflict
        },
        code: text("code"),
        message: text("message"),
        args: r.args,
        conflicts,
        device_created_at: r.device_created_at,
        decided_at: r.applied_at,
        resolved_at: r.resolved_at,
        resolution: r.resolution,
    }
}

/// Mark a rejected or conflicting op as dealt with, saying what was done. Office for any op;
/// others for their own devices' ops.
#[utoipa::path(tag = "sync", request_body = ResolveRejectionRequest, security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[post("/sync/rejections/{op_id}/resolve")]
pub async fn resolve_rejection(
    db: web::Data<Db>,
    auth: AuthUser,
    op_id: web::Path<Uuid>,
    body: Json<ResolveRejectionRequest>,
) -> ApiResult<HttpResponse> {
    let op_id = op_id.into_inner();
    let resolution = body.into_inner().resolution;
    db.transaction(move |conn| devices::resolve_rejection(conn, &auth, op_id, &resolution))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every device enrolled at the school, revoked ones included: whose, its receipt series, when
/// enrolled and revoked, last seen / pull / push and the edits it reported queued (admin;
/// issue #17, "Devices").
#[utoipa::path(tag = "sync", security(("bearer" = [])),
    responses((status = 200, body = Vec<EnrolledDevice>), (status = 403, body = Problem)))]
#[get("/devices")]
pub async fn list_devices(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<Vec<EnrolledDevice>>> {
    auth.require_admin()?;
    let list = db
        .run(move |conn| Ok(devices::list_enrolled(conn, auth.school_id, None)?))
        .await?;
    Ok(web::Json(list))
}

/// Revokes a device at once: its tokens stop working (403 `device_revoked`), its pushes and
/// pulls are refused, it cannot log in again; its receipt series is never reused. Idempotent
/// (admin; issue #17, "Devices").
#[utoipa::path(tag = "sync", security(("bearer" = [])),
    responses((status = 200, body = EnrolledDevice), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[post("/devices/{id}/revoke")]
pub async fn revoke_device(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<EnrolledDevice>> {
    auth.require_admin()?;
    let id = id.into_inner();
    let d = db
        .transaction(move |conn| devices::revoke(conn, &auth, id))
        .await?;
    Ok(web::Json(d))
}

/// Imports a revoked device's unsent edits from its outbox export (`daftar-agent
/// export-outbox`; at most 1,000 ops per request, in seq order): they are applied as that
/// device's own push would apply them — as its user, numbered from its receipt series, each
/// op exactly once (an op already applied is replayed, so importing a file twice changes
/// nothing) — and rejected ones go to the needs-attention list as usual. Audited as the
/// admin's `outbox_imported` on the device (admin; issue #17, "Devices").
#[utoipa::path(tag = "sync", request_body = OutboxExport, security(("bearer" = [])),
    responses((status = 200, body = PushResponse), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "`device_not_revoked`, `seq_gap` (detail names the expected seq), `op_id_reused`", body = Problem)))]
#[post("/devices/import-outbox")]
pub async fn import_outbox(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<OutboxExport>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let export = body.into_inner();
    if export.format != OUTBOX_EXPORT_FORMAT {
        return Err(ApiError::validation(
            "format",
            format!("not an outbox export (expected “{OUTBOX_EXPORT_FORMAT}”)"),
        ));
    }
    let resp = db
        .run_push(move |conn| {
            let (as_device, device) = devices::import_target(conn, &auth, export.device_id)?;
            let req = PushRequest {
                client_id: export.client_id,
                ops: export.ops,
            };
            let resp = push::push(conn, &as_device, &device, &req)?;
            let new = resp.results.iter().filter(|r| !r.replayed).count();
            devices::record_import(conn, &auth, device.id, req.client_id, req.ops.len(), new)?;
            Ok(resp)
        })
        .await?;
    let mut r = HttpResponse::Ok();
    if let Some(secs) = resp.retry_after_secs {
        r.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
    }
    Ok(r.json(resp))
}
