//! The `daftar-agent` binary against a real server and PostgreSQL (ARCHITECTURE.md §6).

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use daftar_client_core::client::SyncEngine;
use daftar_client_core::protocol::sync::PAYMENT_RECORD;
use daftar_client_core::protocol::LoginRequest;
use daftar_tests::server::TestServer;
use daftar_tests::TestDb;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::json;
use uuid::Uuid;

const PW: &str = "agent-test-password";

fn agent(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_daftar-agent"));
    c.arg("--data-dir").arg(dir).env_remove("DAFTAR_AGENT_DIR");
    c
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<N>(conn)
        .expect("count")
        .n
}

fn demo() -> TestDb {
    let tdb = TestDb::new();
    daftar_server::demo::seed(
        &mut tdb.conn(),
        Some(PW),
        &daftar_server::auth::password::hash,
    )
    .expect("seed");
    tdb
}

#[test]
fn sigkill_in_the_middle_of_a_push_of_1000_ops_leaves_exactly_1000_effects() {
    let tdb = demo();
    let mut conn = tdb.conn();
    let mut server = TestServer::start(tdb.url());
    let dir = tempfile::tempdir().expect("tmp");
    let login = LoginRequest {
        school: "demo".into(),
        username: "accountant".into(),
        password: PW.into(),
        device_id: None,
        two_factor_code: None,
    };
    let family: Uuid = {
        let mut e = SyncEngine::init(dir.path(), &server.url(), &login, "till 1").expect("init");
        e.sync_once(&mut |_, _| {}).expect("bootstrap");
        server.stop();
        let family = daftar_client_core::client::office::search_students(&mut e.store, "")
            .expect("students")[0]
            .family_id;
        // 1,000 payments taken while offline (each its own durable outbox transaction).
        for i in 0..1000 {
            let args = json!({ "id": Uuid::now_v7(), "family_id": family, "amount": 100 + i,
                               "currency": "PKR", "method": "cash" });
            e.store
                .enqueue(PAYMENT_RECORD, &args, None, &[])
                .expect("enqueue");
        }
        family
    };
    server.resume();
    let before = count(&mut conn, "SELECT count(*) AS n FROM payments");

    // Push in batches of 50 and kill the agent once the server has committed some of them.
    let mut child = agent(dir.path())
        .env("DAFTAR_PUSH_BATCH", "50")
        .arg("sync")
        .spawn()
        .expect("spawn agent");
    let started = Instant::now();
    loop {
        let applied = count(&mut conn, "SELECT count(*) AS n FROM applied_ops");
        if applied > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "agent never pushed"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the agent was still pushing when killed"
    );
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let at_kill = count(&mut conn, "SELECT count(*) AS n FROM applied_ops");
    assert!(
        at_kill < 1000,
        "killed mid-push ({at_kill} of 1000 applied)"
    );

    // Restart: the rest is pushed, the part already applied is replayed, nothing twice.
    let out = agent(dir.path()).arg("sync").output().expect("run agent");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM payments") - before,
        1000
    );
    assert_eq!(
        count(
            &mut conn,
            &format!(
                "SELECT count(DISTINCT receipt_no) AS n FROM payments WHERE family_id = '{family}' AND amount BETWEEN 100 AND 1099"
            )
        ),
        1000
    );
    let status = agent(dir.path())
        .args(["--json", "status"])
        .output()
        .expect("status");
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(v["pending"], 0, "{v}");
    assert_eq!(v["applied"], 1000, "{v}");
}

