//! The `daftar-server` binary as an operator runs it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use daftar_tests::TestDb;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_daftar-server"));
    c.env_remove("DATABASE_URL").env("RUST_LOG", "warn");
    c
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/oneroster-small")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn import_oneroster_reports_counts_and_warnings_then_no_changes() {
    let tdb = TestDb::new();
    let run = || {
        bin()
            .env("DATABASE_URL", tdb.url())
            .arg("import-oneroster")
            .arg(fixture_dir())
            .output()
            .expect("run")
    };
    let first = run();
    assert!(first.status.success(), "{}", text(&first));
    let out = text(&first);
    assert!(
        out.contains(
            "imported: 1 school, 2 terms, 2 classes, 8 users, 7 enrollments, 0 deactivated"
        ),
        "{out}"
    );
    assert!(
        out.contains("warning: manifest.csv line 11: unknown manifest key `fiel.demographics`"),
        "{out}"
    );
    assert!(out.contains("warning: enrollments.csv line 3:"), "{out}");
    let second = run();
    assert!(second.status.success(), "{}", text(&second));
    assert!(text(&second).contains("no changes"), "{}", text(&second));
}

#[test]
fn import_of_a_broken_export_fails_naming_file_and_line() {
    let tdb = TestDb::new();
    let dir = tempfile::tempdir().expect("tmp");
    for entry in std::fs::read_dir(fixture_dir()).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    std::fs::write(dir.path().join("academicSessions.csv"), "sourcedId,title,type,startDate,endDate,schoolYear\nt1,Spring,term,2026-04-01,2026-02-30,2027\n").expect("write");
    let out = bin()
        .env("DATABASE_URL", tdb.url())
        .arg("import-oneroster")
        .arg(dir.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("academicSessions.csv line 2 column `endDate`"),
        "{}",
        text(&out)
    );
}

