//! Spreadsheet admissions (issue #17, item 2) through `POST /api/v1/imports/admissions`, on
//! spreadsheets the tests write themselves (`daftar_tests::spreadsheets`).

use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::test as actix_test;
use chrono::NaiveDate;
use daftar_client_core::protocol::{AdmissionOutcome, AdmissionsPreview, FamilyGrouping};
use daftar_server::app::build_app;
use daftar_tests::spreadsheets::{ods, t, xlsx, FixtureCell, TEMPLATE_HEADERS};
use serde_json::json;

use super::*;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

async fn post_sheet<S, B>(app: &S, token: &str, query: &str, media: &str, body: Vec<u8>) -> Resp
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let req = actix_test::TestRequest::post()
        .uri(&format!("/api/v1/imports/admissions?{query}"))
        .insert_header(("authorization", format!("Bearer {token}")))
        .insert_header(("content-type", media))
        .set_payload(body)
        .to_request();
    let resp = actix_test::call_service(app, req).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = actix_test::read_body(resp).await;
    Resp {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn preview(r: &Resp) -> AdmissionsPreview {
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    serde_json::from_value(r.json.clone()).expect("preview")
}

fn date(y: i32, m: u32, d: u32) -> FixtureCell {
    FixtureCell::Date(NaiveDate::from_ymd_opt(y, m, d).expect("date"))
}

/// A row in the template's columns; `None` cells are empty.
fn row(cells: [Option<FixtureCell>; 13]) -> Vec<FixtureCell> {
    cells
        .into_iter()
        .map(|c| c.unwrap_or(FixtureCell::Empty))
        .collect()
}

async fn total_students<S, B>(app: &S, token: &str) -> i64
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let r = send(
        app,
        Method::GET,
        "/api/v1/students?limit=1",
        Some(token),
        None,
    )
    .await;
    r.json["total"].as_i64().expect("total")
}