#[test]
fn an_office_day_offline_through_the_cli() {
    let tdb = demo();
    let mut server = TestServer::start(tdb.url());
    let dir = tempfile::tempdir().expect("tmp");
    let init = agent(dir.path())
        .args([
            "init",
            "--server",
            &server.url(),
            "--school",
            "demo",
            "--username",
            "accountant",
        ])
        .env("DAFTAR_PASSWORD", PW)
        .output()
        .expect("init");
    assert!(init.status.success(), "{}", text(&init));
    assert!(
        text(&init).contains("receipts will be numbered D"),
        "{}",
        text(&init)
    );

    let found = agent(dir.path())
        .args(["--json", "students", ""])
        .output()
        .expect("students");
    let students: serde_json::Value = serde_json::from_slice(&found.stdout).expect("json");
    let family = students[0]["family_id"]
        .as_str()
        .expect("family")
        .to_string();

    server.stop();
    let pdf = dir.path().join("receipt.pdf");
    let pay = agent(dir.path())
        .args(["pay", "--family", &family, "--amount", "1,250.50", "--pdf"])
        .arg(&pdf)
        .output()
        .expect("pay");
    assert!(pay.status.success(), "{}", text(&pay));
    let receipt = text(&pay);
    assert!(receipt.contains("RECEIPT D1-000001"), "{receipt}");
    assert!(receipt.contains("PKR 1250.50"), "{receipt}");
    assert!(receipt.contains("offline: queued"), "{receipt}");
    let bytes = std::fs::read(&pdf).expect("pdf written");
    assert!(bytes.starts_with(b"%PDF"), "a PDF receipt");

    let status = agent(dir.path())
        .args(["--json", "status"])
        .output()
        .expect("status");
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert_eq!(v["pending"], 1, "{v}");
    let offline_sync = agent(dir.path()).arg("sync").output().expect("sync");
    assert_eq!(
        offline_sync.status.code(),
        Some(2),
        "{}",
        text(&offline_sync)
    );
    assert!(
        text(&offline_sync).contains("1 edit(s) stay queued"),
        "{}",
        text(&offline_sync)
    );

    server.resume();
    let sync = agent(dir.path()).arg("sync").output().expect("sync");
    assert!(sync.status.success(), "{}", text(&sync));
    let v: serde_json::Value = serde_json::from_slice(
        &agent(dir.path())
            .args(["--json", "status"])
            .output()
            .expect("status")
            .stdout,
    )
    .expect("json");
    assert_eq!(
        (v["pending"].as_i64(), v["applied"].as_i64()),
        (Some(0), Some(1)),
        "{v}"
    );
    assert_eq!(v["receipt_differences"], json!([]), "{v}");
    let fam = agent(dir.path())
        .args(["family", &family])
        .output()
        .expect("family");
    assert!(text(&fam).contains("D1-000001"), "{}", text(&fam));
}

