//! Discounts, late fines, refunds and payment reversals (ARCHITECTURE.md §4). Each posts one balanced
//! entry (or a few, for a reversal that must undo credit applications) in the caller's
//! transaction, and is idempotent by its client-generated id.

use chrono::{NaiveDate, Utc};
use daftar_client_core::ledger::SystemAccount;
use daftar_client_core::protocol::{
    AddFineRequest, Discount, DiscountKind, Fine, GrantDiscountRequest, PaymentReversal, Refund,
    RefundRequest,
};
use diesel::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::models::*;
use super::repo::{self, EntryHeader, Posting};
use super::service::{apply_family_credit, credit_balance};
use crate::audit::{Actor, AuditEntry};
use crate::errors::{ApiError, ApiResult};
use crate::schema::{
    discounts, fines, invoice_lines, invoices, journal_lines, payment_reversals, payments, refunds,
    suspense_resolutions,
};
use crate::validate;

/// Name of the fee head fines are posted to (created on first fine).
pub const FINE_HEAD: &str = "Late Fine";

fn hash_of<T: Serialize>(req: &T) -> Vec<u8> {
    Sha256::digest(serde_json::to_vec(req).unwrap_or_default()).to_vec()
}

/// `Ok(true)` when `stored` is a replay of this request, error when the id was used for
/// another request, `Ok(false)` when new.
fn replay(stored: Option<Vec<u8>>, hash: &[u8], what: &str, id: Uuid) -> ApiResult<bool> {
    match stored {
        None => Ok(false),
        Some(h) if h == hash => Ok(true),
        Some(_) => Err(ApiError::Conflict {
            code: "idempotency_key_reused",
            detail: format!("{what} {id} was already recorded with a different body"),
        }),
    }
}

fn header(
    kind: &str,
    on: NaiveDate,
    memo: String,
    actor: Actor,
    reverses: Option<Uuid>,
) -> EntryHeader<'_> {
    EntryHeader {
        kind,
        occurred_on: on,
        memo,
        reverses_entry_id: reverses,
        posted_by: actor.user_id,
        device_id: actor.device_id,
    }
}

fn discount_kind(s: &str) -> DiscountKind {
    match s {
        "waiver" => DiscountKind::Waiver,
        "scholarship" => DiscountKind::Scholarship,
        _ => DiscountKind::Discount,
    }
}

fn discount_wire(conn: &mut PgConnection, school_id: Uuid, id: Uuid) -> ApiResult<Discount> {
    let (line, kind, amount, bp, reason, by, entry): (
        Uuid,
        String,
        i64,
        Option<i32>,
        String,
        Uuid,
        Uuid,
    ) = discounts::table
        .find((school_id, id))
        .select((
            discounts::invoice_line_id,
            discounts::kind,
            discounts::amount,
            discounts::percent_bp,
            discounts::reason,
            discounts::approved_by,
            discounts::journal_entry_id,
        ))
        .first(conn)?;
    Ok(Discount {
        id,
        invoice_line_id: line,
        kind: discount_kind(&kind),
        amount,
        percent_bp: bp,
        reason,
        approved_by: by,
        journal_entry_id: entry,
    })
}

