//! `daftar-bench`: the REST performance figures (BENCHMARKS.md), measured through the HTTP API of the
//! release server binary, against an embedded (durable, fsync on) PostgreSQL cluster holding
//! the demo school plus a bulk school of 100,000 students and 1,000,000 invoice lines.
//!
//! Run (see BENCHMARKS.md):
//! `cargo build --release -p daftar-server -p daftar-tests && target/release/daftar-bench`
//!
//! Prints throughput, p50/p99/max latency per workload and the server's peak RSS (VmHWM).

use daftar_client_core::ledger::SystemAccount;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Parser;
use daftar_client_core::protocol::Role;
use daftar_server::auth::password;
use daftar_server::db::run_migrations;
use daftar_server::embedded_pg::{ClusterOptions, EmbeddedCluster};
use daftar_server::{demo, ledger, schools};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

/// Benchmark the Daftar server (the targets in BENCHMARKS.md).
#[derive(Debug, Parser)]
struct Args {
    /// Payments to record.
    #[arg(long, default_value_t = 3000)]
    payments: usize,
    /// 40-student registers to mark.
    #[arg(long, default_value_t = 1500)]
    registers: usize,
    /// Family dues lookups in the bulk school.
    #[arg(long, default_value_t = 3000)]
    lookups: usize,
    /// Offered rate of the open-loop payment run (target: 300/s).
    #[arg(long, default_value_t = 300.0)]
    payment_rate: f64,
    /// Offered rate of the open-loop register run (target: 150/s).
    #[arg(long, default_value_t = 150.0)]
    register_rate: f64,
    /// Offered rate of the open-loop dues lookup run.
    #[arg(long, default_value_t = 200.0)]
    lookup_rate: f64,
    /// Concurrent HTTP clients.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Students in the bulk school (10 invoice lines each).
    #[arg(long, default_value_t = 100_000)]
    students: i64,
    /// The release server binary (default: beside this binary).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Measure only the contention ratio (issue #16): `--concurrency` clients recording
    /// payments (then marking registers) on ONE school against the same clients spread over
    /// as many schools, closed loop, alternating for `--rounds` rounds.
    #[arg(long)]
    contention: bool,
    /// Rounds of the contention comparison (medians are reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

const PASSWORD: &str = "bench-password-1";
const SECRET: &str = "bench-secret-bench-secret-bench-secret!!";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::Builder::new()
        .prefix("daftar-bench-")
        .tempdir_in("/tmp")?;
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let cluster = EmbeddedCluster::start(&ClusterOptions::new(dir.path().join("pg")))?;
    let mut admin = PgConnection::establish(&cluster.url("postgres"))?;
    diesel::sql_query("CREATE DATABASE bench").execute(&mut admin)?;
    let url = cluster.url("bench");
    let mut conn = PgConnection::establish(&url)?;
    run_migrations(&mut conn)?;

