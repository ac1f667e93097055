//! Pokes: "school S committed a change at version V", heard from PostgreSQL (`NOTIFY
//! daftar_sync`, queued by `sync_register()` once per writing transaction and delivered at
//! COMMIT) and fanned out to this instance's SSE streams.
//! Every server instance listens, so a write on one instance pokes devices on all of them
//! (ARCHITECTURE.md §6, §9).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use tokio::sync::broadcast;
use uuid::Uuid;

/// The fan-out of pokes to SSE streams in this process.
#[derive(Clone)]
pub struct Pokes {
    tx: broadcast::Sender<(Uuid, i64)>,
}

impl Default for Pokes {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        Pokes { tx }
    }
}

impl Pokes {
    /// A receiver of every poke from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<(Uuid, i64)> {
        self.tx.subscribe()
    }

    /// Announces `version` of `school_id` to this process's streams.
    pub fn send(&self, school_id: Uuid, version: i64) {
        let _ = self.tx.send((school_id, version));
    }

    /// Starts a thread that LISTENs on `daftar_sync` at `database_url` and forwards each
    /// notification; it reconnects (every second) when the connection drops. Notifications are
    /// polled every 10 ms (libpq reads them without a round trip), well inside the issue's
    /// 150 ms propagation budget.
    ///
    /// The thread runs until the returned [`Listener`] is dropped; drop it before the database
    /// goes away (a process must not exit while the thread is inside libpq).
    #[must_use = "the listener stops when this guard is dropped"]
    pub fn listen(&self, database_url: String) -> Listener {
        let pokes = self.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let spawned = thread::Builder::new()
            .name("sync-listen".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    if let Err(e) = pokes.listen_once(&database_url, &thread_stop) {
                        tracing::warn!(error = %e, "sync LISTEN connection lost; reconnecting");
                    }
                    let until = Instant::now() + Duration::from_secs(1);
                    while Instant::now() < until && !thread_stop.load(Ordering::Relaxed) {
                        thread::sleep(Duration::from_millis(10));
                    }
                }
            });
        let thread = match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                tracing::error!(error = %e, "could not start the sync listener; devices will poll");
                None
            }
        };
        Listener { stop, thread }
    }

    fn listen_once(&self, url: &str, stop: &AtomicBool) -> anyhow::Result<()> {
        let mut conn = PgConnection::establish(url)?;
        diesel::sql_query("LISTEN daftar_sync").execute(&mut conn)?;
        let mut checked = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            for n in conn.notifications_iter() {
                let n = n?;
                let mut parts = n.payload.split(' ');
                if let (Some(Ok(school)), Some(Ok(version))) = (
                    parts.next().map(str::parse::<Uuid>),
                    parts.next().map(str::parse::<i64>),
                ) {
                    self.send(school, version);
                }
            }
            if checked.elapsed() > Duration::from_secs(10) {
                diesel::sql_query("SELECT 1").execute(&mut conn)?;
                checked = Instant::now();
            }
            thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }
}

/// The running LISTEN thread of [`Pokes::listen`]; dropping it stops the thread (within about
/// 10 ms) and waits for it, closing its connection.
pub struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
