//! Reports computed from the journal (ARCHITECTURE.md §4): trial balance, dues with aging, daily
//! collections by cashier and method, income by fee head, defaulters, and the zero-activity
//! detector. Each is a [`ReportTable`], served as JSON, CSV or Excel ([`export`]).

pub mod catalog;
pub mod export;
pub mod handlers;

pub use catalog::{openapi_schema, DuesGroup, ReportName};

use chrono::NaiveDate;
use daftar_client_core::protocol::{ColumnKind, ReportCell, ReportColumn, ReportTable};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Numeric, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::errors::{ApiError, ApiResult};
use crate::schema::schools;
use crate::sums::Sum128;

/// Parameters of a report request (each report reads the ones it needs), already validated by
/// the handler: `from <= to`; dates are school-local calendar dates.
#[derive(Debug, Clone)]
pub struct ReportParams {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub as_of: NaiveDate,
    /// Grouping of `dues`.
    pub group: DuesGroup,
    /// Minimum days past due (defaulters), 0..=36,500.
    pub min_days: i64,
    /// Minimum overdue amount in minor units (defaulters), 1..=10^13.
    pub min_amount: i64,
    /// The family (family_statement).
    pub family_id: Option<Uuid>,
}

fn text(s: impl Into<String>) -> ReportCell {
    ReportCell::Text(s.into())
}

fn int(n: impl Into<i128>) -> ReportCell {
    ReportCell::Int(n.into())
}

/// Column totals of money and count columns, added in `i128` (saturating past ±1.7·10^38,
/// which no journal of `i64` amounts can reach before 2^64 rows).
fn totals(columns: &[ReportColumn], rows: &[Vec<ReportCell>], label: &str) -> Vec<ReportCell> {
    columns
        .iter()
        .enumerate()
        .map(|(i, c)| match c.kind {
            ColumnKind::Money | ColumnKind::Count => ReportCell::Int(
                rows.iter()
                    .map(|r| if let ReportCell::Int(n) = r[i] { n } else { 0 })
                    .fold(0i128, i128::saturating_add),
            ),
            _ if i == 0 => text(label),
            _ => ReportCell::Empty,
        })
        .collect()
}

/// Builds report `name` for `school_id`.
///
/// Errors: 404 for an unknown family (`family_statement`); validation naming `family_id` when
/// it is missing for the family statement.
pub fn build(
    conn: &mut PgConnection,
    school_id: Uuid,
    name: ReportName,
    p: &ReportParams,
) -> ApiResult<ReportTable> {
    let currency: String = schools::table
        .find(school_id)
        .select(schools::currency)
        .first(conn)?;
    let (title, rows) = match name {
        ReportName::TrialBalance => trial_balance(conn, school_id, p)?,
        ReportName::Dues => dues(conn, school_id, p)?,
        ReportName::Collections => collections(conn, school_id, p)?,
        ReportName::Income => income(conn, school_id, p)?,
        ReportName::Defaulters => defaulters(conn, school_id, p)?,
        ReportName::ZeroActivity => zero_activity(conn, school_id, p)?,
        ReportName::FamilyStatement => family_statement(conn, school_id, p)?,
    };
    let columns = name.columns(p.group);
    let totals = name.has_totals().then(|| totals(&columns, &rows, "Total"));
    Ok(ReportTable {
        report: name.as_str().into(),
        title,
        currency,
        columns,
        rows,
        totals,
    })
}

/// A report's title and rows (its columns come from [`ReportName::columns`]).
type Built = (String, Vec<Vec<ReportCell>>);

#[derive(QueryableByName)]
struct TbRow {
    #[diesel(sql_type = Text)]
    code: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Numeric)]
    balance: Sum128,
}

