//! `daftar-console-bench`: how fast the office console answers each step of taking a payment,
//! at the agent, for a 2,000-student school (office-console issue: "each step answering in
//! ≤ 100 ms at the agent (median, 2,000-student school)").
//!
//! It imports a 2,000-student OneRoster school with a term of tuition invoices into a private
//! PostgreSQL cluster, starts a server, enrols an office device with the release
//! `daftar-agent` (beside this binary) and runs its `console`; then, over HTTP as the browser
//! does, for each of `--payments` families: search by admission number, search by a child's
//! name, open the family card, preview the allocation, take the payment, open the receipt.
//! Prints the median and 90th percentile of every step (ms) and the total per payment.
//!
//! `cargo build --release -p daftar-tests -p daftar-desktop-agent && target/release/daftar-console-bench`

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use daftar_server::ledger::invoicing::issue_invoices;
use daftar_tests::bulk::{
    bench_database, import_roster, oneroster_export, schedule_tuition, tuition_due,
};
use daftar_tests::server::TestServer;
use diesel::prelude::*;
use uuid::Uuid;

#[derive(Parser)]
struct Args {
    /// Students in the school.
    #[arg(long, default_value_t = 2000)]
    students: usize,
    /// Payments taken (one family each), after 3 unmeasured ones.
    #[arg(long, default_value_t = 60)]
    payments: usize,
}

const PW: &str = "console-bench-password";

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bench = bench_database("daftar-console-bench-", None)?;
    let mut conn = PgConnection::establish(&bench.url)?;
    let school = conn
        .transaction::<_, anyhow::Error, _>(|c| {
            let school = import_roster(c, &oneroster_export("console", args.students))
                .map_err(|e| anyhow::anyhow!("import: {e:?}"))?;
            let term = schedule_tuition(c, school)?;
            issue_invoices(
                c,
                school,
                term,
                daftar_server::audit::Actor::SYSTEM,
                tuition_due(),
            )
            .map_err(|e| anyhow::anyhow!("invoices: {e:?}"))?;
            daftar_server::schools::create_user(
                c,
                school,
                "cashier",
                "Bench Cashier",
                daftar_client_core::protocol::Role::Accountant,
                Some(daftar_server::auth::password::hash(PW)?),
            )
            .map_err(|e| anyhow::anyhow!("cashier: {e:?}"))?;
            Ok(school)
        })
        .context("seeding the school")?;
    let slug: String = daftar_server::schema::schools::table
        .find(school)
        .select(daftar_server::schema::schools::slug)
        .first(&mut conn)?;
    let families: Vec<(Uuid, String, String, String)> = diesel::sql_query(
        "SELECT DISTINCT ON (s.family_id) s.family_id, s.admission_no, s.given_name, s.family_name
         FROM students s WHERE s.school_id = $1 ORDER BY s.family_id, s.admission_no",
    )
    .bind::<diesel::sql_types::Uuid, _>(school)
    .load::<FamilyRow>(&mut conn)?
    .into_iter()
    .map(|r| (r.family_id, r.admission_no, r.given_name, r.family_name))
    .collect();
    let server = TestServer::start(&bench.url);

    let agent = std::env::current_exe()?
        .parent()
        .context("binary folder")?
        .join("daftar-agent");
    anyhow::ensure!(
        agent.exists(),
        "{} is missing: build daftar-desktop-agent --release",
        agent.display()
    );
    let data = bench.dir.path().join("agent");
    let init = Command::new(&agent)
        .arg("--data-dir")
        .arg(&data)
        .args([
            "init",
            "--server",
            &server.url(),
            "--school",
            &slug,
            "--username",
            "cashier",
        ])
        .env("DAFTAR_PASSWORD", PW)
        .output()?;
    anyhow::ensure!(
        init.status.success(),
        "init: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let _console = Killed(
        Command::new(&agent)
            .arg("--data-dir")
            .arg(&data)
            .args(["console", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .spawn()?,
    );
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(20) {
            bail!("the console did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let http = ureq::AgentBuilder::new().redirects(0).build();
    let login = http
        .post(&format!("{base}/login"))
        .send_form(&[("username", "cashier"), ("password", PW)])
        .context("sign-in")?;
    let cookie = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .context("no session cookie")?
        .to_string();
    let page = http
        .get(&format!("{base}/cashier"))
        .set("cookie", &cookie)
        .call()?
        .into_string()?;
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .context("no CSRF token")?
        .to_string();
    let get = |url: &str| -> anyhow::Result<(f64, String)> {
        let t = Instant::now();
        let body = http.get(url).set("cookie", &cookie).call()?.into_string()?;
        Ok((t.elapsed().as_secs_f64() * 1e3, body))
    };

    let steps = [
        "search by admission no.",
        "search by name",
        "family card",
        "preview",
        "take payment",
        "receipt",
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); steps.len()];
    anyhow::ensure!(
        families.len() >= args.payments + 3,
        "only {} families",
        families.len()
    );
    for (i, (family, admission, given, surname)) in
        families.iter().take(args.payments + 3).enumerate()
    {
        let mut t = Vec::new();
        let (ms, body) = get(&format!("{base}/cashier/results?q={}", admission))?;
        anyhow::ensure!(
            body.contains(&family.to_string()),
            "search by {admission} missed"
        );
        t.push(ms);
        let q = format!("{} {}", surname.to_lowercase(), given.to_lowercase()).replace(' ', "+");
        t.push(get(&format!("{base}/cashier/results?q={q}"))?.0);
        t.push(get(&format!("{base}/family/{family}"))?.0);
        let (ms, body) = get(&format!("{base}/family/{family}/preview?amount=1%2C500"))?;
        anyhow::ensure!(body.contains("Understood"), "preview: {body}");
        t.push(ms);
        let started = Instant::now();
        let paid = http
            .post(&format!("{base}/family/{family}/pay"))
            .set("cookie", &cookie)
            .send_form(&[
                ("csrf", csrf.as_str()),
                ("amount", "1,500"),
                ("method", "cash"),
                ("reference", ""),
            ])?;
        t.push(started.elapsed().as_secs_f64() * 1e3);
        let receipt = paid.header("location").context("no receipt")?.to_string();
        let (ms, body) = get(&format!("{base}{receipt}"))?;
        anyhow::ensure!(body.contains("RECEIPT"), "receipt page");
        t.push(ms);
        if i >= 3 {
            for (k, v) in t.into_iter().enumerate() {
                times[k].push(v);
            }
        }
    }
    println!(
        "{} students, {} payments (after 3 unmeasured), at the agent:",
        args.students, args.payments
    );
    println!("| step | median (ms) | p90 (ms) |");
    println!("|---|---:|---:|");
    let mut total = vec![0.0; args.payments];
    for (k, name) in steps.iter().enumerate() {
        for (j, v) in times[k].iter().enumerate() {
            total[j] += v;
        }
        let mut s = times[k].clone();
        s.sort_by(f64::total_cmp);
        println!("| {name} | {:.1} | {:.1} |", pct(&s, 0.5), pct(&s, 0.9));
    }
    total.sort_by(f64::total_cmp);
    println!(
        "| all six steps of one payment | {:.1} | {:.1} |",
        pct(&total, 0.5),
        pct(&total, 0.9)
    );
    drop(server);
    Ok(())
}

#[derive(QueryableByName)]
struct FamilyRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    family_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    admission_no: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    given_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    family_name: String,
}
