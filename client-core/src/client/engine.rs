//! The sync engine (ARCHITECTURE.md §6): push the outbox in seq order, pull the change log into
//! staging and apply it with the cursor in one transaction, and keep doing so — on every SSE
//! poke, by polling as a fallback, with exponential backoff and full jitter on failures
//! (honouring `Retry-After`), and a watchdog that forces an attempt when ops wait too long.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use rand::Rng;
use uuid::Uuid;

use super::api::Api;
use super::error::{ClientError, ClientResult};
use super::store::{OpenReport, Store};
use crate::protocol::sync::{
    OutboxExport, PushRequest, SyncDigest, SyncScope, OUTBOX_EXPORT_FORMAT,
};
use crate::protocol::LoginRequest;

/// Ops per push request.
pub const PUSH_BATCH: i64 = 500;
/// Rows per pull page.
pub const PULL_PAGE: u32 = 2000;

/// What one sync pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub pushed: usize,
    pub applied: usize,
    pub rejected: usize,
    pub conflicts: usize,
    pub pulled: usize,
    pub cursor: String,
}

/// Progress of a pull: rows staged so far and the server version being caught up to.
pub type PullProgress<'a> = &'a mut dyn FnMut(usize, i64);

/// Backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"): the
/// n-th consecutive failure waits a uniformly random time in [0, min(cap, base·2ⁿ)], or the
/// server's `Retry-After` if that is longer.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    failures: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(250),
            cap: Duration::from_secs(60),
            failures: 0,
        }
    }
}

impl Backoff {
    /// The wait after one more failure.
    pub fn fail(&mut self, retry_after: Option<u64>) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.failures.min(16))
            .min(self.cap);
        let jitter = rand::thread_rng().gen_range(0..=ceiling.as_millis() as u64);
        Duration::from_millis(jitter).max(Duration::from_secs(retry_after.unwrap_or(0)))
    }

    /// Resets after a success.
    pub fn succeed(&mut self) {
        self.failures = 0;
    }

    /// The current ceiling (what the watchdog compares against).
    pub fn ceiling(&self) -> Duration {
        self.base
            .saturating_mul(1u32 << self.failures.min(16))
            .min(self.cap)
    }
}

/// Device setting recording that the server refused this device as revoked (issue #17).
pub const DEVICE_REVOKED_AT: &str = "revoked_at";

/// A device's store plus its server.
pub struct SyncEngine {
    pub api: Api,
    pub store: Store,
    /// Ops per push request (default [`PUSH_BATCH`]; the server takes at most 1,000).
    pub push_batch: i64,
}

impl std::fmt::Debug for SyncEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncEngine")
            .field("api", &self.api)
            .finish()
    }
}

/// The API of server `server_url` as the device enrolled in `dir` calls it: its tokens are read
/// from and every rotated refresh token is stored in that device's `outbox.db`, so several
/// holders (the sync thread, the console) share one session safely.
pub fn device_api(dir: &Path, server_url: &str) -> Api {
    Api::new(server_url)
        .on_tokens(token_hook(dir))
        .with_token_loader(token_loader(dir))
}

fn token_hook(dir: &Path) -> impl Fn(&crate::protocol::TokenResponse) + Send + Sync + 'static {
    let outbox = dir.join("outbox.db").to_string_lossy().to_string();
    move |t| {
        // Its own connection: the rotated refresh token must be durable before it is used.
        let saved = diesel::sqlite::SqliteConnection::establish(&outbox).and_then(|mut c| {
            c.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL;")
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            diesel::sql_query(
                "INSERT OR REPLACE INTO device (key, value)
                 VALUES ('refresh_token', ?), ('access_token', ?)",
            )
            .bind::<diesel::sql_types::Text, _>(&t.refresh_token)
            .bind::<diesel::sql_types::Text, _>(&t.access_token)
            .execute(&mut c)
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
        });
        if let Err(e) = saved {
            tracing::error!(error = %e, "could not store the rotated refresh token");
        }
    }
}

use diesel::RunQueryDsl;

