//! OneRoster 1.1 import on the project's own fixture
//! (`tests/fixtures/oneroster-small`): 1 school, 2 terms, 2 classes, 8 users, 7 enrollments,
//! with a misspelled manifest key, a student who teaches, and a guardian with a bad phone.

use std::path::PathBuf;

use actix_web::http::{Method, StatusCode};
use actix_web::test as actix_test;
use daftar_client_core::protocol::ImportReport;
use daftar_server::app::build_app;
use daftar_server::audit::Actor;
use daftar_server::oneroster::import::{import, ImportFailure, ImportOptions};
use daftar_server::oneroster::RosterFiles;
use daftar_server::schema::{
    class_teachers, enrollments, families, guardians, schools, student_guardians, students, users,
};
use diesel::prelude::*;

use super::*;

fn fixture() -> RosterFiles {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/oneroster-small");
    RosterFiles::from_dir(&dir).expect("fixture")
}

fn run(conn: &mut PgConnection, files: &RosterFiles) -> Result<ImportReport, ImportFailure> {
    let options = ImportOptions {
        school_id: None,
        currency: "PKR".into(),
        timezone: "Asia/Karachi".into(),
        actor: Actor::SYSTEM,
    };
    conn.transaction(|c| import(c, files, &options))
}

/// Row counts of the roster tables, to prove an import changed nothing.
fn counts(conn: &mut PgConnection) -> Vec<i64> {
    vec![
        schools::table.count().get_result(conn).expect("count"),
        students::table.count().get_result(conn).expect("count"),
        users::table.count().get_result(conn).expect("count"),
        guardians::table.count().get_result(conn).expect("count"),
        families::table.count().get_result(conn).expect("count"),
        enrollments::table.count().get_result(conn).expect("count"),
        class_teachers::table
            .count()
            .get_result(conn)
            .expect("count"),
    ]
}

#[test]
fn imports_the_fixture_then_a_second_run_changes_nothing() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let report = run(&mut conn, &fixture()).expect("import");
    assert_eq!(
        (
            report.schools,
            report.terms,
            report.classes,
            report.users,
            report.enrollments
        ),
        (1, 2, 2, 8, 7),
        "{report:#?}"
    );
    let where_: Vec<(&str, u64)> = report
        .warnings
        .iter()
        .map(|w| (w.file.as_str(), w.line))
        .collect();
    assert!(
        where_.contains(&("manifest.csv", 11)),
        "misspelled manifest key: {where_:?}"
    );
    assert!(
        where_.contains(&("enrollments.csv", 3)),
        "student enrolled as teacher: {where_:?}"
    );
    assert!(
        where_.contains(&("users.csv", 8)),
        "guardian with a bad phone: {where_:?}"
    );

    // Guardians sharing students became one family with both children.
    let malik: Vec<uuid::Uuid> = students::table
        .filter(students::family_name.eq("Malik"))
        .select(students::family_id)
        .load(&mut conn)
        .expect("load");
    assert_eq!(malik.len(), 2);
    assert_eq!(malik[0], malik[1], "siblings share a family");
    let guardian_families: Vec<uuid::Uuid> = guardians::table
        .select(guardians::family_id)
        .load(&mut conn)
        .expect("load");
    assert!(guardian_families.iter().all(|f| *f == malik[0]));
    assert_eq!(
        families::table
            .count()
            .get_result::<i64>(&mut conn)
            .expect("count"),
        4
    );
    assert_eq!(
        student_guardians::table
            .count()
            .get_result::<i64>(&mut conn)
            .expect("count"),
        3
    );
    // The student who teaches got a teacher login, assigned to the class.
    let teacher_logins: i64 = daftar_server::schema::user_roles::table
        .filter(daftar_server::schema::user_roles::role.eq("teacher"))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(teacher_logins, 2);
    assert_eq!(
        class_teachers::table
            .count()
            .get_result::<i64>(&mut conn)
            .expect("count"),
        2
    );
    // Admission numbers come from `identifier`.
    let adm: Vec<String> = students::table
        .order(students::admission_no)
        .select(students::admission_no)
        .load(&mut conn)
        .expect("load");
    assert_eq!(adm, vec!["GV-001", "GV-002", "GV-003", "GV-004", "GV-005"]);

    let before = counts(&mut conn);
    let again = run(&mut conn, &fixture()).expect("re-import");
    assert!(
        again.is_unchanged(),
        "second import must change nothing: {again:#?}"
    );
    assert_eq!(counts(&mut conn), before);
}

