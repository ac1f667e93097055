//! What the REST benches share (BENCHMARKS.md): the release server started as a child
//! process, a login and request helpers over `ureq`, the open/closed-loop load runner with its
//! latency figures, and set-based loaders for bench schools.
//!
//! Every helper returns `anyhow::Result`: a bench stops at the first thing that goes wrong,
//! naming the URL and status.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use daftar_client_core::ledger::SystemAccount;
use daftar_client_core::protocol::Role;
use daftar_server::auth::password;
use daftar_server::{ledger, schools};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::SeedableRng;
use serde_json::{json, Value};
use uuid::Uuid;

/// The password of every bench login.
pub const PASSWORD: &str = "bench-password-1";
/// The JWT secret the bench server signs with.
pub const SECRET: &str = "bench-secret-bench-secret-bench-secret!!";

/// The Argon2id hash of [`PASSWORD`], computed once per process (hashing is deliberately
/// slow, and a bench seeds hundreds of users).
///
/// # Errors
/// Hashing failed.
pub fn password_hash() -> anyhow::Result<&'static str> {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = HASH.get() {
        return Ok(h);
    }
    let h = password::hash(PASSWORD)?;
    Ok(HASH.get_or_init(|| h))
}

/// Starts the release server `server` (default: `daftar-server` beside the running binary)
/// on a free loopback port against the database `url`, with `data_dir` as its data
/// directory, and waits until `/readyz` answers (60 s at most).
///
/// Returns the running server (killed when dropped) and its base URL.
///
/// # Errors
/// The binary is missing, exits, or is not ready in 60 s.
pub fn start_server(
    server: Option<&Path>,
    url: &str,
    data_dir: &std::path::Path,
) -> anyhow::Result<(Server, String)> {
    let server_bin = server.map(Path::to_path_buf).unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("daftar-server")))
            .unwrap_or_default()
    });
    if !server_bin.is_file() {
        bail!(
            "server binary {} not found: cargo build --release -p daftar-server",
            server_bin.display()
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = Server(
        Command::new(&server_bin)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .env("DATABASE_URL", url)
            .env("DAFTAR_JWT_SECRET", SECRET)
            .env("DAFTAR_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the server")?,
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, &mut server.0)?;

    Ok((server, base))
}

/// Kills the server when the bench ends, however it ends.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `{base}/readyz` answers; fails if `child` exits or 60 s pass.
pub fn wait_ready(base: &str, child: &mut Child) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if ureq::get(&format!("{base}/readyz")).call().is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("server exited: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("server not ready in 60 s")
}

/// Logs `username` of school `school` in with [`PASSWORD`] (for an enrolled device when
/// `device` is given) and returns the access token (valid 15 minutes).
pub fn login(
    base: &str,
    school: &str,
    username: &str,
    device: Option<Uuid>,
) -> anyhow::Result<String> {
    let v: Value = ureq::post(&format!("{base}/api/v1/auth/login"))
        .send_json(json!({"school": school, "username": username, "password": PASSWORD, "device_id": device}))?
        .into_json()?;
    Ok(v["access_token"].as_str().context("no token")?.to_string())
}

/// POSTs `body` as JSON with the bearer `token`; fails unless the status is `want`.
pub fn post(url: &str, token: &str, body: &Value, want: u16) -> anyhow::Result<()> {
    let r = ureq::post(url)
        .set("authorization", &format!("Bearer {token}"))
        .send_json(body)?;
    if r.status() != want {
        bail!("{url}: status {}", r.status());
    }
    Ok(())
}

/// PUTs `body` as JSON with the bearer `token`; fails on any 4xx/5xx.
pub fn put(url: &str, token: &str, body: &Value) -> anyhow::Result<()> {
    ureq::put(url)
        .set("authorization", &format!("Bearer {token}"))
        .send_json(body)?;
    Ok(())
}

/// GETs `url` with the bearer `token` and reads the whole body; fails on any 4xx/5xx.
pub fn get(url: &str, token: &str) -> anyhow::Result<()> {
    let r = ureq::get(url)
        .set("authorization", &format!("Bearer {token}"))
        .call()?;
    let _ = r.into_string()?;
    Ok(())
}

/// What one load run measured.
pub struct Figures {
    /// Requests measured.
    pub n: usize,
    /// Wall time of the measured part.
    pub wall: Duration,
    /// Every measured request's latency, sorted.
    pub latencies: Vec<Duration>,
    /// The offered rate (requests/s), or `None` for closed loop.
    pub rate: Option<f64>,
}

impl Figures {
    /// Measured requests per second of wall time.
    pub fn throughput(&self) -> f64 {
        self.n as f64 / self.wall.as_secs_f64()
    }

    /// Prints a Markdown row: name, placement, round, requests, clients, req/s, p50, p99 (ms).
    pub fn row(&self, name: &str, placement: &str, round: usize, concurrency: usize) {
        println!(
            "| {name} | {placement} | {} | {} | {concurrency} | {:.0} | {:.1} | {:.1} |",
            round + 1,
            self.n,
            self.throughput(),
            self.pct(0.50),
            self.pct(0.99)
        );
    }

    /// The `p` quantile (0–1) of the latencies, in milliseconds (nearest rank).
    pub fn pct(&self, p: f64) -> f64 {
        let i =
            ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    /// Prints a Markdown row: name, offered load, requests, clients, req/s, p50, p99, max (ms).
    pub fn print(&self, name: &str, concurrency: usize) {
        let offered = self
            .rate
            .map(|r| format!("{r:.0}/s"))
            .unwrap_or_else(|| "max (closed loop)".into());
        println!(
            "| {name} | {offered} | {} | {concurrency} | {:.0} | {:.1} | {:.1} | {:.1} |",
            self.n,
            self.n as f64 / self.wall.as_secs_f64(),
            self.pct(0.50),
            self.pct(0.99),
            self.pct(1.0)
        );
    }
}

/// Runs `n` requests over `concurrency` threads (the closure gets the request index, its
/// thread index and the thread's RNG), after 2% warm-up requests that are not measured; every
/// request must succeed.
///
/// With `rate` = None the load is closed-loop (each thread sends as fast as answers come: the
/// maximum throughput, and latency at saturation). With `rate` = Some(r) it is open-loop:
/// request i is due at start + i/r, and its latency counts from when it was due, so a server
/// that falls behind is charged for the queueing (no coordinated omission).
pub fn run<F>(n: usize, concurrency: usize, rate: Option<f64>, f: F) -> anyhow::Result<Figures>
where
    F: Fn(usize, usize, &mut rand::rngs::StdRng) -> anyhow::Result<()> + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let warm = (n / 50).max(concurrency);
    let next = Arc::new(AtomicUsize::new(0));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let errors = Arc::new(Mutex::new(Vec::new()));
    // Warm-up, single-threaded.
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    for i in 0..warm {
        f(n + i, i % concurrency, &mut rng)?;
    }
    let begin = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|t| {
            let (f, next, lat, errors) = (f.clone(), next.clone(), lat.clone(), errors.clone());
            std::thread::spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(100 + t as u64);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let t0 = match rate {
                        Some(r) => {
                            let due = begin + Duration::from_secs_f64(i as f64 / r);
                            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(wait);
                            }
                            due
                        }
                        None => Instant::now(),
                    };
                    match f(i, t, &mut rng) {
                        Ok(()) => lat.lock().map(|mut l| l.push(t0.elapsed())).unwrap_or(()),
                        Err(e) => errors
                            .lock()
                            .map(|mut v| v.push(e.to_string()))
                            .unwrap_or(()),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    let wall = begin.elapsed();
    let errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
    if !errors.is_empty() {
        bail!("{} requests failed; first: {}", errors.len(), errors[0]);
    }
    let mut latencies = lat.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort();
    Ok(Figures {
        n,
        wall,
        latencies,
        rate,
    })
}

/// The peak resident set size (`VmHWM`, KiB) of process `pid`, if it can be read.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// `count` classes of exactly 40 of the school's students each (students reused round-robin
/// when the school has fewer than `40 × count`), in a term covering the last 120 days and the
/// next 10. Returns each class with its students.
pub fn bench_classes(
    conn: &mut PgConnection,
    slug: &str,
    count: usize,
) -> anyhow::Result<Vec<(Uuid, Vec<Uuid>)>> {
    use daftar_server::schema::{academic_years, classes, enrollments, schools, students, terms};
    let sid: Uuid = schools::table
        .filter(schools::slug.eq(slug))
        .select(schools::id)
        .first(conn)?;
    let today = Utc::now().date_naive();
    let (start, end) = (
        today - chrono::Duration::days(120),
        today + chrono::Duration::days(10),
    );
    let year = Uuid::now_v7();
    diesel::insert_into(academic_years::table)
        .values((
            academic_years::school_id.eq(sid),
            academic_years::id.eq(year),
            academic_years::name.eq("Bench"),
            academic_years::starts_on.eq(start),
            academic_years::ends_on.eq(end),
        ))
        .execute(conn)?;
    diesel::insert_into(terms::table)
        .values((
            terms::school_id.eq(sid),
            terms::id.eq(Uuid::now_v7()),
            terms::academic_year_id.eq(year),
            terms::name.eq("Bench"),
            terms::starts_on.eq(start),
            terms::ends_on.eq(end),
        ))
        .execute(conn)?;
    let all: Vec<Uuid> = students::table
        .filter(students::school_id.eq(sid))
        .order(students::id)
        .select(students::id)
        .load(conn)?;
    let mut out = Vec::new();
    for k in 0..count {
        let class = Uuid::now_v7();
        diesel::insert_into(classes::table)
            .values((
                classes::school_id.eq(sid),
                classes::id.eq(class),
                classes::academic_year_id.eq(year),
                classes::name.eq(format!("Bench {k}")),
            ))
            .execute(conn)?;
        let members: Vec<Uuid> = (0..40).map(|j| all[(k * 40 + j) % all.len()]).collect();
        let rows: Vec<_> = members
            .iter()
            .map(|s| {
                (
                    enrollments::school_id.eq(sid),
                    enrollments::id.eq(Uuid::now_v7()),
                    enrollments::class_id.eq(class),
                    enrollments::student_id.eq(*s),
                )
            })
            .collect();
        diesel::insert_into(enrollments::table)
            .values(&rows)
            .execute(conn)?;
        out.push((class, members));
    }
    Ok(out)
}

/// A school `slug` with `students` students in 60% as many families, one invoice each of 10
/// lines (a balanced journal entry per invoice), loaded with set-based SQL, and an `admin` and
/// an `accountant`. Returns its family ids.
pub fn bulk_school(
    conn: &mut PgConnection,
    slug: &str,
    students: i64,
) -> anyhow::Result<Vec<Uuid>> {
    let school = schools::create_school(
        conn,
        &schools::NewSchool {
            slug: slug.into(),
            name: format!("School {slug}"),
            currency: "PKR".into(),
            timezone: "Asia/Karachi".into(),
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    schools::create_user(
        conn,
        school.id,
        "admin",
        "Admin",
        Role::Admin,
        Some(password_hash()?.to_string()),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    schools::create_user(
        conn,
        school.id,
        "accountant",
        "Accountant",
        Role::Accountant,
        Some(password_hash()?.to_string()),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sid = school.id;
    let head = ledger::repo::create_fee_head(conn, sid, Uuid::now_v7(), "Tuition")?;
    let receivable = ledger::repo::system_account(conn, sid, SystemAccount::Receivable)?;
    let families = (students * 6 / 10).max(1);
    let script = format!(
        "BEGIN;
         DROP TABLE IF EXISTS pg_temp.fam, pg_temp.stu, pg_temp.inv;
         INSERT INTO academic_years (school_id, id, name, starts_on, ends_on) VALUES ('{sid}'::uuid, gen_random_uuid(), 'Y', '2026-04-01', '2027-03-31');
         INSERT INTO terms (school_id, id, academic_year_id, name, starts_on, ends_on)
             SELECT '{sid}'::uuid, gen_random_uuid(), id, 'T', DATE '2026-08-01', DATE '2026-11-30' FROM academic_years WHERE school_id = '{sid}'::uuid;
         CREATE TEMP TABLE fam AS SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, {families}) g;
         INSERT INTO families (school_id, id, name) SELECT '{sid}'::uuid, id, 'Family ' || n FROM fam;
         CREATE TEMP TABLE stu AS SELECT gen_random_uuid() AS id, f.id AS family_id, g AS n
             FROM generate_series(1, {students}) g JOIN fam f ON f.n = 1 + (g % {families});
         INSERT INTO students (school_id, id, family_id, admission_no, given_name, family_name)
             SELECT '{sid}'::uuid, id, family_id, 'B-' || n, 'Student', 'N' || n FROM stu;
         -- A school the statistics have never seen is estimated at one row, and the foreign-key
         -- checks of the inserts below would then pick any index starting with school_id and
         -- scan the whole school per row (BENCHMARKS.md). Fresh statistics keep them on the
         -- primary key.
         ANALYZE families, students;
         CREATE TEMP TABLE inv AS SELECT gen_random_uuid() AS id, gen_random_uuid() AS entry_id, s.id AS student_id, s.family_id, s.n FROM stu s;
         INSERT INTO journal_entries (school_id, id, entry_no, kind, occurred_on, memo)
             SELECT '{sid}'::uuid, entry_id, nextval('journal_entry_no_seq'), 'invoice', DATE '2026-08-01', 'bulk invoice' FROM inv;
         ANALYZE journal_entries;
         INSERT INTO journal_lines (school_id, id, entry_id, line_no, account_id, amount, family_id, student_id)
             SELECT '{sid}'::uuid, gen_random_uuid(), entry_id, 1, '{receivable}'::uuid, 10 * 500000, family_id, student_id FROM inv
             UNION ALL
             SELECT '{sid}'::uuid, gen_random_uuid(), entry_id, 2, '{income}'::uuid, -10 * 500000, family_id, student_id FROM inv;
         INSERT INTO invoices (school_id, id, invoice_no, family_id, student_id, term_id, issued_on, journal_entry_id)
             SELECT '{sid}'::uuid, i.id, i.n, i.family_id, i.student_id, t.id, DATE '2026-08-01', i.entry_id
             FROM inv i, (SELECT id FROM terms WHERE school_id = '{sid}'::uuid) t;
         ANALYZE invoices;
         INSERT INTO invoice_lines (school_id, id, invoice_id, line_no, fee_head_id, description, amount, due_on)
             SELECT '{sid}'::uuid, gen_random_uuid(), i.id, l, '{head_id}'::uuid, 'Fee ' || l, 500000, DATE '2026-08-01' + 7 * l
             FROM inv i, generate_series(1, 10) l;
         INSERT INTO school_counters (school_id, name, value) VALUES ('{sid}'::uuid, 'invoice', {students})
             ON CONFLICT (school_id, name) DO UPDATE SET value = EXCLUDED.value;
         COMMIT;
         ANALYZE invoice_lines, journal_lines;",
        income = head.income_account_id,
        head_id = head.id,
    );
    conn.batch_execute(&script)?;
    use daftar_server::schema::families as f;
    Ok(f::table
        .filter(f::school_id.eq(sid))
        .select(f::id)
        .load(conn)?)
}

/// Enrols `n` office devices for the accountant of school `slug`, with receipt series D1, D2, ….
pub fn enrol_devices(conn: &mut PgConnection, slug: &str, n: usize) -> anyhow::Result<Vec<Uuid>> {
    use daftar_server::schema::{devices, schools, users};
    let sid: Uuid = schools::table
        .filter(schools::slug.eq(slug))
        .select(schools::id)
        .first(conn)?;
    let user: Uuid = users::table
        .filter(users::school_id.eq(sid))
        .filter(users::username.eq("accountant"))
        .select(users::id)
        .first(conn)?;
    let mut ids = Vec::new();
    for k in 1..=n {
        let id = Uuid::now_v7();
        diesel::insert_into(devices::table)
            .values((
                devices::school_id.eq(sid),
                devices::id.eq(id),
                devices::user_id.eq(user),
                devices::name.eq(format!("Office PC {k}")),
                devices::kind.eq("office"),
                devices::receipt_series.eq(format!("D{k}")),
            ))
            .execute(conn)?;
        ids.push(id);
    }
    Ok(ids)
}
