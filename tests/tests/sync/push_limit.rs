//! The push limit (issue #16): at most `push_limit` sync pushes hold a pooled connection at
//! once; a push over the limit waits for a permit without taking a connection, and every other
//! request keeps being served from the rest of the pool meanwhile.
//!
//! How it is made deterministic: a test connection holds `LOCK TABLE applied_ops IN SHARE
//! MODE`, so the first push blocks inside PostgreSQL (waiting for the lock, its connection
//! held) at its first `applied_ops` insert. `pg_stat_activity` then shows how many pushes are
//! inside the database: with a limit of 1 never more than one, while a second device's push is
//! in flight and a parent's dues page is answered.

use std::time::{Duration, Instant};

use daftar_client_core::client::{office, SyncEngine};
use daftar_client_core::protocol::sync::{OpStatus, PushRequest, PushResponse};
use daftar_client_core::protocol::PaymentMethod;
use daftar_tests::server::TestServer;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use uuid::Uuid;

use super::*;

/// Backends of this database waiting for a heavyweight lock (the blocked pushes).
fn lock_waiters(conn: &mut PgConnection) -> i64 {
    count(
        conn,
        "SELECT count(*) AS n FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
}

/// One offline payment queued on `engine` and the push request carrying it.
fn one_payment_push(engine: &mut SyncEngine, family: Uuid) -> PushRequest {
    office::record_payment(
        &mut engine.store,
        family,
        500,
        PaymentMethod::Cash,
        None,
        None,
    )
    .expect("pay offline");
    let client_id: Uuid = engine
        .store
        .device("client_id")
        .expect("device")
        .expect("client id")
        .parse()
        .expect("uuid");
    let ops = engine
        .store
        .pending_ops(100)
        .expect("ops")
        .into_iter()
        .map(|s| s.op)
        .collect();
    PushRequest { client_id, ops }
}

/// Pushes `req` on a thread with its own HTTP client.
fn push_in_background(
    engine: &SyncEngine,
    req: PushRequest,
) -> std::thread::JoinHandle<PushResponse> {
    let api = engine.api.clone();
    std::thread::spawn(move || api.push(&req).expect("push"))
}

#[test]
fn pushes_over_the_limit_wait_without_taking_a_connection() {
    let tdb = demo_db();
    let mut conn = tdb.conn();
    let server = TestServer::start_with_push_limit(tdb.url(), 1);
    let url = server.url();
    let dirs = [
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    ];
    let mut first = enrol(dirs[0].path(), &url, "accountant");
    let mut second = enrol(dirs[1].path(), &url, "admin");
    let reader = token(&url, "accountant");
    let family = diesel::sql_query("SELECT id FROM families ORDER BY id LIMIT 1")
        .get_result::<IdRow>(&mut conn)
        .expect("a family")
        .id;
    let req_first = one_payment_push(&mut first, family);
    let req_second = one_payment_push(&mut second, family);

    let mut locker = tdb.conn();
    locker
        .batch_execute("BEGIN; LOCK TABLE applied_ops IN SHARE MODE")
        .expect("lock applied_ops");

    let t_first = push_in_background(&first, req_first);
    let deadline = Instant::now() + Duration::from_secs(30);
    while lock_waiters(&mut conn) < 1 {
        assert!(
            Instant::now() < deadline,
            "the first push never reached the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let t_second = push_in_background(&second, req_second);

    // While the first push holds its connection and the second is in flight, other requests
    // are answered and never more than one push is inside the database.
    let watch_until = Instant::now() + Duration::from_secs(2);
    let mut answered = 0;
    while Instant::now() < watch_until {
        let dues = get(&url, &reader, &format!("/families/{family}/dues"));
        assert!(dues["total_outstanding"].is_i64(), "dues answered: {dues}");
        answered += 1;
        assert_eq!(
            lock_waiters(&mut conn),
            1,
            "a second push took a connection past the limit of 1"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!t_second.is_finished(), "the second push waited its turn");

    locker.batch_execute("COMMIT").expect("unlock");
    for (name, t) in [("first", t_first), ("second", t_second)] {
        let resp = t.join().expect("push thread");
        let statuses: Vec<OpStatus> = resp.results.iter().map(|r| r.status).collect();
        assert_eq!(statuses, [OpStatus::Applied], "{name} push: {resp:?}");
    }
    assert!(
        answered >= 5,
        "the dues page was answered {answered} times in 2 s"
    );
}
