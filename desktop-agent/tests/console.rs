//! The office console in real headless Chromium (office-console issue, "Tests"): a real server
//! on a test database, the agent's `console` command, and Python Playwright driving Debian's
//! `chromium` through a cashier's day with the server stopped; then the server comes back,
//! the agent's queue drains, and the server's dues equal what the receipts said, to the unit.
//! Screenshots are kept under `target/console-screens/`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use daftar_client_core::client::SyncEngine;
use daftar_tests::server::TestServer;
use daftar_tests::TestDb;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use serde_json::{json, Value};
use uuid::Uuid;

const PW: &str = "console-test-password";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

/// The Python with Playwright that `.ci/run` installs (`target/playwright-venv`), or
/// `$DAFTAR_PLAYWRIGHT_PYTHON`.
fn playwright_python() -> PathBuf {
    let p = std::env::var_os("DAFTAR_PLAYWRIGHT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/playwright-venv/bin/python"));
    assert!(
        p.exists(),
        "{} is missing: `.ci/run` installs it (python3 -m venv target/playwright-venv && \
         target/playwright-venv/bin/pip install playwright==1.49.1; apt-get install chromium)",
        p.display()
    );
    p
}

fn agent(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_daftar-agent"));
    c.arg("--data-dir").arg(dir).env_remove("DAFTAR_AGENT_DIR");
    c
}

/// `minor` PKR as the console shows it: `1,500.00`.
fn shown(minor: i64) -> String {
    let whole = (minor / 100).to_string();
    let mut g = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            g.push(',');
        }
        g.push(c);
    }
    format!("{g}.{:02}", minor % 100)
}

#[derive(QueryableByName)]
struct Fam {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    children: i64,
    #[diesel(sql_type = Text)]
    admission_no: String,
    #[diesel(sql_type = Text)]
    child_name: String,
    #[diesel(sql_type = BigInt)]
    same_name: i64,
}

