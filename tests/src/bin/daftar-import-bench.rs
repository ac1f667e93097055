//! Benchmark of a new school's first bulk writes in a database that already holds another
//! school the planner statistics know (BENCHMARKS.md, "A new school's first import and invoice
//! run"): for each size, a new school's OneRoster import (one transaction, as the CLI and
//! `POST /api/v1/imports/oneroster` run it) and then its first term's invoice run (one
//! transaction, as `POST /api/v1/terms/{id}/invoices` runs it), timed, on an embedded durable
//! PostgreSQL (fsync and synchronous commit on).
//!
//! Linear paths show a flat time per student across sizes; the quadratic plans this guards
//! against (see `daftar_server::db::StatisticsRefresh`) show it growing with the size.

use std::time::Instant;

use clap::Parser;
use daftar_server::audit::Actor;
use daftar_server::ledger::invoicing::issue_invoices;
use daftar_server::oneroster::import::ImportFailure;
use daftar_tests::bulk::{
    bench_database, import_roster, oneroster_export, schedule_tuition, tuition_due,
};
use diesel::prelude::*;

#[derive(Parser)]
#[command(about = "Times a new school's first roster import and invoice run at several sizes")]
struct Args {
    /// Students of each new school, one school per value, in this order.
    #[arg(long, value_delimiter = ',', default_value = "2000,8000,32000")]
    students: Vec<usize>,
    /// Students of the school known to the statistics before the new ones arrive.
    #[arg(long, default_value_t = 40)]
    first_school: usize,
    /// Use this PostgreSQL database (superuser URL) instead of an embedded cluster.
    #[arg(long)]
    database_url: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bench = bench_database("daftar-import-bench-", args.database_url.as_deref())?;
    let mut conn = PgConnection::establish(&bench.url)?;

    // The school the statistics know: roster and a term's invoices, then ANALYZE (what
    // autovacuum would have done by the time a second school arrives).
    let first = conn.transaction::<_, ImportFailure, _>(|c| {
        import_roster(c, &oneroster_export("first", args.first_school))
    })?;
    invoice(&mut conn, first)?;
    diesel::sql_query("ANALYZE").execute(&mut conn)?;

    println!("| new school (students) | import (s) | import (µs/student) | invoice run (s) | invoice run (µs/invoice) |");
    println!("|---:|---:|---:|---:|---:|");
    for (i, &students) in args.students.iter().enumerate() {
        let files = oneroster_export(&format!("school{i}"), students);
        let started = Instant::now();
        let school = conn.transaction::<_, ImportFailure, _>(|c| import_roster(c, &files))?;
        let import_s = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let invoices = invoice(&mut conn, school)?;
        let invoice_s = started.elapsed().as_secs_f64();
        anyhow::ensure!(invoices == students as u64, "{invoices} invoices issued");
        println!(
            "| {students} | {import_s:.1} | {:.0} | {invoice_s:.1} | {:.0} |",
            import_s * 1e6 / students as f64,
            invoice_s * 1e6 / students as f64
        );
    }
    Ok(())
}

/// Schedules tuition for `school`'s term and issues the term's invoices in one transaction;
/// returns the invoices issued.
fn invoice(conn: &mut PgConnection, school: uuid::Uuid) -> anyhow::Result<u64> {
    conn.transaction(|c| {
        let term = schedule_tuition(c, school)?;
        let report = issue_invoices(c, school, term, Actor::SYSTEM, tuition_due())
            .map_err(|e| anyhow::anyhow!("issuing invoices: {e:?}"))?;
        Ok(report.invoices_issued)
    })
}
