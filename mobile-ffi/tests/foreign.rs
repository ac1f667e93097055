//! The mobile library end to end: through its Rust API, and through the generated
//! bindings from Python and from Kotlin on the JVM, against a real Daftar server on a real
//! PostgreSQL (the `daftar-tests` harness). Swift cannot be compiled here; its bindings are
//! generated and checked.
//!
//! The foreign programs drive the scenario themselves and ask this harness to pull the cable:
//! they print `@harness stop` / `@harness start` and wait for `ok` on stdin while the server is
//! stopped or restarted on the same port.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{NaiveDate, Utc};
use daftar_mobile_ffi::{DaftarClient, DaftarError, Mark};
use daftar_tests::server::TestServer;
use daftar_tests::{seed_demo, TestDb};
use diesel::prelude::*;

const PASSWORD: &str = "mobile-test-password";

fn demo() -> (TestDb, TestServer) {
    let tdb = TestDb::new();
    seed_demo(&mut tdb.conn(), PASSWORD);
    let server = TestServer::start(tdb.url());
    (tdb, server)
}

/// Logs `client` in as the demo's first teacher.
fn login_teacher(client: &DaftarClient) -> daftar_mobile_ffi::User {
    client
        .login(
            "demo".into(),
            "teacher1".into(),
            PASSWORD.into(),
            "phone".into(),
        )
        .expect("login")
}

/// Today in the demo school's time zone (where the edit window is judged).
fn school_today() -> NaiveDate {
    let tz: chrono_tz::Tz = "Asia/Karachi".parse().expect("tz");
    Utc::now().with_timezone(&tz).date_naive()
}

/// `target/<profile>/`, where cargo put `uniffi-bindgen` and the library.
fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
        .parent()
        .expect("target dir")
        .to_path_buf()
}

fn cdylib() -> PathBuf {
    let name = format!(
        "{}daftar_mobile_ffi{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    // `cargo test` refreshes the library in `deps/`; the copy beside it is only updated by
    // `cargo build`, so take whichever is newer.
    let dir = artifacts();
    [dir.join("deps").join(&name), dir.join(&name)]
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
        .unwrap_or_else(|| panic!("{name} was not built in {}", dir.display()))
}

/// Runs the in-repo `uniffi-bindgen` in library mode (the README's command) for `language`.
fn generate(language: &str, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
        .args(["generate", "--library"])
        .arg(cdylib())
        .args(["--language", language, "--no-format", "--out-dir"])
        .arg(out)
        .status()
        .expect("run uniffi-bindgen");
    assert!(status.success(), "uniffi-bindgen for {language}: {status}");
}

#[derive(QueryableByName)]
struct MarkRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    student_id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    code: String,
}

/// The marks of `class_id`'s whole-day register on `on` as the server's database holds them.
fn server_marks(tdb: &TestDb, class_id: &str, on: NaiveDate) -> Vec<(String, String)> {
    let mut marks: Vec<MarkRow> = diesel::sql_query(
        "SELECT m.student_id::text AS student_id, c.code
           FROM attendance_marks m
           JOIN registers r ON r.school_id = m.school_id AND r.id = m.register_id
           JOIN attendance_codes c ON c.school_id = m.school_id AND c.id = m.code_id
          WHERE r.class_id = $1::uuid AND r.on_date = $2 AND r.period = 0",
    )
    .bind::<diesel::sql_types::Text, _>(class_id)
    .bind::<diesel::sql_types::Date, _>(on)
    .load(&mut tdb.conn())
    .expect("marks");
    marks.sort_by(|a, b| a.student_id.cmp(&b.student_id));
    marks.into_iter().map(|m| (m.student_id, m.code)).collect()
}

/// Runs a foreign test program, serving its `@harness stop|start` requests; panics with its
/// transcript when it fails.
fn drive(mut cmd: Command, server: &mut TestServer) -> Vec<String> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let mut stdin = child.stdin.take().expect("stdin");
    let stderr = child.stderr.take().expect("stderr");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
        s
    });
    let mut transcript = Vec::new();
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("read program output");
        match line.trim() {
            "@harness stop" => server.stop(),
            "@harness start" => server.resume(),
            _ => {
                println!("  | {line}");
                transcript.push(line);
                continue;
            }
        }
        writeln!(stdin, "ok").expect("answer the program");
        stdin.flush().expect("flush");
    }
    let status = child.wait().expect("wait");
    let err = err_reader.join().unwrap_or_default();
    assert!(
        status.success(),
        "{cmd:?} failed ({status})\n--- stdout\n{}\n--- stderr\n{err}",
        transcript.join("\n")
    );
    transcript
}

