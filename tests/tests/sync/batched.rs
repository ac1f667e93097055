//! Push throughput (BENCHMARKS.md): the server records all the payments of a push chunk as one batch
//! and all its register marks as another. One push here carries what op-by-op application
//! would have to get right: two payments of one family (the second sees what the first
//! paid), a refused payment between them, two markings of one register (applied one after the
//! other) and a refused marking — and gives the same results as the REST calls.

use chrono::Utc;
use daftar_client_core::client::office;
use daftar_client_core::protocol::sync::{OpStatus, ATTENDANCE_OVERRIDE, PAYMENT_RECORD};
use daftar_client_core::protocol::PaymentMethod;
use daftar_tests::server::TestServer;
use diesel::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;

#[test]
fn one_push_applies_its_payments_and_marks_in_seq_order() {
    let tdb = demo_db();
    let mut conn = tdb.conn();
    let server = TestServer::start(tdb.url());
    let url = server.url();
    let dir = tempfile::tempdir().expect("tmp");
    let mut a = enrol(dir.path(), &url, "accountant");
    let office_token = token(&url, "accountant");

    // A family whose oldest open line is bigger than both payments together.
    let family = diesel::sql_query(
        "SELECT i.family_id AS id FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
          WHERE l.amount > 10000
            AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.invoice_line_id = l.id)
          ORDER BY i.family_id LIMIT 1",
    )
    .get_result::<IdRow>(&mut conn)
    .expect("a family owing")
    .id;
    let dues_before = get(&url, &office_token, &format!("/families/{family}/dues"));
    let owed_before = dues_before["total_outstanding"].as_i64().expect("owed");

    // Offline: pay 1,000; a payment of 0 (refused by the server); pay 2,000.
    let r1 = office::record_payment(&mut a.store, family, 1_000, PaymentMethod::Cash, None, None)
        .expect("pay");
    let bad_payment = json!({ "id": Uuid::now_v7(), "family_id": family, "amount": 0,
                              "currency": "PKR", "method": "cash" });
    a.store
        .enqueue(PAYMENT_RECORD, &bad_payment, None, &[])
        .expect("queue");
    let r2 = office::record_payment(&mut a.store, family, 2_000, PaymentMethod::Cash, None, None)
        .expect("pay");

    // Offline: today's register of a class marked twice by the office (absent, then late) and
    // once with a code the school does not have.
    let tz: chrono_tz::Tz = "Asia/Karachi".parse().expect("tz");
    let today = Utc::now().with_timezone(&tz).date_naive();
    let class = office::classes(&mut a.store).expect("classes")[0].id;
    let roster = office::roster(&mut a.store, class, today).expect("roster");
    let student = roster[0].id;
    for code in ["A", "L"] {
        office::mark_register(
            &mut a.store,
            class,
            today,
            "P",
            &[(student, code.into())],
            Some(format!("office correction to {code}")),
        )
        .expect("mark");
    }
    let bad_mark = json!({ "class_id": class, "on_date": today, "default_code": "P",
                           "reason": "typo",
                           "exceptions": [{ "student_id": student, "code": "Z" }] });
    a.store
        .enqueue(ATTENDANCE_OVERRIDE, &bad_mark, None, &[])
        .expect("queue");

    let client_id: Uuid = a
        .store
        .device("client_id")
        .expect("device")
        .expect("client")
        .parse()
        .expect("uuid");
    let ops: Vec<_> = a
        .store
        .pending_ops(100)
        .expect("ops")
        .into_iter()
        .map(|s| s.op)
        .collect();
    assert_eq!(ops.len(), 6);
    let req = daftar_client_core::protocol::sync::PushRequest { client_id, ops };
    let resp = a.api.push(&req).expect("one push");
    let statuses: Vec<OpStatus> = resp.results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            OpStatus::Applied,
            OpStatus::Rejected,
            OpStatus::Applied,
            OpStatus::Applied,
            OpStatus::Applied,
            OpStatus::Rejected
        ]
    );
    assert_eq!(resp.results[1].field.as_deref(), Some("amount"));
    assert_eq!(resp.results[5].field.as_deref(), Some("exceptions[0].code"));
    assert_eq!(resp.next_seq, 7);
    let versions: Vec<Option<i64>> = resp.results.iter().map(|r| r.version).collect();
    assert!(versions[0].is_some() && versions.iter().all(|v| v.is_none() || *v == versions[0]));

    // Payments: consecutive receipts as the device printed them, the second allocated after
    // the first on the same line, 3,000 less owed, and each equal to the server's own view.
    let p1 = &resp.results[0].result;
    let p2 = &resp.results[2].result;
    assert_eq!(p1["receipt_no"], json!(r1.receipt_no));
    assert_eq!(p2["receipt_no"], json!(r2.receipt_no));
    let line = |p: &Value| p["allocations"][0]["invoice_line_id"].clone();
    assert_eq!(line(p1), line(p2), "both on the oldest open line");
    assert_eq!(p1["allocations"][0]["amount"], json!(1_000));
    assert_eq!(p2["allocations"][0]["amount"], json!(2_000));
    for p in [p1, p2] {
        let stored = get(
            &url,
            &office_token,
            &format!("/payments/{}", p["id"].as_str().expect("id")),
        );
        assert_eq!(&stored, p, "the push's result is the stored payment");
    }
    let dues_after = get(&url, &office_token, &format!("/families/{family}/dues"));
    assert_eq!(
        dues_after["total_outstanding"].as_i64().expect("owed"),
        owed_before - 3_000
    );
    assert_eq!(
        count_for(
            &mut conn,
            "SELECT count(*) AS n FROM payments WHERE family_id = $1 AND amount = 0",
            family
        ),
        0
    );

    // Registers: the two markings applied one after the other (A, then L), both in the
    // history, the absence's guardian notice cancelled once the student was only late.
    let first = &resp.results[3].result;
    let second = &resp.results[4].result;
    assert_eq!(first["register_id"], second["register_id"]);
    assert!(
        first.get("marks").is_none(),
        "marks travel by pull, not in results"
    );
    // The first wrote the absence (and any seeded mark that was not P), the second only the
    // change from A to L.
    assert!(first["changed"].as_u64().expect("changed") >= 1);
    assert_eq!(second["changed"], json!(1));
    let register = get(
        &url,
        &office_token,
        &format!("/classes/{class}/registers/{today}"),
    );
    let mark = register["marks"]
        .as_array()
        .expect("marks")
        .iter()
        .find(|m| m["student_id"] == json!(student))
        .cloned()
        .expect("mark");
    assert_eq!(mark["code"], json!("L"));
    assert_eq!(mark["source"], json!("office"));
    assert_eq!(mark["reason"], json!("office correction to L"));
    let history = count_for(
        &mut conn,
        "SELECT count(*) AS n FROM attendance_mark_history h
           JOIN attendance_codes c ON c.id = h.code_id
          WHERE h.student_id = $1 AND h.source = 'office' AND c.code IN ('A', 'L')
            AND h.reason LIKE 'office correction to %'",
        student,
    );
    assert_eq!(history, 2);
    let pending_notices = count_for(
        &mut conn,
        "SELECT count(*) AS n FROM guardian_notifications n
           JOIN registers r ON r.id = n.register_id
          WHERE n.student_id = $1 AND r.on_date = (now() AT TIME ZONE 'Asia/Karachi')::date
            AND n.status = 'pending'",
        student,
    );
    assert_eq!(
        pending_notices, 0,
        "no absence notice once the student was late"
    );

    // A lost acknowledgement: the same push replays every outcome and writes nothing new.
    let again = a.api.push(&req).expect("push again");
    assert!(again.results.iter().all(|r| r.replayed));
    assert_eq!(
        again.results.iter().map(|r| &r.result).collect::<Vec<_>>(),
        resp.results.iter().map(|r| &r.result).collect::<Vec<_>>()
    );
    assert_eq!(
        count_for(
            &mut conn,
            "SELECT count(*) AS n FROM payments WHERE family_id = $1 AND amount IN (1000, 2000)
               AND created_at > now() - interval '1 hour'",
            family
        ),
        2
    );

    // And the device converges on the server.
    a.sync_once(&mut |_, _| {}).expect("sync");
    let (local, remote) = a.digests().expect("digests");
    assert_eq!(local.entities, remote.entities);
    assert!(office::receipt_differences(&mut a.store)
        .expect("differences")
        .is_empty());
}

