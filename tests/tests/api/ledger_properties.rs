//! Property test of the ledger (ARCHITECTURE.md §4): random sequences of invoice runs, payments,
//! discounts, fines, refunds and reversals, checked after every step against the invariants —
//! every entry balances, Receivable per family equals its open invoice lines, Family Credit is
//! never negative — and every payment's allocation equals `daftar_client_core::ledger::allocate`
//! over the lines open just before it (what an offline agent prints on its receipt).

use chrono::{NaiveDate, Utc};
use daftar_client_core::ledger::SystemAccount;
use daftar_client_core::ledger::{allocate, OpenLine};
use daftar_client_core::protocol::{
    AddFineRequest, DiscountKind, GrantDiscountRequest, PaymentMethod, RecordPaymentRequest,
    RefundRequest, Role,
};
use daftar_server::audit::Actor;
use daftar_server::errors::ApiError;
use daftar_server::ledger::{adjustments, payments, repo, service};
use daftar_server::roster::models::*;
use daftar_server::schema::*;
use daftar_server::schools::{create_school, create_user, NewSchool};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use proptest::prelude::*;
use uuid::Uuid;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Issue(usize),
    Pay {
        family: usize,
        amount: i64,
        cash: bool,
    },
    Discount {
        family: usize,
        line: usize,
        amount: i64,
    },
    Fine {
        family: usize,
        amount: i64,
    },
    Refund {
        family: usize,
        amount: i64,
    },
    Reverse {
        payment: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0usize..2).prop_map(Op::Issue),
        (0usize..3, 1i64..15_000, any::<bool>()).prop_map(|(family, amount, cash)| Op::Pay {
            family,
            amount,
            cash
        }),
        (0usize..3, 0usize..6, 1i64..3_000).prop_map(|(family, line, amount)| Op::Discount {
            family,
            line,
            amount
        }),
        (0usize..3, 1i64..1_000).prop_map(|(family, amount)| Op::Fine { family, amount }),
        (0usize..3, 1i64..5_000).prop_map(|(family, amount)| Op::Refund { family, amount }),
        (0usize..8).prop_map(|payment| Op::Reverse { payment }),
    ]
}