#[actix_web::test]
async fn a_sheet_is_previewed_then_imported_once_with_siblings_grouped() {
    let t_app = TestApp::new();
    let app = actix_test::init_service(build_app(t_app.state.clone())).await;
    let sc = scenario(&t_app, &app, "adm").await;
    let admin = sc.admin.clone();
    let s = |v: &str| Some(t(v));
    let rows = vec![
        // Two siblings by family key, one guardian, a date cell and an Excel serial.
        row([
            s("1001"),
            s("Amna"),
            s("Khan"),
            Some(date(2015, 3, 4)),
            s("F"),
            None,
            s("Grade 3-A"),
            s("K1"),
            s("Farah"),
            s("Khan"),
            s("mother"),
            s("+92 333 1112223"),
            None,
        ]),
        row([
            Some(FixtureCell::Number(1002.0)),
            s("Bilal"),
            s("Khan"),
            Some(FixtureCell::Number(42005.0)),
            s("M"),
            None,
            s("grade 4-a"),
            s("K1"),
            s("Farah"),
            s("Khan"),
            s("mother"),
            s("+923331112223"),
            None,
        ]),
        // The phone of the Malik family's guardian: a younger sibling joins that family.
        row([
            s("1003"),
            s("Omar"),
            s("Malik"),
            s("04/03/2019"),
            None,
            s("1"),
            None,
            None,
            s("Imran"),
            s("Malik"),
            s("father"),
            s("+923001234567"),
            None,
        ]),
        // Two siblings by shared phone only.
        row([
            s("1004"),
            s("Dua"),
            s("Raza"),
            s("2016-07-01"),
            None,
            s("2"),
            None,
            None,
            s("Nadia"),
            s("Raza"),
            None,
            s("03211234567"),
            None,
        ]),
        row([
            s("1005"),
            s("Ehsan"),
            s("Raza"),
            None,
            None,
            s("2"),
            None,
            None,
            s("Nadia"),
            s("Raza"),
            None,
            s("0321-1234567"),
            None,
        ]),
        // An existing student: same name, a new date of birth.
        row([
            s("A-1"),
            s("Ali"),
            s("Malik"),
            Some(date(2016, 1, 2)),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ]),
        // An existing student the row does not change.
        row([
            s("A-3"),
            s("Hira"),
            s("Shah"),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ]),
    ];
    let file = xlsx("Students", &TEMPLATE_HEADERS, &rows, &[]);

    let p = preview(&post_sheet(&app, &admin, "file_name=students.xlsx", XLSX, file.clone()).await);
    assert!(!p.committed);
    assert_eq!(
        (
            p.counts.new,
            p.counts.updated,
            p.counts.unchanged,
            p.counts.error
        ),
        (5, 1, 1, 0),
        "{:#?}",
        p.rows
    );
    assert_eq!((p.counts.new_families, p.counts.new_guardians), (2, 2));
    let outcome = |no: &str| {
        p.rows
            .iter()
            .find(|r| r.admission_no == no)
            .unwrap_or_else(|| panic!("row {no}"))
    };
    assert_eq!(outcome("A-1").outcome, AdmissionOutcome::Updated);
    assert_eq!(outcome("A-1").changes, ["date_of_birth"]);
    assert_eq!(outcome("A-3").outcome, AdmissionOutcome::Unchanged);
    assert_eq!(
        outcome("1002").row,
        3,
        "rows are numbered as the sheet shows them"
    );
    let group = |no: &str| {
        p.families
            .iter()
            .find(|g| g.admission_nos.iter().any(|a| a == no))
            .unwrap_or_else(|| panic!("group of {no}: {:#?}", p.families))
    };
    assert_eq!(group("1001").grouped_by, FamilyGrouping::FamilyKey);
    assert_eq!(group("1001").admission_nos, ["1001", "1002"]);
    assert_eq!(group("1004").grouped_by, FamilyGrouping::GuardianPhone);
    assert_eq!(group("1004").admission_nos, ["1004", "1005"]);
    assert_eq!(
        group("1003").family_id,
        Some(sc.f1),
        "joins the Malik family"
    );
    assert_eq!(group("1003").family_name, "Malik family");
    assert_eq!(
        total_students(&app, &admin).await,
        3,
        "a preview writes nothing"
    );

    let done = preview(
        &post_sheet(
            &app,
            &admin,
            "file_name=students.xlsx&commit=true",
            XLSX,
            file.clone(),
        )
        .await,
    );
    assert!(done.committed);
    assert_eq!(done.counts, p.counts);
    assert_eq!(total_students(&app, &admin).await, 8);

    let find = |no: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let r = send(
                app,
                Method::GET,
                &format!("/api/v1/students?q={no}"),
                Some(&admin),
                None,
            )
            .await;
            r.json["items"]
                .as_array()
                .expect("items")
                .iter()
                .find(|s| s["admission_no"] == no)
                .cloned()
                .unwrap_or_else(|| panic!("student {no}: {}", r.json))
        }
    };
    let amna = find("1001").await;
    let bilal = find("1002").await;
    assert_eq!(amna["family_id"], bilal["family_id"]);
    assert_eq!(amna["date_of_birth"], "2015-03-04");
    assert_eq!(bilal["date_of_birth"], "2015-01-01", "Excel serial 42005");
    assert_eq!(amna["grade"], "3", "grade taken from the class");
    assert_eq!(find("1003").await["family_id"], json!(sc.f1));
    assert_eq!(
        find("1003").await["date_of_birth"],
        "2019-03-04",
        "day first"
    );
    assert_eq!(
        find("1004").await["family_id"],
        find("1005").await["family_id"]
    );
    assert_eq!(find("A-1").await["date_of_birth"], "2016-01-02");

    let fam = amna["family_id"].as_str().expect("family");
    let g = send(
        &app,
        Method::GET,
        &format!("/api/v1/guardians?family_id={fam}"),
        Some(&admin),
        None,
    )
    .await;
    let guardians = g.json["items"].as_array().expect("items");
    assert_eq!(
        guardians.len(),
        1,
        "one guardian for both siblings: {}",
        g.json
    );
    assert_eq!(guardians[0]["given_name"], "Farah");
    let e = send(
        &app,
        Method::GET,
        &format!("/api/v1/enrollments?class_id={}", sc.c1),
        Some(&admin),
        None,
    )
    .await;
    assert!(
        e.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|x| x["student_id"] == amna["id"]),
        "enrolled in Grade 3-A: {}",
        e.json
    );

    // Idempotent by admission number: the same file again changes nothing.
    let again = preview(
        &post_sheet(
            &app,
            &admin,
            "file_name=students.xlsx&commit=true",
            XLSX,
            file,
        )
        .await,
    );
    assert_eq!(
        (
            again.counts.new,
            again.counts.updated,
            again.counts.unchanged,
            again.counts.new_guardians
        ),
        (0, 0, 7, 0),
        "{:#?}",
        again.rows
    );
    assert_eq!(total_students(&app, &admin).await, 8);

    let log = send(
        &app,
        Method::GET,
        "/api/v1/audit-log?entity=school",
        Some(&admin),
        None,
    )
    .await;
    let imports = log.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == "admissions_import")
        .count();
    assert_eq!(imports, 2, "{}", log.json);
}

