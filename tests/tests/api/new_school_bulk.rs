//! A new school's first bulk writes in a database that already holds other schools stay
//! linear in the school's size.
//!
//! Found with the REST bench (BENCHMARKS.md, "the stalled 100,000-student load"): for a school
//! the planner statistics have never seen, `school_id = $1` is estimated at about one row, so
//! the foreign-key checks PostgreSQL runs for every inserted row (`SELECT 1 FROM families WHERE
//! school_id = $1 AND id = $2 FOR KEY SHARE`) may pick any smaller index that starts with
//! `school_id` and filter on `id`; and plans cached while a table was tiny stay sequential
//! scans. Either way each row reads every row of the new school written so far, and a big
//! import or invoice run turns quadratic. The bulk paths refresh the statistics of the tables
//! they fill as they grow (`db::StatisticsRefresh`).
//!
//! The test counts rows read (PostgreSQL's own per-transaction counters,
//! `pg_stat_xact_user_tables`: sequential-scan rows plus rows fetched by index scans), not
//! time, for a new school of 300 students and one of 1,200: per row written, the bigger school
//! must not read more. Without the refresh it read 5.0× (import) and 4.7× (invoice run) as
//! many rows per row written as the smaller one; with it, 0.46× and 0.09×.

use daftar_server::audit::Actor;
use daftar_server::oneroster::import::ImportFailure;
use daftar_server::schema::schools;
use daftar_tests::bulk::{import_roster, oneroster_export, schedule_tuition, tuition_due};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use uuid::Uuid;

use super::*;

#[derive(QueryableByName, Debug)]
struct RowsRead {
    #[diesel(sql_type = Text)]
    table: String,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = BigInt)]
    index: i64,
}

/// Rows of each of `tables` read so far by this transaction: sequential-scan rows and rows
/// fetched by index scans, from `pg_stat_xact_user_tables`.
fn rows_read(conn: &mut PgConnection, tables: &[&str]) -> Vec<RowsRead> {
    let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    diesel::sql_query(
        "SELECT relname::text AS table, coalesce(seq_tup_read, 0)::int8 AS seq, \
                coalesce(idx_tup_fetch, 0)::int8 AS index \
         FROM pg_stat_xact_user_tables WHERE relname = ANY($1) ORDER BY relname",
    )
    .bind::<Array<Text>, _>(tables)
    .load(conn)
    .expect("pg_stat_xact_user_tables")
}

/// `after` less what was already read in `before`, table by table.
fn since(before: &[RowsRead], after: Vec<RowsRead>) -> Vec<RowsRead> {
    after
        .into_iter()
        .map(|mut r| {
            if let Some(b) = before.iter().find(|b| b.table == r.table) {
                r.seq -= b.seq;
                r.index -= b.index;
            }
            r
        })
        .collect()
}

fn total(read: &[RowsRead]) -> i64 {
    read.iter().map(|r| r.seq + r.index).sum()
}

/// A database where one school ("alpha": roster, a fee schedule, a term's invoices) is known
/// to the planner statistics, and autovacuum will not refresh them behind the test's back.
fn database_with_an_analysed_school() -> (TestDb, PgConnection) {
    let tdb = TestDb::new();
    let mut conn = tdb.conn();
    diesel::sql_query(
        "DO $$ DECLARE t text; BEGIN \
           FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP \
             EXECUTE format('ALTER TABLE %I SET (autovacuum_enabled = false)', t); \
           END LOOP; END $$",
    )
    .execute(&mut conn)
    .expect("autovacuum off");
    let alpha = conn
        .transaction::<_, ImportFailure, _>(|c| import_roster(c, &oneroster_export("alpha", 40)))
        .expect("alpha roster");
    invoice_the_term(&mut conn, alpha);
    diesel::sql_query("ANALYZE")
        .execute(&mut conn)
        .expect("analyze");
    (tdb, conn)
}

