//! Reading the audit log (issue #17, "Audit log viewer").

use daftar_client_core::protocol::{AuditEvent, AuditQuery};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{audit_log, devices, users};

/// Up to `limit` entries of `school_id`'s audit log that match `q`, newest first (by id: a
/// UUIDv7 made when the entry was written), with the actor's username and display name and
/// the device's name as they are now.
///
/// Cost: the primary key `(school_id, id)` read backwards from `q.before`; an `entity` filter
/// uses `audit_log_by_entity`. The user and device filters have no index of their own (each
/// would be one more index write on every audited change, the sync push's busiest table
/// after the change log), so they read the school's log newest first until the page is full.
pub fn list(
    conn: &mut PgConnection,
    school_id: Uuid,
    q: &AuditQuery,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    let mut query = audit_log::table
        .left_join(
            users::table.on(users::school_id
                .eq(audit_log::school_id)
                .and(audit_log::actor_id.eq(users::id.nullable()))),
        )
        .left_join(
            devices::table.on(devices::school_id
                .eq(audit_log::school_id)
                .and(audit_log::device_id.eq(devices::id.nullable()))),
        )
        .filter(audit_log::school_id.eq(school_id))
        .into_boxed();
    if let Some(u) = q.user_id {
        query = query.filter(audit_log::actor_id.eq(u));
    }
    if let Some(d) = q.device_id {
        query = query.filter(audit_log::device_id.eq(d));
    }
    if let Some(e) = &q.entity {
        query = query.filter(audit_log::entity.eq(e.clone()));
    }
    if let Some(id) = &q.entity_id {
        query = query.filter(audit_log::entity_id.eq(id.clone()));
    }
    if let Some(from) = q.from {
        query = query.filter(audit_log::at.ge(from));
    }
    if let Some(to) = q.to {
        query = query.filter(audit_log::at.lt(to));
    }
    if let Some(before) = q.before {
        query = query.filter(audit_log::id.lt(before));
    }
    type Row = (
        Uuid,
        chrono::DateTime<chrono::Utc>,
        String,
        String,
        String,
        Option<Uuid>,
        Option<String>,
        Option<String>,
        Option<Uuid>,
        Option<String>,
        Option<serde_json::Value>,
        Option<serde_json::Value>,
    );
    let rows: Vec<Row> = query
        .order(audit_log::id.desc())
        .limit(limit)
        .select((
            audit_log::id,
            audit_log::at,
            audit_log::action,
            audit_log::entity,
            audit_log::entity_id,
            audit_log::actor_id,
            users::username.nullable(),
            users::display_name.nullable(),
            audit_log::device_id,
            devices::name.nullable(),
            audit_log::before,
            audit_log::after,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                id,
                at,
                action,
                entity,
                entity_id,
                user_id,
                username,
                user_display_name,
                device_id,
                device_name,
                before,
                after,
            )| AuditEvent {
                id,
                at,
                action,
                entity,
                entity_id,
                user_id,
                username,
                user_display_name,
                device_id,
                device_name,
                before,
                after,
            },
        )
        .collect())
}
