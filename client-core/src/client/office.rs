//! Work that runs fully offline against the replica (ARCHITECTURE.md §6): the
//! office's student search, family dues, payments with receipts, and registers. Every write
//! is one outbox transaction: the op plus the overlay rows that show its effect at once.
//!
//! Replica rows are read as the types the change log carries ([`crate::protocol::synced`]).
//! Where a device's own unsynced ops add overlay rows (payments, allocations, Family Credit
//! lines, marks), those rows hold only what the device knows, and the reads below take the
//! fields common to both.

pub mod records;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::error::{ClientError, ClientResult};
use super::store::Store;
use crate::attendance::{precedence, Precedence};
use crate::ledger::{allocate, FamilyLine, OpenLine, SystemAccount};
use crate::protocol::sync::{
    MarkRegisterArgs, SyncScope, ATTENDANCE_MARK_REGISTER, ATTENDANCE_OVERRIDE, PAYMENT_RECORD,
};
use crate::protocol::synced;
use crate::protocol::{
    FamilyDues, MarkException, MarkRegisterRequest, MarkSource, PaymentMethod, RecordPaymentRequest,
};

pub(crate) fn typed<T: DeserializeOwned>(rows: Vec<Value>) -> ClientResult<Vec<T>> {
    rows.into_iter()
        .map(|r| serde_json::from_value(r).map_err(ClientError::from))
        .collect()
}

/// A journal line as this device needs it: a synced [`synced::JournalLine`] or the Family
/// Credit line of a payment made here and not synced yet (the overlay has no entry for it).
#[derive(Debug, Clone, Deserialize)]
struct CreditLine {
    /// A synced line's id, or `<payment id>:credit` in the overlay.
    #[serde(default)]
    id: String,
    /// The journal entry of a synced line.
    #[serde(default)]
    entry_id: Option<Uuid>,
    account_id: Uuid,
    amount: i64,
}

/// An allocation as this device needs it: a synced [`synced::Allocation`] or one of a payment
/// made here and not synced yet (no journal entry yet).
#[derive(Debug, Clone, Deserialize)]
struct HeldAllocation {
    /// A synced allocation's id, or `<payment id>:<n>` in the overlay.
    #[serde(default)]
    id: String,
    invoice_line_id: Uuid,
    amount: i64,
    journal_entry_id: Option<Uuid>,
}

/// A payment row (server's or, before sync, this device's overlay).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentRec {
    pub id: Uuid,
    pub family_id: Option<Uuid>,
    pub amount: i64,
    pub currency: String,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub received_at: DateTime<Utc>,
    pub receipt_no: String,
    pub to_credit: i64,
    #[serde(default)]
    pub to_suspense: i64,
    /// True while only this device knows it (not yet pulled from the server).
    #[serde(default)]
    pub offline: bool,
    /// The server's journal entry of a synced payment.
    #[serde(default)]
    pub journal_entry_id: Option<Uuid>,
    /// True once this device has queued its reversal and the server has not confirmed it.
    #[serde(default)]
    pub reversal_pending: bool,
}

/// Payments this device has queued reversals of: (payment ids, their journal entries).
fn reversals_pending(store: &mut Store) -> ClientResult<(HashSet<Uuid>, HashSet<Uuid>)> {
    let mut ids = HashSet::new();
    let mut entries = HashSet::new();
    for p in typed::<PaymentRec>(store.rows_with("payments", "reversal_pending")?)? {
        if p.reversal_pending {
            ids.insert(p.id);
            entries.extend(p.journal_entry_id);
        }
    }
    Ok((ids, entries))
}

/// Whether overlay row `id` (`<payment id>:…`) belongs to one of `payments`.
fn of_payment(id: &str, payments: &HashSet<Uuid>) -> bool {
    id.split_once(':')
        .and_then(|(p, _)| p.parse::<Uuid>().ok())
        .is_some_and(|p| payments.contains(&p))
}

