//! `daftar-mobile-ffi`: the library the Android and iOS apps are built on
//! (ARCHITECTURE.md §2, §6). One object, [`DaftarClient`], over client-core's replica, outbox
//! and sync engine, exported with UniFFI proc-macros to Kotlin, Swift and Python.
//!
//! - **Teachers** mark registers in class, offline: [`DaftarClient::mark_register`] saves the
//!   marks in the device's outbox (one durable SQLite transaction) and they reach the server on
//!   the next sync, exactly once.
//! - **Parents** read dues, invoices, payments with receipt numbers and attendance from the
//!   last pull, offline too; [`FamilyDues::as_of`] and [`SyncStatus`] say how fresh it is.
//!
//! **Threads.** Every call is blocking. Calls that talk to the server (`login`, `logout`,
//! `sync_now`) may take up to the network timeout: call them off the UI thread (Kotlin
//! `Dispatchers.IO`, Swift `Task.detached`). Local reads and edits use their own SQLite
//! connections and never wait for the network, so they are fit for a coroutine or a background
//! queue too but never block on I/O other than the local disk. [`DaftarClient::start_sync`]
//! runs the sync loop on the library's own thread (SSE pokes from the server, polling as a
//! fallback, backoff with full jitter) and reports through [`SyncListener`].
//!
//! Money, ids, dates and instants follow the conventions in [`records`].

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, NaiveDate, Utc};
use daftar_client_core::client::office;
use daftar_client_core::client::store::StoredOp;
use daftar_client_core::client::{Store, SyncEngine};
use daftar_client_core::protocol::sync::SyncScope;
use daftar_client_core::protocol::LoginRequest;
use uuid::Uuid;

mod error;
pub mod records;

pub use error::DaftarError;
pub use records::*;

uniffi::setup_scaffolding!();

/// Result of every exported call.
pub type DaftarResult<T> = Result<T, DaftarError>;

/// The running background loop of [`DaftarClient::start_sync`].
struct Background {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// The device's Daftar: its login, its local copy (`replica.db`), its outbox (`outbox.db`) and
/// its sync with the server. One per `data_dir`; share the one object across the app (it is
/// thread-safe).
#[derive(uniffi::Object)]
pub struct DaftarClient {
    dir: PathBuf,
    server_url: String,
    /// Reads and local edits: own SQLite connections, never held across network I/O.
    local: Mutex<Option<Store>>,
    /// The sync engine (its own connections); `None` until logged in.
    engine: Mutex<Option<Arc<Mutex<SyncEngine>>>>,
    background: Mutex<Option<Background>>,
    listener: Arc<Mutex<Option<Arc<dyn SyncListener>>>>,
    last_error: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for DaftarClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaftarClient")
            .field("dir", &self.dir)
            .field("server_url", &self.server_url)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn parse_id(field: &str, value: &str) -> DaftarResult<Uuid> {
    value
        .trim()
        .parse()
        .map_err(|_| DaftarError::invalid(field, format!("`{value}` is not a UUID")))
}

fn parse_date(field: &str, value: &str) -> DaftarResult<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").map_err(|_| {
        DaftarError::invalid(
            field,
            format!("`{value}` is not an ISO 8601 date (YYYY-MM-DD)"),
        )
    })
}

fn instant(t: DateTime<Utc>) -> SystemTime {
    SystemTime::from(t)
}

fn rejected_op(op: &StoredOp) -> RejectedOp {
    let outcome = op.outcome.as_ref();
    RejectedOp {
        op_id: op.op.op_id.to_string(),
        mutation: op.op.mutation.clone(),
        status: op.state.clone(),
        code: outcome
            .and_then(|o| o.code.clone())
            .unwrap_or_else(|| op.state.clone()),
        message: outcome
            .and_then(|o| o.message.clone())
            .or_else(|| {
                outcome
                    .filter(|o| !o.conflicts.is_empty())
                    .map(|o| format!("{} field(s) kept the server's value", o.conflicts.len()))
            })
            .unwrap_or_default(),
        field: outcome.and_then(|o| o.field.clone()),
        created_at: instant(op.op.created_at),
    }
}

