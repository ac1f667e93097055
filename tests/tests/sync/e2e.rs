//! ARCHITECTURE.md §6: two office agents and a teacher work offline, reconnect, and every replica
//! equals the server while the ledger invariants hold.

use chrono::Utc;
use daftar_client_core::client::office;
use daftar_client_core::protocol::sync::{OpStatus, STUDENT_UPDATE};
use daftar_client_core::protocol::PaymentMethod;
use daftar_tests::server::TestServer;
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use super::*;

#[test]
fn offline_edits_on_two_agents_and_a_teacher_converge_with_the_server() {
    let tdb = demo_db();
    let mut conn = tdb.conn();
    let mut server = TestServer::start(tdb.url());
    let url = server.url();
    let (da, db, dt) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let mut a = enrol(da.path(), &url, "accountant");
    let mut b = enrol(db.path(), &url, "admin");
    let mut t = enrol(dt.path(), &url, "teacher1");

    // Two families with siblings and invoices.
    let families: Vec<IdRow> = diesel::sql_query(
        "SELECT family_id AS id FROM invoices GROUP BY family_id
         HAVING count(DISTINCT student_id) >= 2 ORDER BY family_id LIMIT 2",
    )
    .load(&mut conn)
    .expect("families");
    let (f1, f2) = (families[0].id, families[1].id);
    let payments_before = count(&mut conn, "SELECT count(*) AS n FROM payments");
    let tz: chrono_tz::Tz = "Asia/Karachi".parse().expect("tz");
    let today = Utc::now().with_timezone(&tz).date_naive();

    // ---- The cable is out. -----------------------------------------------------------------
    server.stop();
    let offline = a.sync_once(&mut |_, _| {});
    assert!(
        matches!(offline, Err(ref e) if e.is_transient()),
        "{offline:?}"
    );

    let dues_before = office::family_dues(&mut a.store, f1).expect("dues");
    let r1 = office::record_payment(&mut a.store, f1, 150_000, PaymentMethod::Cash, None, None)
        .expect("pay offline");
    let r2 = office::record_payment(&mut a.store, f1, 100_000, PaymentMethod::Cash, None, None)
        .expect("pay offline");
    // Read-your-writes: the family's dues already reflect both receipts.
    let dues_after = office::family_dues(&mut a.store, f1).expect("dues");
    let allocated: i64 = [&r1, &r2]
        .iter()
        .flat_map(|r| r.allocations.iter().map(|x| x.2))
        .sum();
    assert_eq!(
        dues_after.total_outstanding,
        dues_before.total_outstanding - allocated
    );
    let series_a = a
        .store
        .device("receipt_series")
        .expect("series")
        .expect("set");
    assert_eq!(r1.receipt_no, format!("{series_a}-000001"));
    assert_eq!(r2.receipt_no, format!("{series_a}-000002"));
    // The other office PC collects from the same family (on its stale view) and overpays for
    // another family.
    let r3 = office::record_payment(
        &mut b.store,
        f1,
        50_000,
        PaymentMethod::BankTransfer,
        Some("TRX-1".into()),
        None,
    )
    .expect("pay offline");
    let r4 = office::record_payment(
        &mut b.store,
        f2,
        99_999_900,
        PaymentMethod::Cash,
        None,
        None,
    )
    .expect("pay offline");
    assert!(r4.to_credit > 0, "an overpayment becomes family credit");

    // The teacher marks today's register with one absence, and (by mistake) a class that is not
    // theirs.
    let classes = office::classes(&mut t.store).expect("classes");
    let class = classes[0].id;
    let roster = office::roster(&mut t.store, class, today).expect("roster");
    assert!(roster.len() >= 3, "teacher1's class has students");
    let absent = roster[0].id;
    office::mark_register(
        &mut t.store,
        class,
        today,
        "P",
        &[(absent, "A".into())],
        None,
    )
    .expect("mark offline");
    let seen = office::register(&mut t.store, class, today).expect("register");
    assert_eq!(
        seen.iter()
            .find(|l| l.student_id == absent)
            .and_then(|l| l.code.clone()),
        Some("A".into()),
        "the teacher sees their own offline mark"
    );
    let not_mine = office::classes(&mut a.store)
        .expect("classes")
        .into_iter()
        .find(|c| !classes.iter().any(|m| m.id == c.id))
        .expect("another class")
        .id;
    office::mark_register(&mut t.store, not_mine, today, "P", &[], None).expect("queued");

    // Both office PCs rename the same student differently.
    let s = &roster[1];
    for (engine, name) in [(&mut a, "Alpha"), (&mut b, "Beta")] {
        let mut row = engine
            .store
            .row("students", &s.id.to_string())
            .expect("row")
            .expect("student");
        row["given_name"] = json!(name);
        engine
            .store
            .enqueue(
                STUDENT_UPDATE,
                &json!({ "id": s.id, "fields": { "given_name": { "base": s.given_name, "value": name } } }),
                None,
                &[("students".into(), s.id.to_string(), row)],
            )
            .expect("queue edit");
    }

    // ---- Back online. ----------------------------------------------------------------------
    server.resume();
    for _ in 0..2 {
        for e in [&mut a, &mut b, &mut t] {
            e.sync_once(&mut |_, _| {}).expect("sync after reconnect");
        }
    }

    // Nothing lost, nothing pending, every outcome kept.
    for e in [&mut a, &mut b, &mut t] {
        assert_eq!(e.store.counts().expect("counts").pending, 0);
    }
    let a_counts = a.store.counts().expect("counts");
    assert_eq!((a_counts.applied, a_counts.conflict), (3, 0));
    let b_counts = b.store.counts().expect("counts");
    assert_eq!(
        (b_counts.applied, b_counts.conflict),
        (2, 1),
        "B's rename lost to A's"
    );
    let t_ops = t.store.ops(None).expect("ops");
    assert_eq!(t_ops[0].state, "applied");
    assert_eq!(t_ops[1].state, "rejected");
    assert_eq!(
        t_ops[1].outcome.as_ref().and_then(|o| o.code.clone()),
        Some("forbidden".into())
    );

    // Exactly the four payments, each once, with the receipt numbers printed offline.
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM payments"),
        payments_before + 4
    );
    for r in [&r1, &r2, &r3, &r4] {
        let n = count(
            &mut conn,
            &format!(
                "SELECT count(*) AS n FROM payments WHERE id = '{}' AND receipt_no = '{}'",
                r.payment_id, r.receipt_no
            ),
        );
        assert_eq!(
            n, 1,
            "payment {} with receipt {}",
            r.payment_id, r.receipt_no
        );
    }
    // A printed its receipts against an up-to-date view: the server posted exactly that.
    assert!(office::receipt_differences(&mut a.store)
        .expect("diffs")
        .is_empty());

    // The server's register has the teacher's marks; the refusal is listed for the office.
    let admin = token(&url, "admin");
    let reg = get(&url, &admin, &format!("/classes/{class}/registers/{today}"));
    let mark = reg["marks"]
        .as_array()
        .expect("marks")
        .iter()
        .find(|m| m["student_id"] == json!(absent))
        .expect("absent student's mark");
    assert_eq!(mark["code"], "A");
    let rejections = get(&url, &admin, "/sync/rejections");
    let listed: Vec<&Value> = rejections.as_array().expect("list").iter().collect();
    assert!(listed
        .iter()
        .any(|r| r["status"] == "rejected" && r["code"] == "forbidden"));
    assert!(listed.iter().any(|r| r["status"] == "conflict"
        && r["conflicts"][0]["losing_value"] == "Beta"
        && r["conflicts"][0]["server_value"] == "Alpha"));
    let outcome = b
        .store
        .ops_needing_attention()
        .expect("ops")
        .pop()
        .and_then(|o| o.outcome)
        .expect("conflict outcome");
    assert_eq!(outcome.status, OpStatus::Conflict);

    // Every replica equals the server, row for row (digests after the last commit).
    for (who, e) in [
        ("accountant", &mut a),
        ("admin", &mut b),
        ("teacher", &mut t),
    ] {
        let (local, remote) = e.digests().expect("digests");
        assert!(
            local.version <= remote.version,
            "{who}'s replica is not ahead of the server"
        );
        assert_eq!(
            local.entities, remote.entities,
            "{who}'s replica equals the server"
        );
    }
    assert!(t
        .store
        .row("students", &roster[0].id.to_string())
        .expect("row")
        .is_some());
    assert!(
        t.store.rows("payments").expect("rows").is_empty(),
        "a teacher's device holds no payments"
    );

    // Ledger invariants after the merge: the journal balances, no family credit is negative,
    // and the agents' offline dues equal the server's to the unit.
    assert_eq!(
        count(
            &mut conn,
            "SELECT coalesce(sum(amount), 0)::bigint AS n FROM journal_lines"
        ),
        0
    );
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM (SELECT l.family_id FROM journal_lines l
               JOIN accounts a ON a.school_id = l.school_id AND a.id = l.account_id
              WHERE a.system_key = 'family_credit' GROUP BY l.family_id HAVING sum(l.amount) > 0) x"
        ),
        0
    );
    for f in [f1, f2] {
        let server_dues = get(&url, &admin, &format!("/families/{f}/dues"));
        for e in [&mut a, &mut b] {
            let local = serde_json::to_value(office::family_dues(&mut e.store, f).expect("dues"))
                .expect("json");
            assert_eq!(local, server_dues, "family {f}");
        }
    }
}