#[test]
fn create_school_and_admin_then_a_duplicate_is_refused() {
    let tdb = TestDb::new();
    let ok = bin()
        .env("DATABASE_URL", tdb.url())
        .args([
            "create-school",
            "--slug",
            "green-valley",
            "--name",
            "Green Valley",
            "--currency",
            "PKR",
            "--timezone",
            "Asia/Karachi",
        ])
        .output()
        .expect("run");
    assert!(ok.status.success(), "{}", text(&ok));
    let admin = bin()
        .env("DATABASE_URL", tdb.url())
        .env("DAFTAR_ADMIN_PASSWORD", "a-long-password")
        .args([
            "create-admin",
            "--school",
            "green-valley",
            "--username",
            "head",
        ])
        .output()
        .expect("run");
    assert!(admin.status.success(), "{}", text(&admin));
    let dup = bin()
        .env("DATABASE_URL", tdb.url())
        .args(["create-school", "--slug", "green-valley", "--name", "Again"])
        .output()
        .expect("run");
    assert!(!dup.status.success());
    assert!(text(&dup).contains("already exists"), "{}", text(&dup));
    let bad_tz = bin()
        .env("DATABASE_URL", tdb.url())
        .args([
            "create-school",
            "--slug",
            "other",
            "--name",
            "O",
            "--timezone",
            "Mars/Olympus",
        ])
        .output()
        .expect("run");
    assert!(text(&bad_tz).contains("timezone"), "{}", text(&bad_tz));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn start_demo(data: &Path, port: u16) -> Child {
    bin()
        .arg("--data-dir")
        .arg(data)
        .args(["demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("DAFTAR_DEMO_PASSWORD", "demo-password-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn demo")
}

fn wait_healthy(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if ureq::get(&format!("http://127.0.0.1:{port}/healthz"))
            .call()
            .is_ok()
        {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("demo exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("demo did not become healthy");
}

fn interrupt_and_wait(child: Child) -> String {
    // SAFETY: sending SIGINT to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "demo exit: {}", text(&out));
    text(&out)
}

#[test]
fn demo_serves_on_embedded_postgres_stops_it_on_ctrl_c_and_reuses_data() {
    let dir = tempfile::Builder::new()
        .prefix("daftar-demo-")
        .tempdir_in("/tmp")
        .expect("tmp");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let data = dir.path().join("data");
    let port = free_port();
    let mut child = start_demo(&data, port);
    wait_healthy(port, &mut child);

    let base = format!("http://127.0.0.1:{port}");
    let ready: serde_json::Value = ureq::get(&format!("{base}/readyz"))
        .call()
        .expect("readyz")
        .into_json()
        .expect("json");
    assert_eq!(ready["status"], "ready");
    let login: serde_json::Value = ureq::post(&format!("{base}/api/v1/auth/login"))
        .send_json(serde_json::json!({"school": "demo", "username": "admin", "password": "demo-password-1"}))
        .expect("login")
        .into_json()
        .expect("json");
    let token = login["access_token"].as_str().expect("token");
    let students: serde_json::Value = ureq::get(&format!("{base}/api/v1/students?limit=1"))
        .set("authorization", &format!("Bearer {token}"))
        .call()
        .expect("students")
        .into_json()
        .expect("json");
    assert_eq!(students["total"], 600);
    let families: serde_json::Value = ureq::get(&format!("{base}/api/v1/families?limit=1"))
        .set("authorization", &format!("Bearer {token}"))
        .call()
        .expect("families")
        .into_json()
        .expect("json");
    assert_eq!(families["total"], 350);
    assert!(
        ureq::get(&format!("{base}/docs/")).call().is_ok(),
        "docs page served offline"
    );

    // The demo has a term of invoices, weeks of payments and attendance; the reports agree.
    let report = |q: &str| -> serde_json::Value {
        ureq::get(&format!("{base}/api/v1/reports/{q}"))
            .set("authorization", &format!("Bearer {token}"))
            .call()
            .expect("report")
            .into_json()
            .expect("json")
    };
    let col = |t: &serde_json::Value, key: &str| {
        t["columns"]
            .as_array()
            .expect("cols")
            .iter()
            .position(|c| c["key"] == key)
            .expect("col")
    };
    let total =
        |t: &serde_json::Value, key: &str| t["totals"][col(t, key)].as_i64().expect("total");
    let tb = report("trial_balance?as_of=2100-01-01");
    assert_eq!(total(&tb, "debit"), total(&tb, "credit"));
    let cash_and_bank: i64 = tb["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r[0] == "1000" || r[0] == "1010")
        .map(|r| r[3].as_i64().unwrap_or(0) - r[4].as_i64().unwrap_or(0))
        .sum();
    let coll = report("collections?from=2000-01-01&to=2100-01-01");
    assert!(
        total(&coll, "receipts") > 200,
        "weeks of payments: {}",
        total(&coll, "receipts")
    );
    assert!(total(&coll, "reversed") > 0, "one bounced cheque");
    assert_eq!(
        total(&coll, "net"),
        cash_and_bank,
        "collections equal the journal's cash and bank"
    );
    let dues = report("dues?group=class&as_of=2100-01-01");
    assert!(total(&dues, "total") > 0, "some families still owe");
    let marks: serde_json::Value = ureq::get(&format!("{base}/api/v1/students?limit=1"))
        .set("authorization", &format!("Bearer {token}"))
        .call()
        .expect("students")
        .into_json()
        .expect("json");
    let first = marks["items"][0]["id"].as_str().expect("id").to_string();
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Duration::days(40);
    let history: serde_json::Value = ureq::get(&format!(
        "{base}/api/v1/students/{first}/attendance?from={from}&to={today}"
    ))
    .set("authorization", &format!("Bearer {token}"))
    .call()
    .expect("attendance")
    .into_json()
    .expect("json");
    // The demo year is 2026-27; inside it, the last ten school days have registers.
    let in_demo_year = (chrono::NaiveDate::from_ymd_opt(2026, 4, 15).expect("d")
        ..=chrono::NaiveDate::from_ymd_opt(2027, 3, 31).expect("d"))
        .contains(&today);
    if in_demo_year {
        assert!(
            history["days"].as_array().map(Vec::len).unwrap_or(0) >= 5,
            "attendance history seeded: {history}"
        );
    }

    let out = interrupt_and_wait(child);
    assert!(out.contains("password=demo-password-1"), "{out}");
    let pgdata = data.join("postgres/pgdata");
    assert!(pgdata.join("PG_VERSION").exists());
    assert!(
        !pgdata.join("postmaster.pid").exists(),
        "PostgreSQL still running after Ctrl-C"
    );

    let port = free_port();
    let mut child = start_demo(&data, port);
    wait_healthy(port, &mut child);
    let out = interrupt_and_wait(child);
    assert!(out.contains("already seeded"), "{out}");
    assert!(!pgdata.join("postmaster.pid").exists());
}

#[test]
fn demo_runs_from_a_private_folder_with_the_default_data_dir() {
    // `mktemp -d` is 0700 and owned by whoever runs the tests; as root, PostgreSQL's OS user
    // cannot enter it (initdb used to die on its password file).
    let dir = tempfile::Builder::new()
        .prefix("daftar-private-")
        .tempdir_in("/tmp")
        .expect("tmp");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    let port = free_port();
    let mut child = bin()
        .current_dir(dir.path())
        .args(["demo", "--bind", &format!("127.0.0.1:{port}")])
        .env("DAFTAR_DEMO_PASSWORD", "demo-password-1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn demo");
    wait_healthy(port, &mut child);
    let login = ureq::post(&format!("http://127.0.0.1:{port}/api/v1/auth/login"))
        .send_json(serde_json::json!({"school": "demo", "username": "admin", "password": "demo-password-1"}))
        .expect("login");
    assert_eq!(login.status(), 200);
    let out = interrupt_and_wait(child);
    let record = dir.path().join("daftar-data/postgres/cluster-location");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(
            out.contains("cannot enter"),
            "says where the cluster went: {out}"
        );
        let text = std::fs::read_to_string(&record).expect("location recorded");
        let elsewhere = PathBuf::from(text.lines().next().expect("path"));
        assert!(elsewhere.join("pgdata/PG_VERSION").exists());
        std::fs::remove_dir_all(&elsewhere).expect("clean up the relocated cluster");
    } else {
        assert!(!record.exists(), "no relocation needed for a normal user");
        assert!(dir
            .path()
            .join("daftar-data/postgres/pgdata/PG_VERSION")
            .exists());
    }
}

#[test]
fn create_school_takes_a_money_limit_and_refuses_one_out_of_range() {
    let tdb = TestDb::new();
    let run = |slug: &str, max: &str| {
        bin()
            .env("DATABASE_URL", tdb.url())
            .args([
                "create-school",
                "--slug",
                slug,
                "--name",
                "Capped",
                "--max-amount",
                max,
            ])
            .output()
            .expect("run")
    };
    let ok = run("capped", "5000000");
    assert!(ok.status.success(), "{}", text(&ok));
    let mut conn = tdb.conn();
    let max: i64 = diesel::RunQueryDsl::get_result(
        diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT max_amount FROM schools WHERE slug = 'capped')",
        )),
        &mut conn,
    )
    .expect("max");
    assert_eq!(max, 5_000_000);
    let bad = run("too-big", "10000000000001");
    assert!(!bad.status.success());
    assert!(text(&bad).contains("max_amount"), "{}", text(&bad));
}

#[test]
fn import_admissions_previews_names_bad_cells_then_commits_once() {
    use daftar_tests::spreadsheets::{admissions_rows, t, xlsx, TEMPLATE_HEADERS};
    let tdb = TestDb::new();
    let school = bin()
        .env("DATABASE_URL", tdb.url())
        .args(["create-school", "--slug", "hill", "--name", "Hill School"])
        .output()
        .expect("run");
    assert!(school.status.success(), "{}", text(&school));
    let dir = tempfile::tempdir().expect("tmp");
    let mut rows = admissions_rows("H-", 6, &[]);
    let good = dir.path().join("intake.xlsx");
    std::fs::write(&good, xlsx("Intake", &TEMPLATE_HEADERS, &rows, &[])).expect("write");
    rows[2][3] = t("31/13/2015");
    let bad = dir.path().join("bad.xlsx");
    std::fs::write(&bad, xlsx("Intake", &TEMPLATE_HEADERS, &rows, &[])).expect("write");
    let run = |file: &Path, commit: bool| {
        let mut c = bin();
        c.env("DATABASE_URL", tdb.url())
            .args(["import-admissions", "--school", "hill"])
            .arg(file);
        if commit {
            c.arg("--commit");
        }
        c.output().expect("run")
    };

    let out = run(&bad, true);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(
        said.contains("error: sheet Intake, row 4, column D (date_of_birth): \"31/13/2015\""),
        "{said}"
    );
    assert!(said.contains("nothing was written"), "{said}");

    let out = run(&good, false);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("preview (nothing written; add --commit): 6 new, 0 updated, 0 unchanged, 0 with errors; 3 new families, 3 new guardians"),
        "{}",
        text(&out)
    );
    let out = run(&good, true);
    assert!(
        text(&out)
            .contains("imported: 6 new, 0 updated, 0 unchanged, 0 with errors; 3 new families"),
        "{}",
        text(&out)
    );
    let out = run(&good, true);
    assert!(
        text(&out).contains("imported: 0 new, 0 updated, 6 unchanged"),
        "{}",
        text(&out)
    );
}
