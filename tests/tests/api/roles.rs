//! Users with several roles (issue #17): what a user may do and see is the union of its roles,
//! and nothing more; a role taken away ends the user's logins at once.

use actix_web::http::{Method, StatusCode};
use actix_web::test as actix_test;
use daftar_server::app::build_app;
use serde_json::json;
use uuid::Uuid;

use super::attendance::{school_today, with_current_term};
use super::*;

/// The id of user `username`, as the admin reads it.
async fn user_id<S, B>(app: &S, admin: &str, username: &str) -> Uuid
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let r = send(
        app,
        Method::GET,
        &format!("/api/v1/users?q={username}"),
        Some(admin),
        None,
    )
    .await;
    let found: Vec<&serde_json::Value> = r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|u| u["username"] == username)
        .collect();
    found[0]["id"].as_str().expect("id").parse().expect("uuid")
}

fn sorted(mut v: Vec<Uuid>) -> Vec<Uuid> {
    v.sort();
    v
}

#[actix_web::test]
async fn a_teacher_who_is_also_a_parent_sees_the_union_of_both_roles_and_nothing_more() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    // t2 teaches class c2 (student s2 of family f1). s3 (family f2) is in c1, taught by t1.
    let a = with_current_term(&t, &app).await;
    let t2_id = user_id(&app, &a.admin, "t2").await;

    // Not a parent yet: t2 cannot be a guardian's login.
    let r = send(&app, Method::POST, "/api/v1/guardians", Some(&a.admin),
        Some(json!({"family_id": a.f2, "user_id": t2_id, "given_name": "Tariq", "family_name": "Shah"}))).await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("user_id")),
        "{}",
        r.json
    );
    // The admin gives t2 the parent role too; `role` stays the most privileged for old clients.
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{t2_id}"),
        Some(&a.admin),
        Some(json!({"roles": ["parent", "teacher", "parent"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(r.json["roles"], json!(["teacher", "parent"]));
    assert_eq!(r.json["role"], "teacher");
    // Neither an empty set nor role and roles together.
    for body in [
        json!({"roles": []}),
        json!({"role": "teacher", "roles": ["parent"]}),
    ] {
        let r = send(
            &app,
            Method::PATCH,
            &format!("/api/v1/users/{t2_id}"),
            Some(&a.admin),
            Some(body),
        )
        .await;
        assert_eq!(
            (r.status, r.json["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("roles")),
            "{}",
            r.json
        );
    }
    create(
        &app,
        &a.admin,
        "/api/v1/guardians",
        json!({"family_id": a.f2, "user_id": t2_id, "given_name": "Tariq", "family_name": "Shah"}),
    )
    .await;

    let t2 = login(&app, "alpha", "t2").await;
    let me = send(&app, Method::GET, "/api/v1/me", Some(&t2), None).await;
    assert_eq!(me.json["roles"], json!(["teacher", "parent"]));

    // Students: the taught class's (s2) and their own child (s3), not s1.
    let r = send(&app, Method::GET, "/api/v1/students", Some(&t2), None).await;
    assert_eq!(sorted(ids(&r.json)), sorted(vec![a.s2, a.s3]));
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/students/{}", a.s1),
        Some(&t2),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    // Classes: the one taught (c2) and the child's (c1).
    let r = send(&app, Method::GET, "/api/v1/classes", Some(&t2), None).await;
    let classes = ids(&r.json);
    assert!(
        classes.contains(&a.c1) && classes.contains(&a.c2),
        "{}",
        r.json
    );
    // Families and money: their own family only; a pupil's family stays closed to the teacher.
    let r = send(&app, Method::GET, "/api/v1/families", Some(&t2), None).await;
    assert_eq!(ids(&r.json), vec![a.f2]);
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/dues", a.f2),
        Some(&t2),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/dues", a.f1),
        Some(&t2),
        None,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "s2's family is not theirs: {}",
        r.json
    );
    // Enrolments: c2's and their child's.
    let r = send(&app, Method::GET, "/api/v1/enrollments", Some(&t2), None).await;
    let students: Vec<&str> = r.json["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["student_id"].as_str().expect("student"))
        .collect();
    let (s2, s3) = (a.s2.to_string(), a.s3.to_string());
    assert!(
        students.iter().all(|s| *s == s2 || *s == s3) && students.len() == 2,
        "{}",
        r.json
    );

    // Marking: the taught class as a teacher; the child's class is not theirs to mark or view.
    let today = school_today();
    let r = send(
        &app,
        Method::PUT,
        &format!("/api/v1/classes/{}/registers/{today}", a.c2),
        Some(&t2),
        Some(json!({"exceptions": []})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = send(
        &app,
        Method::PUT,
        &format!("/api/v1/classes/{}/registers/{today}", a.c1),
        Some(&t2),
        Some(json!({"exceptions": []})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/classes/{}/registers/{today}", a.c1),
        Some(&t2),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.json);
    // Nothing of the office.
    for path in [
        "/api/v1/users",
        "/api/v1/reports/collections",
        "/api/v1/audit-log",
    ] {
        let r = send(&app, Method::GET, path, Some(&t2), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.json);
    }
    let r = send(
        &app,
        Method::POST,
        "/api/v1/families",
        Some(&t2),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Taking the parent role away ends t2's logins at once; a new login is a teacher's only.
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{t2_id}"),
        Some(&a.admin),
        Some(json!({"roles": ["teacher"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    let r = send(&app, Method::GET, "/api/v1/families", Some(&t2), None).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the old token names the parent role: {}",
        r.json
    );
    let t2 = login(&app, "alpha", "t2").await;
    let r = send(&app, Method::GET, "/api/v1/families", Some(&t2), None).await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a teacher reads no families: {}",
        r.json
    );
    let r = send(&app, Method::GET, "/api/v1/students", Some(&t2), None).await;
    assert_eq!(ids(&r.json), vec![a.s2]);

    // The audit log shows the roles before and after.
    let r = send(
        &app,
        Method::GET,
        &format!("/api/v1/audit-log?entity=user&entity_id={t2_id}"),
        Some(&a.admin),
        None,
    )
    .await;
    let text = r.json.to_string();
    assert!(
        text.contains("\"roles\":[\"teacher\",\"parent\"]")
            && text.contains("\"roles\":[\"teacher\"]"),
        "{text}"
    );
}

#[actix_web::test]
async fn an_admin_who_teaches_keeps_the_office_and_may_not_drop_their_own_admin_role() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let a = with_current_term(&t, &app).await;
    let admin_id = user_id(&app, &a.admin, "admin").await;
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{admin_id}"),
        Some(&a.admin),
        Some(json!({"roles": ["admin", "teacher"]})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    // A new user with several roles at once.
    let r = send(&app, Method::POST, "/api/v1/users", Some(&a.admin), Some(json!({
        "username": "bursar", "display_name": "Bursar", "roles": ["parent", "accountant"], "password": PW
    }))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["roles"], json!(["accountant", "parent"]));
    let r = send(
        &app,
        Method::POST,
        "/api/v1/users",
        Some(&a.admin),
        Some(json!({
            "username": "nobody", "display_name": "Nobody", "password": PW
        })),
    )
    .await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("roles")),
        "{}",
        r.json
    );
    // The admin who teaches is assigned a class and is still the whole school's admin.
    let r = send(
        &app,
        Method::PUT,
        &format!("/api/v1/classes/{}/teachers/{admin_id}", a.c2),
        Some(&a.admin),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
    let admin = login(&app, "alpha", "admin").await;
    let r = send(&app, Method::GET, "/api/v1/students", Some(&admin), None).await;
    assert_eq!(r.json["total"], 3, "{}", r.json);
    let today = school_today();
    let r = send(
        &app,
        Method::PUT,
        &format!("/api/v1/classes/{}/registers/{today}", a.c1),
        Some(&admin),
        Some(json!({"exceptions": []})),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "an admin marks any class as the office: {}",
        r.json
    );
    // Dropping their own admin role is refused, naming the field.
    let r = send(
        &app,
        Method::PATCH,
        &format!("/api/v1/users/{admin_id}"),
        Some(&admin),
        Some(json!({"roles": ["teacher"]})),
    )
    .await;
    assert_eq!(
        (r.status, r.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("role")),
        "{}",
        r.json
    );
}