/// A mark in a register, with the student's name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RegisterLine {
    pub student_id: Uuid,
    pub student: String,
    /// Tells apart two children of the same name.
    pub admission_no: String,
    /// The code, or `None` when not marked yet.
    pub code: Option<String>,
    /// Who made the mark, when marked.
    pub source: Option<MarkSource>,
}

/// What a receipt shows: printed at the counter, offline or not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Receipt {
    pub payment_id: Uuid,
    pub receipt_no: String,
    pub school: String,
    /// The school's postal address (empty when not set; absent from receipts kept before it).
    #[serde(default)]
    pub school_address: String,
    pub family_id: Uuid,
    pub family: String,
    /// Minor units of `currency` (ISO 4217).
    pub amount: i64,
    pub currency: String,
    pub method: PaymentMethod,
    pub received_at: DateTime<Utc>,
    /// (student, line description, minor units) in allocation order.
    pub allocations: Vec<(String, String, i64)>,
    /// Minor units kept as Family Credit.
    pub to_credit: i64,
    /// Made on this device while the server was not told yet.
    pub offline: bool,
}

/// The school row. Errors: not found before the first pull.
pub fn school(store: &mut Store) -> ClientResult<synced::School> {
    let rows: Vec<synced::School> = typed(store.rows("schools")?)?;
    rows.into_iter()
        .next()
        .ok_or_else(|| ClientError::NotFound("no school data yet: sync once while online".into()))
}

/// The file in the data directory that keeps the school's receipt logo (issue #17), fetched
/// by [`crate::client::SyncEngine::refresh_logo`].
pub const LOGO_FILE: &str = "school-logo";
/// Device setting: the `logo_updated_at` (RFC 3339) of the logo kept in [`LOGO_FILE`].
pub const LOGO_VERSION: &str = "logo_version";
/// Device setting: the media type of the logo kept in [`LOGO_FILE`].
pub const LOGO_TYPE: &str = "logo_type";

/// The school's receipt logo as this device keeps it: its media type (`image/png` or
/// `image/jpeg`) and bytes, or `None` when the school has none or it was not fetched yet.
///
/// Errors: storage errors reading the file or the settings.
pub fn school_logo(store: &mut Store) -> ClientResult<Option<(String, Vec<u8>)>> {
    let path = store.dir().join(LOGO_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ClientError::storage_from(path.display(), e)),
    };
    let media = store
        .device(LOGO_TYPE)?
        .unwrap_or_else(|| "image/png".into());
    Ok(Some((media, bytes)))
}

/// Students whose name or admission number contains every word of `query` (case-insensitive),
/// active first, by name.
pub fn search_students(store: &mut Store, query: &str) -> ClientResult<Vec<synced::Student>> {
    let words: Vec<String> = query.split_whitespace().map(|w| w.to_lowercase()).collect();
    let mut out: Vec<synced::Student> = typed::<synced::Student>(store.rows("students")?)?
        .into_iter()
        .filter(|s| {
            let hay =
                format!("{} {} {}", s.given_name, s.family_name, s.admission_no).to_lowercase();
            words.iter().all(|w| hay.contains(w))
        })
        .collect();
    out.sort_by_key(|s| (!s.active, s.name()));
    Ok(out)
}

/// The family's name. Errors: [`ClientError::NotFound`] for an unknown family.
pub fn family_name(store: &mut Store, family_id: Uuid) -> ClientResult<String> {
    store
        .row("families", &family_id.to_string())?
        .and_then(|f| f.get("name").and_then(|n| n.as_str()).map(String::from))
        .ok_or_else(|| ClientError::NotFound(format!("no family {family_id} on this device")))
}

fn system_account(store: &mut Store, account: SystemAccount) -> ClientResult<Option<Uuid>> {
    Ok(typed::<synced::Account>(store.rows("accounts")?)?
        .into_iter()
        .find(|a| a.system_key.as_deref() == Some(account.key()))
        .map(|a| a.id))
}

/// The family's invoice lines with what is still owing, exactly as the server computes it:
/// amount − allocations whose journal entry has not been reversed.
pub fn family_lines(store: &mut Store, family_id: Uuid) -> ClientResult<Vec<FamilyLine>> {
    lines_of(store, Some(family_id))
}

