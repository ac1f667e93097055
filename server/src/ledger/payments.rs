//! Recording family payments, one or many in one transaction (ARCHITECTURE.md §4, §6
//! throughput).
//!
//! A REST call records one payment; a sync push records every `payment.record` op of a batch
//! at once. Both go through [`record_payments`], so both allocate, number and post the same
//! way. The batch does its work set-based: one read of every paying family's open lines, one
//! range of receipt numbers, and one multi-row insert per table, instead of twenty statements
//! per payment.

use daftar_client_core::ledger::SystemAccount;
use std::collections::{HashMap, HashSet};

use chrono::{SubsecRound, Utc};
use daftar_client_core::protocol::{
    Payment, PaymentAllocation, PaymentMethod, RecordPaymentRequest,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::models::{AllocationRow, JournalEntryRow, JournalLineRow, PaymentRow};
use super::repo::{self, EntryHeader, OpenLineRow, Posting};
use super::service::{
    allocation_postings, load_payment, plan_allocation, request_hash, SERVER_RECEIPT_SERIES,
};
use crate::audit::{self, Actor, AuditEntry};
use crate::errors::{ApiError, ApiResult};
use crate::schema::{
    allocations, devices, families, journal_entries, journal_lines, payments, schools, users,
};

/// Most rows one multi-row INSERT carries (PostgreSQL allows 65,535 bind parameters; the
/// widest row here has 16 columns).
const INSERT_ROWS: usize = 2000;

/// Inserts `rows` into `table`: one row as a single-row INSERT (a statement the connection
/// keeps prepared, as every REST payment is one), more as multi-row INSERTs of
/// [`INSERT_ROWS`].
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        if let [one] = $rows.as_slice() {
            diesel::insert_into($table).values(one).execute($conn)?;
        } else {
            for chunk in $rows.chunks(INSERT_ROWS) {
                diesel::insert_into($table).values(chunk).execute($conn)?;
            }
        }
    };
}

/// What one request of a batch came to before anything was written.
enum Decision {
    /// Refused (validation, idempotency key reused): nothing is written for it.
    Refused(ApiError),
    /// Already recorded before this batch: the stored payment is returned.
    Stored,
    /// Recorded by this batch.
    New,
    /// The same request as the earlier new one at this index of the batch.
    SameAs(usize),
}

/// Whether a payment was newly recorded or replayed from its idempotency key.
#[derive(Debug)]
pub enum Recorded {
    New(Payment),
    Replayed(Payment),
}

/// Records a family payment: allocates it with `daftar_client_core::ledger::allocate` across
/// the family's open lines (siblings included), posts Dr Cash/Bank, Cr Receivable (per
/// student) and Cr Family Credit (excess), and issues the next receipt number of the
/// recording device's series (the server's own series `S` without a device). With no or an
/// unknown family the cash is posted Dr Cash/Bank, Cr Suspense and kept for the office.
/// A batch of one of [`record_payments`].
///
/// The payment is stamped received by `req.cashier_id` when given (the console's signed-in
/// cashier), else by the actor.
///
/// Errors: validation naming `amount`, `currency`, `reference` or `cashier_id` (not an active
/// admin or accountant of the school); 409 `idempotency_key_reused` when `req.id` was used
/// for a different request.
pub fn record_payment(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    req: &RecordPaymentRequest,
) -> ApiResult<Recorded> {
    record_payments(conn, school_id, actor, std::slice::from_ref(req))?
        .pop()
        .unwrap_or_else(|| Err(ApiError::Internal(anyhow::anyhow!("no payment recorded"))))
}