    if args.contention {
        return contention(&args, &mut conn, &url, dir.path());
    }
    let t = Instant::now();
    demo::seed(&mut conn, Some(PASSWORD), &password::hash).map_err(|e| anyhow::anyhow!("{e}"))?;
    let classes = bench_classes(&mut conn, "demo")?;
    eprintln!(
        "demo school seeded + {} bench classes of 40 in {:.1} s",
        classes.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let families = bulk_school(&mut conn, "bulk", args.students)?;
    eprintln!(
        "bulk school: {} students, {} invoice lines, {} families loaded in {:.1} s",
        args.students,
        args.students * 10,
        families.len(),
        t.elapsed().as_secs_f64()
    );

    let (server, base) = start_server(&args, &url, dir.path())?;
    let office = login(&base, "demo", "accountant", None)?;
    // Payments are recorded the way offices do: each device with its own gapless receipt
    // series (ARCHITECTURE.md §4), one device per client thread.
    let devices = enrol_devices(&mut conn, "demo", args.concurrency)?;
    let mut device_tokens = Vec::new();
    for d in &devices {
        device_tokens.push(login(&base, "demo", "accountant", Some(*d))?);
    }
    let admin_token = login(&base, "demo", "admin", None)?;
    let bulk_token = login(&base, "bulk", "admin", None)?;
    let demo_families: Vec<Uuid> = daftar_server::schema::families::table
        .inner_join(daftar_server::schema::schools::table)
        .filter(daftar_server::schema::schools::slug.eq("demo"))
        .select(daftar_server::schema::families::id)
        .load(&mut conn)?;

    println!("| workload | offered load | requests | clients | throughput (req/s) | p50 (ms) | p99 (ms) | max (ms) |");
    println!("|---|---|---|---|---|---|---|---|");

    let fam = Arc::new(demo_families);
    let pay = |tokens: Vec<String>| {
        let (base, fam) = (base.clone(), fam.clone());
        move |i: usize, thread: usize, rng: &mut rand::rngs::StdRng| {
            let family = fam[rng.gen_range(0..fam.len())];
            let body = json!({"id": Uuid::now_v7(), "family_id": family, "amount": rng.gen_range(10..500) * 100, "currency": "PKR", "method": if i % 3 == 0 { "bank_transfer" } else { "cash" }});
            post(
                &format!("{base}/api/v1/payments"),
                &tokens[thread % tokens.len()],
                &body,
                201,
            )
        }
    };
    let c = args.concurrency;
    // Each workload twice: at the target rate (open loop: does the server sustain it,
    // and with what latency?) and flat out (closed loop: its ceiling on this machine).
    for (rate, n) in [
        (Some(args.payment_rate), args.payments),
        (None, args.payments),
    ] {
        run(n, c, rate, pay(device_tokens.clone()))?.print(
            "record payment, one device series per client (POST /api/v1/payments)",
            c,
        );
    }
    for (rate, n) in [
        (Some(args.payment_rate), args.payments / 2),
        (None, args.payments / 2),
    ] {
        run(n, c, rate, pay(vec![office.clone()]))?.print(
            "record payment, every client on the server's one series `S`",
            c,
        );
    }

    let today = Utc::now().date_naive();
    let cls = Arc::new(classes);
    let mark = |offset: usize| {
        let (base, token, cls) = (base.clone(), admin_token.clone(), cls.clone());
        move |i: usize, _thread: usize, rng: &mut rand::rngs::StdRng| {
            // Every request a distinct register: class k mod n, day k / n days ago.
            let k = i + offset;
            let (class, students) = &cls[k % cls.len()];
            let day = today - chrono::Duration::days((k / cls.len()) as i64 + 1);
            let exceptions: Vec<Value> = (0..rng.gen_range(0..4))
                .map(|_| json!({"student_id": students[rng.gen_range(0..students.len())], "code": "A"}))
                .collect();
            put(
                &format!("{base}/api/v1/classes/{class}/registers/{day}"),
                &token,
                &json!({"exceptions": exceptions}),
            )
        }
    };
    let label = "mark a 40-student register (PUT /api/v1/classes/{id}/registers/{date})";
    run(args.registers, c, Some(args.register_rate), mark(0))?.print(label, c);
    run(args.registers, c, None, mark(args.registers + 100))?.print(label, c);

    let bulk_fams = Arc::new(families);
    let lookup = || {
        let (base, token, fams) = (base.clone(), bulk_token.clone(), bulk_fams.clone());
        move |_: usize, _thread: usize, rng: &mut rand::rngs::StdRng| {
            get(
                &format!(
                    "{base}/api/v1/families/{}/dues",
                    fams[rng.gen_range(0..fams.len())]
                ),
                &token,
            )
        }
    };
    let label = "family dues lookup, 100k students / 1M lines (GET /api/v1/families/{id}/dues)";
    run(args.lookups, c.min(4), Some(args.lookup_rate), lookup())?.print(label, c.min(4));
    run(args.lookups, c.min(4), None, lookup())?.print(label, c.min(4));

    let rss = peak_rss_kib(server.0.id()).unwrap_or(0);
    println!("\nserver peak RSS (VmHWM): {:.1} MiB", rss as f64 / 1024.0);
    Ok(())
}

/// Starts the release server on a free port against `url`; returns it and its base URL.
fn start_server(
    args: &Args,
    url: &str,
    data_dir: &std::path::Path,
) -> anyhow::Result<(Server, String)> {
    let server_bin = args.server.clone().unwrap_or_else(|| {
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

/// The contention comparison of issue #16: the same closed-loop load of `--concurrency`
/// clients on ONE school and spread one client per school over as many schools, for payments
/// (each client an office device with its own receipt series) and for 40-student registers;
/// the two placements alternate for `--rounds` rounds and the medians and their ratio are
/// printed. One client per school is what an operator's many schools look like; all on one
/// school is a big school's morning, which the per-school version lock used to serialise.
fn contention(
    args: &Args,
    conn: &mut PgConnection,
    url: &str,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let c = args.concurrency;
    let t = Instant::now();
    let mut schools = Vec::new();
    for k in 0..c {
        let slug = format!("c{k}");
        let families = bulk_school(conn, &slug, 1600)?;
        let classes = bench_classes(conn, &slug)?;
        let devices = enrol_devices(conn, &slug, c)?;
        schools.push((slug, families, classes, devices));
    }
    eprintln!(
        "{c} schools of 1,600 students seeded in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (_server, base) = start_server(args, url, data_dir)?;
    // Client i's school and token in each placement.
    let mut one = Vec::new();
    let mut spread = Vec::new();
    for i in 0..c {
        let (slug, families, classes, devices) = &schools[0];
        one.push((
            login(&base, slug, "accountant", Some(devices[i]))?,
            login(&base, slug, "admin", None)?,
            families.clone(),
            classes.clone(),
        ));
        let (slug, families, classes, devices) = &schools[i];
        spread.push((
            login(&base, slug, "accountant", Some(devices[0]))?,
            login(&base, slug, "admin", None)?,
            families.clone(),
            classes.clone(),
        ));
    }
    type Placement = Arc<Vec<(String, String, Vec<Uuid>, Vec<(Uuid, Vec<Uuid>)>)>>;
    let (one, spread): (Placement, Placement) = (Arc::new(one), Arc::new(spread));
    let pay = |p: Placement| {
        let base = base.clone();
        move |_: usize, thread: usize, rng: &mut rand::rngs::StdRng| {
            let (token, _, fams, _) = &p[thread];
            let body = json!({"id": Uuid::now_v7(), "family_id": fams[rng.gen_range(0..fams.len())], "amount": rng.gen_range(10..500) * 100, "currency": "PKR", "method": "cash"});
            post(&format!("{base}/api/v1/payments"), token, &body, 201)
        }
    };
    let today = Utc::now().date_naive();
    // Every register a distinct (class, day) of the client's school: round r, request i.
    let mark = |p: Placement, offset: usize| {
        let base = base.clone();
        move |i: usize, thread: usize, rng: &mut rand::rngs::StdRng| {
            let (_, token, _, cls) = &p[thread];
            let k = offset + i;
            let (class, students) = &cls[k % cls.len()];
            let day = today - chrono::Duration::days((k / cls.len()) as i64 % 110 + 1);
            let exceptions: Vec<Value> = (0..rng.gen_range(0..4))
                .map(|_| json!({"student_id": students[rng.gen_range(0..students.len())], "code": "A"}))
                .collect();
            put(
                &format!("{base}/api/v1/classes/{class}/registers/{day}"),
                token,
                &json!({"exceptions": exceptions}),
            )
        }
    };
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!("| workload | placement | round | requests | clients | throughput (req/s) | p50 (ms) | p99 (ms) |");
    println!("|---|---|---|---|---|---|---|---|");
    let n_pay = args.payments.min(2400);
    let n_reg = args.registers.min(1200);
    let (mut p1, mut ps, mut r1, mut rs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..args.rounds {
        for (name, p, out) in [("one school", &one, &mut p1), ("spread", &spread, &mut ps)] {
            let f = run(n_pay, c, None, pay(p.clone()))?;
            f.row("record payment", name, round, c);
            out.push(f.throughput());
        }
        // Register days never repeat within a placement: each round starts past the last.
        let offset = round * (n_reg + 200);
        for (name, p, out) in [("one school", &one, &mut r1), ("spread", &spread, &mut rs)] {
            let f = run(n_reg, c, None, mark(p.clone(), offset))?;
            f.row("mark a 40-student register", name, round, c);
            out.push(f.throughput());
        }
    }
    let (p1, ps, r1, rs) = (
        median(&mut p1),
        median(&mut ps),
        median(&mut r1),
        median(&mut rs),
    );
    println!(
        "\npayments: one school {p1:.0}/s, spread {ps:.0}/s, ratio {:.0}%",
        100.0 * p1 / ps
    );
    println!(
        "registers: one school {r1:.0}/s, spread {rs:.0}/s, ratio {:.0}%",
        100.0 * r1 / rs
    );
    watermark_stalls(conn, url)
}

/// How long a change of school c0 waits for its feed's watermark while another transaction is
/// held open for `HOLD`: one registered with another school (c1), and one that has a
/// transaction id but has logged nothing yet (which holds every school's feed; issue #16's
/// "long-running transaction" pitfall). Prints both.
fn watermark_stalls(conn: &mut PgConnection, url: &str) -> anyhow::Result<()> {
    use daftar_server::schema::schools as s;
    const HOLD: Duration = Duration::from_secs(2);
    let c0: Uuid = s::table
        .filter(s::slug.eq("c0"))
        .select(s::id)
        .first(conn)?;
    let c1: Uuid = s::table
        .filter(s::slug.eq("c1"))
        .select(s::id)
        .first(conn)?;
    for (label, open) in [
        ("a transaction of another school (registered)", "registered"),
        (
            "a transaction with an id that has logged nothing yet",
            "unregistered",
        ),
        ("nothing else open", "none"),
    ] {
        let mut long = PgConnection::establish(url)?;
        long.batch_execute("BEGIN")?;
        match open {
            "registered" => {
                daftar_server::sync::feed::register_writer(&mut long, c1)?;
                diesel::sql_query("UPDATE schools SET name = name WHERE id = $1")
                    .bind::<diesel::sql_types::Uuid, _>(c1)
                    .execute(&mut long)?;
            }
            "unregistered" => {
                daftar_server::sync::feed::commit_version(&mut long)?;
            }
            _ => {}
        }
        let opened = Instant::now();
        let mut writer = PgConnection::establish(url)?;
        let version = writer.transaction(|c| {
            diesel::sql_query("UPDATE schools SET name = name WHERE id = $1")
                .bind::<diesel::sql_types::Uuid, _>(c0)
                .execute(c)?;
            daftar_server::sync::feed::commit_version(c)
        })?;
        let committed = Instant::now();
        let mut reader = PgConnection::establish(url)?;
        let released = std::thread::spawn(move || {
            std::thread::sleep(HOLD.saturating_sub(opened.elapsed()));
            let _ = long.batch_execute("COMMIT");
        });
        while daftar_server::sync::feed::watermark(&mut reader, c0)? < version {
            std::thread::sleep(Duration::from_millis(1));
        }
        let waited = committed.elapsed();
        let _ = released.join();
        println!(
            "watermark of school c0 passed its commit {:.1} ms after it, with {label} held open for {} s",
            waited.as_secs_f64() * 1000.0,
            HOLD.as_secs()
        );
    }
    Ok(())
}

/// Kills the server when the bench ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_ready(base: &str, child: &mut Child) -> anyhow::Result<()> {
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

fn login(base: &str, school: &str, username: &str, device: Option<Uuid>) -> anyhow::Result<String> {
    let v: Value = ureq::post(&format!("{base}/api/v1/auth/login"))
        .send_json(json!({"school": school, "username": username, "password": PASSWORD, "device_id": device}))?
        .into_json()?;
    Ok(v["access_token"].as_str().context("no token")?.to_string())
}

fn post(url: &str, token: &str, body: &Value, want: u16) -> anyhow::Result<()> {
    let r = ureq::post(url)
        .set("authorization", &format!("Bearer {token}"))
        .send_json(body)?;
    if r.status() != want {
        bail!("{url}: status {}", r.status());
    }
    Ok(())
}

fn put(url: &str, token: &str, body: &Value) -> anyhow::Result<()> {
    ureq::put(url)
        .set("authorization", &format!("Bearer {token}"))
        .send_json(body)?;
    Ok(())
}

fn get(url: &str, token: &str) -> anyhow::Result<()> {
    let r = ureq::get(url)
        .set("authorization", &format!("Bearer {token}"))
        .call()?;
    let _ = r.into_string()?;
    Ok(())
}

struct Figures {
    n: usize,
    wall: Duration,
    latencies: Vec<Duration>,
    rate: Option<f64>,
}

impl Figures {
    fn throughput(&self) -> f64 {
        self.n as f64 / self.wall.as_secs_f64()
    }

    fn row(&self, name: &str, placement: &str, round: usize, concurrency: usize) {
        println!(
            "| {name} | {placement} | {} | {} | {concurrency} | {:.0} | {:.1} | {:.1} |",
            round + 1,
            self.n,
            self.throughput(),
            self.pct(0.50),
            self.pct(0.99)
        );
    }

    fn pct(&self, p: f64) -> f64 {
        let i =
            ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i].as_secs_f64() * 1000.0
    }

    fn print(&self, name: &str, concurrency: usize) {
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
fn run<F>(n: usize, concurrency: usize, rate: Option<f64>, f: F) -> anyhow::Result<Figures>
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

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// 40 classes of exactly 40 of the school's students each, in a term covering the last 120 days.
fn bench_classes(conn: &mut PgConnection, slug: &str) -> anyhow::Result<Vec<(Uuid, Vec<Uuid>)>> {
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
    for k in 0..40 {
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
fn bulk_school(conn: &mut PgConnection, slug: &str, students: i64) -> anyhow::Result<Vec<Uuid>> {
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
        Some(password::hash(PASSWORD)?),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    schools::create_user(
        conn,
        school.id,
        "accountant",
        "Accountant",
        Role::Accountant,
        Some(password::hash(PASSWORD)?),
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
         ANALYZE;",
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
fn enrol_devices(conn: &mut PgConnection, slug: &str, n: usize) -> anyhow::Result<Vec<Uuid>> {
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