#[test]
fn a_teacher_given_another_class_receives_its_existing_students_and_marks() {
    let tdb = demo_db();
    let server = TestServer::start(tdb.url());
    let url = server.url();
    let dir = tempfile::tempdir().expect("tmp");
    let mut t = enrol(dir.path(), &url, "teacher1");
    let mine = office::classes(&mut t.store).expect("classes");
    let admin = token(&url, "admin");
    let classes = get(&url, &admin, "/classes?limit=50");
    let other = classes["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["id"].as_str().expect("id").parse::<Uuid>().expect("uuid"))
        .find(|id| !mine.iter().any(|m| m.id == *id))
        .expect("another class");
    let me = t.store.device("user_id").expect("device").expect("user id");
    let r = ureq::put(&format!("{url}/api/v1/classes/{other}/teachers/{me}"))
        .set("Authorization", &format!("Bearer {admin}"))
        .send_json(json!({}));
    assert!(r.is_ok(), "{r:?}");
    let today = Utc::now().date_naive();
    assert!(office::roster(&mut t.store, other, today)
        .expect("roster")
        .is_empty());
    t.sync_once(&mut |_, _| {}).expect("sync");
    assert!(
        !office::roster(&mut t.store, other, today)
            .expect("roster")
            .is_empty(),
        "the new class's students arrived although they changed before the cursor"
    );
    let (local, remote) = t.digests().expect("digests");
    assert_eq!(local.entities, remote.entities);
}
