//! Hardening from an outside test (ARCHITECTURE.md §10): each test here failed before its fix. Bad input
//! never gets a 500, money cannot overflow a report, the docs page works, unrouted requests get
//! 404/405 problem documents, and throttling and revocation leak nothing.

use actix_web::http::{Method, StatusCode};
use actix_web::test as actix_test;
use daftar_server::app::build_app;
use diesel::prelude::*;

use super::*;

/// Sends a raw body with `content_type`.
async fn send_raw<S, B>(
    app: &S,
    method: Method,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: Vec<u8>,
) -> Resp
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let mut req = actix_test::TestRequest::default()
        .method(method)
        .uri(path)
        .insert_header(("content-type", content_type))
        .set_payload(body);
    if let Some(t) = token {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    let resp = actix_test::call_service(app, req.to_request()).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = actix_test::read_body(resp).await;
    Resp {
        status,
        headers,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn content_type(r: &Resp) -> &str {
    r.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// 422 `validation_failed` naming `field`, as a problem document.
fn assert_invalid(r: &Resp, field: &str, what: &str) {
    assert_eq!(
        (r.status, r.code(), r.json["field"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            Some(field)
        ),
        "{what}: {}",
        r.json
    );
    assert_eq!(content_type(r), "application/problem+json", "{what}");
}

#[test]
fn the_openapi_document_and_the_docs_page_are_served_over_http() {
    let tdb = TestDb::new();
    let server = daftar_tests::server::TestServer::start(tdb.url());
    let url = server.url();
    let spec = ureq::get(&format!("{url}/api/v1/openapi.json"))
        .call()
        .expect("the spec is served (it answered 404 before)");
    assert_eq!(spec.status(), 200);
    assert!(spec.content_type().starts_with("application/json"));
    let served: Value = spec.into_json().expect("json");
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../openapi/openapi.json"
        ))
        .expect("committed spec"),
    )
    .expect("json");
    assert_eq!(served, committed, "the served spec is the committed one");
    assert!(served["paths"]["/api/v1/students"]["get"].is_object());

    let page = ureq::get(&format!("{url}/docs/"))
        .call()
        .expect("docs page");
    assert!(page.content_type().starts_with("text/html"));
    let init = ureq::get(&format!("{url}/docs/swagger-initializer.js"))
        .call()
        .expect("swagger initializer")
        .into_string()
        .expect("text");
    assert!(
        init.contains("/api/v1/openapi.json"),
        "Swagger UI loads the served spec: {init}"
    );
    // With a token it is the same document (it answered 404 either way before).
    let with_token = ureq::get(&format!("{url}/api/v1/openapi.json"))
        .set("authorization", "Bearer whatever")
        .call()
        .expect("spec with a token");
    assert_eq!(with_token.status(), 200);
}

#[actix_web::test]
async fn unrouted_requests_get_405_with_allow_or_404_as_problem_documents() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    for (method, path, allow) in [
        (Method::TRACE, "/healthz", "GET"),
        (Method::TRACE, "/api/v1/students", "GET, POST"),
        (
            Method::PUT,
            "/api/v1/students/0190f000-0000-7000-8000-000000000000",
            "DELETE, GET, PATCH",
        ),
        (Method::POST, "/api/v1/openapi.json", "GET"),
    ] {
        let r = send(&app, method.clone(), path, None, None).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            "{method} {path}: {}",
            r.json
        );
        assert_eq!(
            r.headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow)
        );
        assert_eq!(content_type(&r), "application/problem+json");
    }
    let r = send(&app, Method::GET, "/api/v1/no-such-thing", None, None).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(content_type(&r), "application/problem+json");
    let r = send(
        &app,
        Method::GET,
        "/api/v1/reports/no_such_report",
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_nul_character_is_refused_at_the_edge_naming_the_field() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    let admin = a.admin.clone();

    // Before authentication.
    let r = login_full(&app, "alpha", "ad\u{0}min", PW).await;
    assert_invalid(&r, "username", "login");
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"school": "al\u{0}pha", "username": "admin", "password": PW})),
    )
    .await;
    assert_invalid(&r, "school", "login school");

    // Searches.
    for list in ["students", "families", "guardians", "users", "classes"] {
        let r = send(
            &app,
            Method::GET,
            &format!("/api/v1/{list}?limit=5&q=al%00i"),
            Some(&admin),
            None,
        )
        .await;
        assert_invalid(&r, "q", list);
    }

    // Creates and updates.
    let year = send(
        &app,
        Method::GET,
        "/api/v1/academic-years",
        Some(&admin),
        None,
    )
    .await
    .json[0]["id"]
        .clone();
    for (path, body, field) in [
        (
            "/api/v1/classes".to_string(),
            json!({"academic_year_id": year, "name": "Grade\u{0}5", "grade": "5", "section": "A"}),
            "name",
        ),
        (
            "/api/v1/families".to_string(),
            json!({"name": "Nul\u{0} family"}),
            "name",
        ),
        (
            "/api/v1/students".to_string(),
            json!({"family_id": a.f1, "admission_no": "A-\u{0}9", "given_name": "X", "family_name": "Y", "grade": "3"}),
            "admission_no",
        ),
        (
            "/api/v1/fee-heads".to_string(),
            json!({"name": "Tui\u{0}tion"}),
            "name",
        ),
        (
            "/api/v1/users".to_string(),
            json!({"username": "zed", "display_name": "Z\u{0}", "role": "teacher", "password": PW}),
            "display_name",
        ),
    ] {
        let r = send(&app, Method::POST, &path, Some(&admin), Some(body)).await;
        assert_invalid(&r, field, &path);
    }
    for (path, body, field) in [
        (
            format!("/api/v1/students/{}", a.s1),
            json!({"given_name": "A\u{0}li"}),
            "given_name",
        ),
        (
            format!("/api/v1/classes/{}", a.c1),
            json!({"name": "C\u{0}"}),
            "name",
        ),
        (
            format!("/api/v1/families/{}", a.f1),
            json!({"name": "F\u{0}"}),
            "name",
        ),
    ] {
        let r = send(&app, Method::PATCH, &path, Some(&admin), Some(body)).await;
        assert_invalid(&r, field, &path);
    }

    // Sync op args, from an enrolled device.
    let reg = send(
        &app,
        Method::POST,
        "/api/v1/sync/devices",
        Some(&admin),
        Some(json!({"name": "office PC"})),
    )
    .await;
    assert_eq!(reg.status, StatusCode::CREATED, "{}", reg.json);
    let device = reg.json["tokens"]["access_token"].as_str().expect("token");
    let op = json!({
        "op_id": "0190f000-0000-7000-8000-000000000001",
        "client_id": reg.json["client_id"],
        "seq": 1,
        "mutation": "student.update@1",
        "args": {"student_id": a.s1, "fields": {"given_name": "A\u{0}li"}},
        "created_at": "2026-11-01T08:00:00Z"
    });
    let r = send(
        &app,
        Method::POST,
        "/api/v1/sync/push",
        Some(device),
        Some(json!({"client_id": reg.json["client_id"], "ops": [op]})),
    )
    .await;
    assert_invalid(&r, "ops[0].args.fields.given_name", "push");

    // Nothing was written by any of it.
    let mut conn = t.tdb.conn();
    let nul_rows: i64 = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "(SELECT count(*) FROM students WHERE given_name = 'Ali' AND family_name = 'Malik')",
    ))
    .get_result(&mut conn)
    .expect("count");
    assert_eq!(nul_rows, 1);
}