/// Every invoice line of the school on this device with what is still owing (the rule of
/// [`family_lines`], read in one pass: for the office's dashboard and ageing).
pub fn all_lines(store: &mut Store) -> ClientResult<Vec<FamilyLine>> {
    lines_of(store, None)
}

fn lines_of(store: &mut Store, family_id: Option<Uuid>) -> ClientResult<Vec<FamilyLine>> {
    let fam = family_id.map(|f| f.to_string());
    let of_family = |store: &mut Store, entity: &str| match &fam {
        Some(f) => store.rows_where(entity, "family_id", f),
        None => store.rows(entity),
    };
    let invoices: HashMap<Uuid, synced::Invoice> =
        typed::<synced::Invoice>(of_family(store, "invoices")?)?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
    let lines: Vec<synced::InvoiceLine> = typed(of_family(store, "invoice_lines")?)?;
    // Only entries that reverse another matter: the reversed ones' allocations stop counting.
    let reversed: HashSet<Uuid> =
        typed::<synced::JournalEntry>(store.rows_with("journal_entries", "reverses_entry_id")?)?
            .into_iter()
            .filter_map(|e| e.reverses_entry_id)
            .collect();
    // Reversals queued on this device count at once (the server confirms them by pull).
    let (reversing, reversing_entries) = reversals_pending(store)?;
    let mut paid: HashMap<Uuid, i64> = HashMap::new();
    for a in typed::<HeldAllocation>(of_family(store, "allocations")?)? {
        if a.journal_entry_id
            .is_some_and(|e| reversed.contains(&e) || reversing_entries.contains(&e))
            || of_payment(&a.id, &reversing)
        {
            continue;
        }
        *paid.entry(a.invoice_line_id).or_default() += a.amount;
    }
    Ok(lines
        .into_iter()
        .filter_map(|l| {
            let inv = invoices.get(&l.invoice_id)?;
            Some(FamilyLine {
                invoice_line_id: l.id,
                invoice_id: l.invoice_id,
                invoice_no: inv.invoice_no,
                line_no: l.line_no,
                due_on: l.due_on,
                student_id: inv.student_id,
                term_id: inv.term_id,
                issued_on: inv.issued_on,
                description: l.description,
                amount: l.amount,
                outstanding: l.amount - paid.get(&l.id).copied().unwrap_or(0),
            })
        })
        .collect())
}

/// Family Credit held for the family (≥ 0), from its journal lines on the Family Credit
/// account, plus credit from payments made on this device and not yet synced.
pub fn credit_balance(store: &mut Store, family_id: Uuid) -> ClientResult<i64> {
    let Some(credit) = system_account(store, SystemAccount::FamilyCredit)? else {
        return Ok(0);
    };
    let lines: Vec<CreditLine> =
        typed(store.rows_where("journal_lines", "family_id", &family_id.to_string())?)?;
    let (reversing, reversing_entries) = reversals_pending(store)?;
    Ok(-lines
        .iter()
        .filter(|l| l.account_id == credit)
        .filter(|l| {
            !(l.entry_id.is_some_and(|e| reversing_entries.contains(&e))
                || of_payment(&l.id, &reversing))
        })
        .map(|l| l.amount)
        .sum::<i64>())
}

/// What the family owes, computed offline with the same rule as the server
/// ([`crate::ledger::family_dues`]).
pub fn family_dues(store: &mut Store, family_id: Uuid) -> ClientResult<FamilyDues> {
    family_name(store, family_id)?;
    let currency = school(store)?.currency;
    let lines = family_lines(store, family_id)?;
    let credit = credit_balance(store, family_id)?;
    Ok(crate::ledger::family_dues(
        family_id, &currency, lines, credit,
    ))
}

/// Payments of the family (newest first), including this device's unsynced ones.
pub fn family_payments(store: &mut Store, family_id: Uuid) -> ClientResult<Vec<PaymentRec>> {
    let mut p: Vec<PaymentRec> =
        typed(store.rows_where("payments", "family_id", &family_id.to_string())?)?;
    p.sort_by_key(|x| std::cmp::Reverse(x.received_at));
    Ok(p)
}

