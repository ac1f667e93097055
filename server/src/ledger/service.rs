//! Ledger rules that span repos: applying Family Credit, loading and resolving payments,
//! and reading a family's dues and statement from the journal.

use daftar_client_core::ledger::SystemAccount;
use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use daftar_client_core::ledger::{allocate, group_invoices, AllocationPlan, FamilyLine, OpenLine};
use daftar_client_core::protocol::{
    FamilyDues, FamilyStatement, InvoiceDue, Payment, PaymentAllocation, PaymentMethod,
    RecordPaymentRequest, StatementLine,
};
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::models::*;
use super::repo::{self, EntryHeader, OpenLineRow, Posting};
use crate::audit::{Actor, AuditEntry};
use crate::errors::{ApiError, ApiResult};
use crate::schema::{
    allocations, families, invoice_lines, invoices, journal_entries, journal_lines,
    payment_reversals, payments, schools, suspense_resolutions,
};

/// Receipt series of payments recorded without an enrolled device (the web/API).
pub const SERVER_RECEIPT_SERIES: &str = "S";

/// The school's ISO 4217 currency.
pub(crate) fn school_currency(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<String> {
    schools::table
        .find(school_id)
        .select(schools::currency)
        .first(conn)
}

/// Locks the family row for the rest of the transaction, so concurrent payments and invoice
/// runs for one family allocate against the same open lines one at a time.
pub fn lock_family(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
) -> QueryResult<Option<Uuid>> {
    families::table
        .find((school_id, family_id))
        .select(families::id)
        .for_update()
        .first(conn)
        .optional()
}

fn open_lines(rows: &[OpenLineRow]) -> Vec<OpenLine> {
    family_lines(rows)
        .iter()
        .filter(|l| l.outstanding > 0)
        .map(OpenLine::from)
        .collect()
}

/// Family Credit the school holds for `family_id` (≥ 0 by construction), minor units.
pub fn credit_balance(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
) -> QueryResult<i64> {
    let account = repo::system_account(conn, school_id, SystemAccount::FamilyCredit)?;
    Ok(-repo::family_account_balance(
        conn, school_id, account, family_id,
    )?)
}

/// Applies the family's credit to its open lines (oldest first, as a payment would). Returns
/// the amount applied.
pub fn apply_family_credit(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
    actor: Actor,
    on: NaiveDate,
) -> ApiResult<i64> {
    let credit = credit_balance(conn, school_id, family_id)?;
    if credit <= 0 {
        return Ok(0);
    }
    let rows = repo::family_invoice_lines(conn, school_id, family_id)?;
    let open = open_lines(&rows);
    let owing: i64 = open.iter().map(|l| l.outstanding).sum();
    let apply = credit.min(owing);
    if apply <= 0 {
        return Ok(0);
    }
    let credit_acct = repo::system_account(conn, school_id, SystemAccount::FamilyCredit)?;
    let debit = Posting {
        account_id: credit_acct,
        amount: apply,
        family_id: Some(family_id),
        student_id: None,
    };
    let header = EntryHeader {
        kind: "credit_application",
        occurred_on: on,
        memo: "Family Credit applied to open invoices".into(),
        reverses_entry_id: None,
        posted_by: actor.user_id,
        device_id: actor.device_id,
    };
    post_family_allocation(conn, school_id, family_id, &rows, debit, &header)?;
    Ok(apply)
}

/// Allocates `debit.amount` over the family's open `rows` with
/// `daftar_client_core::ledger::allocate` and posts one entry: `debit`, Cr Receivable per
/// student for the allocated part, Cr Family Credit for the rest; then records the
/// allocations. Shared by payments, credit applications and Suspense assignments so the three
/// can never allocate differently.
fn post_family_allocation(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
    rows: &[OpenLineRow],
    debit: Posting,
    header: &EntryHeader<'_>,
) -> ApiResult<(JournalEntryRow, AllocationPlan)> {
    let plan = plan_allocation(debit.amount, rows)?;
    let receivable = repo::system_account(conn, school_id, SystemAccount::Receivable)?;
    let credit = repo::system_account(conn, school_id, SystemAccount::FamilyCredit)?;
    let postings = allocation_postings(&plan, rows, debit, receivable, credit, family_id);
    let entry = repo::post_entry(conn, school_id, header, &postings)?;
    repo::insert_allocations(
        conn,
        school_id,
        entry.id,
        &plan
            .allocations
            .iter()
            .map(|a| (a.invoice_line_id, a.amount))
            .collect::<Vec<_>>(),
    )?;
    Ok((entry, plan))
}

/// Allocates `amount` over the family's invoice `rows` (those with something outstanding)
/// with `daftar_client_core::ledger::allocate`.
///
/// Errors: validation naming `amount` when it is not positive.
pub(crate) fn plan_allocation(amount: i64, rows: &[OpenLineRow]) -> ApiResult<AllocationPlan> {
    allocate(amount, &open_lines(rows)).map_err(|e| ApiError::validation("amount", e.to_string()))
}

/// The postings of an allocating entry: `debit`, Cr Receivable per student for the allocated
/// part (in first-allocated order), Cr Family Credit for `plan.unallocated`. Pure, shared by
/// [`post_family_allocation`] and the batched payment path.
pub(crate) fn allocation_postings(
    plan: &AllocationPlan,
    rows: &[OpenLineRow],
    debit: Posting,
    receivable: Uuid,
    credit: Uuid,
    family_id: Uuid,
) -> Vec<Posting> {
    let student_of: HashMap<Uuid, Uuid> = rows
        .iter()
        .map(|r| (r.invoice_line_id, r.student_id))
        .collect();
    let mut postings = vec![debit];
    postings.extend(per_student_credits(
        &plan
            .allocations
            .iter()
            .map(|a| (student_of[&a.invoice_line_id], a.amount))
            .collect::<Vec<_>>(),
        receivable,
        family_id,
    ));
    postings.push(Posting {
        account_id: credit,
        amount: -plan.unallocated,
        family_id: Some(family_id),
        student_id: None,
    });
    postings
}

/// Credit postings to Receivable, one per student (amounts summed), in first-seen order.
fn per_student_credits(parts: &[(Uuid, i64)], receivable: Uuid, family_id: Uuid) -> Vec<Posting> {
    let mut order: Vec<Uuid> = Vec::new();
    let mut sums: HashMap<Uuid, i64> = HashMap::new();
    for (student, amount) in parts {
        if !sums.contains_key(student) {
            order.push(*student);
        }
        *sums.entry(*student).or_default() += amount;
    }
    order
        .into_iter()
        .map(|s| Posting {
            account_id: receivable,
            amount: -sums[&s],
            family_id: Some(family_id),
            student_id: Some(s),
        })
        .collect()
}

fn method_from(s: &str) -> PaymentMethod {
    match s {
        "bank_transfer" => PaymentMethod::BankTransfer,
        "cheque" => PaymentMethod::Cheque,
        "card" => PaymentMethod::Card,
        "mobile_money" => PaymentMethod::MobileMoney,
        _ => PaymentMethod::Cash,
    }
}

/// The stored payment as the API shows it, with its allocations. A Suspense payment that the
/// office has since assigned shows its family and the allocations of the assignment.
pub fn load_payment(conn: &mut PgConnection, school_id: Uuid, id: Uuid) -> ApiResult<Payment> {
    let p: PaymentRow = payments::table
        .find((school_id, id))
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("payment"))?;
    let resolution: Option<(Uuid, Uuid)> = suspense_resolutions::table
        .find((school_id, id))
        .select((
            suspense_resolutions::family_id,
            suspense_resolutions::journal_entry_id,
        ))
        .first(conn)
        .optional()?;
    let allocating_entry = resolution.map(|r| r.1).unwrap_or(p.journal_entry_id);
    let allocs: Vec<(Uuid, Uuid, Uuid, i64)> = allocations::table
        .inner_join(
            invoice_lines::table.on(invoice_lines::school_id
                .eq(allocations::school_id)
                .and(invoice_lines::id.eq(allocations::invoice_line_id))),
        )
        .inner_join(
            invoices::table.on(invoices::school_id
                .eq(invoice_lines::school_id)
                .and(invoices::id.eq(invoice_lines::invoice_id))),
        )
        .filter(allocations::school_id.eq(school_id))
        .filter(allocations::journal_entry_id.eq(allocating_entry))
        .order((
            invoice_lines::due_on,
            invoices::invoice_no,
            invoice_lines::line_no,
        ))
        .select((
            invoices::id,
            invoice_lines::id,
            invoices::student_id,
            allocations::amount,
        ))
        .load(conn)?;
    let allocated: i64 = allocs.iter().map(|a| a.3).sum();
    let (family_id, to_credit, to_suspense) = match resolution {
        Some((family, _)) => (Some(family), p.amount - allocated, 0),
        None => (p.family_id, p.to_credit, p.to_suspense),
    };
    Ok(Payment {
        id: p.id,
        receipt_no: p.receipt_no,
        family_id,
        amount: p.amount,
        currency: p.currency,
        method: method_from(&p.method),
        reference: p.reference,
        received_at: p.received_at,
        allocations: allocs
            .into_iter()
            .map(
                |(invoice_id, invoice_line_id, student_id, amount)| PaymentAllocation {
                    invoice_id,
                    invoice_line_id,
                    student_id,
                    amount,
                },
            )
            .collect(),
        to_credit,
        to_suspense,
        journal_entry_id: p.journal_entry_id,
    })
}

