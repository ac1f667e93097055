//! The local store (ARCHITECTURE.md §6): `replica.db`, a disposable mirror of the server rows
//! this device may see (as JSON, with the pull cursor and a staging area), and `outbox.db`, the
//! queue of local edits with their optimistic overlay rows (`synchronous=FULL`; an op and its
//! overlay are one transaction). Reads union the replica with the overlay of undecided ops.
//!
//! Lifeboat (ARCHITECTURE.md §6): both files get `PRAGMA quick_check` at open. A corrupt or
//! missing `replica.db` is moved aside and rebuilt by the next pull; a corrupt `outbox.db` is
//! salvaged row by row (falling back to the newest rolling snapshot) into a fresh file whose
//! ops keep their `op_id`s and are re-sent from a new client id. Only corruption triggers this
//! (SQLite's result code, see [`super::error::is_corruption`]); busy or disk-full errors are
//! returned as they are, keeping their source.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use serde_json::Value;
use uuid::Uuid;

use super::error::{is_corruption, ClientError, ClientResult};
use crate::protocol::sync::{ChangeRow, Cursor, OpOutcome, OpStatus, SyncOp};

/// Versioned migrations of `replica.db`.
pub const REPLICA_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/replica");
/// Versioned migrations of `outbox.db`.
pub const OUTBOX_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/outbox");

/// How many rolling snapshots of `outbox.db` are kept in `snapshots/`.
pub const SNAPSHOTS_KEPT: usize = 3;

/// What opening the store had to repair.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// `replica.db` was corrupt and moved here; it is rebuilt from the server.
    pub replica_moved_to: Option<PathBuf>,
    /// `outbox.db` was corrupt: where it was moved and how many ops were salvaged.
    pub outbox_salvaged: Option<(PathBuf, usize)>,
}

/// One op in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredOp {
    pub op: SyncOp,
    /// `pending`, `in_flight`, `applied`, `rejected` or `conflict`.
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub outcome: Option<OpOutcome>,
    pub applied_version: Option<i64>,
    pub wedged: bool,
    pub resolved: bool,
}

/// Counts of ops by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OpCounts {
    pub pending: i64,
    pub applied: i64,
    pub rejected: i64,
    pub conflict: i64,
    /// Rejected/conflicting ops nobody has resolved yet.
    pub needing_attention: i64,
}

#[derive(QueryableByName)]
struct OpRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    op_id: String,
    #[diesel(sql_type = Text)]
    mutation: String,
    #[diesel(sql_type = Text)]
    args: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    base_version: Option<i64>,
    #[diesel(sql_type = Text)]
    created_at: String,
    #[diesel(sql_type = Text)]
    state: String,
    #[diesel(sql_type = BigInt)]
    attempts: i64,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    outcome: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    applied_version: Option<i64>,
    #[diesel(sql_type = BigInt)]
    wedged: i64,
    #[diesel(sql_type = Nullable<Text>)]
    resolved_at: Option<String>,
}

const OP_COLUMNS: &str = "seq, op_id, mutation, args, base_version, created_at, state, attempts, \
                          last_error, outcome, applied_version, wedged, resolved_at";

impl OpRow {
    fn into_op(self) -> ClientResult<StoredOp> {
        Ok(StoredOp {
            op: SyncOp {
                op_id: self.op_id.parse().map_err(|e| {
                    ClientError::storage_from(format!("op id {} in outbox", self.op_id), e)
                })?,
                seq: self.seq,
                mutation: self.mutation,
                args: serde_json::from_str(&self.args)?,
                base_version: self.base_version,
                created_at: DateTime::parse_from_rfc3339(&self.created_at)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| ClientError::storage_from("op time in outbox", e))?,
            },
            state: self.state,
            attempts: self.attempts,
            last_error: self.last_error,
            outcome: self
                .outcome
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
            applied_version: self.applied_version,
            wedged: self.wedged != 0,
            resolved: self.resolved_at.is_some(),
        })
    }
}