#[test]
fn a_full_push_batch_of_large_ops_is_accepted() {
    // The server takes up to 1,000 ops per push. 1,000 payments with 100-character references
    // make a body of about 430 KB: more than the body extractor's default limit (256 KiB),
    // which refused the whole batch, so such an outbox could never drain.
    let tdb = demo_db();
    let mut conn = tdb.conn();
    let server = TestServer::start(tdb.url());
    let dir = tempfile::tempdir().expect("tmp");
    let mut a = enrol(dir.path(), &server.url(), "accountant");
    let families: Vec<Uuid> = diesel::sql_query("SELECT id FROM families ORDER BY id LIMIT 50")
        .load::<IdRow>(&mut conn)
        .expect("families")
        .into_iter()
        .map(|r| r.id)
        .collect();
    let reference = "R".repeat(100);
    a.push_batch = 1000;
    for i in 0..1000 {
        let args = json!({ "id": Uuid::now_v7(), "family_id": families[i % families.len()],
                           "amount": 100 + i, "currency": "PKR", "method": "bank_transfer",
                           "reference": reference });
        a.store
            .enqueue(PAYMENT_RECORD, &args, None, &[])
            .expect("queue");
    }
    let ops: Vec<_> = a
        .store
        .pending_ops(1000)
        .expect("ops")
        .into_iter()
        .map(|s| s.op)
        .collect();
    let body = serde_json::to_vec(&ops).expect("json");
    assert!(body.len() > 256 * 1024, "{} bytes", body.len());
    let (sent, applied, rejected, _) = a.push().expect("push");
    assert_eq!((sent, applied, rejected), (1000, 1000, 0));
    let stored = count_for(
        &mut conn,
        "SELECT count(*) AS n FROM payments WHERE reference = repeat('R', 100)
            AND device_id IS NOT NULL AND received_by IS NOT NULL AND $1 IS NOT NULL",
        Uuid::nil(),
    );
    assert_eq!(stored, 1000);
}