/// The receipt number this device issues next: `{series}-{n:06}`, where n follows the
/// series' last number the server has confirmed plus this device's payments still pending.
pub fn next_receipt_no(store: &mut Store) -> ClientResult<String> {
    let series = store
        .device("receipt_series")?
        .ok_or_else(|| ClientError::NotEnrolled("no receipt series; run `init`".into()))?;
    let confirmed = store
        .row("receipt_series", &series)?
        .and_then(|r| r.get("next_no").and_then(|n| n.as_i64()))
        .unwrap_or(1);
    let pending = store
        .rows("payments")?
        .into_iter()
        .filter(|p| p.get("offline").and_then(|o| o.as_bool()) == Some(true))
        .count() as i64;
    Ok(format!("{series}-{:06}", confirmed + pending))
}

/// Records a payment offline (ARCHITECTURE.md §6): allocates it with
/// [`crate::ledger::allocate`] over the family's open lines on this device, issues the next
/// receipt number of the device's series, and queues `payment.record@1` with overlay rows
/// (the payment, its allocations, its Family Credit) in one outbox transaction. After sync,
/// [`receipt_differences`] shows anything the server posted differently.
///
/// `cashier_id` is the office user who took the money (the console's signed-in cashier),
/// stamped on the server's payment as who received it; `None` leaves it to the device's
/// user (the CLI).
///
/// Errors: validation naming `amount` (> 0) or `reference` (≤ 100 chars); not found for an
/// unknown family.
pub fn record_payment(
    store: &mut Store,
    family_id: Uuid,
    amount: i64,
    method: PaymentMethod,
    reference: Option<String>,
    cashier_id: Option<Uuid>,
) -> ClientResult<Receipt> {
    if amount <= 0 {
        return Err(ClientError::invalid(
            "amount",
            "must be a positive number of minor units",
        ));
    }
    if reference
        .as_deref()
        .is_some_and(|r| r.chars().count() > 100)
    {
        return Err(ClientError::invalid(
            "reference",
            "must be at most 100 characters",
        ));
    }
    let family = family_name(store, family_id)?;
    let school = school(store)?;
    let lines = family_lines(store, family_id)?;
    let open: Vec<OpenLine> = lines.iter().map(OpenLine::from).collect();
    let plan =
        allocate(amount, &open).map_err(|e| ClientError::invalid("amount", e.to_string()))?;
    let receipt_no = next_receipt_no(store)?;
    let received_at = Utc::now();
    let id = Uuid::now_v7();
    let req = RecordPaymentRequest {
        id,
        family_id: Some(family_id),
        amount,
        currency: school.currency.clone(),
        method,
        reference: reference.clone(),
        received_at: Some(received_at),
        cashier_id,
    };
    let payment = PaymentRec {
        id,
        family_id: Some(family_id),
        amount,
        currency: school.currency.clone(),
        method,
        reference,
        received_at,
        receipt_no: receipt_no.clone(),
        to_credit: plan.unallocated,
        to_suspense: 0,
        offline: true,
        journal_entry_id: None,
        reversal_pending: false,
    };
    let mut overlay = vec![(
        "payments".to_string(),
        id.to_string(),
        serde_json::to_value(&payment)?,
    )];
    for (i, a) in plan.allocations.iter().enumerate() {
        overlay.push((
            "allocations".into(),
            format!("{id}:{i}"),
            json!({ "id": format!("{id}:{i}"), "invoice_line_id": a.invoice_line_id,
                    "amount": a.amount, "journal_entry_id": null, "family_id": family_id }),
        ));
    }
    if plan.unallocated > 0 {
        if let Some(credit) = system_account(store, SystemAccount::FamilyCredit)? {
            overlay.push((
                "journal_lines".into(),
                format!("{id}:credit"),
                json!({ "id": format!("{id}:credit"), "account_id": credit,
                        "amount": -plan.unallocated, "family_id": family_id }),
            ));
        }
    }
    store.enqueue(PAYMENT_RECORD, &serde_json::to_value(&req)?, None, &overlay)?;
    let students: HashMap<Uuid, String> = typed::<synced::Student>(store.rows_where(
        "students",
        "family_id",
        &family_id.to_string(),
    )?)?
    .into_iter()
    .map(|s| (s.id, s.name()))
    .collect();
    let allocations = plan
        .allocations
        .iter()
        .filter_map(|a| {
            let l = lines
                .iter()
                .find(|l| l.invoice_line_id == a.invoice_line_id)?;
            Some((
                students.get(&l.student_id).cloned().unwrap_or_default(),
                l.description.clone(),
                a.amount,
            ))
        })
        .collect();
    Ok(Receipt {
        payment_id: id,
        receipt_no,
        school: school.name,
        school_address: school.address,
        family_id,
        family,
        amount,
        currency: school.currency,
        method,
        received_at,
        allocations,
        to_credit: plan.unallocated,
        offline: true,
    })
}

