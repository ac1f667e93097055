//! The commit-ordered change feed without a per-school lock (issue #16; ARCHITECTURE.md §6).
//!
//! # How it works
//!
//! Every synced table's triggers log each changed row into `change_log` (one row per server
//! row: its latest image or a tombstone) with **version = the id of the transaction that
//! wrote it** (`pg_current_xact_id()`, a 64-bit `xid8`: epoch and xid, read as `i64`;
//! `change_version()` in `server/sql/functions.sql`). A writing transaction registers itself
//! with its school by a *shared* transaction-level advisory lock (`sync_register`), which no
//! writer ever waits for, and may log the rows of one school only.
//!
//! A pull of school K runs in one repeatable-read snapshot S and reads up to the
//! **watermark** W ([`watermark`], `sync_watermark()`):
//!
//! > W = min(xmax(S), min{ x ∈ xip(S) : x is not registered with a school other than K }) − 1
//!
//! It returns K's rows with `cursor < (version, entity, row_key)` and `version ≤ W`, and a
//! complete pull's cursor is `W` (never less than the cursor it started from).
//!
//! # Why a pull never skips or repeats a committed change
//!
//! 1. *Below the watermark nothing changes any more.* Take any transaction y that logs a row
//!    of K after S was taken. Either y was running at S — then it is in xip(S), and it is not
//!    registered elsewhere (it logs K, and a transaction logs one school only), so W < y — or
//!    it started after S, so y ≥ xmax(S) > W. A transaction below xmin(S) had ended before S.
//!    So every change to K's log made after S has a version above W, and K's rows at or below
//!    W that S sees are final: committed, and never to be rewritten with a version ≤ W.
//! 2. *No skip.* A pull hands out every row of K in (cursor, W] that S sees; by (1) nothing
//!    else will ever exist there, and the next pull starts after W.
//! 3. *No repeat.* A change is a (row, version) pair; the next pull reads versions above W only.
//! 4. *Monotonic cursor.* A later snapshot's watermark is never lower: a transaction below the
//!    earlier W that still runs was running then, and was registered elsewhere then (locks are
//!    held to the end), so it is passed over again. The server also keeps `max(cursor, W)`.
//! 5. *A row changed twice arrives in commit order.* Writers of one row are serialised by its
//!    row lock (the log's `ON CONFLICT DO UPDATE` waits for the previous writer to end), so the
//!    log holds the last committed image. If a device received x's image, the pull that carried
//!    it had W ≥ x, and by (1) the next writer y of that row has y > W: its image comes in a
//!    later pull. Versions of different rows are transaction ids, not commit order, which no
//!    device relies on: a pull's pages are applied together.
//! 6. *The registration read is safe.* `pg_locks` is read after S is taken. A transaction seen
//!    registered elsewhere stays so until it ends; one that has not registered yet counts as
//!    bounding (the cautious side); `sync_register` raises an error (the transaction rolls
//!    back) if a transaction logs rows of a second school, including two schools in one
//!    statement.
//!
//! # Known pitfalls, and what is done about each
//!
//! - **A long transaction holds the watermark back.** One registered with K holds K's feed
//!   only (its rows must come before what follows, by design); one registered with another
//!   school holds nothing here. A transaction that has an id but has not registered (it wrote
//!   only unsynced tables so far) holds every school's feed until it registers or ends, so the
//!   server's own long writers register first (the push chunks, `register_writer`); the rest
//!   are single short statements. BENCHMARKS.md measures a school's propagation while another
//!   school's transaction is held open.
//! - **Wraparound.** Versions are `xid8`, which carries the epoch and does not wrap. `pg_locks`
//!   shows 32-bit xids; they are compared modulo 2³² with running transactions, which always
//!   lie within 2³¹ of each other.
//! - **Dump and restore.** Restored into a new cluster, transaction ids start again below the
//!   stored versions. [`crate::db::rebase_change_log_if_restored`] (run at start-up, after the migrations) detects it, moves every logged
//!   row to the current transaction's id and raises every school's compaction horizon to it,
//!   so each device's next pull is refused 410 `cursor_expired` and it takes a fresh snapshot
//!   (its outbox untouched); a cursor ahead of the watermark is refused the same way
//!   ([`super::compaction::check_cursor`]). A restore into the same cluster
//!   (point-in-time recovery) keeps the id counter and needs nothing.
//! - **Read replicas.** `pg_locks` on a standby does not show the primary's transactions, so
//!   pulls must run on the primary.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use uuid::Uuid;

#[derive(QueryableByName)]
struct V {
    #[diesel(sql_type = BigInt)]
    v: i64,
}

/// The highest version of `school_id` a pull may read in the caller's snapshot: see the
/// module doc. Call it first in a repeatable-read transaction (outside one it is a fresh
/// snapshot's value, fine for "where is the school now").
pub fn watermark(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<i64> {
    diesel::sql_query("SELECT sync_watermark($1) AS v")
        .bind::<SqlUuid, _>(school_id)
        .get_result::<V>(conn)
        .map(|r| r.v)
}

/// The version the current transaction's changes carry (its `xid8`); assigns the
/// transaction an id if it has none.
pub fn commit_version(conn: &mut PgConnection) -> QueryResult<i64> {
    diesel::sql_query("SELECT change_version() AS v")
        .get_result::<V>(conn)
        .map(|r| r.v)
}

/// Registers the current transaction as a writer of `school_id` before it writes anything,
/// so that it never holds other schools' watermarks back (module doc, "long transaction").
/// Errors: the database's, including when the transaction already logged another school.
pub fn register_writer(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<()> {
    diesel::sql_query("SELECT sync_register($1)")
        .bind::<SqlUuid, _>(school_id)
        .execute(conn)
        .map(|_| ())
}