/// Issue #17, "Devices": the admin revokes the office PC while it holds an unsent payment. Its
/// next sync is refused with the reason, `status` says the device was revoked and that the
/// unsent edit is kept, and `export-outbox` writes that edit with its op id (refusing to
/// overwrite the file afterwards).
#[test]
fn a_revoked_office_pc_says_so_and_exports_its_unsent_edits() {
    let tdb = demo();
    let mut server = TestServer::start(tdb.url());
    let dir = tempfile::tempdir().expect("tmp");
    let init = agent(dir.path())
        .args(["init", "--server", &server.url(), "--school", "demo"])
        .args(["--username", "accountant", "--device-name", "back office"])
        .env("DAFTAR_PASSWORD", PW)
        .output()
        .expect("init");
    assert!(init.status.success(), "{}", text(&init));
    let found = agent(dir.path())
        .args(["--json", "students", ""])
        .output()
        .expect("students");
    let students: serde_json::Value = serde_json::from_slice(&found.stdout).expect("json");
    let family = students[0]["family_id"]
        .as_str()
        .expect("family")
        .to_string();
    // Taken while the cable is out, so it is still queued when the device is revoked.
    server.stop();
    let pay = agent(dir.path())
        .args(["pay", "--family", &family, "--amount", "75"])
        .output()
        .expect("pay");
    assert!(pay.status.success(), "{}", text(&pay));
    server.resume();

    // The admin revokes the device through the API.
    let admin: serde_json::Value = ureq::post(&format!("{}/api/v1/auth/login", server.url()))
        .send_json(json!({"school": "demo", "username": "admin", "password": PW}))
        .expect("admin login")
        .into_json()
        .expect("json");
    let admin = admin["access_token"].as_str().expect("token").to_string();
    let devices: serde_json::Value = ureq::get(&format!("{}/api/v1/devices", server.url()))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .expect("devices")
        .into_json()
        .expect("json");
    let device = devices
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["name"] == json!("back office"))
        .expect("the back office PC is listed")["id"]
        .as_str()
        .expect("id")
        .to_string();
    ureq::post(&format!("{}/api/v1/devices/{device}/revoke", server.url()))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .expect("revoke");

    let sync = agent(dir.path()).arg("sync").output().expect("sync");
    assert!(!sync.status.success());
    assert!(text(&sync).contains("revoked"), "{}", text(&sync));
    let status = agent(dir.path())
        .args(["--json", "status"])
        .output()
        .expect("status");
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).expect("json");
    assert!(v["revoked_at"].is_string(), "{v}");
    assert_eq!(v["pending"], 1, "{v}");
    let table = agent(dir.path()).arg("status").output().expect("status");
    assert!(
        text(&table).contains("this device was revoked") && text(&table).contains("export-outbox"),
        "{}",
        text(&table)
    );

    let file = dir.path().join("unsent.json");
    let export = agent(dir.path())
        .args(["export-outbox", "--file"])
        .arg(&file)
        .output()
        .expect("export");
    assert!(export.status.success(), "{}", text(&export));
    let exported: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("file")).expect("json");
    assert_eq!(exported["format"], json!("daftar-outbox-export/1"));
    assert_eq!(exported["device_id"], json!(device));
    let ops = exported["ops"].as_array().expect("ops");
    assert_eq!(ops.len(), 1, "{exported}");
    assert_eq!(ops[0]["mutation"], json!(PAYMENT_RECORD));
    assert_eq!(ops[0]["args"]["amount"], json!(7500));
    assert!(ops[0]["op_id"]
        .as_str()
        .is_some_and(|id| id.parse::<Uuid>().is_ok()));
    let again = agent(dir.path())
        .args(["export-outbox", "--file"])
        .arg(&file)
        .output()
        .expect("export again");
    assert!(!again.status.success());
    assert!(text(&again).contains("must not exist"), "{}", text(&again));
    // The outbox is untouched by the export.
    let v: serde_json::Value = serde_json::from_slice(
        &agent(dir.path())
            .args(["--json", "status"])
            .output()
            .expect("status")
            .stdout,
    )
    .expect("json");
    assert_eq!(v["pending"], 1);

    // The admin imports the file on their own computer: the payment is applied once, with the
    // receipt number the revoked PC printed (its series, D1).
    let admin_dir = tempfile::tempdir().expect("tmp");
    let init = agent(admin_dir.path())
        .args(["init", "--server", &server.url(), "--school", "demo"])
        .args(["--username", "admin", "--device-name", "principal's office"])
        .env("DAFTAR_PASSWORD", PW)
        .output()
        .expect("init");
    assert!(init.status.success(), "{}", text(&init));
    let import = |file: &std::path::Path| {
        let out = agent(admin_dir.path())
            .args(["--json", "import-outbox", "--file"])
            .arg(file)
            .output()
            .expect("import");
        assert!(out.status.success(), "{}", text(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    let first = import(&file);
    assert_eq!(
        (&first["applied"], &first["replayed"]),
        (&json!(1), &json!(0)),
        "{first}"
    );
    assert_eq!(first["receipts"], json!(["D1-000001"]), "{first}");
    assert!(text(&pay).contains("D1-000001"), "printed: {}", text(&pay));
    let second = import(&file);
    assert_eq!(
        (&second["applied"], &second["replayed"]),
        (&json!(0), &json!(1)),
        "{second}"
    );
    let not_an_export = admin_dir.path().join("notes.json");
    std::fs::write(&not_an_export, "{\"format\": \"notes/1\"}").expect("write");
    let refused = agent(admin_dir.path())
        .args(["import-outbox", "--file"])
        .arg(&not_an_export)
        .output()
        .expect("import");
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("notes.json") && text(&refused).contains("not an outbox export"),
        "{}",
        text(&refused)
    );
}