/// Payments still held in Suspense (no family, not reversed, not yet assigned), oldest first.
pub fn suspense_payments(conn: &mut PgConnection, school_id: Uuid) -> ApiResult<Vec<Payment>> {
    let ids: Vec<Uuid> = payments::table
        .filter(payments::school_id.eq(school_id))
        .filter(payments::to_suspense.gt(0))
        .filter(diesel::dsl::not(
            payments::id.eq_any(
                suspense_resolutions::table
                    .filter(suspense_resolutions::school_id.eq(school_id))
                    .select(suspense_resolutions::payment_id),
            ),
        ))
        .filter(diesel::dsl::not(
            payments::id.eq_any(
                payment_reversals::table
                    .filter(payment_reversals::school_id.eq(school_id))
                    .select(payment_reversals::payment_id),
            ),
        ))
        .order(payments::received_at)
        .select(payments::id)
        .load(conn)?;
    ids.into_iter()
        .map(|id| load_payment(conn, school_id, id))
        .collect()
}

/// Gives a Suspense payment to `family_id`: Dr Suspense, Cr Receivable (allocated oldest due
/// first with `daftar_client_core::ledger::allocate`), Cr Family Credit (excess). Idempotent
/// for the same family.
///
/// Errors: 404 unknown payment; validation naming `family_id`; 422 `not_in_suspense`; 409
/// `already_assigned` (to another family) or `payment_reversed`.
pub fn assign_suspense(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    payment_id: Uuid,
    family_id: Uuid,
) -> ApiResult<Payment> {
    let p: PaymentRow = payments::table
        .find((school_id, payment_id))
        .select(PaymentRow::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("payment"))?;
    if p.to_suspense == 0 {
        return Err(ApiError::Unprocessable {
            code: "not_in_suspense",
            detail: format!("receipt {} was not held in Suspense", p.receipt_no),
        });
    }
    if let Some(existing) = suspense_resolutions::table
        .find((school_id, payment_id))
        .select(suspense_resolutions::family_id)
        .first::<Uuid>(conn)
        .optional()?
    {
        if existing == family_id {
            return load_payment(conn, school_id, payment_id);
        }
        return Err(ApiError::Conflict {
            code: "already_assigned",
            detail: format!(
                "receipt {} was already assigned to family {existing}",
                p.receipt_no
            ),
        });
    }
    let reversed: i64 = payment_reversals::table
        .find((school_id, payment_id))
        .count()
        .get_result(conn)?;
    if reversed > 0 {
        return Err(ApiError::Conflict {
            code: "payment_reversed",
            detail: format!("receipt {} was reversed", p.receipt_no),
        });
    }
    if lock_family(conn, school_id, family_id)?.is_none() {
        return Err(ApiError::validation(
            "family_id",
            "no such family in this school",
        ));
    }
    let rows = repo::family_invoice_lines(conn, school_id, family_id)?;
    let suspense = repo::system_account(conn, school_id, SystemAccount::Suspense)?;
    let debit = Posting {
        account_id: suspense,
        amount: p.to_suspense,
        family_id: None,
        student_id: None,
    };
    let on = crate::calendar::local_date(conn, school_id, Utc::now())?;
    let header = EntryHeader {
        kind: "adjustment",
        occurred_on: on,
        memo: format!("Receipt {} moved from Suspense to family", p.receipt_no),
        reverses_entry_id: None,
        posted_by: actor.user_id,
        device_id: actor.device_id,
    };
    let (entry, _) = post_family_allocation(conn, school_id, family_id, &rows, debit, &header)?;
    diesel::insert_into(suspense_resolutions::table)
        .values((
            suspense_resolutions::school_id.eq(school_id),
            suspense_resolutions::payment_id.eq(payment_id),
            suspense_resolutions::family_id.eq(family_id),
            suspense_resolutions::journal_entry_id.eq(entry.id),
            suspense_resolutions::resolved_by.eq(actor.user_id),
        ))
        .execute(conn)?;
    AuditEntry::new(school_id, actor, "payment", payment_id).event(
        conn,
        "assign_from_suspense",
        Some(&serde_json::json!({ "family_id": family_id })),
    )?;
    load_payment(conn, school_id, payment_id)
}

