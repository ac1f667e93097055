//! `daftar-bench`: the REST performance figures (BENCHMARKS.md), measured through the HTTP API of the
//! release server binary, against an embedded (durable, fsync on) PostgreSQL cluster holding
//! the demo school plus a bulk school of 100,000 students and 1,000,000 invoice lines.
//!
//! Run (see BENCHMARKS.md):
//! `cargo build --release -p daftar-server -p daftar-tests && target/release/daftar-bench`
//!
//! Prints throughput, p50/p99/max latency per workload and the server's peak RSS (VmHWM).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::Parser;
use daftar_server::auth::password;
use daftar_server::demo;
use daftar_tests::rest_bench::*;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::Rng;
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

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bench = daftar_tests::bulk::bench_database("daftar-bench-", None)?;
    let (dir, url) = (&bench.dir, bench.url.clone());
    let mut conn = PgConnection::establish(&url)?;

    if args.contention {
        return contention(&args, &mut conn, &url, dir.path());
    }
    let t = Instant::now();
    demo::seed(&mut conn, Some(PASSWORD), &password::hash).map_err(|e| anyhow::anyhow!("{e}"))?;
    let classes = bench_classes(&mut conn, "demo", 40)?;
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

    let (server, base) = start_server(args.server.as_deref(), &url, dir.path())?;
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
        let classes = bench_classes(conn, &slug, 40)?;
        let devices = enrol_devices(conn, &slug, c)?;
        schools.push((slug, families, classes, devices));
    }
    eprintln!(
        "{c} schools of 1,600 students seeded in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let (_server, base) = start_server(args.server.as_deref(), url, data_dir)?;
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