#[actix_web::test]
async fn a_nul_character_in_an_uploaded_csv_names_file_line_and_column() {
    use std::io::Write;
    let t = TestApp::new();
    t.school("alpha");
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let admin = login(&app, "alpha", "admin").await;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/oneroster-small");
    let mut zipped = Vec::new();
    {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
        let opts = zip::write::SimpleFileOptions::default();
        for entry in std::fs::read_dir(&dir).expect("fixture") {
            let entry = entry.expect("entry");
            let name = entry.file_name().to_string_lossy().to_string();
            let mut bytes = std::fs::read(entry.path()).expect("read");
            if name == "users.csv" {
                let text =
                    String::from_utf8(bytes)
                        .expect("utf8")
                        .replacen("Rubina", "Ru\u{0}bina", 1);
                bytes = text.into_bytes();
            }
            w.start_file(name, opts).expect("entry");
            w.write_all(&bytes).expect("write");
        }
        w.finish().expect("zip");
    }
    let r = send_raw(
        &app,
        Method::POST,
        "/api/v1/imports/oneroster",
        Some(&admin),
        "application/zip",
        zipped,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "import_failed"),
        "{}",
        r.json
    );
    let detail = r.json["detail"].as_str().unwrap_or("");
    assert!(
        detail.starts_with("users.csv line 2 column `givenName`"),
        "{detail}"
    );
}

