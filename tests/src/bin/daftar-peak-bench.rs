//! `daftar-peak-bench`: a morning peak across many schools against one server (issue #16,
//! "Many schools at once"; BENCHMARKS.md).
//!
//! Run: `cargo build --release -p daftar-server -p daftar-tests && target/release/daftar-peak-bench`
//!
//! Seeds `--schools` schools of `--students` students (60% as many families, one 10-line
//! invoice each, `--classes` classes of 40), each with a cashier (an enrolled office device),
//! a teacher assigned to every class and a parent of one family. Then, at the same time and
//! for `--duration` seconds, open loop at the given aggregate rates over random schools:
//! - teachers mark today's register of one of their classes (`PUT …/registers/{today}`);
//! - cashiers record payments (`POST /api/v1/payments`);
//! - parents read their family's dues (`GET /api/v1/families/{id}/dues`);
//! - at `--storm-at` seconds, a reconnect storm: `--storm-fraction` of the schools each push a
//!   day's outbox of their office device at once (`POST /api/v1/sync/push`: payments and
//!   yesterday's registers).
//!
//! Prints throughput and p50/p99 per workload, the aggregate, and the CPU time the server
//! process and the PostgreSQL cluster used per 1,000 ops (a request or a pushed op is one op),
//! read from `/proc` before and after.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chrono::Utc;
use clap::Parser;
use daftar_client_core::protocol::sync::{ATTENDANCE_MARK_REGISTER, PAYMENT_RECORD};
use daftar_client_core::protocol::Role;
use daftar_server::auth::AuthUser;
use daftar_server::schema::{class_teachers, guardians, schools as schools_t, users};
use daftar_server::schools;
use daftar_server::sync::devices;
use daftar_tests::rest_bench::*;
use diesel::prelude::*;
use rand::Rng;
use serde_json::{json, Value};
use uuid::Uuid;

/// A morning peak across many schools against one server.
#[derive(Debug, Parser)]
struct Args {
    /// Schools.
    #[arg(long, default_value_t = 200)]
    schools: usize,
    /// Students per school.
    #[arg(long, default_value_t = 400)]
    students: i64,
    /// Classes of 40 per school.
    #[arg(long, default_value_t = 10)]
    classes: usize,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Registers marked per second, over all schools.
    #[arg(long, default_value_t = 30.0)]
    register_rate: f64,
    /// Payments recorded per second, over all schools.
    #[arg(long, default_value_t = 60.0)]
    payment_rate: f64,
    /// Dues lookups by parents per second, over all schools.
    #[arg(long, default_value_t = 120.0)]
    dues_rate: f64,
    /// Share of the schools whose office reconnects and pushes a day's outbox.
    #[arg(long, default_value_t = 0.1)]
    storm_fraction: f64,
    /// Payments in each reconnecting office's outbox (plus one register per class).
    #[arg(long, default_value_t = 80)]
    storm_payments: usize,
    /// Seconds into the run when the reconnect storm starts.
    #[arg(long, default_value_t = 15)]
    storm_at: u64,
    /// The release server binary (default: beside this binary).
    #[arg(long)]
    server: Option<PathBuf>,
}

/// One seeded school and its logins.
struct School {
    slug: String,
    families: Vec<Uuid>,
    classes: Vec<(Uuid, Vec<Uuid>)>,
    cashier_device: Uuid,
    parent_family: Uuid,
    /// The office device that pushes in the storm (only storm schools), with its client id.
    storm_device: Option<(Uuid, Uuid)>,
}

/// Tokens of one school: cashier (device), teacher, parent, storm device.
struct Tokens {
    cashier: String,
    teacher: String,
    parent: String,
    storm: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bench = daftar_tests::bulk::bench_database("daftar-peak-bench-", None)?;
    let (dir, url) = (&bench.dir, bench.url.clone());
    let mut conn = PgConnection::establish(&url)?;
    let pgdata = bench.pgdata().context("the bench's own cluster")?;

