//! ARCHITECTURE.md §6: the ledger adjustments and the guardian edit, pushed from an office device
//! that made them offline, reach the server once, with the same effects as their REST calls.

use daftar_client_core::protocol::sync::{
    OpStatus, PushRequest, DISCOUNT_GRANT, GUARDIAN_UPDATE, PAYMENT_REVERSE,
};
use daftar_tests::server::TestServer;
use diesel::prelude::*;
use diesel::sql_types::Uuid as SqlUuid;
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;

#[derive(QueryableByName)]
struct Pick {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    family_id: Uuid,
}

/// Exactly one reversal (row and reversing journal entry) of `payment` and one `discount`.
fn posted_once(conn: &mut PgConnection, payment: Uuid, discount: Uuid) {
    let reversals = [
        "SELECT count(*) AS n FROM payment_reversals WHERE payment_id = $1",
        "SELECT count(*) AS n FROM journal_entries e
           JOIN payments p ON p.school_id = e.school_id AND p.journal_entry_id = e.reverses_entry_id
          WHERE p.id = $1",
    ];
    for sql in reversals {
        assert_eq!(count_for(conn, sql, payment), 1, "{sql}");
    }
    let discounts = "SELECT count(*) AS n FROM discounts WHERE id = $1";
    assert_eq!(count_for(conn, discounts, discount), 1);
}

#[test]
fn reversals_discounts_and_guardian_edits_made_offline_apply_once() {
    let tdb = demo_db();
    let mut conn = tdb.conn();
    let mut server = TestServer::start(tdb.url());
    let url = server.url();
    let dir = tempfile::tempdir().expect("tmp");
    let mut a = enrol(dir.path(), &url, "accountant");
    let office = token(&url, "accountant");
    let me: Uuid = a
        .store
        .device("user_id")
        .expect("device")
        .and_then(|u| u.parse().ok())
        .expect("user id");

    // A payment that paid invoice lines (the cheque that will bounce), and another family's
    // line with money owing (the one that gets a discount).
    let paid: Pick = diesel::sql_query(
        "SELECT p.id, p.family_id FROM payments p
          WHERE p.family_id IS NOT NULL
            AND EXISTS (SELECT 1 FROM allocations a
                         WHERE a.school_id = p.school_id AND a.journal_entry_id = p.journal_entry_id)
          ORDER BY p.amount DESC LIMIT 1",
    )
    .get_result(&mut conn)
    .expect("a payment with allocations");
    let owing: Pick = diesel::sql_query(
        "SELECT l.id, i.family_id FROM invoice_lines l
           JOIN invoices i ON i.school_id = l.school_id AND i.id = l.invoice_id
          WHERE i.family_id <> $1
            AND l.amount > 10000 + coalesce((SELECT sum(a.amount) FROM allocations a
                                   WHERE a.school_id = l.school_id AND a.invoice_line_id = l.id), 0)
          ORDER BY l.id LIMIT 1",
    )
    .bind::<SqlUuid, _>(paid.family_id)
    .get_result(&mut conn)
    .expect("a line with money owing");
    let guardian: Value = get(&url, &office, "/guardians?limit=1")["items"][0].clone();
    let guardian_id: Uuid = guardian["id"].as_str().expect("id").parse().expect("uuid");
    let old_phone = guardian["phone"].clone();
    let old_email = guardian["email"].clone();
    let dues_before = get(
        &url,
        &office,
        &format!("/families/{}/dues", owing.family_id),
    );

    // ---- Offline at the counter. -------------------------------------------------------
    server.stop();
    let discount_id = Uuid::now_v7();
    let ops = [
        (
            PAYMENT_REVERSE,
            json!({ "payment_id": paid.id, "reason": "cheque bounced" }),
        ),
        (
            DISCOUNT_GRANT,
            json!({ "invoice_line_id": owing.id, "id": discount_id, "kind": "waiver",
                    "amount": 10000, "reason": "hardship", "approved_by": me }),
        ),
        (
            GUARDIAN_UPDATE,
            json!({ "id": guardian_id, "fields": {
                "phone": { "base": old_phone, "value": "+923001112233" },
                "email": { "base": old_email, "value": "parent@example.org" } } }),
        ),
        // Reversing the same payment again is idempotent (as over REST): it answers with the
        // first reversal and posts nothing.
        (
            PAYMENT_REVERSE,
            json!({ "payment_id": paid.id, "reason": "entered twice" }),
        ),
    ];
    for (mutation, args) in &ops {
        a.store.enqueue(mutation, args, None, &[]).expect("queue");
    }
    // Meanwhile the office changes the guardian's email online (on another PC).
    server.resume();
    ureq::patch(&format!("{url}/api/v1/guardians/{guardian_id}"))
        .set("Authorization", &format!("Bearer {office}"))
        .send_json(json!({ "email": "office@example.org" }))
        .expect("patch guardian");

    // ---- Back online. ------------------------------------------------------------------
    a.sync_once(&mut |_, _| {}).expect("sync");
    let decided = a.store.ops(None).expect("ops");
    let states: Vec<&str> = decided.iter().map(|o| o.state.as_str()).collect();
    assert_eq!(states, ["applied", "applied", "conflict", "applied"]);
    let second = decided[3].outcome.as_ref().expect("outcome");
    assert_eq!(
        second.result["reason"],
        json!("cheque bounced"),
        "{second:?}"
    );

    // The bounced cheque is reversed once (one reversing entry), the waiver posted once.
    posted_once(&mut conn, paid.id, discount_id);
    // The waiver lowers what the family owes by exactly its amount.
    let dues_after = get(
        &url,
        &office,
        &format!("/families/{}/dues", owing.family_id),
    );
    assert_eq!(
        dues_before["total_outstanding"].as_i64().expect("n") - 10000,
        dues_after["total_outstanding"].as_i64().expect("n")
    );
    // The guardian edit: the phone (untouched on the server) applies; the email clashed with
    // the office's change, so the server's value stays and the device's is logged.
    let g = get(&url, &office, &format!("/guardians/{guardian_id}"));
    assert_eq!(g["phone"], json!("+923001112233"));
    assert_eq!(g["email"], json!("office@example.org"));
    let conflicts = &decided[2].outcome.as_ref().expect("outcome").conflicts;
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(conflicts[0].field, "email");
    assert_eq!(conflicts[0].losing_value, json!("parent@example.org"));
    assert_eq!(
        count_for(
            &mut conn,
            "SELECT count(*) AS n FROM sync_conflicts WHERE row_id = $1",
            guardian_id
        ),
        1
    );

    // A lost acknowledgement: the same ops sent again replay their stored outcomes.
    let client_id: Uuid = a
        .store
        .device("client_id")
        .expect("device")
        .and_then(|c| c.parse().ok())
        .expect("client id");
    let again = a
        .api
        .push(&PushRequest {
            client_id,
            ops: decided.iter().map(|o| o.op.clone()).collect(),
        })
        .expect("replay");
    assert!(again.results.iter().all(|r| r.replayed));
    assert_eq!(
        again.results.iter().map(|r| r.status).collect::<Vec<_>>(),
        [
            OpStatus::Applied,
            OpStatus::Applied,
            OpStatus::Conflict,
            OpStatus::Applied
        ]
    );
    posted_once(&mut conn, paid.id, discount_id);
    // And the device's copy equals the server's.
    a.sync_once(&mut |_, _| {}).expect("sync");
    let (local, remote) = a.digests().expect("digests");
    assert_eq!(local.entities, remote.entities);
}
