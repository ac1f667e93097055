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

/// Two-factor login (issue #17, RFC 6238): enrol (a QR code and a secret, not in force until
/// confirmed), confirm with the app's code (ten recovery codes, shown once, kept hashed), then
/// every login needs a code: none → 401 `two_factor_required`, a code once only, a recovery
/// code once only, wrong codes throttled like wrong passwords; a teacher may not enrol.
#[actix_web::test]
async fn two_factor_login_needs_a_code_each_accepted_once() {
    use daftar_server::auth::two_factor::code_at;
    use daftar_server::schema::user_two_factor;
    let t = TestApp::new();
    let school = t.school("alpha");
    let mut conn = t.tdb.conn();
    create_user(
        &mut conn,
        school.id,
        "teacher",
        "Teacher",
        Role::Teacher,
        Some(pw_hash()),
    )
    .expect("teacher");
    let app = test::init_service(build_app(t.state.clone())).await;
    let two_factor = |code: Option<&str>| {
        let mut body = json!({"school": "alpha", "username": "admin", "password": PW});
        if let Some(c) = code {
            body["two_factor_code"] = json!(c);
        }
        body
    };
    let teacher = login(&app, "alpha", "teacher").await;
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/two-factor/enrol",
        Some(&teacher),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);

    let admin = login(&app, "alpha", "admin").await;
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/two-factor/confirm",
        Some(&admin),
        Some(json!({"code": "123456"})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "two_factor_not_started")
    );
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/two-factor/enrol",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let uri = r.json["otpauth_uri"].as_str().expect("uri");
    assert!(
        uri.starts_with("otpauth://totp/Daftar%20School%20alpha:admin?secret="),
        "{uri}"
    );
    assert!(uri.contains(r.json["secret_base32"].as_str().expect("secret")));
    assert!(r.json["qr_svg"].as_str().expect("svg").contains("<svg"));
    // Not in force before it is confirmed.
    assert_eq!(
        login_full(&app, "alpha", "admin", PW).await.status,
        StatusCode::OK
    );
    let secret: Vec<u8> = user_two_factor::table
        .select(user_two_factor::secret)
        .first(&mut conn)
        .expect("secret");
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/two-factor/confirm",
        Some(&admin),
        Some(json!({"code": "000000"})),
    )
    .await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("code")),
        "{}",
        r.json
    );
    let now = chrono::Utc::now();
    let earlier = code_at(&secret, now - chrono::Duration::seconds(30));
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/two-factor/confirm",
        Some(&admin),
        Some(json!({"code": earlier})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let recovery: Vec<String> =
        serde_json::from_value(r.json["recovery_codes"].clone()).expect("codes");
    assert_eq!(recovery.len(), 10);
    let stored: i64 = daftar_server::schema::user_recovery_codes::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(stored, 10);
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/two-factor/enrol",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "two_factor_already_on")
    );

    // Now a login needs the code.
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(two_factor(None)),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "two_factor_required"),
        "{}",
        r.json
    );
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(two_factor(Some(&earlier))),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "two_factor_invalid"),
        "the confirming code is spent"
    );
    let current = code_at(&secret, chrono::Utc::now());
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(two_factor(Some(&current))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(two_factor(Some(&current))),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "two_factor_invalid"),
        "a code is accepted once"
    );
    let typed = recovery[3].to_uppercase().replace('-', " ");
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(two_factor(Some(&typed))),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a recovery code, however typed: {}",
        r.json
    );
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(two_factor(Some(&recovery[3]))),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "two_factor_invalid"),
        "a recovery code is spent"
    );
    // A wrong password is still a wrong password, code or not.
    let mut wrong = two_factor(Some(&recovery[4]));
    wrong["password"] = json!("not-the-password");
    let r = send(&app, Method::POST, "/api/v1/auth/login", None, Some(wrong)).await;
    assert_eq!(r.code(), "invalid_credentials");

    {
        use daftar_server::schema::audit_log::dsl::*;
        let factors: Vec<Option<serde_json::Value>> = audit_log
            .filter(action.eq("login"))
            .order(at.asc())
            .select(after)
            .load(&mut conn)
            .expect("audit");
        assert_eq!(
            factors.iter().rev().take(2).collect::<Vec<_>>(),
            [
                &Some(json!({"two_factor": "recovery_code"})),
                &Some(json!({"two_factor": "totp"}))
            ]
        );
    }

    // Wrong codes count like wrong passwords: two failures since the last good login, so
    // three more wrong codes lock the account, and then even an unused recovery code waits.
    for i in 0..3 {
        let r = send(
            &app,
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(two_factor(Some("999999"))),
        )
        .await;
        assert_eq!(r.code(), "two_factor_invalid", "attempt {i}");
    }
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(two_factor(Some(&recovery[5]))),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"),
        "{}",
        r.json
    );
}

