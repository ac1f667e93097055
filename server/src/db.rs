//! The one way server code reaches PostgreSQL (ARCHITECTURE.md §2).
//!
//! Diesel is blocking, so every call goes through [`Db::run`] / [`Db::transaction`]: a
//! semaphore sized to the pool bounds concurrency, then the pooled connection is taken
//! *inside* `web::block` and released before the future resolves. No connection is ever held
//! across an `.await`, and none is taken while another is held.

use std::sync::Arc;
use std::time::Duration;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::sql_types::BigInt;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tokio::sync::Semaphore;

use crate::errors::{ApiError, ApiResult};

/// Migrations from the workspace's `migrations/` folder, embedded at build time (`build.rs`
/// reruns the build when that folder changes).
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations");

/// Advisory-lock key serialising migrations across server instances ("daftar01" as ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x6461_6674_6172_3031;

/// An r2d2 pool of PostgreSQL connections.
pub type PgPool = Pool<ConnectionManager<PgConnection>>;

/// Builds a pool of `size` connections to `url`; waiting longer than 5 s for a connection is
/// answered 503 by [`Db`].
///
/// Errors: the database is unreachable.
pub fn build_pool(url: &str, size: u32) -> anyhow::Result<PgPool> {
    let manager = ConnectionManager::<PgConnection>::new(url);
    Pool::builder()
        .max_size(size)
        .connection_timeout(Duration::from_secs(5))
        .build(manager)
        .map_err(|e| anyhow::anyhow!("connecting to PostgreSQL: {e}"))
}

/// Every live function the database's triggers run (`server/sql/functions.sql`), the one place
/// they are written; [`run_migrations`] applies it.
pub const FUNCTIONS_SQL: &str = include_str!("../sql/functions.sql");

/// Runs pending migrations, then applies [`FUNCTIONS_SQL`] when its SHA-256 differs from the
/// one recorded in `sql_functions` — all under a session-level advisory lock, so concurrently
/// starting servers migrate once. Returns the versions applied (and `sql/functions.sql` when
/// the functions were replaced).
///
/// Errors: a migration failed (the failing migration is rolled back), or the functions did.
pub fn run_migrations(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"))
        .and_then(|mut applied| {
            if apply_functions(conn)? {
                applied.push("sql/functions.sql".into());
            }
            if let Some(v) = rebase_change_log_if_restored(conn)? {
                applied.push(format!("change log rebased to version {v}"));
            }
            Ok(applied)
        });
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    result
}

/// Applies [`FUNCTIONS_SQL`] in one transaction unless `sql_functions` already records its
/// hash. Returns whether it did.
fn apply_functions(conn: &mut PgConnection) -> anyhow::Result<bool> {
    use crate::schema::sql_functions;
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(FUNCTIONS_SQL.as_bytes()).to_vec();
    conn.transaction(|c| {
        let stored: Option<Vec<u8>> = sql_functions::table
            .select(sql_functions::sha256)
            .first(c)
            .optional()?;
        if stored.as_deref() == Some(hash.as_slice()) {
            return Ok(false);
        }
        diesel::connection::SimpleConnection::batch_execute(c, FUNCTIONS_SQL)?;
        diesel::delete(sql_functions::table).execute(c)?;
        diesel::insert_into(sql_functions::table)
            .values(sql_functions::sha256.eq(&hash))
            .execute(c)?;
        Ok(true)
    })
    .map_err(|e: diesel::result::Error| anyhow::anyhow!("applying sql/functions.sql: {e}"))
}

/// What [`rebase_change_log_if_restored`] did: `None` when the log was consistent with the cluster's
/// transaction ids, else the version every logged row was moved to.
pub type Rebase = Option<i64>;