#[test]
fn offline_marks_queue_in_the_outbox_and_reach_the_server_once() {
    let (tdb, mut server) = demo();
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().to_string_lossy().to_string();
    let client = DaftarClient::new(server.url(), data.clone()).expect("open");
    assert_eq!(client.current_user().expect("user"), None);
    assert!(matches!(client.sync_now(), Err(DaftarError::Auth { .. })));
    assert!(matches!(
        client.login("demo".into(), "teacher1".into(), "wrong".into(), "t".into()),
        Err(DaftarError::Auth { .. })
    ));
    let user = login_teacher(&client);
    assert_eq!(user.role, "teacher");
    assert!(matches!(
        client.login(
            "demo".into(),
            "teacher1".into(),
            PASSWORD.into(),
            "t".into()
        ),
        Err(DaftarError::Conflict { .. })
    ));
    let classes = client.my_classes().expect("classes");
    assert_eq!(classes.len(), 1, "teacher1 teaches one class: {classes:?}");
    let class_id = classes[0].class_id.clone();
    let roster = client.roster(class_id.clone()).expect("roster");
    assert!(roster.len() >= 2, "{roster:?}");
    let today = school_today();
    let date = today.to_string();

    // The cable is out.
    server.stop();
    assert!(matches!(
        client.sync_now(),
        Err(DaftarError::Network { .. })
    ));
    let marks: Vec<Mark> = roster
        .iter()
        .enumerate()
        .map(|(i, s)| Mark {
            student_id: s.student_id.clone(),
            code: if i == 0 { "A" } else { "P" }.into(),
        })
        .collect();
    // Refusals name what was wrong and save nothing.
    let e = client
        .mark_register(class_id.clone(), date.clone(), marks[1..].to_vec())
        .expect_err("a student left out");
    assert!(
        matches!(&e, DaftarError::Validation { message } if message.starts_with("marks:")),
        "{e:?}"
    );
    let mut bad = marks.clone();
    bad[1].code = "ZZ".into();
    let e = client
        .mark_register(class_id.clone(), date.clone(), bad)
        .expect_err("unknown code");
    assert!(
        matches!(&e, DaftarError::Validation { message } if message.starts_with("marks[1].code")),
        "{e:?}"
    );
    let e = client
        .mark_register(class_id.clone(), "21/11/2026".into(), marks.clone())
        .expect_err("bad date");
    assert!(
        matches!(&e, DaftarError::Validation { message } if message.starts_with("date:")),
        "{e:?}"
    );
    assert_eq!(client.pending_op_count().expect("count"), 0);

    client
        .mark_register(class_id.clone(), date.clone(), marks.clone())
        .expect("mark offline");
    assert_eq!(client.pending_op_count().expect("count"), 1);
    let local = client
        .register(class_id.clone(), date.clone())
        .expect("reg");
    assert_eq!(local[0].code.as_deref().map(|_| ()), Some(()));
    for m in &marks {
        let line = local
            .iter()
            .find(|l| l.student_id == m.student_id)
            .expect("on register");
        assert_eq!(line.code.as_deref(), Some(m.code.as_str()));
    }
    // Still offline: the edit survives a failed sync and a reopened client.
    assert!(matches!(
        client.sync_now(),
        Err(DaftarError::Network { .. })
    ));
    assert!(client.sync_status().expect("status").last_error.is_some());
    drop(client);
    let client = DaftarClient::new(server.url(), data).expect("reopen");
    assert_eq!(client.pending_op_count().expect("count"), 1);
    assert!(matches!(client.logout(), Err(DaftarError::Conflict { .. })));
    assert_eq!(server_marks(&tdb, &class_id, today), vec![]);

    // Back online: exactly once.
    server.resume();
    let rep = client.sync_now().expect("sync");
    assert_eq!((rep.pushed, rep.applied, rep.rejected), (1, 1, 0));
    assert_eq!(client.pending_op_count().expect("count"), 0);
    let again = client.sync_now().expect("sync again");
    assert_eq!(again.pushed, 0);
    let mut expected: Vec<(String, String)> = marks
        .iter()
        .map(|m| (m.student_id.clone(), m.code.clone()))
        .collect();
    expected.sort();
    assert_eq!(server_marks(&tdb, &class_id, today), expected);
    let status = client.sync_status().expect("status");
    assert_eq!(status.pending_ops, 0);
    assert!(status.last_error.is_none() && status.last_pull_at.is_some());

    // Logging out forgets this user's data on the phone.
    client.logout().expect("logout");
    assert_eq!(client.current_user().expect("user"), None);
    assert!(client.my_classes().expect("classes").is_empty());
}

