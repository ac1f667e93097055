//! The PostgreSQL test harness (ARCHITECTURE.md §8), usable from every crate.
//!
//! One throwaway cluster per test process: started on first use with `fsync=off` in a
//! temporary directory (via [`daftar_server::embedded_pg`], so as root it runs as the
//! `postgres` OS user), a template database migrated once, and every [`TestDb`] a fresh
//! database cloned from the template (`CREATE DATABASE … TEMPLATE`). The cluster is stopped
//! when the process exits. With `DAFTAR_TEST_DATABASE_URL` (a superuser URL to an existing
//! server) the template and test databases are made there instead.
//!
//! No test depends on a server someone started by hand, and no two tests share a database.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use anyhow::Context;
use daftar_server::db::{build_pool, run_migrations, Db};
use daftar_server::embedded_pg::{ClusterOptions, EmbeddedCluster};
use diesel::prelude::*;

pub mod bulk;
pub mod rest_bench;
pub mod server;
pub mod sim;
pub mod spreadsheets;

/// Seeds the demo school with every login's password set to `password`.
///
/// Panics on failure (tests only).
pub fn seed_demo(conn: &mut diesel::PgConnection, password: &str) {
    daftar_server::demo::seed(conn, Some(password), &daftar_server::auth::password::hash)
        .expect("seed demo");
}

const TEMPLATE: &str = "daftar_test_template";

struct Server {
    /// `postgres://…/` with the database name left off.
    base_url: String,
    /// Serialises `CREATE DATABASE … TEMPLATE` (PostgreSQL refuses concurrent use of a template
    /// that has connections; creation itself is cheap).
    create_lock: Mutex<()>,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static CLUSTER: Mutex<Option<(EmbeddedCluster, tempfile::TempDir)>> = Mutex::new(None);
static NEXT: AtomicU32 = AtomicU32::new(0);

extern "C" fn stop_cluster_at_exit() {
    if let Ok(mut guard) = CLUSTER.lock() {
        // Dropping stops PostgreSQL, then removes its directory.
        guard.take();
    }
}

fn base_of(url: &str) -> String {
    match url.rfind('/') {
        Some(i) if i > "postgres://".len() => url[..=i].to_string(),
        _ => format!("{url}/"),
    }
}

fn start() -> anyhow::Result<Server> {
    let base_url = match std::env::var("DAFTAR_TEST_DATABASE_URL") {
        Ok(url) => base_of(&url),
        Err(_) => {
            let dir = tempfile::Builder::new()
                .prefix("daftar-test-pg-")
                .tempdir_in("/tmp")?;
            // The cluster may run as another OS user; let it into the directory.
            std::fs::set_permissions(
                dir.path(),
                std::os::unix::fs::PermissionsExt::from_mode(0o755),
            )?;
            let mut options = ClusterOptions::new(dir.path().join("cluster"));
            options.durable = false;
            let cluster =
                EmbeddedCluster::start(&options).context("starting the test PostgreSQL cluster")?;
            let url = base_of(&cluster.url("postgres"));
            *CLUSTER
                .lock()
                .map_err(|_| anyhow::anyhow!("cluster lock poisoned"))? = Some((cluster, dir));
            // SAFETY: registering a plain extern "C" fn with no captured state.
            unsafe { libc::atexit(stop_cluster_at_exit) };
            url
        }
    };
    let mut admin = PgConnection::establish(&format!("{base_url}postgres"))?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {TEMPLATE}")).execute(&mut admin)?;
    diesel::sql_query(format!("CREATE DATABASE {TEMPLATE}")).execute(&mut admin)?;
    let mut template = PgConnection::establish(&format!("{base_url}{TEMPLATE}"))?;
    run_migrations(&mut template)?;
    Ok(Server {
        base_url,
        create_lock: Mutex::new(()),
    })
}

fn server() -> &'static Server {
    match SERVER.get_or_init(|| start().map_err(|e| format!("{e:#}"))) {
        Ok(s) => s,
        Err(e) => panic!("test PostgreSQL unavailable: {e}"),
    }
}

/// A database of its own for one test, migrated (cloned from the template). Dropped at the
/// end of the test.
pub struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    /// A fresh migrated database.
    ///
    /// Panics when no PostgreSQL can be started (the message says why).
    pub fn new() -> Self {
        let s = server();
        let name = format!(
            "daftar_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        {
            let _guard = s.create_lock.lock().unwrap_or_else(|p| p.into_inner());
            let mut admin = PgConnection::establish(&format!("{}postgres", s.base_url))
                .expect("connect to test cluster");
            diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE}"))
                .execute(&mut admin)
                .expect("clone template database");
        }
        TestDb {
            url: format!("{}{name}", s.base_url),
            name,
        }
    }

    /// A copy of this database as it stands (`CREATE DATABASE … TEMPLATE` this one): the same
    /// rows and the same ids, so that one workload can be run two ways and the results compared
    /// row for row (issue #16). Close every connection to this database first; PostgreSQL
    /// refuses to copy a database in use, and so this panics naming it.
    pub fn copy(&self) -> TestDb {
        let s = server();
        let name = format!(
            "daftar_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = PgConnection::establish(&format!("{}postgres", s.base_url))
            .expect("connect to test cluster");
        diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {}", self.name))
            .execute(&mut admin)
            .unwrap_or_else(|e| {
                panic!(
                    "copy database {} (is a connection still open?): {e}",
                    self.name
                )
            });
        TestDb {
            url: format!("{}{name}", s.base_url),
            name,
        }
    }

    /// Connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A new connection.
    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to test database")
    }

    /// A pool-backed [`Db`] of `size` connections, as the server uses.
    pub fn db(&self, size: u32) -> Db {
        Db::new(build_pool(&self.url, size).expect("test pool"))
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let s = server();
        if let Ok(mut admin) = PgConnection::establish(&format!("{}postgres", s.base_url)) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut admin);
        }
    }
}