#[actix_web::test]
async fn bad_rows_name_sheet_row_and_column_and_a_commit_of_them_writes_nothing() {
    let t_app = TestApp::new();
    let app = actix_test::init_service(build_app(t_app.state.clone())).await;
    let sc = scenario(&t_app, &app, "bad").await;
    let admin = sc.admin.clone();
    let s = |v: &str| Some(t(v));
    let mut rows = vec![
        row([
            s("2001"),
            Some(FixtureCell::Number(42.0)),
            s("Khan"),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ]),
        row([
            s("2002"),
            s("Sara"),
            Some(FixtureCell::Bool(true)),
            s("31/02/2015"),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ]),
        row([
            s("2003"),
            s("Tariq"),
            s("Ali"),
            s("03/25/2015"),
            None,
            None,
            s("Grade 9-Z"),
            None,
            None,
            None,
            None,
            s("call me"),
            None,
        ]),
        row([
            s("2004"),
            s("Usman"),
            s("Ali"),
            None,
            None,
            None,
            None,
            s("K9"),
            s("Asma"),
            None,
            None,
            None,
            None,
        ]),
        row([
            s("2005"),
            s("Vania"),
            s("Ali"),
            None,
            None,
            None,
            None,
            None,
            s("Asma"),
            None,
            None,
            None,
            None,
        ]),
        row([
            s("2006"),
            s("Wajid"),
            s("Ali"),
            Some(date(2099, 1, 1)),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ]),
        row([
            s("2001"),
            s("Yusuf"),
            s("Khan"),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ]),
        row([
            None,
            s("Zoya"),
            s("Khan"),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ]),
    ];
    // H5:H6 merged: the family key K9 is read on both rows (siblings).
    let merges = [(4u32, 7u16, 5u32, 7u16)];
    let file = xlsx("Intake", &TEMPLATE_HEADERS, &rows, &merges);
    let p = preview(&post_sheet(&app, &admin, "", XLSX, file.clone()).await);
    let errors: Vec<(u32, String, String)> = p
        .rows
        .iter()
        .flat_map(|r| r.errors.iter())
        .map(|e| (e.row, e.column.clone(), e.message.clone()))
        .collect();
    let has = |row: u32, col: &str, text: &str| {
        assert!(
            errors
                .iter()
                .any(|(r, c, m)| *r == row && c == col && m.contains(text)),
            "row {row} column {col} ~ {text:?}: {errors:#?}"
        )
    };
    has(2, "B", "must be text, but the cell holds the number 42");
    has(3, "C", "must be text, but the cell holds TRUE");
    has(3, "D", "not a date of the calendar");
    has(4, "D", "month first");
    has(
        4,
        "G",
        "no active class of the school is named \"Grade 9-Z\"",
    );
    has(4, "L", "must be a phone number");
    has(7, "D", "is in the future");
    has(2, "A", "admission number 2001 is also on row 8");
    has(8, "A", "admission number 2001 is also on row 2");
    has(9, "A", "is empty");
    assert!(errors.iter().all(|(_, _, m)| !m.is_empty()));
    let first = &p.rows[0].errors[0];
    assert_eq!(
        (first.sheet.as_str(), first.header.as_str()),
        ("Intake", "given_name")
    );
    assert!(
        p.warnings.iter().any(|w| w.contains("H5:H6 are merged")),
        "{:?}",
        p.warnings
    );
    assert_eq!(p.counts.error, 6, "{:#?}", p.rows);
    assert_eq!(p.counts.new, 2);
    let k9 = p
        .families
        .iter()
        .find(|g| g.key == "key:K9")
        .expect("K9 group");
    assert_eq!(k9.admission_nos, ["2004", "2005"]);

    let r = post_sheet(&app, &admin, "commit=true", XLSX, file).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
    assert_eq!(r.code(), "import_has_errors");
    let detail = r.json["detail"].as_str().expect("detail");
    assert!(
        detail.contains("sheet Intake, row 2, column B (given_name): must be text"),
        "{detail}"
    );
    assert_eq!(total_students(&app, &admin).await, 3, "nothing written");

    // Fixed after the preview: only the good rows are left, and they import.
    rows.retain(|r| matches!(&r[0], FixtureCell::Text(a) if a == "2004" || a == "2005"));
    let file = xlsx("Intake", &TEMPLATE_HEADERS, &rows, &[(1, 7, 2, 7)]);
    let done = preview(&post_sheet(&app, &admin, "commit=true", XLSX, file).await);
    assert_eq!((done.counts.new, done.counts.new_families), (2, 1));
    assert_eq!(total_students(&app, &admin).await, 5);
}