fn trial_balance(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let rows: Vec<TbRow> = diesel::sql_query(
        "SELECT a.code, a.name, a.kind, COALESCE(sum(l.amount) FILTER (WHERE e.occurred_on <= $2), 0)::numeric AS balance
         FROM accounts a
         LEFT JOIN journal_lines l ON l.school_id = a.school_id AND l.account_id = a.id
         LEFT JOIN journal_entries e ON e.school_id = l.school_id AND e.id = l.entry_id
         WHERE a.school_id = $1
         GROUP BY a.code, a.name, a.kind ORDER BY a.code",
    )
    .bind::<SqlUuid, _>(school_id)
    .bind::<Date, _>(p.as_of)
    .load(conn)?;
    let rows = rows
        .into_iter()
        .map(|r| {
            vec![
                text(r.code),
                text(r.name),
                text(r.kind),
                int(r.balance.0.max(0)),
                int((-r.balance.0).max(0)),
            ]
        })
        .collect();
    Ok((format!("Trial balance as of {}", p.as_of), rows))
}

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = Text)]
    group_key: String,
    #[diesel(sql_type = Text)]
    group_name: String,
    #[diesel(sql_type = Date)]
    due_on: NaiveDate,
    #[diesel(sql_type = Numeric)]
    outstanding: Sum128,
}

/// Open invoice lines with their outstanding amount (SQL fragment shared by dues and
/// defaulters): one row per line, `outstanding > 0`, as `numeric`.
const OPEN_LINES: &str = "
    SELECT il.school_id, il.id, il.due_on, i.family_id, i.student_id,
           il.amount::numeric - COALESCE((SELECT sum(a.amount) FROM allocations a
               WHERE a.school_id = il.school_id AND a.invoice_line_id = il.id
                 AND NOT EXISTS (SELECT 1 FROM journal_entries r
                                 WHERE r.school_id = a.school_id AND r.reverses_entry_id = a.journal_entry_id)), 0) AS outstanding
    FROM invoice_lines il JOIN invoices i ON i.school_id = il.school_id AND i.id = il.invoice_id
    WHERE il.school_id = $1";