/// Grants a discount, waiver or scholarship on one invoice line: Dr Discounts & Waivers /
/// Cr Receivable, recorded as an allocation of its entry so the line's outstanding falls.
///
/// Errors: validation naming `amount`/`percent_bp`/`reason`/`approved_by`; 404 for an unknown
/// line; 409 `idempotency_key_reused`.
pub fn grant_discount(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    line_id: Uuid,
    req: &GrantDiscountRequest,
) -> ApiResult<Discount> {
    let today = crate::calendar::local_date(conn, school_id, Utc::now())?;
    let hash = hash_of(&(line_id, req));
    let stored = discounts::table
        .find((school_id, req.id))
        .select(discounts::request_hash)
        .first(conn)
        .optional()?;
    if replay(stored, &hash, "discount", req.id)? {
        return discount_wire(conn, school_id, req.id);
    }
    let reason = validate::text("reason", &req.reason, 500)?;
    if !crate::tenancy::roles_of(conn, school_id, req.approved_by)?.is_office() {
        return Err(ApiError::validation(
            "approved_by",
            "must be an admin or accountant of this school",
        ));
    }
    let (invoice_id, line_amount): (Uuid, i64) = invoice_lines::table
        .find((school_id, line_id))
        .select((invoice_lines::invoice_id, invoice_lines::amount))
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("invoice line"))?;
    let (family_id, student_id): (Uuid, Uuid) = invoices::table
        .find((school_id, invoice_id))
        .select((invoices::family_id, invoices::student_id))
        .first(conn)?;
    super::service::lock_family(conn, school_id, family_id)?;
    let max = crate::tenancy::max_amount(conn, school_id)?;
    let amount = match (req.amount, req.percent_bp) {
        (Some(a), None) if a > 0 && a <= max => a,
        (None, Some(bp)) if (1..=10_000).contains(&bp) => {
            // i128: a line of up to i64::MAX times 10,000 basis points does not overflow.
            i64::try_from((i128::from(line_amount) * i128::from(bp) + 5_000) / 10_000)
                .unwrap_or(i64::MAX)
        }
        (Some(a), None) if a > max => {
            return Err(ApiError::validation(
                "amount",
                format!("must be at most {max} minor units (this school's largest single amount)"),
            ))
        }
        (Some(_), None) => {
            return Err(ApiError::validation(
                "amount",
                "must be a positive number of minor units",
            ))
        }
        (None, Some(_)) => {
            return Err(ApiError::validation(
                "percent_bp",
                "must be 1 to 10000 basis points",
            ))
        }
        _ => {
            return Err(ApiError::validation(
                "amount",
                "give exactly one of amount or percent_bp",
            ))
        }
    };
    let outstanding = repo::family_invoice_lines(conn, school_id, family_id)?
        .into_iter()
        .find(|l| l.invoice_line_id == line_id)
        .map(|l| l.outstanding)
        .unwrap_or(0);
    if amount > outstanding {
        return Err(ApiError::validation(
            "amount",
            format!("{amount} exceeds the {outstanding} still owing on this line"),
        ));
    }
    let discounts_acct = repo::system_account(conn, school_id, SystemAccount::Discounts)?;
    let receivable = repo::system_account(conn, school_id, SystemAccount::Receivable)?;
    let entry = repo::post_entry(
        conn,
        school_id,
        &header(
            "discount",
            today,
            format!("{}: {reason}", req.kind.as_str()),
            actor,
            None,
        ),
        &[
            Posting {
                account_id: discounts_acct,
                amount,
                family_id: Some(family_id),
                student_id: Some(student_id),
            },
            Posting {
                account_id: receivable,
                amount: -amount,
                family_id: Some(family_id),
                student_id: Some(student_id),
            },
        ],
    )?;
    repo::insert_allocations(conn, school_id, entry.id, &[(line_id, amount)])?;
    diesel::insert_into(discounts::table)
        .values((
            discounts::school_id.eq(school_id),
            discounts::id.eq(req.id),
            discounts::invoice_line_id.eq(line_id),
            discounts::kind.eq(req.kind.as_str()),
            discounts::percent_bp.eq(req.percent_bp),
            discounts::amount.eq(amount),
            discounts::reason.eq(&reason),
            discounts::approved_by.eq(req.approved_by),
            discounts::journal_entry_id.eq(entry.id),
            discounts::request_hash.eq(&hash),
        ))
        .execute(conn)?;
    let d = discount_wire(conn, school_id, req.id)?;
    AuditEntry::new(school_id, actor, "discount", req.id).created(conn, &d)?;
    Ok(d)
}