/// The status of the store in `store`, with the background flag and last error given.
fn status_of(
    store: &mut Store,
    background_sync: bool,
    last_error: Option<String>,
) -> DaftarResult<SyncStatus> {
    let counts = store.counts()?;
    let last = store.last_pull()?;
    let rejected = store.ops_needing_attention()?;
    Ok(SyncStatus {
        pending_ops: counts.pending.max(0) as u64,
        last_pull_at: last.map(|(t, _)| instant(t)),
        lag_seconds: last.map(|(t, _)| (Utc::now() - t).num_seconds().max(0) as u64),
        version: store.replica_version()?,
        rejected_ops: rejected.iter().map(rejected_op).collect(),
        last_error,
        background_sync,
    })
}

impl DaftarClient {
    fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> DaftarResult<T>) -> DaftarResult<T> {
        let mut guard = lock(&self.local);
        let store = guard.as_mut().ok_or_else(|| DaftarError::Storage {
            message: "the local store is closed (a logout failed half-way); reopen the client"
                .into(),
        })?;
        f(store)
    }

    fn engine(&self) -> DaftarResult<Arc<Mutex<SyncEngine>>> {
        lock(&self.engine).clone().ok_or_else(|| DaftarError::Auth {
            message: "not logged in on this device".into(),
        })
    }

    fn scope(&self) -> DaftarResult<Option<SyncScope>> {
        self.with_store(|s| {
            Ok(s.device("scope")?
                .and_then(|v| serde_json::from_str::<SyncScope>(&v).ok()))
        })
    }

    fn family_ids(&self) -> DaftarResult<Vec<Uuid>> {
        Ok(self
            .scope()?
            .map(|s| s.family_ids().to_vec())
            .unwrap_or_default())
    }

    fn school_today(store: &mut Store) -> DaftarResult<NaiveDate> {
        let school = office::school(store)?;
        let tz: chrono_tz::Tz = school.timezone.parse().unwrap_or(chrono_tz::UTC);
        Ok(Utc::now().with_timezone(&tz).date_naive())
    }

    fn notify_data_changed(&self) {
        let listener = lock(&self.listener).clone();
        if let Some(l) = listener {
            l.on_data_changed();
        }
        self.notify_state();
    }

    fn notify_state(&self) {
        let listener = lock(&self.listener).clone();
        if let Some(l) = listener {
            if let Ok(s) = self.sync_status() {
                l.on_sync_state_changed(s);
            }
        }
    }

    fn stop_background(&self) {
        let running = lock(&self.background).take();
        if let Some(b) = running {
            b.stop.store(true, Ordering::Relaxed);
            let _ = b.thread.join();
        }
    }

    fn wipe(dir: &Path) -> std::io::Result<()> {
        for name in ["replica.db", "outbox.db"] {
            for suffix in ["", "-wal", "-shm"] {
                let p = dir.join(format!("{name}{suffix}"));
                if p.exists() {
                    std::fs::remove_file(p)?;
                }
            }
        }
        let snaps = dir.join("snapshots");
        if snaps.exists() {
            std::fs::remove_dir_all(snaps)?;
        }
        Ok(())
    }
}

