//! Reports computed from the journal (issue #3 §7): trial balance, dues with aging, daily
//! collections by cashier and method, income by fee head, defaulters, and the zero-activity
//! detector. Each is a [`ReportTable`], served as JSON, CSV or Excel ([`export`]).

pub mod export;
pub mod handlers;

use chrono::NaiveDate;
use daftar_client_core::protocol::{ColumnKind, ReportCell, ReportColumn, ReportTable};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::errors::{ApiError, ApiResult};
use crate::schema::schools;

/// Reports this module knows, by URL name.
pub const REPORTS: [&str; 6] = [
    "trial_balance",
    "dues",
    "collections",
    "income",
    "defaulters",
    "zero_activity",
];

/// Parameters of a report request (each report reads the ones it needs).
#[derive(Debug, Clone)]
pub struct ReportParams {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub as_of: NaiveDate,
    /// `family`, `student` or `class` (dues).
    pub group: String,
    /// Minimum days past due (defaulters).
    pub min_days: i64,
    /// Minimum overdue amount in minor units (defaulters).
    pub min_amount: i64,
    /// The family (family_statement).
    pub family_id: Option<Uuid>,
}

fn col(key: &str, label: &str, kind: ColumnKind) -> ReportColumn {
    ReportColumn {
        key: key.into(),
        label: label.into(),
        kind,
    }
}

fn text(s: impl Into<String>) -> ReportCell {
    ReportCell::Text(s.into())
}

fn totals(columns: &[ReportColumn], rows: &[Vec<ReportCell>], label: &str) -> Vec<ReportCell> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| match c.kind {
            ColumnKind::Money | ColumnKind::Count => ReportCell::Int(
                rows.iter()
                    .map(|r| if let ReportCell::Int(n) = r[i] { n } else { 0 })
                    .sum(),
            ),
            _ if i == 0 => text(label),
            _ => ReportCell::Empty,
        })
        .collect()
}

/// Builds report `name` for `school_id`.
///
/// Errors: 404 for an unknown report; validation naming `group` or `to`.
pub fn build(
    conn: &mut PgConnection,
    school_id: Uuid,
    name: &str,
    p: &ReportParams,
) -> ApiResult<ReportTable> {
    let currency: String = schools::table
        .find(school_id)
        .select(schools::currency)
        .first(conn)?;
    let (title, columns, rows, with_totals) = match name {
        "trial_balance" => trial_balance(conn, school_id, p)?,
        "dues" => dues(conn, school_id, p)?,
        "collections" => collections(conn, school_id, p)?,
        "income" => income(conn, school_id, p)?,
        "defaulters" => defaulters(conn, school_id, p)?,
        "zero_activity" => zero_activity(conn, school_id, p)?,
        "family_statement" => family_statement(conn, school_id, p)?,
        _ => return Err(ApiError::NotFound("report")),
    };
    let totals = with_totals.then(|| totals(&columns, &rows, "Total"));
    Ok(ReportTable {
        report: name.into(),
        title,
        currency,
        columns,
        rows,
        totals,
    })
}

type Built = (String, Vec<ReportColumn>, Vec<Vec<ReportCell>>, bool);

#[derive(QueryableByName)]
struct TbRow {
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = BigInt)]
    balance: i64,
}

fn trial_balance(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let rows: Vec<TbRow> = diesel::sql_query(
        "SELECT a.code, a.name, a.kind, COALESCE(sum(l.amount) FILTER (WHERE e.occurred_on <= $2), 0)::bigint AS balance
         FROM accounts a
         LEFT JOIN journal_lines l ON l.school_id = a.school_id AND l.account_id = a.id
         LEFT JOIN journal_entries e ON e.school_id = l.school_id AND e.id = l.entry_id
         WHERE a.school_id = $1
         GROUP BY a.code, a.name, a.kind ORDER BY a.code",
    )
    .bind::<SqlUuid, _>(school_id)
    .bind::<Date, _>(p.as_of)
    .load(conn)?;
    let columns = vec![
        col("code", "Code", ColumnKind::Text),
        col("account", "Account", ColumnKind::Text),
        col("kind", "Kind", ColumnKind::Text),
        col("debit", "Debit", ColumnKind::Money),
        col("credit", "Credit", ColumnKind::Money),
    ];
    let rows = rows
        .into_iter()
        .map(|r| {
            vec![
                text(r.code),
                text(r.name),
                text(r.kind),
                ReportCell::Int(r.balance.max(0)),
                ReportCell::Int((-r.balance).max(0)),
            ]
        })
        .collect();
    Ok((
        format!("Trial balance as of {}", p.as_of),
        columns,
        rows,
        true,
    ))
}

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = Text)]
    group_key: String,
    #[diesel(sql_type = Text)]
    group_name: String,
    #[diesel(sql_type = Date)]
    due_on: NaiveDate,
    #[diesel(sql_type = BigInt)]
    outstanding: i64,
}

