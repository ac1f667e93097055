//! The fee ledger end to end (ARCHITECTURE.md §4): database-enforced balance and
//! immutability, invoice issue, sibling waterfall, credit, idempotency, suspense, statements.

use actix_web::http::{Method, StatusCode};
use actix_web::test as actix_test;
use chrono::Utc;
use daftar_server::app::build_app;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use serde_json::{json, Value};
use uuid::Uuid;

use super::*;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .expect(sql)
        .n
}

#[test]
fn the_database_refuses_unbalanced_entries_and_edits() {
    let t = TestApp::new();
    let school = t.school("alpha");
    let mut conn = t.tdb.conn();
    let accounts: Vec<Uuid> = daftar_server::schema::accounts::table
        .filter(daftar_server::schema::accounts::school_id.eq(school.id))
        .order(daftar_server::schema::accounts::code)
        .select(daftar_server::schema::accounts::id)
        .load(&mut conn)
        .expect("chart seeded with the school");
    assert_eq!(
        accounts.len(),
        8,
        "Cash, Bank, Receivable, Family Credit, Suspense, Fee Income, Discounts, Expenses"
    );
    let entry = |conn: &mut PgConnection, amounts: &[i64]| -> QueryResult<()> {
        conn.transaction(|c| {
            let id = Uuid::now_v7();
            diesel::sql_query(format!(
                "INSERT INTO journal_entries (school_id, id, entry_no, kind, occurred_on) VALUES ('{}', '{id}', (SELECT coalesce(max(entry_no), 0) + 1 FROM journal_entries), 'adjustment', '2026-11-01')",
                school.id
            ))
            .execute(c)?;
            for (i, a) in amounts.iter().enumerate() {
                diesel::sql_query(format!(
                    "INSERT INTO journal_lines (school_id, id, entry_id, line_no, account_id, amount) VALUES ('{}', '{}', '{id}', {}, '{}', {a})",
                    school.id, Uuid::now_v7(), i + 1, accounts[i % 2]
                ))
                .execute(c)?;
            }
            Ok(())
        })
    };
    let err = entry(&mut conn, &[100, -99]).expect_err("unbalanced");
    assert!(err.to_string().contains("not balanced"), "{err}");
    assert!(
        entry(&mut conn, &[100]).is_err(),
        "a single line is refused"
    );
    assert!(
        entry(&mut conn, &[]).is_err(),
        "an entry without lines is refused"
    );
    entry(&mut conn, &[100, -100]).expect("balanced entry commits");
    assert!(diesel::sql_query("UPDATE journal_lines SET amount = 5")
        .execute(&mut conn)
        .is_err());
    assert!(diesel::sql_query("DELETE FROM journal_entries")
        .execute(&mut conn)
        .is_err());
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM journal_entries"),
        1
    );
}

async fn call<S, B>(app: &S, method: Method, path: &str, token: &str, body: Option<Value>) -> Resp
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    send(app, method, path, Some(token), body).await
}

/// GET with an owned path, so closures can build the path.
async fn get_owned<S, B>(app: &S, token: &str, path: String) -> Resp
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    send(app, Method::GET, &path, Some(token), None).await
}

fn amounts(payment: &Value) -> Vec<i64> {
    payment["allocations"]
        .as_array()
        .expect("allocations")
        .iter()
        .map(|a| a["amount"].as_i64().expect("amount"))
        .collect()
}

