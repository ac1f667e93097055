//! Change-log compaction (ARCHITECTURE.md §6): "a cursor older than the
//! compaction horizon gets 410 and a re-snapshot".

use chrono::Utc;
use daftar_client_core::client::ClientError;
use daftar_server::sync::compaction;
use daftar_tests::server::TestServer;
use diesel::prelude::*;

use super::*;

/// True when `engine`'s replica holds the row `entity`/`id`.
fn replica_has(engine: &mut SyncEngine, entity: &str, id: &str) -> bool {
    let mut found = false;
    engine
        .store
        .replica_keys(|e, i, _| found |= e == entity && i == id)
        .expect("replica keys");
    found
}

#[test]
fn a_device_behind_the_compaction_horizon_takes_a_fresh_snapshot() {
    let tdb = demo_db();
    let mut conn = tdb.conn();
    let server = TestServer::start(tdb.url());
    let url = server.url();
    let dir = tempfile::tempdir().expect("tmp");
    let mut away = enrol(dir.path(), &url, "accountant");
    let old_cursor = away.store.cursor().expect("cursor");

    // While the device is away, the office removes an enrollment: the change log keeps a
    // tombstone for it.
    let enrollment: IdRow = diesel::sql_query("SELECT id FROM enrollments ORDER BY id LIMIT 1")
        .get_result(&mut conn)
        .expect("enrollment");
    let key = enrollment.id.to_string();
    assert!(replica_has(&mut away, "enrollments", &key));
    let admin = token(&url, "admin");
    let status = ureq::delete(&format!("{url}/api/v1/enrollments/{key}"))
        .set("Authorization", &format!("Bearer {admin}"))
        .call()
        .expect("delete enrollment")
        .status();
    assert_eq!(status, 204);

    // The operator compacts every tombstone deleted until now.
    let school: IdRow = diesel::sql_query("SELECT id FROM schools WHERE slug = 'demo'")
        .get_result(&mut conn)
        .expect("school");
    let done = conn
        .transaction(|c| {
            compaction::compact(c, school.id, Utc::now() + chrono::Duration::seconds(1))
        })
        .expect("compact");
    assert_eq!(done.removed, 1, "{done:?}");
    let again = conn
        .transaction(|c| compaction::compact(c, school.id, Utc::now()))
        .expect("compact again");
    assert_eq!(
        again,
        compaction::Compaction {
            removed: 0,
            horizon: done.horizon
        }
    );

    // The device's cursor is behind the horizon: the server refuses it by name.
    match away.api.pull(&old_cursor, 10, None) {
        Err(ClientError::Server { problem, .. }) => {
            assert_eq!(
                (problem.status, problem.code.as_str()),
                (410, "cursor_expired")
            );
        }
        other => panic!("expected 410 cursor_expired, got {other:?}"),
    }

    // The engine takes a fresh snapshot: the removed enrollment leaves its replica (no
    // tombstone could have told it), and the replica equals the server.
    away.sync_once(&mut |_, _| {})
        .expect("sync after compaction");
    assert!(!replica_has(&mut away, "enrollments", &key));
    let (local, remote) = away.digests().expect("digests");
    assert_eq!(local.entities, remote.entities);
    // It pulls incrementally again from its new cursor.
    let cursor = away.store.cursor().expect("cursor");
    assert!(away.api.pull(&cursor, 10, None).is_ok());

    // A device enrolled after the compaction takes its first snapshot as usual.
    let fresh_dir = tempfile::tempdir().expect("tmp");
    let mut fresh = enrol(fresh_dir.path(), &url, "admin");
    let (local, remote) = fresh.digests().expect("digests");
    assert_eq!(local.entities, remote.entities);
}