#[derive(QueryableByName)]
struct DataRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    data: String,
}

#[derive(QueryableByName)]
struct OverlayRow {
    #[diesel(sql_type = Text)]
    entity: String,
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    data: String,
}

#[derive(QueryableByName)]
struct KeyValue {
    #[diesel(sql_type = Text)]
    value: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The two local databases of one device.
pub struct Store {
    dir: PathBuf,
    replica: SqliteConnection,
    outbox: SqliteConnection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

/// A failed file operation on `file`, keeping the I/O error.
fn storage(file: &Path, e: std::io::Error) -> ClientError {
    ClientError::storage_from(file.display(), e)
}

/// Opens `path` with SQLite itself and runs `PRAGMA quick_check`, so that a failure carries
/// SQLite's result code: `SQLITE_CORRUPT`/`SQLITE_NOTADB` (or a check that is not `ok`) is
/// [`ClientError::Corrupt`]; anything else (busy, locked, read-only, disk full) is
/// [`ClientError::Storage`] with the SQLite error as its source. A missing file is created.
fn check_file(path: &Path) -> ClientResult<()> {
    let refuse = |e: rusqlite::Error| {
        if is_corruption(&e) {
            ClientError::Corrupt {
                file: path.display().to_string(),
                detail: e.to_string(),
            }
        } else {
            ClientError::storage_from(path.display(), e)
        }
    };
    let conn = rusqlite::Connection::open(path).map_err(refuse)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(refuse)?;
    let verdict: Vec<String> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut q| {
            q.query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(refuse)?;
    if verdict != ["ok"] {
        return Err(ClientError::Corrupt {
            file: path.display().to_string(),
            detail: verdict.join("; "),
        });
    }
    Ok(())
}

fn open_db(
    path: &Path,
    synchronous: &str,
    migrations: EmbeddedMigrations,
) -> ClientResult<SqliteConnection> {
    check_file(path)?;
    let in_file = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let url = path.to_string_lossy().to_string();
    let mut conn = SqliteConnection::establish(&url)
        .map_err(|e| ClientError::storage_from(path.display(), e))?;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous}; \
         PRAGMA foreign_keys = ON;"
    ))
    .map_err(|e| ClientError::storage_from(path.display(), e))?;
    conn.run_pending_migrations(migrations)
        .map_err(|e| ClientError::storage(in_file(&e)))?;
    Ok(conn)
}

mod lifeboat;
mod outbox;
mod replica;

use lifeboat::{move_aside, salvage};
use outbox::insert_overlay;

impl Store {
    /// Opens (creating, migrating, and if needed repairing) the store in `dir`.
    ///
    /// Errors: [`ClientError::Storage`] for I/O, busy or full disks (nothing is moved);
    /// [`ClientError::Corrupt`] only if a salvaged outbox cannot be written either.
    pub fn open(dir: &Path) -> ClientResult<(Store, OpenReport)> {
        std::fs::create_dir_all(dir).map_err(|e| storage(dir, e))?;
        let mut report = OpenReport::default();
        let replica_path = dir.join("replica.db");
        let replica = match open_db(&replica_path, "NORMAL", REPLICA_MIGRATIONS) {
            Err(ClientError::Corrupt { .. }) => {
                report.replica_moved_to = Some(move_aside(&replica_path)?);
                open_db(&replica_path, "NORMAL", REPLICA_MIGRATIONS)?
            }
            r => r?,
        };
        let outbox_path = dir.join("outbox.db");
        let outbox = match open_db(&outbox_path, "FULL", OUTBOX_MIGRATIONS) {
            Err(ClientError::Corrupt { .. }) => {
                let moved = move_aside(&outbox_path)?;
                let mut fresh = open_db(&outbox_path, "FULL", OUTBOX_MIGRATIONS)?;
                let n = salvage(&moved, &mut fresh, &dir.join("snapshots"))?;
                report.outbox_salvaged = Some((moved, n));
                fresh
            }
            r => r?,
        };
        let mut store = Store {
            dir: dir.to_path_buf(),
            replica,
            outbox,
        };
        if report.replica_moved_to.is_some() || report.outbox_salvaged.is_some() {
            tracing::warn!(?report, "lifeboat repaired the local store");
        }
        // An op left in flight by a crash is simply pending again (the server deduplicates).
        diesel::sql_query("UPDATE ops SET state = 'pending' WHERE state = 'in_flight'")
            .execute(&mut store.outbox)?;
        Ok((store, report))
    }

