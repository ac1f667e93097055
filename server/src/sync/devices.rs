//! Device enrolment and per-device scope (ARCHITECTURE.md §6).

use chrono::Utc;
use daftar_client_core::protocol::sync::{EnrolledDevice, SyncScope};
use daftar_client_core::protocol::{Role, Roles};
use diesel::prelude::*;
use uuid::Uuid;

use crate::audit::{Actor, AuditEntry};
use crate::auth::AuthUser;
use crate::errors::{ApiError, ApiResult};
use crate::schema::{
    applied_ops, device_activity, devices, refresh_tokens, school_counters, sync_clients, users,
};

/// An enrolled, unrevoked device.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub user_id: Uuid,
    pub name: String,
    pub kind: String,
    pub receipt_series: String,
}

/// The device kind a user of `roles` enrols as: `office` when admin or accountant is among
/// them, else `teacher` when teacher is, else `parent`.
pub fn kind_for(roles: Roles) -> &'static str {
    if roles.is_office() {
        "office"
    } else if roles.has(Role::Teacher) {
        "teacher"
    } else {
        "parent"
    }
}

/// Enrols a device for `auth`'s user: a new device row with the next receipt series of the
/// school (`D1`, `D2`, …) and its first sync client, with its audit row. Returns
/// (device, client_id).
///
/// Errors: validation naming `name` (1..=100 characters).
pub fn register(
    conn: &mut PgConnection,
    auth: &AuthUser,
    name: &str,
) -> ApiResult<(DeviceRow, Uuid)> {
    let name = crate::validate::text("name", name, 100)?;
    let n: i64 = diesel::insert_into(school_counters::table)
        .values((
            school_counters::school_id.eq(auth.school_id),
            school_counters::name.eq("device_series"),
            school_counters::value.eq(1i64),
        ))
        .on_conflict((school_counters::school_id, school_counters::name))
        .do_update()
        .set(school_counters::value.eq(school_counters::value + 1))
        .returning(school_counters::value)
        .get_result(conn)?;
    let row = DeviceRow {
        school_id: auth.school_id,
        id: Uuid::now_v7(),
        user_id: auth.user_id,
        name,
        kind: kind_for(auth.roles).into(),
        receipt_series: format!("D{n}"),
    };
    diesel::insert_into(devices::table)
        .values((
            devices::school_id.eq(row.school_id),
            devices::id.eq(row.id),
            devices::user_id.eq(row.user_id),
            devices::name.eq(&row.name),
            devices::kind.eq(&row.kind),
            devices::receipt_series.eq(&row.receipt_series),
            devices::created_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    let client_id = new_client(conn, &row)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "device", row.id).created(
        conn,
        &serde_json::json!({
            "name": row.name, "kind": row.kind,
            "receipt_series": row.receipt_series, "client_id": client_id,
        }),
    )?;
    Ok((row, client_id))
}

/// Records that rejected or conflicting op `op_id` was dealt with, saying what was done
/// (`resolution`, 1–500 characters), with its audit row. The office may resolve any op of the
/// school; anyone else only their own devices' ops.
///
/// Errors: 422 naming `resolution`; 404 for an op that is not rejected or conflicting; 403 for
/// another user's op.
pub fn resolve_rejection(
    conn: &mut PgConnection,
    auth: &AuthUser,
    op_id: Uuid,
    resolution: &str,
) -> ApiResult<()> {
    let resolution = crate::validate::text("resolution", resolution, 500)?;
    let device: Option<Uuid> = applied_ops::table
        .find((auth.school_id, op_id))
        .filter(applied_ops::status.ne("applied"))
        .select(applied_ops::device_id)
        .first(conn)
        .optional()?;
    let device = device.ok_or(ApiError::NotFound("rejected op"))?;
    if !auth.is_office() {
        let owner: Uuid = devices::table
            .find((auth.school_id, device))
            .select(devices::user_id)
            .first(conn)?;
        if owner != auth.user_id {
            return Err(ApiError::forbidden("not an op of your devices"));
        }
    }
    diesel::update(applied_ops::table.find((auth.school_id, op_id)))
        .set((
            applied_ops::resolved_at.eq(Utc::now()),
            applied_ops::resolved_by.eq(auth.user_id),
            applied_ops::resolution.eq(&resolution),
        ))
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "sync_op", op_id).event(
        conn,
        "resolved",
        Some(&serde_json::json!({ "resolution": resolution })),
    )?;
    Ok(())
}

/// A fresh sync client (seq from 1) for `device`.
pub fn new_client(conn: &mut PgConnection, device: &DeviceRow) -> QueryResult<Uuid> {
    let client_id = Uuid::now_v7();
    diesel::insert_into(sync_clients::table)
        .values((
            sync_clients::school_id.eq(device.school_id),
            sync_clients::client_id.eq(client_id),
            sync_clients::device_id.eq(device.id),
        ))
        .execute(conn)?;
    Ok(client_id)
}

