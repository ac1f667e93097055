//! Attendance end to end (ARCHITECTURE.md §5): bulk marking, the rules that refuse, office
//! overrides, history, views and absence notifications.

use std::sync::Mutex;

use actix_web::http::{Method, StatusCode};
use actix_web::test as actix_test;
use chrono::{Duration, NaiveDate, Utc};
use daftar_server::app::build_app;
use daftar_server::attendance::notify::{
    dispatch_pending, NotificationProvider, PendingNotification,
};
use diesel::prelude::*;
use serde_json::json;

use super::*;

/// Today at the school (Asia/Karachi), as the server computes it.
pub(super) fn school_today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Karachi)
        .date_naive()
}

/// The scenario plus a term spanning today (so the test does not depend on the calendar).
pub(super) async fn with_current_term<S, B>(t: &TestApp, app: &S) -> Scenario
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let a = scenario(t, app, "alpha").await;
    let today = school_today();
    let (start, end) = (today - Duration::days(30), today + Duration::days(30));
    create(
        app,
        &a.admin,
        "/api/v1/academic-years",
        json!({"name": "Current", "starts_on": start, "ends_on": end,
        "terms": [{"name": "Now", "starts_on": start, "ends_on": end}]}),
    )
    .await;
    a
}

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

impl NotificationProvider for Recorder {
    fn send(&self, n: &PendingNotification) -> Result<(), String> {
        self.0
            .lock()
            .map_err(|e| e.to_string())?
            .push(n.message.clone());
        Ok(())
    }
}

