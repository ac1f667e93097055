//! End-to-end tests of the HTTP API against a real PostgreSQL (one database per test), in one
//! test binary. Helpers live here; each module is one area.

mod admissions;
mod attendance;
mod audit_log;
mod auth;
mod generated;
mod hardening;
mod ledger;
mod ledger_properties;
mod new_school_bulk;
mod oneroster;
mod roles;
mod roster;
mod schema_rules;
mod scopes;
mod structure;

use std::sync::OnceLock;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header::HeaderMap, Method, StatusCode};
use daftar_client_core::protocol::Role;
use daftar_server::app::AppState;
use daftar_server::auth::password;
use daftar_server::config::AuthConfig;
use daftar_server::schools::{create_school, create_user, NewSchool};
use daftar_server::tenancy::SchoolRow;
use daftar_tests::TestDb;
use serde_json::{json, Value};
use uuid::Uuid;

/// Every test user's password.
pub const PW: &str = "correct-horse-battery";

/// One argon2id hash of [`PW`], computed once per process to keep tests fast.
pub fn pw_hash() -> String {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| password::hash(PW).expect("hash")).clone()
}

/// A test database and the server state over it.
pub struct TestApp {
    pub tdb: TestDb,
    pub state: AppState,
}

impl Default for TestApp {
    fn default() -> Self {
        Self::new()
    }
}

impl TestApp {
    pub fn new() -> Self {
        let tdb = TestDb::new();
        let state = AppState {
            db: tdb.db(4),
            auth: AuthConfig::new(b"test-secret-test-secret-test-secret!".to_vec()),
            pokes: Default::default(),
            invoice_runs: Default::default(),
        };
        TestApp { tdb, state }
    }

    /// Creates a school and its admin (the CLI path); returns the school.
    pub fn school(&self, slug: &str) -> SchoolRow {
        let mut conn = self.tdb.conn();
        let school = create_school(
            &mut conn,
            &NewSchool {
                slug: slug.into(),
                name: format!("School {slug}"),
                currency: "PKR".into(),
                timezone: "Asia/Karachi".into(),
            },
        )
        .expect("create school");
        create_user(
            &mut conn,
            school.id,
            "admin",
            "Admin",
            Role::Admin,
            Some(pw_hash()),
        )
        .expect("create admin");
        school
    }
}

/// An HTTP answer: status, headers and the JSON body (`Null` when empty).
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub json: Value,
}

impl Resp {
    /// The problem `code` of an error answer.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

/// Sends one request through the full actix app.
pub async fn send<S, B>(
    app: &S,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let mut req = actix_web::test::TestRequest::default()
        .method(method)
        .uri(path);
    if let Some(t) = token {
        req = req.insert_header(("authorization", format!("Bearer {t}")));
    }
    if let Some(b) = body {
        req = req.set_json(b);
    }
    let resp = actix_web::test::call_service(app, req.to_request()).await;
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = actix_web::test::read_body(resp).await;
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Resp {
        status,
        headers,
        json,
    }
}

/// Logs in and returns the whole token response.
pub async fn login_full<S, B>(app: &S, school: &str, username: &str, password: &str) -> Resp
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    send(
        app,
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"school": school, "username": username, "password": password})),
    )
    .await
}

/// Logs in with [`PW`]; returns the access token.
pub async fn login<S, B>(app: &S, school: &str, username: &str) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = login_full(app, school, username, PW).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "login {school}/{username}: {}",
        r.json
    );
    r.json["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

/// POSTs as `token`, asserts 201, returns the created object's id.
pub async fn create<S, B>(app: &S, token: &str, path: &str, body: Value) -> Uuid
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let r = send(app, Method::POST, path, Some(token), Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "POST {path}: {}", r.json);
    r.json["id"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id")
}

/// A small school built through the API by its admin:
/// classes C1 (teacher T1; students S1, S3) and C2 (teacher T2; student S2);
/// family F1 (S1, S2; guardian G1 = parent login P1) and F2 (S3; guardian G2 = parent P2).
pub struct Scenario {
    pub school: SchoolRow,
    pub admin: String,
    pub c1: Uuid,
    pub c2: Uuid,
    pub f1: Uuid,
    pub f2: Uuid,
    pub s1: Uuid,
    pub s2: Uuid,
    pub s3: Uuid,
}

pub async fn scenario<S, B>(t: &TestApp, app: &S, slug: &str) -> Scenario
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let school = t.school(slug);
    let admin = login(app, slug, "admin").await;
    let year = create(
        app,
        &admin,
        "/api/v1/academic-years",
        json!({
            "name": "2026-27", "starts_on": "2026-04-01", "ends_on": "2027-03-31",
            "terms": [{"name": "Term 1", "starts_on": "2026-04-01", "ends_on": "2026-09-30"}]
        }),
    )
    .await;
    let user = |name: &'static str, role: &'static str| {
        let admin = admin.clone();
        async move {
            create(app, &admin, "/api/v1/users", json!({
                "username": name, "display_name": name.to_uppercase(), "role": role, "password": PW
            }))
            .await
        }
    };
    let t1 = user("t1", "teacher").await;
    let t2 = user("t2", "teacher").await;
    let p1 = user("p1", "parent").await;
    let p2 = user("p2", "parent").await;
    user("acct", "accountant").await;
    let c1 = create(app, &admin, "/api/v1/classes", json!({"academic_year_id": year, "name": "Grade 3-A", "grade": "3", "section": "A", "homeroom_teacher_id": t1})).await;
    let c2 = create(
        app,
        &admin,
        "/api/v1/classes",
        json!({"academic_year_id": year, "name": "Grade 4-A", "grade": "4", "section": "A"}),
    )
    .await;
    for (c, tch) in [(c1, t1), (c2, t2)] {
        let r = send(
            app,
            Method::PUT,
            &format!("/api/v1/classes/{c}/teachers/{tch}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.json);
    }
    let f1 = create(
        app,
        &admin,
        "/api/v1/families",
        json!({"name": "Malik family"}),
    )
    .await;
    let f2 = create(
        app,
        &admin,
        "/api/v1/families",
        json!({"name": "Shah family"}),
    )
    .await;
    let s1 = create(app, &admin, "/api/v1/students", json!({"family_id": f1, "admission_no": "A-1", "given_name": "Ali", "family_name": "Malik", "grade": "3"})).await;
    let s2 = create(app, &admin, "/api/v1/students", json!({"family_id": f1, "admission_no": "A-2", "given_name": "Zara", "family_name": "Malik", "grade": "4"})).await;
    let s3 = create(app, &admin, "/api/v1/students", json!({"family_id": f2, "admission_no": "A-3", "given_name": "Hira", "family_name": "Shah", "grade": "3"})).await;
    create(app, &admin, "/api/v1/guardians", json!({"family_id": f1, "user_id": p1, "given_name": "Imran", "family_name": "Malik", "phone": "+923001234567"})).await;
    create(
        app,
        &admin,
        "/api/v1/guardians",
        json!({"family_id": f2, "user_id": p2, "given_name": "Saima", "family_name": "Shah"}),
    )
    .await;
    for (c, s) in [(c1, s1), (c2, s2), (c1, s3)] {
        create(
            app,
            &admin,
            "/api/v1/enrollments",
            json!({"class_id": c, "student_id": s}),
        )
        .await;
    }
    Scenario {
        school,
        admin,
        c1,
        c2,
        f1,
        f2,
        s1,
        s2,
        s3,
    }
}

/// The `id`s of a page's items.
pub fn ids(page: &Value) -> Vec<Uuid> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().and_then(|s| s.parse().ok()).expect("id"))
        .collect()
}