#[test]
fn a_malformed_file_leaves_the_database_as_it_was() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let mut files = fixture();
    files.insert(
        "enrollments.csv",
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role\n\
         e1,,,cl-3a,org-green,u-t1,teacher\n\
         e3,,,cl-3a,org-green,u-s1\n",
    );
    let err = run(&mut conn, &files).expect_err("ragged row");
    let msg = err.to_string();
    assert!(msg.starts_with("enrollments.csv line 3"), "{msg}");
    assert_eq!(
        counts(&mut conn),
        vec![0, 0, 0, 0, 0, 0, 0],
        "nothing written"
    );

    // After a good import, a bad one with changes in earlier files rolls all of them back.
    run(&mut conn, &fixture()).expect("good import");
    let before = counts(&mut conn);
    let mut files = fixture();
    let users = String::from_utf8(
        std::fs::read(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/oneroster-small/users.csv"),
        )
        .expect("read"),
    )
    .expect("utf8")
    .replace("\"Hira\"", "\"Hira Renamed\"");
    files.insert("users.csv", users);
    files.insert("classes.csv", "sourcedId,title,courseSourcedId,schoolSourcedId,termSourcedIds\ncl-3a,Maths,co-math,org-green,no-such-term\n");
    let err = run(&mut conn, &files).expect_err("unknown term");
    assert!(
        err.to_string()
            .contains("classes.csv line 2 column `termSourcedIds`"),
        "{err}"
    );
    assert_eq!(counts(&mut conn), before);
    let hira: i64 = students::table
        .filter(students::given_name.eq("Hira"))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(hira, 1, "the rename in users.csv was rolled back");
}

#[test]
fn a_missing_manifest_or_column_is_named() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let err = run(&mut conn, &RosterFiles::default()).expect_err("empty");
    assert!(err.to_string().starts_with("manifest.csv"), "{err}");
    let mut files = fixture();
    files.insert(
        "users.csv",
        "sourcedId,role,username,givenName\nu1,student,x,X\n",
    );
    let err = run(&mut conn, &files).expect_err("no familyName column");
    assert_eq!(
        err.to_string(),
        "users.csv line 1 column `familyName`: required column is missing from the header"
    );
    let mut files = fixture();
    files.insert(
        "users.csv",
        "sourcedId,role,username,givenName,familyName\nu1,wizard,x,X,Y\n",
    );
    let err = run(&mut conn, &files).expect_err("unknown role");
    assert!(
        err.to_string()
            .starts_with("users.csv line 2 column `role`: `wizard`"),
        "{err}"
    );
}

#[test]
fn tobedeleted_in_a_delta_deactivates() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    run(&mut conn, &fixture()).expect("import");
    let mut delta = RosterFiles::default();
    delta.insert("manifest.csv", "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\nfile.users,delta\nfile.enrollments,delta\n");
    delta.insert(
        "orgs.csv",
        "sourcedId,status,name,type\norg-green,,Green Valley School,school\n",
    );
    delta.insert("users.csv", "sourcedId,status,role,username,givenName,familyName\nu-s4,tobedeleted,student,ibutt,Ibrahim,Butt\n");
    delta.insert(
        "enrollments.csv",
        "sourcedId,status,classSourcedId,userSourcedId,role\ne6,tobedeleted,cl-3b,u-s4,student\n",
    );
    let report = run(&mut conn, &delta).expect("delta");
    assert_eq!(report.deactivated, 2, "{report:#?}");
    let active: bool = students::table
        .filter(students::sourced_id.eq("u-s4"))
        .select(students::active)
        .first(&mut conn)
        .expect("student");
    assert!(!active);
    let again = run(&mut conn, &delta).expect("delta again");
    assert!(again.is_unchanged(), "{again:#?}");
}

