//! Late-fine rules (issue #17, "late-fine rules"; ARCHITECTURE.md §4): "an invoice with a line
//! unpaid more than `grace_days` days after its due date is fined `amount`, once". A run of a
//! rule fines, in one transaction, every such invoice the rule has not fined yet, each with an
//! ordinary late fine ([`super::adjustments::add_fine`]: Dr Receivable / Cr the Late Fine
//! head's income, a new line on the invoice), so running it again — by hand on the console or
//! daily from `daftar-server apply-late-fines` — fines only what has fallen overdue since. A
//! partial index (`fines_once_per_rule`) makes "once per rule and invoice" a database fact.

use chrono::{NaiveDate, Utc};
use daftar_client_core::protocol::{
    AddFineRequest, CreateLateFineRuleRequest, LateFineRule, LateFineRun, UpdateLateFineRuleRequest,
};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Uuid as SqlUuid};
use serde::Serialize;
use uuid::Uuid;

use crate::audit::{Actor, AuditEntry};
use crate::errors::{ApiError, ApiResult};
use crate::schema::{fines, late_fine_rules};
use crate::validate;

/// `late_fine_rules`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = late_fine_rules)]
pub struct LateFineRuleRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub grace_days: i32,
    pub amount: i64,
    pub active: bool,
    pub created_at: chrono::DateTime<Utc>,
}

/// An invoice a run would fine.
#[derive(Debug, Clone, QueryableByName)]
struct Candidate {
    #[diesel(sql_type = SqlUuid)]
    invoice_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    family_id: Uuid,
}

#[derive(QueryableByName)]
struct Fined {
    #[diesel(sql_type = SqlUuid)]
    rule_id: Uuid,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn wire(row: LateFineRuleRow, fined_invoices: i64) -> LateFineRule {
    LateFineRule {
        id: row.id,
        name: row.name,
        grace_days: row.grace_days,
        amount: row.amount,
        active: row.active,
        fined_invoices,
    }
}

/// The school's rules by name, with how many invoices each has fined.
pub fn list(conn: &mut PgConnection, school_id: Uuid) -> ApiResult<Vec<LateFineRule>> {
    let rows: Vec<LateFineRuleRow> = late_fine_rules::table
        .filter(late_fine_rules::school_id.eq(school_id))
        .order(late_fine_rules::name)
        .select(LateFineRuleRow::as_select())
        .load(conn)?;
    let fined: Vec<Fined> = diesel::sql_query(
        "SELECT late_fine_rule_id AS rule_id, count(*) AS n FROM fines
         WHERE school_id = $1 AND late_fine_rule_id IS NOT NULL GROUP BY late_fine_rule_id",
    )
    .bind::<SqlUuid, _>(school_id)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let n = fined.iter().find(|f| f.rule_id == r.id).map_or(0, |f| f.n);
            wire(r, n)
        })
        .collect())
}

fn rule(conn: &mut PgConnection, school_id: Uuid, id: Uuid) -> ApiResult<LateFineRuleRow> {
    late_fine_rules::table
        .find((school_id, id))
        .select(LateFineRuleRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("late-fine rule"))
}

/// Creates a rule (admin), with its audit row.
///
/// Errors: validation naming `name` (1..=100 characters), `grace_days` (0..=365) or `amount`
/// (1 to the school's `max_amount`); 409 when the name or id is taken.
pub fn create(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    req: &CreateLateFineRuleRequest,
) -> ApiResult<LateFineRule> {
    if !(0..=365).contains(&req.grace_days) {
        return Err(ApiError::validation("grace_days", "must be 0 to 365 days"));
    }
    super::limits::check_amount(
        "amount",
        req.amount,
        crate::tenancy::max_amount(conn, school_id)?,
    )?;
    let row = LateFineRuleRow {
        school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        name: validate::text("name", &req.name, 100)?,
        grace_days: req.grace_days,
        amount: req.amount,
        active: true,
        created_at: Utc::now(),
    };
    diesel::insert_into(late_fine_rules::table)
        .values(&row)
        .execute(conn)?;
    AuditEntry::new(school_id, actor, "late_fine_rule", row.id).created(conn, &row)?;
    Ok(wire(row, 0))
}

/// Switches rule `id` off or on (admin), with its audit row; its fines stand either way.
///
/// Errors: 404 unknown rule.
pub fn update(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    id: Uuid,
    req: &UpdateLateFineRuleRequest,
) -> ApiResult<LateFineRule> {
    let before = rule(conn, school_id, id)?;
    let mut after = before.clone();
    if let Some(a) = req.active {
        after.active = a;
    }
    diesel::update(late_fine_rules::table.find((school_id, id)))
        .set(late_fine_rules::active.eq(after.active))
        .execute(conn)?;
    AuditEntry::new(school_id, actor, "late_fine_rule", id).updated(conn, &before, &after)?;
    let fined = fines::table
        .filter(fines::school_id.eq(school_id))
        .filter(fines::late_fine_rule_id.eq(id))
        .count()
        .get_result(conn)?;
    Ok(wire(after, fined))
}

