//! Offline sync end to end (ARCHITECTURE.md §6): a real server (the production app on a loopback port)
//! on a real PostgreSQL, office agents and a teacher client on real SQLite files. The server is
//! stopped to play "the cable is out" and started again on the same port.

mod adjustments;
mod batched;
mod compaction;
mod devices;
mod e2e;
mod exactly_once;
mod feed;
mod push_limit;
mod scope_agreement;
mod set_based;
mod simulation;

use std::path::Path;

use daftar_client_core::client::SyncEngine;
use daftar_client_core::protocol::LoginRequest;
use daftar_tests::TestDb;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use serde_json::Value;
use uuid::Uuid;

/// Every demo login's password in these tests.
pub const PW: &str = "e2e-password-1234";

/// A row of one uuid column named `id`.
#[derive(QueryableByName)]
pub struct IdRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The `n` of `sql`, a `SELECT count(*) AS n …` without parameters.
pub fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .expect("count")
        .n
}

/// The `n` of `sql`, a `SELECT count(*) AS n …` whose one parameter `$1` is `id`.
pub fn count_for(conn: &mut PgConnection, sql: &str, id: Uuid) -> i64 {
    diesel::sql_query(sql)
        .bind::<SqlUuid, _>(id)
        .get_result::<Count>(conn)
        .expect("count")
        .n
}

/// A database with the demo school (600 students, invoices, payments, attendance).
pub fn demo_db() -> TestDb {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    daftar_server::demo::seed(&mut conn, Some(PW), &daftar_server::auth::password::hash)
        .expect("seed demo");
    tdb
}

/// Enrols a device for `username` in `dir` and pulls the school.
pub fn enrol(dir: &Path, url: &str, username: &str) -> SyncEngine {
    let login = LoginRequest {
        school: "demo".into(),
        username: username.into(),
        password: PW.into(),
        device_id: None,
        two_factor_code: None,
    };
    let mut e = SyncEngine::init(dir, url, &login, &format!("{username}'s device"))
        .unwrap_or_else(|err| panic!("enrol {username}: {err}"));
    e.sync_once(&mut |_, _| {}).expect("first sync");
    e
}

/// An access token for `username` (REST checks from the server's side).
pub fn token(url: &str, username: &str) -> String {
    let v: Value = ureq::post(&format!("{url}/api/v1/auth/login"))
        .send_json(serde_json::json!({ "school": "demo", "username": username, "password": PW }))
        .expect("login")
        .into_json()
        .expect("json");
    v["access_token"].as_str().expect("token").to_string()
}

/// `GET {url}/api/v1{path}` as JSON.
pub fn get(url: &str, token: &str, path: &str) -> Value {
    ureq::get(&format!("{url}/api/v1{path}"))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
        .into_json()
        .expect("json")
}