/// Puts the change log right after a restore into another cluster (`server::sync::feed`, "Dump and restore"): when any
/// logged version is at or above the current transaction id, every row is moved to the
/// current id and every school's horizon raised to it, in one transaction. Cheap when
/// nothing is wrong: one index probe per school.
pub fn rebase_change_log_if_restored(conn: &mut PgConnection) -> QueryResult<Rebase> {
    conn.transaction(|conn| {
        #[derive(QueryableByName)]
        struct Probe {
            #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
            highest: Option<i64>,
            #[diesel(sql_type = BigInt)]
            now: i64,
        }
        let p: Probe = diesel::sql_query(
            "SELECT (SELECT max(m) FROM schools s, LATERAL (
                        SELECT max(c.version) AS m FROM change_log c WHERE c.school_id = s.id) x)
                        AS highest,
                    change_version() AS now",
        )
        .get_result(conn)?;
        match p.highest {
            Some(h) if h >= p.now => {
                diesel::sql_query("UPDATE change_log SET version = $1")
                    .bind::<BigInt, _>(p.now)
                    .execute(conn)?;
                diesel::sql_query(
                    "INSERT INTO change_log_horizons (school_id, version, compacted_at)
                     SELECT id, $1, now() FROM schools
                     ON CONFLICT (school_id) DO UPDATE SET version = EXCLUDED.version,
                         compacted_at = EXCLUDED.compacted_at",
                )
                .bind::<BigInt, _>(p.now)
                .execute(conn)?;
                tracing::warn!(
                    highest = h,
                    now = p.now,
                    "the change log is ahead of this cluster's transaction ids (a restore \
                     into a new cluster?): rebased; every device takes a fresh snapshot"
                );
                Ok(Some(p.now))
            }
            _ => Ok(None),
        }
    })
}

/// True when every embedded migration has been applied.
pub fn migrations_current(conn: &mut PgConnection) -> anyhow::Result<bool> {
    conn.has_pending_migration(MIGRATIONS)
        .map(|pending| !pending)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The pool plus the semaphore bounding concurrent blocking calls to its size, and a second,
/// smaller one for sync pushes ([`Db::run_push`]).
///
/// Why pushes have their own limit (issue #16, found by `daftar-peak-bench`): a push of a few
/// hundred ops holds its connection for a second or more, and when offices reconnect together
/// (the morning after an outage) twenty pushes took every pooled connection at once, so every
/// other school's registers, payments and dues queued behind them: p99 near 1 s for all of
/// them. With at most [`Db::push_limit`] pushes holding connections, the rest of the pool
/// always serves everything else; the pushes over the limit wait their turn (in arrival order,
/// tokio's semaphore is fair), up to [`Db::PUSH_QUEUE_WAIT`], and are then answered 503 with
/// `Retry-After` like any transient failure (the device retries the same batch; its ops are
/// applied exactly once either way).
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    permits: Arc<Semaphore>,
    push_permits: Arc<Semaphore>,
    push_limit: usize,
}

impl Db {
    /// How long a push waits for a push permit before it is answered 503 `service_unavailable`.
    pub const PUSH_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

    /// Wraps `pool`; pushes are limited to [`Db::default_push_limit`] of its size.
    pub fn new(pool: PgPool) -> Self {
        let limit = Self::default_push_limit(pool.max_size());
        Self::with_push_limit(pool, limit)
    }

    /// Wraps `pool` with at most `push_limit` concurrent pushes (at least 1; at most the pool
    /// size, where the limit stops mattering).
    pub fn with_push_limit(pool: PgPool, push_limit: u32) -> Self {
        let size = pool.max_size() as usize;
        let push_limit = (push_limit as usize).clamp(1, size);
        Db {
            pool,
            permits: Arc::new(Semaphore::new(size)),
            push_permits: Arc::new(Semaphore::new(push_limit)),
            push_limit,
        }
    }

    /// The default push limit for a pool of `pool_size` connections: a quarter of it, at least
    /// one (4 of the default 16), so three quarters of the pool are never held by pushes.
    pub fn default_push_limit(pool_size: u32) -> u32 {
        (pool_size / 4).max(1)
    }

    /// How many pushes may hold a connection at once.
    pub fn push_limit(&self) -> usize {
        self.push_limit
    }

