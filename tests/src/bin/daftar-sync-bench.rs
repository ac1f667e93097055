//! Benchmarks of offline sync (the targets in BENCHMARKS.md), printed as a table for
//! BENCHMARKS.md. Uses the release server binary over an embedded, durable PostgreSQL (fsync and
//! synchronous commit on), the release `daftar-agent` for the bootstrap, and client-core
//! engines in this process for push and propagation.
//!
//! 1. Bootstrap: a school of 2,000 students with a year of history — 3 terms of invoices
//!    (4 lines each), two terms paid, 180 school days of attendance (360,000 marks) — pulled by
//!    a new office device with `daftar-agent init`: wall time and the agent's peak RSS.
//! 2. Push: 50,000 queued ops (25,000 `payment.record`, 25,000 `attendance.mark_register`
//!    corrections) drained by one engine; ops/s, and the ratio to a plain multi-row INSERT of
//!    the same rows (one payment row per payment op, one mark row per register op) into the
//!    same PostgreSQL in transactions of the same size.
//! 3. Propagation: a payment pushed by one office engine until it is in another engine's
//!    replica (that engine runs its SSE-driven loop): p50/p99 over 300 samples.

use daftar_client_core::ledger::SystemAccount;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Parser;
use daftar_client_core::client::SyncEngine;
use daftar_client_core::protocol::sync::{
    MarkRegisterArgs, ATTENDANCE_MARK_REGISTER, PAYMENT_RECORD,
};
use daftar_client_core::protocol::{LoginRequest, MarkException, MarkRegisterRequest, Role};
use daftar_server::auth::password;
use daftar_server::schools;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Uuid as SqlUuid};
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

#[derive(Debug, Parser)]
struct Args {
    /// Students in the bootstrap school.
    #[arg(long, default_value_t = 2000)]
    students: i64,
    /// School days of attendance history.
    #[arg(long, default_value_t = 180)]
    days: i64,
    /// Ops to push (half payments, half register corrections).
    #[arg(long, default_value_t = 50_000)]
    ops: usize,
    /// Drain the queue this many times (each time `--ops` ops queued afresh, on the same
    /// school and device) and report each rate and the median: the VM is noisy.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Ops per push request (the engine's default is 500; the server takes up to 1,000).
    #[arg(long)]
    push_batch: Option<i64>,
    /// Propagation samples.
    #[arg(long, default_value_t = 300)]
    samples: usize,
    /// Push only this kind of op (`payments` or `registers`) instead of the half-and-half mix.
    #[arg(long)]
    only: Option<String>,
    /// Measure the push only.
    #[arg(long)]
    push_only: bool,
    /// Skip the `VACUUM (ANALYZE)` after seeding (autovacuum then runs during the
    /// measurements, as on a server that has just bulk-loaded a school).
    #[arg(long)]
    no_vacuum: bool,
    /// An empty database to use instead of a private cluster (for profiling with
    /// pg_stat_statements).
    #[arg(long)]
    database_url: Option<String>,
    /// Diagnostic, not a product setting: after seeding, run the server's sessions with
    /// `session_replication_role = replica`, which switches off every trigger and
    /// foreign-key check (the change log, the journal balance check, referential integrity).
    /// The push then measures what the rest of the work costs, the floor under the design's
    /// integrity machinery. Pushed rows are not logged, so it needs `--push-only`. Needs a
    /// superuser (the private cluster is one); the setting is reset when the bench ends, but a
    /// `--database-url` database should be thrown away afterwards all the same.
    #[arg(long, requires = "push_only")]
    without_integrity_checks: bool,
    /// Each round pushes twice, first as the product does and then with
    /// `session_replication_role = replica` as `--without-integrity-checks` (the server is
    /// restarted between them to change the setting), and prints the medians of both and
    /// their ratio: the issue #16 target "push reaches ≥ 75% of the floor without integrity
    /// checks, in the same run". Needs `--push-only`.
    #[arg(
        long,
        requires = "push_only",
        conflicts_with = "without_integrity_checks"
    )]
    compare_without_integrity_checks: bool,
    /// While each round's push drains, record REST payments on the same school at this rate
    /// (per second, open loop, as `office2` on the server's series) and report their p50/p99
    /// beside the same load with no push running (issue #16: a push chunk used to hold the
    /// school's version row, so REST writers queued behind a draining outbox).
    #[arg(long)]
    rest_during_push: Option<f64>,
}