/// A family whose student–guardian links need more bind parameters than one PostgreSQL
/// statement takes (65,535; 3 per link): 150 siblings who each name the same 150 guardians,
/// 22,500 links. Found by `daftar-import-bench` at 32,000 students.
#[test]
fn a_family_with_more_links_than_one_statement_can_bind_imports() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    const SIBLINGS: usize = 150;
    let guardians: Vec<String> = (0..SIBLINGS).map(|g| format!("g{g}")).collect();
    let mut users = String::from(
        "sourcedId,role,username,givenName,familyName,agentSourcedIds
",
    );
    for g in &guardians {
        users.push_str(&format!("{g},guardian,{g},Guardian,Khan,\n"));
    }
    for s in 0..SIBLINGS {
        users.push_str(&format!(
            "s{s},student,s{s},Pupil,Khan,\"{}\"\n",
            guardians.join(",")
        ));
    }
    let mut files = RosterFiles::default();
    files.insert(
        "manifest.csv",
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\nfile.users,bulk\n",
    );
    files.insert(
        "orgs.csv",
        "sourcedId,name,type\norg-big,Big Family School,school\n",
    );
    files.insert("users.csv", users);
    let report = run(&mut conn, &files).expect("import");
    assert_eq!(report.users, (2 * SIBLINGS) as u64, "{report:#?}");
    let links: i64 = student_guardians::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(links, (SIBLINGS * SIBLINGS) as i64);
    let family_count: i64 = families::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(family_count, 1);
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        for (name, data) in files {
            z.start_file(
                format!("export/{name}"),
                zip::write::SimpleFileOptions::default(),
            )
            .expect("zip entry");
            z.write_all(data).expect("zip write");
        }
        z.finish().expect("zip finish");
    }
    buf.into_inner()
}

#[actix_web::test]
async fn the_http_endpoint_imports_a_zip_for_admins_only() {
    let t = TestApp::new();
    t.school("green");
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let admin = login(&app, "green", "admin").await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/oneroster-small");
    let names = [
        "manifest.csv",
        "orgs.csv",
        "academicSessions.csv",
        "courses.csv",
        "classes.csv",
        "users.csv",
        "enrollments.csv",
    ];
    let contents: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(dir.join(n)).expect("read"))
        .collect();
    let entries: Vec<(&str, &[u8])> = names
        .iter()
        .copied()
        .zip(contents.iter().map(Vec::as_slice))
        .collect();
    let body = zip_of(&entries);
    // The office set up the export's school year by hand first (same name, no sourcedId): the
    // import adopts it instead of failing on the unique name.
    create(
        &app,
        &admin,
        "/api/v1/academic-years",
        serde_json::json!({"name": "2026-27", "starts_on": "2026-04-01", "ends_on": "2027-03-31",
        "terms": [{"name": "Whole year", "starts_on": "2026-04-01", "ends_on": "2027-03-31"}]}),
    )
    .await;

    let post = |token: String, body: Vec<u8>| {
        let req = actix_test::TestRequest::post()
            .uri("/api/v1/imports/oneroster")
            .insert_header(("authorization", format!("Bearer {token}")))
            .insert_header(("content-type", "application/zip"))
            .set_payload(body)
            .to_request();
        actix_test::call_service(&app, req)
    };
    // A dry run (the console's preview) reports the same and keeps nothing.
    let req = actix_test::TestRequest::post()
        .uri("/api/v1/imports/oneroster?dry_run=true")
        .insert_header(("authorization", format!("Bearer {admin}")))
        .insert_header(("content-type", "application/zip"))
        .set_payload(body.clone())
        .to_request();
    let resp = actix_test::call_service(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let dry: ImportReport = actix_test::read_body_json(resp).await;
    assert_eq!((dry.users, dry.enrollments), (8, 7));
    let r = send(&app, Method::GET, "/api/v1/students", Some(&admin), None).await;
    assert_eq!(r.json["total"], 0, "a dry run writes nothing");

    let resp = post(admin.clone(), body.clone()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let report: ImportReport = actix_test::read_body_json(resp).await;
    assert_eq!(
        (report.users, report.enrollments, report.schools),
        (8, 7, 1)
    );
    let r = send(&app, Method::GET, "/api/v1/students", Some(&admin), None).await;
    assert_eq!(r.json["total"], 5);
    let r = send(
        &app,
        Method::GET,
        "/api/v1/academic-years",
        Some(&admin),
        None,
    )
    .await;
    let years = r.json.as_array().expect("years");
    assert_eq!(years.len(), 1, "the hand-made year was adopted: {years:?}");

    let resp = post(admin.clone(), body.clone()).await;
    let report: ImportReport = actix_test::read_body_json(resp).await;
    assert!(report.is_unchanged());

    let resp = post(admin.clone(), b"not a zip".to_vec()).await;
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // The imported teacher has no password yet, so log in another way: make one.
    let teacher = create(&app, &admin, "/api/v1/users", serde_json::json!({"username": "tx", "display_name": "T", "role": "teacher", "password": PW})).await;
    assert!(!teacher.is_nil());
    let tx = login(&app, "green", "tx").await;
    let resp = post(tx, body).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

// ----- real district exports (ARCHITECTURE.md §11), on fixtures written here -------------------

/// The fixture with `name` replaced by `contents`.
fn fixture_with(changes: &[(&str, &str)]) -> RosterFiles {
    let mut files = fixture();
    for (name, contents) in changes {
        files.insert(name, contents.to_string());
    }
    files
}

#[test]
fn classes_and_users_of_a_department_roll_up_to_its_school() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let orgs = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n\
                org-green,,,Green Valley School,school,GVS,\n\
                dep-math,,,Mathematics Department,department,,org-green\n\
                dep-algebra,,,Algebra Unit,department,,dep-math\n";
    let classes = "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n\
                   cl-3a,,,Mathematics 3A,,co-math,M3A,scheduled,,dep-math,t1,,,1\n\
                   cl-3b,,,Mathematics 3B,03,co-math,M3B,scheduled,,dep-algebra,\"t1,t2\",,,2\n";
    let report = run(
        &mut conn,
        &fixture_with(&[("orgs.csv", orgs), ("classes.csv", classes)]),
    )
    .expect("a department's classes are the school's (refused before: not in classes.csv)");
    assert_eq!((report.classes, report.enrollments), (2, 7), "{report:#?}");
}

#[test]
fn a_department_whose_school_is_missing_is_named_with_its_line() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let orgs = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n\
                org-green,,,Green Valley School,school,GVS,\n\
                dep-art,,,Art Department,department,,org-elsewhere\n";
    let err = run(&mut conn, &fixture_with(&[("orgs.csv", orgs)])).expect_err("orphan department");
    assert_eq!(
        err.to_string(),
        "orgs.csv line 3 column `parentSourcedId`: department `dep-art` has parent \
         `org-elsewhere`, which is not in orgs.csv"
    );
}