    /// [`Db::run`] for a sync push: first waits for one of [`Db::push_limit`] push permits (at
    /// most [`Db::PUSH_QUEUE_WAIT`]), then for a connection as any call does.
    ///
    /// Errors: [`ApiError::Unavailable`] (503, `Retry-After`) when no push permit came in time;
    /// otherwise as [`Db::run`].
    pub async fn run_push<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut PgConnection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let _push_permit =
            match tokio::time::timeout(Self::PUSH_QUEUE_WAIT, self.push_permits.acquire()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_)) => return Err(ApiError::Unavailable),
                Err(_) => {
                    tracing::warn!(
                        limit = self.push_limit,
                        "push waited too long for a push permit"
                    );
                    return Err(ApiError::Unavailable);
                }
            };
        self.run(f).await
    }

    /// The underlying pool (for CLI commands that run outside actix).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    ///
    /// Errors: whatever `f` returns; [`ApiError::Unavailable`] when no connection can be had.
    pub async fn run<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut PgConnection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ApiError::Unavailable)?;
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().map_err(|e| {
                tracing::warn!(error = %e, "no database connection");
                ApiError::Unavailable
            })?;
            f(&mut conn)
        })
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
    }

    /// Like [`Db::run`], inside one transaction: one logical change commits or rolls back
    /// whole.
    pub async fn transaction<T, F>(&self, f: F) -> ApiResult<T>
    where
        F: FnOnce(&mut PgConnection) -> ApiResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.run(move |conn| conn.transaction(f)).await
    }
}

/// Keeps the planner statistics of the tables one long transaction fills up to date while it
/// fills them with one school's rows: roster imports and invoice runs write thousands of rows,
/// one statement per row.
///
/// Why: for a school the statistics have never seen (a new school in a database where the
/// statistics know only a few other schools), PostgreSQL estimates `school_id = $1` at about
/// one row. The foreign-key check it runs for every inserted row (`SELECT 1 FROM families
/// WHERE school_id = $1 AND id = $2 FOR KEY SHARE`) then ties between the primary key and any
/// smaller index that starts with `school_id`; with the smaller one it reads every row of the
/// school written so far, so the transaction turns quadratic (BENCHMARKS.md, "the stalled
/// 100,000-student load"; test `api::new_school_bulk`).
///
/// The same stale statistics also keep cached plans stale: a generic plan (Diesel's prepared
/// statements, PostgreSQL's own foreign-key checks) made while a table was tiny is a
/// sequential scan, and it is only planned again when the table's statistics change. In a
/// small database a new school's import grows its tables many times over, so that scan reads
/// the whole table once per row.
///
/// How: [`StatisticsRefresh::wrote`] counts rows per table. When a table's count reaches
/// [`StatisticsRefresh::FIRST_CHECK_AT`], and then at each doubling of it, it checks what the
/// planner knows: the rows it expects for `school_id = <school>` (`EXPLAIN`) and the table's
/// rows at its last `ANALYZE` (`pg_class.reltuples`). When the first is below a quarter of the
/// rows written, or the second below twice the rows written (the table has grown by a third or
/// more since), it runs `ANALYZE <table> (school_id)` inside the transaction, which counts the
/// transaction's own uncommitted rows and makes cached plans be planned again. A big database
/// whose statistics already give a new school a sensible size (many schools: the average) pays
/// two small queries per doubling and no `ANALYZE`.
///
/// `ANALYZE` holds a SHARE UPDATE EXCLUSIVE lock on the table until the transaction ends. It
/// does not block reads or writes, but two bulk transactions refreshing the same tables would
/// wait on each other (or deadlock). So a refresh waits at most
/// [`StatisticsRefresh::LOCK_WAIT`] for the lock and is skipped (and tried again at the next
/// doubling) when another transaction holds it. A refresh is an optimisation: its failure is
/// logged and never fails the caller's transaction (it runs in a savepoint).
#[derive(Debug)]
pub struct StatisticsRefresh {
    school_id: uuid::Uuid,
    /// Table → (rows written, count at which to check next).
    tables: std::collections::BTreeMap<&'static str, (u64, u64)>,
}