/// The invoices `rule` fines on `today` (the school's date): those with a line whose due date
/// is more than `grace_days` days before `today` and which still owes part of it (the same
/// outstanding amount as the family's dues), not yet fined by this rule; by invoice number.
fn candidates(
    conn: &mut PgConnection,
    school_id: Uuid,
    rule: &LateFineRuleRow,
    today: NaiveDate,
) -> QueryResult<Vec<Candidate>> {
    diesel::sql_query(
        "SELECT i.id AS invoice_id, i.family_id
         FROM invoices i
         WHERE i.school_id = $1
           AND EXISTS (
             SELECT 1 FROM invoice_lines il
             WHERE il.school_id = i.school_id AND il.invoice_id = i.id
               AND il.due_on + $3 < $2
               AND il.amount > COALESCE((
                 SELECT sum(a.amount) FROM allocations a
                 WHERE a.school_id = il.school_id AND a.invoice_line_id = il.id
                   AND NOT EXISTS (SELECT 1 FROM journal_entries r
                                   WHERE r.school_id = a.school_id
                                     AND r.reverses_entry_id = a.journal_entry_id)), 0))
           AND NOT EXISTS (
             SELECT 1 FROM fines f
             WHERE f.school_id = i.school_id AND f.invoice_id = i.id
               AND f.late_fine_rule_id = $4)
         ORDER BY i.invoice_no, i.id",
    )
    .bind::<SqlUuid, _>(school_id)
    .bind::<Date, _>(today)
    .bind::<Integer, _>(rule.grace_days)
    .bind::<SqlUuid, _>(rule.id)
    .load(conn)
}

fn summary(
    rule: &LateFineRuleRow,
    on: NaiveDate,
    found: &[Candidate],
    applied: bool,
) -> LateFineRun {
    let mut families: Vec<Uuid> = found.iter().map(|c| c.family_id).collect();
    families.sort();
    families.dedup();
    LateFineRun {
        rule_id: rule.id,
        on,
        invoices: found.len() as i64,
        families: families.len() as i64,
        amount: rule.amount.saturating_mul(found.len() as i64),
        applied,
    }
}

/// What a run of rule `id` would fine today (the school's date); writes nothing.
///
/// Errors: 404 unknown rule.
pub fn preview(conn: &mut PgConnection, school_id: Uuid, id: Uuid) -> ApiResult<LateFineRun> {
    let rule = rule(conn, school_id, id)?;
    let today = crate::calendar::local_date(conn, school_id, Utc::now())?;
    let found = candidates(conn, school_id, &rule, today)?;
    Ok(summary(&rule, today, &found, false))
}

/// Runs rule `id` today (the school's date) in the caller's transaction: fines every invoice
/// it finds ([`candidates`]) once, with the reason "`<name>`: more than N days past due",
/// audited fine by fine and as one `late_fine_run` event on the rule. Runs of one rule are
/// serialised by a row lock on the rule.
///
/// Errors: 404 unknown rule; 409 `rule_inactive` for a switched-off rule.
pub fn apply(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    id: Uuid,
) -> ApiResult<LateFineRun> {
    late_fine_rules::table
        .find((school_id, id))
        .select(late_fine_rules::id)
        .for_update()
        .first::<Uuid>(conn)
        .optional()?
        .ok_or(ApiError::NotFound("late-fine rule"))?;
    let rule = rule(conn, school_id, id)?;
    if !rule.active {
        return Err(ApiError::Conflict {
            code: "rule_inactive",
            detail: format!("the late-fine rule “{}” is switched off", rule.name),
        });
    }
    let today = crate::calendar::local_date(conn, school_id, Utc::now())?;
    let found = candidates(conn, school_id, &rule, today)?;
    let reason = format!(
        "{}: more than {} day(s) past due",
        rule.name, rule.grace_days
    );
    for c in &found {
        let fine = super::adjustments::add_fine(
            conn,
            school_id,
            actor,
            c.invoice_id,
            &AddFineRequest {
                id: Uuid::now_v7(),
                amount: rule.amount,
                reason: reason.clone(),
                due_on: None,
            },
            today,
        )?;
        diesel::update(fines::table.find((school_id, fine.id)))
            .set(fines::late_fine_rule_id.eq(Some(rule.id)))
            .execute(conn)?;
    }
    let run = summary(&rule, today, &found, true);
    AuditEntry::new(school_id, actor, "late_fine_rule", id).event(
        conn,
        "late_fine_run",
        Some(&run),
    )?;
    Ok(run)
}

/// Runs every active rule of the school (`daftar-server apply-late-fines`, e.g. daily from
/// cron), each in the caller's transaction; the runs in rule-name order.
///
/// Errors: as [`apply`].
pub fn apply_all(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
) -> ApiResult<Vec<(String, LateFineRun)>> {
    let mut runs = Vec::new();
    for r in list(conn, school_id)?.into_iter().filter(|r| r.active) {
        runs.push((r.name.clone(), apply(conn, school_id, actor, r.id)?));
    }
    Ok(runs)
}