/// SHA-256 of the request's canonical JSON: what makes a replay "the same request".
pub fn request_hash(req: &RecordPaymentRequest) -> Vec<u8> {
    Sha256::digest(serde_json::to_vec(req).unwrap_or_default()).to_vec()
}

/// Groups invoice lines into invoices (payment order), keeping lines with `outstanding`
/// at least `min_outstanding`; invoices without such lines are left out.
fn family_lines(rows: &[OpenLineRow]) -> Vec<FamilyLine> {
    rows.iter()
        .map(|r| FamilyLine {
            invoice_line_id: r.invoice_line_id,
            invoice_id: r.invoice_id,
            invoice_no: r.invoice_no,
            line_no: r.line_no,
            due_on: r.due_on,
            student_id: r.student_id,
            term_id: r.term_id,
            issued_on: r.issued_on,
            description: r.description.clone(),
            amount: r.amount,
            outstanding: r.outstanding,
        })
        .collect()
}

/// Every invoice of the family with every line and what is still owing, oldest due first.
pub fn family_invoices(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
) -> ApiResult<Vec<InvoiceDue>> {
    let rows = repo::family_invoice_lines(conn, school_id, family_id)?;
    Ok(group_invoices(&family_lines(&rows), i64::MIN))
}

/// The family's payments with receipts and allocations, newest first.
pub fn family_payments(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
) -> ApiResult<Vec<Payment>> {
    let ids: Vec<Uuid> = payments::table
        .filter(payments::school_id.eq(school_id))
        .filter(
            payments::family_id.eq(family_id).or(payments::id.eq_any(
                suspense_resolutions::table
                    .filter(suspense_resolutions::school_id.eq(school_id))
                    .filter(suspense_resolutions::family_id.eq(family_id))
                    .select(suspense_resolutions::payment_id),
            )),
        )
        .order((payments::received_at.desc(), payments::id.desc()))
        .select(payments::id)
        .load(conn)?;
    ids.into_iter()
        .map(|id| load_payment(conn, school_id, id))
        .collect()
}

