//! Login, throttling, refresh rotation and reuse detection, logout, audit.

use actix_web::http::{Method, StatusCode};
use actix_web::test;
use daftar_server::app::build_app;
use diesel::prelude::*;
use serde_json::json;

use super::*;

#[actix_web::test]
async fn login_returns_tokens_and_me_identifies_the_user() {
    let t = TestApp::new();
    let school = t.school("alpha");
    let app = test::init_service(build_app(t.state.clone())).await;
    let r = login_full(&app, "alpha", "admin", PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(r.json["expires_in"], 900);
    let token = r.json["access_token"].as_str().expect("token");
    let me = send(&app, Method::GET, "/api/v1/me", Some(token), None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["username"], "admin");
    assert_eq!(me.json["role"], "admin");
    assert_eq!(me.json["school_id"], school.id.to_string());

    let mut conn = t.tdb.conn();
    use daftar_server::schema::audit_log::dsl::*;
    let logins: i64 = audit_log
        .filter(action.eq("login"))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(logins, 1, "a login writes one audit row");
}

#[actix_web::test]
async fn wrong_password_and_missing_token_are_problem_documents() {
    let t = TestApp::new();
    t.school("alpha");
    let app = test::init_service(build_app(t.state.clone())).await;
    let r = login_full(&app, "alpha", "admin", "not-the-password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.code(), "invalid_credentials");
    assert_eq!(
        r.headers.get("content-type").expect("ct"),
        "application/problem+json"
    );
    assert_eq!(r.json["type"], "urn:daftar:problem:invalid_credentials");
    // An unknown school or user answers exactly the same.
    let r = login_full(&app, "nowhere", "admin", PW).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "invalid_credentials")
    );

    let r = send(&app, Method::GET, "/api/v1/students", None, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let r = send(
        &app,
        Method::GET,
        "/api/v1/students",
        Some("not.a.jwt"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn five_bad_passwords_throttle_the_account_with_retry_after() {
    let t = TestApp::new();
    t.school("alpha");
    let app = test::init_service(build_app(t.state.clone())).await;
    for i in 1..=5 {
        let r = login_full(&app, "alpha", "admin", "wrong-password!").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Locked now: even the right password is refused, with Retry-After.
    let r = login_full(&app, "alpha", "admin", PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.json);
    assert_eq!(r.code(), "too_many_attempts");
    let retry: u64 = r
        .headers
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!((1..=30).contains(&retry), "first lock is 30 s, got {retry}");

    // Lift the lock as if its time had passed: one more failure doubles it.
    let mut conn = t.tdb.conn();
    use daftar_server::schema::users::dsl::*;
    diesel::update(users)
        .set(locked_until.eq(None::<chrono::DateTime<chrono::Utc>>))
        .execute(&mut conn)
        .expect("unlock");
    let r = login_full(&app, "alpha", "admin", "wrong-password!").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = login_full(&app, "alpha", "admin", PW).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r
        .headers
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("secs");
    assert!(
        (31..=60).contains(&retry),
        "second lock is 60 s, got {retry}"
    );
}

#[actix_web::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let t = TestApp::new();
    t.school("alpha");
    let app = test::init_service(build_app(t.state.clone())).await;
    let first = login_full(&app, "alpha", "admin", PW).await.json["refresh_token"]
        .as_str()
        .expect("rt")
        .to_string();
    let refresh = |tok: String| {
        send(
            &app,
            Method::POST,
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": tok})),
        )
    };

    let r = refresh(first.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let second = r.json["refresh_token"].as_str().expect("rt").to_string();
    assert_ne!(first, second, "refresh rotates the token");
    assert!(r.json["access_token"].as_str().is_some());

    // The first token again: theft suspected, the family is revoked.
    let r = refresh(first).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "refresh_token_reused")
    );
    // ...so the legitimate newer token no longer works either.
    let r = refresh(second).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    // A separate login (another family) is unaffected.
    let other = login_full(&app, "alpha", "admin", PW).await.json["refresh_token"]
        .as_str()
        .expect("rt")
        .to_string();
    assert_eq!(refresh(other).await.status, StatusCode::OK);
}

#[actix_web::test]
async fn logout_revokes_the_refresh_token() {
    let t = TestApp::new();
    t.school("alpha");
    let app = test::init_service(build_app(t.state.clone())).await;
    let rt = login_full(&app, "alpha", "admin", PW).await.json["refresh_token"]
        .as_str()
        .expect("rt")
        .to_string();
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/logout",
        None,
        Some(json!({"refresh_token": rt})),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/refresh",
        None,
        Some(json!({"refresh_token": rt})),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_token_is_bound_only_to_a_device_enrolled_to_the_user() {
    let t = TestApp::new();
    t.school("alpha");
    let app = test::init_service(build_app(t.state.clone())).await;
    let r = send(&app, Method::POST, "/api/v1/auth/login", None, Some(json!({
        "school": "alpha", "username": "admin", "password": PW, "device_id": uuid::Uuid::now_v7()
    }))).await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("device_id"))
    );
}