/// Adds a late-fine line to an overdue invoice (one with a line past due and still owing):
/// Dr Receivable / Cr the "Late Fine" head's income account.
///
/// Errors: 404 unknown invoice; 422 `not_overdue`; validation naming `amount`/`reason`.
pub fn add_fine(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    invoice_id: Uuid,
    req: &AddFineRequest,
    today: NaiveDate,
) -> ApiResult<Fine> {
    let hash = hash_of(&(invoice_id, req));
    let stored = fines::table
        .find((school_id, req.id))
        .select(fines::request_hash)
        .first(conn)
        .optional()?;
    let wire = |conn: &mut PgConnection| -> ApiResult<Fine> {
        let (inv, line, amount, reason, entry): (Uuid, Uuid, i64, String, Uuid) = fines::table
            .find((school_id, req.id))
            .select((
                fines::invoice_id,
                fines::invoice_line_id,
                fines::amount,
                fines::reason,
                fines::journal_entry_id,
            ))
            .first(conn)?;
        Ok(Fine {
            id: req.id,
            invoice_id: inv,
            invoice_line_id: line,
            amount,
            reason,
            journal_entry_id: entry,
        })
    };
    if replay(stored, &hash, "fine", req.id)? {
        return wire(conn);
    }
    super::limits::check_amount(
        "amount",
        req.amount,
        crate::tenancy::max_amount(conn, school_id)?,
    )?;
    let reason = validate::text("reason", &req.reason, 500)?;
    let invoice: InvoiceRow = invoices::table
        .find((school_id, invoice_id))
        .select(InvoiceRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("invoice"))?;
    super::service::lock_family(conn, school_id, invoice.family_id)?;
    let lines = repo::family_invoice_lines(conn, school_id, invoice.family_id)?;
    let overdue = lines
        .iter()
        .any(|l| l.invoice_id == invoice_id && l.outstanding > 0 && l.due_on < today);
    if !overdue {
        return Err(ApiError::Unprocessable {
            code: "not_overdue",
            detail: "this invoice has nothing past due and unpaid".into(),
        });
    }
    let head = repo::fee_head_named(conn, school_id, FINE_HEAD)?;
    let line_no = lines
        .iter()
        .filter(|l| l.invoice_id == invoice_id)
        .map(|l| l.line_no)
        .max()
        .unwrap_or(0)
        + 1;
    let receivable = repo::system_account(conn, school_id, SystemAccount::Receivable)?;
    let entry = repo::post_entry(
        conn,
        school_id,
        &header(
            "fine",
            today,
            format!("Late fine on invoice {}: {reason}", invoice.invoice_no),
            actor,
            None,
        ),
        &[
            Posting {
                account_id: receivable,
                amount: req.amount,
                family_id: Some(invoice.family_id),
                student_id: Some(invoice.student_id),
            },
            Posting {
                account_id: head.income_account_id,
                amount: -req.amount,
                family_id: Some(invoice.family_id),
                student_id: Some(invoice.student_id),
            },
        ],
    )?;
    let line = InvoiceLineRow {
        school_id,
        id: Uuid::now_v7(),
        invoice_id,
        line_no,
        fee_head_id: head.id,
        description: format!("{FINE_HEAD}: {reason}"),
        amount: req.amount,
        due_on: req.due_on.unwrap_or(today),
    };
    diesel::insert_into(invoice_lines::table)
        .values(&line)
        .execute(conn)?;
    diesel::insert_into(fines::table)
        .values((
            fines::school_id.eq(school_id),
            fines::id.eq(req.id),
            fines::invoice_id.eq(invoice_id),
            fines::invoice_line_id.eq(line.id),
            fines::amount.eq(req.amount),
            fines::reason.eq(&reason),
            fines::journal_entry_id.eq(entry.id),
            fines::request_hash.eq(&hash),
        ))
        .execute(conn)?;
    let f = wire(conn)?;
    AuditEntry::new(school_id, actor, "fine", req.id).created(conn, &f)?;
    Ok(f)
}

/// Pays back part of a family's credit: Dr Family Credit / Cr Cash (or Bank).
///
/// Errors: validation naming `amount` (more than the credit balance) or `reason`; 404 unknown
/// family; 409 `idempotency_key_reused`.
pub fn refund(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    family_id: Uuid,
    req: &RefundRequest,
) -> ApiResult<Refund> {
    let today = crate::calendar::local_date(conn, school_id, Utc::now())?;
    let hash = hash_of(&(family_id, req));
    let stored = refunds::table
        .find((school_id, req.id))
        .select(refunds::request_hash)
        .first(conn)
        .optional()?;
    let wire = |conn: &mut PgConnection| -> ApiResult<Refund> {
        let (fam, amount, reason, entry): (Uuid, i64, String, Uuid) = refunds::table
            .find((school_id, req.id))
            .select((
                refunds::family_id,
                refunds::amount,
                refunds::reason,
                refunds::journal_entry_id,
            ))
            .first(conn)?;
        Ok(Refund {
            id: req.id,
            family_id: fam,
            amount,
            method: req.method,
            reason,
            journal_entry_id: entry,
        })
    };
    if replay(stored, &hash, "refund", req.id)? {
        return wire(conn);
    }
    let reason = validate::text("reason", &req.reason, 500)?;
    if super::service::lock_family(conn, school_id, family_id)?.is_none() {
        return Err(ApiError::NotFound("family"));
    }
    super::limits::check_amount(
        "amount",
        req.amount,
        crate::tenancy::max_amount(conn, school_id)?,
    )?;
    let credit = credit_balance(conn, school_id, family_id)?;
    if req.amount > credit {
        return Err(ApiError::validation(
            "amount",
            format!("must be 1 to {credit}, the family's credit balance"),
        ));
    }
    let credit_acct = repo::system_account(conn, school_id, SystemAccount::FamilyCredit)?;
    let money_out = repo::system_account(conn, school_id, SystemAccount::for_method(req.method))?;
    let entry = repo::post_entry(
        conn,
        school_id,
        &header("refund", today, format!("Refund: {reason}"), actor, None),
        &[
            Posting {
                account_id: credit_acct,
                amount: req.amount,
                family_id: Some(family_id),
                student_id: None,
            },
            Posting {
                account_id: money_out,
                amount: -req.amount,
                family_id: Some(family_id),
                student_id: None,
            },
        ],
    )?;
    diesel::insert_into(refunds::table)
        .values((
            refunds::school_id.eq(school_id),
            refunds::id.eq(req.id),
            refunds::family_id.eq(family_id),
            refunds::amount.eq(req.amount),
            refunds::method.eq(req.method.as_str()),
            refunds::reason.eq(&reason),
            refunds::journal_entry_id.eq(entry.id),
            refunds::request_hash.eq(&hash),
        ))
        .execute(conn)?;
    let r = wire(conn)?;
    AuditEntry::new(school_id, actor, "refund", req.id).created(conn, &r)?;
    Ok(r)
}