#[uniffi::export]
impl DaftarClient {
    /// Opens the device's Daftar in `data_dir` (created if missing; the app's private files
    /// directory) for the server at `server_url` (`https://…/`, the server's base URL without
    /// `/api/v1`). A device logged in before stays logged in; its databases are checked
    /// (`PRAGMA quick_check`) and repaired by the lifeboat if corrupt (ARCHITECTURE.md §6). No
    /// network I/O.
    ///
    /// Errors: `Validation` naming `server_url` (not http/https) or `data_dir`; `Storage` when
    /// the databases cannot be opened (disk full, permissions).
    #[uniffi::constructor]
    pub fn new(server_url: String, data_dir: String) -> DaftarResult<Arc<Self>> {
        let url = server_url.trim().trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(DaftarError::invalid(
                "server_url",
                format!("`{server_url}` is not an http(s) URL"),
            ));
        }
        if data_dir.trim().is_empty() {
            return Err(DaftarError::invalid("data_dir", "is empty"));
        }
        let dir = PathBuf::from(data_dir);
        let (mut store, _) = Store::open(&dir)?;
        let engine = match store.device("server_url")? {
            Some(stored) => {
                if stored != url {
                    // The school's server moved; the enrolment (tokens, series) stays valid.
                    store.set_device("server_url", &url)?;
                }
                let (engine, _) = SyncEngine::open(&dir)?;
                Some(Arc::new(Mutex::new(engine)))
            }
            None => None,
        };
        Ok(Arc::new(DaftarClient {
            dir,
            server_url: url,
            local: Mutex::new(Some(store)),
            engine: Mutex::new(engine),
            background: Mutex::new(None),
            listener: Arc::new(Mutex::new(None)),
            last_error: Arc::new(Mutex::new(None)),
        }))
    }

    /// Logs in and enrols this device (its tokens are bound to it; the server gives it a scope:
    /// a teacher's classes, a parent's family), then downloads its data with a first sync.
    /// Needs the network once; afterwards everything works offline. Blocking (network).
    ///
    /// A failed first download does not undo the login: it shows in
    /// [`SyncStatus::last_error`] and the next sync retries.
    ///
    /// Errors: `Auth` (wrong school, username or password), `Forbidden` (locked account;
    /// the message says for how long), `Network`, `Conflict` when someone is already logged in
    /// here (log out first).
    pub fn login(
        &self,
        school: String,
        username: String,
        password: String,
        device_name: String,
    ) -> DaftarResult<User> {
        if let Some(user) = self.current_user()? {
            return Err(DaftarError::Conflict {
                message: format!("{} is already logged in here; log out first", user.username),
            });
        }
        let login = LoginRequest {
            school,
            username,
            password,
            device_id: None,
            two_factor_code: None,
        };
        let name = if device_name.trim().is_empty() {
            "phone".to_string()
        } else {
            device_name
        };
        let mut engine = SyncEngine::init(&self.dir, &self.server_url, &login, &name)?;
        let first = engine.sync_once(&mut |_, _| {});
        *lock(&self.last_error) = first.as_ref().err().map(|e| e.to_string());
        if let Err(e) = &first {
            tracing::warn!(error = %e, "first download after login failed; will retry");
        }
        *lock(&self.engine) = Some(Arc::new(Mutex::new(engine)));
        self.notify_data_changed();
        self.current_user()?.ok_or_else(|| DaftarError::Other {
            message: "login stored no user".into(),
        })
    }

    /// Logs out: revokes the device's login on the server (best effort when offline) and
    /// deletes the local copy and outbox, so the next person to log in sees nothing of this
    /// one's data. Stops the background sync. Blocking (network).
    ///
    /// Errors: `Conflict` while edits are still waiting to be synced (they would be lost: sync
    /// first); `Storage` if the files cannot be removed.
    pub fn logout(&self) -> DaftarResult<()> {
        let pending = self.pending_op_count()?;
        if pending > 0 {
            return Err(DaftarError::Conflict {
                message: format!(
                    "{pending} edit(s) are not synced yet and would be lost; sync first"
                ),
            });
        }
        self.stop_background();
        if let Some(engine) = lock(&self.engine).take() {
            if let Err(e) = lock(&engine).api.logout() {
                tracing::warn!(error = %e, "could not tell the server about the logout");
            }
        }
        let mut local = lock(&self.local);
        *local = None;
        Self::wipe(&self.dir).map_err(|e| DaftarError::Storage {
            message: format!("removing the local data in {}: {e}", self.dir.display()),
        })?;
        *local = Some(Store::open(&self.dir)?.0);
        *lock(&self.last_error) = None;
        drop(local);
        self.notify_data_changed();
        Ok(())
    }

    /// The logged-in user, or `None`. Local; no network.
    pub fn current_user(&self) -> DaftarResult<Option<User>> {
        self.with_store(|s| {
            let Some(user_id) = s.device("user_id")? else {
                return Ok(None);
            };
            Ok(Some(User {
                user_id,
                username: s.device("username")?.unwrap_or_default(),
                display_name: s.device("display_name")?.unwrap_or_default(),
                role: s.device("role")?.unwrap_or_default(),
                school: s.device("school")?.unwrap_or_default(),
                device_series: s.device("receipt_series")?.unwrap_or_default(),
            }))
        })
    }

    /// One sync pass now: push every saved edit (in order, exactly once), then pull what
    /// changed. Blocking (network); waits for a pass of the background loop if one is running.
    ///
    /// Errors: `Network` when the server is unreachable (the edits stay queued); `Auth` when
    /// the login ended.
    pub fn sync_now(&self) -> DaftarResult<SyncReport> {
        let engine = self.engine()?;
        let r = lock(&engine).sync_once(&mut |_, _| {});
        *lock(&self.last_error) = r.as_ref().err().map(|e| e.to_string());
        match r {
            Ok(rep) => {
                if rep.pulled > 0 || rep.pushed > 0 {
                    self.notify_data_changed();
                } else {
                    self.notify_state();
                }
                Ok(SyncReport {
                    pushed: rep.pushed as u64,
                    applied: rep.applied as u64,
                    rejected: rep.rejected as u64,
                    conflicts: rep.conflicts as u64,
                    pulled: rep.pulled as u64,
                    version: rep
                        .cursor
                        .parse::<daftar_client_core::protocol::sync::Cursor>()
                        .map(|c| c.version)
                        .unwrap_or(0),
                })
            }
            Err(e) => {
                self.notify_state();
                Err(e.into())
            }
        }
    }

    /// Edits saved on this device and not yet decided by the server. Local.
    pub fn pending_op_count(&self) -> DaftarResult<u64> {
        self.with_store(|s| Ok(s.counts()?.pending.max(0) as u64))
    }

    /// Outbox, freshness and refusals. Local.
    pub fn sync_status(&self) -> DaftarResult<SyncStatus> {
        let background = lock(&self.background).is_some();
        let last_error = lock(&self.last_error).clone();
        self.with_store(|s| status_of(s, background, last_error))
    }

    /// Marks a refused or conflicting edit as seen (it leaves `rejected_ops`). Returns false
    /// when `op_id` is not such an edit. Errors: `Validation` naming `op_id`.
    pub fn dismiss_rejected_op(&self, op_id: String) -> DaftarResult<bool> {
        let id = parse_id("op_id", &op_id)?;
        let done = self.with_store(|s| Ok(s.resolve_op(id)?))?;
        self.notify_state();
        Ok(done)
    }

    /// Sets (or with `None` removes) the app's listener.
    pub fn set_listener(&self, listener: Option<Arc<dyn SyncListener>>) {
        *lock(&self.listener) = listener;
    }

    /// Starts the background sync loop on the library's own thread: it pulls on every poke
    /// the server sends (SSE), pushes saved edits, polls every `poll_seconds` (≥ 5) as a
    /// fallback, and backs off with full jitter while offline. The listener hears of every
    /// pass. Idempotent. Errors: `Auth` when not logged in.
    pub fn start_sync(&self, poll_seconds: u32) -> DaftarResult<()> {
        let engine = self.engine()?;
        let mut background = lock(&self.background);
        if background.is_some() {
            return Ok(());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let poll = Duration::from_secs(u64::from(poll_seconds.max(5)));
        let (thread_stop, listener, last_error, dir) = (
            stop.clone(),
            self.listener.clone(),
            self.last_error.clone(),
            self.dir.clone(),
        );
        let thread = std::thread::Builder::new()
            .name("daftar-sync".into())
            .spawn(move || {
                // Its own connections for the status the listener is given.
                let mut status_store = Store::open(&dir).ok().map(|(s, _)| s);
                SyncEngine::run(&engine, thread_stop, poll, |r| {
                    *lock(&last_error) = r.as_ref().err().map(|e| e.to_string());
                    let Some(l) = lock(&listener).clone() else {
                        return;
                    };
                    if matches!(r, Ok(rep) if rep.pulled > 0 || rep.pushed > 0) {
                        l.on_data_changed();
                    }
                    if let Some(s) = status_store.as_mut() {
                        let err = lock(&last_error).clone();
                        if let Ok(status) = status_of(s, true, err) {
                            l.on_sync_state_changed(status);
                        }
                    }
                });
            })
            .map_err(|e| DaftarError::Other {
                message: format!("could not start the sync thread: {e}"),
            })?;
        *background = Some(Background { stop, thread });
        Ok(())
    }

    /// Stops the background sync loop (waits for a pass in progress). Idempotent.
    pub fn stop_sync(&self) {
        self.stop_background();
    }

    // ----- teacher ----------------------------------------------------------------------

    /// The classes this device may mark (a teacher's assigned classes; every class on an office
    /// device), by name. Local.
    pub fn my_classes(&self) -> DaftarResult<Vec<ClassInfo>> {
        self.with_store(|s| {
            Ok(office::classes(s)?
                .into_iter()
                .filter(|c| c.active)
                .map(|c| ClassInfo {
                    class_id: c.id.to_string(),
                    name: c.name,
                })
                .collect())
        })
    }

    /// Students enrolled in `class_id` today (the school's calendar), by name. Local.
    /// Errors: `Validation` naming `class_id`.
    pub fn roster(&self, class_id: String) -> DaftarResult<Vec<StudentInfo>> {
        let class = parse_id("class_id", &class_id)?;
        self.with_store(|s| {
            let today = Self::school_today(s)?;
            Ok(office::roster(s, class, today)?
                .into_iter()
                .map(|st| StudentInfo {
                    student_id: st.id.to_string(),
                    full_name: st.name(),
                    admission_no: st.admission_no,
                    given_name: st.given_name,
                    family_name: st.family_name,
                })
                .collect())
        })
    }

    /// The register of `class_id` on `date` (`YYYY-MM-DD`, whole day): every enrolled
    /// student and their current mark, including marks saved here and not yet synced. Local.
    /// Errors: `Validation` naming `class_id` or `date`.
    pub fn register(&self, class_id: String, date: String) -> DaftarResult<Vec<RegisterEntry>> {
        let class = parse_id("class_id", &class_id)?;
        let on = parse_date("date", &date)?;
        self.with_store(|s| {
            Ok(office::register(s, class, on)?
                .into_iter()
                .map(|l| RegisterEntry {
                    student_id: l.student_id.to_string(),
                    student_name: l.student,
                    code: l.code,
                    source: l.source.map(|s| s.as_str().to_string()),
                })
                .collect())
        })
    }

    /// Marks the register of `class_id` on `date` (`YYYY-MM-DD`): `marks` gives every enrolled
    /// student's code. Works offline: the marks are saved in the outbox (one durable
    /// transaction) and show in [`Self::register`] at once; the server applies the school's
    /// rules when they arrive (assigned classes only, within the edit window judged at the
    /// time of marking; an office override wins) and a refusal comes back in
    /// [`SyncStatus::rejected_ops`]. Returns the op id of the saved edit.
    ///
    /// Errors: `Validation` naming `class_id`, `date`, `marks` (a student left out, or the
    /// roster is empty), `marks[i].student_id` (not enrolled that day) or `marks[i].code` (not a
    /// code of the school); `Storage`.
    pub fn mark_register(
        &self,
        class_id: String,
        date: String,
        marks: Vec<Mark>,
    ) -> DaftarResult<String> {
        let class = parse_id("class_id", &class_id)?;
        let on = parse_date("date", &date)?;
        let mut wanted: Vec<(Uuid, String)> = Vec::with_capacity(marks.len());
        for (i, m) in marks.iter().enumerate() {
            wanted.push((
                parse_id(&format!("marks[{i}].student_id"), &m.student_id)?,
                m.code.trim().to_string(),
            ));
        }
        let op_id = self.with_store(|s| {
            let roster = office::roster(s, class, on)?;
            if roster.is_empty() {
                return Err(DaftarError::invalid(
                    "marks",
                    "nobody is enrolled in this class on that date (sync first?)",
                ));
            }
            for (i, (student, _)) in wanted.iter().enumerate() {
                if !roster.iter().any(|r| r.id == *student) {
                    return Err(DaftarError::invalid(
                        &format!("marks[{i}].student_id"),
                        "not enrolled in this class on that date",
                    ));
                }
            }
            let codes = office::attendance_codes(s)?;
            for (i, (_, code)) in wanted.iter().enumerate() {
                if !codes.iter().any(|c| c.code.eq_ignore_ascii_case(code)) {
                    return Err(DaftarError::invalid(
                        &format!("marks[{i}].code"),
                        format!("`{code}` is not an attendance code of this school"),
                    ));
                }
            }
            let missing: Vec<String> = roster
                .iter()
                .filter(|r| !wanted.iter().any(|(id, _)| *id == r.id))
                .map(|r| r.name())
                .collect();
            if !missing.is_empty() {
                return Err(DaftarError::invalid(
                    "marks",
                    format!(
                        "a register marks every enrolled student; missing: {}",
                        missing.join(", ")
                    ),
                ));
            }
            // The most common code is the register's default; the rest are exceptions, as the
            // server's register request takes them.
            let mut tally: Vec<(String, usize)> = Vec::new();
            for (_, code) in &wanted {
                match tally.iter_mut().find(|(c, _)| c.eq_ignore_ascii_case(code)) {
                    Some(t) => t.1 += 1,
                    None => tally.push((code.clone(), 1)),
                }
            }
            let default = tally
                .iter()
                .max_by_key(|(_, n)| *n)
                .map(|(c, _)| c.clone())
                .unwrap_or_default();
            let exceptions: Vec<(Uuid, String)> = wanted
                .iter()
                .filter(|(_, c)| !c.eq_ignore_ascii_case(&default))
                .cloned()
                .collect();
            Ok(office::mark_register(
                s,
                class,
                on,
                &default,
                &exceptions,
                None,
            )?)
        })?;
        self.notify_data_changed();
        Ok(op_id.to_string())
    }

    /// The school's active attendance codes, by code. Local.
    pub fn attendance_codes(&self) -> DaftarResult<Vec<AttendanceCode>> {
        self.with_store(|s| {
            Ok(office::attendance_codes(s)?
                .into_iter()
                .map(|c| AttendanceCode {
                    code: c.code,
                    label: c.label,
                    category: c.category.as_str().to_string(),
                })
                .collect())
        })
    }

    // ----- parent -----------------------------------------------------------------------

    /// A parent's children (the students of the families on this device), by name, with the
    /// class each is enrolled in today. Empty on teacher and office devices. Local.
    pub fn my_children(&self) -> DaftarResult<Vec<Child>> {
        let families = self.family_ids()?;
        self.with_store(|s| {
            let today = Self::school_today(s).unwrap_or_else(|_| Utc::now().date_naive());
            let classes = office::classes(s)?;
            let mut out = Vec::new();
            for st in office::search_students(s, "")? {
                if !families.contains(&st.family_id) || !st.active {
                    continue;
                }
                let class_name = office::enrolled_class(s, st.id, today)?
                    .and_then(|id| classes.iter().find(|c| c.id == id))
                    .map(|c| c.name.clone());
                out.push(Child {
                    student_id: st.id.to_string(),
                    family_id: st.family_id.to_string(),
                    admission_no: st.admission_no.clone(),
                    full_name: st.name(),
                    class_name,
                });
            }
            Ok(out)
        })
    }

    /// What each of the parent's families owes (usually one family): total, per child and
    /// per invoice (oldest due first), computed from the last pull with the server's own rule.
    /// `as_of` says how fresh it is. Local.
    pub fn family_dues(&self) -> DaftarResult<Vec<FamilyDues>> {
        let families = self.family_ids()?;
        self.with_store(|s| {
            let as_of = s.last_pull()?.map(|(t, _)| instant(t));
            let names = student_names(s)?;
            let mut out = Vec::new();
            for family in families {
                let d = office::family_dues(s, family)?;
                out.push(FamilyDues {
                    family_id: family.to_string(),
                    family_name: office::family_name(s, family)?,
                    total_outstanding: d.total_outstanding,
                    credit_balance: d.credit_balance,
                    net_due: d.net_due,
                    per_child: d
                        .per_student
                        .iter()
                        .map(|c| ChildDue {
                            student_id: c.student_id.to_string(),
                            full_name: names(c.student_id),
                            outstanding: c.outstanding,
                        })
                        .collect(),
                    invoices: d
                        .invoices
                        .iter()
                        .map(|i| invoice(i, &d.currency, &names))
                        .collect(),
                    currency: d.currency,
                    as_of,
                });
            }
            Ok(out)
        })
    }

    /// Every invoice of the parent's families, paid or not, oldest due first. Local.
    pub fn invoices(&self) -> DaftarResult<Vec<Invoice>> {
        let families = self.family_ids()?;
        self.with_store(|s| {
            let currency = office::school(s)?.currency;
            let names = student_names(s)?;
            let mut out = Vec::new();
            for family in families {
                let mut lines = office::family_lines(s, family)?;
                daftar_client_core::ledger::sort_oldest_due_first(&mut lines);
                out.extend(
                    daftar_client_core::ledger::group_invoices(&lines, 0)
                        .iter()
                        .map(|i| invoice(i, &currency, &names)),
                );
            }
            Ok(out)
        })
    }

    /// The parent's families' payments with their receipt numbers, newest first; payments not
    /// yet confirmed by the server are marked `pending`. Local.
    pub fn payments(&self) -> DaftarResult<Vec<Payment>> {
        let families = self.family_ids()?;
        self.with_store(|s| {
            let mut out = Vec::new();
            for family in families {
                for p in office::family_payments(s, family)? {
                    out.push(Payment {
                        payment_id: p.id.to_string(),
                        family_id: p.family_id.map(|f| f.to_string()),
                        receipt_no: p.receipt_no,
                        amount: p.amount,
                        currency: p.currency,
                        method: p.method.as_str().to_string(),
                        received_at: instant(p.received_at),
                        to_credit: p.to_credit,
                        pending: p.offline,
                    });
                }
            }
            out.sort_by_key(|p| std::cmp::Reverse(p.received_at));
            Ok(out)
        })
    }

    /// A student's attendance from `from` to `to` (`YYYY-MM-DD`, inclusive), oldest first.
    /// Local (a parent's device holds its children's marks).
    ///
    /// Errors: `Validation` naming `student_id`, `from`, `to` (before `from`).
    pub fn attendance_history(
        &self,
        student_id: String,
        from: String,
        to: String,
    ) -> DaftarResult<Vec<AttendanceDay>> {
        let student = parse_id("student_id", &student_id)?;
        let (from, to) = (parse_date("from", &from)?, parse_date("to", &to)?);
        if to < from {
            return Err(DaftarError::invalid("to", "is before `from`"));
        }
        self.with_store(|s| {
            let codes = office::attendance_codes(s)?;
            let mut out: Vec<AttendanceDay> = s
                .rows_where("attendance_marks", "student_id", &student.to_string())?
                .into_iter()
                .filter_map(|m| {
                    let date: NaiveDate = m.get("on_date")?.as_str()?.parse().ok()?;
                    if date < from || date > to {
                        return None;
                    }
                    let code_id = m.get("code_id").and_then(|c| c.as_str());
                    let code = codes.iter().find(|c| {
                        Some(c.id.to_string().as_str()) == code_id
                            || m.get("code").and_then(|x| x.as_str()) == Some(c.code.as_str())
                    })?;
                    Some(AttendanceDay {
                        date: date.to_string(),
                        period: m.get("period").and_then(|p| p.as_i64()).unwrap_or(0),
                        code: code.code.clone(),
                        label: code.label.clone(),
                        category: code.category.as_str().to_string(),
                    })
                })
                .collect();
            out.sort_by(|a, b| (&a.date, a.period).cmp(&(&b.date, b.period)));
            Ok(out)
        })
    }
}

impl Drop for DaftarClient {
    fn drop(&mut self) {
        self.stop_background();
    }
}

/// A lookup of student names on this device ("" for unknown ids).
fn student_names(store: &mut Store) -> DaftarResult<impl Fn(Uuid) -> String> {
    let all = office::search_students(store, "")?;
    Ok(move |id: Uuid| {
        all.iter()
            .find(|s| s.id == id)
            .map(|s| s.name())
            .unwrap_or_default()
    })
}

fn invoice(
    i: &daftar_client_core::protocol::InvoiceDue,
    currency: &str,
    names: &impl Fn(Uuid) -> String,
) -> Invoice {
    Invoice {
        invoice_id: i.invoice_id.to_string(),
        invoice_no: i.invoice_no,
        student_id: i.student_id.to_string(),
        student_name: names(i.student_id),
        issued_on: i.issued_on.to_string(),
        currency: currency.to_string(),
        amount: i.amount,
        outstanding: i.outstanding,
        lines: i
            .lines
            .iter()
            .map(|l| InvoiceLine {
                description: l.description.clone(),
                due_on: l.due_on.to_string(),
                amount: l.amount,
                outstanding: l.outstanding,
            })
            .collect(),
    }
}