/// Schedules a tuition fee for every class of `school`'s term and issues the term's invoices
/// in one transaction; returns the invoices issued and the rows of the ledger tables the run
/// read.
fn invoice_the_term(conn: &mut PgConnection, school: Uuid) -> (usize, Vec<RowsRead>) {
    conn.transaction(|c| {
        let term = schedule_tuition(c, school)?;
        let before = rows_read(c, LEDGER_TABLES);
        let report = daftar_server::ledger::invoicing::issue_invoices(
            c,
            school,
            term,
            Actor::SYSTEM,
            tuition_due(),
        )
        .expect("issue invoices");
        Ok::<_, diesel::result::Error>((
            report.invoices_issued as usize,
            since(&before, rows_read(c, LEDGER_TABLES)),
        ))
    })
    .expect("invoice run")
}

const ROSTER_TABLES: &[&str] = &[
    "families",
    "students",
    "guardians",
    "student_guardians",
    "users",
    "classes",
    "enrollments",
    "class_teachers",
];

const LEDGER_TABLES: &[&str] = &[
    "families",
    "students",
    "journal_entries",
    "journal_lines",
    "invoices",
    "invoice_lines",
    "accounts",
];

/// Students of the smaller and of the four-times-bigger new school.
const SMALL: usize = 300;
const BIG: usize = 1_200;

/// Imports a new school's roster of `students` in one transaction and returns the school and
/// the rows of the roster tables read per row written (students, guardians, families,
/// logins, links and enrollments: about three rows per student).
fn import_new_school(conn: &mut PgConnection, org: &str, students: usize) -> (Uuid, f64) {
    let (school, read) = conn
        .transaction(|c| {
            let school = import_roster(c, &oneroster_export(org, students))?;
            Ok::<_, ImportFailure>((school, rows_read(c, ROSTER_TABLES)))
        })
        .expect("roster import");
    let per_row = total(&read) as f64 / (students * 3) as f64;
    eprintln!("{org}: roster import of {students} students: {per_row:.1} rows read per row written: {read:?}");
    (school, per_row)
}

/// Issues the term's invoices of a school with `students` students and returns the rows of
/// the ledger tables read per row written (an entry, its two lines, the invoice and its line).
fn invoice_new_school(conn: &mut PgConnection, org: &str, school: Uuid, students: usize) -> f64 {
    let (invoices, read) = invoice_the_term(conn, school);
    assert_eq!(invoices, students);
    // Numbered 1..=n, gapless, in the school's own series.
    let numbers: Vec<i64> = daftar_server::schema::invoices::table
        .filter(daftar_server::schema::invoices::school_id.eq(school))
        .select(daftar_server::schema::invoices::invoice_no)
        .order(daftar_server::schema::invoices::invoice_no)
        .load(conn)
        .expect("invoice numbers");
    assert_eq!(numbers, (1..=students as i64).collect::<Vec<_>>());
    let per_row = total(&read) as f64 / (invoices * 5) as f64;
    eprintln!("{org}: invoice run of {invoices} invoices: {per_row:.1} rows read per row written: {read:?}");
    per_row
}

/// The cost of a bulk write per row must not grow with the new school's size. It may fall
/// (fixed costs spread over more rows) or wobble (the planner switching from sequential scans
/// of tiny tables to index scans at slightly different sizes); a quadratic path makes the
/// bigger school read about four times as many rows per row written.
const GROWTH_ALLOWED: f64 = 1.3;

#[test]
fn a_new_schools_first_roster_import_and_invoice_run_stay_linear() {
    let (_tdb, mut conn) = database_with_an_analysed_school();

    let (beta, small_import) = import_new_school(&mut conn, "beta", SMALL);
    let (gamma, big_import) = import_new_school(&mut conn, "gamma", BIG);
    assert!(
        big_import <= small_import * GROWTH_ALLOWED,
        "roster import: {big_import:.1} rows read per row written at {BIG} students, \
         {small_import:.1} at {SMALL}"
    );

    let small_run = invoice_new_school(&mut conn, "beta", beta, SMALL);
    let big_run = invoice_new_school(&mut conn, "gamma", gamma, BIG);
    assert!(
        big_run <= small_run * GROWTH_ALLOWED,
        "invoice run: {big_run:.1} rows read per row written at {BIG} students, \
         {small_run:.1} at {SMALL}"
    );
    let known: i64 = schools::table.count().get_result(&mut conn).expect("count");
    assert_eq!(known, 3);
}