    let t = Instant::now();
    let storm_schools = ((args.schools as f64 * args.storm_fraction).round() as usize).max(1);
    let mut all = Vec::new();
    for k in 0..args.schools {
        all.push(seed_school(&mut conn, &args, k, k < storm_schools)?);
        if (k + 1) % 50 == 0 {
            eprintln!("  {} schools seeded", k + 1);
        }
    }
    // Autovacuum would otherwise work through the freshly loaded tables during the
    // measurement, and its CPU counts as PostgreSQL's.
    diesel::sql_query("VACUUM (ANALYZE)").execute(&mut conn)?;
    eprintln!(
        "{} schools of {} students ({} in all), {} classes each, seeded in {:.1} s",
        args.schools,
        args.students,
        args.schools as i64 * args.students,
        args.classes,
        t.elapsed().as_secs_f64()
    );

    let (server, base) = start_server(args.server.as_deref(), &url, dir.path())?;
    let t = Instant::now();
    let mut tokens = Vec::new();
    for s in &all {
        tokens.push(Tokens {
            cashier: login(&base, &s.slug, "accountant", Some(s.cashier_device))?,
            teacher: login(&base, &s.slug, "teacher", None)?,
            parent: login(&base, &s.slug, "parent", None)?,
            storm: match s.storm_device {
                Some((device, _)) => Some(login(&base, &s.slug, "accountant", Some(device))?),
                None => None,
            },
        });
    }
    eprintln!(
        "{} logins in {:.1} s",
        tokens.len() * 3 + storm_schools,
        t.elapsed().as_secs_f64()
    );
    let schools = Arc::new(all);
    let tokens = Arc::new(tokens);
    let storms: Vec<(usize, Value)> = (0..storm_schools)
        .map(|k| (k, outbox(&schools[k], args.storm_payments)))
        .collect();
    let storm_ops: usize = storms
        .iter()
        .map(|(_, p)| p["ops"].as_array().map_or(0, Vec::len))
        .sum();

    let cpu_before = Cpu::read(server.0.id(), pgdata)?;
    let begin = Instant::now();
    let secs = args.duration as f64;
    let n = move |rate: f64| (rate * secs).round().max(1.0) as usize;
    let today = (Utc::now() + chrono::Duration::hours(5)).date_naive();

