//! Writing a plan: multi-row INSERTs of 1,000 rows, UPDATEs of the changed rows, one audit
//! row per created or changed row (batched) and one `admissions_import` event. Runs inside
//! the caller's transaction.

use daftar_client_core::protocol::AdmissionsPreview;
use diesel::prelude::*;

use super::plan::Writes;
use crate::audit::{self, Actor, AuditEntry, NewAuditRow};
use crate::db::StatisticsRefresh;
use crate::schema::{enrollments, families, guardians, student_guardians, students};

const CHUNK: usize = 1000;

macro_rules! insert_chunks {
    ($conn:expr, $stats:expr, $table:ident, $rows:expr) => {
        for chunk in $rows.chunks(CHUNK) {
            diesel::insert_into($table::table)
                .values(chunk)
                .execute($conn)?;
            $stats.wrote($conn, stringify!($table), chunk.len() as u64);
        }
    };
}

/// Writes `writes` for `actor` and records the import's summary (`file` and the counts of
/// `preview`) as an `admissions_import` audit event on the school.
pub fn write(
    conn: &mut PgConnection,
    school_id: uuid::Uuid,
    actor: Actor,
    writes: &Writes,
    preview: &AdmissionsPreview,
    file: &str,
) -> QueryResult<()> {
    let mut stats = StatisticsRefresh::new(school_id);
    let mut log = AuditBuffer::default();

    insert_chunks!(conn, stats, families, writes.families);
    for f in &writes.families {
        log.push(
            conn,
            AuditEntry::new(school_id, actor, "family", f.id).created_row(f)?,
        )?;
    }
    insert_chunks!(conn, stats, students, writes.students);
    for s in &writes.students {
        log.push(
            conn,
            AuditEntry::new(school_id, actor, "student", s.id).created_row(s)?,
        )?;
    }
    for (before, after) in &writes.student_updates {
        diesel::update(students::table.find((school_id, after.id)))
            .set(after)
            .execute(conn)?;
        log.push(
            conn,
            AuditEntry::new(school_id, actor, "student", after.id).updated_row(before, after)?,
        )?;
    }
    insert_chunks!(conn, stats, guardians, writes.guardians);
    for g in &writes.guardians {
        log.push(
            conn,
            AuditEntry::new(school_id, actor, "guardian", g.id).created_row(g)?,
        )?;
    }
    for (before, after) in &writes.guardian_updates {
        diesel::update(guardians::table.find((school_id, after.id)))
            .set(after)
            .execute(conn)?;
        log.push(
            conn,
            AuditEntry::new(school_id, actor, "guardian", after.id).updated_row(before, after)?,
        )?;
    }
    insert_chunks!(conn, stats, student_guardians, writes.links);
    for l in &writes.links {
        log.push(
            conn,
            AuditEntry::new(school_id, actor, "student_guardian", l.student_id).created_row(
                &serde_json::json!({ "student_id": l.student_id, "guardian_id": l.guardian_id }),
            )?,
        )?;
    }
    for ended in &writes.ended_enrolments {
        diesel::update(enrollments::table.find((school_id, ended.id)))
            .set((
                enrollments::active.eq(false),
                enrollments::ends_on.eq(ended.ends_on),
            ))
            .execute(conn)?;
        log.push(
            conn,
            AuditEntry::new(school_id, actor, "enrollment", ended.id).event_row(
                "end",
                Some(&serde_json::json!({ "ends_on": ended.ends_on })),
            )?,
        )?;
    }
    insert_chunks!(conn, stats, enrollments, writes.enrolments);
    for e in &writes.enrolments {
        log.push(
            conn,
            AuditEntry::new(school_id, actor, "enrollment", e.id).created_row(
                &serde_json::json!({ "class_id": e.class_id, "student_id": e.student_id }),
            )?,
        )?;
    }
    log.push(
        conn,
        AuditEntry::new(school_id, actor, "school", school_id).event_row(
            "admissions_import",
            Some(&serde_json::json!({
                "file": file,
                "sheet": preview.sheet,
                "counts": preview.counts,
            })),
        )?,
    )?;
    log.flush(conn)
}

/// Audit rows written 1,000 at a time as they are made: holding a 50,000-student import's
/// ~200,000 JSON images at once took the server past 700 MB (BENCHMARKS.md).
#[derive(Default)]
struct AuditBuffer {
    rows: Vec<NewAuditRow>,
}

impl AuditBuffer {
    fn push(&mut self, conn: &mut PgConnection, row: NewAuditRow) -> QueryResult<()> {
        self.rows.push(row);
        if self.rows.len() >= CHUNK {
            self.flush(conn)?;
        }
        Ok(())
    }

    fn flush(&mut self, conn: &mut PgConnection) -> QueryResult<()> {
        audit::insert_all(conn, &self.rows)?;
        self.rows.clear();
        Ok(())
    }
}