#[actix_web::test]
async fn other_headers_are_mapped_once_and_remembered_csv_and_ods_read_the_same() {
    let t_app = TestApp::new();
    let app = actix_test::init_service(build_app(t_app.state.clone())).await;
    let sc = scenario(&t_app, &app, "map").await;
    let admin = sc.admin.clone();
    let csv = "\u{feff}Adm No,Student,Surname,DOB,Father Name,Mobile,Remarks\r\n3001,Hamza,Iqbal,2014-05-06,Javed,+923451234567,new\r\n3002,Iman,Iqbal,06/07/2015,Javed,+923451234567,\r\n".as_bytes().to_vec();
    let p = preview(
        &post_sheet(
            &app,
            &admin,
            "file_name=intake.csv",
            "text/csv",
            csv.clone(),
        )
        .await,
    );
    assert_eq!(
        p.mapping.get("admission_no").map(String::as_str),
        Some("Adm No")
    );
    assert_eq!(
        p.mapping.get("family_name").map(String::as_str),
        Some("Surname")
    );
    assert_eq!(
        p.mapping.get("guardian_phone").map(String::as_str),
        Some("Mobile")
    );
    assert!(p.ignored_headers.contains(&"Student".to_string()));
    assert_eq!(p.counts.error, 2, "no given name column yet");
    assert!(p.rows[0]
        .errors
        .iter()
        .any(|e| e.header == "Given name" && e.message.contains("required")));

    let put = |body: Value| {
        send(
            &app,
            Method::PUT,
            "/api/v1/imports/admissions/mapping",
            Some(&admin),
            Some(body),
        )
    };
    let r = put(json!({"columns": {"given_name": "Student", "nickname": "X"}})).await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("columns.nickname"))
    );
    let r = put(json!({"columns": {"given_name": "Student", "family_name": "student"}})).await;
    assert_eq!(r.json["field"], "columns.given_name", "{}", r.json);
    let r = put(json!({"columns": {"given_name": "Student"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = send(
        &app,
        Method::GET,
        "/api/v1/imports/admissions/mapping",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.json["columns"]["given_name"], "Student");

    let p = preview(&post_sheet(&app, &admin, "file_name=intake.csv", "text/csv", csv).await);
    assert_eq!((p.counts.new, p.counts.error), (2, 0), "{:#?}", p.rows);
    assert_eq!(p.families[0].grouped_by, FamilyGrouping::GuardianPhone);

    // The same rows as an OpenDocument spreadsheet, sent with a generic type and a name.
    let rows = vec![
        vec![
            t("3001"),
            t("Hamza"),
            t("Iqbal"),
            FixtureCell::Date(NaiveDate::from_ymd_opt(2014, 5, 6).expect("d")),
            t("Javed"),
            t("+923451234567"),
        ],
        vec![
            FixtureCell::Number(3002.0),
            t("Iman"),
            t("Iqbal"),
            t("06/07/2015"),
            t("Javed"),
            t("+923451234567"),
        ],
    ];
    let file = ods(
        "Sheet1",
        &[
            "Adm No",
            "Student",
            "Surname",
            "DOB",
            "Father Name",
            "Mobile",
        ],
        &rows,
    );
    let p = preview(
        &post_sheet(
            &app,
            &admin,
            "file_name=intake.ods&commit=true",
            "application/octet-stream",
            file,
        )
        .await,
    );
    assert_eq!(
        (p.format.as_str(), p.counts.new, p.counts.new_families),
        ("ods", 2, 1),
        "{:#?}",
        p.rows
    );
    assert_eq!(total_students(&app, &admin).await, 5);

    // A mapping naming a header the file lacks, a file with no admission number column, a
    // file that is not what it says, another media type and a teacher are refused.
    let r = post_sheet(
        &app,
        &admin,
        "",
        "text/csv",
        b"Name,Phone\r\nA,1\r\n".to_vec(),
    )
    .await;
    assert_eq!(r.code(), "import_failed");
    assert!(
        r.json["detail"]
            .as_str()
            .expect("detail")
            .contains("does not have"),
        "{}",
        r.json
    );
    put(json!({"columns": {}})).await;
    let r = post_sheet(
        &app,
        &admin,
        "",
        "text/csv",
        b"Name,Phone\r\nA,1\r\n".to_vec(),
    )
    .await;
    assert!(
        r.json["detail"]
            .as_str()
            .expect("detail")
            .contains("admission number"),
        "{}",
        r.json
    );
    let r = post_sheet(
        &app,
        &admin,
        "file_name=x.xlsx",
        XLSX,
        b"not a workbook".to_vec(),
    )
    .await;
    assert_eq!(r.code(), "import_failed");
    assert!(
        r.json["detail"]
            .as_str()
            .expect("detail")
            .starts_with("x.xlsx is not an .xlsx workbook"),
        "{}",
        r.json
    );
    let r = post_sheet(&app, &admin, "", "application/json", b"{}".to_vec()).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let teacher = login(&app, "map", "t1").await;
    let r = post_sheet(
        &app,
        &teacher,
        "",
        "text/csv",
        b"admission_no\r\n1\r\n".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn the_template_is_what_the_import_reads_without_a_mapping() {
    let t_app = TestApp::new();
    let app = actix_test::init_service(build_app(t_app.state.clone())).await;
    t_app.school("tpl");
    let admin = login(&app, "tpl", "admin").await;
    for (format, media) in [("xlsx", XLSX), ("csv", "text/csv")] {
        let req = actix_test::TestRequest::get()
            .uri(&format!(
                "/api/v1/imports/admissions/template?format={format}"
            ))
            .insert_header(("authorization", format!("Bearer {admin}")))
            .to_request();
        let resp = actix_test::call_service(&app, req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let bytes = actix_test::read_body(resp).await.to_vec();
        let p = preview(&post_sheet(&app, &admin, "", media, bytes).await);
        assert_eq!(p.headers, TEMPLATE_HEADERS, "{format}");
        assert_eq!(
            p.mapping.len(),
            13,
            "every column read by its field: {format}"
        );
        assert!(p.rows.is_empty() && p.ignored_headers.is_empty());
    }
}