fn dues(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let (key, name) = match p.group {
        DuesGroup::Family => ("o.family_id::text", "f.name"),
        DuesGroup::Student => (
            "o.student_id::text",
            "s.admission_no || ' ' || s.given_name || ' ' || s.family_name",
        ),
        DuesGroup::Class => ("COALESCE(c.id::text, '')", "COALESCE(c.name, '(no class)')"),
    };
    let sql = format!(
        "WITH o AS ({OPEN_LINES})
         SELECT {key} AS group_key, {name} AS group_name, o.due_on, o.outstanding
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
    let mut groups: std::collections::BTreeMap<(String, String), [i128; 5]> =
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
        let cell = &mut groups.entry((l.group_name, l.group_key)).or_default()[bucket];
        *cell = cell.saturating_add(l.outstanding.0);
    }
    let rows = groups
        .into_iter()
        .map(|((name, _), b)| {
            let mut row = vec![text(name)];
            row.extend(b.iter().map(|v| int(*v)));
            row.push(int(b.iter().fold(0i128, |a, v| a.saturating_add(*v))));
            row
        })
        .collect();
    Ok((
        format!("Dues by {} as of {}", p.group.as_str(), p.as_of),
        rows,
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
    #[diesel(sql_type = Numeric)]
    collected: Sum128,
    #[diesel(sql_type = Numeric)]
    reversed: Sum128,
}

fn collections(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let rows: Vec<CollectionRow> = diesel::sql_query(
        "WITH moves AS (
            SELECT e.occurred_on AS day, p.received_by, p.method, 1 AS receipts, p.amount AS collected, 0::bigint AS reversed
            FROM payments p JOIN journal_entries e ON e.school_id = p.school_id AND e.id = p.journal_entry_id
            WHERE p.school_id = $1
            UNION ALL
            SELECT e.occurred_on, p.received_by, p.method, 0, 0::bigint, p.amount
            FROM payment_reversals r
            JOIN payments p ON p.school_id = r.school_id AND p.id = r.payment_id
            JOIN journal_entries e ON e.school_id = r.school_id AND e.id = r.journal_entry_id
            WHERE r.school_id = $1)
         SELECT m.day, COALESCE(u.display_name, '(system)') AS cashier, m.method,
                sum(m.receipts)::bigint AS receipts, sum(m.collected)::numeric AS collected, sum(m.reversed)::numeric AS reversed
         FROM moves m LEFT JOIN users u ON u.school_id = $1 AND u.id = m.received_by
         WHERE m.day BETWEEN $2 AND $3
         GROUP BY m.day, cashier, m.method ORDER BY m.day, cashier, m.method",
    )
    .bind::<SqlUuid, _>(school_id)
    .bind::<Date, _>(p.from)
    .bind::<Date, _>(p.to)
    .load(conn)?;
    let rows = rows
        .into_iter()
        .map(|r| {
            vec![
                text(r.day.to_string()),
                text(r.cashier),
                text(r.method),
                int(r.receipts),
                int(r.collected.0),
                int(r.reversed.0),
                int(r.collected.0 - r.reversed.0),
            ]
        })
        .collect();
    Ok((format!("Collections {} to {}", p.from, p.to), rows))
}

fn income(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let rows: Vec<TbRow> = diesel::sql_query(
        "SELECT a.code, a.name, a.kind, COALESCE(-sum(l.amount), 0)::numeric AS balance
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
    let rows = rows
        .into_iter()
        .map(|r| vec![text(r.code), text(r.name), int(r.balance.0)])
        .collect();
    Ok((format!("Income by fee head {} to {}", p.from, p.to), rows))
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
    #[diesel(sql_type = Numeric)]
    overdue: Sum128,
    #[diesel(sql_type = Numeric)]
    total: Sum128,
}

fn defaulters(conn: &mut PgConnection, school_id: Uuid, p: &ReportParams) -> ApiResult<Built> {
    let cutoff = p
        .as_of
        .checked_sub_days(chrono::Days::new(p.min_days.max(0).unsigned_abs()))
        .ok_or_else(|| ApiError::validation("min_days", "reaches before the calendar begins"))?;
    let sql = format!(
        "WITH o AS ({OPEN_LINES})
         SELECT f.name AS family,
                COALESCE((SELECT string_agg(g.phone, ', ' ORDER BY g.phone) FROM guardians g
                          WHERE g.school_id = f.school_id AND g.family_id = f.id AND g.active AND g.phone IS NOT NULL), '') AS phones,
                count(DISTINCT o.student_id)::bigint AS students,
                min(o.due_on) AS oldest_due,
                COALESCE(sum(o.outstanding) FILTER (WHERE o.due_on <= $2), 0) AS overdue,
                sum(o.outstanding) AS total
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
    let rows = rows
        .into_iter()
        .map(|r| {
            vec![
                text(r.family),
                text(r.phones),
                int(r.students),
                text(r.oldest_due.to_string()),
                int(r.overdue.0),
                int(r.total.0),
            ]
        })
        .collect();
    Ok((
        format!(
            "Defaulters: more than {} days overdue as of {}",
            p.min_days, p.as_of
        ),
        rows,
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
        rows,
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
    let rows = st
        .lines
        .into_iter()
        .map(|l| {
            vec![
                int(l.entry_no),
                text(l.occurred_on.to_string()),
                text(l.kind),
                text(l.memo),
                int(l.debit),
                int(l.credit),
                int(l.balance),
            ]
        })
        .collect();
    Ok((format!("Statement of account: {name}"), rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Column totals are the exact i128 sums of the cells, at and past `i64`'s bounds.
        #[test]
        fn totals_are_exact_at_the_bounds(
            cells in proptest::collection::vec(
                prop_oneof![Just(i64::MAX), Just(i64::MIN), any::<i64>()], 0..200)
        ) {
            let columns = ReportName::Income.columns(DuesGroup::Family);
            let rows: Vec<Vec<ReportCell>> = cells
                .iter()
                .map(|v| vec![text("4000"), text("Tuition"), int(*v)])
                .collect();
            let t = totals(&columns, &rows, "Total");
            let exact: i128 = cells.iter().map(|v| i128::from(*v)).sum();
            prop_assert_eq!(&t[2], &ReportCell::Int(exact));
            prop_assert_eq!(&t[0], &text("Total"));
        }
    }

    #[test]
    fn every_report_schema_names_each_column() {
        for name in ReportName::ALL {
            let schema = openapi_schema(name);
            let columns = name.columns(DuesGroup::Family);
            let cols = &schema["properties"]["columns"];
            assert_eq!(cols["maxItems"], columns.len());
            let keys = cols["items"]["properties"]["key"]["enum"]
                .as_array()
                .expect("keys");
            for c in &columns {
                assert!(
                    keys.contains(&serde_json::Value::from(c.key.clone())),
                    "{}",
                    c.key
                );
            }
            assert_eq!(schema["properties"]["report"]["enum"][0], name.as_str());
        }
    }
}