    /// The directory holding `replica.db`, `outbox.db` and `snapshots/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    // ----- key/value --------------------------------------------------------------------

    /// A device setting from `outbox.db` (`server_url`, `client_id`, `refresh_token`, …).
    pub fn device(&mut self, key: &str) -> ClientResult<Option<String>> {
        Ok(diesel::sql_query("SELECT value FROM device WHERE key = ?")
            .bind::<Text, _>(key)
            .get_result::<KeyValue>(&mut self.outbox)
            .optional()?
            .map(|k| k.value))
    }

    /// Stores a device setting (durably).
    pub fn set_device(&mut self, key: &str, value: &str) -> ClientResult<()> {
        diesel::sql_query("INSERT OR REPLACE INTO device (key, value) VALUES (?, ?)")
            .bind::<Text, _>(key)
            .bind::<Text, _>(value)
            .execute(&mut self.outbox)?;
        Ok(())
    }

    /// Removes a device setting.
    pub fn clear_device(&mut self, key: &str) -> ClientResult<()> {
        diesel::sql_query("DELETE FROM device WHERE key = ?")
            .bind::<Text, _>(key)
            .execute(&mut self.outbox)?;
        Ok(())
    }

    // ----- reads ------------------------------------------------------------------------

    /// Overlay rows to show: ops not yet decided, and applied ops whose server rows the
    /// replica has not pulled yet. Later ops win.
    fn overlay(&mut self, entity: &str) -> ClientResult<HashMap<String, Value>> {
        let version = self.replica_version()?;
        let rows: Vec<OverlayRow> = diesel::sql_query(
            "SELECT o.entity, o.id, o.data FROM overlay o JOIN ops p ON p.seq = o.op_seq
             WHERE o.entity = ? AND (p.state IN ('pending', 'in_flight')
                OR (p.state IN ('applied', 'conflict') AND p.applied_version > ?))
             ORDER BY o.op_seq",
        )
        .bind::<Text, _>(entity)
        .bind::<BigInt, _>(version)
        .load(&mut self.outbox)?;
        let mut map = HashMap::new();
        for r in rows {
            let _ = r.entity;
            map.insert(r.id, serde_json::from_str(&r.data)?);
        }
        Ok(map)
    }

    fn union(
        &mut self,
        entity: &str,
        replica: Vec<DataRow>,
        keep: impl Fn(&Value) -> bool,
    ) -> ClientResult<Vec<Value>> {
        let mut overlay = self.overlay(entity)?;
        let mut out = Vec::with_capacity(replica.len());
        for r in replica {
            match overlay.remove(&r.id) {
                Some(v) => out.push(v),
                None => out.push(serde_json::from_str(&r.data)?),
            }
        }
        out.extend(overlay.into_values().filter(|v| keep(v)));
        Ok(out)
    }

    /// Every row of `entity` (replica ∪ overlay), as JSON.
    pub fn rows(&mut self, entity: &str) -> ClientResult<Vec<Value>> {
        let rows: Vec<DataRow> = diesel::sql_query("SELECT id, data FROM rows WHERE entity = ?")
            .bind::<Text, _>(entity)
            .load(&mut self.replica)?;
        self.union(entity, rows, |_| true)
    }