#[actix_web::test]
async fn invoices_payments_credit_and_suspense_through_the_api() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let (a, term1, tuition) = billed(&t, &app).await;
    let admin = a.admin.clone();
    let again = call(
        &app,
        Method::POST,
        &format!("/api/v1/terms/{term1}/invoices"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        again.json["invoices_issued"], 0,
        "re-running issues nothing twice"
    );

    // Family F1 (S1 in C1: transport 1500 due 04-05 + tuition 5000 due 04-10; S2 in C2:
    // tuition 6000 due 04-10) pays 8000: oldest due first, then invoice order, across siblings.
    let pay = |id: Uuid, family: Option<Uuid>, amount: i64| json!({"id": id, "family_id": family, "amount": amount, "currency": "PKR", "method": "cash"});
    let p1 = Uuid::now_v7();
    let r = call(
        &app,
        Method::POST,
        "/api/v1/payments",
        &admin,
        Some(pay(p1, Some(a.f1), 8000)),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    assert_eq!(r.json["receipt_no"], "S-000001");
    assert_eq!(amounts(&r.json), vec![1500, 5000, 1500]);
    let students: Vec<&str> = r.json["allocations"]
        .as_array()
        .expect("a")
        .iter()
        .map(|x| x["student_id"].as_str().expect("s"))
        .collect();
    assert_eq!(
        students,
        vec![a.s1.to_string(), a.s1.to_string(), a.s2.to_string()]
    );
    assert_eq!(r.json["to_credit"], 0);

    // 6000 more: 4500 clears S2, 1500 becomes Family Credit.
    let p2 = Uuid::now_v7();
    let r = call(
        &app,
        Method::POST,
        "/api/v1/payments",
        &admin,
        Some(pay(p2, Some(a.f1), 6000)),
    )
    .await;
    assert_eq!(
        (r.json["receipt_no"].as_str(), r.json["to_credit"].as_i64()),
        (Some("S-000002"), Some(1500))
    );
    assert_eq!(amounts(&r.json), vec![4500]);

    // Replays return the original; the same id with another body is refused.
    let replay = call(
        &app,
        Method::POST,
        "/api/v1/payments",
        &admin,
        Some(pay(p2, Some(a.f1), 6000)),
    )
    .await;
    assert_eq!(
        (replay.status, replay.json["receipt_no"].as_str()),
        (StatusCode::OK, Some("S-000002"))
    );
    let clash = call(
        &app,
        Method::POST,
        "/api/v1/payments",
        &admin,
        Some(pay(p2, Some(a.f1), 6001)),
    )
    .await;
    assert_eq!(
        (clash.status, clash.code()),
        (StatusCode::CONFLICT, "idempotency_key_reused")
    );
    let bad = call(&app, Method::POST, "/api/v1/payments", &admin, Some(json!({"id": Uuid::now_v7(), "family_id": a.f1, "amount": 10, "currency": "USD", "method": "cash"}))).await;
    assert_eq!(bad.json["field"], "currency");
    // A payment stamped with a cashier who is not an office user of the school is refused.
    let stranger = call(&app, Method::POST, "/api/v1/payments", &admin, Some(json!({"id": Uuid::now_v7(), "family_id": a.f1, "amount": 10, "currency": "PKR", "method": "cash", "cashier_id": Uuid::now_v7()}))).await;
    assert_eq!(
        (stranger.status, stranger.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("cashier_id")),
        "{}",
        stranger.json
    );

    // Cash for an unknown family is never dropped: it goes to Suspense, with a receipt.
    let r = call(
        &app,
        Method::POST,
        "/api/v1/payments",
        &admin,
        Some(pay(Uuid::now_v7(), Some(Uuid::now_v7()), 700)),
    )
    .await;
    assert_eq!(
        (
            r.status,
            r.json["to_suspense"].as_i64(),
            r.json["receipt_no"].as_str()
        ),
        (StatusCode::CREATED, Some(700), Some("S-000003"))
    );

    let dues = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/dues", a.f1),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (
            dues.json["total_outstanding"].as_i64(),
            dues.json["credit_balance"].as_i64(),
            dues.json["net_due"].as_i64()
        ),
        (Some(0), Some(1500), Some(-1500))
    );
    let dues2 = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/dues", a.f2),
        &admin,
        None,
    )
    .await;
    assert_eq!(dues2.json["total_outstanding"], 6500);
    assert_eq!(
        dues2.json["invoices"][0]["lines"][0]["description"], "Transport",
        "oldest due first"
    );

    let st = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/statement", a.f1),
        &admin,
        None,
    )
    .await;
    let balances: Vec<i64> = st.json["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["balance"].as_i64().expect("b"))
        .collect();
    assert_eq!(balances, vec![6500, 12_500, 4500, -1500]);
    assert_eq!(st.json["closing_balance"], -1500);

    // Next term: F1's credit is applied to its new invoices automatically.
    let term2 = next_year_term(&app, &admin, a.c1, tuition).await;
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/terms/{term2}/invoices"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (
            r.json["invoices_issued"].as_i64(),
            r.json["credit_applied"].as_i64()
        ),
        (Some(2), Some(1500))
    );
    let dues = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/dues", a.f1),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (
            dues.json["total_outstanding"].as_i64(),
            dues.json["credit_balance"].as_i64()
        ),
        (Some(3700), Some(0))
    );

    // Parents see their own family's money only; teachers see none.
    let p1_token = login(&app, "alpha", "p1").await;
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/families/{}/dues", a.f1),
            &p1_token,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/families/{}/dues", a.f2),
            &p1_token,
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/payments/{p1}"),
            &p1_token,
            None
        )
        .await
        .status,
        StatusCode::OK
    );
    let receipts = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/payments", a.f1),
        &p1_token,
        None,
    )
    .await
    .json;
    let numbers: Vec<&str> = receipts
        .as_array()
        .expect("payments")
        .iter()
        .map(|p| p["receipt_no"].as_str().expect("no"))
        .collect();
    assert_eq!(
        numbers,
        vec!["S-000002", "S-000001"],
        "newest first, with receipt numbers"
    );
    let invoices = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/invoices", a.f1),
        &p1_token,
        None,
    )
    .await
    .json;
    let outstanding: Vec<i64> = invoices
        .as_array()
        .expect("invoices")
        .iter()
        .map(|i| i["outstanding"].as_i64().expect("o"))
        .collect();
    assert_eq!(
        outstanding,
        vec![0, 0, 3700],
        "paid invoices are listed too, oldest first"
    );
    let t1 = login(&app, "alpha", "t1").await;
    assert_eq!(
        call(
            &app,
            Method::GET,
            &format!("/api/v1/families/{}/statement", a.f1),
            &t1,
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &app,
            Method::POST,
            "/api/v1/payments",
            &t1,
            Some(pay(Uuid::now_v7(), Some(a.f1), 1))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // Invariants, from the journal.
    let mut conn = t.tdb.conn();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM (SELECT entry_id FROM journal_lines GROUP BY entry_id HAVING sum(amount) <> 0) x"), 0);
    assert_eq!(
        count(
            &mut conn,
            "SELECT coalesce(sum(amount), 0)::bigint AS n FROM journal_lines"
        ),
        0
    );
    // Receivable per family equals the open invoice lines.
    assert_eq!(count(&mut conn, &format!(
        "SELECT coalesce(sum(l.amount), 0)::bigint AS n FROM journal_lines l JOIN accounts ac ON ac.school_id = l.school_id AND ac.id = l.account_id
         WHERE ac.system_key = 'receivable' AND l.family_id = '{}'", a.f1)), 3700);
    // Family Credit is never negative.
    assert_eq!(count(&mut conn,
        "SELECT count(*) AS n FROM (SELECT l.family_id FROM journal_lines l JOIN accounts ac ON ac.school_id = l.school_id AND ac.id = l.account_id
         WHERE ac.system_key = 'family_credit' GROUP BY l.family_id HAVING sum(l.amount) > 0) x"), 0);
    // Cash in the journal equals the payments recorded, to the unit.
    assert_eq!(count(&mut conn,
        "SELECT coalesce(sum(l.amount), 0)::bigint AS n FROM journal_lines l JOIN accounts ac ON ac.school_id = l.school_id AND ac.id = l.account_id
         WHERE ac.system_key = 'cash'"), 8000 + 6000 + 700);
}

/// The scenario with Term 1 invoiced: F1 owes S1 6500 (transport 1500 due 04-05, tuition 5000
/// due 04-10) and S2 6000 (tuition due 04-10); F2 owes S3 6500.
async fn billed<S, B>(t: &TestApp, app: &S) -> (Scenario, String, Uuid)
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let a = scenario(t, app, "alpha").await;
    let admin = a.admin.clone();
    let year = &call(app, Method::GET, "/api/v1/academic-years", &admin, None)
        .await
        .json[0];
    let term1 = year["terms"][0]["id"].as_str().expect("term").to_string();
    let tuition = create(app, &admin, "/api/v1/fee-heads", json!({"name": "Tuition"})).await;
    let transport = create(
        app,
        &admin,
        "/api/v1/fee-heads",
        json!({"name": "Transport"}),
    )
    .await;
    for (class, head, amount, due) in [
        (a.c1, tuition, 5000, "2026-04-10"),
        (a.c1, transport, 1500, "2026-04-05"),
        (a.c2, tuition, 6000, "2026-04-10"),
    ] {
        create(app, &admin, "/api/v1/fee-schedules", json!({"term_id": term1, "class_id": class, "fee_head_id": head, "amount": amount, "due_on": due})).await;
    }
    // The preview (the console shows it before the run) counts what the run will issue and
    // writes nothing: the run after it still issues all three. A term without schedules
    // previews as nothing to issue.
    let bare = call(
        app,
        Method::POST,
        "/api/v1/academic-years",
        &admin,
        Some(
            json!({"name": "Unscheduled", "starts_on": "2030-04-01", "ends_on": "2031-03-31",
            "terms": [{"name": "Only", "starts_on": "2030-04-01", "ends_on": "2031-03-31"}]}),
        ),
    )
    .await;
    let bare_term = bare.json["terms"][0]["id"].as_str().expect("term");
    let p = call(
        app,
        Method::GET,
        &format!("/api/v1/terms/{bare_term}/invoices/preview"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (p.status, &p.json["schedules"], &p.json["invoices"]),
        (StatusCode::OK, &json!(0), &json!(0)),
        "{}",
        p.json
    );
    let preview_path = format!("/api/v1/terms/{term1}/invoices/preview");
    let p = call(app, Method::GET, &preview_path, &admin, None).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.json);
    assert_eq!(
        (&p.json["invoices"], &p.json["amount"], &p.json["families"]),
        (&json!(3), &json!(19_000), &json!(2)),
        "{}",
        p.json
    );
    assert_eq!(p.json["already_invoiced"], 0);
    assert_eq!(
        p.json["heads"],
        json!([
            {"fee_head_id": transport, "name": "Transport", "lines": 2, "amount": 3000},
            {"fee_head_id": tuition, "name": "Tuition", "lines": 3, "amount": 16_000},
        ])
    );
    let r = call(
        app,
        Method::POST,
        &format!("/api/v1/terms/{term1}/invoices"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (
            r.json["invoices_issued"].as_i64(),
            r.json["amount_invoiced"].as_i64()
        ),
        (Some(3), Some(19_000)),
        "{}",
        r.json
    );
    // How far the run got, as the console polls it: all of it, and it is over; a term that
    // never ran has nothing.
    let progress = call(
        app,
        Method::GET,
        &format!("/api/v1/terms/{term1}/invoices/progress"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (
            &progress.json["running"],
            &progress.json["issued"],
            &progress.json["total"]
        ),
        (&json!(false), &json!(3), &json!(3)),
        "{}",
        progress.json
    );
    let progress = call(
        app,
        Method::GET,
        &format!("/api/v1/terms/{bare_term}/invoices/progress"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (&progress.json["issued"], &progress.json["total"]),
        (&json!(0), &json!(0))
    );
    let p = call(app, Method::GET, &preview_path, &admin, None).await;
    assert_eq!(
        (&p.json["invoices"], &p.json["already_invoiced"]),
        (&json!(0), &json!(3)),
        "after the run the preview has nothing left to issue: {}",
        p.json
    );
    (a, term1, tuition)
}

fn first_line(dues: &Value, description: &str) -> (String, String) {
    for inv in dues["invoices"].as_array().expect("invoices") {
        for l in inv["lines"].as_array().expect("lines") {
            if l["description"] == description {
                return (
                    inv["invoice_id"].as_str().expect("i").into(),
                    l["invoice_line_id"].as_str().expect("l").into(),
                );
            }
        }
    }
    panic!("no {description} line in {dues}");
}

#[actix_web::test]
async fn discounts_fines_refunds_and_reversals_reopen_exactly_what_they_should() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let (a, _term1, _tuition) = billed(&t, &app).await;
    let admin = a.admin.clone();
    let me = call(&app, Method::GET, "/api/v1/me", &admin, None)
        .await
        .json["id"]
        .as_str()
        .expect("id")
        .to_string();
    let dues = |f: Uuid| get_owned(&app, &admin, format!("/api/v1/families/{f}/dues"));

    // 10% scholarship on S3's tuition (5000 → 500 off).
    let d2 = dues(a.f2).await.json;
    let (_, tuition_line) = first_line(&d2, "Tuition");
    let grant = json!({"id": Uuid::now_v7(), "kind": "scholarship", "percent_bp": 1000, "reason": "merit", "approved_by": me});
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/invoice-lines/{tuition_line}/discounts"),
        &admin,
        Some(grant.clone()),
    )
    .await;
    assert_eq!(
        (r.status, r.json["amount"].as_i64()),
        (StatusCode::OK, Some(500)),
        "{}",
        r.json
    );
    let again = call(
        &app,
        Method::POST,
        &format!("/api/v1/invoice-lines/{tuition_line}/discounts"),
        &admin,
        Some(grant),
    )
    .await;
    assert_eq!(
        again.json["journal_entry_id"], r.json["journal_entry_id"],
        "replay posts nothing new"
    );
    assert_eq!(dues(a.f2).await.json["total_outstanding"], 6000);
    let too_much = call(&app, Method::POST, &format!("/api/v1/invoice-lines/{tuition_line}/discounts"), &admin,
        Some(json!({"id": Uuid::now_v7(), "kind": "waiver", "amount": 4501, "reason": "x", "approved_by": me}))).await;
    assert_eq!(too_much.json["field"], "amount");
    let t1_id = ids(&call(&app, Method::GET, "/api/v1/users?q=t1", &admin, None)
        .await
        .json)[0];
    let bad_approver = call(&app, Method::POST, &format!("/api/v1/invoice-lines/{tuition_line}/discounts"), &admin,
        Some(json!({"id": Uuid::now_v7(), "kind": "waiver", "amount": 1, "reason": "x", "approved_by": t1_id}))).await;
    assert_eq!(bad_approver.json["field"], "approved_by");

    // A late fine on F2's overdue invoice adds a line and raises what is owed.
    let (invoice, _) = first_line(&d2, "Tuition");
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/invoices/{invoice}/fines"),
        &admin,
        Some(json!({"id": Uuid::now_v7(), "amount": 250, "reason": "paid after the due date"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(dues(a.f2).await.json["total_outstanding"], 6250);

    // F1 overpays by 1500, refunds 500 of the credit; more than the credit is refused.
    let pay = |id: Uuid, amount: i64, method: &str| json!({"id": id, "family_id": a.f1, "amount": amount, "currency": "PKR", "method": method});
    let cheque = Uuid::now_v7();
    let r = call(
        &app,
        Method::POST,
        "/api/v1/payments",
        &admin,
        Some(pay(cheque, 14_000, "cheque")),
    )
    .await;
    assert_eq!(r.json["to_credit"], 1500);
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/families/{}/refunds", a.f1),
        &admin,
        Some(json!({"id": Uuid::now_v7(), "amount": 1501, "method": "cash", "reason": "overpaid"})),
    )
    .await;
    assert_eq!(r.json["field"], "amount");
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/families/{}/refunds", a.f1),
        &admin,
        Some(json!({"id": Uuid::now_v7(), "amount": 500, "method": "cash", "reason": "overpaid"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(dues(a.f1).await.json["credit_balance"], 1000);

    // The cheque bounces, but 500 of its excess was already refunded in cash: refused whole.
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/payments/{cheque}/reversal"),
        &admin,
        Some(json!({"reason": "cheque bounced"})),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "credit_already_refunded"),
        "{}",
        r.json
    );
    assert_eq!(
        dues(a.f1).await.json["total_outstanding"],
        0,
        "the refused reversal changed nothing"
    );

    // A second family payment by cheque bounces cleanly: exactly its lines re-open.
    let f2_cheque = Uuid::now_v7();
    let r = call(&app, Method::POST, "/api/v1/payments", &admin,
        Some(json!({"id": f2_cheque, "family_id": a.f2, "amount": 2000, "currency": "PKR", "method": "cheque"}))).await;
    assert_eq!(r.json["allocations"].as_array().map(Vec::len), Some(2));
    assert_eq!(dues(a.f2).await.json["total_outstanding"], 4250);
    let rev = call(
        &app,
        Method::POST,
        &format!("/api/v1/payments/{f2_cheque}/reversal"),
        &admin,
        Some(json!({"reason": "cheque bounced"})),
    )
    .await;
    assert_eq!(rev.status, StatusCode::OK, "{}", rev.json);
    let after = dues(a.f2).await.json;
    assert_eq!(after["total_outstanding"], 6250);
    assert_eq!(
        first_line(&after, "Transport").1,
        first_line(&d2, "Transport").1
    );
    let again = call(
        &app,
        Method::POST,
        &format!("/api/v1/payments/{f2_cheque}/reversal"),
        &admin,
        Some(json!({"reason": "cheque bounced"})),
    )
    .await;
    assert_eq!(
        again.json["journal_entry_id"], rev.json["journal_entry_id"],
        "reversal is idempotent"
    );

    let mut conn = t.tdb.conn();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM (SELECT entry_id FROM journal_lines GROUP BY entry_id HAVING sum(amount) <> 0) x"), 0);
    assert_eq!(
        count(
            &mut conn,
            "SELECT count(*) AS n FROM journal_entries WHERE kind = 'reversal'"
        ),
        1
    );
}

#[actix_web::test]
async fn reversing_a_payment_whose_credit_was_applied_undoes_the_application() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let (a, _term1, tuition) = billed(&t, &app).await;
    let admin = a.admin.clone();
    let dues = |f: Uuid| get_owned(&app, &admin, format!("/api/v1/families/{f}/dues"));
    let overpay = Uuid::now_v7();
    let r = call(&app, Method::POST, "/api/v1/payments", &admin,
        Some(json!({"id": overpay, "family_id": a.f1, "amount": 15_000, "currency": "PKR", "method": "cheque"}))).await;
    assert_eq!(r.json["to_credit"], 2500);
    let term2 = next_year_term(&app, &admin, a.c1, tuition).await;
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/terms/{term2}/invoices"),
        &admin,
        None,
    )
    .await;
    assert_eq!(r.json["credit_applied"], 2500);
    assert_eq!(dues(a.f1).await.json["total_outstanding"], 2700);

    let rev = call(
        &app,
        Method::POST,
        &format!("/api/v1/payments/{overpay}/reversal"),
        &admin,
        Some(json!({"reason": "cheque bounced"})),
    )
    .await;
    assert_eq!(
        (
            rev.status,
            rev.json["credit_applications_reversed"].as_i64()
        ),
        (StatusCode::OK, Some(1)),
        "{}",
        rev.json
    );
    let d = dues(a.f1).await.json;
    assert_eq!(
        (
            d["total_outstanding"].as_i64(),
            d["credit_balance"].as_i64()
        ),
        (Some(6500 + 6000 + 5200), Some(0))
    );
    let st = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/statement", a.f1),
        &admin,
        None,
    )
    .await;
    assert_eq!(st.json["closing_balance"], 17_700);
}

fn money_col(table: &Value, key: &str) -> usize {
    table["columns"]
        .as_array()
        .expect("columns")
        .iter()
        .position(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no column {key}"))
}

fn total_of(table: &Value, key: &str) -> i64 {
    table["totals"][money_col(table, key)]
        .as_i64()
        .expect("total")
}

#[actix_web::test]
async fn reports_agree_with_the_journal_and_export_as_csv_and_xlsx() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let (a, _term1, _tuition) = billed(&t, &app).await;
    let admin = a.admin.clone();
    let me = call(&app, Method::GET, "/api/v1/me", &admin, None)
        .await
        .json["id"]
        .as_str()
        .expect("id")
        .to_string();
    let pay = |family: Uuid, amount: i64, method: &str| json!({"id": Uuid::now_v7(), "family_id": family, "amount": amount, "currency": "PKR", "method": method});
    call(
        &app,
        Method::POST,
        "/api/v1/payments",
        &admin,
        Some(pay(a.f1, 8000, "cash")),
    )
    .await;
    let cheque = call(
        &app,
        Method::POST,
        "/api/v1/payments",
        &admin,
        Some(pay(a.f2, 3000, "cheque")),
    )
    .await
    .json["id"]
        .as_str()
        .expect("id")
        .to_string();
    call(
        &app,
        Method::POST,
        &format!("/api/v1/payments/{cheque}/reversal"),
        &admin,
        Some(json!({"reason": "bounced"})),
    )
    .await;
    call(
        &app,
        Method::POST,
        "/api/v1/payments",
        &admin,
        Some(pay(a.f2, 1000, "mobile_money")),
    )
    .await;
    let d2 = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/dues", a.f2),
        &admin,
        None,
    )
    .await
    .json;
    let (_, line) = first_line(&d2, "Tuition");
    call(&app, Method::POST, &format!("/api/v1/invoice-lines/{line}/discounts"), &admin,
        Some(json!({"id": Uuid::now_v7(), "kind": "waiver", "amount": 400, "reason": "hardship", "approved_by": me}))).await;
    create(
        &app,
        &admin,
        "/api/v1/families",
        json!({"name": "Quiet family"}),
    )
    .await;

    let report = |q: &str| get_owned(&app, &admin, format!("/api/v1/reports/{q}"));
    let far = "2030-01-01";
    let tb = report(&format!("trial_balance?as_of={far}")).await.json;
    assert_eq!(
        total_of(&tb, "debit"),
        total_of(&tb, "credit"),
        "trial balance balances: {tb}"
    );
    assert!(total_of(&tb, "debit") > 0);

    let today = Utc::now().date_naive();
    let coll = report(&format!(
        "collections?from={}&to={far}",
        today - chrono::Duration::days(2)
    ))
    .await
    .json;
    assert_eq!(total_of(&coll, "collected"), 8000 + 3000 + 1000);
    assert_eq!(total_of(&coll, "reversed"), 3000);
    assert_eq!(total_of(&coll, "net"), 9000);
    assert_eq!(total_of(&coll, "receipts"), 3);
    let mut conn = t.tdb.conn();
    let journal_cash = count(
        &mut conn,
        "SELECT coalesce(sum(l.amount), 0)::bigint AS n FROM journal_lines l
         JOIN accounts ac ON ac.school_id = l.school_id AND ac.id = l.account_id
         JOIN journal_entries e ON e.school_id = l.school_id AND e.id = l.entry_id
         WHERE ac.system_key IN ('cash', 'bank') AND e.kind IN ('payment', 'reversal')",
    );
    assert_eq!(
        total_of(&coll, "net"),
        journal_cash,
        "collections equal the journal's cash movements to the unit"
    );

    let by_family = report(&format!("dues?group=family&as_of={far}")).await.json;
    let by_class = report(&format!("dues?group=class&as_of={far}")).await.json;
    let by_student = report(&format!("dues?group=student&as_of={far}"))
        .await
        .json;
    let owed = (6500 + 6000 - 8000) + (6500 - 1000 - 400);
    for r in [&by_family, &by_class, &by_student] {
        assert_eq!(total_of(r, "total"), owed, "{r}");
        assert_eq!(
            total_of(r, "days_90_plus"),
            owed,
            "everything is long overdue by 2030"
        );
    }
    let receivable = count(&mut conn, "SELECT coalesce(sum(l.amount), 0)::bigint AS n FROM journal_lines l JOIN accounts ac ON ac.school_id = l.school_id AND ac.id = l.account_id WHERE ac.system_key = 'receivable'");
    assert_eq!(receivable, owed, "dues equal the Receivable account");

    let income = report(&format!("income?from=2020-01-01&to={far}"))
        .await
        .json;
    assert_eq!(
        total_of(&income, "amount"),
        19_000 - 400,
        "fee income less the waiver"
    );
    let defaulters = report(&format!("defaulters?as_of={far}&min_days=30"))
        .await
        .json;
    assert_eq!(defaulters["rows"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        defaulters["rows"][0][0], "Shah family",
        "largest overdue first"
    );
    let idle = report(&format!("zero_activity?from=2020-01-01&to={far}"))
        .await
        .json;
    let names: Vec<&str> = idle["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r[1].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, vec!["Quiet family"]);

    let csv = actix_test::call_service(
        &app,
        actix_test::TestRequest::get()
            .uri(&format!(
                "/api/v1/reports/dues?group=family&as_of={far}&format=csv"
            ))
            .insert_header(("authorization", format!("Bearer {admin}")))
            .to_request(),
    )
    .await;
    assert_eq!(
        csv.headers().get("content-type").expect("ct"),
        "text/csv; charset=utf-8"
    );
    let body = String::from_utf8(actix_test::read_body(csv).await.to_vec()).expect("utf8");
    assert!(
        body.starts_with("family,not_due (PKR),days_0_30 (PKR)"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "Total,0.00,0.00,0.00,0.00,{}.00,{}.00",
            owed / 100,
            owed / 100
        )),
        "{body}"
    );
    let xlsx = actix_test::call_service(
        &app,
        actix_test::TestRequest::get()
            .uri("/api/v1/reports/trial_balance?format=xlsx")
            .insert_header(("authorization", format!("Bearer {admin}")))
            .to_request(),
    )
    .await;
    assert_eq!(xlsx.status(), StatusCode::OK);
    let bytes = actix_test::read_body(xlsx).await;
    assert!(
        bytes.starts_with(b"PK\x03\x04") && bytes.len() > 2000,
        "an xlsx is a zip"
    );
    let mut zip =
        zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("xlsx opens as zip");
    assert!(zip.by_name("xl/worksheets/sheet1.xml").is_ok());

    let st = report(&format!("family_statement?family_id={}", a.f1))
        .await
        .json;
    let last = st["rows"]
        .as_array()
        .expect("rows")
        .last()
        .expect("a line")
        .clone();
    assert_eq!(last[money_col(&st, "balance")], 6500 + 6000 - 8000);
    let missing = report("family_statement").await;
    assert_eq!(missing.json["field"], "family_id");
    let t1 = login(&app, "alpha", "t1").await;
    assert_eq!(
        call(
            &app,
            Method::GET,
            "/api/v1/reports/trial_balance",
            &t1,
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&app, Method::GET, "/api/v1/reports/nope", &admin, None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn suspense_cash_is_listed_and_assigned_and_accountants_add_accounts() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    let (a, _term1, _tuition) = billed(&t, &app).await;
    let admin = a.admin.clone();
    let unknown = Uuid::now_v7();
    let held = call(
        &app,
        Method::POST,
        "/api/v1/payments",
        &admin,
        Some(json!({"id": unknown, "amount": 7000, "currency": "PKR", "method": "cash"})),
    )
    .await;
    assert_eq!(held.json["to_suspense"], 7000);
    let list = call(&app, Method::GET, "/api/v1/payments/suspense", &admin, None).await;
    assert_eq!(list.json.as_array().map(Vec::len), Some(1));

    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/payments/{unknown}/assign"),
        &admin,
        Some(json!({"family_id": a.f2})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json);
    assert_eq!(
        (
            r.json["family_id"].as_str(),
            r.json["to_credit"].as_i64(),
            r.json["to_suspense"].as_i64()
        ),
        (Some(a.f2.to_string().as_str()), Some(500), Some(0))
    );
    assert_eq!(amounts(&r.json), vec![1500, 5000]);
    let again = call(
        &app,
        Method::POST,
        &format!("/api/v1/payments/{unknown}/assign"),
        &admin,
        Some(json!({"family_id": a.f2})),
    )
    .await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "idempotent for the same family"
    );
    let other = call(
        &app,
        Method::POST,
        &format!("/api/v1/payments/{unknown}/assign"),
        &admin,
        Some(json!({"family_id": a.f1})),
    )
    .await;
    assert_eq!(
        (other.status, other.code()),
        (StatusCode::CONFLICT, "already_assigned")
    );
    assert_eq!(
        call(&app, Method::GET, "/api/v1/payments/suspense", &admin, None)
            .await
            .json
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let f2_payments = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/payments", a.f2),
        &admin,
        None,
    )
    .await;
    assert_eq!(f2_payments.json.as_array().map(Vec::len), Some(1));
    let dues = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/dues", a.f2),
        &admin,
        None,
    )
    .await
    .json;
    assert_eq!(
        (
            dues["total_outstanding"].as_i64(),
            dues["credit_balance"].as_i64()
        ),
        (Some(0), Some(500))
    );

    // Reversing an assigned Suspense payment undoes the assignment too.
    let rev = call(
        &app,
        Method::POST,
        &format!("/api/v1/payments/{unknown}/reversal"),
        &admin,
        Some(json!({"reason": "counterfeit notes"})),
    )
    .await;
    assert_eq!(rev.status, StatusCode::OK, "{}", rev.json);
    let dues = call(
        &app,
        Method::GET,
        &format!("/api/v1/families/{}/dues", a.f2),
        &admin,
        None,
    )
    .await
    .json;
    assert_eq!(
        (
            dues["total_outstanding"].as_i64(),
            dues["credit_balance"].as_i64()
        ),
        (Some(6500), Some(0))
    );
    let mut conn = t.tdb.conn();
    let suspense = count(&mut conn, "SELECT coalesce(sum(l.amount), 0)::bigint AS n FROM journal_lines l JOIN accounts ac ON ac.school_id = l.school_id AND ac.id = l.account_id WHERE ac.system_key = 'suspense'");
    assert_eq!(suspense, 0, "Suspense is back to zero");

    let acct = login(&app, "alpha", "acct").await;
    let r = call(
        &app,
        Method::POST,
        "/api/v1/accounts",
        &acct,
        Some(json!({"code": "5100", "name": "Utilities", "kind": "expense"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let dup = call(
        &app,
        Method::POST,
        "/api/v1/accounts",
        &acct,
        Some(json!({"code": "5100", "name": "Again", "kind": "expense"})),
    )
    .await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    let bad = call(
        &app,
        Method::POST,
        "/api/v1/accounts",
        &acct,
        Some(json!({"code": "5200", "name": "X", "kind": "magic"})),
    )
    .await;
    assert_eq!(bad.json["field"], "kind");
    let chart = call(&app, Method::GET, "/api/v1/accounts", &acct, None)
        .await
        .json;
    assert!(chart
        .as_array()
        .expect("chart")
        .iter()
        .any(|x| x["code"] == "5100"));
}

/// Creates the 2027-28 academic year with one term, schedules 5200 of `head` for `class` in it
/// (due 2027-04-10), and returns the term's id.
async fn next_year_term<S, B>(app: &S, admin: &str, class: Uuid, head: Uuid) -> String
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    B: actix_web::body::MessageBody,
{
    let year = create(
        app,
        admin,
        "/api/v1/academic-years",
        json!({"name": "2027-28", "starts_on": "2027-04-01", "ends_on": "2028-03-31",
        "terms": [{"name": "Term 1", "starts_on": "2027-04-01", "ends_on": "2027-09-30"}]}),
    )
    .await;
    let years = call(app, Method::GET, "/api/v1/academic-years", admin, None).await;
    let term = years
        .json
        .as_array()
        .expect("years")
        .iter()
        .find(|y| y["id"] == year.to_string())
        .expect("new year")["terms"][0]["id"]
        .as_str()
        .expect("term id")
        .to_string();
    create(app, admin, "/api/v1/fee-schedules", json!({"term_id": term, "class_id": class, "fee_head_id": head, "amount": 5200, "due_on": "2027-04-10"})).await;
    term
}

#[actix_web::test]
async fn a_late_fine_rule_fines_each_overdue_invoice_once() {
    let t = TestApp::new();
    let app = actix_test::init_service(build_app(t.state.clone())).await;
    // F1 owes S1 6500 and S2 6000, F2 owes S3 6500, all due in April 2026: long overdue.
    let (a, _, _) = billed(&t, &app).await;
    let admin = a.admin.clone();
    let rule = |body: Value| {
        call(
            &app,
            Method::POST,
            "/api/v1/late-fine-rules",
            &admin,
            Some(body),
        )
    };
    for (body, field) in [
        (
            json!({"name": "Late", "grace_days": 400, "amount": 500}),
            "grace_days",
        ),
        (
            json!({"name": "Late", "grace_days": 30, "amount": 0}),
            "amount",
        ),
        (
            json!({"name": " ", "grace_days": 30, "amount": 500}),
            "name",
        ),
    ] {
        let r = rule(body).await;
        assert_eq!(
            (r.status, r.json["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{}",
            r.json
        );
    }
    let r = rule(json!({"name": "Monthly late fee", "grace_days": 30, "amount": 500})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let id = r.json["id"].as_str().expect("id").to_string();
    let r = rule(json!({"name": "Monthly late fee", "grace_days": 60, "amount": 900})).await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "the name is taken: {}",
        r.json
    );

    // F2 pays in full: nothing of theirs is overdue any more.
    let r = call(&app, Method::POST, "/api/v1/payments", &admin, Some(json!({
        "id": Uuid::now_v7(), "family_id": a.f2, "amount": 6500, "currency": "PKR", "method": "cash"}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let dues = |f: Uuid| get_owned(&app, &admin, format!("/api/v1/families/{f}/dues"));
    assert_eq!(dues(a.f1).await.json["total_outstanding"], 12_500);

    let preview = call(
        &app,
        Method::GET,
        &format!("/api/v1/late-fine-rules/{id}/preview"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (
            &preview.json["invoices"],
            &preview.json["families"],
            &preview.json["amount"],
            &preview.json["applied"]
        ),
        (&json!(2), &json!(1), &json!(1000), &json!(false)),
        "{}",
        preview.json
    );
    assert_eq!(
        dues(a.f1).await.json["total_outstanding"],
        12_500,
        "a preview writes nothing"
    );
    // The office runs it (an accountant may); a teacher may not even read the rules.
    let accountant = login(&app, "alpha", "acct").await;
    let teacher = login(&app, "alpha", "t1").await;
    let r = call(&app, Method::GET, "/api/v1/late-fine-rules", &teacher, None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = call(
        &app,
        Method::POST,
        "/api/v1/late-fine-rules",
        &accountant,
        Some(json!({"name": "Mine", "grace_days": 1, "amount": 1})),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "rules are the admin's");
    let run = call(
        &app,
        Method::POST,
        &format!("/api/v1/late-fine-rules/{id}/apply"),
        &accountant,
        None,
    )
    .await;
    assert_eq!(run.status, StatusCode::OK, "{}", run.json);
    assert_eq!(
        (
            &run.json["invoices"],
            &run.json["amount"],
            &run.json["applied"]
        ),
        (&json!(2), &json!(1000), &json!(true)),
        "{}",
        run.json
    );
    let d1 = dues(a.f1).await.json;
    assert_eq!(d1["total_outstanding"], 13_500);
    let fine_lines = d1["invoices"]
        .as_array()
        .expect("invoices")
        .iter()
        .flat_map(|i| i["lines"].as_array().expect("lines").clone())
        .filter(|l| {
            l["description"]
                .as_str()
                .unwrap_or("")
                .contains("Monthly late fee: more than 30 day(s) past due")
        })
        .count();
    assert_eq!(fine_lines, 2, "{d1}");
    assert_eq!(
        dues(a.f2).await.json["total_outstanding"],
        0,
        "F2 paid and is not fined"
    );
    // Again: nothing new is fined; the rule counts what it fined.
    let again = call(
        &app,
        Method::POST,
        &format!("/api/v1/late-fine-rules/{id}/apply"),
        &admin,
        None,
    )
    .await;
    assert_eq!(again.json["invoices"], 0, "{}", again.json);
    assert_eq!(dues(a.f1).await.json["total_outstanding"], 13_500);
    let listed = call(
        &app,
        Method::GET,
        "/api/v1/late-fine-rules",
        &accountant,
        None,
    )
    .await;
    assert_eq!(listed.json[0]["fined_invoices"], 2, "{}", listed.json);
    // A second rule escalates on its own (each rule fines an invoice once); the server's
    // daily run (`apply-late-fines`) runs every active rule.
    let r = rule(json!({"name": "Second notice", "grace_days": 60, "amount": 250})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let runs = t
        .tdb
        .conn()
        .transaction(|c| {
            daftar_server::ledger::late_fines::apply_all(
                c,
                a.school.id,
                daftar_server::audit::Actor::SYSTEM,
            )
        })
        .expect("apply all");
    let fined: Vec<(String, i64)> = runs.iter().map(|(n, r)| (n.clone(), r.invoices)).collect();
    assert_eq!(
        fined,
        [
            ("Monthly late fee".to_string(), 0),
            ("Second notice".to_string(), 2)
        ]
    );
    assert_eq!(dues(a.f1).await.json["total_outstanding"], 14_000);
    // Switched off, a rule no longer runs; its fines stand.
    let off = call(
        &app,
        Method::PATCH,
        &format!("/api/v1/late-fine-rules/{id}"),
        &admin,
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(off.json["active"], false, "{}", off.json);
    let r = call(
        &app,
        Method::POST,
        &format!("/api/v1/late-fine-rules/{id}/apply"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "rule_inactive"),
        "{}",
        r.json
    );
    assert_eq!(dues(a.f1).await.json["total_outstanding"], 14_000);
    // The ledger still balances: every fine was a balanced entry.
    let mut conn = t.tdb.conn();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM (SELECT entry_id FROM journal_lines GROUP BY entry_id HAVING sum(amount) <> 0) x"), 0);
}