#[actix_web::test]
async fn a_teacher_marks_the_class_in_one_request_and_absences_notify_guardians() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let a = with_current_term(&t, &app).await;
    let t1 = login(&app, "alpha", "t1").await;
    let today = school_today();
    let path = format!("/api/v1/classes/{}/registers/{today}", a.c1);

    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&t1),
        Some(json!({"exceptions": [{"student_id": a.s1, "code": "A"}]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["changed"], 2);
    let marks = r.json["register"]["marks"].as_array().expect("marks");
    let code_of = |s: uuid::Uuid| {
        marks
            .iter()
            .find(|m| m["student_id"] == s.to_string())
            .map(|m| m["code"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(
        (code_of(a.s1).as_deref(), code_of(a.s3).as_deref()),
        (Some("A"), Some("P"))
    );
    assert!(r.json["register"]["taken_at"].is_string());

    // Re-sending the same register changes nothing.
    let again = send(
        &app,
        Method::PUT,
        &path,
        Some(&t1),
        Some(json!({"exceptions": [{"student_id": a.s1, "code": "A"}]})),
    )
    .await;
    assert_eq!(again.json["changed"], 0);

    // S1's guardian (with a phone) is notified once, through the provider.
    let mut conn = t.tdb.conn();
    let recorder = Recorder::default();
    assert_eq!(
        dispatch_pending(&mut conn, &recorder, 100).expect("dispatch"),
        1
    );
    assert!(recorder.0.lock().expect("lock")[0].contains("Ali was marked absent from Grade 3-A"));
    assert_eq!(
        dispatch_pending(&mut conn, &recorder, 100).expect("dispatch"),
        0,
        "sent once"
    );

    // The views agree.
    let sum = send(
        &app,
        Method::GET,
        &format!("/api/v1/attendance/summary?date={today}"),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(
        (
            sum.json["registers_taken"].as_i64(),
            sum.json["counts"]["absent"].as_i64(),
            sum.json["counts"]["present"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    let not_taken = send(
        &app,
        Method::GET,
        &format!("/api/v1/attendance/not-taken?date={today}"),
        Some(&a.admin),
        None,
    )
    .await;
    let classes: Vec<&str> = not_taken
        .json
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["class_id"].as_str().expect("id"))
        .collect();
    assert_eq!(classes, vec![a.c2.to_string()]);
    let from = today - Duration::days(7);
    let hist = send(
        &app,
        Method::GET,
        &format!(
            "/api/v1/students/{}/attendance?from={from}&to={today}",
            a.s3
        ),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(
        (
            hist.json["counts"]["present"].as_i64(),
            hist.json["percentage"].as_f64()
        ),
        (Some(1), Some(100.0))
    );
    let grid = send(
        &app,
        Method::GET,
        &format!("/api/v1/classes/{}/attendance?from={from}&to={today}", a.c1),
        Some(&t1),
        None,
    )
    .await;
    assert_eq!(grid.json["dates"].as_array().map(Vec::len), Some(1));
    assert_eq!(grid.json["rows"].as_array().map(Vec::len), Some(2));
    let mine = send(
        &app,
        Method::GET,
        "/api/v1/attendance/my-registers",
        Some(&t1),
        None,
    )
    .await
    .json;
    assert_eq!(
        mine.as_array().map(Vec::len),
        Some(1),
        "only the teacher's class"
    );
    assert_eq!(
        (
            mine[0]["taken"].as_bool(),
            mine[0]["marked"].as_i64(),
            mine[0]["enrolled"].as_i64()
        ),
        (Some(true), Some(2), Some(2))
    );

    // Parents see their own child's attendance only.
    let p1 = login(&app, "alpha", "p1").await;
    let mine = send(
        &app,
        Method::GET,
        &format!(
            "/api/v1/students/{}/attendance?from={from}&to={today}",
            a.s1
        ),
        Some(&p1),
        None,
    )
    .await;
    assert_eq!(
        (mine.status, mine.json["counts"]["absent"].as_i64()),
        (StatusCode::OK, Some(1))
    );
    let other = send(
        &app,
        Method::GET,
        &format!(
            "/api/v1/students/{}/attendance?from={from}&to={today}",
            a.s3
        ),
        Some(&p1),
        None,
    )
    .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn refusals_say_which_rule_refused() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let a = with_current_term(&t, &app).await;
    let t1 = login(&app, "alpha", "t1").await;
    let today = school_today();
    let app_ref = &app;
    let mark = |token: String, class: uuid::Uuid, date: NaiveDate, body: serde_json::Value| {
        let path = format!("/api/v1/classes/{class}/registers/{date}");
        async move { send(app_ref, Method::PUT, &path, Some(&token), Some(body)).await }
    };

    let r = mark(t1.clone(), a.c2, today, json!({})).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let r = mark(t1.clone(), a.c1, today - Duration::days(1), json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "edit_window_closed"),
        "{}",
        r.json
    );
    assert!(
        r.json["detail"].as_str().unwrap_or("").contains("office"),
        "{}",
        r.json
    );
    let r = mark(t1.clone(), a.c1, today + Duration::days(1), json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "future_date")
    );
    let r = mark(
        a.admin.clone(),
        a.c1,
        NaiveDate::from_ymd_opt(2020, 1, 6).expect("date"),
        json!({}),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "outside_term")
    );
    let r = mark(
        t1.clone(),
        a.c1,
        today,
        json!({"exceptions": [{"student_id": a.s2, "code": "A"}]}),
    )
    .await;
    assert_eq!(
        r.json["field"], "exceptions[0].student_id",
        "S2 is not in this class"
    );
    let r = mark(t1.clone(), a.c1, today, json!({"default_code": "Z"})).await;
    assert_eq!(r.json["field"], "default_code");
    let p1 = login(&app, "alpha", "p1").await;
    assert_eq!(
        mark(p1, a.c1, today, json!({})).await.status,
        StatusCode::FORBIDDEN
    );

    // The office may mark a past date (in term) for any class.
    let r = mark(a.admin.clone(), a.c2, today - Duration::days(3), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let mut conn = t.tdb.conn();
    let registers: i64 = daftar_server::schema::registers::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(registers, 1, "refused requests created no register");
}

#[actix_web::test]
async fn an_office_override_needs_a_reason_and_beats_later_teacher_marks() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let a = with_current_term(&t, &app).await;
    let t1 = login(&app, "alpha", "t1").await;
    let today = school_today();
    let path = format!("/api/v1/classes/{}/registers/{today}", a.c1);
    let first = send(
        &app,
        Method::PUT,
        &path,
        Some(&t1),
        Some(json!({"exceptions": [{"student_id": a.s1, "code": "A"}]})),
    )
    .await;
    let taken_register = first.json["register"]["id"]
        .as_str()
        .expect("register id")
        .to_string();
    let logged_version = |key: String| {
        use daftar_server::schema::change_log::dsl as cl;
        let mut conn = t.tdb.conn();
        cl::change_log
            .filter(cl::row_key.eq(key))
            .select(cl::version)
            .first::<i64>(&mut conn)
            .expect("change log row")
    };
    let s1_key = format!("{taken_register}:{}", a.s1);
    let (register_v1, s1_v1) = (
        logged_version(taken_register.clone()),
        logged_version(s1_key.clone()),
    );

    let r = send(
        &app,
        Method::PUT,
        &path,
        Some(&a.admin),
        Some(json!({"exceptions": [{"student_id": a.s1, "code": "L"}]})),
    )
    .await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let r = send(&app, Method::PUT, &path, Some(&a.admin), Some(json!({"exceptions": [{"student_id": a.s1, "code": "L"}], "reason": "arrived 09:10 with a note"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);

    // The teacher re-sends the register with everyone present: the office mark stays.
    let r = send(&app, Method::PUT, &path, Some(&t1), Some(json!({}))).await;
    assert_eq!(r.json["kept_office_overrides"], json!([a.s1]));
    let s1 = r.json["register"]["marks"]
        .as_array()
        .expect("marks")
        .iter()
        .find(|m| m["student_id"] == a.s1.to_string())
        .expect("s1")
        .clone();
    assert_eq!(
        (s1["code"].as_str(), s1["source"].as_str()),
        (Some("L"), Some("office"))
    );
    // Re-marking a taken register changes its marks, not the register: the register keeps
    // when it was first taken and its change-log version, so devices do not pull it again.
    assert_eq!(
        r.json["register"]["taken_at"],
        first.json["register"]["taken_at"]
    );
    assert_eq!(logged_version(taken_register.clone()), register_v1);
    assert!(logged_version(s1_key) > s1_v1);

    // Full history kept: teacher A, office L.
    let mut conn = t.tdb.conn();
    use daftar_server::schema::attendance_mark_history::dsl::*;
    let sources: Vec<String> = attendance_mark_history
        .filter(student_id.eq(a.s1))
        .order(marked_at)
        .select(source)
        .load(&mut conn)
        .expect("history");
    assert_eq!(sources, vec!["teacher", "office"]);
    // The absence notice for S1 was cancelled when the office changed A to L.
    use daftar_server::schema::guardian_notifications::dsl as gn;
    let statuses: Vec<String> = gn::guardian_notifications
        .select(gn::status)
        .load(&mut conn)
        .expect("notices");
    assert_eq!(statuses, vec!["cancelled"]);
}
