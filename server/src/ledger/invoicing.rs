//! Issuing a term's invoices (ARCHITECTURE.md §4): one invoice per actively enrolled student of
//! the term's scheduled classes, one line per fee head, then each touched family's credit
//! applied.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, Utc};
use daftar_client_core::ledger::SystemAccount;
use daftar_client_core::protocol::{
    InvoiceRunHead, InvoiceRunPreview, InvoiceRunProgress, IssueInvoicesReport,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::models::*;
use super::repo::{self, EntryHeader, Posting};
use super::service::{apply_family_credit, lock_family, school_currency};
use crate::audit::{Actor, AuditEntry};
use crate::db::StatisticsRefresh;
use crate::errors::{ApiError, ApiResult};
use crate::schema::{enrollments, fee_heads, fee_schedules, invoice_lines, invoices, students};

/// The invoice runs of this server process, by (school, term): how many invoices the run has
/// issued of how many (issue #17, "progress shown while it runs"). Kept in memory, shared by
/// the process's workers through `AppState`; the last run of a term stays readable after it
/// ended. A run is one transaction, so its invoices become visible to everyone else only at
/// its end; this is what the console reads meanwhile. With several server instances, the
/// instance running it answers (the console's poll may reach another and see no run).
#[derive(Debug, Clone, Default)]
pub struct InvoiceRuns(Arc<Mutex<HashMap<(Uuid, Uuid), InvoiceRunProgress>>>);

impl InvoiceRuns {
    fn set(&self, school_id: Uuid, term_id: Uuid, progress: InvoiceRunProgress) {
        let mut runs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        runs.insert((school_id, term_id), progress);
    }

    /// Records `issued` of `total` invoices of a run that is `running`.
    pub fn report(&self, school_id: Uuid, term_id: Uuid, issued: i64, total: i64, running: bool) {
        self.set(
            school_id,
            term_id,
            InvoiceRunProgress {
                term_id,
                running,
                issued,
                total,
            },
        );
    }

    /// The term's run now: running or last finished; nothing issued yet when none ran here.
    pub fn progress(&self, school_id: Uuid, term_id: Uuid) -> InvoiceRunProgress {
        let runs = self.0.lock().unwrap_or_else(|p| p.into_inner());
        runs.get(&(school_id, term_id))
            .cloned()
            .unwrap_or(InvoiceRunProgress {
                term_id,
                running: false,
                issued: 0,
                total: 0,
            })
    }
}

/// A fee schedule of the term with its head's name and income account.
type ScheduleLine = (FeeScheduleRow, String, Uuid);

/// One invoice the run would issue: the student, their family, and the schedules (indices
/// into [`InvoicePlan::schedules`]) that become its lines, one per fee head.
struct PlannedInvoice {
    student: Uuid,
    family: Uuid,
    lines: Vec<usize>,
}

/// What issuing a term's invoices does now, computed without writing anything.
struct InvoicePlan {
    schedules: Vec<ScheduleLine>,
    /// In family, then admission-number order.
    invoices: Vec<PlannedInvoice>,
    /// Students of the scheduled classes already invoiced for the term (skipped).
    already_invoiced: u64,
}

impl PlannedInvoice {
    fn total(&self, plan: &InvoicePlan) -> i64 {
        self.lines.iter().map(|&i| plan.schedules[i].0.amount).sum()
    }
}

/// Plans the run: every actively enrolled, active student of the term's scheduled classes not
/// invoiced for the term yet; per student one line per fee head, the first schedule (by due
/// date) among the student's classes. A term without schedules plans nothing.
///
/// Errors: 404 for an unknown term.
fn plan_invoices(
    conn: &mut PgConnection,
    school_id: Uuid,
    term_id: Uuid,
) -> ApiResult<InvoicePlan> {
    crate::roster::repo::list_terms(conn, school_id)?
        .into_iter()
        .find(|t| t.id == term_id)
        .ok_or(ApiError::NotFound("term"))?;
    let schedules: Vec<ScheduleLine> = fee_schedules::table
        .inner_join(
            fee_heads::table.on(fee_heads::school_id
                .eq(fee_schedules::school_id)
                .and(fee_heads::id.eq(fee_schedules::fee_head_id))),
        )
        .filter(fee_schedules::school_id.eq(school_id))
        .filter(fee_schedules::term_id.eq(term_id))
        .order((fee_schedules::due_on, fee_heads::name))
        .select((
            FeeScheduleRow::as_select(),
            fee_heads::name,
            fee_heads::income_account_id,
        ))
        .load(conn)?;
    if schedules.is_empty() {
        return Ok(InvoicePlan {
            schedules,
            invoices: Vec::new(),
            already_invoiced: 0,
        });
    }
    let class_ids: Vec<Uuid> = schedules.iter().map(|s| s.0.class_id).collect();
    let enrolled: Vec<(Uuid, Uuid, Uuid, String)> = enrollments::table
        .inner_join(
            students::table.on(students::school_id
                .eq(enrollments::school_id)
                .and(students::id.eq(enrollments::student_id))),
        )
        .filter(enrollments::school_id.eq(school_id))
        .filter(enrollments::class_id.eq_any(&class_ids))
        .filter(enrollments::active.eq(true))
        .filter(students::active.eq(true))
        .order((students::family_id, students::admission_no))
        .select((
            students::id,
            students::family_id,
            enrollments::class_id,
            students::admission_no,
        ))
        .load(conn)?;
    let invoiced: HashSet<Uuid> = invoices::table
        .filter(invoices::school_id.eq(school_id))
        .filter(invoices::term_id.eq(term_id))
        .select(invoices::student_id)
        .load::<Uuid>(conn)?
        .into_iter()
        .collect();
    // Student → (family, classes), in family then admission-number order.
    let mut order: Vec<Uuid> = Vec::new();
    let mut skipped: HashSet<Uuid> = HashSet::new();
    let mut by_student: HashMap<Uuid, (Uuid, Vec<Uuid>)> = HashMap::new();
    for (student, family, class, _) in enrolled {
        if invoiced.contains(&student) {
            skipped.insert(student);
            continue;
        }
        by_student
            .entry(student)
            .or_insert_with(|| {
                order.push(student);
                (family, Vec::new())
            })
            .1
            .push(class);
    }
    let invoices = order
        .into_iter()
        .map(|student| {
            let (family, classes) = &by_student[&student];
            let mut heads_seen = Vec::new();
            let lines = schedules
                .iter()
                .enumerate()
                .filter(|(_, s)| classes.contains(&s.0.class_id))
                .filter(|(_, s)| {
                    let new = !heads_seen.contains(&s.0.fee_head_id);
                    heads_seen.push(s.0.fee_head_id);
                    new
                })
                .map(|(i, _)| i)
                .collect();
            PlannedInvoice {
                student,
                family: *family,
                lines,
            }
        })
        .collect();
    Ok(InvoicePlan {
        schedules,
        invoices,
        already_invoiced: skipped.len() as u64,
    })
}

/// What [`issue_invoices`] would issue now for the term, writing nothing (the console's
/// preview before the run, issue #17): the count, total and families of the new invoices,
/// the students skipped as already invoiced, and the total per fee head. Amounts in minor
/// units of the school's currency.
///
/// A term without fee schedules previews as nothing to issue (`schedules` = 0).
///
/// Errors: 404 for an unknown term.
pub fn preview_invoices(
    conn: &mut PgConnection,
    school_id: Uuid,
    term_id: Uuid,
) -> ApiResult<InvoiceRunPreview> {
    let plan = plan_invoices(conn, school_id, term_id)?;
    let mut heads: Vec<InvoiceRunHead> = Vec::new();
    for invoice in &plan.invoices {
        for &i in &invoice.lines {
            let (schedule, name, _) = &plan.schedules[i];
            match heads
                .iter_mut()
                .find(|h| h.fee_head_id == schedule.fee_head_id)
            {
                Some(h) => {
                    h.lines += 1;
                    h.amount += schedule.amount;
                }
                None => heads.push(InvoiceRunHead {
                    fee_head_id: schedule.fee_head_id,
                    name: name.clone(),
                    lines: 1,
                    amount: schedule.amount,
                }),
            }
        }
    }
    heads.sort_by(|a, b| a.name.cmp(&b.name));
    let families: HashSet<Uuid> = plan.invoices.iter().map(|i| i.family).collect();
    Ok(InvoiceRunPreview {
        term_id,
        invoices: plan.invoices.len() as u64,
        amount: plan.invoices.iter().map(|i| i.total(&plan)).sum(),
        families: families.len() as u64,
        already_invoiced: plan.already_invoiced,
        schedules: plan.schedules.len() as u64,
        currency: school_currency(conn, school_id)?,
        heads,
    })
}

/// Issues one invoice per actively enrolled student of the term's scheduled classes, with one
/// line per fee head (Dr Receivable / Cr that head's income account), then applies each
/// touched family's credit. Students already invoiced for the term are skipped.
///
/// Errors: 404 for an unknown term; 422 `nothing_to_invoice` when the term has no schedules.
pub fn issue_invoices(
    conn: &mut PgConnection,
    school_id: Uuid,
    term_id: Uuid,
    actor: Actor,
    issued_on: NaiveDate,
) -> ApiResult<IssueInvoicesReport> {
    issue_invoices_reporting(conn, school_id, term_id, actor, issued_on, &mut |_, _| {})
}

/// [`issue_invoices`], telling `progress(issued, total)` after each invoice (and once with 0
/// before the first), for the progress a person watches while a large run issues.
///
/// Errors: as [`issue_invoices`].
pub fn issue_invoices_reporting(
    conn: &mut PgConnection,
    school_id: Uuid,
    term_id: Uuid,
    actor: Actor,
    issued_on: NaiveDate,
    progress: &mut dyn FnMut(i64, i64),
) -> ApiResult<IssueInvoicesReport> {
    let plan = plan_invoices(conn, school_id, term_id)?;
    let total = plan.invoices.len() as i64;
    progress(0, total);
    if plan.schedules.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "nothing_to_invoice",
            detail: "this term has no fee schedules".into(),
        });
    }
    let receivable = repo::system_account(conn, school_id, SystemAccount::Receivable)?;
    let mut report = IssueInvoicesReport {
        currency: school_currency(conn, school_id)?,
        ..IssueInvoicesReport::default()
    };
    let mut families_touched: BTreeMap<Uuid, ()> = BTreeMap::new();
    // A term's invoice run may be the new school's first ledger rows (see StatisticsRefresh).
    let mut stats = StatisticsRefresh::new(school_id);
    let first_invoice_no = if plan.invoices.is_empty() {
        0
    } else {
        repo::take_counter(conn, school_id, "invoice", plan.invoices.len() as i64)?
    };
    for (i, planned) in plan.invoices.iter().enumerate() {
        let (student, family) = (planned.student, &planned.family);
        let lines: Vec<&ScheduleLine> = planned.lines.iter().map(|&l| &plan.schedules[l]).collect();
        let total = planned.total(&plan);
        lock_family(conn, school_id, *family)?;
        let invoice_no = first_invoice_no + i as i64;
        let mut postings = vec![Posting {
            account_id: receivable,
            amount: total,
            family_id: Some(*family),
            student_id: Some(student),
        }];
        postings.extend(lines.iter().map(|s| Posting {
            account_id: s.2,
            amount: -s.0.amount,
            family_id: Some(*family),
            student_id: Some(student),
        }));
        let entry = repo::post_entry(
            conn,
            school_id,
            &EntryHeader {
                kind: "invoice",
                occurred_on: issued_on,
                memo: format!("Invoice {invoice_no}"),
                reverses_entry_id: None,
                posted_by: actor.user_id,
                device_id: actor.device_id,
            },
            &postings,
        )?;
        stats.wrote(conn, "journal_entries", 1);
        stats.wrote(conn, "journal_lines", postings.len() as u64);
        let invoice = InvoiceRow {
            school_id,
            id: Uuid::now_v7(),
            invoice_no,
            family_id: *family,
            student_id: student,
            term_id,
            issued_on,
            journal_entry_id: entry.id,
            created_at: Utc::now(),
        };
        diesel::insert_into(invoices::table)
            .values(&invoice)
            .execute(conn)?;
        let line_rows: Vec<InvoiceLineRow> = lines
            .iter()
            .enumerate()
            .map(|(i, s)| InvoiceLineRow {
                school_id,
                id: Uuid::now_v7(),
                invoice_id: invoice.id,
                line_no: i as i32 + 1,
                fee_head_id: s.0.fee_head_id,
                description: s.1.clone(),
                amount: s.0.amount,
                due_on: s.0.due_on,
            })
            .collect();
        diesel::insert_into(invoice_lines::table)
            .values(&line_rows)
            .execute(conn)?;
        stats.wrote(conn, "invoices", 1);
        stats.wrote(conn, "invoice_lines", line_rows.len() as u64);
        report.invoices_issued += 1;
        report.amount_invoiced += total;
        families_touched.insert(*family, ());
        progress(i as i64 + 1, plan.invoices.len() as i64);
    }
    for family in families_touched.keys() {
        report.credit_applied += apply_family_credit(conn, school_id, *family, actor, issued_on)?;
    }
    AuditEntry::new(school_id, actor, "term", term_id).event(
        conn,
        "issue_invoices",
        Some(&report),
    )?;
    Ok(report)
}