const PASSWORD: &str = "bench-password-1";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bin_dir = std::env::current_exe()?
        .parent()
        .map(Path::to_path_buf)
        .context("binary dir")?;
    let needed: &[&str] = if args.push_only {
        &["daftar-server"]
    } else {
        &["daftar-server", "daftar-agent"]
    };
    for b in needed {
        if !bin_dir.join(b).is_file() {
            bail!("{b} not found beside this binary: cargo build --release -p daftar-server -p daftar-desktop-agent -p daftar-tests");
        }
    }
    let bench =
        daftar_tests::bulk::bench_database("daftar-sync-bench-", args.database_url.as_deref())?;
    let (dir, url) = (&bench.dir, bench.url.clone());
    let mut conn = PgConnection::establish(&url)?;

    let t = Instant::now();
    let (marks, rows) = seed_school(&mut conn, args.students, args.days, !args.no_vacuum)?;
    eprintln!(
        "school seeded: {} students, {marks} attendance marks, {rows} change-log rows in {:.1} s",
        args.students,
        t.elapsed().as_secs_f64()
    );

    if args.without_integrity_checks {
        set_integrity_checks(&mut conn, false)?;
        eprintln!("without integrity checks: no triggers and no foreign-key checks in the server's sessions");
    }
    if args.database_url.is_some() {
        // Profiling runs: count only what follows the seeding.
        let _ = diesel::sql_query("SELECT pg_stat_statements_reset()").execute(&mut conn);
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = ServerCtl {
        bin: bin_dir.join("daftar-server"),
        url: url.clone(),
        data_dir: dir.path().to_path_buf(),
        port,
        running: None,
    };
    server.start()?;
    let base = server.base();

    // 1. Bootstrap through the real agent binary.
    if !args.push_only {
        bootstrap(&bin_dir, dir.path(), &base, rows)?;
    }
    let pushed = push_and_propagate(&args, dir.path(), &mut server, &mut conn);
    server.stop(&mut conn)?;
    if args.without_integrity_checks || args.compare_without_integrity_checks {
        // A `--database-url` database outlives the bench: later sessions must check again.
        set_integrity_checks(&mut conn, true)?;
    }
    pushed
}

/// Switches the triggers and foreign-key checks of the sessions that connect from now on
/// (the server's, after a restart) off (`session_replication_role = replica`) or back on.
fn set_integrity_checks(conn: &mut PgConnection, on: bool) -> anyhow::Result<()> {
    let sql = if on {
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET session_replication_role', \
         current_database()); END $$"
    } else {
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET session_replication_role = replica', \
         current_database()); END $$"
    };
    diesel::sql_query(sql).execute(conn)?;
    Ok(())
}

/// The release server on a fixed loopback port, stopped and started again between rounds:
/// its sessions then pick up a changed database setting, and its exiting backends flush their
/// table statistics (what [`written_rows`] reads).
struct ServerCtl {
    bin: std::path::PathBuf,
    url: String,
    data_dir: std::path::PathBuf,
    port: u16,
    running: Option<Server>,
}

