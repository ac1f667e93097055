//! Roster CRUD, search, pagination, validation and audit.

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use daftar_server::app::build_app;
use diesel::prelude::*;
use serde_json::{json, Value};

use super::*;

#[actix_web::test]
async fn students_are_searchable_by_name_and_admission_number_and_paginate() {
    let t = TestApp::new();
    let app = test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    let get = |q: &'static str| send(&app, Method::GET, q, Some(&a.admin), None);

    let r = get("/api/v1/students?q=malik").await;
    assert_eq!(r.json["total"], 2, "{}", r.json);
    let r = get("/api/v1/students?q=zara%20MALIK").await;
    assert_eq!(ids(&r.json), vec![a.s2], "every word must match");
    let r = get("/api/v1/students?q=A-3").await;
    assert_eq!(ids(&r.json), vec![a.s3]);

    let all = ids(&get("/api/v1/students?limit=500").await.json);
    assert_eq!(all.len(), 3);
    let p1 = get("/api/v1/students?limit=2&offset=0").await;
    let p2 = get("/api/v1/students?limit=2&offset=2").await;
    assert_eq!(
        (p1.json["total"].as_i64(), p2.json["total"].as_i64()),
        (Some(3), Some(3))
    );
    let paged: Vec<_> = ids(&p1.json).into_iter().chain(ids(&p2.json)).collect();
    assert_eq!(
        paged, all,
        "pages are consecutive slices of one stable order"
    );

    let r = get("/api/v1/students?limit=0").await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("limit"))
    );
    let r = get(Box::leak(
        format!("/api/v1/students?class_id={}", a.c1).into_boxed_str(),
    ))
    .await;
    assert_eq!(r.json["total"], 2);
}

#[actix_web::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let t = TestApp::new();
    let app = test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    let post =
        |path: &'static str, body| send(&app, Method::POST, path, Some(&a.admin), Some(body));

    let r = post(
        "/api/v1/students",
        json!({"family_id": a.f1, "admission_no": "A-9", "family_name": "X"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        (r.code(), r.json["field"].as_str()),
        ("validation_failed", Some("given_name"))
    );
    let r = post(
        "/api/v1/students",
        json!({"family_id": a.f1, "admission_no": "A-9", "given_name": "  ", "family_name": "X"}),
    )
    .await;
    assert_eq!(r.json["field"], "given_name");
    let r = post(
        "/api/v1/guardians",
        json!({"family_id": a.f1, "given_name": "A", "family_name": "B", "phone": "call me"}),
    )
    .await;
    assert_eq!(r.json["field"], "phone");
    let r = post(
        "/api/v1/users",
        json!({"username": "new", "display_name": "N", "role": "teacher", "password": "short"}),
    )
    .await;
    assert_eq!(r.json["field"], "password");
    let r = post(
        "/api/v1/users",
        json!({"username": "new", "display_name": "N", "role": "janitor", "password": PW}),
    )
    .await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("role"))
    );
    let r = post(
        "/api/v1/students",
        json!({"family_id": a.f1, "admission_no": "A-1", "given_name": "Dup", "family_name": "X"}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "already_exists")
    );
    let r = post(
        "/api/v1/academic-years",
        json!({"name": "Y", "starts_on": "2027-04-01", "ends_on": "2028-03-31",
        "terms": [{"name": "T", "starts_on": "2027-01-01", "ends_on": "2027-05-01"}]}),
    )
    .await;
    assert_eq!(r.json["field"], "terms[0].starts_on");

    let r = send(
        &app,
        Method::GET,
        "/api/v1/students?limit=500",
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.json["total"], 3, "no refused request wrote a student");
}