/// Open invoice lines with their outstanding amount (SQL fragment shared by dues and
/// defaulters): one row per line, `outstanding > 0`.
const OPEN_LINES: &str = "
    SELECT il.school_id, il.id, il.due_on, i.family_id, i.student_id,
           il.amount - COALESCE((SELECT sum(a.amount) FROM allocations a
               WHERE a.school_id = il.school_id AND a.invoice_line_id = il.id
                 AND NOT EXISTS (SELECT 1 FROM journal_entries r
                                 WHERE r.school_id = a.school_id AND r.reverses_entry_id = a.journal_entry_id)), 0) AS outstanding
    FROM invoice_lines il JOIN invoices i ON i.school_id = il.school_id AND i.id = il.invoice_id
    WHERE il.school_id = $1";

fn dues(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let (key, name) = match p.group.as_str() {
        "family" => ("o.family_id::text", "f.name"),
        "student" => (
            "o.student_id::text",
            "s.admission_no || ' ' || s.given_name || ' ' || s.family_name",
        ),
        "class" => ("COALESCE(c.id::text, '')", "COALESCE(c.name, '(no class)')"),
        _ => {
            return Err(ApiError::validation(
                "group",
                "must be family, student or class",
            ))
        }
    };
    let sql = format!(
        "WITH o AS ({OPEN_LINES})
         SELECT {key} AS group_key, {name} AS group_name, o.due_on, o.outstanding::bigint AS outstanding
         FROM o
         JOIN families f ON f.school_id = o.school_id AND f.id = o.family_id
         JOIN students s ON s.school_id = o.school_id AND s.id = o.student_id
         LEFT JOIN LATERAL (SELECT c.id, c.name FROM enrollments e JOIN classes c ON c.school_id = e.school_id AND c.id = e.class_id
                            WHERE e.school_id = o.school_id AND e.student_id = o.student_id AND e.active
                            ORDER BY c.name LIMIT 1) c ON true
         WHERE o.outstanding > 0"
    );
    let lines: Vec<DueRow> = diesel::sql_query(sql)
        .bind::<SqlUuid, _>(school_id)
        .load(conn)?;
    // group → [not due, 0–30, 31–60, 61–90, 90+]
    let mut groups: std::collections::BTreeMap<(String, String), [i64; 5]> =
        std::collections::BTreeMap::new();
    for l in lines {
        let overdue = (p.as_of - l.due_on).num_days();
        let bucket = match overdue {
            d if d < 0 => 0,
            0..=30 => 1,
            31..=60 => 2,
            61..=90 => 3,
            _ => 4,
        };
        groups.entry((l.group_name, l.group_key)).or_default()[bucket] += l.outstanding;
    }
    let columns = vec![
        col(
            &p.group,
            match p.group.as_str() {
                "family" => "Family",
                "student" => "Student",
                _ => "Class",
            },
            ColumnKind::Text,
        ),
        col("not_due", "Not yet due", ColumnKind::Money),
        col("days_0_30", "0–30 days", ColumnKind::Money),
        col("days_31_60", "31–60 days", ColumnKind::Money),
        col("days_61_90", "61–90 days", ColumnKind::Money),
        col("days_90_plus", "90+ days", ColumnKind::Money),
        col("total", "Total", ColumnKind::Money),
    ];
    let rows = groups
        .into_iter()
        .map(|((name, _), b)| {
            let mut row = vec![text(name)];
            row.extend(b.iter().map(|v| ReportCell::Int(*v)));
            row.push(ReportCell::Int(b.iter().sum()));
            row
        })
        .collect();
    Ok((
        format!("Dues by {} as of {}", p.group, p.as_of),
        columns,
        rows,
        true,
    ))
}

#[derive(QueryableByName)]
struct CollectionRow {
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = Text)]
    cashier: String,
    #[diesel(sql_type = Text)]
    method: String,
    #[diesel(sql_type = BigInt)]
    receipts: i64,
    #[diesel(sql_type = BigInt)]
    collected: i64,
    #[diesel(sql_type = BigInt)]
    reversed: i64,
}