/// The caller's device: the token must be bound to an enrolled, unrevoked device of this user.
///
/// Errors: 403 `device_required` for a token without a device; 403 `device_revoked`.
pub fn caller_device(conn: &mut PgConnection, auth: &AuthUser) -> ApiResult<DeviceRow> {
    let Some(device_id) = auth.device_id else {
        return Err(ApiError::Refused {
            code: "device_required",
            detail: "sync needs a device-bound token: enrol with POST /api/v1/sync/devices".into(),
        });
    };
    let row: Option<(DeviceRow, Option<chrono::DateTime<Utc>>)> = devices::table
        .find((auth.school_id, device_id))
        .select((DeviceRow::as_select(), devices::revoked_at))
        .first(conn)
        .optional()?;
    match row {
        Some((d, None)) if d.user_id == auth.user_id => Ok(d),
        _ => Err(ApiError::device_revoked()),
    }
}

/// What a device of `auth`'s user syncs: its [`crate::access::Scope`], read now.
pub fn scope_of(conn: &mut PgConnection, auth: &AuthUser) -> QueryResult<SyncScope> {
    Ok(crate::access::Scope::of(conn, auth)?.to_sync())
}

/// How stale a device's `last_seen_at` / `last_pull_at` / `last_push_at` may get before a
/// call rewrites them: pulls are the sync hot path (every poke, every poll), so a call within
/// this window of the last recorded one only reads the row.
pub const ACTIVITY_RESOLUTION_SECS: i64 = 60;

/// Records that `device` called now: a pull (with the queued-edit count it reported, when it
/// did) or a push (issue #17, "Devices": the devices page shows last seen, last pull, last push
/// and queued edits). One primary-key read; the row is written only when it is missing, when
/// what it shows is older than [`ACTIVITY_RESOLUTION_SECS`], or when the reported count
/// changed, so most pulls add no write (and no commit) to their path. Two calls at once may
/// each keep the other's older time: the figures are for people, to the minute. Not audited.
pub fn record_activity(
    conn: &mut PgConnection,
    device: &DeviceRow,
    pulled: bool,
    queued: Option<u32>,
) -> QueryResult<()> {
    type At = Option<chrono::DateTime<Utc>>;
    let now = Utc::now();
    let queued = queued.map(|q| q.min(i32::MAX as u32) as i32);
    let known: Option<(chrono::DateTime<Utc>, At, At, Option<i32>)> = device_activity::table
        .find((device.school_id, device.id))
        .select((
            device_activity::last_seen_at,
            device_activity::last_pull_at,
            device_activity::last_push_at,
            device_activity::queued_ops,
        ))
        .first(conn)
        .optional()?;
    let stale = |at: At| at.is_none_or(|t| (now - t).num_seconds() >= ACTIVITY_RESOLUTION_SECS);
    let (mut pull_at, mut push_at, mut known_queued) = (None, None, None);
    if let Some((seen, pull, push, q)) = known {
        let this_call = if pulled { pull } else { push };
        let queue_changed = queued.is_some() && queued != q;
        if !stale(Some(seen)) && !stale(this_call) && !queue_changed {
            return Ok(());
        }
        (pull_at, push_at, known_queued) = (pull, push, q);
    }
    if pulled {
        pull_at = Some(now);
    } else {
        push_at = Some(now);
    }
    let row = (
        device_activity::school_id.eq(device.school_id),
        device_activity::device_id.eq(device.id),
        device_activity::last_seen_at.eq(now),
        device_activity::last_pull_at.eq(pull_at),
        device_activity::last_push_at.eq(push_at),
        device_activity::queued_ops.eq(queued.or(known_queued)),
    );
    diesel::insert_into(device_activity::table)
        .values(row)
        .on_conflict((device_activity::school_id, device_activity::device_id))
        .do_update()
        .set((
            device_activity::last_seen_at.eq(now),
            device_activity::last_pull_at.eq(pull_at),
            device_activity::last_push_at.eq(push_at),
            device_activity::queued_ops.eq(queued.or(known_queued)),
        ))
        .execute(conn)?;
    Ok(())
}

type DeviceListRow = (
    Uuid,
    String,
    String,
    String,
    Uuid,
    String,
    String,
    chrono::DateTime<Utc>,
    Option<chrono::DateTime<Utc>>,
    Option<chrono::DateTime<Utc>>,
    Option<chrono::DateTime<Utc>>,
    Option<chrono::DateTime<Utc>>,
    Option<i32>,
);

fn enrolled(r: DeviceListRow) -> EnrolledDevice {
    let (id, name, kind, receipt_series, user_id, username, user_display_name, enrolled_at) =
        (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7);
    EnrolledDevice {
        id,
        name,
        kind,
        receipt_series,
        user_id,
        username,
        user_display_name,
        enrolled_at,
        revoked_at: r.8,
        last_seen_at: r.9,
        last_pull_at: r.10,
        last_push_at: r.11,
        queued_ops: r.12,
    }
}

