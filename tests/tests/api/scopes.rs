//! Tenant isolation, RBAC and per-role scopes.

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use daftar_server::app::build_app;
use serde_json::json;

use super::*;

#[actix_web::test]
async fn another_schools_admin_can_neither_see_nor_change_our_records() {
    let t = TestApp::new();
    let app = test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    t.school("beta");
    let b_admin = login(&app, "beta", "admin").await;

    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/students/{}", a.s1),
        Some(&b_admin),
        None,
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    let r = send(&app, Method::GET, "/api/v1/students", Some(&b_admin), None).await;
    assert_eq!(r.json["total"], 0, "beta sees none of alpha's students");
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/students/{}", a.s1),
        Some(&b_admin),
        Some(json!({"given_name": "Hacked"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}", a.f1),
        Some(&b_admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Referencing another school's family when creating is a validation error, not a leak.
    let r = send(
        &app,
        Method::POST,
        "/api/v1/students",
        Some(&b_admin),
        Some(json!({
            "family_id": a.f1, "admission_no": "B-1", "given_name": "X", "family_name": "Y"
        })),
    )
    .await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("family_id"))
    );
    // Alpha's data is untouched.
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/students/{}", a.s1),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.json["given_name"], "Ali");
}

#[actix_web::test]
async fn a_parent_reads_only_their_own_family() {
    let t = TestApp::new();
    let app = test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    let p1 = login(&app, "alpha", "p1").await;

    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}", a.f1),
        Some(&p1),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["students"].as_array().expect("students").len(), 2);

    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}", a.f2),
        Some(&p1),
        None,
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/students/{}", a.s3),
        Some(&p1),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let mut mine = ids(
        &send(&app, Method::GET, "/api/v1/students", Some(&p1), None)
            .await
            .json,
    );
    mine.sort();
    let mut expected = vec![a.s1, a.s2];
    expected.sort();
    assert_eq!(mine, expected);
    let fams = send(&app, Method::GET, "/api/v1/families", Some(&p1), None).await;
    assert_eq!(ids(&fams.json), vec![a.f1]);
    let r = send(&app, Method::GET, "/api/v1/users", Some(&p1), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &app,
        Method::POST,
        "/api/v1/families",
        Some(&p1),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn a_teacher_reads_only_assigned_classes() {
    let t = TestApp::new();
    let app = test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    let t1 = login(&app, "alpha", "t1").await;

    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/classes/{}", a.c2),
        Some(&t1),
        None,
    )
    .await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
    assert!(
        r.json["detail"]
            .as_str()
            .unwrap_or("")
            .contains("not assigned"),
        "{}",
        r.json
    );
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/classes/{}/students", a.c2),
        Some(&t1),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/students/{}", a.s2),
        Some(&t1),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let roster = send(
        &app,
        Method::GET,
        &format!("/api/v1/classes/{}/students", a.c1),
        Some(&t1),
        None,
    )
    .await;
    assert_eq!(roster.status, StatusCode::OK);
    let mut got = ids(&roster.json);
    got.sort();
    let mut expected = vec![a.s1, a.s3];
    expected.sort();
    assert_eq!(got, expected);
    assert_eq!(
        ids(&send(&app, Method::GET, "/api/v1/classes", Some(&t1), None)
            .await
            .json),
        vec![a.c1]
    );

    // Teachers do not edit the roster.
    let r = send(
        &app,
        Method::POST,
        "/api/v1/students",
        Some(&t1),
        Some(json!({
            "admission_no": "T-1", "given_name": "X", "family_name": "Y"
        })),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}", a.f1),
        Some(&t1),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn an_accountant_edits_students_but_not_users_or_classes() {
    let t = TestApp::new();
    let app = test::init_service(build_app(t.state.clone())).await;
    let a = scenario(&t, &app, "alpha").await;
    let acct = login(&app, "alpha", "acct").await;
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/students/{}", a.s1),
        Some(&acct),
        Some(json!({"grade": "4"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = send(
        &app,
        Method::POST,
        "/api/v1/users",
        Some(&acct),
        Some(json!({
            "username": "x", "display_name": "X", "role": "admin", "password": PW
        })),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/classes/{}", a.c1),
        Some(&acct),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