#[actix_web::test]
async fn an_upload_that_inflates_past_the_limit_is_refused_naming_the_entry() {
    use std::io::Write;
    let t = TestApp::new();
    t.school("alpha");
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let admin = login(&app, "alpha", "admin").await;
    let mut zipped = Vec::new();
    {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zipped));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        w.start_file("manifest.csv", opts).expect("entry");
        w.write_all(b"propertyName,value\noneroster.version,1.1\n")
            .expect("write");
        w.start_file("users.csv", opts).expect("entry");
        w.write_all(b"sourcedId,role,username,givenName,familyName\n")
            .expect("write");
        let block = vec![b'x'; 1 << 20];
        for _ in 0..80 {
            w.write_all(&block).expect("write");
        }
        w.finish().expect("zip");
    }
    assert!(
        zipped.len() < 512 << 10,
        "a small archive: {} bytes",
        zipped.len()
    );
    let r = send_raw(
        &app,
        Method::POST,
        "/api/v1/imports/oneroster",
        Some(&admin),
        "application/zip",
        zipped,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.json);
    let detail = r.json["detail"].as_str().unwrap_or("");
    assert!(
        detail.starts_with("users.csv: inflates to more than 64 MiB"),
        "{detail}"
    );

    let r = send_raw(
        &app,
        Method::POST,
        "/api/v1/imports/oneroster",
        Some(&admin),
        "text/plain",
        b"not a zip".to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
}

#[actix_web::test]
async fn bodies_too_large_or_not_json_and_lowercase_bearer() {
    let t = TestApp::new();
    t.school("alpha");
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let admin = login(&app, "alpha", "admin").await;
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(5 << 20)).into_bytes();
    let r = send_raw(
        &app,
        Method::POST,
        "/api/v1/families",
        Some(&admin),
        "application/json",
        big,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        "{}",
        r.json
    );
    assert_eq!(content_type(&r), "application/problem+json");
    let r = send_raw(
        &app,
        Method::POST,
        "/api/v1/families",
        Some(&admin),
        "application/evil+json",
        br#"{"name": "Evil family"}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let req = actix_test::TestRequest::get()
        .uri("/api/v1/me")
        .insert_header(("authorization", format!("bearer {admin}")))
        .to_request();
    let resp = actix_test::call_service(&app, req).await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "schemes are case-insensitive (RFC 7235)"
    );
}

#[actix_web::test]
async fn an_unknown_username_is_throttled_like_a_real_one() {
    let t = TestApp::new();
    t.school("alpha");
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    for (school, username) in [
        ("alpha", "admin"),
        ("alpha", "nobody"),
        ("no-such-school", "admin"),
    ] {
        for i in 1..=5 {
            let r = login_full(&app, school, username, "wrong-password!").await;
            assert_eq!(
                r.status,
                StatusCode::UNAUTHORIZED,
                "{school}/{username} attempt {i}"
            );
            assert_eq!(r.code(), "invalid_credentials");
        }
        let r = login_full(&app, school, username, "wrong-password!").await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
            "{school}/{username}: the sixth attempt is throttled whether or not the account exists"
        );
        assert!(r.headers.get("retry-after").is_some());
    }
}