    /// Rows of `entity` whose JSON `field` equals `value` (replica ∪ overlay).
    pub fn rows_where(
        &mut self,
        entity: &str,
        field: &str,
        value: &str,
    ) -> ClientResult<Vec<Value>> {
        let rows: Vec<DataRow> = diesel::sql_query(format!(
            "SELECT id, data FROM rows WHERE entity = ? AND json_extract(data, '$.{field}') = ?"
        ))
        .bind::<Text, _>(entity)
        .bind::<Text, _>(value)
        .load(&mut self.replica)?;
        let f = field.to_string();
        let v = value.to_string();
        let all = self.union(entity, rows, move |row| {
            row.get(&f).and_then(|x| x.as_str()) == Some(v.as_str())
        })?;
        Ok(all
            .into_iter()
            .filter(|r| r.get(field).and_then(|x| x.as_str()) == Some(value))
            .collect())
    }

    /// Rows of `entity` whose JSON `field` is present and not null (replica ∪ overlay).
    pub fn rows_with(&mut self, entity: &str, field: &str) -> ClientResult<Vec<Value>> {
        let rows: Vec<DataRow> = diesel::sql_query(format!(
            "SELECT id, data FROM rows WHERE entity = ? AND json_extract(data, '$.{field}') IS NOT NULL"
        ))
        .bind::<Text, _>(entity)
        .load(&mut self.replica)?;
        let f = field.to_string();
        let all = self.union(entity, rows, move |row| {
            row.get(&f).is_some_and(|x| !x.is_null())
        })?;
        Ok(all
            .into_iter()
            .filter(|r| r.get(field).is_some_and(|x| !x.is_null()))
            .collect())
    }

    /// One row by id (replica ∪ overlay).
    pub fn row(&mut self, entity: &str, id: &str) -> ClientResult<Option<Value>> {
        if let Some(v) = self.overlay(entity)?.remove(id) {
            return Ok(Some(v));
        }
        let r: Option<DataRow> =
            diesel::sql_query("SELECT id, data FROM rows WHERE entity = ? AND id = ?")
                .bind::<Text, _>(entity)
                .bind::<Text, _>(id)
                .get_result(&mut self.replica)
                .optional()?;
        r.map(|r| serde_json::from_str(&r.data).map_err(Into::into))
            .transpose()
    }
}