    let registers = {
        let (base, schools, tokens) = (base.clone(), schools.clone(), tokens.clone());
        let rate = args.register_rate;
        std::thread::spawn(move || {
            run(n(rate), 4, Some(rate), move |_, _, rng| {
                let k = rng.gen_range(0..schools.len());
                let (class, students) =
                    &schools[k].classes[rng.gen_range(0..schools[k].classes.len())];
                let exceptions: Vec<Value> = (0..rng.gen_range(0..4))
                    .map(|_| json!({"student_id": students[rng.gen_range(0..students.len())], "code": "A"}))
                    .collect();
                put(
                    &format!("{base}/api/v1/classes/{class}/registers/{today}"),
                    &tokens[k].teacher,
                    &json!({"exceptions": exceptions}),
                )
            })
        })
    };
    let payments = {
        let (base, schools, tokens) = (base.clone(), schools.clone(), tokens.clone());
        let rate = args.payment_rate;
        std::thread::spawn(move || {
            run(n(rate), 8, Some(rate), move |_, _, rng| {
                let k = rng.gen_range(0..schools.len());
                let fams = &schools[k].families;
                let body = json!({"id": Uuid::now_v7(), "family_id": fams[rng.gen_range(0..fams.len())], "amount": rng.gen_range(10..500) * 100, "currency": "PKR", "method": "cash"});
                post(
                    &format!("{base}/api/v1/payments"),
                    &tokens[k].cashier,
                    &body,
                    201,
                )
            })
        })
    };
    let dues = {
        let (base, schools, tokens) = (base.clone(), schools.clone(), tokens.clone());
        let rate = args.dues_rate;
        std::thread::spawn(move || {
            run(n(rate), 4, Some(rate), move |_, _, rng| {
                let k = rng.gen_range(0..schools.len());
                get(
                    &format!("{base}/api/v1/families/{}/dues", schools[k].parent_family),
                    &tokens[k].parent,
                )
            })
        })
    };
    // The storm: every reconnecting office pushes at once, from its own connection.
    std::thread::sleep(Duration::from_secs(args.storm_at));
    let storm_begin = Instant::now();
    let pushed = Arc::new(Mutex::new(Vec::new()));
    let storm_threads: Vec<_> = storms
        .into_iter()
        .map(|(k, body)| {
            let (base, tokens, pushed) = (base.clone(), tokens.clone(), pushed.clone());
            std::thread::spawn(move || -> anyhow::Result<()> {
                let token = tokens[k].storm.as_deref().context("storm token")?;
                let t0 = Instant::now();
                let resp: Value = ureq::post(&format!("{base}/api/v1/sync/push"))
                    .set("authorization", &format!("Bearer {token}"))
                    .send_json(&body)?
                    .into_json()?;
                let latency = t0.elapsed();
                let results = resp["results"].as_array().context("push results")?;
                let refused: Vec<&Value> = results
                    .iter()
                    .filter(|r| r["status"] != "applied")
                    .collect();
                if results.len() != body["ops"].as_array().map_or(0, Vec::len)
                    || !refused.is_empty()
                {
                    bail!(
                        "school {k}: {} of {} ops not applied; first: {}",
                        refused.len(),
                        results.len(),
                        refused.first().map(|r| r.to_string()).unwrap_or_default()
                    );
                }
                pushed.lock().map(|mut p| p.push(latency)).ok();
                Ok(())
            })
        })
        .collect();
    for t in storm_threads {
        t.join()
            .map_err(|_| anyhow::anyhow!("storm thread panicked"))??;
    }
    let storm_wall = storm_begin.elapsed();
    let registers = registers
        .join()
        .map_err(|_| anyhow::anyhow!("panicked"))??;
    let payments = payments.join().map_err(|_| anyhow::anyhow!("panicked"))??;
    let dues = dues.join().map_err(|_| anyhow::anyhow!("panicked"))??;
    let wall = begin.elapsed();
    let cpu_after = Cpu::read(server.0.id(), pgdata)?;

    let mut push_latencies = pushed.lock().map(|p| p.clone()).unwrap_or_default();
    push_latencies.sort();
    let pushes = Figures {
        n: push_latencies.len(),
        wall: storm_wall,
        latencies: push_latencies,
        rate: None,
    };
    println!(
        "| workload | offered | requests | throughput (req/s) | p50 (ms) | p99 (ms) | max (ms) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, f) in [
        ("teacher marks today's 40-student register", &registers),
        ("cashier records a payment", &payments),
        ("parent reads family dues", &dues),
    ] {
        println!(
            "| {name} | {:.0}/s | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            f.rate.unwrap_or(0.0),
            f.n,
            f.throughput(),
            f.pct(0.5),
            f.pct(0.99),
            f.pct(1.0)
        );
    }
    println!(
        "| reconnect storm: {} offices push a day's outbox at once ({} ops each) | all at t = {} s | {} pushes, {storm_ops} ops | {:.0} ops/s while it lasted ({:.1} s) | {:.0} | {:.0} | {:.0} |",
        pushes.n,
        storm_ops / pushes.n.max(1),
        args.storm_at,
        pushes.n,
        storm_ops as f64 / storm_wall.as_secs_f64(),
        storm_wall.as_secs_f64(),
        pushes.pct(0.5),
        pushes.pct(0.99),
        pushes.pct(1.0)
    );
    let requests = registers.n + payments.n + dues.n + pushes.n;
    let ops = registers.n + payments.n + dues.n + storm_ops;
    let server_cpu = (cpu_after.server - cpu_before.server).as_secs_f64();
    let pg_cpu = (cpu_after.postgres - cpu_before.postgres).as_secs_f64();
    let machine_cpu = (cpu_after.machine - cpu_before.machine).as_secs_f64();
    println!(
        "\naggregate: {requests} requests, {ops} ops (a request or a pushed op) in {:.1} s: {:.0} ops/s",
        wall.as_secs_f64(),
        ops as f64 / wall.as_secs_f64()
    );
    println!(
        "CPU per 1,000 ops: server {:.2} s, PostgreSQL {:.2} s (of {:.0} s server + {:.0} s PostgreSQL over the run; all processes of the machine {:.0} s, 2 cores × {:.0} s available)",
        1000.0 * server_cpu / ops as f64,
        1000.0 * pg_cpu / ops as f64,
        server_cpu,
        pg_cpu,
        machine_cpu,
        wall.as_secs_f64()
    );
    let rss = peak_rss_kib(server.0.id()).unwrap_or(0);
    println!("server peak RSS (VmHWM): {:.1} MiB", rss as f64 / 1024.0);
    let db_size: i64 = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "pg_database_size(current_database())",
    ))
    .get_result(&mut conn)?;
    println!(
        "database size after the run: {:.0} MiB ({} students)",
        db_size as f64 / 1048576.0,
        args.schools as i64 * args.students
    );
    Ok(())
}