/// Queues the reversal of payment `payment_id` with `reason` (`payment.reverse@1`, office
/// only; the server checks the role), shown at once: the payment is marked
/// `reversal_pending` in the overlay and its allocations and Family Credit stop counting in
/// [`family_lines`] and [`credit_balance`] until the server's reversal is pulled. Works for a
/// payment still queued on this device too (the reversal follows it in the outbox).
///
/// Errors: validation naming `reason` (1–500 characters) or `payment_id` (already being
/// reversed); not found for a payment this device does not have.
pub fn reverse_payment(store: &mut Store, payment_id: Uuid, reason: &str) -> ClientResult<Uuid> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ClientError::invalid(
            "reason",
            "must be 1 to 500 characters",
        ));
    }
    let mut row = store
        .row("payments", &payment_id.to_string())?
        .ok_or_else(|| ClientError::NotFound(format!("no payment {payment_id} on this device")))?;
    if row.get("reversal_pending").and_then(Value::as_bool) == Some(true) {
        return Err(ClientError::invalid(
            "payment_id",
            "this payment's reversal is already queued",
        ));
    }
    row["reversal_pending"] = Value::Bool(true);
    let args = crate::protocol::sync::ReversePaymentArgs {
        payment_id,
        reason: reason.to_string(),
    };
    let op = store.enqueue(
        crate::protocol::sync::PAYMENT_REVERSE,
        &serde_json::to_value(&args)?,
        None,
        &[("payments".to_string(), payment_id.to_string(), row)],
    )?;
    Ok(op.op_id)
}