impl StatisticsRefresh {
    /// Rows written to a table before its statistics are first checked.
    pub const FIRST_CHECK_AT: u64 = 64;
    /// Longest wait for a table's `ANALYZE` lock, as a PostgreSQL `lock_timeout`.
    pub const LOCK_WAIT: &'static str = "200ms";

    /// Nothing counted yet; rows will be written for `school_id`.
    pub fn new(school_id: uuid::Uuid) -> Self {
        StatisticsRefresh {
            school_id,
            tables: Default::default(),
        }
    }

    /// Notes `rows` more rows of the school written to `table` (a table name from the code,
    /// never from input) in the current transaction; at a threshold, refreshes the table's
    /// statistics if the planner underestimates the school.
    ///
    /// Never fails: a failed check or refresh is logged (a broken connection fails the
    /// caller's next statement anyway).
    pub fn wrote(&mut self, conn: &mut PgConnection, table: &'static str, rows: u64) {
        debug_assert!(table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        let (written, next) = self
            .tables
            .entry(table)
            .or_insert((0, Self::FIRST_CHECK_AT));
        *written += rows;
        if *written < *next {
            return;
        }
        let written = *written;
        *next = written.saturating_mul(2);
        let started = std::time::Instant::now();
        let school_id = self.school_id;
        let refreshed = conn.transaction(|c| {
            let expected = estimated_rows(c, table, school_id)?;
            let analysed = analysed_rows(c, table)?;
            if expected.saturating_mul(4) >= written && analysed >= written.saturating_mul(2) {
                return Ok(None);
            }
            #[derive(QueryableByName)]
            struct Setting {
                #[diesel(sql_type = diesel::sql_types::Text)]
                value: String,
            }
            let before = diesel::sql_query(
                "SELECT current_setting('lock_timeout') AS value, \
                        set_config('lock_timeout', $1, true) AS _set",
            )
            .bind::<diesel::sql_types::Text, _>(Self::LOCK_WAIT)
            .get_result::<Setting>(c)?;
            diesel::sql_query(format!("ANALYZE {table} (school_id)")).execute(c)?;
            diesel::sql_query("SELECT set_config('lock_timeout', $1, true)")
                .bind::<diesel::sql_types::Text, _>(before.value)
                .execute(c)?;
            Ok::<_, diesel::result::Error>(Some((expected, analysed)))
        });
        match refreshed {
            Ok(None) => {}
            Ok(Some((expected, analysed))) => tracing::debug!(
                table,
                rows = written,
                expected,
                analysed,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "planner statistics refreshed"
            ),
            Err(e) => tracing::warn!(
                table,
                rows = written,
                error = %e,
                "planner statistics not refreshed; will try again"
            ),
        }
    }
}

/// The planner's estimate of `table`'s rows with `school_id` (from `EXPLAIN (FORMAT JSON)`).
fn estimated_rows(conn: &mut PgConnection, table: &str, school_id: uuid::Uuid) -> QueryResult<u64> {
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = diesel::sql_types::Json, column_name = "QUERY PLAN")]
        plan: serde_json::Value,
    }
    let plan = diesel::sql_query(format!(
        "EXPLAIN (FORMAT JSON) SELECT 1 FROM {table} WHERE school_id = $1"
    ))
    .bind::<diesel::sql_types::Uuid, _>(school_id)
    .get_result::<Plan>(conn)?;
    Ok(plan.plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0) as u64)
}

/// `table`'s rows at its last `ANALYZE` or `VACUUM` (`pg_class.reltuples`; 0 when never).
fn analysed_rows(conn: &mut PgConnection, table: &str) -> QueryResult<u64> {
    #[derive(QueryableByName)]
    struct Rows {
        #[diesel(sql_type = diesel::sql_types::Double)]
        rows: f64,
    }
    let rows = diesel::sql_query(
        "SELECT greatest(reltuples, 0)::float8 AS rows FROM pg_class WHERE oid = $1::regclass",
    )
    .bind::<diesel::sql_types::Text, _>(table)
    .get_result::<Rows>(conn)?;
    Ok(rows.rows as u64)
}