/// Seeds school `p{k}`: a bulk school with classes, a cashier's office device, a teacher of
/// every class and a parent (guardian of the first family); with `storm`, a second office
/// device whose outbox is pushed in the storm.
fn seed_school(
    conn: &mut PgConnection,
    args: &Args,
    k: usize,
    storm: bool,
) -> anyhow::Result<School> {
    let slug = format!("p{k}");
    let families = bulk_school(conn, &slug, args.students)?;
    let classes = bench_classes(conn, &slug, args.classes)?;
    let sid: Uuid = schools_t::table
        .filter(schools_t::slug.eq(&slug))
        .select(schools_t::id)
        .first(conn)?;
    let hash = Some(password_hash()?.to_string());
    let teacher =
        schools::create_user(conn, sid, "teacher", "Teacher", Role::Teacher, hash.clone())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rows: Vec<_> = classes
        .iter()
        .map(|(c, _)| {
            (
                class_teachers::school_id.eq(sid),
                class_teachers::class_id.eq(*c),
                class_teachers::teacher_id.eq(teacher.id),
                class_teachers::is_primary.eq(true),
            )
        })
        .collect();
    diesel::insert_into(class_teachers::table)
        .values(&rows)
        .execute(conn)?;
    let parent = schools::create_user(conn, sid, "parent", "Parent", Role::Parent, hash)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let parent_family = families[0];
    diesel::insert_into(guardians::table)
        .values((
            guardians::school_id.eq(sid),
            guardians::id.eq(Uuid::now_v7()),
            guardians::family_id.eq(parent_family),
            guardians::user_id.eq(parent.id),
            guardians::given_name.eq("Parent"),
            guardians::family_name.eq(&slug),
            guardians::relationship.eq("mother"),
            guardians::active.eq(true),
        ))
        .execute(conn)?;
    // Office devices are enrolled the way the agent enrols one: the next receipt series of
    // the school and a sync client for its outbox.
    let accountant: Uuid = users::table
        .filter(users::school_id.eq(sid))
        .filter(users::username.eq("accountant"))
        .select(users::id)
        .first(conn)?;
    let auth = AuthUser {
        user_id: accountant,
        school_id: sid,
        roles: daftar_client_core::protocol::Roles::of([Role::Accountant]),
        device_id: None,
    };
    let mut enrol = |name: &str| {
        devices::register(conn, &auth, name)
            .map(|(device, client_id)| (device.id, client_id))
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    let (cashier_device, _) = enrol("Cashier's PC")?;
    let storm_device = if storm {
        Some(enrol("Office PC (offline all day)")?)
    } else {
        None
    };
    Ok(School {
        slug,
        families,
        classes,
        cashier_device,
        parent_family,
        storm_device,
    })
}

/// A day's outbox of school `s`'s offline office device as one push: `payments` payments
/// over random families, then yesterday's register of every class.
fn outbox(s: &School, payments: usize) -> Value {
    let mut rng = rand::thread_rng();
    let (_, client_id) = s.storm_device.expect("storm school");
    let created = Utc::now() - chrono::Duration::hours(6);
    let yesterday =
        (Utc::now() + chrono::Duration::hours(5)).date_naive() - chrono::Duration::days(1);
    let mut ops = Vec::new();
    for _ in 0..payments {
        ops.push((
            PAYMENT_RECORD,
            json!({"id": Uuid::now_v7(), "family_id": s.families[rng.gen_range(0..s.families.len())],
                   "amount": rng.gen_range(10..500) * 100, "currency": "PKR", "method": "cash",
                   "received_at": created}),
        ));
    }
    for (class, students) in &s.classes {
        let exceptions: Vec<Value> = (0..rng.gen_range(0..4))
            .map(|_| json!({"student_id": students[rng.gen_range(0..students.len())], "code": "A"}))
            .collect();
        ops.push((
            ATTENDANCE_MARK_REGISTER,
            json!({"class_id": class, "on_date": yesterday, "default_code": "P",
                   "exceptions": exceptions, "reason": "marked offline"}),
        ));
    }
    let ops: Vec<Value> = ops
        .into_iter()
        .enumerate()
        .map(|(i, (mutation, args))| {
            json!({"op_id": Uuid::now_v7(), "seq": i + 1, "mutation": mutation, "args": args,
                   "created_at": created})
        })
        .collect();
    json!({"client_id": client_id, "ops": ops})
}

/// CPU time used so far: by the server process, by the PostgreSQL cluster (the postmaster,
/// the children it has reaped and the ones alive now), and by every process of the machine.
struct Cpu {
    server: Duration,
    postgres: Duration,
    machine: Duration,
}

impl Cpu {
    fn read(server: u32, pgdata: &std::path::Path) -> anyhow::Result<Cpu> {
        let tick = 1.0 / clock_ticks_per_second();
        let ticks = |t: u64| Duration::from_secs_f64(t as f64 * tick);
        let postmaster: u32 = std::fs::read_to_string(pgdata.join("postmaster.pid"))?
            .lines()
            .next()
            .context("postmaster.pid is empty")?
            .trim()
            .parse()?;
        let (s, _) = proc_stat(server).context("server /proc stat")?;
        let (pm, reaped) = proc_stat(postmaster).context("postmaster /proc stat")?;
        let mut pg = pm + reaped;
        for entry in std::fs::read_dir("/proc")? {
            let Ok(pid) = entry?.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if parent_of(pid) == Some(postmaster) {
                pg += proc_stat(pid).map_or(0, |(own, _)| own);
            }
        }
        let all = std::fs::read_to_string("/proc/stat")?;
        let fields: Vec<u64> = all
            .lines()
            .next()
            .context("/proc/stat")?
            .split_whitespace()
            .skip(1)
            .filter_map(|f| f.parse().ok())
            .collect();
        // user + nice + system + irq + softirq + steal (not idle, not iowait).
        let busy: u64 = [0, 1, 2, 5, 6, 7]
            .iter()
            .filter_map(|&i| fields.get(i))
            .sum();
        Ok(Cpu {
            server: ticks(s),
            postgres: ticks(pg),
            machine: ticks(busy),
        })
    }
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// The fields after `(comm)` of `/proc/{pid}/stat`.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// (utime + stime, cutime + cstime) of `pid`, in clock ticks (proc(5)).
fn proc_stat(pid: u32) -> Option<(u64, u64)> {
    let f = stat_fields(pid)?;
    let n = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    // After `(comm)`: state=0, ppid=1, …, utime=11, stime=12, cutime=13, cstime=14.
    Some((n(11) + n(12), n(13) + n(14)))
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}