#[actix_web::test]
async fn update_delete_and_every_mutation_is_audited() {
    let t = TestApp::new();
    let app = test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;

    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/students/{}", a.s1),
        Some(&a.admin),
        Some(json!({"given_name": "Aliyan"})),
    )
    .await;
    assert_eq!(
        (r.status, r.json["given_name"].as_str()),
        (StatusCode::OK, Some("Aliyan"))
    );

    // Enrolled students cannot be hard-deleted; the refusal says why.
    let r = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/students/{}", a.s1),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "reference_invalid")
    );
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/students/{}", a.s1),
        Some(&a.admin),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(r.json["active"], false);

    let fam = create(
        &app,
        &a.admin,
        "/api/v1/families",
        json!({"name": "Temp family"}),
    )
    .await;
    let r = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/families/{fam}"),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/families/{fam}"),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let mut conn = t.tdb.conn();
    use daftar_server::schema::audit_log::dsl::*;
    let rows: Vec<(String, Option<serde_json::Value>, Option<serde_json::Value>)> = audit_log
        .filter(entity.eq("student"))
        .filter(entity_id.eq(a.s1.to_string()))
        .order(at)
        .select((action, before, after))
        .load(&mut conn)
        .expect("audit");
    let actions: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(actions, vec!["create", "update", "update"]);
    assert_eq!(rows[1].1.as_ref().expect("before")["given_name"], "Ali");
    assert_eq!(rows[1].2.as_ref().expect("after")["given_name"], "Aliyan");
    let deleted: i64 = audit_log
        .filter(action.eq("delete"))
        .filter(entity.eq("family"))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(deleted, 1);
    // The audit log is append-only, enforced by the database.
    let tamper = diesel::sql_query("DELETE FROM audit_log").execute(&mut conn);
    assert!(tamper.is_err(), "audit_log must refuse DELETE");
    // No password hash ever reaches the audit log.
    let leaked: i64 = audit_log
        .filter(entity.eq("user"))
        .filter(after.is_not_null())
        .select(diesel::dsl::count_star())
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "after::text LIKE '%argon2%'",
        ))
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(leaked, 0);
}

#[actix_web::test]
async fn teacher_assignment_is_idempotent_and_listed() {
    let t = TestApp::new();
    let app = test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    let list = send(
        &app,
        Method::GET,
        &format!("/api/v1/classes/{}/teachers", a.c1),
        Some(&a.admin),
        None,
    )
    .await;
    let teachers = list.json.as_array().expect("array").clone();
    assert_eq!(teachers.len(), 1);
    let tid = teachers[0]["teacher_id"].as_str().expect("id").to_string();
    let again = send(
        &app,
        Method::PUT,
        &format!("/api/v1/classes/{}/teachers/{tid}", a.c1),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    // A subject teacher (issue #17): the subject comes with the assignment, changes when it
    // is assigned again with another, stays when assigned without a body, and shows in both
    // listings; a subject too long is refused by name.
    let path = format!("/api/v1/classes/{}/teachers/{tid}", a.c1);
    let put =
        |body: Option<serde_json::Value>| send(&app, Method::PUT, &path, Some(&a.admin), body);
    assert_eq!(
        put(Some(json!({"subject": "Mathematics"}))).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(put(None).await.status, StatusCode::NO_CONTENT);
    let r = put(Some(json!({"subject": "x".repeat(101)}))).await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("subject")),
        "{}",
        r.json
    );
    let all = send(
        &app,
        Method::GET,
        "/api/v1/class-teachers",
        Some(&a.admin),
        None,
    )
    .await;
    let mine: Vec<&serde_json::Value> = all
        .json
        .as_array()
        .expect("array")
        .iter()
        .filter(|t| t["class_id"] == a.c1.to_string())
        .collect();
    assert_eq!(mine.len(), 1, "{}", all.json);
    assert_eq!(mine[0]["subject"], "Mathematics");
    assert_eq!(
        put(Some(json!({"subject": "Urdu"}))).await.status,
        StatusCode::NO_CONTENT
    );
    let list = send(
        &app,
        Method::GET,
        &format!("/api/v1/classes/{}/teachers", a.c1),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(list.json[0]["subject"], "Urdu");
    let teacher = login(&app, "alpha", "t1").await;
    let r = send(
        &app,
        Method::GET,
        "/api/v1/class-teachers",
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "the office's listing");
    let r = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/classes/{}/teachers/{tid}", a.c1),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let list = send(
        &app,
        Method::GET,
        &format!("/api/v1/classes/{}/teachers", a.c1),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(list.json.as_array().map(Vec::len), Some(0));
    // Assigning a parent as a teacher is refused.
    let parents = send(
        &app,
        Method::GET,
        "/api/v1/users?q=p1",
        Some(&a.admin),
        None,
    )
    .await;
    let p1 = ids(&parents.json)[0];
    let r = send(
        &app,
        Method::PUT,
        &format!("/api/v1/classes/{}/teachers/{p1}", a.c1),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("teacher_id"))
    );
}

