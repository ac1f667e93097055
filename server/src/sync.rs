//! Sync protocol v1 (ARCHITECTURE.md §6): device enrolment, `push` of op batches with
//! exactly-once application, `pull` of the change log within a device's scope, SSE pokes fed
//! by PostgreSQL LISTEN/NOTIFY, and the digest that proves a replica equals the server.
//!
//! The change log itself is written by database triggers (migration `000006_sync`), so every
//! writing transaction — a pushed op or a plain REST call — takes the school's next version
//! and logs its rows, with no code path able to forget it.

pub mod compaction;
pub mod devices;
pub mod events;
pub mod handlers;
pub mod mutations;
pub mod pull;
pub mod push;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use uuid::Uuid;

/// Takes (or returns the already taken) version of `school_id` for the current transaction.
///
/// The version row stays locked until COMMIT, which is what makes version order equal commit
/// order. Ordinary writers never call this: the deferred `stamp_version` trigger takes the
/// version at COMMIT, after every other lock, so the lock is held only for the commit. A push
/// calls it as the last statement of a chunk, to tell the client the version its ops commit at.
pub fn take_version(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct V {
        #[diesel(sql_type = BigInt)]
        v: i64,
    }
    diesel::sql_query("SELECT sync_version($1) AS v")
        .bind::<SqlUuid, _>(school_id)
        .get_result::<V>(conn)
        .map(|r| r.v)
}

/// The school's last committed version (0 before any change).
pub fn current_version(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<i64> {
    use crate::schema::sync_versions;
    sync_versions::table
        .find(school_id)
        .select(sync_versions::version)
        .first(conn)
        .optional()
        .map(|v| v.unwrap_or(0))
}