#[actix_web::test]
async fn an_access_token_stops_working_when_its_login_is_signed_out() {
    let t = TestApp::new();
    t.school("alpha");
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let login = login_full(&app, "alpha", "admin", PW).await;
    let access = login.json["access_token"].as_str().expect("at").to_string();
    let refresh = login.json["refresh_token"]
        .as_str()
        .expect("rt")
        .to_string();
    let other = login_full(&app, "alpha", "admin", PW).await.json["access_token"]
        .as_str()
        .expect("at")
        .to_string();
    let me = |tok: String| {
        let app = &app;
        async move {
            send(app, Method::GET, "/api/v1/me", Some(&tok), None)
                .await
                .status
        }
    };
    assert_eq!(me(access.clone()).await, StatusCode::OK);
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        me(access).await,
        StatusCode::UNAUTHORIZED,
        "signed out at once, not at expiry"
    );
    assert_eq!(
        me(other.clone()).await,
        StatusCode::OK,
        "another login stays signed in"
    );

    // A disabled account's tokens stop working too.
    let mut conn = t.tdb.conn();
    diesel::update(daftar_server::schema::users::table)
        .set(daftar_server::schema::users::active.eq(false))
        .execute(&mut conn)
        .expect("disable");
    assert_eq!(me(other).await, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn report_parameters_are_validated_and_named() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    for (query, field) in [
        ("defaulters?min_days=3000000", "min_days"),
        ("defaulters?min_days=9223372036854775807", "min_days"),
        ("defaulters?min_days=-1", "min_days"),
        ("defaulters?min_days=abc", "min_days"),
        ("defaulters?min_amount=0", "min_amount"),
        ("dues?group=house", "group"),
        ("collections?from=2026-02-01&to=2026-01-01", "to"),
        ("collections?to=not-a-date", "to"),
        ("income?format=pdf", "format"),
        ("family_statement", "family_id"),
    ] {
        let r = send(
            &app,
            Method::GET,
            &format!("/api/v1/reports/{query}"),
            Some(&a.admin),
            None,
        )
        .await;
        assert_invalid(&r, field, query);
    }
    let r = send(
        &app,
        Method::GET,
        "/api/v1/reports/defaulters?min_days=36500",
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
}

/// Lets the school accept any amount, as data recorded before amounts were bounded could be.
fn unbounded(conn: &mut PgConnection) {
    diesel::sql_query("ALTER TABLE schools DROP CONSTRAINT schools_max_amount_check")
        .execute(conn)
        .expect("drop check");
    diesel::sql_query("UPDATE schools SET max_amount = 9223372036854775807")
        .execute(conn)
        .expect("unbound");
}

#[actix_web::test]
async fn money_inputs_are_bounded_by_the_schools_limit() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    let school = send(&app, Method::GET, "/api/v1/school", Some(&a.admin), None).await;
    assert_eq!(school.json["max_amount"], 10_000_000_000_000_i64);
    let pay = |amount: i64| json!({"id": uuid::Uuid::now_v7(), "family_id": a.f1, "amount": amount, "currency": "PKR", "method": "cash"});
    let r = send(
        &app,
        Method::POST,
        "/api/v1/payments",
        Some(&a.admin),
        Some(pay(i64::MAX)),
    )
    .await;
    assert_invalid(&r, "amount", "i64::MAX payment");
    let r = send(
        &app,
        Method::POST,
        "/api/v1/payments",
        Some(&a.admin),
        Some(pay(10_000_000_000_000)),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "the limit itself is accepted: {}",
        r.json
    );

    let mut conn = t.tdb.conn();
    diesel::sql_query("UPDATE schools SET max_amount = 100000")
        .execute(&mut conn)
        .expect("lower the limit");
    let r = send(
        &app,
        Method::POST,
        "/api/v1/payments",
        Some(&a.admin),
        Some(pay(100_001)),
    )
    .await;
    assert_invalid(&r, "amount", "over the school's own limit");
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap_or("")
            .contains("at most 100000"),
        "{}",
        r.json
    );

    let year = &send(
        &app,
        Method::GET,
        "/api/v1/academic-years",
        Some(&a.admin),
        None,
    )
    .await
    .json[0];
    let term = year["terms"][0]["id"].clone();
    let head = create(
        &app,
        &a.admin,
        "/api/v1/fee-heads",
        json!({"name": "Tuition"}),
    )
    .await;
    let r = send(
        &app,
        Method::POST,
        "/api/v1/fee-schedules",
        Some(&a.admin),
        Some(json!({"term_id": term, "class_id": a.c1, "fee_head_id": head, "amount": 100_001, "due_on": "2026-04-10"})),
    )
    .await;
    assert_invalid(&r, "amount", "fee schedule");
    let r = send(
        &app,
        Method::POST,
        &format!("/api/v1/families/{}/refunds", a.f1),
        Some(&a.admin),
        Some(json!({"id": uuid::Uuid::now_v7(), "amount": i64::MAX, "method": "cash", "reason": "x"})),
    )
    .await;
    assert_invalid(&r, "amount", "refund");
}