impl ServerCtl {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the server (pool of 16, default push limit) and waits for `/readyz`.
    fn start(&mut self) -> anyhow::Result<()> {
        let mut child = Server(
            Command::new(&self.bin)
                .args([
                    "serve",
                    "--bind",
                    &format!("127.0.0.1:{}", self.port),
                    "--pool-size",
                    "16",
                ])
                .env("DATABASE_URL", &self.url)
                .env(
                    "DAFTAR_JWT_SECRET",
                    "bench-secret-bench-secret-bench-secret!!",
                )
                .env("DAFTAR_DATA_DIR", &self.data_dir)
                .env(
                    "RUST_LOG",
                    std::env::var("DAFTAR_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
                )
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()?,
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        while ureq::get(&format!("{}/readyz", self.base()))
            .call()
            .is_err()
        {
            if Instant::now() > deadline || child.0.try_wait()?.is_some() {
                bail!("server did not start");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.running = Some(child);
        Ok(())
    }

    /// Stops the server and waits until its database sessions have ended.
    fn stop(&mut self, conn: &mut PgConnection) -> anyhow::Result<()> {
        self.running = None;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let others: Count = diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity
                  WHERE datname = current_database() AND backend_type = 'client backend'
                    AND pid <> pg_backend_pid()",
            )
            .get_result(conn)?;
            if others.n == 0 {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the server's database sessions did not end");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn restart(&mut self, conn: &mut PgConnection) -> anyhow::Result<()> {
        self.stop(conn)?;
        self.start()
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn bootstrap(bin_dir: &Path, dir: &Path, base: &str, rows: i64) -> anyhow::Result<()> {
    let boot_dir = dir.join("agent-boot");
    let t = Instant::now();
    let child = Command::new(bin_dir.join("daftar-agent"))
        .args(["--data-dir"])
        .arg(&boot_dir)
        .args([
            "--json",
            "init",
            "--server",
            base,
            "--school",
            "bench",
            "--username",
            "office",
        ])
        .env("DAFTAR_PASSWORD", PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let (status, peak_kib) = wait_with_rusage(child)?;
    let boot_secs = t.elapsed().as_secs_f64();
    if !status {
        bail!("agent init failed");
    }
    let replica_mib = std::fs::metadata(boot_dir.join("replica.db"))?.len() as f64 / 1048576.0;
    println!(
        "bootstrap: {rows} rows in {boot_secs:.1} s ({:.0} rows/s), agent peak RSS {:.0} MiB, replica.db {replica_mib:.0} MiB",
        rows as f64 / boot_secs,
        peak_kib as f64 / 1024.0
    );
    Ok(())
}

fn push_and_propagate(
    args: &Args,
    dir: &Path,
    server: &mut ServerCtl,
    conn: &mut PgConnection,
) -> anyhow::Result<()> {
    let base_url = server.base();
    let base = base_url.as_str();
    // 2. Push.
    let login = |user: &str| LoginRequest {
        school: "bench".into(),
        username: user.into(),
        password: PASSWORD.into(),
        device_id: None,
        two_factor_code: None,
    };
    let push_dir = dir.join("agent-push");
    let mut pusher = SyncEngine::init(&push_dir, base, &login("office"), "pusher")?;
    if let Some(n) = args.push_batch {
        pusher.push_batch = n;
    }
    let (families, registers) = targets(conn)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut rates = Vec::new();
    let rest = match args.rest_during_push {
        Some(rate) => {
            let token = rest_token(base, "office2")?;
            let idle = rest_payments(base, &token, &families, rate, Duration::from_secs(10), None)?;
            println!(
                "REST payments at {rate:.0}/s, no push running: {}",
                idle.summary()
            );
            Some((token, rate))
        }
        None => None,
    };
    let passes: &[bool] = if args.compare_without_integrity_checks {
        &[true, false]
    } else {
        &[true]
    };
    let mut rates_without = Vec::new();
    let mut written: Option<Vec<(String, i64)>> = None;
    for round in 1..=args.rounds.max(1) {
        for &integrity in passes {
            if args.compare_without_integrity_checks {
                set_integrity_checks(conn, integrity)?;
                server.restart(conn)?;
                // The engine's pooled HTTP connection died with the old server; a GET is
                // retried on a fresh one (a POST would not be).
                let _ = pusher.api.digest();
            }
            let before = if round == 1 && integrity {
                Some(table_writes(conn)?)
            } else {
                None
            };
            let t = Instant::now();
            for i in 0..args.ops {
                let payment = match args.only.as_deref() {
                    Some("payments") => true,
                    Some("registers") => false,
                    _ => i % 2 == 0,
                };
                if payment {
                    let f = families[rng.gen_range(0..families.len())];
                    let args = json!({ "id": Uuid::now_v7(), "family_id": f, "amount": rng.gen_range(1..50) * 100,
                                   "currency": "PKR", "method": "cash" });
                    pusher.store.enqueue(PAYMENT_RECORD, &args, None, &[])?;
                } else {
                    let (class_id, on_date, student) = registers[rng.gen_range(0..registers.len())];
                    let code = if rng.gen_bool(0.5) { "A" } else { "L" };
                    let a = MarkRegisterArgs {
                        class_id,
                        on_date,
                        register: MarkRegisterRequest {
                            period: 0,
                            default_code: Some("P".into()),
                            exceptions: vec![MarkException {
                                student_id: student,
                                code: code.into(),
                            }],
                            reason: Some("bench correction".into()),
                        },
                    };
                    pusher.store.enqueue(
                        ATTENDANCE_MARK_REGISTER,
                        &serde_json::to_value(&a)?,
                        None,
                        &[],
                    )?;
                }
            }
            eprintln!(
                "{} ops queued in {:.1} s",
                args.ops,
                t.elapsed().as_secs_f64()
            );
            let t = Instant::now();
            let pushing = Arc::new(AtomicBool::new(true));
            let during = rest.clone().map(|(token, rate)| {
                let (base, families, pushing) =
                    (base.to_string(), families.clone(), pushing.clone());
                std::thread::spawn(move || {
                    rest_payments(
                        &base,
                        &token,
                        &families,
                        rate,
                        Duration::from_secs(3600),
                        Some(&pushing),
                    )
                })
            });
            let pushed = pusher.push();
            pushing.store(false, Ordering::Relaxed);
            let (sent, applied, rejected, _) = pushed?;
            let push_secs = t.elapsed().as_secs_f64();
            if let Some(h) = during {
                let lat = h
                    .join()
                    .map_err(|_| anyhow::anyhow!("REST thread panicked"))??;
                println!(
                    "round {round}: REST payments during the push: {}",
                    lat.summary()
                );
            }
            if sent != args.ops || rejected != 0 {
                bail!(
                    "push: {sent} sent, {applied} applied, {rejected} rejected of {}",
                    args.ops
                );
            }
            let rate = args.ops as f64 / push_secs;
            if args.rounds > 1 || passes.len() > 1 {
                eprintln!(
                    "round {round}{}: {} ops in {push_secs:.1} s = {rate:.0} ops/s",
                    if integrity {
                        ""
                    } else {
                        " without integrity checks"
                    },
                    args.ops
                );
            }
            if let Some(before) = before {
                // The server's exiting sessions flush their table statistics.
                server.restart(conn)?;
                let _ = pusher.api.digest();
                written = Some(written_rows(&before, &table_writes(conn)?));
            }
            if integrity {
                rates.push(rate);
            } else {
                rates_without.push(rate);
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let push_rate = median(&mut rates);
    let floor_secs = floor_insert(conn, args.ops)?;
    let floor_rate = args.ops as f64 / floor_secs;
    println!(
        "push: {} ops x {} rounds, median {push_rate:.0} ops/s (min {:.0}, max {:.0}); plain multi-row INSERT of one payment or mark row per op: {floor_rate:.0} rows/s; ratio {:.1}x",
        args.ops,
        rates.len(),
        rates[0],
        rates[rates.len() - 1],
        floor_rate / push_rate
    );
    if let Some(written) = written {
        let rows: i64 = written.iter().map(|(_, n)| n).sum();
        let push_secs = args.ops as f64 / push_rate;
        let transactions = args.ops.div_ceil(daftar_server::sync::push::COMMIT_EVERY);
        let (copied, secs) = floor_insert_written(conn, &written, transactions)?;
        println!(
            "push wrote {rows} rows (inserts, updates and deletes) in {} tables: {}",
            written.len(),
            written
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "floor: the same {copied} rows copied into trigger-free, key-free copies of their tables with the same indexes, in {transactions} transactions: {secs:.2} s; the push (median {push_secs:.2} s) reaches {:.0}% of it",
            100.0 * secs / push_secs
        );
        if args.rest_during_push.is_some() {
            println!("(the rows written include the REST payments made during the first push)");
        }
    }
    if !rates_without.is_empty() {
        let without = median(&mut rates_without);
        println!(
            "push without integrity checks: median {without:.0} ops/s (min {:.0}, max {:.0}); the push as built reaches {:.0}% of it",
            rates_without[0],
            rates_without[rates_without.len() - 1],
            100.0 * push_rate / without
        );
    }

    if args.push_only {
        return Ok(());
    }
    // 3. Propagation: B runs its loop (SSE + pull); A pushes one payment at a time.
    let b_dir = dir.join("agent-b");
    let mut b = SyncEngine::init(&b_dir, base, &login("office2"), "watcher")?;
    b.sync_once(&mut |_, _| {})?;
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let watcher = std::thread::spawn(move || {
        SyncEngine::run(
            &std::sync::Mutex::new(b),
            s2,
            Duration::from_secs(30),
            |_| {},
        );
    });
    let mut probe =
        diesel::sqlite::SqliteConnection::establish(&b_dir.join("replica.db").to_string_lossy())?;
    std::thread::sleep(Duration::from_millis(500));
    let mut lat = Vec::new();
    for _ in 0..args.samples {
        let f = families[rng.gen_range(0..families.len())];
        let id = Uuid::now_v7();
        let a =
            json!({ "id": id, "family_id": f, "amount": 100, "currency": "PKR", "method": "cash" });
        pusher.store.enqueue(PAYMENT_RECORD, &a, None, &[])?;
        let t = Instant::now();
        pusher.push()?;
        loop {
            #[derive(QueryableByName)]
            struct One {
                #[diesel(sql_type = BigInt)]
                n: i64,
            }
            let seen: One = diesel::sql_query(format!(
                "SELECT count(*) AS n FROM rows WHERE entity = 'payments' AND id = '{id}'"
            ))
            .get_result(&mut probe)?;
            if seen.n == 1 {
                break;
            }
            if t.elapsed() > Duration::from_secs(10) {
                bail!("payment {id} never reached the other replica");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    lat.sort_by(f64::total_cmp);
    let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
    println!(
        "propagation: {} samples, p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lat.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}

/// Waits for `child`, returning success and its peak resident set (KiB, from `wait4`).
fn wait_with_rusage(child: Child) -> anyhow::Result<(bool, i64)> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r != pid {
        bail!("wait4 failed");
    }
    std::mem::forget(child);
    Ok((
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        usage.ru_maxrss,
    ))
}

/// The bootstrap school, built with set-based SQL (the change-log triggers fire for every
/// row, as they would for rows written one by one). Returns (marks, change-log rows).
fn seed_school(
    conn: &mut PgConnection,
    students: i64,
    days: i64,
    vacuum: bool,
) -> anyhow::Result<(i64, i64)> {
    let school = schools::create_school(
        conn,
        &schools::NewSchool {
            slug: "bench".into(),
            name: "Bench School".into(),
            currency: "PKR".into(),
            timezone: "Asia/Karachi".into(),
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sid = school.id;
    let hash = password::hash(PASSWORD)?;
    let mut office = None;
    for u in ["office", "office2"] {
        let row = schools::create_user(conn, sid, u, u, Role::Accountant, Some(hash.clone()))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        office.get_or_insert(row.id);
    }
    let office = office.context("user")?;
    let head = daftar_server::ledger::repo::create_fee_head(conn, sid, Uuid::now_v7(), "Tuition")?;
    let receivable =
        daftar_server::ledger::repo::system_account(conn, sid, SystemAccount::Receivable)?;
    let cash = daftar_server::ledger::repo::system_account(conn, sid, SystemAccount::Cash)?;
    let families = (students * 6 / 10).max(1);
    let classes = (students / 33).max(1);
    let today = Utc::now().date_naive();
    let script = format!(
        "BEGIN;
         INSERT INTO academic_years (school_id, id, name, starts_on, ends_on) VALUES ('{sid}'::uuid, gen_random_uuid(), 'Y', DATE '{today}' - 300, DATE '{today}' + 65);
         CREATE TEMP TABLE trm AS SELECT gen_random_uuid() AS id, k,
             DATE '{today}' - 300 + (k - 1) * 122 AS starts_on, DATE '{today}' - 300 + k * 122 - 1 AS ends_on
             FROM generate_series(1, 3) k;
         INSERT INTO terms (school_id, id, academic_year_id, name, starts_on, ends_on)
             SELECT '{sid}'::uuid, t.id, y.id, 'Term ' || t.k, t.starts_on, t.ends_on FROM trm t, academic_years y WHERE y.school_id = '{sid}'::uuid;
         CREATE TEMP TABLE cls AS SELECT gen_random_uuid() AS id, k FROM generate_series(1, {classes}) k;
         INSERT INTO classes (school_id, id, academic_year_id, name, grade, section)
             SELECT '{sid}'::uuid, c.id, y.id, 'Class ' || c.k, (1 + c.k % 10)::text, 'S' || c.k FROM cls c, academic_years y WHERE y.school_id = '{sid}'::uuid;
         CREATE TEMP TABLE fam AS SELECT gen_random_uuid() AS id, g AS n FROM generate_series(1, {families}) g;
         INSERT INTO families (school_id, id, name) SELECT '{sid}'::uuid, id, 'Family ' || n FROM fam;
         CREATE TEMP TABLE stu AS SELECT gen_random_uuid() AS id, f.id AS family_id, g AS n, c.id AS class_id
             FROM generate_series(1, {students}) g JOIN fam f ON f.n = 1 + (g % {families}) JOIN cls c ON c.k = 1 + (g % {classes});
         INSERT INTO students (school_id, id, family_id, admission_no, given_name, family_name, grade)
             SELECT '{sid}'::uuid, id, family_id, 'B-' || n, 'Student', 'N' || n, '1' FROM stu;
         INSERT INTO enrollments (school_id, id, class_id, student_id)
             SELECT '{sid}'::uuid, gen_random_uuid(), class_id, id FROM stu;
         -- Three terms of invoices (4 lines of 5,000.00 each).
         CREATE TEMP TABLE inv AS SELECT gen_random_uuid() AS id, gen_random_uuid() AS entry_id, s.id AS student_id, s.family_id,
             row_number() OVER () AS n, t.id AS term_id, t.k, t.starts_on FROM stu s, trm t;
         INSERT INTO journal_entries (school_id, id, entry_no, kind, occurred_on, memo)
             SELECT '{sid}'::uuid, entry_id, nextval('journal_entry_no_seq'), 'invoice', starts_on, 'invoice' FROM inv;
         INSERT INTO journal_lines (school_id, id, entry_id, line_no, account_id, amount, family_id, student_id)
             SELECT '{sid}'::uuid, gen_random_uuid(), entry_id, 1, '{receivable}'::uuid, 2000000, family_id, student_id FROM inv
             UNION ALL
             SELECT '{sid}'::uuid, gen_random_uuid(), entry_id, 2, '{income}'::uuid, -2000000, family_id, student_id FROM inv;
         INSERT INTO invoices (school_id, id, invoice_no, family_id, student_id, term_id, issued_on, journal_entry_id)
             SELECT '{sid}'::uuid, id, n, family_id, student_id, term_id, starts_on, entry_id FROM inv;
         CREATE TEMP TABLE lin AS SELECT gen_random_uuid() AS id, i.id AS invoice_id, l, i.starts_on + 14 AS due_on, i.k, i.family_id, i.n
             FROM inv i, generate_series(1, 4) l;
         INSERT INTO invoice_lines (school_id, id, invoice_id, line_no, fee_head_id, description, amount, due_on)
             SELECT '{sid}'::uuid, id, invoice_id, l, '{head_id}'::uuid, 'Tuition part ' || l, 500000, due_on FROM lin;
         INSERT INTO school_counters (school_id, name, value) VALUES ('{sid}'::uuid, 'invoice', (SELECT count(*) FROM inv))
             ON CONFLICT (school_id, name) DO UPDATE SET value = EXCLUDED.value;
         -- Terms 1 and 2 paid in full, one payment per invoice.
         CREATE TEMP TABLE pay AS SELECT gen_random_uuid() AS id, gen_random_uuid() AS entry_id, i.id AS invoice_id, i.family_id, i.student_id,
             i.starts_on + 10 AS paid_on, row_number() OVER () AS n FROM inv i WHERE i.k <= 2;
         INSERT INTO journal_entries (school_id, id, entry_no, kind, occurred_on, memo)
             SELECT '{sid}'::uuid, entry_id, nextval('journal_entry_no_seq'), 'payment', paid_on, 'payment' FROM pay;
         INSERT INTO journal_lines (school_id, id, entry_id, line_no, account_id, amount, family_id, student_id)
             SELECT '{sid}'::uuid, gen_random_uuid(), entry_id, 1, '{cash}'::uuid, 2000000, family_id, NULL FROM pay
             UNION ALL
             SELECT '{sid}'::uuid, gen_random_uuid(), entry_id, 2, '{receivable}'::uuid, -2000000, family_id, student_id FROM pay;
         INSERT INTO payments (school_id, id, family_id, amount, currency, method, received_at, receipt_no, to_credit, to_suspense, request_hash, journal_entry_id)
             SELECT '{sid}'::uuid, id, family_id, 2000000, 'PKR', 'cash', paid_on::timestamptz, 'S-' || lpad(n::text, 6, '0'), 0, 0, '\\x00', entry_id FROM pay;
         INSERT INTO allocations (school_id, id, journal_entry_id, invoice_line_id, amount)
             SELECT '{sid}'::uuid, gen_random_uuid(), p.entry_id, l.id, 500000 FROM pay p JOIN lin l ON l.invoice_id = p.invoice_id;
         INSERT INTO receipt_series (school_id, series, next_no) VALUES ('{sid}'::uuid, 'S', (SELECT count(*) + 1 FROM pay));
         -- {days} school days of registers, everyone present but every 20th mark absent.
         CREATE TEMP TABLE dys AS SELECT d::date AS d FROM generate_series(DATE '{today}' - 300, DATE '{today}' - 1, '1 day') d
             WHERE extract(isodow FROM d) <= 5 ORDER BY d DESC LIMIT {days};
         CREATE TEMP TABLE reg AS SELECT gen_random_uuid() AS id, c.id AS class_id, d.d FROM cls c, dys d;
         INSERT INTO registers (school_id, id, class_id, on_date, period, taken_at, taken_by)
             SELECT '{sid}'::uuid, id, class_id, d, 0, d::timestamptz, '{office}'::uuid FROM reg;
         INSERT INTO attendance_marks (school_id, register_id, student_id, code_id, source, marked_by, marked_at)
             SELECT '{sid}'::uuid, r.id, s.id,
                    (SELECT id FROM attendance_codes WHERE school_id = '{sid}'::uuid AND code = CASE WHEN (s.n + extract(doy FROM r.d)::int) % 20 = 0 THEN 'A' ELSE 'P' END),
                    'teacher', '{office}'::uuid, r.d::timestamptz
             FROM reg r JOIN stu s ON s.class_id = r.class_id;
         COMMIT;
         ANALYZE;",
        income = head.income_account_id,
        head_id = head.id,
    );
    conn.batch_execute(&script)?;
    // A school that has run for a year has been vacuumed; without this, autovacuum works
    // through the freshly loaded tables during the measurements that follow.
    if vacuum {
        diesel::sql_query("VACUUM (ANALYZE)").execute(conn)?;
    }
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let marks: N = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM attendance_marks WHERE school_id = '{sid}'"
    ))
    .get_result(conn)?;
    let rows: N = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM change_log WHERE school_id = '{sid}'"
    ))
    .get_result(conn)?;
    Ok((marks.n, rows.n))
}

type RegisterTarget = (Uuid, chrono::NaiveDate, Uuid);

/// Families of the bench school, and (class, date, student) triples of existing registers.
fn targets(conn: &mut PgConnection) -> anyhow::Result<(Vec<Uuid>, Vec<RegisterTarget>)> {
    #[derive(QueryableByName)]
    struct F {
        #[diesel(sql_type = SqlUuid)]
        id: Uuid,
    }
    #[derive(QueryableByName)]
    struct R {
        #[diesel(sql_type = SqlUuid)]
        class_id: Uuid,
        #[diesel(sql_type = Date)]
        on_date: chrono::NaiveDate,
        #[diesel(sql_type = SqlUuid)]
        student_id: Uuid,
    }
    let fams: Vec<F> = diesel::sql_query(
        "SELECT f.id FROM families f JOIN schools s ON s.id = f.school_id WHERE s.slug = 'bench'",
    )
    .load(conn)?;
    let regs: Vec<R> = diesel::sql_query(
        "SELECT DISTINCT ON (r.id) r.class_id, r.on_date, m.student_id
         FROM registers r JOIN schools s ON s.id = r.school_id AND s.slug = 'bench'
         JOIN attendance_marks m ON m.school_id = r.school_id AND m.register_id = r.id
         JOIN terms t ON t.school_id = r.school_id AND r.on_date BETWEEN t.starts_on AND t.ends_on
         ORDER BY r.id, m.student_id",
    )
    .load(conn)?;
    Ok((
        fams.into_iter().map(|f| f.id).collect(),
        regs.into_iter()
            .map(|r| (r.class_id, r.on_date, r.student_id))
            .collect(),
    ))
}

/// The floor: the same number of rows (payments and marks, half each) written with plain
/// multi-row INSERTs of 500 rows per transaction into trigger-free copies of the tables.
fn floor_insert(conn: &mut PgConnection, rows: usize) -> anyhow::Result<f64> {
    conn.batch_execute(
        "CREATE TABLE floor_payments (LIKE payments INCLUDING DEFAULTS);
         CREATE TABLE floor_marks (LIKE attendance_marks INCLUDING DEFAULTS);",
    )?;
    let t = Instant::now();
    let mut done = 0;
    while done < rows {
        let n = 500.min(rows - done);
        let half = n / 2;
        let sql = format!(
            "BEGIN;
             INSERT INTO floor_payments (school_id, id, family_id, amount, currency, method, received_at, receipt_no, to_credit, to_suspense, request_hash, journal_entry_id)
               SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 100, 'PKR', 'cash', now(), 'F-' || g, 0, 0, '\\x00', gen_random_uuid()
               FROM generate_series(1, {}) g;
             INSERT INTO floor_marks (school_id, register_id, student_id, code_id, source, marked_by, marked_at)
               SELECT gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'office', gen_random_uuid(), now()
               FROM generate_series(1, {}) g;
             COMMIT;",
            n - half,
            half
        );
        conn.batch_execute(&sql)?;
        done += n;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Rows inserted, updated and deleted so far per table of the public schema, as the
/// statistics collector counts them (`pg_stat_user_tables`). A session's counts arrive when it
/// reports them (at the latest when it ends); this session first forces its own report.
fn table_writes(conn: &mut PgConnection) -> anyhow::Result<Vec<(String, i64)>> {
    #[derive(QueryableByName)]
    struct Writes {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT pg_stat_force_next_flush()").execute(conn)?;
    diesel::sql_query("SELECT pg_stat_clear_snapshot()").execute(conn)?;
    let rows: Vec<Writes> = diesel::sql_query(
        "SELECT relname::text AS table, n_tup_ins + n_tup_upd + n_tup_del AS n
           FROM pg_stat_user_tables WHERE schemaname = 'public' ORDER BY relname",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|w| (w.table, w.n)).collect())
}

/// The tables whose write count grew from `before` to `after`, and by how much, largest first.
fn written_rows(before: &[(String, i64)], after: &[(String, i64)]) -> Vec<(String, i64)> {
    let before: std::collections::HashMap<&str, i64> =
        before.iter().map(|(t, n)| (t.as_str(), *n)).collect();
    let mut grew: Vec<(String, i64)> = after
        .iter()
        .map(|(t, n)| (t.clone(), n - before.get(t.as_str()).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect();
    grew.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    grew
}

/// The floor under every row a push writes (issue #16): for each table in `written`, as many
/// of its newest rows as the push wrote there (at most the rows the table has: an update of
/// the same row twice is copied once), copied with multi-row `INSERT … SELECT` into a copy of
/// the table with the same columns, defaults and indexes but no triggers, foreign keys or
/// checks, in `transactions` transactions that each take an equal slice of every table (the
/// push commits every `COMMIT_EVERY` ops). The source rows are staged in indexed temporary
/// tables first, outside the timing. Returns the rows copied and the seconds the copying took.
fn floor_insert_written(
    conn: &mut PgConnection,
    written: &[(String, i64)],
    transactions: usize,
) -> anyhow::Result<(i64, f64)> {
    let mut staged = Vec::new();
    for (i, (table, n)) in written.iter().enumerate() {
        #[derive(QueryableByName)]
        struct Col {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let cols: Vec<Col> = diesel::sql_query(format!(
            "SELECT quote_ident(attname) AS name FROM pg_attribute
              WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped
              ORDER BY attnum"
        ))
        .load(conn)?;
        let cols = cols
            .into_iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ");
        conn.batch_execute(&format!(
            "CREATE TEMP TABLE floor_src_{i} AS
               SELECT row_number() OVER () AS floor_rn, newest.*
                 FROM (SELECT * FROM {table} ORDER BY ctid DESC LIMIT {n}) newest;
             CREATE INDEX ON floor_src_{i} (floor_rn);
             ANALYZE floor_src_{i};
             CREATE TABLE floor_{i} (LIKE {table} INCLUDING DEFAULTS INCLUDING INDEXES);"
        ))?;
        let rows: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM floor_src_{i}"))
            .get_result(conn)?;
        staged.push((i, cols, rows.n));
    }
    let copied = staged.iter().map(|(_, _, n)| n).sum();
    let transactions = transactions.max(1) as i64;
    let t = Instant::now();
    for k in 0..transactions {
        let mut sql = String::from("BEGIN;");
        for (i, cols, n) in &staged {
            let (from, to) = (n * k / transactions, n * (k + 1) / transactions);
            if to > from {
                sql.push_str(&format!(
                    "INSERT INTO floor_{i} ({cols}) SELECT {cols} FROM floor_src_{i}
                      WHERE floor_rn > {from} AND floor_rn <= {to};"
                ));
            }
        }
        sql.push_str("COMMIT;");
        conn.batch_execute(&sql)?;
    }
    Ok((copied, t.elapsed().as_secs_f64()))
}

/// REST latencies of one run's answered requests, sorted, and the requests that failed.
struct Latencies(Vec<Duration>, usize);

impl Latencies {
    fn pct(&self, p: f64) -> f64 {
        let i = ((self.0.len() as f64 * p).ceil() as usize).clamp(1, self.0.len().max(1)) - 1;
        self.0
            .get(i)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    }

    fn summary(&self) -> String {
        format!(
            "{} answered, {} failed, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.0.len(),
            self.1,
            self.pct(0.5),
            self.pct(0.99),
            self.pct(1.0)
        )
    }
}

/// An access token for `user` of the bench school, for REST calls.
fn rest_token(base: &str, user: &str) -> anyhow::Result<String> {
    let v: serde_json::Value = ureq::post(&format!("{base}/api/v1/auth/login"))
        .send_json(json!({"school": "bench", "username": user, "password": PASSWORD}))?
        .into_json()?;
    Ok(v["access_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no token"))?
        .to_string())
}

/// Records REST payments at `rate` per second, open loop (request i is due at start + i/rate
/// and its latency counts from then), for `for_at_most` or until `while_set` is cleared. Four
/// threads send, so that one slow answer does not hold the others up; a failed request is
/// counted, not fatal.
fn rest_payments(
    base: &str,
    token: &str,
    families: &[Uuid],
    rate: f64,
    for_at_most: Duration,
    while_set: Option<&AtomicBool>,
) -> anyhow::Result<Latencies> {
    let start = Instant::now();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (out, failed) = (
        std::sync::Mutex::new(Vec::new()),
        std::sync::atomic::AtomicUsize::new(0),
    );
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let (next, out, failed) = (&next, &out, &failed);
            scope.spawn(move || {
                let mut rng = rand::rngs::StdRng::seed_from_u64(11 + t);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let due = start + Duration::from_secs_f64(i as f64 / rate);
                    if due - start > for_at_most
                        || while_set.is_some_and(|f| !f.load(Ordering::Relaxed))
                    {
                        break;
                    }
                    if let Some(w) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(w);
                    }
                    let body = json!({"id": Uuid::now_v7(), "family_id": families[rng.gen_range(0..families.len())],
                                      "amount": rng.gen_range(1..50) * 100, "currency": "PKR", "method": "cash"});
                    match ureq::post(&format!("{base}/api/v1/payments"))
                        .set("authorization", &format!("Bearer {token}"))
                        .send_json(body)
                    {
                        Ok(r) if r.status() == 201 => {
                            if let Ok(mut o) = out.lock() {
                                o.push(due.elapsed());
                            }
                        }
                        _ => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
    });
    let mut out = out.into_inner().unwrap_or_default();
    out.sort();
    Ok(Latencies(out, failed.into_inner()))
}