/// Every device enrolled at `school_id` (revoked ones too), oldest enrolment first, or only
/// device `only`.
pub fn list_enrolled(
    conn: &mut PgConnection,
    school_id: Uuid,
    only: Option<Uuid>,
) -> QueryResult<Vec<EnrolledDevice>> {
    let mut q = devices::table
        .inner_join(
            users::table.on(users::school_id
                .eq(devices::school_id)
                .and(users::id.eq(devices::user_id))),
        )
        .left_join(
            device_activity::table.on(device_activity::school_id
                .eq(devices::school_id)
                .and(device_activity::device_id.eq(devices::id))),
        )
        .filter(devices::school_id.eq(school_id))
        .into_boxed();
    if let Some(id) = only {
        q = q.filter(devices::id.eq(id));
    }
    let rows: Vec<DeviceListRow> = q
        .order((devices::created_at, devices::id))
        .select((
            devices::id,
            devices::name,
            devices::kind,
            devices::receipt_series,
            devices::user_id,
            users::username,
            users::display_name,
            devices::created_at,
            devices::revoked_at,
            device_activity::last_seen_at.nullable(),
            device_activity::last_pull_at.nullable(),
            device_activity::last_push_at.nullable(),
            device_activity::queued_ops.nullable(),
        ))
        .load(conn)?;
    Ok(rows.into_iter().map(enrolled).collect())
}

/// Revokes device `id` (issue #17, "Devices"): marks it revoked and revokes every refresh-token
/// family issued to it, so its access tokens stop working on their next request (answered 403
/// `device_revoked`) and it cannot refresh or log in again; its pushes and pulls are refused
/// with the same code. Its receipt series stays taken (series are never reused). With its
/// audit row. Revoking a revoked device changes nothing and answers the same.
///
/// Errors: 404 for a device not enrolled at the caller's school.
pub fn revoke(conn: &mut PgConnection, auth: &AuthUser, id: Uuid) -> ApiResult<EnrolledDevice> {
    let revoked_at: Option<Option<chrono::DateTime<Utc>>> = devices::table
        .find((auth.school_id, id))
        .select(devices::revoked_at)
        .for_update()
        .first(conn)
        .optional()?;
    match revoked_at {
        None => return Err(ApiError::NotFound("device")),
        Some(Some(_)) => {}
        Some(None) => {
            let now = Utc::now();
            diesel::update(devices::table.find((auth.school_id, id)))
                .set(devices::revoked_at.eq(Some(now)))
                .execute(conn)?;
            let tokens = diesel::update(
                refresh_tokens::table
                    .filter(refresh_tokens::school_id.eq(auth.school_id))
                    .filter(refresh_tokens::device_id.eq(id))
                    .filter(refresh_tokens::revoked_at.is_null()),
            )
            .set(refresh_tokens::revoked_at.eq(Some(now)))
            .execute(conn)?;
            AuditEntry::new(auth.school_id, Actor::from(auth), "device", id).event(
                conn,
                "revoked",
                Some(&serde_json::json!({ "refresh_tokens_revoked": tokens })),
            )?;
        }
    }
    list_enrolled(conn, auth.school_id, Some(id))?
        .pop()
        .ok_or(ApiError::NotFound("device"))
}

/// Who an imported outbox of device `device_id` is applied as (issue #17, "Devices"): the
/// device's own user and the device itself, so its ops are checked, numbered (its receipt
/// series) and audited exactly as its own push would have been. Only a revoked device's
/// outbox is imported: a device still enrolled sends its own edits.
///
/// Errors: 404 for a device not enrolled at the admin's school; 409 `device_not_revoked`.
pub fn import_target(
    conn: &mut PgConnection,
    admin: &AuthUser,
    device_id: Uuid,
) -> ApiResult<(AuthUser, DeviceRow)> {
    let found: Option<(DeviceRow, Option<chrono::DateTime<Utc>>)> = devices::table
        .filter(devices::school_id.eq(admin.school_id))
        .filter(devices::id.eq(device_id))
        .select((DeviceRow::as_select(), devices::revoked_at))
        .first(conn)
        .optional()?;
    let Some((device, revoked_at)) = found else {
        return Err(ApiError::NotFound("device"));
    };
    if revoked_at.is_none() {
        return Err(ApiError::Conflict {
            code: "device_not_revoked",
            detail: format!(
                "device “{}” is still enrolled and sends its own edits; revoke it before importing its outbox",
                device.name
            ),
        });
    }
    let as_device = AuthUser {
        user_id: device.user_id,
        school_id: admin.school_id,
        roles: crate::tenancy::roles_of(conn, admin.school_id, device.user_id)?,
        device_id: Some(device.id),
    };
    Ok((as_device, device))
}

/// Records that `admin` imported `ops` ops of device `device_id`'s outbox (client
/// `client_id`), of which `applied` were new; one audit event on the device.
pub fn record_import(
    conn: &mut PgConnection,
    admin: &AuthUser,
    device_id: Uuid,
    client_id: Uuid,
    ops: usize,
    applied: usize,
) -> QueryResult<()> {
    AuditEntry::new(admin.school_id, Actor::from(admin), "device", device_id).event(
        conn,
        "outbox_imported",
        Some(&serde_json::json!({ "client_id": client_id, "ops": ops, "newly_decided": applied })),
    )
}