fn token_loader(dir: &Path) -> impl Fn() -> Option<(Option<String>, String)> + Send + Sync {
    let outbox = dir.join("outbox.db").to_string_lossy().to_string();
    move || {
        #[derive(diesel::QueryableByName)]
        struct Kv {
            #[diesel(sql_type = diesel::sql_types::Text)]
            key: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let mut c = diesel::sqlite::SqliteConnection::establish(&outbox).ok()?;
        let _ = c.batch_execute("PRAGMA busy_timeout = 5000;");
        let rows: Vec<Kv> = diesel::sql_query(
            "SELECT key, value FROM device WHERE key IN ('access_token', 'refresh_token')",
        )
        .load(&mut c)
        .ok()?;
        let get = |k: &str| rows.iter().find(|r| r.key == k).map(|r| r.value.clone());
        Some((get("access_token"), get("refresh_token")?))
    }
}

impl SyncEngine {
    /// Opens the device store in `dir` (running the lifeboat if needed) and its server.
    ///
    /// Errors: [`ClientError::NotEnrolled`] if `init` never ran here; storage errors.
    pub fn open(dir: &Path) -> ClientResult<(SyncEngine, OpenReport)> {
        let (mut store, report) = Store::open(dir)?;
        let Some(url) = store.device("server_url")? else {
            return Err(ClientError::NotEnrolled(format!(
                "no device enrolled in {}; run `init` first",
                dir.display()
            )));
        };
        let api = device_api(dir, &url);
        api.set_tokens(
            store.device("access_token")?,
            store.device("refresh_token")?,
        );
        Ok((
            SyncEngine {
                api,
                store,
                push_batch: PUSH_BATCH,
            },
            report,
        ))
    }

    /// Enrols this device: logs in, registers the device (its tokens are bound to it) and
    /// stores server, school, user, device id, client id, receipt series and scope in
    /// `outbox.db`. Needs the network once; everything after works offline.
    pub fn init(
        dir: &Path,
        server_url: &str,
        login: &LoginRequest,
        device_name: &str,
    ) -> ClientResult<SyncEngine> {
        let (mut store, _) = Store::open(dir)?;
        let api = Api::new(server_url)
            .on_tokens(token_hook(dir))
            .with_token_loader(token_loader(dir));
        let who = api.login(login)?;
        let reg = api.register_device(device_name)?;
        for (k, v) in [
            ("server_url", server_url.to_string()),
            ("school", login.school.clone()),
            ("username", login.username.clone()),
            ("user_id", who.user.id.to_string()),
            ("display_name", who.user.display_name.clone()),
            ("role", who.user.role.as_str().to_string()),
            ("roles", serde_json::to_string(&who.user.role_set())?),
            ("device_id", reg.device_id.to_string()),
            ("client_id", reg.client_id.to_string()),
            ("receipt_series", reg.receipt_series.clone()),
            ("scope", serde_json::to_string(&reg.scope)?),
            ("refresh_token", reg.tokens.refresh_token.clone()),
        ] {
            store.set_device(k, &v)?;
        }
        Ok(SyncEngine {
            api,
            store,
            push_batch: PUSH_BATCH,
        })
    }

    /// The device's scope as enrolled.
    pub fn scope(&mut self) -> ClientResult<Option<SyncScope>> {
        Ok(self
            .store
            .device("scope")?
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    fn client_id(&mut self) -> ClientResult<Uuid> {
        if self.store.device("needs_new_client")?.is_some()
            || self.store.device("client_id")?.is_none()
        {
            let c = self.api.new_client()?;
            self.store
                .set_device("client_id", &c.client_id.to_string())?;
            self.store.clear_device("needs_new_client")?;
            tracing::info!(client_id = %c.client_id, "re-sending the outbox from a new client id");
        }
        self.store
            .device("client_id")?
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ClientError::NotEnrolled("no client id".into()))
    }

    /// Pushes every pending op, in seq order, in batches. Returns (sent, applied, rejected,
    /// conflicts). Stops at the first failure, leaving the rest pending.
    pub fn push(&mut self) -> ClientResult<(usize, usize, usize, usize)> {
        let client_id = self.client_id()?;
        let (mut sent, mut applied, mut rejected, mut conflicts) = (0, 0, 0, 0);
        loop {
            let batch = self.store.pending_ops(self.push_batch.clamp(1, 1000))?;
            let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
                break;
            };
            let (first_seq, last_seq) = (first.op.seq, last.op.seq);
            self.store.mark_in_flight(first_seq, last_seq)?;
            let req = PushRequest {
                client_id,
                ops: batch.into_iter().map(|s| s.op).collect(),
            };
            match self.api.push(&req) {
                Ok(resp) => {
                    self.store.record_outcomes(&resp.results, None)?;
                    sent += resp.results.len();
                    for r in &resp.results {
                        match r.status {
                            crate::protocol::sync::OpStatus::Applied => applied += 1,
                            crate::protocol::sync::OpStatus::Rejected => rejected += 1,
                            crate::protocol::sync::OpStatus::Conflict => conflicts += 1,
                        }
                    }
                    if let Some(secs) = resp.retry_after_secs {
                        return Err(ClientError::Server {
                            problem: Box::new(crate::protocol::Problem {
                                type_uri: "urn:daftar:problem:service_unavailable".into(),
                                title: "Service Unavailable".into(),
                                status: 503,
                                detail: "the server stopped the batch early; retrying".into(),
                                code: "service_unavailable".into(),
                                field: None,
                            }),
                            retry_after: Some(secs),
                        });
                    }
                    if resp.results.is_empty() {
                        break;
                    }
                }
                Err(e) => {
                    self.store.record_outcomes(&[], Some(&e.to_string()))?;
                    return Err(e);
                }
            }
        }
        Ok((sent, applied, rejected, conflicts))
    }

    /// Pulls every change after the cursor: pages are staged as they arrive (memory stays
    /// bounded, an interrupted pull resumes) and applied with the new cursor in one
    /// transaction at the end. Returns the rows applied. A cursor the server has compacted
    /// away (410 `cursor_expired`) starts a fresh snapshot that replaces the replica when
    /// complete.
    pub fn pull(&mut self, progress: PullProgress<'_>) -> ClientResult<usize> {
        let mut cursor = match self.store.staged_cursor()? {
            Some(c) => c,
            None => self.store.cursor()?,
        };
        let mut staged = 0usize;
        let known_scope = self.store.device("scope")?;
        // Reported to the server for the admin's devices page (issue #17, "Devices").
        let queued = self.store.counts().ok().map(|c| {
            c.pending
                .clamp(0, crate::protocol::sync::MAX_REPORTED_QUEUE as i64) as u32
        });
        loop {
            let page = match self.api.pull(&cursor, PULL_PAGE, queued) {
                Err(ClientError::Server { problem, .. })
                    if problem.code == "cursor_expired" && !cursor.is_empty() =>
                {
                    // The server compacted the change log behind our cursor: deletions we
                    // have not seen may be gone, so take a whole new snapshot. The replica
                    // stays readable until the snapshot replaces it; the outbox is untouched.
                    tracing::info!(%cursor, "cursor expired; taking a fresh snapshot");
                    self.store.begin_resnapshot()?;
                    cursor = String::new();
                    staged = 0;
                    continue;
                }
                page => page?,
            };
            let scope = serde_json::to_string(&page.scope)?;
            if known_scope.as_deref() != Some(scope.as_str()) {
                // The scope changed: rows that entered it earlier are behind our cursor, so
                // the replica is rebuilt from the beginning with the new scope.
                tracing::info!(%scope, "device scope changed; re-snapshotting the replica");
                self.store.reset_replica()?;
                self.store.set_device("scope", &scope)?;
                return self.pull(progress);
            }
            staged += page.changes.len();
            self.store.stage(&page.changes, &page.cursor)?;
            progress(staged, page.version);
            cursor = page.cursor;
            if !page.has_more {
                return self.store.apply_staged(&cursor, page.version);
            }
        }
    }

    /// One pass: push, then pull, then snapshot the outbox if anything was sent.
    pub fn sync_once(&mut self, progress: PullProgress<'_>) -> ClientResult<SyncReport> {
        let report = self.push_then_pull(progress);
        if report.is_ok() {
            // The logo is a nicety of receipts: a failure to fetch it never fails a sync.
            if let Err(e) = self.refresh_logo() {
                tracing::warn!(
                    "the school's receipt logo was not fetched (next sync retries): {e}"
                );
            }
        }
        if let Err(e) = &report {
            if e.is_device_revoked() && self.revoked_at()?.is_none() {
                tracing::warn!("the server says this device was revoked; its outbox is kept");
                self.store
                    .set_device(DEVICE_REVOKED_AT, &chrono::Utc::now().to_rfc3339())?;
            }
        }
        report
    }

    /// Brings this device's copy of the school's receipt logo up to date (issue #17): when the
    /// replica's `schools.logo_updated_at` differs from the version kept here, the logo is
    /// fetched (`GET /school/logo`) into [`super::office::LOGO_FILE`] in the data directory
    /// (written to a temporary file, then renamed), or removed when the school has none.
    /// Returns whether anything changed. Called after each successful [`SyncEngine::sync_once`].
    ///
    /// Errors: network or server errors of the fetch, or the file cannot be written; the kept
    /// version is then unchanged, so the next sync tries again.
    pub fn refresh_logo(&mut self) -> ClientResult<bool> {
        let Ok(school) = super::office::school(&mut self.store) else {
            return Ok(false);
        };
        let wanted = school
            .logo_updated_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        if self
            .store
            .device(super::office::LOGO_VERSION)?
            .unwrap_or_default()
            == wanted
        {
            return Ok(false);
        }
        let path = self.store.dir().join(super::office::LOGO_FILE);
        let fetched = if wanted.is_empty() {
            None
        } else {
            self.api.school_logo()?
        };
        match fetched {
            Some(file) => {
                let tmp = path.with_extension("new");
                std::fs::write(&tmp, &file.bytes)
                    .and_then(|()| std::fs::rename(&tmp, &path))
                    .map_err(|e| ClientError::storage_from(path.display(), e))?;
                self.store
                    .set_device(super::office::LOGO_TYPE, &file.content_type)?;
            }
            None => match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ClientError::storage_from(path.display(), e)),
            },
        }
        self.store
            .set_device(super::office::LOGO_VERSION, &wanted)?;
        Ok(true)
    }

    /// When this device learnt that an admin revoked it (RFC 3339, UTC; set by
    /// [`SyncEngine::sync_once`] on a 403 `device_revoked`), `None` while it is not revoked.
    pub fn revoked_at(&mut self) -> ClientResult<Option<String>> {
        self.store.device(DEVICE_REVOKED_AT)
    }

    /// The edits not yet sent (pending or in flight, in seq order) as an [`OutboxExport`] for
    /// an admin to import on another device (issue #17, "Devices"). Nothing is removed from
    /// the outbox: if the device is ever reinstated it still sends them, and the server applies
    /// each op once either way.
    ///
    /// Errors: storage errors; `NotEnrolled` when the device has no id, client or series.
    pub fn outbox_export(&mut self) -> ClientResult<OutboxExport> {
        let ops = self
            .store
            .ops(None)?
            .into_iter()
            .filter(|o| matches!(o.state.as_str(), "pending" | "in_flight"))
            .map(|o| o.op)
            .collect();
        let setting = |store: &mut Store, key: &str| -> ClientResult<String> {
            store
                .device(key)?
                .ok_or_else(|| ClientError::NotEnrolled(format!("this device has no {key}")))
        };
        let id = |store: &mut Store, key: &str| -> ClientResult<Uuid> {
            setting(store, key)?
                .parse()
                .map_err(|_| ClientError::storage(format!("the stored {key} is not an id")))
        };
        Ok(OutboxExport {
            format: OUTBOX_EXPORT_FORMAT.to_string(),
            exported_at: chrono::Utc::now(),
            device_id: id(&mut self.store, "device_id")?,
            client_id: id(&mut self.store, "client_id")?,
            school: setting(&mut self.store, "school")?,
            username: setting(&mut self.store, "username")?,
            receipt_series: setting(&mut self.store, "receipt_series")?,
            revoked_at: self
                .revoked_at()?
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&chrono::Utc)),
            ops,
        })
    }

    fn push_then_pull(&mut self, progress: PullProgress<'_>) -> ClientResult<SyncReport> {
        let (pushed, applied, rejected, conflicts) = self.push()?;
        let pulled = self.pull(progress)?;
        if pushed > 0 {
            self.store.snapshot_outbox()?;
        }
        Ok(SyncReport {
            pushed,
            applied,
            rejected,
            conflicts,
            pulled,
            cursor: self.store.cursor()?,
        })
    }

    /// The replica's digest (computed locally) and the server's, for comparison: their
    /// `entities` are equal when the replica has pulled after the school's last commit.
    pub fn digests(&mut self) -> ClientResult<(SyncDigest, SyncDigest)> {
        let server = self.api.digest()?;
        let mut local = SyncDigest {
            version: self.store.replica_version()?,
            entities: Default::default(),
        };
        self.store.replica_keys(|entity, id, version| {
            local
                .entities
                .entry(entity.to_string())
                .or_default()
                .add(entity, id, version);
        })?;
        Ok((local, server))
    }

    /// Syncs `engine` until `stop` is set: on every SSE poke (a background thread keeps the
    /// stream open), every `poll` as a fallback, and after failures with [`Backoff`]. The
    /// watchdog forces an attempt when ops are pending and nothing was tried for twice the
    /// backoff, and flags the head op `wedged` after 10 failed attempts. `on_pass` sees every
    /// outcome, called with the engine unlocked.
    ///
    /// The engine is locked only for a pass (push + pull), so other threads can use it — or,
    /// better, their own [`Store`] on the same directory — between passes.
    pub fn run(
        engine: &Mutex<SyncEngine>,
        stop: Arc<AtomicBool>,
        poll: Duration,
        mut on_pass: impl FnMut(&ClientResult<SyncReport>),
    ) {
        let lock = || engine.lock().unwrap_or_else(|p| p.into_inner());
        let (tx, rx) = mpsc::channel::<i64>();
        let api = lock().api.clone();
        let sse_stop = stop.clone();
        let _sse = std::thread::Builder::new()
            .name("sync-events".into())
            .spawn(move || {
                let mut backoff = Backoff::default();
                while !sse_stop.load(Ordering::Relaxed) {
                    let r = api.events(|v| tx.send(v).is_ok() && !sse_stop.load(Ordering::Relaxed));
                    let wait = match r {
                        Ok(()) => {
                            backoff.succeed();
                            Duration::from_millis(200)
                        }
                        Err(e) => backoff.fail(match e {
                            ClientError::Server { retry_after, .. } => retry_after,
                            _ => None,
                        }),
                    };
                    sleep_unless(&sse_stop, wait);
                }
            });
        let mut backoff = Backoff::default();
        let mut next_at = Instant::now();
        let mut last_try = Instant::now();
        // The highest version a poke announced, and how many quick re-pulls were spent waiting
        // for the server's watermark to reach it.
        let (mut poked_version, mut catch_up) = (0i64, 0u32);
        while !stop.load(Ordering::Relaxed) {
            let wait = next_at.saturating_duration_since(Instant::now());
            let poked = match rx.recv_timeout(wait.min(Duration::from_millis(250))) {
                Ok(v) => {
                    poked_version = poked_version.max(v);
                    while let Ok(v) = rx.try_recv() {
                        poked_version = poked_version.max(v);
                    }
                    true
                }
                Err(_) => false,
            };
            let pending = lock().store.counts().map(|c| c.pending).unwrap_or(0);
            let watchdog = pending > 0 && last_try.elapsed() > backoff.ceiling() * 2;
            if !(poked && backoff.ceiling() <= backoff.base * 2)
                && Instant::now() < next_at
                && !watchdog
            {
                continue;
            }
            last_try = Instant::now();
            let r = {
                let mut engine = lock();
                let r = engine.sync_once(&mut |_, _| {});
                if r.is_err() {
                    if let Ok(head) = engine.store.pending_ops(1) {
                        if let Some(h) = head.first() {
                            if h.attempts >= 10 && !h.wedged {
                                let _ = engine.store.mark_wedged(h.op.seq);
                            }
                        }
                    }
                }
                r
            };
            match &r {
                Ok(report) => {
                    backoff.succeed();
                    // A poke comes at the writer's COMMIT, but the server hands a change out
                    // only once no older transaction of the school is still open (its
                    // watermark, ARCHITECTURE.md §6): until the pull reaches the poked
                    // version, pull again soon (every 20 ms, for up to a second).
                    let reached = report
                        .cursor
                        .parse::<crate::protocol::sync::Cursor>()
                        .map(|c| c.version)
                        .unwrap_or(0);
                    if reached < poked_version && catch_up < CATCH_UP_PULLS {
                        catch_up += 1;
                        next_at = Instant::now() + Duration::from_millis(20);
                    } else {
                        catch_up = 0;
                        next_at = Instant::now() + poll;
                    }
                }
                Err(e) => {
                    let retry_after = match e {
                        ClientError::Server { retry_after, .. } => *retry_after,
                        _ => None,
                    };
                    next_at = Instant::now() + backoff.fail(retry_after);
                }
            }
            on_pass(&r);
        }
    }
}

/// Quick re-pulls (20 ms apart) after a poke whose version the pull has not reached yet.
const CATCH_UP_PULLS: u32 = 50;

fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let until = Instant::now() + d;
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50).min(until - Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_full_jitter_and_honours_retry_after() {
        let mut b = Backoff::default();
        for _ in 0..20 {
            let w = b.fail(None);
            assert!(w <= b.cap, "{w:?} exceeds the cap");
        }
        assert_eq!(b.ceiling(), b.cap);
        assert!(b.fail(Some(90)) >= Duration::from_secs(90));
        b.succeed();
        assert_eq!(b.ceiling(), b.base);
    }
}
