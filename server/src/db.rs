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

/// Runs pending migrations under a session-level advisory lock, so concurrently starting
/// servers migrate once. Returns the versions applied.
///
/// Errors: a migration failed (the failing migration is rolled back).
pub fn run_migrations(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    let result = conn
        .run_pending_migrations(MIGRATIONS)
        .map(|v| v.iter().map(|m| m.to_string()).collect::<Vec<_>>())
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"));
    diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")).execute(conn)?;
    result
}

/// True when every embedded migration has been applied.
pub fn migrations_current(conn: &mut PgConnection) -> anyhow::Result<bool> {
    conn.has_pending_migration(MIGRATIONS)
        .map(|pending| !pending)
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// The pool plus the semaphore bounding concurrent blocking calls to its size.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    permits: Arc<Semaphore>,
}

impl Db {
    /// Wraps `pool`.
    pub fn new(pool: PgPool) -> Self {
        let size = pool.max_size() as usize;
        Db {
            pool,
            permits: Arc::new(Semaphore::new(size)),
        }
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