struct Console {
    child: Child,
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python(phase: &str, plan: &Path, shots: &Path, out: Option<&Path>) {
    let mut c = Command::new(playwright_python());
    c.arg(workspace().join("desktop-agent/tests/console/cashier_flow.py"))
        .args(["--phase", phase, "--plan"])
        .arg(plan)
        .arg("--shots")
        .arg(shots);
    if let Some(o) = out {
        c.arg("--out").arg(o);
    }
    let o = c.output().expect("running the Playwright script");
    assert!(
        o.status.success(),
        "browser phase {phase} failed (screenshots in {}):\n{}{}",
        shots.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The agent's console over the store in `dir` on a free loopback port (polling the server
/// every second), once it answers; and its URL.
fn serve_console(dir: &Path, extra: &[&str]) -> (Console, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut console = Console {
        child: agent(dir)
            .args(["console", "--port", &port.to_string(), "--poll-secs", "1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("console"),
    };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = console.child.kill();
            let mut err = String::new();
            if let Some(e) = console.child.stderr.as_mut() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("the console did not start: {err}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (console, format!("http://127.0.0.1:{port}"))
}

fn pending(dir: &Path) -> i64 {
    let o = agent(dir)
        .args(["--json", "status"])
        .output()
        .expect("status");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(json!({}));
    v["pending"].as_i64().unwrap_or(-1)
}

fn reversals(conn: &mut PgConnection, school: Uuid) -> i64 {
    daftar_server::schema::payment_reversals::table
        .filter(daftar_server::schema::payment_reversals::school_id.eq(school))
        .count()
        .get_result(conn)
        .expect("reversals")
}

#[test]
fn a_cashier_takes_twenty_payments_offline_in_the_browser_and_the_server_agrees() {
    playwright_python(); // fail first, and clearly, where the browser tools are missing
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    daftar_server::demo::seed(&mut conn, Some(PW), &daftar_server::auth::password::hash)
        .expect("seed");
    let mut server = TestServer::start(tdb.url());
    let dir = tempfile::tempdir().expect("tmp");
    let init = agent(dir.path())
        .args(["init", "--server", &server.url(), "--school", "demo"])
        .args(["--username", "admin", "--device-name", "front desk"])
        .env("DAFTAR_PASSWORD", PW)
        .output()
        .expect("init");
    assert!(init.status.success(), "{init:?}");

    // The thermal printer is a spool file here: the ESC/POS job is appended to it.
    let spool = dir.path().join("thermal-printer");
    std::fs::write(&spool, b"").expect("spool");
    let printer = format!("file:{}", spool.display());
    let (console, url) = serve_console(dir.path(), &["--printer", &printer]);

    // What to pay: twenty families that owe, found the way a cashier would (admission number,
    // or a child's name with its words reversed), one with three children paid in full (the
    // sibling waterfall), one overpaid into credit, one paid in part, one by cheque.
    let school: Uuid = daftar_server::schema::schools::table
        .filter(daftar_server::schema::schools::slug.eq("demo"))
        .select(daftar_server::schema::schools::id)
        .first(&mut conn)
        .expect("school");
    let families: Vec<Fam> = diesel::sql_query(
        "SELECT f.id, (SELECT count(*) FROM students c WHERE c.family_id = f.id AND c.active) AS children,
                s.admission_no, s.given_name || ' ' || s.family_name AS child_name,
                (SELECT count(*) FROM students o WHERE o.school_id = s.school_id
                   AND o.given_name = s.given_name AND o.family_name = s.family_name) AS same_name
         FROM families f
         JOIN LATERAL (SELECT * FROM students s WHERE s.family_id = f.id AND s.active
                       ORDER BY s.admission_no LIMIT 1) s ON true
         WHERE f.school_id = $1 ORDER BY f.id",
    )
    .bind::<SqlUuid, _>(school)
    .load(&mut conn)
    .expect("families");
    let dues = |conn: &mut PgConnection, f: Uuid| {
        daftar_server::ledger::service::family_dues(conn, school, f).expect("dues")
    };
    let owing: Vec<&Fam> = families
        .iter()
        .filter(|f| dues(&mut conn, f.id).total_outstanding > 0)
        .collect();
    let three = owing
        .iter()
        .find(|f| f.children == 3 && f.same_name == 1)
        .expect("a three-child family that owes");
    let mut chosen: Vec<&Fam> = vec![three];
    chosen.extend(owing.iter().filter(|f| f.id != three.id).take(19));
    assert_eq!(chosen.len(), 20, "twenty families that owe");
    let discount_family = owing
        .iter()
        .find(|f| !chosen.iter().any(|c| c.id == f.id))
        .expect("a family for the discount")
        .id;
    // Students and families: a family of its own, whose guardians' phone someone changes on
    // the server while the console is offline (the console's edit of it is then a conflict).
    let records_family = families
        .iter()
        .filter(|f| {
            f.same_name == 1 && f.id != discount_family && !chosen.iter().any(|c| c.id == f.id)
        })
        .find(|f| guardians_of(&mut conn, school, f.id) > 0)
        .expect("a family with a guardian for the records");
    let (records_student, records_given, records_family_name): (Uuid, String, String) =
        daftar_server::schema::students::table
            .filter(daftar_server::schema::students::school_id.eq(school))
            .filter(daftar_server::schema::students::admission_no.eq(&records_family.admission_no))
            .select((
                daftar_server::schema::students::id,
                daftar_server::schema::students::given_name,
                daftar_server::schema::students::family_name,
            ))
            .first(&mut conn)
            .expect("the records student");
    let family_display: String = daftar_server::schema::families::table
        .filter(daftar_server::schema::families::school_id.eq(school))
        .filter(daftar_server::schema::families::id.eq(records_family.id))
        .select(daftar_server::schema::families::name)
        .first(&mut conn)
        .expect("family name");
    let server_phone = "+923009990000";
    let records = json!({
        "student_query": format!("{} {}", records_family_name, records_given).to_lowercase(),
        "student_id": records_student, "family_id": records_family.id,
        "family_name": family_display, "student_admission_no": records_family.admission_no,
        "student_family_name": records_family_name,
        "typed_phone": "+92 300 555-0101", "typed_phone_kept": "+923005550101",
        "server_phone": server_phone, "new_given_name": format!("{records_given}a"),
        "new_admission_no": "CONSOLE-ADM-1",
    });
    let siblings: Vec<String> = daftar_server::schema::students::table
        .filter(daftar_server::schema::students::family_id.eq(three.id))
        .select((
            daftar_server::schema::students::given_name,
            daftar_server::schema::students::family_name,
        ))
        .load::<(String, String)>(&mut conn)
        .expect("siblings")
        .into_iter()
        .map(|(g, f)| format!("{g} {f}"))
        .collect();
    let mut payments = Vec::new();
    for (i, f) in chosen.iter().enumerate() {
        let d = dues(&mut conn, f.id);
        let (minor, typed, extra) = match i {
            0 => (
                d.total_outstanding,
                shown(d.total_outstanding),
                json!({ "shot": "three-siblings",
                   "children_on_receipt": siblings }),
            ),
            // Typed without separators: "12500.00" means the same as "12,500.00".
            1 => {
                let m = d.total_outstanding + 50_000;
                (
                    m,
                    shown(m).replace(',', ""),
                    json!({ "shot": "overpayment" }),
                )
            }
            2 => (
                d.total_outstanding / 2,
                shown(d.total_outstanding / 2),
                json!({}),
            ),
            3 => (
                100_000,
                "1000".into(),
                json!({ "method": "cheque", "reference": "CHQ-004512" }),
            ),
            _ => (150_000, "1,500".into(), json!({})),
        };
        let query = if i == 0 {
            let words: Vec<&str> = f.child_name.split_whitespace().rev().collect();
            words.join(" ").to_lowercase()
        } else {
            f.admission_no.clone()
        };
        let mut p = json!({
            "family_id": f.id, "query": query, "amount": typed,
            "understood": format!("PKR {}", shown(minor)), "method": "cash",
        });
        for (k, v) in extra.as_object().expect("object") {
            p[k] = v.clone();
        }
        payments.push(p);
    }
    let cashier_name: String = daftar_server::schema::users::table
        .filter(daftar_server::schema::users::school_id.eq(school))
        .filter(daftar_server::schema::users::username.eq("accountant"))
        .select(daftar_server::schema::users::display_name)
        .first(&mut conn)
        .expect("cashier");
    let plan = json!({
        "url": url, "password": PW, "cashier": "accountant", "cashier_name": cashier_name,
        "teacher": "teacher1", "payments": payments, "school_name": "Daftar Demo School",
        "school_address": daftar_server::demo::DEMO_ADDRESS,
        "discount_family": discount_family, "records": records, "server_url": server.url(),
        "device_name": "front desk",
    });
    let reversals_before = reversals(&mut conn, school);
    let work = tempfile::tempdir().expect("tmp");
    let plan_file = work.path().join("plan.json");
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    let shots = workspace().join("target/console-screens");
    std::fs::create_dir_all(&shots).expect("screenshot folder");

    // A teacher, signing in while the server is up, is refused the cashier pages.
    python("teacher", &plan_file, &shots, None);

    // The cashier's day with the server down; meanwhile someone at the server corrects the
    // records family's phone (a direct write, logged for sync like any other).
    server.stop();
    diesel::sql_query(
        "UPDATE guardians SET phone = $3, updated_at = now() WHERE school_id = $1 AND family_id = $2",
    )
    .bind::<SqlUuid, _>(school)
    .bind::<SqlUuid, _>(records_family.id)
    .bind::<Text, _>(server_phone)
    .execute(&mut conn)
    .expect("the phone changed at the server");
    let out_file = work.path().join("receipts.json");
    python("cashier", &plan_file, &shots, Some(&out_file));
    let out: Value = serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let receipts = out["receipts"].as_array().expect("receipts");
    assert_eq!(receipts.len(), 20);
    let job = std::fs::read(&spool).expect("the printer's spool");
    let first = receipts[0]["receipt_no"].as_str().unwrap();
    assert!(job.starts_with(&[0x1b, 0x40]), "an ESC/POS job (ESC @)");
    assert!(
        job.windows(first.len()).any(|w| w == first.as_bytes()),
        "the first receipt went to the thermal printer"
    );
    assert_eq!(
        pending(dir.path()),
        26,
        "twenty payments, a reversal, a discount, a register, two record edits and an \
         admission queued offline"
    );
    println!(
        "20 payments in {:.1} s of browser time",
        out["browser_seconds"].as_f64().unwrap_or(0.0)
    );

    // The server comes back: the console's sync thread drains the queue.
    server.resume();
    let start = Instant::now();
    while pending(dir.path()) != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "the queue did not drain: {} pending",
            pending(dir.path())
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // And the console's copy of the school converges on the server's (by digest), once the
    // console's own sync thread has pulled what the server made of the queue.
    let start = Instant::now();
    loop {
        let (mut engine, _) = SyncEngine::open(dir.path()).expect("the agent's store");
        let (local, remote) = engine.digests().expect("digests");
        if local.entities == remote.entities {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the replica did not converge: {local:?} vs {remote:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let reversal = &out["reversal"];
    let reversed_family: Uuid = reversal["family_id"].as_str().unwrap().parse().unwrap();
    let d = dues(&mut conn, reversed_family);
    assert_eq!(
        reversal["net_due"].as_str(),
        Some(shown(d.net_due).as_str()),
        "after the reversal the console showed the server's due"
    );
    assert_eq!(
        reversal["credit"].as_str(),
        Some(shown(d.credit_balance).as_str())
    );
    assert_eq!(
        reversals(&mut conn, school),
        reversals_before + 1,
        "the reversal reached the server once"
    );
    for (p, r) in payments.iter().zip(receipts) {
        let family: Uuid = p["family_id"].as_str().unwrap().parse().unwrap();
        if family == reversed_family {
            continue;
        }
        let d = dues(&mut conn, family);
        assert_eq!(
            r["net_due_after"].as_str(),
            Some(shown(d.net_due.max(0)).as_str()),
            "family {family}: the receipt's balance is the server's\n{}",
            r["text"]
        );
        assert_eq!(
            r["credit_after"].as_str(),
            Some(shown(d.credit_balance).as_str()),
            "family {family}: the receipt's credit is the server's\n{}",
            r["text"]
        );
    }
    let receipt_nos: Vec<String> = daftar_server::schema::payments::table
        .filter(daftar_server::schema::payments::school_id.eq(school))
        .order(daftar_server::schema::payments::receipt_no)
        .select(daftar_server::schema::payments::receipt_no)
        .load(&mut conn)
        .expect("payments");
    let printed: Vec<String> = receipts
        .iter()
        .map(|r| r["receipt_no"].as_str().unwrap().to_string())
        .collect();
    for n in &printed {
        assert!(
            receipt_nos.contains(n),
            "printed {n} is the server's number too"
        );
    }
    // Every payment taken at the console is stamped with the cashier signed in there (the
    // accountant), not the admin who enrolled the computer.
    let stamped: Vec<(String, Option<Uuid>)> = daftar_server::schema::payments::table
        .filter(daftar_server::schema::payments::school_id.eq(school))
        .filter(daftar_server::schema::payments::receipt_no.eq_any(&printed))
        .select((
            daftar_server::schema::payments::receipt_no,
            daftar_server::schema::payments::received_by,
        ))
        .load(&mut conn)
        .expect("stamps");
    let accountant: Uuid = daftar_server::schema::users::table
        .filter(daftar_server::schema::users::school_id.eq(school))
        .filter(daftar_server::schema::users::username.eq("accountant"))
        .select(daftar_server::schema::users::id)
        .first(&mut conn)
        .expect("accountant");
    assert_eq!(stamped.len(), 20);
    for (no, by) in &stamped {
        assert_eq!(
            *by,
            Some(accountant),
            "{no} received by the console's cashier"
        );
    }
    let d = dues(&mut conn, discount_family);
    assert_eq!(
        out["discount"]["net_due"].as_str(),
        Some(shown(d.net_due).as_str()),
        "after the discount the console showed the server's due"
    );

    // The dashboard's collections were the payments kept (all but the reversed one), plus any
    // the demo recorded today.
    let kept: i64 = payments[..19]
        .iter()
        .map(|p| {
            p["understood"].as_str().unwrap()[4..]
                .replace([',', '.'], "")
                .parse::<i64>()
                .unwrap()
        })
        .sum();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Karachi)
        .date_naive();
    let demo_today: i64 = diesel::sql_query(
        "SELECT coalesce(sum(p.amount), 0)::int8 AS n FROM payments p
         WHERE p.school_id = $1 AND p.device_id IS NULL
           AND (p.received_at AT TIME ZONE 'Asia/Karachi')::date = $2
           AND NOT EXISTS (SELECT 1 FROM payment_reversals r
                           WHERE r.school_id = p.school_id AND r.payment_id = p.id)",
    )
    .bind::<SqlUuid, _>(school)
    .bind::<diesel::sql_types::Date, _>(today)
    .get_result::<Total>(&mut conn)
    .expect("today's payments")
    .n;
    assert_eq!(
        out["collected_today"].as_str(),
        Some(shown(kept + demo_today).as_str()),
        "the dashboard's collections today"
    );

    // The register: everyone marked, the two absences as absences.
    let reg = &out["register"];
    let class_id: Uuid = reg["class_id"].as_str().unwrap().parse().unwrap();
    let on_date: chrono::NaiveDate = reg["date"].as_str().unwrap().parse().unwrap();
    let marks: Vec<(Uuid, String)> = diesel::sql_query(
        "SELECT m.student_id, c.code FROM attendance_marks m
         JOIN registers r ON r.school_id = m.school_id AND r.id = m.register_id
         JOIN attendance_codes c ON c.school_id = m.school_id AND c.id = m.code_id
         WHERE r.school_id = $1 AND r.class_id = $2 AND r.on_date = $3 AND r.period = 0",
    )
    .bind::<SqlUuid, _>(school)
    .bind::<SqlUuid, _>(class_id)
    .bind::<diesel::sql_types::Date, _>(on_date)
    .load::<Mark>(&mut conn)
    .expect("marks")
    .into_iter()
    .map(|m| (m.student_id, m.code))
    .collect();
    assert_eq!(marks.len() as u64, reg["students"].as_u64().unwrap());
    let mut absent: Vec<String> = reg["absent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    absent.sort();
    let mut server_absent: Vec<String> = marks
        .iter()
        .filter(|m| m.1 == "A")
        .map(|m| m.0.to_string())
        .collect();
    server_absent.sort();
    assert_eq!(server_absent, absent, "the two absences, and only they");

    // Students and families: the name edit applied, the phone kept the server's value (the
    // console's edit was a conflict), the admission made the student in the family and class.
    let given: String = daftar_server::schema::students::table
        .filter(daftar_server::schema::students::school_id.eq(school))
        .filter(daftar_server::schema::students::id.eq(records_student))
        .select(daftar_server::schema::students::given_name)
        .first(&mut conn)
        .expect("student");
    assert_eq!(given, format!("{records_given}a"));
    let rec_out = &out["records"];
    let guardian: Uuid = rec_out["guardian_id"].as_str().unwrap().parse().unwrap();
    let phone: Option<String> = daftar_server::schema::guardians::table
        .filter(daftar_server::schema::guardians::school_id.eq(school))
        .filter(daftar_server::schema::guardians::id.eq(guardian))
        .select(daftar_server::schema::guardians::phone)
        .first(&mut conn)
        .expect("guardian");
    assert_eq!(
        phone.as_deref(),
        Some(server_phone),
        "the server's value stays"
    );
    let admitted: Uuid = rec_out["admitted_id"].as_str().unwrap().parse().unwrap();
    let (family, admission_no): (Uuid, String) = daftar_server::schema::students::table
        .filter(daftar_server::schema::students::school_id.eq(school))
        .filter(daftar_server::schema::students::id.eq(admitted))
        .select((
            daftar_server::schema::students::family_id,
            daftar_server::schema::students::admission_no,
        ))
        .first(&mut conn)
        .expect("the admitted student reached the server");
    assert_eq!(
        (family, admission_no.as_str()),
        (records_family.id, "CONSOLE-ADM-1")
    );
    let class: Uuid = rec_out["class_id"].as_str().unwrap().parse().unwrap();
    let enrolled: i64 = daftar_server::schema::enrollments::table
        .filter(daftar_server::schema::enrollments::school_id.eq(school))
        .filter(daftar_server::schema::enrollments::student_id.eq(admitted))
        .filter(daftar_server::schema::enrollments::class_id.eq(class))
        .count()
        .get_result(&mut conn)
        .expect("enrolment");
    assert_eq!(
        enrolled, 1,
        "enrolled in the class chosen on the admission page"
    );

    // Back online: the conflict resolved on "Needs attention", a report, a live page.
    let mut plan = plan;
    plan["admitted_id"] = json!(admitted);
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    let office_file = work.path().join("office.json");
    python("office", &plan_file, &shots, Some(&office_file));
    let office: Value = serde_json::from_slice(&std::fs::read(&office_file).unwrap()).unwrap();
    let csv = office["csv"].as_str().expect("the collections CSV");
    assert!(
        csv.lines().count() > 2,
        "the console's CSV is the server's collections report:\n{csv}"
    );
    let resolved: i64 = diesel::sql_query(
        "SELECT count(*) AS n FROM applied_ops WHERE school_id = $1 AND resolved_at IS NOT NULL",
    )
    .bind::<SqlUuid, _>(school)
    .get_result::<Total>(&mut conn)
    .map(|t| t.n)
    .unwrap_or(-1);
    assert_eq!(resolved, 1, "the server knows the conflict was resolved");

    // Devices (issue #17): a back-office PC holds a payment it has not sent; the admin revokes
    // it on the console's Devices page, and imports its exported outbox there.
    let back_dir = tempfile::tempdir().expect("tmp");
    let login = daftar_client_core::protocol::LoginRequest {
        school: "demo".into(),
        username: "accountant".into(),
        password: PW.into(),
        device_id: None,
        two_factor_code: None,
    };
    let mut back_office = SyncEngine::init(back_dir.path(), &server.url(), &login, "back office")
        .expect("enrol the back office");
    back_office.sync_once(&mut |_, _| {}).expect("first sync");
    let unsent_family = owing[0].id;
    let unsent = daftar_client_core::client::office::record_payment(
        &mut back_office.store,
        unsent_family,
        432_100,
        daftar_client_core::protocol::PaymentMethod::Cash,
        None,
        None,
    )
    .expect("a payment at the back office");
    back_office
        .pull(&mut |_, _| {})
        .expect("a pull reports it queued");
    plan["back_office"] = json!({ "name": "back office", "queued": 1 });
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    python("devices", &plan_file, &shots, None);
    let refused = back_office.sync_once(&mut |_, _| {});
    assert!(
        matches!(&refused, Err(e) if e.is_device_revoked()),
        "the revoked back office still syncs: {refused:?}"
    );
    let export_file = work.path().join("back-office-unsent.json");
    let export = back_office.outbox_export().expect("export");
    daftar_client_core::client::outbox_file::write_export(&export_file, &export).expect("write");
    plan["back_office"]["export_file"] = json!(export_file);
    plan["back_office"]["receipt_no"] = json!(unsent.receipt_no);
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    python("import", &plan_file, &shots, None);
    let (receipt_no, amount): (String, i64) = daftar_server::schema::payments::table
        .filter(daftar_server::schema::payments::school_id.eq(school))
        .filter(daftar_server::schema::payments::family_id.eq(unsent_family))
        .filter(daftar_server::schema::payments::amount.eq(432_100))
        .select((
            daftar_server::schema::payments::receipt_no,
            daftar_server::schema::payments::amount,
        ))
        .first(&mut conn)
        .expect("the imported payment is on the server");
    assert_eq!((receipt_no, amount), (unsent.receipt_no.clone(), 432_100));

    // School setup (issue #17): next year, its terms, six classes, a fee head and what each
    // class pays, all on the console's forms.
    let homeroom_name: String = daftar_server::schema::users::table
        .filter(daftar_server::schema::users::school_id.eq(school))
        .filter(daftar_server::schema::users::username.eq("teacher1"))
        .select(daftar_server::schema::users::display_name)
        .first(&mut conn)
        .expect("teacher1");
    let schedules_before: i64 = daftar_server::schema::fee_schedules::table
        .filter(daftar_server::schema::fee_schedules::school_id.eq(school))
        .count()
        .get_result(&mut conn)
        .expect("schedules");
    let grades = [
        ("7", "A"),
        ("7", "B"),
        ("8", "A"),
        ("8", "B"),
        ("9", "A"),
        ("9", "B"),
    ];
    let class_names: Vec<String> = grades
        .iter()
        .map(|(g, s)| format!("Grade {g}-{s}"))
        .collect();
    let (tuition, lab) = (450_000_i64, 75_000_i64);
    let mut schedules: Vec<Value> = class_names
        .iter()
        .map(|c| json!({"class": c, "head": "Tuition", "amount": "4500", "shown": "4,500.00", "due_on": "2027-04-10"}))
        .collect();
    for c in &class_names[4..] {
        schedules.push(json!({"class": c, "head": "Science lab", "amount": "750.00", "shown": "750.00", "due_on": "2027-04-20"}));
    }
    let (currency, edit_window_before): (String, i32) = daftar_server::schema::schools::table
        .find(school)
        .select((
            daftar_server::schema::schools::currency,
            daftar_server::schema::schools::attendance_edit_window_days,
        ))
        .first(&mut conn)
        .expect("school");
    plan["setup"] = json!({
        "currency": currency, "edit_window_before": edit_window_before,
        "year": {"name": "2027-28", "starts_on": "2027-04-01", "ends_on": "2028-03-31", "terms": [
            {"name": "Term 1", "starts_on": "2027-04-01", "ends_on": "2027-08-31"},
            {"name": "Term 2", "starts_on": "2027-09-01", "ends_on": "2027-12-31"},
            {"name": "Term 3", "starts_on": "2028-01-01", "ends_on": "2028-03-31"},
        ]},
        "classes": grades.iter().zip(&class_names).map(|((g, s), n)| json!({"grade": g, "section": s, "name": n})).collect::<Vec<_>>(),
        "homeroom_label": format!("{homeroom_name} (teacher1)"),
        "new_head": "Science lab",
        "schedules": schedules,
        "schedules_before": schedules_before,
    });
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    python("setup", &plan_file, &shots, None);
    let (currency_after, edit_window): (String, i32) = daftar_server::schema::schools::table
        .find(school)
        .select((
            daftar_server::schema::schools::currency,
            daftar_server::schema::schools::attendance_edit_window_days,
        ))
        .first(&mut conn)
        .expect("school");
    assert_eq!((currency_after, edit_window), (currency, 2));
    let sick_leave: String = daftar_server::schema::attendance_codes::table
        .filter(daftar_server::schema::attendance_codes::school_id.eq(school))
        .filter(daftar_server::schema::attendance_codes::code.eq("SL"))
        .select(daftar_server::schema::attendance_codes::category)
        .first(&mut conn)
        .expect("the new attendance code");
    assert_eq!(sick_leave, "excused");
    let next_term: Uuid = daftar_server::schema::terms::table
        .inner_join(
            daftar_server::schema::academic_years::table
                .on(daftar_server::schema::academic_years::id
                    .eq(daftar_server::schema::terms::academic_year_id)),
        )
        .filter(daftar_server::schema::terms::school_id.eq(school))
        .filter(daftar_server::schema::academic_years::name.eq("2027-28"))
        .filter(daftar_server::schema::terms::name.eq("Term 1"))
        .select(daftar_server::schema::terms::id)
        .first(&mut conn)
        .expect("next year's first term was created");
    let new_classes: i64 = daftar_server::schema::classes::table
        .filter(daftar_server::schema::classes::school_id.eq(school))
        .filter(daftar_server::schema::classes::name.eq_any(&class_names))
        .count()
        .get_result(&mut conn)
        .expect("classes");
    assert_eq!(new_classes, 6);

    // Spreadsheet admissions (issue #17): 300 students from an .xlsx with one bad row, fixed
    // after the preview; siblings grouped by family key and by guardian phone; into the six
    // new classes.
    let classes: Vec<&str> = class_names.iter().map(String::as_str).collect();
    let mut rows = daftar_tests::spreadsheets::admissions_rows("XL-", 300, &classes);
    let headers = daftar_tests::spreadsheets::TEMPLATE_HEADERS;
    let good_file = work.path().join("intake-fixed.xlsx");
    std::fs::write(
        &good_file,
        daftar_tests::spreadsheets::xlsx("Intake", &headers, &rows, &[]),
    )
    .expect("write");
    rows[41][3] = daftar_tests::spreadsheets::t("03/25/2016");
    let bad_file = work.path().join("intake.xlsx");
    std::fs::write(
        &bad_file,
        daftar_tests::spreadsheets::xlsx("Intake", &headers, &rows, &[]),
    )
    .expect("write");
    // A OneRoster export zipped, for the same page's preview (not imported).
    let oneroster_zip = work.path().join("oneroster-export.zip");
    {
        use std::io::Write;
        let fixture = workspace().join("tests/fixtures/oneroster-small");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&oneroster_zip).expect("zip"));
        for entry in std::fs::read_dir(&fixture).expect("fixture") {
            let path = entry.expect("entry").path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_string();
            z.start_file(name, zip::write::SimpleFileOptions::default())
                .expect("zip entry");
            z.write_all(&std::fs::read(&path).expect("read"))
                .expect("zip write");
        }
        z.finish().expect("zip finish");
    }
    plan["admissions"] = json!({
        "oneroster_zip": oneroster_zip,
        "bad_file": bad_file, "good_file": good_file, "count": 300,
        "bad_row": 43, "bad_column": "D", "key_group": "key:FAM-0", "phone_group": "phone:923990000001",
    });
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    python("admissions", &plan_file, &shots, None);
    let admitted: Vec<(String, Uuid)> = daftar_server::schema::students::table
        .filter(daftar_server::schema::students::school_id.eq(school))
        .filter(daftar_server::schema::students::admission_no.like("XL-%"))
        .select((
            daftar_server::schema::students::admission_no,
            daftar_server::schema::students::family_id,
        ))
        .load(&mut conn)
        .expect("admitted");
    assert_eq!(admitted.len(), 300);
    let family_of = |no: &str| {
        admitted
            .iter()
            .find(|(a, _)| a == no)
            .map(|(_, f)| *f)
            .unwrap_or_else(|| panic!("{no} admitted"))
    };
    assert_eq!(
        family_of("XL-1"),
        family_of("XL-2"),
        "siblings by family key"
    );
    assert_eq!(
        family_of("XL-3"),
        family_of("XL-4"),
        "siblings by guardian phone"
    );
    assert_ne!(family_of("XL-1"), family_of("XL-3"));
    let families: std::collections::HashSet<Uuid> = admitted.iter().map(|(_, f)| *f).collect();
    assert_eq!(families.len(), 150);

    // The invoice run for next year's first term: 300 invoices (50 per class; grade 9 pays
    // the lab fee too), previewed then issued.
    let amount = 300 * tuition + 100 * lab;
    plan["invoices"] = json!({
        "term_label": "2027-28 Term 1", "count": 300, "families": 150, "amount": amount,
        "amount_text": "1,425,000.00", "heads": 2,
    });
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    python("invoices", &plan_file, &shots, None);
    let invoiced: Vec<i64> = daftar_server::schema::invoice_lines::table
        .inner_join(
            daftar_server::schema::invoices::table.on(daftar_server::schema::invoices::id
                .eq(daftar_server::schema::invoice_lines::invoice_id)),
        )
        .filter(daftar_server::schema::invoices::school_id.eq(school))
        .filter(daftar_server::schema::invoices::term_id.eq(next_term))
        .select(daftar_server::schema::invoice_lines::amount)
        .load(&mut conn)
        .expect("invoice lines");
    assert_eq!(
        invoiced.len(),
        400,
        "300 tuition lines and 100 lab-fee lines"
    );
    assert_eq!(invoiced.iter().sum::<i64>(), amount);
    let term_invoices: i64 = daftar_server::schema::invoices::table
        .filter(daftar_server::schema::invoices::term_id.eq(next_term))
        .count()
        .get_result(&mut conn)
        .expect("invoices");
    assert_eq!(
        term_invoices, 300,
        "issued once, not again by the second preview"
    );

    // Users (issue #17): a login added with a password shown once, a teacher given a class,
    // the password reset and the user locked.
    plan["users"] = json!({
        "username": "bursar2", "name": "Bursar Ayesha Karim",
        "teacher": "teacher1", "teacher_label": format!("{homeroom_name} (teacher1)"),
        "class": "Grade 7-B", "subject": "Mathematics",
    });
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    let users_out = work.path().join("users-out.json");
    python("users", &plan_file, &shots, Some(&users_out));
    let shown: Value =
        serde_json::from_slice(&std::fs::read(&users_out).expect("users out")).expect("json");
    // The login's HTTP status (0: no answer).
    let api_login = |username: &str, password: &str| -> u16 {
        match ureq::post(&format!("{}/api/v1/auth/login", server.url()))
            .send_json(json!({"school": "demo", "username": username, "password": password}))
        {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(_) => 0,
        }
    };
    for key in ["first_password", "password"] {
        let pw = shown[key].as_str().expect("password");
        assert_eq!(
            api_login("bursar2", pw),
            401,
            "a locked user cannot sign in with the {key}"
        );
    }
    let teaches: i64 = daftar_server::schema::class_teachers::table
        .inner_join(daftar_server::schema::classes::table.on(
            daftar_server::schema::classes::id.eq(daftar_server::schema::class_teachers::class_id),
        ))
        .inner_join(daftar_server::schema::users::table.on(
            daftar_server::schema::users::id.eq(daftar_server::schema::class_teachers::teacher_id),
        ))
        .filter(daftar_server::schema::classes::name.eq("Grade 7-B"))
        .filter(daftar_server::schema::users::username.eq("teacher1"))
        .count()
        .get_result(&mut conn)
        .expect("class teachers");
    assert_eq!(teaches, 1, "teacher1 teaches Grade 7-B");
    let subject: Option<String> = daftar_server::schema::class_teachers::table
        .inner_join(daftar_server::schema::classes::table.on(
            daftar_server::schema::classes::id.eq(daftar_server::schema::class_teachers::class_id),
        ))
        .filter(daftar_server::schema::classes::name.eq("Grade 7-B"))
        .select(daftar_server::schema::class_teachers::subject)
        .first(&mut conn)
        .expect("subject");
    assert_eq!(subject.as_deref(), Some("Mathematics"));
    let mut bursar_roles: Vec<String> =
        daftar_server::schema::user_roles::table
            .inner_join(daftar_server::schema::users::table.on(
                daftar_server::schema::users::id.eq(daftar_server::schema::user_roles::user_id),
            ))
            .filter(daftar_server::schema::users::username.eq("bursar2"))
            .select(daftar_server::schema::user_roles::role)
            .load(&mut conn)
            .expect("roles");
    bursar_roles.sort();
    assert_eq!(
        bursar_roles,
        ["accountant", "parent"],
        "ticked on the users page"
    );

    // Two-factor login (issue #17): a bursar who has it on and has never used this computer;
    // the admin turns it on from the console.
    let api = |path: &str| format!("{}/api/v1{path}", server.url());
    let login_as = |username: &str, code: Option<String>| -> Value {
        let mut body = json!({"school": "demo", "username": username, "password": PW});
        if let Some(c) = code {
            body["two_factor_code"] = json!(c);
        }
        ureq::post(&api("/auth/login"))
            .send_json(body)
            .unwrap_or_else(|e| panic!("login {username}: {e}"))
            .into_json()
            .expect("json")
    };
    let bearer = |t: &Value| format!("Bearer {}", t["access_token"].as_str().expect("token"));
    let admin = login_as("admin", None);
    ureq::post(&api("/users"))
        .set("Authorization", &bearer(&admin))
        .send_json(json!({"username": "bursar", "display_name": "Bursar Hina Qureshi", "role": "accountant", "password": PW}))
        .expect("create the bursar");
    let bursar = login_as("bursar", None);
    let enrolment: Value = ureq::post(&api("/auth/two-factor/enrol"))
        .set("Authorization", &bearer(&bursar))
        .call()
        .expect("enrol")
        .into_json()
        .expect("json");
    let secret_of = |conn: &mut PgConnection, username: &str| -> Vec<u8> {
        use daftar_server::schema::{user_two_factor, users};
        user_two_factor::table
            .inner_join(
                users::table.on(users::school_id
                    .eq(user_two_factor::school_id)
                    .and(users::id.eq(user_two_factor::user_id))),
            )
            .filter(users::username.eq(username))
            .select(user_two_factor::secret)
            .first(conn)
            .expect("a two-factor secret")
    };
    let earlier = chrono::Utc::now() - chrono::Duration::seconds(30);
    let code = daftar_server::auth::two_factor::code_at(&secret_of(&mut conn, "bursar"), earlier);
    ureq::post(&api("/auth/two-factor/confirm"))
        .set("Authorization", &bearer(&bursar))
        .send_json(json!({ "code": code }))
        .expect("confirm");
    plan["bursar"] = json!({"username": "bursar", "secret": enrolment["secret_base32"]});
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    python("two_factor", &plan_file, &shots, None);
    let refused = ureq::post(&api("/auth/login"))
        .send_json(json!({"school": "demo", "username": "admin", "password": PW}));
    match refused {
        Err(ureq::Error::Status(401, r)) => {
            let p: Value = r.into_json().expect("problem");
            assert_eq!(p["code"], json!("two_factor_required"), "{p}");
        }
        other => panic!("the admin's two-factor login is not on: {other:?}"),
    }
    // The admin reset the bursar's two-factor login on the Users page: the password alone
    // signs them in again.
    assert!(
        login_as("bursar", None)["access_token"].is_string(),
        "the bursar signs in without a code after the reset"
    );

    // The admin revokes this computer (issue #17): the console's sync bar says so.
    let admin = login_as(
        "admin",
        Some(daftar_server::auth::two_factor::code_at(
            &secret_of(&mut conn, "admin"),
            chrono::Utc::now(),
        )),
    );
    let admin = admin["access_token"].as_str().expect("token").to_string();
    let devices: Value = ureq::get(&format!("{}/api/v1/devices", server.url()))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .expect("devices")
        .into_json()
        .expect("json");
    let front_desk = devices
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["name"] == json!("front desk"))
        .expect("the front desk is listed")["id"]
        .as_str()
        .expect("id")
        .to_string();
    ureq::post(&format!(
        "{}/api/v1/devices/{front_desk}/revoke",
        server.url()
    ))
    .set("Authorization", &format!("Bearer {admin}"))
    .call()
    .expect("revoke");
    python("revoked", &plan_file, &shots, None);
    drop(console);
}

fn guardians_of(conn: &mut PgConnection, school: Uuid, family: Uuid) -> i64 {
    daftar_server::schema::guardians::table
        .filter(daftar_server::schema::guardians::school_id.eq(school))
        .filter(daftar_server::schema::guardians::family_id.eq(family))
        .count()
        .get_result(conn)
        .expect("guardians")
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Mark {
    #[diesel(sql_type = SqlUuid)]
    student_id: Uuid,
    #[diesel(sql_type = Text)]
    code: String,
}

/// Issue #17's walk-through: a school that has nothing but its admin's login is set up on the
/// console alone (settings, year and terms, six classes, fee heads and schedules), admits 300
/// students from a spreadsheet with one bad row fixed after the preview (siblings grouped),
/// invoices them, and adds a cashier; the cashier's computer is enrolled and takes a payment
/// that reaches the server; the admin revokes that computer, whose next payment is kept but
/// refused by the server, and its sync bar says so.
#[test]
fn an_admin_sets_up_a_new_school_from_nothing_and_a_cashier_takes_money_on_a_new_device() {
    playwright_python();
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    // What `daftar-server create-school` and `create-admin` leave: a school and one admin.
    let school = daftar_server::schools::create_school(
        &mut conn,
        &daftar_server::schools::NewSchool {
            slug: "green-valley".into(),
            name: "green valley".into(),
            currency: "USD".into(),
            timezone: "UTC".into(),
        },
    )
    .expect("school")
    .id;
    daftar_server::schools::create_user(
        &mut conn,
        school,
        "admin",
        "Owner Rukhsana Baig",
        daftar_client_core::protocol::Role::Admin,
        Some(daftar_server::auth::password::hash(PW).expect("hash")),
    )
    .expect("admin");
    let server = TestServer::start(tdb.url());
    let enrol = |dir: &Path, username: &str, password: &str, device: &str| {
        let init = agent(dir)
            .args([
                "init",
                "--server",
                &server.url(),
                "--school",
                "green-valley",
            ])
            .args(["--username", username, "--device-name", device])
            .env("DAFTAR_PASSWORD", password)
            .output()
            .expect("init");
        assert!(init.status.success(), "{init:?}");
    };
    let owner_dir = tempfile::tempdir().expect("tmp");
    enrol(owner_dir.path(), "admin", PW, "owner's desk");
    let (owner_console, owner_url) = serve_console(owner_dir.path(), &[]);

    let work = tempfile::tempdir().expect("tmp");
    let plan_file = work.path().join("plan.json");
    let shots = workspace().join("target/console-screens");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let classes: Vec<String> = ["1", "2", "3"]
        .iter()
        .flat_map(|g| ["A", "B"].map(|s| format!("Grade {g}-{s}")))
        .collect();
    let mut schedules: Vec<Value> = classes
        .iter()
        .map(|c| json!({"class": c, "head": "Tuition", "amount": "4500", "shown": "4,500.00", "due_on": "2026-04-15"}))
        .collect();
    for c in &classes[4..] {
        schedules.push(json!({"class": c, "head": "Computer lab", "amount": "500", "shown": "500.00", "due_on": "2026-04-15"}));
    }
    // The school's logo: a green and gold crest, 120 × 60, with a transparent corner.
    let logo_file = work.path().join("green-valley-logo.png");
    {
        use printpdf::image_crate::{ImageFormat, Rgba, RgbaImage};
        let crest = RgbaImage::from_fn(120, 60, |x, y| match (x, y) {
            (0..=9, 0..=9) => Rgba([0, 0, 0, 0]),
            _ if (x / 10 + y / 10) % 2 == 0 => Rgba([20, 110, 60, 255]),
            _ => Rgba([230, 180, 40, 255]),
        });
        crest
            .save_with_format(&logo_file, ImageFormat::Png)
            .expect("logo");
    }
    let mut plan = json!({
        "url": owner_url, "password": PW,
        "new_school": {
            "logo": logo_file,
            "name": "Green Valley School", "address": "Plot 7, Canal Road, Faisalabad",
            "currency": "PKR", "timezone": "Asia/Karachi",
            "year": {"name": "2026-27", "starts_on": "2026-04-01", "ends_on": "2027-03-31", "terms": [
                {"name": "Term 1", "starts_on": "2026-04-01", "ends_on": "2026-07-31"},
                {"name": "Term 2", "starts_on": "2026-08-01", "ends_on": "2026-11-30"},
                {"name": "Term 3", "starts_on": "2026-12-01", "ends_on": "2027-03-31"}]},
            "classes": classes.iter().map(|c| {
                let (grade, section) = c.trim_start_matches("Grade ").split_once('-').expect("name");
                json!({"name": c, "grade": grade, "section": section})
            }).collect::<Vec<_>>(),
            "heads": ["Tuition", "Computer lab"],
            "schedules": schedules,
            "cashier": "cashier1", "cashier_name": "Cashier Bilal Ahmed",
        },
    });
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    let out = work.path().join("new-school-out.json");
    python("new_school", &plan_file, &shots, Some(&out));
    let shown: Value = serde_json::from_slice(&std::fs::read(&out).expect("out")).expect("json");
    let cashier_password = shown["password"].as_str().expect("password").to_string();
    // The admin's own computer, enrolled before there was a logo, fetches it after a sync.
    let kept = owner_dir
        .path()
        .join(daftar_client_core::client::office::LOGO_FILE);
    let start = Instant::now();
    while std::fs::read(&kept).ok() != std::fs::read(&logo_file).ok() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the owner's computer never fetched the new logo"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (name, currency, timezone): (String, String, String) =
        daftar_server::schema::schools::table
            .find(school)
            .select((
                daftar_server::schema::schools::name,
                daftar_server::schema::schools::currency,
                daftar_server::schema::schools::timezone,
            ))
            .first(&mut conn)
            .expect("school");
    assert_eq!(
        (name.as_str(), currency.as_str(), timezone.as_str()),
        ("Green Valley School", "PKR", "Asia/Karachi")
    );

    // 300 students from a spreadsheet; the bad row fixed after the preview.
    let class_refs: Vec<&str> = classes.iter().map(String::as_str).collect();
    let mut rows = daftar_tests::spreadsheets::admissions_rows("GV-", 300, &class_refs);
    let headers = daftar_tests::spreadsheets::TEMPLATE_HEADERS;
    let good_file = work.path().join("green-valley-fixed.xlsx");
    std::fs::write(
        &good_file,
        daftar_tests::spreadsheets::xlsx("Intake", &headers, &rows, &[]),
    )
    .expect("write");
    rows[41][3] = daftar_tests::spreadsheets::t("03/25/2016");
    let bad_file = work.path().join("green-valley.xlsx");
    std::fs::write(
        &bad_file,
        daftar_tests::spreadsheets::xlsx("Intake", &headers, &rows, &[]),
    )
    .expect("write");
    plan["admissions"] = json!({
        "bad_file": bad_file, "good_file": good_file, "count": 300,
        "bad_row": 43, "bad_column": "D", "key_group": "key:FAM-0", "phone_group": "phone:923990000001",
    });
    // Invoices: tuition for everyone, the computer lab for grade 3 (100 students).
    let amount: i64 = 300 * 450_000 + 100 * 50_000;
    plan["invoices"] = json!({
        "term_label": "2026-27 Term 1", "count": 300, "families": 150, "amount": amount,
        "amount_text": "1,400,000.00", "heads": 2,
    });
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    python("admissions", &plan_file, &shots, None);
    python("invoices", &plan_file, &shots, None);
    let owed = diesel::sql_query(
        "SELECT coalesce(sum(amount), 0)::bigint AS n FROM invoice_lines WHERE school_id = $1",
    )
    .bind::<SqlUuid, _>(school)
    .get_result::<Total>(&mut conn)
    .expect("invoiced")
    .n;
    assert_eq!(owed, amount, "invoiced what the preview said");

    // A late-fine rule: every invoice is months past due and unpaid, so each is fined once.
    plan["late_fines"] = json!({
        "name": "Monthly late fee", "amount": "200", "days": 30,
        "invoices": 300, "total": 300 * 20_000, "total_text": "60,000.00",
    });
    std::fs::write(&plan_file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    python("late_fines", &plan_file, &shots, None);
    let fined = diesel::sql_query(
        "SELECT count(*) AS n FROM fines f JOIN late_fine_rules r
           ON r.school_id = f.school_id AND r.id = f.late_fine_rule_id
         WHERE f.school_id = $1 AND r.name = 'Monthly late fee' AND f.amount = 20000",
    )
    .bind::<SqlUuid, _>(school)
    .get_result::<Total>(&mut conn)
    .expect("fines")
    .n;
    assert_eq!(fined, 300, "each invoice fined once");

    // The cashier's computer is enrolled with the password the users page showed once, and
    // takes a payment that reaches the server stamped with the cashier and its own series.
    let (family, child): (Uuid, String) = daftar_server::schema::students::table
        .filter(daftar_server::schema::students::school_id.eq(school))
        .filter(daftar_server::schema::students::admission_no.eq("GV-1"))
        .select((
            daftar_server::schema::students::family_id,
            daftar_server::schema::students::admission_no,
        ))
        .first(&mut conn)
        .expect("GV-1 was admitted");
    let counter_dir = tempfile::tempdir().expect("tmp");
    enrol(
        counter_dir.path(),
        "cashier1",
        &cashier_password,
        "front counter",
    );
    let (counter_console, counter_url) = serve_console(counter_dir.path(), &[]);
    let receipt_pdf = work.path().join("D2-000001.pdf");
    let pay = |receipt_no: &str, amount: &str, understood: &str, shot: &str, revoked: bool| {
        let plan = json!({
            "url": counter_url, "cashier": "cashier1", "password": cashier_password,
            "cashier_name": "Cashier Bilal Ahmed", "school_name": "Green Valley School",
            "pay": {"query": child, "family_id": family, "amount": amount,
                    "understood": understood, "receipt_no": receipt_no, "shot": shot,
                    "expect_revoked": revoked, "logo": true,
                    "pdf_out": if revoked { Value::Null } else { json!(receipt_pdf) }},
        });
        let file = work.path().join(format!("{shot}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
        python("pay", &file, &shots, None);
    };
    pay(
        "D2-000001",
        "3000",
        "PKR 3,000.00",
        "42-new-school-payment",
        false,
    );
    // The PDF receipt carries the logo the admin uploaded (one image on the page), and its
    // text the receipt's.
    let images = Command::new("pdfimages")
        .arg("-list")
        .arg(&receipt_pdf)
        .output()
        .expect("pdfimages (poppler-utils)");
    let listing = String::from_utf8_lossy(&images.stdout);
    assert_eq!(
        listing
            .lines()
            .skip(2)
            .filter(|l| l.contains("image"))
            .count(),
        1,
        "one logo on the PDF receipt:\n{listing}"
    );
    let text = Command::new("pdftotext")
        .arg(&receipt_pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("D2-000001") && text.contains("Green Valley School"),
        "{text}"
    );
    let _ = Command::new("pdftoppm")
        .args(["-png", "-r", "80", "-singlefile"])
        .arg(&receipt_pdf)
        .arg(shots.join("42-new-school-receipt-pdf"))
        .status();
    let payment = |conn: &mut PgConnection, no: &str| -> Option<(i64, String)> {
        daftar_server::schema::payments::table
            .inner_join(
                daftar_server::schema::users::table.on(daftar_server::schema::users::id
                    .nullable()
                    .eq(daftar_server::schema::payments::received_by)),
            )
            .filter(daftar_server::schema::payments::school_id.eq(school))
            .filter(daftar_server::schema::payments::receipt_no.eq(no))
            .select((
                daftar_server::schema::payments::amount,
                daftar_server::schema::users::username,
            ))
            .first(conn)
            .optional()
            .expect("payments")
    };
    let start = Instant::now();
    while payment(&mut conn, "D2-000001").is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the counter's payment never reached the server (queued: {})",
            pending(counter_dir.path())
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(
        payment(&mut conn, "D2-000001"),
        Some((300_000, "cashier1".to_string()))
    );

    // The admin revokes the counter's computer; its next payment is kept, not sent.
    std::fs::write(
        &plan_file,
        serde_json::to_vec_pretty(
            &json!({"url": owner_url, "password": PW, "revoke": "front counter"}),
        )
        .unwrap(),
    )
    .unwrap();
    python("revoke", &plan_file, &shots, None);
    pay(
        "D2-000002",
        "1000",
        "PKR 1,000.00",
        "43-new-school-payment-kept",
        true,
    );
    assert_eq!(
        pending(counter_dir.path()),
        1,
        "the payment is kept on the revoked computer"
    );
    assert_eq!(payment(&mut conn, "D2-000002"), None, "and never applied");
    drop(counter_console);
    drop(owner_console);
}