/// Posts the exact negation of `entry_id` as a `reversal` entry pointing at it.
fn reverse_entry(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    entry_id: Uuid,
    memo: String,
) -> ApiResult<JournalEntryRow> {
    let today = crate::calendar::local_date(conn, school_id, Utc::now())?;
    let lines: Vec<JournalLineRow> = journal_lines::table
        .filter(journal_lines::school_id.eq(school_id))
        .filter(journal_lines::entry_id.eq(entry_id))
        .order(journal_lines::line_no)
        .select(JournalLineRow::as_select())
        .load(conn)?;
    let postings: Vec<Posting> = lines
        .iter()
        .map(|l| Posting {
            account_id: l.account_id,
            amount: -l.amount,
            family_id: l.family_id,
            student_id: l.student_id,
        })
        .collect();
    Ok(repo::post_entry(
        conn,
        school_id,
        &header("reversal", today, memo, actor, Some(entry_id)),
        &postings,
    )?)
}

/// Reverses a payment (bounced cheque): its entry is negated, so its allocations stop counting
/// and exactly the lines it cleared re-open. If the family's credit would go negative because
/// the payment's excess was already applied to later invoices, those credit applications are
/// reversed (newest first) and the remaining credit re-applied oldest first. Idempotent.
///
/// Errors: 404 unknown payment; 409 `credit_already_refunded` when the payment's credit was
/// paid out and cannot be taken back; validation naming `reason`.
pub fn reverse_payment(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    payment_id: Uuid,
    reason: &str,
) -> ApiResult<PaymentReversal> {
    let reason = validate::text("reason", reason, 500)?;
    let payment: PaymentRow = payments::table
        .find((school_id, payment_id))
        .select(PaymentRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("payment"))?;
    let resolution: Option<(Uuid, Uuid)> = suspense_resolutions::table
        .find((school_id, payment_id))
        .select((
            suspense_resolutions::family_id,
            suspense_resolutions::journal_entry_id,
        ))
        .first(conn)
        .optional()?;
    let family_of_payment = payment.family_id.or(resolution.map(|r| r.0));
    if let Some(family) = family_of_payment {
        super::service::lock_family(conn, school_id, family)?;
    }
    if let Some((entry, stored_reason)) = payment_reversals::table
        .find((school_id, payment_id))
        .select((
            payment_reversals::journal_entry_id,
            payment_reversals::reason,
        ))
        .first::<(Uuid, String)>(conn)
        .optional()?
    {
        return Ok(PaymentReversal {
            payment_id,
            journal_entry_id: entry,
            reason: stored_reason,
            credit_applications_reversed: 0,
        });
    }
    let entry = reverse_entry(
        conn,
        school_id,
        actor,
        payment.journal_entry_id,
        format!("Reversal of receipt {}: {reason}", payment.receipt_no),
    )?;
    diesel::insert_into(payment_reversals::table)
        .values((
            payment_reversals::school_id.eq(school_id),
            payment_reversals::payment_id.eq(payment_id),
            payment_reversals::reason.eq(&reason),
            payment_reversals::journal_entry_id.eq(entry.id),
            payment_reversals::reversed_by.eq(actor.user_id),
        ))
        .execute(conn)?;
    if let Some((_, assignment)) = resolution {
        reverse_entry(
            conn,
            school_id,
            actor,
            assignment,
            format!(
                "Reversal of the Suspense assignment of receipt {}",
                payment.receipt_no
            ),
        )?;
    }
    let mut undone = 0u32;
    if let Some(family) = family_of_payment {
        while credit_balance(conn, school_id, family)? < 0 {
            let latest = repo::latest_open_credit_application(conn, school_id, family)?;
            let Some(application) = latest else {
                return Err(ApiError::Conflict {
                    code: "credit_already_refunded",
                    detail:
                        "this payment's excess was refunded to the family; reverse the refund first"
                            .into(),
                });
            };
            reverse_entry(
                conn,
                school_id,
                actor,
                application,
                format!(
                    "Undo credit application after reversal of receipt {}",
                    payment.receipt_no
                ),
            )?;
            undone += 1;
        }
        let today = crate::calendar::local_date(conn, school_id, Utc::now())?;
        apply_family_credit(conn, school_id, family, actor, today)?;
    }
    let out = PaymentReversal {
        payment_id,
        journal_entry_id: entry.id,
        reason,
        credit_applications_reversed: undone,
    };
    AuditEntry::new(school_id, actor, "payment", payment_id).event(conn, "reverse", Some(&out))?;
    Ok(out)
}