#[test]
fn line_numbers_in_a_crlf_export_are_the_editors() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let sessions = "sourcedId,title,type,startDate,endDate,schoolYear\r\n\
                    t1,Spring,term,2026-04-01,2026-07-31,2027\r\n\
                    t2,Autumn,term,2026-08-01,2026-02-30,2027\r\n";
    let err = run(
        &mut conn,
        &fixture_with(&[("academicSessions.csv", sessions)]),
    )
    .expect_err("bad date");
    assert!(
        err.to_string()
            .starts_with("academicSessions.csv line 3 column `endDate`"),
        "the header is line 1 in the user's editor: {err}"
    );
}

#[test]
fn an_active_enrollment_into_a_class_to_be_deleted_is_a_warning_naming_both_lines() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let classes = "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n\
                   cl-3a,,,Mathematics 3A,,co-math,M3A,scheduled,,org-green,t1,,,1\n\
                   cl-3b,tobedeleted,,Mathematics 3B,03,co-math,M3B,scheduled,,org-green,\"t1,t2\",,,2\n";
    let report = run(&mut conn, &fixture_with(&[("classes.csv", classes)]))
        .expect("refused before: class is not in classes.csv");
    let warning = report
        .warnings
        .iter()
        .find(|w| w.file == "enrollments.csv" && w.message.contains("cl-3b"))
        .unwrap_or_else(|| panic!("a warning about cl-3b: {:#?}", report.warnings));
    assert!(
        warning.message.contains("tobedeleted (classes.csv line 3)"),
        "names the class's line too: {}",
        warning.message
    );
    assert_eq!(report.classes, 1);
}

#[test]
fn a_oneroster_1_2_manifest_is_refused_before_anything_else() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    // A 1.2 export: its own version, and files this importer would trip over first.
    let manifest = "propertyName,value\nmanifest.version,1.0\nfile.academicSessions,maybe\noneroster.version,1.2\n";
    let err = run(&mut conn, &fixture_with(&[("manifest.csv", manifest)])).expect_err("1.2");
    assert_eq!(
        err.to_string(),
        "manifest.csv line 4 column `value`: OneRoster version 1.2 is not supported: this \
         importer reads OneRoster 1.1 CSV exports (export as 1.1, or convert the files)"
    );
}
