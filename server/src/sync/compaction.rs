//! Compaction of the change log (ARCHITECTURE.md §6).
//!
//! The change log keeps one row per live row (each write replaces the row's entry), so what
//! grows without bound is tombstones: the entries that tell devices a row was deleted.
//! [`compact`] removes the tombstones of one school deleted before a cutoff and raises the
//! school's horizon to the highest version it removed. A pull whose cursor is behind the
//! horizon may have missed a removed tombstone, so it is answered 410 `cursor_expired`
//! ([`check_cursor`]) and the device rebuilds its replica from a fresh snapshot; its outbox is
//! untouched.

use chrono::{DateTime, Utc};
use daftar_client_core::protocol::sync::Cursor;
use diesel::prelude::*;
use uuid::Uuid;

use crate::errors::{ApiError, ApiResult};
use crate::schema::{change_log, change_log_horizons};

/// What one school's compaction did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// Tombstones removed.
    pub removed: u64,
    /// The school's horizon afterwards (0: never compacted): cursors below it are expired.
    pub horizon: i64,
}

/// Removes `school_id`'s tombstones deleted before `before` (UTC) and raises its horizon, in
/// the caller's transaction (one statement each, so a concurrent pull sees both or neither).
///
/// Errors: the database.
pub fn compact(
    conn: &mut PgConnection,
    school_id: Uuid,
    before: DateTime<Utc>,
) -> QueryResult<Compaction> {
    let removed: Vec<i64> = diesel::delete(
        change_log::table
            .filter(change_log::school_id.eq(school_id))
            .filter(change_log::deleted.eq(true))
            .filter(change_log::deleted_at.lt(before)),
    )
    .returning(change_log::version)
    .get_results(conn)?;
    let Some(&highest) = removed.iter().max() else {
        return Ok(Compaction {
            removed: 0,
            horizon: horizon(conn, school_id)?,
        });
    };
    let horizon: i64 = diesel::insert_into(change_log_horizons::table)
        .values((
            change_log_horizons::school_id.eq(school_id),
            change_log_horizons::version.eq(highest),
            change_log_horizons::compacted_at.eq(Utc::now()),
        ))
        .on_conflict(change_log_horizons::school_id)
        .do_update()
        .set((
            change_log_horizons::version.eq(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "greatest(change_log_horizons.version, excluded.version)",
            )),
            change_log_horizons::compacted_at.eq(Utc::now()),
        ))
        .returning(change_log_horizons::version)
        .get_result(conn)?;
    Ok(Compaction {
        removed: removed.len() as u64,
        horizon,
    })
}

/// The school's horizon: the highest version whose tombstones may have been removed (0 when
/// never compacted).
pub fn horizon(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<i64> {
    change_log_horizons::table
        .find(school_id)
        .select(change_log_horizons::version)
        .first(conn)
        .optional()
        .map(|v| v.unwrap_or(0))
}

/// Refuses a pull session that starts from `cursor` when tombstones it has not seen may be
/// gone: a complete cursor (`v`, where the device's last pull ended) below the horizon. A
/// first pull (version 0) is a snapshot and needs no tombstones, so it is never refused; nor
/// is a page cursor (`v/entity/id`, the middle of a pull whose start was checked): the rows of
/// a snapshot sit at their old versions, so its page cursors are often below the horizon.
///
/// Not covered: a pull stopped in the middle and resumed more than the retention period later
/// may miss the tombstones of rows deleted in between; the retention period (90 days by
/// default) is chosen to make that a non-case.
///
/// A cursor ahead of `watermark` (the pull's, [`super::feed::watermark`]) is refused too: the
/// server never handed it out, so the database was restored into a new cluster and rebased
/// ([`crate::db::rebase_change_log_if_restored`]).
///
/// Errors: 410 `cursor_expired` naming the horizon, or saying the cursor is ahead.
pub fn check_cursor(
    conn: &mut PgConnection,
    school_id: Uuid,
    cursor: &Cursor,
    watermark: i64,
) -> ApiResult<()> {
    if cursor.version > watermark {
        return Err(ApiError::Gone {
            code: "cursor_expired",
            detail: format!(
                "this cursor (version {}) is ahead of the server (version {watermark}): this \
                 server never handed it out, or its database was restored from a backup; pull \
                 again without a cursor to rebuild the replica",
                cursor.version
            ),
        });
    }
    if cursor.version == 0 || *cursor != Cursor::at_version(cursor.version) {
        return Ok(());
    }
    let horizon = horizon(conn, school_id)?;
    if cursor.version < horizon {
        return Err(ApiError::Gone {
            code: "cursor_expired",
            detail: format!(
                "the change log up to version {horizon} was compacted and this cursor is at \
                 version {}: pull again without a cursor to rebuild the replica",
                cursor.version
            ),
        });
    }
    Ok(())
}