/// Grants a discount, waiver or scholarship (`kind`) on invoice line `invoice_line_id` offline
/// (`discount.grant@1`, office only; approved by `approved_by`): either `amount` minor units
/// or `percent_bp` basis points of the line's amount (rounded half up, as the server does),
/// never more than the line still owes. Shown at once as an overlay allocation on the line.
/// Returns the discount's id.
///
/// Errors: validation naming `amount` / `percent_bp` (exactly one; positive; within what is
/// owing) or `reason` (1–500 characters); not found for a line this device does not have.
pub fn grant_discount(
    store: &mut Store,
    invoice_line_id: Uuid,
    kind: crate::protocol::DiscountKind,
    amount: Option<i64>,
    percent_bp: Option<i32>,
    reason: &str,
    approved_by: Uuid,
) -> ClientResult<Uuid> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ClientError::invalid(
            "reason",
            "must be 1 to 500 characters",
        ));
    }
    let line: synced::InvoiceLine = store
        .row("invoice_lines", &invoice_line_id.to_string())?
        .map(serde_json::from_value)
        .transpose()?
        .ok_or_else(|| {
            ClientError::NotFound(format!("no invoice line {invoice_line_id} on this device"))
        })?;
    let family_id = line
        .family_id
        .ok_or_else(|| ClientError::NotFound("the line's family is not on this device".into()))?;
    let minor = match (amount, percent_bp) {
        (Some(a), None) if a > 0 => a,
        (None, Some(bp)) if (1..=10_000).contains(&bp) => {
            i64::try_from((i128::from(line.amount) * i128::from(bp) + 5_000) / 10_000)
                .unwrap_or(i64::MAX)
        }
        (Some(_), None) => return Err(ClientError::invalid("amount", "must be a positive amount")),
        (None, Some(_)) => {
            return Err(ClientError::invalid(
                "percent_bp",
                "must be 1 to 10000 basis points",
            ))
        }
        _ => {
            return Err(ClientError::invalid(
                "amount",
                "give exactly one of an amount or a percentage",
            ))
        }
    };
    let owing = family_lines(store, family_id)?
        .into_iter()
        .find(|l| l.invoice_line_id == invoice_line_id)
        .map(|l| l.outstanding)
        .unwrap_or(0);
    if minor > owing {
        return Err(ClientError::invalid(
            "amount",
            format!(
                "{} is more than the {} still owing on this line",
                crate::money::format_money(minor, &school(store)?.currency),
                crate::money::format_money(owing, &school(store)?.currency)
            ),
        ));
    }
    let id = Uuid::now_v7();
    let args = crate::protocol::sync::GrantDiscountArgs {
        invoice_line_id,
        discount: crate::protocol::GrantDiscountRequest {
            id,
            kind,
            amount,
            percent_bp,
            reason: reason.to_string(),
            approved_by,
        },
    };
    let overlay = vec![(
        "allocations".to_string(),
        format!("{id}:discount"),
        json!({ "id": format!("{id}:discount"), "invoice_line_id": invoice_line_id,
                "amount": minor, "journal_entry_id": null, "family_id": family_id }),
    )];
    store.enqueue(
        crate::protocol::sync::DISCOUNT_GRANT,
        &serde_json::to_value(&args)?,
        None,
        &overlay,
    )?;
    Ok(id)
}

/// A payment the server posted differently from the receipt printed offline.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReceiptDifference {
    pub payment_id: Uuid,
    pub printed_receipt_no: String,
    pub server_receipt_no: String,
    pub printed_to_credit: i64,
    pub server_to_credit: i64,
}

/// Synced payments whose server receipt number or credit differs from what this device
/// printed (ARCHITECTURE.md §6: "or the difference is shown").
pub fn receipt_differences(store: &mut Store) -> ClientResult<Vec<ReceiptDifference>> {
    let mut out = Vec::new();
    for op in store.ops(None)? {
        if op.op.mutation != PAYMENT_RECORD {
            continue;
        }
        let Some(outcome) = &op.outcome else { continue };
        let Some(server) = outcome.result.get("receipt_no").and_then(|r| r.as_str()) else {
            continue;
        };
        let printed: Option<PaymentRec> = store
            .overlay_of_op(op.op.seq, "payments")?
            .map(serde_json::from_value)
            .transpose()?;
        if let Some(p) = printed {
            let server_credit = outcome
                .result
                .get("to_credit")
                .and_then(|v| v.as_i64())
                .unwrap_or(0);
            if p.receipt_no != server || p.to_credit != server_credit {
                out.push(ReceiptDifference {
                    payment_id: p.id,
                    printed_receipt_no: p.receipt_no,
                    server_receipt_no: server.to_string(),
                    printed_to_credit: p.to_credit,
                    server_to_credit: server_credit,
                });
            }
        }
    }
    Ok(out)
}

/// Classes on this device (a teacher's: their assigned ones), by name.
pub fn classes(store: &mut Store) -> ClientResult<Vec<synced::Class>> {
    let mut c: Vec<synced::Class> = typed(store.rows("classes")?)?;
    let scope: Option<crate::protocol::sync::SyncScope> = store
        .device("scope")?
        .and_then(|s| serde_json::from_str(&s).ok());
    // A teacher's device lists the classes they teach (a teacher who is also a parent
    // receives their children's classes too, but does not mark them).
    if let Some(taught) = scope.as_ref().and_then(|s| match s {
        crate::protocol::sync::SyncScope::Families { .. } => None,
        other => other.taught_class_ids(),
    }) {
        c.retain(|x| taught.contains(&x.id));
    }
    c.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(c)
}