fn collections(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let rows: Vec<CollectionRow> = diesel::sql_query(
        "WITH moves AS (
            SELECT e.occurred_on AS day, p.received_by, p.method, 1 AS receipts, p.amount AS collected, 0 AS reversed
            FROM payments p JOIN journal_entries e ON e.school_id = p.school_id AND e.id = p.journal_entry_id
            WHERE p.school_id = $1
            UNION ALL
            SELECT e.occurred_on, p.received_by, p.method, 0, 0, p.amount
            FROM payment_reversals r
            JOIN payments p ON p.school_id = r.school_id AND p.id = r.payment_id
            JOIN journal_entries e ON e.school_id = r.school_id AND e.id = r.journal_entry_id
            WHERE r.school_id = $1)
         SELECT m.day, COALESCE(u.display_name, '(system)') AS cashier, m.method,
                sum(m.receipts)::bigint AS receipts, sum(m.collected)::bigint AS collected, sum(m.reversed)::bigint AS reversed
         FROM moves m LEFT JOIN users u ON u.school_id = $1 AND u.id = m.received_by
         WHERE m.day BETWEEN $2 AND $3
         GROUP BY m.day, cashier, m.method ORDER BY m.day, cashier, m.method",
    )
    .bind::<SqlUuid, _>(school_id)
    .bind::<Date, _>(p.from)
    .bind::<Date, _>(p.to)
    .load(conn)?;
    let columns = vec![
        col("date", "Date", ColumnKind::Date),
        col("cashier", "Cashier", ColumnKind::Text),
        col("method", "Method", ColumnKind::Text),
        col("receipts", "Receipts", ColumnKind::Count),
        col("collected", "Collected", ColumnKind::Money),
        col("reversed", "Reversed", ColumnKind::Money),
        col("net", "Net", ColumnKind::Money),
    ];
    let rows = rows
        .into_iter()
        .map(|r| {
            vec![
                text(r.day.to_string()),
                text(r.cashier),
                text(r.method),
                ReportCell::Int(r.receipts),
                ReportCell::Int(r.collected),
                ReportCell::Int(r.reversed),
                ReportCell::Int(r.collected - r.reversed),
            ]
        })
        .collect();
    Ok((
        format!("Collections {} to {}", p.from, p.to),
        columns,
        rows,
        true,
    ))
}

fn income(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let rows: Vec<TbRow> = diesel::sql_query(
        "SELECT a.code, a.name, a.kind, COALESCE(-sum(l.amount), 0)::bigint AS balance
         FROM accounts a
         JOIN journal_lines l ON l.school_id = a.school_id AND l.account_id = a.id
         JOIN journal_entries e ON e.school_id = l.school_id AND e.id = l.entry_id
         WHERE a.school_id = $1 AND a.kind IN ('income', 'contra_income') AND e.occurred_on BETWEEN $2 AND $3
         GROUP BY a.code, a.name, a.kind ORDER BY a.code",
    )
    .bind::<SqlUuid, _>(school_id)
    .bind::<Date, _>(p.from)
    .bind::<Date, _>(p.to)
    .load(conn)?;
    let columns = vec![
        col("code", "Code", ColumnKind::Text),
        col("account", "Income account", ColumnKind::Text),
        col("amount", "Amount", ColumnKind::Money),
    ];
    let rows = rows
        .into_iter()
        .map(|r| vec![text(r.code), text(r.name), ReportCell::Int(r.balance)])
        .collect();
    Ok((
        format!("Income by fee head {} to {}", p.from, p.to),
        columns,
        rows,
        true,
    ))
}

#[derive(QueryableByName)]
struct DefaulterRow {
    #[diesel(sql_type = Text)]
    family: String,
    #[diesel(sql_type = Text)]
    phones: String,
    #[diesel(sql_type = BigInt)]
    students: i64,
    #[diesel(sql_type = Date)]
    oldest_due: NaiveDate,
    #[diesel(sql_type = BigInt)]
    overdue: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

fn defaulters(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let cutoff = p.as_of - chrono::Duration::days(p.min_days.max(0));
    let sql = format!(
        "WITH o AS ({OPEN_LINES})
         SELECT f.name AS family,
                COALESCE((SELECT string_agg(g.phone, ', ' ORDER BY g.phone) FROM guardians g
                          WHERE g.school_id = f.school_id AND g.family_id = f.id AND g.active AND g.phone IS NOT NULL), '') AS phones,
                count(DISTINCT o.student_id)::bigint AS students,
                min(o.due_on) AS oldest_due,
                COALESCE(sum(o.outstanding) FILTER (WHERE o.due_on <= $2), 0)::bigint AS overdue,
                sum(o.outstanding)::bigint AS total
         FROM o JOIN families f ON f.school_id = o.school_id AND f.id = o.family_id
         WHERE o.outstanding > 0
         GROUP BY f.school_id, f.id, f.name
         HAVING COALESCE(sum(o.outstanding) FILTER (WHERE o.due_on <= $2), 0) >= $3
         ORDER BY overdue DESC, f.name"
    );
    let rows: Vec<DefaulterRow> = diesel::sql_query(sql)
        .bind::<SqlUuid, _>(school_id)
        .bind::<Date, _>(cutoff)
        .bind::<BigInt, _>(p.min_amount.max(1))
        .load(conn)?;
    let columns = vec![
        col("family", "Family", ColumnKind::Text),
        col("phones", "Guardian phones", ColumnKind::Text),
        col("students", "Students", ColumnKind::Count),
        col("oldest_due", "Oldest due", ColumnKind::Date),
        col("overdue", "Overdue", ColumnKind::Money),
        col("total", "Total owing", ColumnKind::Money),
    ];
    let rows = rows
        .into_iter()
        .map(|r| {
            vec![
                text(r.family),
                text(r.phones),
                ReportCell::Int(r.students),
                text(r.oldest_due.to_string()),
                ReportCell::Int(r.overdue),
                ReportCell::Int(r.total),
            ]
        })
        .collect();
    Ok((
        format!(
            "Defaulters: more than {} days overdue as of {}",
            p.min_days, p.as_of
        ),
        columns,
        rows,
        true,
    ))
}

#[derive(QueryableByName)]
struct IdleRow {
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Date>)]
    last_activity: Option<NaiveDate>,
}