/// Records `reqs` in order as `actor`, inside the caller's transaction, with the rules of
/// [`record_payment`]: each payment is allocated oldest due first across its
/// family's open lines (siblings included) with `daftar_client_core::ledger::allocate`, seeing
/// the allocations of the payments before it in the batch; it posts Dr Cash/Bank, Cr
/// Receivable per student, Cr Family Credit for the excess (or Cr Suspense when the family is
/// missing or unknown) and takes the next number of the device's receipt series (`S` without a
/// device), gapless and in request order.
///
/// Returns one result per request, in order: `New`, `Replayed` (the id was recorded before
/// with the same body), or the request's own refusal — validation naming `amount`,
/// `currency` or `reference`, or 409 `idempotency_key_reused` — which writes nothing for it
/// and does not disturb the others. The outer error is a database failure: the caller's
/// transaction is then unusable as a whole.
pub fn record_payments(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    reqs: &[RecordPaymentRequest],
) -> ApiResult<Vec<ApiResult<Recorded>>> {
    let (currency, timezone, max_amount): (String, String, i64) = schools::table
        .find(school_id)
        .select((schools::currency, schools::timezone, schools::max_amount))
        .first(conn)?;
    let hashes: Vec<Vec<u8>> = reqs.iter().map(request_hash).collect();
    let ids: Vec<Uuid> = reqs.iter().map(|r| r.id).collect();
    let stored: HashMap<Uuid, Vec<u8>> = payments::table
        .filter(payments::school_id.eq(school_id))
        .filter(payments::id.eq_any(&ids))
        .select((payments::id, payments::request_hash))
        .load::<(Uuid, Vec<u8>)>(conn)?
        .into_iter()
        .collect();

    // Cashiers named by the requests that may take money here (active admin or accountant).
    let named: Vec<Uuid> = reqs.iter().filter_map(|r| r.cashier_id).collect();
    let cashiers: HashSet<Uuid> = if named.is_empty() {
        HashSet::new()
    } else {
        users::table
            .filter(users::school_id.eq(school_id))
            .filter(users::id.eq_any(&named))
            .filter(users::active)
            .filter(
                users::id.eq_any(
                    crate::schema::user_roles::table
                        .filter(crate::schema::user_roles::school_id.eq(school_id))
                        .filter(crate::schema::user_roles::role.eq_any(["admin", "accountant"]))
                        .select(crate::schema::user_roles::user_id),
                ),
            )
            .select(users::id)
            .load::<Uuid>(conn)?
            .into_iter()
            .collect()
    };
    let mut decisions = Vec::with_capacity(reqs.len());
    let mut first_new: HashMap<Uuid, usize> = HashMap::new();
    for (i, req) in reqs.iter().enumerate() {
        let reused = || ApiError::Conflict {
            code: "idempotency_key_reused",
            detail: format!(
                "payment {} was already recorded with a different body",
                req.id
            ),
        };
        let decision = if let Err(e) = validate(req, &currency, max_amount) {
            Decision::Refused(e)
        } else if req.cashier_id.is_some_and(|c| !cashiers.contains(&c)) {
            Decision::Refused(ApiError::validation(
                "cashier_id",
                "not an active admin or accountant of this school",
            ))
        } else if let Some(h) = stored.get(&req.id) {
            if *h == hashes[i] {
                Decision::Stored
            } else {
                Decision::Refused(reused())
            }
        } else if let Some(&j) = first_new.get(&req.id) {
            if hashes[j] == hashes[i] {
                Decision::SameAs(j)
            } else {
                Decision::Refused(reused())
            }
        } else {
            first_new.insert(req.id, i);
            Decision::New
        };
        decisions.push(decision);
    }
    let new: Vec<usize> = (0..reqs.len())
        .filter(|&i| matches!(decisions[i], Decision::New))
        .collect();

    let mut recorded: HashMap<usize, Payment> = HashMap::new();
    if !new.is_empty() {
        let created = write_new(
            conn,
            school_id,
            actor,
            &currency,
            &timezone,
            &new.iter()
                .map(|&i| (&reqs[i], &hashes[i]))
                .collect::<Vec<_>>(),
        )?;
        recorded.extend(new.iter().copied().zip(created));
    }

    let mut out = Vec::with_capacity(reqs.len());
    for (i, decision) in decisions.into_iter().enumerate() {
        out.push(match decision {
            Decision::Refused(e) => Err(e),
            Decision::Stored => Ok(Recorded::Replayed(load_payment(
                conn, school_id, reqs[i].id,
            )?)),
            Decision::New => match recorded.get(&i) {
                Some(p) => Ok(Recorded::New(p.clone())),
                None => Err(ApiError::Internal(anyhow::anyhow!(
                    "payment {} of the batch was not written",
                    reqs[i].id
                ))),
            },
            Decision::SameAs(j) => match recorded.get(&j) {
                Some(p) => Ok(Recorded::Replayed(p.clone())),
                None => Err(ApiError::Internal(anyhow::anyhow!(
                    "payment {} of the batch was not written",
                    reqs[i].id
                ))),
            },
        });
    }
    Ok(out)
}