struct World {
    school: Uuid,
    admin: Uuid,
    terms: Vec<Uuid>,
    families: Vec<Uuid>,
    payments: Vec<Uuid>,
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

/// Three families (one with two children in different classes), two classes, two terms with
/// two fee heads each, due dates in the past so fines apply.
fn world(conn: &mut PgConnection) -> World {
    let now = Utc::now();
    let school = create_school(
        conn,
        &NewSchool {
            slug: "prop".into(),
            name: "Prop".into(),
            currency: "PKR".into(),
            timezone: "Asia/Karachi".into(),
        },
    )
    .expect("school");
    let sid = school.id;
    let admin = create_user(conn, sid, "admin", "Admin", Role::Admin, None)
        .expect("admin")
        .id;
    let year = AcademicYearRow {
        school_id: sid,
        id: Uuid::now_v7(),
        name: "Y".into(),
        starts_on: d(2025, 4, 1),
        ends_on: d(2026, 3, 31),
        sourced_id: None,
        created_at: now,
    };
    diesel::insert_into(academic_years::table)
        .values(&year)
        .execute(conn)
        .expect("year");
    let terms_rows: Vec<TermRow> = [
        (d(2025, 4, 1), d(2025, 9, 30)),
        (d(2025, 10, 1), d(2026, 3, 31)),
    ]
    .iter()
    .enumerate()
    .map(|(i, (s, e))| TermRow {
        school_id: sid,
        id: Uuid::now_v7(),
        academic_year_id: year.id,
        name: format!("T{i}"),
        starts_on: *s,
        ends_on: *e,
        active: true,
        sourced_id: None,
        created_at: now,
    })
    .collect();
    diesel::insert_into(terms::table)
        .values(&terms_rows)
        .execute(conn)
        .expect("terms");
    let class_rows: Vec<ClassRow> = (0..2)
        .map(|i| ClassRow {
            school_id: sid,
            id: Uuid::now_v7(),
            academic_year_id: year.id,
            term_id: None,
            campus_id: None,
            name: format!("C{i}"),
            grade: i.to_string(),
            section: "A".into(),
            code: None,
            homeroom_teacher_id: None,
            active: true,
            sourced_id: None,
            created_at: now,
            updated_at: now,
        })
        .collect();
    diesel::insert_into(classes::table)
        .values(&class_rows)
        .execute(conn)
        .expect("classes");
    let families_rows: Vec<FamilyRow> = (0..3)
        .map(|i| FamilyRow {
            school_id: sid,
            id: Uuid::now_v7(),
            name: format!("F{i}"),
            active: true,
            created_at: now,
            updated_at: now,
        })
        .collect();
    diesel::insert_into(families::table)
        .values(&families_rows)
        .execute(conn)
        .expect("families");
    // (family, class) per student: F0 has two children in different classes.
    for (n, (f, c)) in [(0, 0), (0, 1), (1, 0), (2, 1)].into_iter().enumerate() {
        let st = StudentRow {
            school_id: sid,
            id: Uuid::now_v7(),
            family_id: families_rows[f].id,
            admission_no: format!("P-{n}"),
            given_name: format!("S{n}"),
            family_name: "X".into(),
            date_of_birth: None,
            gender: None,
            grade: String::new(),
            email: None,
            active: true,
            sourced_id: None,
            created_at: now,
            updated_at: now,
        };
        diesel::insert_into(students::table)
            .values(&st)
            .execute(conn)
            .expect("student");
        let en = EnrollmentRow {
            school_id: sid,
            id: Uuid::now_v7(),
            class_id: class_rows[c].id,
            student_id: st.id,
            starts_on: None,
            ends_on: None,
            active: true,
            sourced_id: None,
            created_at: now,
        };
        diesel::insert_into(enrollments::table)
            .values(&en)
            .execute(conn)
            .expect("enrollment");
    }
    let heads = [
        repo::create_fee_head(conn, sid, Uuid::now_v7(), "Tuition").expect("head"),
        repo::create_fee_head(conn, sid, Uuid::now_v7(), "Transport").expect("head"),
    ];
    for (t, term) in terms_rows.iter().enumerate() {
        for (c, class) in class_rows.iter().enumerate() {
            for (h, head) in heads.iter().enumerate() {
                diesel::insert_into(fee_schedules::table)
                    .values((
                        fee_schedules::school_id.eq(sid),
                        fee_schedules::id.eq(Uuid::now_v7()),
                        fee_schedules::term_id.eq(term.id),
                        fee_schedules::class_id.eq(class.id),
                        fee_schedules::fee_head_id.eq(head.id),
                        fee_schedules::amount.eq(3_000 + 1_000 * (t + c + h) as i64),
                        fee_schedules::due_on
                            .eq(term.starts_on + chrono::Duration::days(10 * (h as i64 + 1))),
                    ))
                    .execute(conn)
                    .expect("schedule");
            }
        }
    }
    World {
        school: sid,
        admin,
        terms: terms_rows.iter().map(|t| t.id).collect(),
        families: families_rows.iter().map(|f| f.id).collect(),
        payments: Vec::new(),
    }
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn scalar(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<N>(conn).expect(sql).n
}

fn check_invariants(
    conn: &mut PgConnection,
    w: &World,
    step: usize,
    op: &Op,
) -> Result<(), TestCaseError> {
    let unbalanced = scalar(conn, "SELECT count(*) AS n FROM (SELECT entry_id FROM journal_lines GROUP BY entry_id HAVING sum(amount) <> 0) x");
    prop_assert_eq!(unbalanced, 0, "step {} {:?}: unbalanced entries", step, op);
    prop_assert_eq!(
        scalar(
            conn,
            "SELECT coalesce(sum(amount), 0)::bigint AS n FROM journal_lines"
        ),
        0
    );
    let receivable = repo::system_account(conn, w.school, SystemAccount::Receivable).expect("acct");
    for f in &w.families {
        let open: i64 = repo::family_invoice_lines(conn, w.school, *f)
            .expect("lines")
            .iter()
            .map(|l| l.outstanding)
            .sum();
        let journal =
            repo::family_account_balance(conn, w.school, receivable, *f).expect("balance");
        prop_assert_eq!(
            journal,
            open,
            "step {} {:?}: receivable of family {} differs from open lines",
            step,
            op,
            f
        );
        let credit = service::credit_balance(conn, w.school, *f).expect("credit");
        prop_assert!(
            credit >= 0,
            "step {} {:?}: negative credit {}",
            step,
            op,
            credit
        );
        let lines = repo::family_invoice_lines(conn, w.school, *f).expect("lines");
        prop_assert!(
            lines
                .iter()
                .all(|l| l.outstanding >= 0 && l.outstanding <= l.amount),
            "step {} {:?}: a line is over-allocated",
            step,
            op
        );
    }
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    let mut w = world(&mut conn);
    let actor = Actor {
        user_id: Some(w.admin),
        device_id: None,
    };
    let today = d(2026, 11, 21);
    for (step, op) in ops.iter().enumerate() {
        let result: Result<(), ApiError> = conn.transaction(|c| {
            match op {
                Op::Issue(t) => daftar_server::ledger::invoicing::issue_invoices(
                    c,
                    w.school,
                    w.terms[*t],
                    actor,
                    today,
                )
                .map(|_| ()),
                Op::Pay {
                    family,
                    amount,
                    cash,
                } => {
                    let f = w.families[*family];
                    let before: Vec<OpenLine> = repo::family_invoice_lines(c, w.school, f)?
                        .into_iter()
                        .filter(|l| l.outstanding > 0)
                        .map(|l| OpenLine {
                            invoice_id: l.invoice_id,
                            invoice_line_id: l.invoice_line_id,
                            due_on: l.due_on,
                            invoice_no: l.invoice_no,
                            line_no: l.line_no,
                            outstanding: l.outstanding,
                        })
                        .collect();
                    let expected = allocate(*amount, &before).expect("positive");
                    let req = RecordPaymentRequest {
                        id: Uuid::now_v7(),
                        family_id: Some(f),
                        amount: *amount,
                        currency: "PKR".into(),
                        method: if *cash {
                            PaymentMethod::Cash
                        } else {
                            PaymentMethod::Cheque
                        },
                        reference: None,
                        received_at: None,
                        cashier_id: None,
                    };
                    let p = match payments::record_payment(c, w.school, actor, &req)? {
                        payments::Recorded::New(p) | payments::Recorded::Replayed(p) => p,
                    };
                    let got: Vec<(Uuid, i64)> = p
                        .allocations
                        .iter()
                        .map(|a| (a.invoice_line_id, a.amount))
                        .collect();
                    let want: Vec<(Uuid, i64)> = expected
                        .allocations
                        .iter()
                        .map(|a| (a.invoice_line_id, a.amount))
                        .collect();
                    assert_eq!(
                        got, want,
                        "server allocation differs from client-core at step {step}"
                    );
                    assert_eq!(p.to_credit, expected.unallocated);
                    w.payments.push(p.id);
                    Ok(())
                }
                Op::Discount {
                    family,
                    line,
                    amount,
                } => {
                    let lines: Vec<_> =
                        repo::family_invoice_lines(c, w.school, w.families[*family])?
                            .into_iter()
                            .filter(|l| l.outstanding > 0)
                            .collect();
                    let Some(l) = lines.get(*line % lines.len().max(1)) else {
                        return Ok(());
                    };
                    let req = GrantDiscountRequest {
                        id: Uuid::now_v7(),
                        kind: DiscountKind::Discount,
                        amount: Some((*amount).min(l.outstanding)),
                        percent_bp: None,
                        reason: "prop".into(),
                        approved_by: w.admin,
                    };
                    adjustments::grant_discount(c, w.school, actor, l.invoice_line_id, &req)
                        .map(|_| ())
                }
                Op::Fine { family, amount } => {
                    let lines = repo::family_invoice_lines(c, w.school, w.families[*family])?;
                    let Some(l) = lines.iter().find(|l| l.outstanding > 0 && l.due_on < today)
                    else {
                        return Ok(());
                    };
                    let req = AddFineRequest {
                        id: Uuid::now_v7(),
                        amount: *amount,
                        reason: "late".into(),
                        due_on: None,
                    };
                    adjustments::add_fine(c, w.school, actor, l.invoice_id, &req, today).map(|_| ())
                }
                Op::Refund { family, amount } => {
                    let f = w.families[*family];
                    let credit = service::credit_balance(c, w.school, f)?;
                    if credit == 0 {
                        return Ok(());
                    }
                    let req = RefundRequest {
                        id: Uuid::now_v7(),
                        amount: (*amount).min(credit),
                        method: PaymentMethod::Cash,
                        reason: "prop".into(),
                    };
                    adjustments::refund(c, w.school, actor, f, &req).map(|_| ())
                }
                Op::Reverse { payment } => {
                    let Some(p) = w.payments.get(*payment % w.payments.len().max(1)).copied()
                    else {
                        return Ok(());
                    };
                    match adjustments::reverse_payment(c, w.school, actor, p, "bounced") {
                        // Refused whole when the payment's credit was refunded: a valid outcome.
                        Err(ApiError::Conflict {
                            code: "credit_already_refunded",
                            ..
                        }) => Err(ApiError::Conflict {
                            code: "credit_already_refunded",
                            detail: String::new(),
                        }),
                        other => other.map(|_| ()),
                    }
                }
            }
        });
        match result {
            Ok(())
            | Err(ApiError::Conflict {
                code: "credit_already_refunded",
                ..
            }) => {}
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "step {step} {op:?} failed: {e:?}"
                )))
            }
        }
        check_invariants(&mut conn, &w, step, op)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 64, .. ProptestConfig::default() })]
    #[test]
    fn random_ledger_sequences_keep_every_invariant(ops in prop::collection::vec(op(), 1..30)) {
        run(&ops)?;
    }
}

#[test]
fn a_fixed_busy_sequence_keeps_every_invariant() {
    use Op::*;
    let ops = [
        Issue(0),
        Pay {
            family: 0,
            amount: 9_500,
            cash: true,
        },
        Pay {
            family: 0,
            amount: 20_000,
            cash: false,
        },
        Issue(1),
        Reverse { payment: 1 },
        Fine {
            family: 1,
            amount: 300,
        },
        Discount {
            family: 1,
            line: 0,
            amount: 800,
        },
        Pay {
            family: 1,
            amount: 30_000,
            cash: true,
        },
        Refund {
            family: 1,
            amount: 1_000,
        },
        Reverse { payment: 2 },
        Pay {
            family: 2,
            amount: 1,
            cash: true,
        },
        Issue(1),
        Issue(0),
    ];
    run(&ops).expect("invariants hold");
}