fn zero_activity(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let rows: Vec<IdleRow> = diesel::sql_query(
        "SELECT 'family' AS kind, f.name AS name,
                (SELECT max(e.occurred_on) FROM journal_lines l JOIN journal_entries e ON e.school_id = l.school_id AND e.id = l.entry_id
                 WHERE l.school_id = f.school_id AND l.family_id = f.id) AS last_activity
         FROM families f
         WHERE f.school_id = $1 AND f.active AND NOT EXISTS (
             SELECT 1 FROM journal_lines l JOIN journal_entries e ON e.school_id = l.school_id AND e.id = l.entry_id
             WHERE l.school_id = f.school_id AND l.family_id = f.id AND e.occurred_on BETWEEN $2 AND $3)
         UNION ALL
         SELECT 'student', s.admission_no || ' ' || s.given_name || ' ' || s.family_name,
                (SELECT max(e.occurred_on) FROM journal_lines l JOIN journal_entries e ON e.school_id = l.school_id AND e.id = l.entry_id
                 WHERE l.school_id = s.school_id AND l.student_id = s.id)
         FROM students s
         WHERE s.school_id = $1 AND s.active AND NOT EXISTS (
             SELECT 1 FROM journal_lines l JOIN journal_entries e ON e.school_id = l.school_id AND e.id = l.entry_id
             WHERE l.school_id = s.school_id AND l.student_id = s.id AND e.occurred_on BETWEEN $2 AND $3)
         ORDER BY 1, 2",
    )
    .bind::<SqlUuid, _>(school_id)
    .bind::<Date, _>(p.from)
    .bind::<Date, _>(p.to)
    .load(conn)?;
    let columns = vec![
        col("kind", "Kind", ColumnKind::Text),
        col("name", "Name", ColumnKind::Text),
        col("last_activity", "Last activity", ColumnKind::Date),
    ];
    let rows = rows
        .into_iter()
        .map(|r| {
            vec![
                text(r.kind),
                text(r.name),
                r.last_activity
                    .map(|d| text(d.to_string()))
                    .unwrap_or(ReportCell::Empty),
            ]
        })
        .collect();
    Ok((
        format!("No financial activity {} to {}", p.from, p.to),
        columns,
        rows,
        false,
    ))
}

fn family_statement(
    conn: &mut PgConnection,
    school_id: Uuid,
    p: &ReportParams,
) -> ApiResult<Built> {
    let family_id = p
        .family_id
        .ok_or_else(|| ApiError::validation("family_id", "is required for the family statement"))?;
    let name: String = crate::roster::repo::family(conn, school_id, family_id)
        .map_err(|_| ApiError::NotFound("family"))?
        .name;
    let st = crate::ledger::service::family_statement(conn, school_id, family_id)?;
    let columns = vec![
        col("entry_no", "Entry", ColumnKind::Count),
        col("date", "Date", ColumnKind::Date),
        col("kind", "Kind", ColumnKind::Text),
        col("memo", "Details", ColumnKind::Text),
        col("debit", "Debit", ColumnKind::Money),
        col("credit", "Credit", ColumnKind::Money),
        col("balance", "Balance", ColumnKind::Money),
    ];
    let rows = st
        .lines
        .into_iter()
        .map(|l| {
            vec![
                ReportCell::Int(l.entry_no),
                text(l.occurred_on.to_string()),
                text(l.kind),
                text(l.memo),
                ReportCell::Int(l.debit),
                ReportCell::Int(l.credit),
                ReportCell::Int(l.balance),
            ]
        })
        .collect();
    Ok((
        format!("Statement of account: {name}"),
        columns,
        rows,
        false,
    ))
}
