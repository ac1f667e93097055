//! Ledger queries. All scoped by `school_id`; all return `QueryResult`.

use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Integer, Text, Uuid as SqlUuid};
use uuid::Uuid;

use super::models::*;
use crate::schema::{
    accounts, allocations, fee_heads, journal_entries, journal_lines, receipt_series,
    school_counters,
};
use daftar_client_core::ledger::SystemAccount;

/// Seeds the chart of accounts if it is not there yet (idempotent).
pub fn ensure_chart(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<()> {
    let now = Utc::now();
    let rows: Vec<AccountRow> = SystemAccount::ALL
        .iter()
        .map(|a| a.chart())
        .map(|(code, name, kind, key)| AccountRow {
            school_id,
            id: Uuid::now_v7(),
            code: code.into(),
            name: name.into(),
            kind: kind.into(),
            system_key: Some(key.into()),
            active: true,
            created_at: now,
        })
        .collect();
    diesel::insert_into(accounts::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .map(|_| ())
}

/// The id of the school's `account`, seeding the chart on first use.
pub fn system_account(
    conn: &mut PgConnection,
    school_id: Uuid,
    account: SystemAccount,
) -> QueryResult<Uuid> {
    let find = |conn: &mut PgConnection| {
        accounts::table
            .filter(accounts::school_id.eq(school_id))
            .filter(accounts::system_key.eq(account.key()))
            .select(accounts::id)
            .first::<Uuid>(conn)
            .optional()
    };
    if let Some(id) = find(conn)? {
        return Ok(id);
    }
    ensure_chart(conn, school_id)?;
    find(conn)?.ok_or(diesel::result::Error::NotFound)
}

/// Next value of the school's gapless counter `name` (1, 2, 3 …); rolls back with the caller's
/// transaction.
pub fn next_counter(conn: &mut PgConnection, school_id: Uuid, name: &str) -> QueryResult<i64> {
    take_counter(conn, school_id, name, 1)
}

/// Takes the next `count` (≥ 1) values of the school's gapless counter `name` at once and
/// returns the first (the values are `first .. first + count`); rolls back with the caller's
/// transaction.
///
/// Bulk paths take their numbers here in one statement: every UPDATE of the counter row
/// leaves a row version that stays until the transaction ends, and each later UPDATE of it in
/// the same transaction walks past all of them, so numbering N rows one UPDATE at a time costs
/// O(N²) (a 32,000-invoice run: BENCHMARKS.md, "A new school's first import and invoice run").
pub fn take_counter(
    conn: &mut PgConnection,
    school_id: Uuid,
    name: &str,
    count: i64,
) -> QueryResult<i64> {
    let last: i64 = diesel::insert_into(school_counters::table)
        .values((
            school_counters::school_id.eq(school_id),
            school_counters::name.eq(name),
            school_counters::value.eq(count),
        ))
        .on_conflict((school_counters::school_id, school_counters::name))
        .do_update()
        .set(school_counters::value.eq(school_counters::value + count))
        .returning(school_counters::value)
        .get_result(conn)?;
    Ok(last - count + 1)
}

/// Next receipt number of `series`, formatted `SERIES-000123`; gapless within the series.
pub fn next_receipt_no(
    conn: &mut PgConnection,
    school_id: Uuid,
    series: &str,
) -> QueryResult<String> {
    let taken: i64 = diesel::insert_into(receipt_series::table)
        .values((
            receipt_series::school_id.eq(school_id),
            receipt_series::series.eq(series),
            receipt_series::next_no.eq(2i64),
        ))
        .on_conflict((receipt_series::school_id, receipt_series::series))
        .do_update()
        .set(receipt_series::next_no.eq(receipt_series::next_no + 1))
        .returning(receipt_series::next_no)
        .get_result::<i64>(conn)?
        - 1;
    Ok(receipt_no(series, taken))
}

/// Takes `count` consecutive numbers of `series` at once and returns the first one (the
/// numbers are `first .. first + count`); gapless within the series, like
/// [`next_receipt_no`], whose format [`receipt_no`] gives.
pub fn take_receipt_nos(
    conn: &mut PgConnection,
    school_id: Uuid,
    series: &str,
    count: i64,
) -> QueryResult<i64> {
    let next: i64 = diesel::insert_into(receipt_series::table)
        .values((
            receipt_series::school_id.eq(school_id),
            receipt_series::series.eq(series),
            receipt_series::next_no.eq(1 + count),
        ))
        .on_conflict((receipt_series::school_id, receipt_series::series))
        .do_update()
        .set(receipt_series::next_no.eq(receipt_series::next_no + count))
        .returning(receipt_series::next_no)
        .get_result(conn)?;
    Ok(next - count)
}

/// Receipt number `n` of `series` as printed: `SERIES-000123`.
pub fn receipt_no(series: &str, n: i64) -> String {
    format!("{series}-{n:06}")
}

/// One posting line before it is numbered: account, signed amount (debit > 0), and the
/// family/student it concerns.
#[derive(Debug, Clone, Copy)]
pub struct Posting {
    pub account_id: Uuid,
    pub amount: i64,
    pub family_id: Option<Uuid>,
    pub student_id: Option<Uuid>,
}

/// Who posts an entry and why.
#[derive(Debug, Clone)]
pub struct EntryHeader<'a> {
    pub kind: &'a str,
    pub occurred_on: NaiveDate,
    pub memo: String,
    pub reverses_entry_id: Option<Uuid>,
    pub posted_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
}

/// Posts one journal entry numbered from `journal_entry_no_seq` (unique, increasing, not
/// gapless). Zero-amount postings are dropped. The
/// database refuses the transaction at COMMIT unless the lines sum to zero.
pub fn post_entry(
    conn: &mut PgConnection,
    school_id: Uuid,
    header: &EntryHeader<'_>,
    postings: &[Posting],
) -> QueryResult<JournalEntryRow> {
    let entry_no = next_entry_nos(conn, 1)?
        .pop()
        .ok_or(diesel::result::Error::NotFound)?;
    let (entry, lines) = entry_rows(school_id, entry_no, header, postings);
    diesel::insert_into(journal_entries::table)
        .values(&entry)
        .execute(conn)?;
    diesel::insert_into(journal_lines::table)
        .values(&lines)
        .execute(conn)?;
    Ok(entry)
}

/// `count` numbers from `journal_entry_no_seq`, ascending, in one round trip.
pub fn next_entry_nos(conn: &mut PgConnection, count: usize) -> QueryResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct No {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    if count == 1 {
        // One number (every REST posting): a statement PostgreSQL keeps prepared.
        return Ok(vec![diesel::select(diesel::dsl::sql::<BigInt>(
            "nextval('journal_entry_no_seq')",
        ))
        .get_result(conn)?]);
    }
    let mut nos: Vec<i64> = diesel::sql_query(
        "SELECT nextval('journal_entry_no_seq') AS n FROM generate_series(1, $1)",
    )
    .bind::<Integer, _>(i32::try_from(count).unwrap_or(i32::MAX))
    .load::<No>(conn)?
    .into_iter()
    .map(|r| r.n)
    .collect();
    nos.sort_unstable();
    Ok(nos)
}

/// The rows of one journal entry numbered `entry_no`: its header and one line per non-zero
/// posting (line numbers from 1). Pure: [`post_entry`] and the batched payment path insert
/// what this returns, so both number and shape entries the same way.
pub fn entry_rows(
    school_id: Uuid,
    entry_no: i64,
    header: &EntryHeader<'_>,
    postings: &[Posting],
) -> (JournalEntryRow, Vec<JournalLineRow>) {
    let entry = JournalEntryRow {
        school_id,
        id: Uuid::now_v7(),
        entry_no,
        kind: header.kind.to_string(),
        occurred_on: header.occurred_on,
        memo: header.memo.clone(),
        reverses_entry_id: header.reverses_entry_id,
        posted_by: header.posted_by,
        device_id: header.device_id,
        posted_at: Utc::now(),
    };
    let lines: Vec<JournalLineRow> = postings
        .iter()
        .filter(|p| p.amount != 0)
        .enumerate()
        .map(|(i, p)| JournalLineRow {
            school_id,
            id: Uuid::now_v7(),
            entry_id: entry.id,
            line_no: i as i32 + 1,
            account_id: p.account_id,
            amount: p.amount,
            family_id: p.family_id,
            student_id: p.student_id,
        })
        .collect();
    (entry, lines)
}

/// Records which invoice lines an entry paid.
pub fn insert_allocations(
    conn: &mut PgConnection,
    school_id: Uuid,
    entry_id: Uuid,
    plan: &[(Uuid, i64)],
) -> QueryResult<()> {
    let rows: Vec<AllocationRow> = plan
        .iter()
        .map(|(line, amount)| AllocationRow {
            school_id,
            id: Uuid::now_v7(),
            journal_entry_id: entry_id,
            invoice_line_id: *line,
            amount: *amount,
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(allocations::table)
            .values(&rows)
            .execute(conn)?;
    }
    Ok(())
}

/// An invoice line of a family with its outstanding amount (amount − allocations of entries
/// that have not been reversed).
#[derive(Debug, Clone, QueryableByName)]
pub struct OpenLineRow {
    #[diesel(sql_type = SqlUuid)]
    pub invoice_line_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub invoice_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub invoice_no: i64,
    #[diesel(sql_type = Integer)]
    pub line_no: i32,
    #[diesel(sql_type = Date)]
    pub due_on: NaiveDate,
    #[diesel(sql_type = SqlUuid)]
    pub student_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub term_id: Uuid,
    #[diesel(sql_type = Date)]
    pub issued_on: NaiveDate,
    #[diesel(sql_type = Text)]
    pub description: String,
    #[diesel(sql_type = BigInt)]
    pub amount: i64,
    #[diesel(sql_type = BigInt)]
    pub outstanding: i64,
}

/// Every invoice line of `family_id` with its outstanding amount, in payment order
/// (due date, invoice number, line number).
pub fn family_invoice_lines(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
) -> QueryResult<Vec<OpenLineRow>> {
    diesel::sql_query(
        "SELECT il.id AS invoice_line_id, il.invoice_id, i.invoice_no, il.line_no, il.due_on,
                i.student_id, i.term_id, i.issued_on, il.description, il.amount,
                il.amount - COALESCE((
                    SELECT sum(a.amount) FROM allocations a
                    WHERE a.school_id = il.school_id AND a.invoice_line_id = il.id
                      AND NOT EXISTS (SELECT 1 FROM journal_entries r
                                      WHERE r.school_id = a.school_id AND r.reverses_entry_id = a.journal_entry_id)
                ), 0)::bigint AS outstanding
         FROM invoice_lines il
         JOIN invoices i ON i.school_id = il.school_id AND i.id = il.invoice_id
         WHERE il.school_id = $1 AND i.family_id = $2
         ORDER BY il.due_on, i.invoice_no, il.line_no, il.id",
    )
    .bind::<SqlUuid, _>(school_id)
    .bind::<SqlUuid, _>(family_id)
    .load(conn)
}

/// An [`OpenLineRow`] with the family whose invoice it is.
#[derive(Debug, Clone, QueryableByName)]
pub struct FamilyOpenLineRow {
    #[diesel(sql_type = SqlUuid)]
    pub family_id: Uuid,
    #[diesel(embed)]
    pub line: OpenLineRow,
}

/// [`family_invoice_lines`] for several families in one query: every invoice line of each of
/// `family_ids` with its outstanding amount, each family's lines in payment order.
pub fn families_invoice_lines(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_ids: &[Uuid],
) -> QueryResult<Vec<FamilyOpenLineRow>> {
    // A handful of families (a REST payment is one): one cheap query each. The set-wise query
    // below costs about 2 ms to plan, more than it saves for so few.
    if family_ids.len() <= 4 {
        let mut rows = Vec::new();
        for &family_id in family_ids {
            rows.extend(
                family_invoice_lines(conn, school_id, family_id)?
                    .into_iter()
                    .map(|line| FamilyOpenLineRow { family_id, line }),
            );
        }
        return Ok(rows);
    }
    // The same outstanding as [`family_invoice_lines`], computed set-wise: one pass over the
    // families' allocations with the school's reversed entries hashed once, instead of one
    // correlated probe per line (4-6x faster for a push batch's few hundred families).
    diesel::sql_query(
        "WITH fl AS MATERIALIZED (
             SELECT i.family_id, il.id AS invoice_line_id, il.invoice_id, i.invoice_no, il.line_no,
                    il.due_on, i.student_id, i.term_id, i.issued_on, il.description, il.amount
               FROM invoices i
               JOIN invoice_lines il ON il.school_id = i.school_id AND il.invoice_id = i.id
              WHERE i.school_id = $1 AND i.family_id = ANY($2)),
         paid AS (
             SELECT a.invoice_line_id, sum(a.amount) AS paid
               FROM allocations a
              WHERE a.school_id = $1
                AND a.invoice_line_id IN (SELECT invoice_line_id FROM fl)
                AND a.journal_entry_id NOT IN (
                    SELECT r.reverses_entry_id FROM journal_entries r
                     WHERE r.school_id = $1 AND r.reverses_entry_id IS NOT NULL)
              GROUP BY a.invoice_line_id)
         SELECT fl.family_id, fl.invoice_line_id, fl.invoice_id, fl.invoice_no, fl.line_no,
                fl.due_on, fl.student_id, fl.term_id, fl.issued_on, fl.description, fl.amount,
                (fl.amount - COALESCE(p.paid, 0))::bigint AS outstanding
           FROM fl LEFT JOIN paid p ON p.invoice_line_id = fl.invoice_line_id
          ORDER BY fl.family_id, fl.due_on, fl.invoice_no, fl.line_no, fl.invoice_line_id",
    )
    .bind::<SqlUuid, _>(school_id)
    .bind::<diesel::sql_types::Array<SqlUuid>, _>(family_ids)
    .load(conn)
}

/// The ids of the school's system accounts, seeding the chart on first use.
pub fn system_accounts(
    conn: &mut PgConnection,
    school_id: Uuid,
) -> QueryResult<std::collections::HashMap<SystemAccount, Uuid>> {
    let load = |conn: &mut PgConnection| {
        accounts::table
            .filter(accounts::school_id.eq(school_id))
            .filter(accounts::system_key.is_not_null())
            .select((accounts::system_key.assume_not_null(), accounts::id))
            .load::<(String, Uuid)>(conn)
    };
    let mut found = load(conn)?;
    if found.len() < SystemAccount::ALL.len() {
        ensure_chart(conn, school_id)?;
        found = load(conn)?;
    }
    Ok(found
        .into_iter()
        .filter_map(|(key, id)| SystemAccount::from_key(&key).map(|a| (a, id)))
        .collect())
}

/// Sum of the journal lines on account `account_id` for `family_id` (minor units, signed:
/// debit positive), summed in `numeric`.
///
/// Errors: a deserialization error holding [`crate::sums::AmountOutOfRange`] (422) when stored
/// amounts put it beyond `i64`.
pub fn family_account_balance(
    conn: &mut PgConnection,
    school_id: Uuid,
    account_id: Uuid,
    family_id: Uuid,
) -> QueryResult<i64> {
    journal_lines::table
        .filter(journal_lines::school_id.eq(school_id))
        .filter(journal_lines::account_id.eq(account_id))
        .filter(journal_lines::family_id.eq(family_id))
        .select(diesel::dsl::sql::<diesel::sql_types::Numeric>(
            "COALESCE(sum(amount), 0)",
        ))
        .first::<crate::sums::Sum64>(conn)
        .map(|s| s.0)
}

#[derive(QueryableByName)]
struct EntryId {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// The newest credit application of `family_id` that has not been reversed, if any.
pub fn latest_open_credit_application(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
) -> QueryResult<Option<Uuid>> {
    diesel::sql_query(
        "SELECT e.id FROM journal_entries e
         WHERE e.school_id = $1 AND e.kind = 'credit_application'
           AND EXISTS (SELECT 1 FROM journal_lines l
                       WHERE l.school_id = e.school_id AND l.entry_id = e.id AND l.family_id = $2)
           AND NOT EXISTS (SELECT 1 FROM journal_entries r
                           WHERE r.school_id = e.school_id AND r.reverses_entry_id = e.id)
         ORDER BY e.entry_no DESC LIMIT 1",
    )
    .bind::<SqlUuid, _>(school_id)
    .bind::<SqlUuid, _>(family_id)
    .get_result::<EntryId>(conn)
    .optional()
    .map(|r| r.map(|e| e.id))
}

/// Creates a fee head `name` with its own income account "Fee Income — <name>" (code 4001,
/// 4002, …).
pub fn create_fee_head(
    conn: &mut PgConnection,
    school_id: Uuid,
    id: Uuid,
    name: &str,
) -> QueryResult<FeeHeadRow> {
    ensure_chart(conn, school_id)?;
    let n = next_counter(conn, school_id, "fee_income_account")?;
    let now = Utc::now();
    let account = AccountRow {
        school_id,
        id: Uuid::now_v7(),
        code: format!("4{n:03}"),
        name: format!("Fee Income — {name}"),
        kind: "income".into(),
        system_key: None,
        active: true,
        created_at: now,
    };
    diesel::insert_into(accounts::table)
        .values(&account)
        .execute(conn)?;
    let row = FeeHeadRow {
        school_id,
        id,
        name: name.to_string(),
        income_account_id: account.id,
        active: true,
        created_at: now,
    };
    diesel::insert_into(fee_heads::table)
        .values(&row)
        .execute(conn)?;
    Ok(row)
}

/// The fee head called `name`, created (with its income account) if missing.
pub fn fee_head_named(
    conn: &mut PgConnection,
    school_id: Uuid,
    name: &str,
) -> QueryResult<FeeHeadRow> {
    let found = fee_heads::table
        .filter(fee_heads::school_id.eq(school_id))
        .filter(fee_heads::name.eq(name))
        .select(FeeHeadRow::as_select())
        .first(conn)
        .optional()?;
    match found {
        Some(h) => Ok(h),
        None => create_fee_head(conn, school_id, Uuid::now_v7(), name),
    }
}