fn set_meta(c: &mut SqliteConnection, key: &str, value: &str) -> QueryResult<()> {
    diesel::sql_query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")
        .bind::<Text, _>(key)
        .bind::<Text, _>(value)
        .execute(c)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    use diesel_migrations::MigrationHarness;
    use serde_json::json;

    use super::*;

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Schema {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = Nullable<Text>)]
        sql: Option<String>,
    }

    fn schema(path: &Path) -> Vec<Schema> {
        let mut c = SqliteConnection::establish(&path.to_string_lossy()).expect("open");
        diesel::sql_query(
            "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .load(&mut c)
        .expect("schema")
    }

    #[test]
    fn an_upgraded_outbox_equals_a_fresh_one_and_keeps_its_ops() {
        let old = tempfile::tempdir().expect("tmp");
        {
            // A device still on the first outbox version, with an op queued.
            let path = old.path().join("outbox.db");
            let mut c = SqliteConnection::establish(&path.to_string_lossy()).expect("open");
            c.run_next_migration(OUTBOX_MIGRATIONS).expect("v1");
            diesel::sql_query(
                "INSERT INTO ops (op_id, mutation, args, created_at)
                 VALUES ('0192f0c0-0000-7000-8000-000000000001', 'payment.record@1', '{}', '2026-11-21T10:00:00+00:00')",
            )
            .execute(&mut c)
            .expect("op");
        }
        let (mut upgraded, _) = Store::open(old.path()).expect("upgrade");
        let fresh = tempfile::tempdir().expect("tmp");
        drop(Store::open(fresh.path()).expect("fresh"));
        assert_eq!(
            schema(&old.path().join("outbox.db")),
            schema(&fresh.path().join("outbox.db"))
        );
        assert_eq!(
            schema(&old.path().join("replica.db")),
            schema(&fresh.path().join("replica.db"))
        );
        assert_eq!(upgraded.pending_ops(10).expect("ops").len(), 1);
    }

    fn queue(store: &mut Store, n: usize) -> Vec<Uuid> {
        (0..n)
            .map(|i| {
                store
                    .enqueue(
                        "payment.record@1",
                        &json!({ "n": i }),
                        None,
                        &[(
                            "payments".into(),
                            format!("p{i}"),
                            json!({ "id": format!("p{i}") }),
                        )],
                    )
                    .expect("enqueue")
                    .op_id
            })
            .collect()
    }

    fn scribble(path: &Path, offset: u64, len: usize) {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .expect("open for corruption");
        f.seek(SeekFrom::Start(offset)).expect("seek");
        f.write_all(&vec![0xA5; len]).expect("scribble");
    }

    #[test]
    fn the_changed_version_moves_only_when_a_pull_brings_rows() {
        let dir = tempfile::tempdir().expect("tmp");
        let (mut s, _) = Store::open(dir.path()).expect("open");
        let row = |version, deleted| ChangeRow {
            entity: "students".into(),
            id: "s1".into(),
            version,
            deleted,
            row: (!deleted).then(|| json!({ "id": "s1" })),
        };
        s.stage(&[row(3, false)], "3").expect("stage");
        s.apply_staged("3", 3).expect("apply");
        assert_eq!(s.replica_changed_version().expect("changed"), 3);
        // An empty pull: the cursor moves with the server's watermark, the change mark does not.
        s.apply_staged("9", 9).expect("apply empty");
        assert_eq!(s.replica_version().expect("version"), 9);
        assert_eq!(s.replica_changed_version().expect("changed"), 3);
        // A deletion is a change.
        s.stage(&[row(12, true)], "12").expect("stage tombstone");
        s.apply_staged("12", 12).expect("apply tombstone");
        assert_eq!(s.replica_changed_version().expect("changed"), 12);
    }

    #[test]
    fn a_corrupt_replica_is_moved_aside_and_starts_empty() {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let (mut s, _) = Store::open(dir.path()).expect("open");
            s.stage(
                &[ChangeRow {
                    entity: "students".into(),
                    id: "s1".into(),
                    version: 3,
                    deleted: false,
                    row: Some(json!({ "id": "s1" })),
                }],
                "3",
            )
            .expect("stage");
            s.apply_staged("3", 3).expect("apply");
            queue(&mut s, 2);
        }
        scribble(&dir.path().join("replica.db"), 0, 100);
        let (mut s, report) = Store::open(dir.path()).expect("reopen");
        let moved = report.replica_moved_to.expect("replica moved aside");
        assert!(moved.exists(), "the corrupt file is kept for inspection");
        assert_eq!(
            s.cursor().expect("cursor"),
            "",
            "a fresh replica pulls from scratch"
        );
        assert!(s.rows("students").expect("rows").is_empty());
        assert_eq!(
            report.outbox_salvaged, None,
            "the outbox was fine and untouched"
        );
        assert_eq!(s.pending_ops(10).expect("ops").len(), 2);
    }

    #[test]
    fn a_corrupt_outbox_is_salvaged_row_by_row_with_the_original_op_ids() {
        let dir = tempfile::tempdir().expect("tmp");
        let (ids, index_page) = {
            let (mut s, _) = Store::open(dir.path()).expect("open");
            s.set_device("client_id", "old-client").expect("device");
            s.set_device("server_url", "http://example.invalid")
                .expect("device");
            let ids = queue(&mut s, 200);
            #[derive(QueryableByName)]
            struct Root {
                #[diesel(sql_type = BigInt)]
                rootpage: i64,
            }
            let root: Root =
                diesel::sql_query("SELECT rootpage FROM sqlite_master WHERE name = 'ops_by_state'")
                    .get_result(&mut s.outbox)
                    .expect("root page");
            (ids, root.rootpage)
        };
        // Tear one page of an index: the table rows stay readable, the file is corrupt.
        let page = 4096u64;
        scribble(
            &dir.path().join("outbox.db"),
            (index_page as u64 - 1) * page + 8,
            2000,
        );
        let (mut s, report) = Store::open(dir.path()).expect("reopen");
        let (moved, n) = report.outbox_salvaged.expect("salvaged");
        assert!(moved.exists());
        assert_eq!(n, 200, "every op was still readable");
        let salvaged: Vec<Uuid> = s
            .pending_ops(1000)
            .expect("ops")
            .iter()
            .map(|o| o.op.op_id)
            .collect();
        assert_eq!(
            salvaged, ids,
            "same op ids, same order, seq renumbered from 1"
        );
        assert_eq!(s.pending_ops(1).expect("ops")[0].op.seq, 1);
        assert_eq!(
            s.device("client_id").expect("device"),
            None,
            "a new client id is needed"
        );
        assert_eq!(
            s.device("needs_new_client").expect("device").as_deref(),
            Some("1")
        );
        assert_eq!(
            s.device("server_url").expect("device").as_deref(),
            Some("http://example.invalid")
        );
        assert_eq!(
            s.rows("payments").expect("overlay").len(),
            200,
            "overlay rows came along"
        );
    }

    #[test]
    fn an_unreadable_outbox_falls_back_to_the_newest_snapshot() {
        let dir = tempfile::tempdir().expect("tmp");
        let ids = {
            let (mut s, _) = Store::open(dir.path()).expect("open");
            let ids = queue(&mut s, 3);
            s.snapshot_outbox().expect("snapshot");
            queue(&mut s, 1);
            ids
        };
        scribble(&dir.path().join("outbox.db"), 0, 4096);
        let (mut s, report) = Store::open(dir.path()).expect("reopen");
        assert_eq!(report.outbox_salvaged.map(|x| x.1), Some(3));
        let salvaged: Vec<Uuid> = s
            .pending_ops(10)
            .expect("ops")
            .iter()
            .map(|o| o.op.op_id)
            .collect();
        assert_eq!(
            salvaged, ids,
            "what the snapshot held; the op after it is the bounded loss"
        );
    }

    /// SQLite's own result codes decide (not the words of its message): a file that is not a
    /// database is corruption; a locked database and a read-only one are not, and keep the
    /// SQLite error as their source.
    #[test]
    fn only_corruption_counts_as_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
        assert!(matches!(
            check_file(&garbage),
            Err(ClientError::Corrupt { .. })
        ));

        let locked = dir.path().join("locked.db");
        let holder = rusqlite::Connection::open(&locked).unwrap();
        holder
            .execute_batch("CREATE TABLE t(x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1);")
            .unwrap();
        let refused = rusqlite::Connection::open(&locked)
            .unwrap()
            .query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
            .unwrap_err();
        assert_eq!(
            refused.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy)
        );
        assert!(!is_corruption(&refused));
        let kept = ClientError::storage_from(locked.display(), refused);
        let source = std::error::Error::source(&kept).expect("the SQLite error is kept");
        assert!(source.downcast_ref::<rusqlite::Error>().is_some());
        drop(holder);

        let read_only = rusqlite::Connection::open_with_flags(
            &locked,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let refused = read_only
            .execute("INSERT INTO t VALUES (2)", [])
            .unwrap_err();
        assert_eq!(
            refused.sqlite_error_code(),
            Some(rusqlite::ErrorCode::ReadOnly)
        );
        assert!(!is_corruption(&refused));
    }
}
