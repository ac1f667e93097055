//! Exactly-once at the protocol level: a lost acknowledgement (the same batch pushed again)
//! replays the stored outcomes and changes nothing; a seq gap and a reused op id are refused.

use daftar_client_core::client::office;
use daftar_client_core::protocol::sync::{PushRequest, SyncOp};
use daftar_client_core::protocol::PaymentMethod;
use daftar_tests::server::TestServer;

use super::*;

#[test]
fn a_repeated_push_replays_and_gaps_and_reused_ids_are_refused() {
    let tdb = demo_db();
    let server = TestServer::start(tdb.url());
    let dir = tempfile::tempdir().expect("tmp");
    let mut a = enrol(dir.path(), &server.url(), "accountant");
    let family = office::search_students(&mut a.store, "").expect("students")[0].family_id;
    for amount in [1_000, 2_000, 3_000] {
        office::record_payment(&mut a.store, family, amount, PaymentMethod::Cash, None)
            .expect("pay");
    }
    let ops: Vec<SyncOp> = a
        .store
        .pending_ops(10)
        .expect("ops")
        .into_iter()
        .map(|s| s.op)
        .collect();
    let client_id = a
        .store
        .device("client_id")
        .expect("device")
        .expect("client")
        .parse()
        .expect("uuid");
    let req = PushRequest { client_id, ops };
    let first = a.api.push(&req).expect("push");
    assert!(first.results.iter().all(|r| !r.replayed));
    // The acknowledgement was "lost": the same batch again.
    let again = a.api.push(&req).expect("push again");
    assert!(again.results.iter().all(|r| r.replayed));
    assert_eq!(
        first.results.iter().map(|r| &r.result).collect::<Vec<_>>(),
        again.results.iter().map(|r| &r.result).collect::<Vec<_>>()
    );
    assert_eq!(again.next_seq, 4);

    // A gap: seq 6 when 4 is expected.
    let mut gap = req.ops[0].clone();
    gap.op_id = uuid::Uuid::now_v7();
    gap.seq = 6;
    let err = a
        .api
        .push(&PushRequest {
            client_id,
            ops: vec![gap],
        })
        .expect_err("gap");
    assert_eq!(err.status(), Some(409));
    assert!(err.to_string().contains("expected seq 4"), "{err}");

    // The same op id with a different body.
    let mut reused = req.ops[0].clone();
    reused.args["amount"] = serde_json::json!(999);
    let err = a
        .api
        .push(&PushRequest {
            client_id,
            ops: vec![reused],
        })
        .expect_err("reused");
    assert!(err.to_string().contains("op_id_reused"), "{err}");

    let mut conn = tdb.conn();
    use diesel::prelude::*;
    let n: i64 = daftar_server::schema::payments::table
        .filter(daftar_server::schema::payments::family_id.eq(family))
        .filter(daftar_server::schema::payments::amount.eq_any([1_000i64, 2_000, 3_000]))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(n, 3, "three payments, each once");
}