/// The checks that need no database: amount (1..=`max_amount`), reference length, currency.
fn validate(req: &RecordPaymentRequest, currency: &str, max_amount: i64) -> ApiResult<()> {
    super::limits::check_amount("amount", req.amount, max_amount)?;
    if req
        .reference
        .as_deref()
        .is_some_and(|r| r.chars().count() > 100)
    {
        return Err(ApiError::validation(
            "reference",
            "must be at most 100 characters",
        ));
    }
    if req.currency != currency {
        return Err(ApiError::validation(
            "currency",
            format!("must be the school's currency {currency}"),
        ));
    }
    Ok(())
}

/// Allocates, numbers and writes the validated new payments `new` (request, request hash), in
/// order; returns each as the API shows it.
fn write_new(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    currency: &str,
    timezone: &str,
    new: &[(&RecordPaymentRequest, &Vec<u8>)],
) -> ApiResult<Vec<Payment>> {
    // Lock the paying families in id order (so two batches never wait on each other in a
    // cycle); a family that is not there sends its payment to Suspense.
    let mut wanted: Vec<Uuid> = new.iter().filter_map(|(r, _)| r.family_id).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let known: HashSet<Uuid> = if wanted.is_empty() {
        HashSet::new()
    } else {
        families::table
            .filter(families::school_id.eq(school_id))
            .filter(families::id.eq_any(&wanted))
            .order(families::id)
            .select(families::id)
            .for_update()
            .load::<Uuid>(conn)?
            .into_iter()
            .collect()
    };
    let known_list: Vec<Uuid> = known.iter().copied().collect();
    let mut lines: HashMap<Uuid, Vec<OpenLineRow>> = HashMap::new();
    if !known_list.is_empty() {
        for row in repo::families_invoice_lines(conn, school_id, &known_list)? {
            lines.entry(row.family_id).or_default().push(row.line);
        }
    }
    let series = match actor.device_id {
        Some(d) => devices::table
            .find((school_id, d))
            .select(devices::receipt_series)
            .first::<String>(conn)
            .optional()?
            .unwrap_or_else(|| SERVER_RECEIPT_SERIES.into()),
        None => SERVER_RECEIPT_SERIES.into(),
    };
    let accounts = repo::system_accounts(conn, school_id)?;
    let account = |a: SystemAccount| {
        accounts.get(&a).copied().ok_or_else(|| {
            ApiError::Internal(anyhow::anyhow!("system account `{}` is missing", a.key()))
        })
    };
    let (cash, bank, receivable, credit, suspense) = (
        account(SystemAccount::Cash)?,
        account(SystemAccount::Bank)?,
        account(SystemAccount::Receivable)?,
        account(SystemAccount::FamilyCredit)?,
        account(SystemAccount::Suspense)?,
    );
    let entry_nos = repo::next_entry_nos(conn, new.len())?;
    // Numbers from the series are taken last, so its row is locked only briefly.
    let first_receipt = repo::take_receipt_nos(conn, school_id, &series, new.len() as i64)?;

    let now = Utc::now().trunc_subsecs(6);
    let mut entries: Vec<JournalEntryRow> = Vec::with_capacity(new.len());
    let mut entry_lines: Vec<JournalLineRow> = Vec::new();
    let mut allocation_rows: Vec<AllocationRow> = Vec::new();
    let mut payment_rows: Vec<PaymentRow> = Vec::with_capacity(new.len());
    let mut audits = Vec::with_capacity(new.len());
    let mut shown = Vec::with_capacity(new.len());
    for (k, (req, hash)) in new.iter().enumerate() {
        let receipt_no = repo::receipt_no(&series, first_receipt + k as i64);
        let received_at = req.received_at.unwrap_or(now).trunc_subsecs(6);
        let money_in = if req.method == PaymentMethod::Cash {
            cash
        } else {
            bank
        };
        let family = req.family_id.filter(|f| known.contains(f));
        let header = |memo: String| EntryHeader {
            kind: "payment",
            occurred_on: crate::calendar::local_date_in(timezone, received_at),
            memo,
            reverses_entry_id: None,
            posted_by: actor.user_id,
            device_id: actor.device_id,
        };
        let mut allocated: Vec<PaymentAllocation> = Vec::new();
        let (entry, postings, to_credit, to_suspense) = match family {
            None => {
                let memo = match req.family_id {
                    Some(f) => {
                        format!("Receipt {receipt_no}: unknown family {f}; held in Suspense")
                    }
                    None => format!("Receipt {receipt_no}: no family given; held in Suspense"),
                };
                let postings = vec![
                    Posting {
                        account_id: money_in,
                        amount: req.amount,
                        family_id: None,
                        student_id: None,
                    },
                    Posting {
                        account_id: suspense,
                        amount: -req.amount,
                        family_id: None,
                        student_id: None,
                    },
                ];
                (header(memo), postings, 0, req.amount)
            }
            Some(family_id) => {
                let rows = lines.entry(family_id).or_default();
                let plan = plan_allocation(req.amount, rows)?;
                let debit = Posting {
                    account_id: money_in,
                    amount: req.amount,
                    family_id: Some(family_id),
                    student_id: None,
                };
                let postings =
                    allocation_postings(&plan, rows, debit, receivable, credit, family_id);
                // The next payment of this family sees what this one paid.
                for a in &plan.allocations {
                    if let Some(r) = rows
                        .iter_mut()
                        .find(|r| r.invoice_line_id == a.invoice_line_id)
                    {
                        r.outstanding -= a.amount;
                        allocated.push(PaymentAllocation {
                            invoice_id: r.invoice_id,
                            invoice_line_id: r.invoice_line_id,
                            student_id: r.student_id,
                            amount: a.amount,
                        });
                    }
                }
                (
                    header(format!("Receipt {receipt_no}")),
                    postings,
                    plan.unallocated,
                    0,
                )
            }
        };
        let (entry_row, line_rows) = repo::entry_rows(school_id, entry_nos[k], &entry, &postings);
        allocation_rows.extend(allocated.iter().map(|a| AllocationRow {
            school_id,
            id: Uuid::now_v7(),
            journal_entry_id: entry_row.id,
            invoice_line_id: a.invoice_line_id,
            amount: a.amount,
        }));
        let row = PaymentRow {
            school_id,
            id: req.id,
            family_id: family,
            amount: req.amount,
            currency: currency.to_string(),
            method: req.method.as_str().into(),
            reference: req.reference.clone().filter(|r| !r.trim().is_empty()),
            received_at,
            received_by: req.cashier_id.or(actor.user_id),
            device_id: actor.device_id,
            receipt_no,
            to_credit,
            to_suspense,
            request_hash: (*hash).clone(),
            journal_entry_id: entry_row.id,
            created_at: now,
        };
        audits.push(AuditEntry::new(school_id, actor, "payment", row.id).created_row(&row)?);
        shown.push(Payment {
            id: row.id,
            receipt_no: row.receipt_no.clone(),
            family_id: row.family_id,
            amount: row.amount,
            currency: row.currency.clone(),
            method: req.method,
            reference: row.reference.clone(),
            received_at: row.received_at,
            allocations: allocated,
            to_credit,
            to_suspense,
            journal_entry_id: entry_row.id,
        });
        entries.push(entry_row);
        entry_lines.extend(line_rows);
        payment_rows.push(row);
    }
    insert_rows!(conn, journal_entries::table, entries);
    insert_rows!(conn, journal_lines::table, entry_lines);
    insert_rows!(conn, allocations::table, allocation_rows);
    insert_rows!(conn, payments::table, payment_rows);
    audit::insert_all(conn, &audits)?;
    Ok(shown)
}