#[actix_web::test]
async fn the_admin_changes_the_schools_settings_and_bad_values_name_their_field() {
    let t = TestApp::new();
    t.school("green");
    let app = test::init_service(build_app(t.state.clone())).await;
    let admin = login(&app, "green", "admin").await;
    let patch = |token: String, body: serde_json::Value| {
        let app = &app;
        async move {
            send(
                app,
                Method::PATCH,
                "/api/v1/school",
                Some(&token),
                Some(body),
            )
            .await
        }
    };
    let r = patch(
        admin.clone(),
        json!({"name": "Green Valley School", "address": "12 Canal Road, Lahore",
               "timezone": "Asia/Dubai", "attendance_edit_window_days": 3, "currency": "AED"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let got = send(&app, Method::GET, "/api/v1/school", Some(&admin), None).await;
    assert_eq!(
        (
            &got.json["name"],
            &got.json["address"],
            &got.json["timezone"],
            &got.json["attendance_edit_window_days"],
            &got.json["currency"]
        ),
        (
            &json!("Green Valley School"),
            &json!("12 Canal Road, Lahore"),
            &json!("Asia/Dubai"),
            &json!(3),
            &json!("AED")
        )
    );
    for (body, field) in [
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (
            json!({"attendance_edit_window_days": 400}),
            "attendance_edit_window_days",
        ),
        (json!({"currency": "rupees"}), "currency"),
        (json!({"name": "   "}), "name"),
    ] {
        let r = patch(admin.clone(), body.clone()).await;
        assert_eq!(
            (r.status, r.json["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}: {}",
            r.json
        );
    }
    let unchanged = send(&app, Method::GET, "/api/v1/school", Some(&admin), None).await;
    assert_eq!(unchanged.json, got.json, "a refused change writes nothing");

    // Once money is in the journal, its currency stays.
    let r = send(
        &app,
        Method::POST,
        "/api/v1/payments",
        Some(&admin),
        Some(json!({"id": uuid::Uuid::now_v7(), "family_id": null, "amount": 5000, "currency": "AED", "method": "cash"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let r = patch(admin.clone(), json!({"currency": "PKR"})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "currency_in_use"),
        "{}",
        r.json
    );
    let r = patch(
        admin.clone(),
        json!({"currency": "AED", "attendance_edit_window_days": 0}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the same currency is no change: {}",
        r.json
    );

    // Only the admin; every change is in the audit log with before and after.
    create(&app, &admin, "/api/v1/users", json!({"username": "acc", "display_name": "Accountant", "role": "accountant", "password": PW})).await;
    let accountant = login(&app, "green", "acc").await;
    let r = patch(accountant, json!({"name": "Mine now"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let log = send(
        &app,
        Method::GET,
        "/api/v1/audit-log?entity=school",
        Some(&admin),
        None,
    )
    .await;
    let updates: Vec<&serde_json::Value> = log.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["action"] == "update")
        .collect();
    assert_eq!(updates.len(), 2, "{}", log.json);
    assert!(
        updates
            .iter()
            .any(|e| e["before"]["timezone"] == "Asia/Karachi"
                && e["after"]["timezone"] == "Asia/Dubai"),
        "{}",
        log.json
    );
}

/// The smallest PNG: one white pixel (RFC 2083).
const ONE_PIXEL_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x77, 0x53,
    0xDE, 0x00, 0x00, 0x00, 0x0C, 0x49, 0x44, 0x41, 0x54, 0x08, 0xD7, 0x63, 0xF8, 0xFF, 0xFF, 0x3F,
    0x00, 0x05, 0xFE, 0x02, 0xFE, 0xA7, 0x35, 0x81, 0x84, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E,
    0x44, 0xAE, 0x42, 0x60, 0x82,
];

#[actix_web::test]
async fn the_admin_sets_the_receipt_logo_and_every_user_of_the_school_can_fetch_it() {
    let t = TestApp::new();
    let app = test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    let teacher = login(&app, "alpha", "t1").await;
    let put = |token: &str, media: &str, body: Vec<u8>| {
        test::TestRequest::put()
            .uri("/api/v1/school/logo")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", media.to_string()))
            .set_payload(body)
            .to_request()
    };
    let r = send(
        &app,
        Method::GET,
        "/api/v1/school/logo",
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "no logo yet");
    // Refusals, each saying what is wrong; nothing is stored.
    let too_big = [ONE_PIXEL_PNG, &vec![0u8; 300 * 1024]].concat();
    for (token, media, body, status, code) in [
        (
            &teacher,
            "image/png",
            ONE_PIXEL_PNG.to_vec(),
            403,
            "forbidden",
        ),
        (
            &a.admin,
            "image/gif",
            ONE_PIXEL_PNG.to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            &a.admin,
            "image/jpeg",
            ONE_PIXEL_PNG.to_vec(),
            422,
            "validation_failed",
        ),
        (
            &a.admin,
            "image/png",
            b"GIF89a, not a png".to_vec(),
            422,
            "validation_failed",
        ),
        (&a.admin, "image/png", Vec::new(), 422, "validation_failed"),
        (&a.admin, "image/png", too_big, 413, "payload_too_large"),
    ] {
        let resp = test::call_service(&app, put(token, media, body)).await;
        let got = resp.status().as_u16();
        let json: Value = test::read_body_json(resp).await;
        assert_eq!(
            (got, json["code"].as_str()),
            (status, Some(code)),
            "{media}: {json}"
        );
        if status == 422 {
            assert_eq!(json["field"], "body", "{json}");
        }
    }
    let r = send(
        &app,
        Method::GET,
        "/api/v1/school/logo",
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "nothing was stored");

    let resp = test::call_service(&app, put(&a.admin, "image/png", ONE_PIXEL_PNG.to_vec())).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let school: Value = test::read_body_json(resp).await;
    let version = school["logo_updated_at"]
        .as_str()
        .expect("logo_updated_at")
        .to_string();
    // Every user of the school reads it (it is on every receipt), byte for byte.
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/api/v1/school/logo")
            .insert_header(("Authorization", format!("Bearer {teacher}")))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("")),
        Some("image/png")
    );
    assert_eq!(test::read_body(resp).await.as_ref(), ONE_PIXEL_PNG);
    // Devices learn of it from the school row they pull.
    let r = send(&app, Method::GET, "/api/v1/school", Some(&teacher), None).await;
    assert_eq!(r.json["logo_updated_at"], version.as_str());
    let logged = count_rows(
        &mut t.tdb.conn(),
        "SELECT count(*) AS n FROM change_log WHERE entity = 'schools' AND row->>'logo_updated_at' IS NOT NULL",
    );
    assert_eq!(logged, 1, "the new version is in the sync feed");

    let r = send(
        &app,
        Method::DELETE,
        "/api/v1/school/logo",
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(
        &app,
        Method::GET,
        "/api/v1/school/logo",
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(
        &app,
        Method::DELETE,
        "/api/v1/school/logo",
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(&app, Method::GET, "/api/v1/school", Some(&teacher), None).await;
    assert_ne!(
        r.json["logo_updated_at"],
        version.as_str(),
        "a removal is a new version too"
    );
}

fn count_rows(conn: &mut diesel::PgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(sql).get_result::<N>(conn).expect(sql).n
}