#[test]
fn a_rejected_offline_mark_stays_listed_with_the_servers_reason() {
    let (tdb, mut server) = demo();
    let dir = tempfile::tempdir().expect("tmp");
    let client =
        DaftarClient::new(server.url(), dir.path().to_string_lossy().to_string()).expect("open");
    login_teacher(&client);
    let class_id = client.my_classes().expect("classes")[0].class_id.clone();
    let roster = client.roster(class_id.clone()).expect("roster");
    // While the phone is offline the office takes the teacher off the class.
    server.stop();
    let marks: Vec<Mark> = roster
        .iter()
        .map(|s| Mark {
            student_id: s.student_id.clone(),
            code: "P".into(),
        })
        .collect();
    client
        .mark_register(class_id.clone(), school_today().to_string(), marks)
        .expect("mark offline");
    diesel::sql_query("DELETE FROM class_teachers WHERE class_id = $1::uuid")
        .bind::<diesel::sql_types::Text, _>(&class_id)
        .execute(&mut tdb.conn())
        .expect("unassign");
    server.resume();
    let rep = client.sync_now().expect("sync");
    assert_eq!((rep.applied, rep.rejected), (0, 1));
    let status = client.sync_status().expect("status");
    assert_eq!(status.pending_ops, 0);
    let [rejected] = status.rejected_ops.as_slice() else {
        panic!("{status:?}");
    };
    assert_eq!(rejected.status, "rejected");
    assert!(!rejected.code.is_empty() && !rejected.message.is_empty());
    assert!(client
        .dismiss_rejected_op(rejected.op_id.clone())
        .expect("dismiss"));
    assert!(client
        .sync_status()
        .expect("status")
        .rejected_ops
        .is_empty());
}

#[test]
fn python_drives_the_generated_bindings_end_to_end() {
    let (_tdb, mut server) = demo();
    let out = tempfile::tempdir().expect("tmp");
    generate("python", out.path());
    // The Python module loads the library from its own directory.
    let lib = cdylib();
    std::fs::copy(&lib, out.path().join(lib.file_name().expect("name"))).expect("copy lib");
    let data = tempfile::tempdir().expect("tmp");
    let mut cmd = Command::new("python3");
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/test_mobile.py"))
        .env("DAFTAR_BINDINGS", out.path())
        .env("DAFTAR_SERVER_URL", server.url())
        .env("DAFTAR_DATA_DIR", data.path())
        .env("DAFTAR_PASSWORD", PASSWORD)
        .env("DAFTAR_TODAY", school_today().to_string())
        .env("PYTHONUNBUFFERED", "1");
    let transcript = drive(cmd, &mut server);
    assert_eq!(
        transcript.last().map(String::as_str),
        Some("python: all checks passed")
    );
}

#[test]
fn kotlin_on_the_jvm_marks_offline_and_reads_it_back() {
    let (tdb, mut server) = demo();
    let out = tempfile::tempdir().expect("tmp");
    generate("kotlin", out.path());
    let jna = ["/usr/share/java/jna.jar"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("JNA is missing: apt-get install libjna-java (.ci/run installs it)");
    let jar = out.path().join("smoke.jar");
    let bindings = out.path().join("org/daftar/mobile/daftar_mobile_ffi.kt");
    let smoke = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kotlin/Smoke.kt");
    let compiled = Command::new("kotlinc")
        .arg(&bindings)
        .arg(&smoke)
        .arg("-cp")
        .arg(&jna)
        .args(["-include-runtime", "-nowarn", "-d"])
        .arg(&jar)
        .status()
        .expect(
            "kotlinc is missing: npm install -g kotlin-compiler@2.2.21 and put its bin/kotlinc \
             on PATH (.ci/run does)",
        );
    assert!(compiled.success(), "kotlinc: {compiled}");
    let lib_dir = cdylib().parent().expect("dir").to_path_buf();
    let data = tempfile::tempdir().expect("tmp");
    let mut cmd = Command::new("java");
    cmd.arg(format!("-Djna.library.path={}", lib_dir.display()))
        .arg("-cp")
        .arg(format!("{}:{}", jar.display(), jna.display()))
        .arg("SmokeKt")
        .env("DAFTAR_SERVER_URL", server.url())
        .env("DAFTAR_DATA_DIR", data.path())
        .env("DAFTAR_PASSWORD", PASSWORD)
        .env("DAFTAR_TODAY", school_today().to_string());
    let transcript = drive(cmd, &mut server);
    let done = transcript
        .iter()
        .find_map(|l| l.strip_prefix("kotlin: marked "))
        .expect("the smoke test says what it marked");
    // `<class id> <date> <n> students`: the server holds exactly that register.
    let parts: Vec<&str> = done.split_whitespace().collect();
    let marks = server_marks(&tdb, parts[0], parts[1].parse().expect("date"));
    assert_eq!(marks.len().to_string(), parts[2], "{marks:?}");
}

#[test]
fn swift_bindings_generate_from_the_built_library() {
    let out = tempfile::tempdir().expect("tmp");
    generate("swift", out.path());
    let swift = std::fs::read_to_string(out.path().join("DaftarMobile.swift")).expect("swift");
    for api in [
        "open class DaftarClient",
        "func markRegister(",
        "func familyDues(",
        "public protocol SyncListener",
        "enum DaftarError: Swift.Error",
    ] {
        assert!(swift.contains(api), "DaftarMobile.swift lacks `{api}`");
    }
    let header = std::fs::read_to_string(out.path().join("DaftarMobileFFI.h")).expect("header");
    assert!(header.contains("uniffi_daftar_mobile_ffi_fn_constructor_daftarclient_new"));
    assert!(out.path().join("DaftarMobileFFI.modulemap").exists());
}