/// A school that requires two-factor login (issue #17, "enforceable per school"): an admin or
/// accountant without it can only turn it on until they do; a teacher is not affected; the
/// policy is the admin's, and audited.
#[actix_web::test]
async fn a_school_can_require_two_factor_login_of_its_office() {
    use daftar_server::auth::two_factor::code_at;
    use daftar_server::schema::user_two_factor;
    let t = TestApp::new();
    let school = t.school("alpha");
    let mut conn = t.tdb.conn();
    for (name, role) in [("teacher", Role::Teacher), ("accountant", Role::Accountant)] {
        create_user(&mut conn, school.id, name, name, role, Some(pw_hash())).expect("user");
    }
    let app = test::init_service(build_app(t.state.clone())).await;
    let admin = login(&app, "alpha", "admin").await;
    let accountant = login(&app, "alpha", "accountant").await;
    let r = send(
        &app,
        Method::PUT,
        "/api/v1/school/two-factor-policy",
        Some(&accountant),
        Some(json!({"required_for_office": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = send(
        &app,
        Method::PUT,
        "/api/v1/school/two-factor-policy",
        Some(&admin),
        Some(json!({"required_for_office": true})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = send(
        &app,
        Method::GET,
        "/api/v1/school/two-factor-policy",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(r.json, json!({"required_for_office": true}));

    // Logins issued from now on: the accountant may only turn it on; the teacher works.
    let teacher = login(&app, "alpha", "teacher").await;
    assert_eq!(
        send(&app, Method::GET, "/api/v1/classes", Some(&teacher), None)
            .await
            .status,
        StatusCode::OK
    );
    let accountant = login(&app, "alpha", "accountant").await;
    let r = send(
        &app,
        Method::GET,
        "/api/v1/students",
        Some(&accountant),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "two_factor_setup_required"),
        "{}",
        r.json
    );
    assert_eq!(
        send(&app, Method::GET, "/api/v1/me", Some(&accountant), None)
            .await
            .status,
        StatusCode::OK
    );
    let r = send(
        &app,
        Method::POST,
        "/api/v1/sync/devices",
        Some(&accountant),
        Some(json!({"name": "till"})),
    )
    .await;
    assert_eq!(
        r.code(),
        "two_factor_setup_required",
        "no device without it"
    );
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/two-factor/enrol",
        Some(&accountant),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let secret: Vec<u8> = user_two_factor::table
        .select(user_two_factor::secret)
        .first(&mut conn)
        .expect("secret");
    let code = code_at(&secret, chrono::Utc::now() - chrono::Duration::seconds(30));
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/two-factor/confirm",
        Some(&accountant),
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    // With it on, a login with the code is a full one.
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({
        "school": "alpha", "username": "accountant", "password": PW,
        "two_factor_code": code_at(&secret, chrono::Utc::now())})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let full = r.json["access_token"].as_str().expect("token");
    assert_eq!(
        send(&app, Method::GET, "/api/v1/students", Some(full), None)
            .await
            .status,
        StatusCode::OK
    );

    let changed: i64 = {
        use daftar_server::schema::audit_log::dsl::*;
        audit_log
            .filter(action.eq("two_factor_policy_changed"))
            .count()
            .get_result(&mut conn)
            .expect("audit")
    };
    assert_eq!(changed, 1);
}

#[actix_web::test]
async fn an_admin_resets_the_two_factor_login_of_a_user_who_lost_their_phone() {
    use daftar_server::auth::two_factor::code_at;
    use daftar_server::schema::user_two_factor;
    let t = TestApp::new();
    let school = t.school("alpha");
    let mut conn = t.tdb.conn();
    let bursar = create_user(
        &mut conn,
        school.id,
        "bursar",
        "Bursar",
        Role::Accountant,
        Some(pw_hash()),
    )
    .expect("bursar")
    .id;
    let app = test::init_service(build_app(t.state.clone())).await;
    let admin = login(&app, "alpha", "admin").await;
    let reset = |token: String, id: uuid::Uuid| {
        let app = &app;
        async move {
            send(
                app,
                Method::POST,
                &format!("/api/v1/users/{id}/two-factor/reset"),
                Some(&token),
                None,
            )
            .await
        }
    };
    let r = reset(admin.clone(), bursar).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "two_factor_not_on")
    );
    // The bursar turns it on.
    let token = login(&app, "alpha", "bursar").await;
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/two-factor/enrol",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let secret: Vec<u8> = user_two_factor::table
        .select(user_two_factor::secret)
        .first(&mut conn)
        .expect("secret");
    let code = code_at(&secret, chrono::Utc::now());
    let r = send(
        &app,
        Method::POST,
        "/api/v1/auth/two-factor/confirm",
        Some(&token),
        Some(json!({"code": code})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = login_full(&app, "alpha", "bursar", PW).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, "two_factor_required")
    );
    // Phone lost: the bursar may not reset it (admin only), nor the admin their own this way.
    let r = reset(token.clone(), bursar).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    let admin_id = daftar_server::schema::users::table
        .filter(daftar_server::schema::users::username.eq("admin"))
        .select(daftar_server::schema::users::id)
        .first::<uuid::Uuid>(&mut conn)
        .expect("admin");
    let r = reset(admin.clone(), admin_id).await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("id"))
    );
    let r = reset(admin.clone(), uuid::Uuid::now_v7()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The admin resets it: the old sessions end, the password alone signs in again.
    let r = reset(admin.clone(), bursar).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
    let r = send(&app, Method::GET, "/api/v1/me", Some(&token), None).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "whoever holds the phone is signed out"
    );
    let r = login_full(&app, "alpha", "bursar", PW).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let codes: i64 = daftar_server::schema::user_recovery_codes::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(codes, 0, "the recovery codes are gone with it");
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/audit-log?entity=user&entity_id={bursar}"),
        Some(&admin),
        None,
    )
    .await;
    assert!(
        r.json.to_string().contains("two_factor_reset"),
        "{}",
        r.json
    );
}
