//! The OneRoster → Daftar mapping. Runs inside the caller's transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use daftar_client_core::protocol::{ImportReport, ImportWarning};
use diesel::prelude::*;
use uuid::Uuid;

use super::csv_source::{ImportError, RosterFiles, Row};
use crate::audit::{Actor, AuditEntry};
use crate::db::StatisticsRefresh;
use crate::roster::models::*;
use crate::schema::{
    academic_years, class_teachers, classes, enrollments, families, guardians, schools,
    student_guardians, students, terms, users,
};
use crate::tenancy::{SchoolRow, UserRow};
use crate::validate;

/// Why an import failed: bad input (named file/line/column) or the database.
#[derive(Debug, thiserror::Error)]
pub enum ImportFailure {
    #[error(transparent)]
    Invalid(#[from] ImportError),
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
}

/// Where to import and how to create a school that does not exist yet.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Import into this school (the HTTP endpoint: the caller's school). Its `sourced_id` must
    /// be unset or equal the export's school org. `None` (CLI): find the school by the org's
    /// `sourcedId`, creating it if new.
    pub school_id: Option<Uuid>,
    /// ISO 4217 currency of a newly created school.
    pub currency: String,
    /// IANA time zone of a newly created school.
    pub timezone: String,
    pub actor: Actor,
}

/// Files this importer reads; any other `file.*` key in the manifest is only checked.
const MANIFEST_FILES: [&str; 13] = [
    "academicSessions",
    "categories",
    "classes",
    "classResources",
    "courses",
    "courseResources",
    "demographics",
    "enrollments",
    "lineItems",
    "orgs",
    "resources",
    "results",
    "users",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Inserted,
    Updated,
    Unchanged,
}

impl Change {
    fn counts(self) -> u64 {
        u64::from(self != Change::Unchanged)
    }
}

/// Inserts `desired` or, when a row with its `sourced_id` exists, updates it only if a field
/// other than those listed in `keep` (copied from the stored row) differs. Inserts are counted
/// in `cx.stats` (planner statistics of a new school, see [`StatisticsRefresh`]).
macro_rules! upsert {
    ($conn:expr, $cx:expr, $table:ident, $Row:ty, $desired:expr, $lookup:expr, keep = [$($keep:ident),*]) => {{
        let desired: $Row = $desired;
        let existing: Option<$Row> = $lookup
            .select(<$Row>::as_select())
            .first::<$Row>($conn)
            .optional()?;
        match existing {
            None => {
                diesel::insert_into($table::table).values(&desired).execute($conn)?;
                $cx.stats.wrote($conn, stringify!($table), 1);
                (Change::Inserted, desired)
            }
            Some(old) => {
                let mut new = desired;
                $( new.$keep = old.$keep.clone(); )*
                if new == old {
                    (Change::Unchanged, old)
                } else {
                    diesel::update($table::table.filter($table::school_id.eq(old.school_id)).filter($table::id.eq(old.id)))
                        .set(&new)
                        .execute($conn)?;
                    (Change::Updated, new)
                }
            }
        }
    }};
}

struct Ctx {
    school_id: Uuid,
    now: chrono::DateTime<Utc>,
    report: ImportReport,
    stats: StatisticsRefresh,
}

impl Ctx {
    fn warn(&mut self, row: &Row, message: impl Into<String>) {
        self.report.warnings.push(ImportWarning {
            file: row.file.clone(),
            line: row.line,
            message: message.into(),
        });
    }
}

/// Imports `files`. Call inside a transaction: on error the caller rolls everything back.
///
/// Errors: [`ImportFailure::Invalid`] naming file/line/column for input that cannot be
/// imported (missing manifest or required file/column, malformed CSV, bad date, unknown role,
/// reference to a class/user/term that does not exist, a school other than the caller's);
/// [`ImportFailure::Database`] otherwise.
pub fn import(
    conn: &mut PgConnection,
    files: &RosterFiles,
    options: &ImportOptions,
) -> Result<ImportReport, ImportFailure> {
    let mut warnings = Vec::new();
    let modes = read_manifest(files, &mut warnings)?;
    let table = |name: &str, required: &[&str]| -> Result<Vec<Row>, ImportError> {
        let key = name.trim_end_matches(".csv");
        if modes.get(key).map(String::as_str) == Some("absent") {
            return Ok(Vec::new());
        }
        Ok(files
            .table(name, required)?
            .map(|t| t.rows)
            .unwrap_or_default())
    };

    let orgs = table("orgs.csv", &["sourcedId", "name", "type"])?;
    if orgs.is_empty() {
        return Err(ImportError::file(
            "orgs.csv",
            "is missing or has no rows; it must name the school",
        )
        .into());
    }
    let (school, school_change) = resolve_school(conn, &orgs, options)?;
    let ours = orgs_of_school(&orgs, school.sourced_id.as_deref().unwrap_or_default())?;
    let mut cx = Ctx {
        school_id: school.id,
        now: Utc::now(),
        report: ImportReport {
            school_id: school.id,
            schools: school_change.counts(),
            warnings,
            ..ImportReport::default()
        },
        stats: StatisticsRefresh::new(school.id),
    };
    let org_id = school.sourced_id.clone().unwrap_or_default();

    let sessions = table(
        "academicSessions.csv",
        &["sourcedId", "title", "type", "startDate", "endDate"],
    )?;
    let term_ids = import_sessions(conn, &mut cx, &sessions)?;

    let mut course_grades: HashMap<String, String> = HashMap::new();
    for row in table("courses.csv", &["sourcedId", "title"])? {
        course_grades.insert(
            row.get("sourcedId").to_string(),
            row.list("grades").into_iter().next().unwrap_or_default(),
        );
    }
    let classes_rows = table(
        "classes.csv",
        &[
            "sourcedId",
            "title",
            "courseSourcedId",
            "schoolSourcedId",
            "termSourcedIds",
        ],
    )?;
    let (class_ids, set_aside) = import_classes(
        conn,
        &mut cx,
        &classes_rows,
        &ours,
        &term_ids,
        &course_grades,
    )?;

    let users_rows = table(
        "users.csv",
        &["sourcedId", "role", "username", "givenName", "familyName"],
    )?;
    let enrollment_rows = table(
        "enrollments.csv",
        &["sourcedId", "classSourcedId", "userSourcedId", "role"],
    )?;
    let people = import_users(conn, &mut cx, &users_rows, &enrollment_rows, &ours)?;
    import_enrollments(
        conn,
        &mut cx,
        &enrollment_rows,
        &class_ids,
        &set_aside,
        &people,
    )?;

    let summary = serde_json::json!({
        "schools": cx.report.schools, "terms": cx.report.terms, "classes": cx.report.classes,
        "users": cx.report.users, "enrollments": cx.report.enrollments,
        "deactivated": cx.report.deactivated, "warnings": cx.report.warnings.len(),
    });
    AuditEntry::new(cx.school_id, options.actor, "oneroster_import", &org_id).event(
        conn,
        "import",
        Some(&summary),
    )?;
    Ok(cx.report)
}

mod classes_csv;
mod enrollments_csv;
mod manifest_csv;
mod orgs_csv;
mod sessions_csv;
mod users_csv;

use classes_csv::*;
use enrollments_csv::*;
use manifest_csv::*;
use orgs_csv::*;
use sessions_csv::*;
use users_csv::*;