/// Attendance codes of the school (active ones).
pub fn attendance_codes(store: &mut Store) -> ClientResult<Vec<synced::AttendanceCode>> {
    let mut c: Vec<synced::AttendanceCode> = typed(store.rows("attendance_codes")?)?;
    c.retain(|x| x.active);
    c.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(c)
}

/// The class `student_id` is enrolled in on `on_date` (active enrolment, dates inclusive), if
/// any on this device.
pub fn enrolled_class(
    store: &mut Store,
    student_id: Uuid,
    on_date: NaiveDate,
) -> ClientResult<Option<Uuid>> {
    Ok(typed::<synced::Enrollment>(store.rows_where(
        "enrollments",
        "student_id",
        &student_id.to_string(),
    )?)?
    .into_iter()
    .find(|e| e.covers(on_date))
    .map(|e| e.class_id))
}

/// Students enrolled in `class_id` on `on_date` (active enrolment, dates inclusive), by name.
pub fn roster(
    store: &mut Store,
    class_id: Uuid,
    on_date: NaiveDate,
) -> ClientResult<Vec<synced::Student>> {
    let enrolled: HashSet<Uuid> = typed::<synced::Enrollment>(store.rows_where(
        "enrollments",
        "class_id",
        &class_id.to_string(),
    )?)?
    .into_iter()
    .filter(|e| e.class_id == class_id && e.covers(on_date))
    .map(|e| e.student_id)
    .collect();
    let mut s: Vec<synced::Student> = Vec::new();
    for id in enrolled {
        if let Some(v) = store.row("students", &id.to_string())? {
            s.push(serde_json::from_value(v)?);
        }
    }
    s.sort_by_key(|a| a.name());
    Ok(s)
}

fn register_key(class_id: Uuid, on_date: NaiveDate, period: i16) -> String {
    format!("{class_id}:{on_date}:{period}")
}

/// The register of `class_id` on `on_date` (whole day): every enrolled student with their
/// current mark, including marks made on this device and not yet synced.
pub fn register(
    store: &mut Store,
    class_id: Uuid,
    on_date: NaiveDate,
) -> ClientResult<Vec<RegisterLine>> {
    let codes: HashMap<Uuid, String> = attendance_codes(store)?
        .into_iter()
        .map(|c| (c.id, c.code))
        .collect();
    let mut marks: HashMap<Uuid, (String, MarkSource)> = HashMap::new();
    for m in store.rows_where("attendance_marks", "class_id", &class_id.to_string())? {
        let same_day = m.get("on_date").and_then(|d| d.as_str()) == Some(&on_date.to_string())
            && m.get("period").and_then(|p| p.as_i64()).unwrap_or(0) == 0;
        if !same_day {
            continue;
        }
        let student = m
            .get("student_id")
            .and_then(|s| s.as_str())
            .and_then(|s| s.parse().ok());
        let code = m
            .get("code")
            .and_then(|c| c.as_str())
            .map(String::from)
            .or_else(|| {
                m.get("code_id")
                    .and_then(|c| c.as_str())
                    .and_then(|c| c.parse().ok())
                    .and_then(|c| codes.get(&c).cloned())
            });
        let source = m
            .get("source")
            .and_then(|s| s.as_str())
            .and_then(MarkSource::parse)
            .unwrap_or(MarkSource::Teacher);
        if let (Some(s), Some(c)) = (student, code) {
            marks.insert(s, (c, source));
        }
    }
    Ok(roster(store, class_id, on_date)?
        .into_iter()
        .map(|s| {
            let m = marks.get(&s.id);
            RegisterLine {
                student_id: s.id,
                student: s.name(),
                admission_no: s.admission_no.clone(),
                code: m.map(|m| m.0.clone()),
                source: m.map(|m| m.1),
            }
        })
        .collect())
}