#[actix_web::test]
async fn reports_stay_exact_whatever_amounts_the_journal_holds() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    let mut conn = t.tdb.conn();
    unbounded(&mut conn);
    // Two payments of i64::MAX: every total is past i64 (they wrapped negative, then the
    // reports answered 500 "bigint out of range" for that period for good).
    for _ in 0..2 {
        let r = send(
            &app,
            Method::POST,
            "/api/v1/payments",
            Some(&a.admin),
            Some(json!({"id": uuid::Uuid::now_v7(), "family_id": a.f1, "amount": i64::MAX, "currency": "PKR", "method": "cash"})),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    }
    let exact = 2 * u64::try_from(i64::MAX).expect("positive");
    for (query, column) in [
        ("collections?from=2000-01-01&to=2100-01-01", "collected"),
        ("trial_balance?as_of=2100-01-01", "debit"),
    ] {
        let r = send(
            &app,
            Method::GET,
            &format!("/api/v1/reports/{query}"),
            Some(&a.admin),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.json);
        let col = r.json["columns"]
            .as_array()
            .expect("columns")
            .iter()
            .position(|c| c["key"] == column)
            .expect("column");
        assert_eq!(
            r.json["totals"][col].as_u64(),
            Some(exact),
            "{query}: {}",
            r.json["totals"]
        );
        let csv = send_raw(
            &app,
            Method::GET,
            &format!("/api/v1/reports/{query}&format=csv"),
            Some(&a.admin),
            "text/plain",
            vec![],
        )
        .await;
        assert_eq!(csv.status, StatusCode::OK);
    }
    // The family's own figures do not wrap: they say why they cannot be shown.
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/statement", a.f1),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "amount_out_of_range"),
        "{}",
        r.json
    );
}

#[test]
fn nothing_the_demo_seeds_is_after_now_in_the_schools_time_zone() {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    daftar_tests::seed_demo(&mut conn, PW);
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Karachi)
        .date_naive();
    let mut after = |sql: &str| -> i64 {
        diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(sql))
            .get_result(&mut conn)
            .expect("count")
    };
    let today_sql = format!("'{today}'::date");
    for (what, sql) in [
        (
            "payments received after now",
            "(SELECT count(*) FROM payments WHERE received_at > now())".to_string(),
        ),
        (
            "journal entries after today",
            format!("(SELECT count(*) FROM journal_entries WHERE occurred_on > {today_sql})"),
        ),
        (
            "invoices issued after today",
            format!("(SELECT count(*) FROM invoices WHERE issued_on > {today_sql})"),
        ),
        (
            "registers after today",
            format!("(SELECT count(*) FROM registers WHERE on_date > {today_sql})"),
        ),
        (
            "audit rows after now",
            "(SELECT count(*) FROM audit_log WHERE at > now())".to_string(),
        ),
    ] {
        assert_eq!(after(&sql), 0, "{what}");
    }
    assert!(
        after("(SELECT count(*) FROM payments)") > 100,
        "the demo has payments"
    );
}
