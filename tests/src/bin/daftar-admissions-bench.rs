//! Benchmark of spreadsheet admissions (issue #17; BENCHMARKS.md, "Spreadsheet admissions"):
//! a real `daftar-server serve` process on a private, durable PostgreSQL cluster; an admin
//! uploads an `.xlsx` of N students (two siblings a family, a guardian each, a class each)
//! through `POST /api/v1/imports/admissions`: the preview, the commit (one transaction), and
//! the preview of the same file again (every row unchanged). Prints each step's wall time and
//! the server process's resident memory: before, and its peak (`VmHWM`) after.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use daftar_client_core::protocol::{AdmissionsPreview, Role};
use daftar_tests::bulk::bench_database;
use daftar_tests::spreadsheets::{admissions_rows, xlsx, TEMPLATE_HEADERS};
use diesel::prelude::*;
use serde_json::json;

#[derive(Parser)]
#[command(about = "Times a spreadsheet admission of N students through a real server")]
struct Args {
    /// Students in the sheet.
    #[arg(long, default_value_t = 50_000)]
    students: usize,
    /// Classes the students are spread over.
    #[arg(long, default_value_t = 40)]
    classes: usize,
    /// The server binary (default: `daftar-server` next to this one).
    #[arg(long)]
    server: Option<PathBuf>,
}

const PASSWORD: &str = "bench-password-1";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmRSS` and `VmHWM` of process `pid` in MiB (Linux `/proc/<pid>/status`).
fn memory_mib(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} in /proc/{pid}/status"))?;
        let kib: f64 = line.split_whitespace().nth(1).context("value")?.parse()?;
        Ok(kib / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bench = bench_database("daftar-admissions-bench-", None)?;
    let mut conn = PgConnection::establish(&bench.url)?;
    let school = daftar_server::schools::create_school(
        &mut conn,
        &daftar_server::schools::NewSchool {
            slug: "bench".into(),
            name: "Bench School".into(),
            currency: "PKR".into(),
            timezone: "Asia/Karachi".into(),
        },
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    daftar_server::schools::create_user(
        &mut conn,
        school.id,
        "admin",
        "Admin",
        Role::Admin,
        Some(daftar_server::auth::password::hash(PASSWORD)?),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    drop(conn);

    let exe = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("exe dir")?
            .join("daftar-server"),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = Command::new(&exe)
        .arg("--data-dir")
        .arg(bench.dir.path().join("server"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &bench.url)
        .env(
            "DAFTAR_JWT_SECRET",
            "bench-secret-bench-secret-bench-secret",
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let server = Server(child);
    let pid = server.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while ureq::get(&format!("{base}/healthz")).call().is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let token: serde_json::Value = ureq::post(&format!("{base}/api/v1/auth/login"))
        .send_json(json!({"school": "bench", "username": "admin", "password": PASSWORD}))?
        .into_json()?;
    let auth = format!(
        "Bearer {}",
        token["access_token"].as_str().context("access_token")?
    );
    let year: serde_json::Value = ureq::post(&format!("{base}/api/v1/academic-years"))
        .set("authorization", &auth)
        .send_json(
            json!({"name": "2026-27", "starts_on": "2026-04-01", "ends_on": "2027-03-31",
            "terms": [{"name": "Term 1", "starts_on": "2026-04-01", "ends_on": "2026-09-30"}]}),
        )?
        .into_json()?;
    let names: Vec<String> = (0..args.classes).map(|i| format!("Class {i}")).collect();
    for n in &names {
        ureq::post(&format!("{base}/api/v1/classes"))
            .set("authorization", &auth)
            .send_json(
                json!({"academic_year_id": year["id"], "name": n, "grade": "5", "section": n}),
            )?;
    }
    let classes: Vec<&str> = names.iter().map(String::as_str).collect();
    let file = xlsx(
        "Students",
        &TEMPLATE_HEADERS,
        &admissions_rows("B-", args.students, &classes),
        &[],
    );
    let (rss_before, _) = memory_mib(pid)?;

    let post = |commit: bool| -> anyhow::Result<(f64, AdmissionsPreview)> {
        let started = Instant::now();
        let resp = ureq::post(&format!(
            "{base}/api/v1/imports/admissions?file_name=students.xlsx&commit={commit}"
        ))
        .set("authorization", &auth)
        .set("content-type", XLSX)
        .timeout(Duration::from_secs(600))
        .send_bytes(&file)?;
        let preview: AdmissionsPreview = resp.into_json()?;
        Ok((started.elapsed().as_secs_f64(), preview))
    };
    let (preview_s, p) = post(false)?;
    let (_, peak_preview) = memory_mib(pid)?;
    anyhow::ensure!(
        p.counts.new == args.students as u64 && p.counts.error == 0,
        "preview: {:?}",
        p.counts
    );
    let (commit_s, c) = post(true)?;
    let (_, peak_commit) = memory_mib(pid)?;
    anyhow::ensure!(
        c.committed && c.counts.new == args.students as u64,
        "commit: {:?}",
        c.counts
    );
    let (again_s, a) = post(false)?;
    anyhow::ensure!(
        a.counts.unchanged == args.students as u64,
        "again: {:?}",
        a.counts
    );
    let (_, peak) = memory_mib(pid)?;
    println!(
        "{} students ({} families, {} classes), .xlsx of {:.1} MiB",
        args.students,
        c.counts.new_families,
        args.classes,
        file.len() as f64 / (1 << 20) as f64
    );
    println!("| step | wall time (s) | server peak RSS after it (MiB) |");
    println!("|---|---:|---:|");
    println!("| preview (dry run) | {preview_s:.1} | {peak_preview:.0} |");
    println!("| commit (one transaction) | {commit_s:.1} | {peak_commit:.0} |");
    println!("| preview again (all unchanged) | {again_s:.1} | {peak:.0} |");
    println!("server RSS: {rss_before:.0} MiB before, peak {peak:.0} MiB (VmHWM of pid {pid})");
    Ok(())
}