/// Who this device's marks are from: an office device's are the office's, every other's a
/// teacher's (the server decides the same from the user's role).
fn device_mark_source(store: &mut Store) -> ClientResult<MarkSource> {
    let scope: Option<SyncScope> = store
        .device("scope")?
        .and_then(|s| serde_json::from_str(&s).ok());
    Ok(match scope {
        Some(SyncScope::School) => MarkSource::Office,
        _ => MarkSource::Teacher,
    })
}

/// Marks the whole register of `class_id` on `on_date` offline: everyone enrolled gets
/// `default_code` except `exceptions`; queues `attendance.mark_register@1` (or
/// `attendance.override@1` with a `reason`, office only) with the marks as overlay rows. The
/// server applies the school's rules (teacher assignment, edit window judged at the time of
/// marking, office overrides) when it arrives; a refusal comes back as a rejection to resolve.
///
/// Errors: validation naming `default_code` or `exceptions[i].code` (not a code of the
/// school) or `exceptions[i].student_id` (not enrolled that day).
pub fn mark_register(
    store: &mut Store,
    class_id: Uuid,
    on_date: NaiveDate,
    default_code: &str,
    exceptions: &[(Uuid, String)],
    reason: Option<String>,
) -> ClientResult<Uuid> {
    let codes = attendance_codes(store)?;
    let find = |field: String, code: &str| {
        codes
            .iter()
            .find(|c| c.code.eq_ignore_ascii_case(code))
            .cloned()
            .ok_or_else(|| {
                ClientError::invalid(
                    field,
                    format!("`{code}` is not an attendance code of this school"),
                )
            })
    };
    let default = find("default_code".into(), default_code)?;
    let roster = roster(store, class_id, on_date)?;
    let enrolled: HashSet<Uuid> = roster.iter().map(|s| s.id).collect();
    let mut wanted: HashMap<Uuid, synced::AttendanceCode> = HashMap::new();
    for (i, (student, code)) in exceptions.iter().enumerate() {
        if !enrolled.contains(student) {
            return Err(ClientError::invalid(
                format!("exceptions[{i}].student_id"),
                "not enrolled in this class on that date",
            ));
        }
        wanted.insert(*student, find(format!("exceptions[{i}].code"), code)?);
    }
    // What the device shows until the server confirms: the school's precedence rule applied
    // to the marks it holds (a teacher's marking leaves office marks as they are).
    let by = device_mark_source(store)?;
    let held: HashMap<Uuid, (String, MarkSource)> = register(store, class_id, on_date)?
        .into_iter()
        .filter_map(|l| Some((l.student_id, (l.code?, l.source?))))
        .collect();
    let key = register_key(class_id, on_date, 0);
    let mut overlay: Vec<(String, String, Value)> = Vec::new();
    for s in &roster {
        let code = wanted.get(&s.id).unwrap_or(&default);
        let current = held.get(&s.id).map(|(c, src)| (c, *src));
        match precedence(current, &code.code, by, reason.is_some()) {
            Precedence::Unchanged | Precedence::KeepsOfficeMark => continue,
            Precedence::NeedsReason => {
                return Err(ClientError::invalid(
                    "reason",
                    format!("changing a teacher's mark ({}) needs a reason", s.name()),
                ))
            }
            Precedence::Write => overlay.push((
                "attendance_marks".to_string(),
                format!("{key}:{}", s.id),
                json!({ "student_id": s.id, "class_id": class_id, "on_date": on_date, "period": 0,
                        "code_id": code.id, "code": code.code, "source": by }),
            )),
        }
    }
    let args = MarkRegisterArgs {
        class_id,
        on_date,
        register: MarkRegisterRequest {
            period: 0,
            default_code: Some(default.code.clone()),
            exceptions: exceptions
                .iter()
                .map(|(s, c)| MarkException {
                    student_id: *s,
                    code: c.clone(),
                })
                .collect(),
            reason: reason.clone(),
        },
    };
    let mutation = if reason.is_some() {
        ATTENDANCE_OVERRIDE
    } else {
        ATTENDANCE_MARK_REGISTER
    };
    let op = store.enqueue(mutation, &serde_json::to_value(&args)?, None, &overlay)?;
    Ok(op.op_id)
}
