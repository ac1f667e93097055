//! `pull` and `digest`: the change log read within a device's scope (ARCHITECTURE.md §6).

use std::collections::BTreeMap;

use daftar_client_core::protocol::sync::{
    ChangeRow, Cursor, EntityDigest, PullResponse, SyncDigest, SyncScope,
};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Jsonb, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::errors::{ApiError, ApiResult};

/// Largest page a pull returns.
pub const MAX_PULL: u32 = 5000;
/// Page size when `limit` is not given.
pub const DEFAULT_PULL: u32 = 1000;

#[derive(QueryableByName)]
struct LogRow {
    #[diesel(sql_type = Text)]
    entity: String,
    #[diesel(sql_type = Text)]
    row_key: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Bool)]
    deleted: bool,
    #[diesel(sql_type = Nullable<Jsonb>)]
    row: Option<serde_json::Value>,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    entity: String,
    #[diesel(sql_type = Text)]
    row_key: String,
    #[diesel(sql_type = BigInt)]
    version: i64,
}

/// Teachers' rows: their classes' rows (the classes themselves, enrolments, registers, marks,
/// assignments) and the students enrolled in those classes; `$2` binds the classes.
const TAUGHT: &str = "class_id = ANY($2) OR (entity = 'students' AND student_id IN (
    SELECT e.student_id FROM enrollments e
    WHERE e.school_id = $1 AND e.class_id = ANY($2) AND e.active))";

/// Parents' rows: their families' rows, their children's marks and enrolments, and the
/// classes their children are or were enrolled in (as REST's `access::Scope`); `$3` binds the
/// families.
const FAMILY: &str = "family_id = ANY($3) OR (entity IN ('attendance_marks', 'enrollments')
    AND student_id IN (SELECT s.id FROM students s
        WHERE s.school_id = $1 AND s.family_id = ANY($3)))
  OR (entity = 'classes' AND class_id IN (SELECT e.class_id FROM enrollments e
        JOIN students s ON s.school_id = e.school_id AND s.id = e.student_id
        WHERE e.school_id = $1 AND s.family_id = ANY($3)))";

/// The SQL condition selecting rows of `scope`: what everyone sees, and the rows of each
/// role's part (a teacher who is also a parent: both parts; issue #17). `$1` binds the
/// school, `$2` the taught classes and `$3` the families ([`scope_ids`]).
fn scope_filter(scope: &SyncScope) -> String {
    match scope {
        SyncScope::School => "TRUE".into(),
        SyncScope::Classes { .. } => format!("(everyone OR {TAUGHT})"),
        SyncScope::Families { .. } => format!("(everyone OR {FAMILY})"),
        SyncScope::ClassesAndFamilies { .. } => format!("(everyone OR {TAUGHT} OR {FAMILY})"),
    }
}

/// The taught classes (`$2`) and the families (`$3`) of `scope`.
fn scope_ids(scope: &SyncScope) -> (Vec<Uuid>, Vec<Uuid>) {
    (
        scope
            .taught_class_ids()
            .map(<[Uuid]>::to_vec)
            .unwrap_or_default(),
        scope.family_ids().to_vec(),
    )
}

/// Runs `f` in one read-only repeatable-read snapshot with the school's watermark in that
/// snapshot ([`super::feed`]): every change at or below it is visible and final.
fn in_snapshot<T>(
    conn: &mut PgConnection,
    school_id: Uuid,
    f: impl FnOnce(&mut PgConnection, i64) -> ApiResult<T>,
) -> ApiResult<T> {
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(|conn| {
            let version = super::feed::watermark(conn, school_id)?;
            f(conn, version)
        })
}

/// One page of changes after `cursor` in `scope`, up to the school's watermark, read in one
/// repeatable-read snapshot, so the returned cursor never skips a commit ([`super::feed`]).
///
/// Errors: validation naming `cursor` or `limit` (1..=5000); 410 `cursor_expired` when the
/// change log behind the cursor was compacted, or the cursor is ahead of the server (a
/// database restored into a new cluster) ([`super::compaction`]).
pub fn pull(
    conn: &mut PgConnection,
    school_id: Uuid,
    scope: &SyncScope,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> ApiResult<PullResponse> {
    let cursor: Cursor = cursor.unwrap_or("").parse().map_err(
        |e: daftar_client_core::protocol::sync::BadCursor| {
            ApiError::validation("cursor", e.to_string())
        },
    )?;
    let limit = limit.unwrap_or(DEFAULT_PULL);
    if !(1..=MAX_PULL).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("must be 1 to {MAX_PULL}"),
        ));
    }
    let sql = format!(
        "SELECT entity, row_key, version, deleted, row FROM change_log
         WHERE school_id = $1 AND (version, entity, row_key) > ($4, $5, $6) AND version <= $8
           AND {}
         ORDER BY version, entity, row_key LIMIT $7",
        scope_filter(scope)
    );
    in_snapshot(conn, school_id, |conn, version| {
        super::compaction::check_cursor(conn, school_id, &cursor, version)?;
        let (class_ids, family_ids) = scope_ids(scope);
        let rows: Vec<LogRow> = diesel::sql_query(&sql)
            .bind::<SqlUuid, _>(school_id)
            .bind::<Array<SqlUuid>, _>(class_ids)
            .bind::<Array<SqlUuid>, _>(family_ids)
            .bind::<BigInt, _>(cursor.version)
            .bind::<Text, _>(&cursor.entity)
            .bind::<Text, _>(&cursor.id)
            .bind::<Integer, _>(limit as i32)
            .bind::<BigInt, _>(version)
            .load(conn)?;
        let has_more = rows.len() == limit as usize;
        let next = match rows.last() {
            Some(last) if has_more => Cursor {
                version: last.version,
                entity: last.entity.clone(),
                id: last.row_key.clone(),
            },
            // Everything up to the watermark has been read.
            _ => Cursor::at_version(version.max(cursor.version)),
        };
        Ok(PullResponse {
            changes: rows
                .into_iter()
                .map(|r| ChangeRow {
                    entity: r.entity,
                    id: r.row_key,
                    version: r.version,
                    deleted: r.deleted,
                    row: r.row,
                })
                .collect(),
            cursor: next.to_string(),
            has_more,
            version,
            scope: scope.clone(),
        })
    })
}

/// Per-entity count and order-independent hash of the live rows in `scope` at or below the
/// school's watermark (one snapshot). It equals a replica's whose cursor is at the same
/// version when no transaction of the school is open.
pub fn digest(
    conn: &mut PgConnection,
    school_id: Uuid,
    scope: &SyncScope,
) -> ApiResult<SyncDigest> {
    let sql = format!(
        "SELECT entity, row_key, version FROM change_log
         WHERE school_id = $1 AND NOT deleted AND version <= $4 AND {}",
        scope_filter(scope)
    );
    in_snapshot(conn, school_id, |conn, version| {
        let (class_ids, family_ids) = scope_ids(scope);
        let rows: Vec<KeyRow> = diesel::sql_query(&sql)
            .bind::<SqlUuid, _>(school_id)
            .bind::<Array<SqlUuid>, _>(class_ids)
            .bind::<Array<SqlUuid>, _>(family_ids)
            .bind::<BigInt, _>(version)
            .load(conn)?;
        let mut entities: BTreeMap<String, EntityDigest> = BTreeMap::new();
        for r in rows {
            entities
                .entry(r.entity.clone())
                .or_default()
                .add(&r.entity, &r.row_key, r.version);
        }
        Ok(SyncDigest { version, entities })
    })
}