/// What the family owes, from its invoice lines and allocations, plus its credit balance.
pub fn family_dues(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
) -> ApiResult<FamilyDues> {
    let rows = repo::family_invoice_lines(conn, school_id, family_id)?;
    let credit = credit_balance(conn, school_id, family_id)?;
    let currency = school_currency(conn, school_id)?;
    Ok(daftar_client_core::ledger::family_dues(
        family_id,
        &currency,
        family_lines(&rows),
        credit,
    ))
}

/// The family's statement: every journal entry touching its Receivable or Family Credit, in
/// posting order, with a running balance owed.
pub fn family_statement(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
) -> ApiResult<FamilyStatement> {
    let receivable = repo::system_account(conn, school_id, SystemAccount::Receivable)?;
    let credit = repo::system_account(conn, school_id, SystemAccount::FamilyCredit)?;
    let rows: Vec<(i64, NaiveDate, String, String, crate::sums::Sum128)> = journal_lines::table
        .inner_join(
            journal_entries::table.on(journal_entries::school_id
                .eq(journal_lines::school_id)
                .and(journal_entries::id.eq(journal_lines::entry_id))),
        )
        .filter(journal_lines::school_id.eq(school_id))
        .filter(journal_lines::family_id.eq(family_id))
        .filter(journal_lines::account_id.eq_any([receivable, credit]))
        .group_by((
            journal_entries::entry_no,
            journal_entries::occurred_on,
            journal_entries::kind,
            journal_entries::memo,
        ))
        .order(journal_entries::entry_no)
        .select((
            journal_entries::entry_no,
            journal_entries::occurred_on,
            journal_entries::kind,
            journal_entries::memo,
            diesel::dsl::sql::<diesel::sql_types::Numeric>("sum(journal_lines.amount)"),
        ))
        .load(conn)?;
    // Summed in i128 and numeric, so stored amounts beyond the school's limit give a clear
    // 422 `amount_out_of_range` rather than a wrapped balance.
    use crate::sums::to_i64;
    let mut balance = 0i128;
    let mut lines = Vec::with_capacity(rows.len());
    for (entry_no, occurred_on, kind, memo, net) in rows {
        let net = net.0;
        if net == 0 {
            continue;
        }
        balance = balance.saturating_add(net);
        lines.push(StatementLine {
            entry_no,
            occurred_on,
            kind,
            memo,
            debit: to_i64(net.max(0))?,
            credit: to_i64((-net).max(0))?,
            balance: to_i64(balance)?,
        });
    }
    Ok(FamilyStatement {
        family_id,
        currency: school_currency(conn, school_id)?,
        lines,
        closing_balance: to_i64(balance)?,
    })
}
