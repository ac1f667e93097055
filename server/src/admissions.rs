//! Spreadsheet admissions (issue #17, item 2): students, guardians and families from an
//! `.xlsx`, `.ods` or `.csv` sheet, through `POST /api/v1/imports/admissions` and
//! `daftar-server import-admissions` (ARCHITECTURE.md §11).
//!
//! A run reads one sheet ([`sheet`]), finds each field's column by the school's remembered
//! mapping or the template header ([`plan::resolve_columns`]), and plans every row against the
//! school's roster ([`plan::plan`]): new, updated, unchanged or error, with errors naming sheet,
//! row and column. A dry run returns that preview and writes nothing; a commit writes it all in
//! the caller's transaction ([`write`]) and is refused while any row has an error. The import is
//! idempotent by admission number: running the same file again reports every row unchanged.
//! Siblings are grouped into one family by the family key column, else by a shared guardian
//! phone; a group whose student or guardian phone is already in the school joins that family.
//! An empty cell never clears a stored value.

pub mod handlers;
pub mod plan;
pub mod sheet;
pub mod template;
pub mod write;

use daftar_client_core::protocol::{AdmissionsMapping, AdmissionsPreview};
use diesel::prelude::*;
use uuid::Uuid;

use crate::audit::Actor;
use crate::schema::admission_import_mappings;
pub use sheet::Format;

/// Why an import did not run or was not written.
#[derive(Debug, thiserror::Error)]
pub enum AdmissionsFailure {
    /// The file cannot be read, or has no admission number column; names file and sheet.
    #[error("{0}")]
    Unreadable(String),
    /// A commit of a file with row errors; nothing was written. Boxed: the full preview.
    #[error("{}", summary(.0))]
    HasErrors(Box<AdmissionsPreview>),
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
}

/// "N rows have errors; the first: …" for a preview with errors.
fn summary(p: &AdmissionsPreview) -> String {
    let first = p.rows.iter().flat_map(|r| r.errors.iter()).next();
    match first {
        Some(e) => format!(
            "{} row(s) have errors and nothing was written; the first: sheet {}, row {}, column {} ({}): {}",
            p.counts.error, e.sheet, e.row, e.column, e.header, e.message
        ),
        None => "the file has errors and nothing was written".into(),
    }
}

/// One run's input.
#[derive(Debug, Clone)]
pub struct AdmissionsRun<'a> {
    pub school_id: Uuid,
    pub actor: Actor,
    pub bytes: &'a [u8],
    pub format: Format,
    pub file_name: &'a str,
    pub sheet: Option<&'a str>,
    pub group_by_phone: bool,
    /// Write (in the caller's transaction) instead of only previewing.
    pub commit: bool,
}

/// The school's remembered column mapping (empty when it has none).
pub fn mapping(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<AdmissionsMapping> {
    let stored: Option<serde_json::Value> = admission_import_mappings::table
        .find(school_id)
        .select(admission_import_mappings::headers)
        .first(conn)
        .optional()?;
    Ok(AdmissionsMapping {
        columns: stored
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default(),
    })
}

/// Remembers `mapping` for the school (replacing the last one). The caller validates it
/// ([`handlers::checked_mapping`]).
pub fn save_mapping(
    conn: &mut PgConnection,
    school_id: Uuid,
    mapping: &AdmissionsMapping,
) -> QueryResult<()> {
    let columns = serde_json::to_value(&mapping.columns)
        .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
    diesel::insert_into(admission_import_mappings::table)
        .values((
            admission_import_mappings::school_id.eq(school_id),
            admission_import_mappings::headers.eq(&columns),
            admission_import_mappings::updated_at.eq(chrono::Utc::now()),
        ))
        .on_conflict(admission_import_mappings::school_id)
        .do_update()
        .set((
            admission_import_mappings::headers.eq(&columns),
            admission_import_mappings::updated_at.eq(chrono::Utc::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Reads, plans and (with `commit`) writes one file. Call a commit inside a transaction: on
/// error the caller rolls back and nothing is written.
///
/// Errors: [`AdmissionsFailure::Unreadable`] (not a spreadsheet of its format, no such sheet,
/// no admission number column, a mapped header missing); [`AdmissionsFailure::HasErrors`] for
/// a commit with row errors; [`AdmissionsFailure::Database`].
pub fn run(
    conn: &mut PgConnection,
    input: &AdmissionsRun<'_>,
) -> Result<AdmissionsPreview, AdmissionsFailure> {
    let sheet = sheet::read(input.bytes, input.format, input.sheet, input.file_name)
        .map_err(|e| AdmissionsFailure::Unreadable(e.0))?;
    let mapping = mapping(conn, input.school_id)?;
    let columns = plan::resolve_columns(&sheet.headers, &mapping, &sheet.name)
        .map_err(|e| AdmissionsFailure::Unreadable(format!("{}, {e}", input.file_name)))?;
    let school = crate::roster::repo::school(conn, input.school_id)?;
    let today = crate::calendar::local_date_in(&school.timezone, chrono::Utc::now());
    let roster = plan::Roster::load(conn, input.school_id)?;
    let plan = plan::plan(
        sheet,
        &columns,
        &roster,
        &plan::PlanOptions {
            school_id: input.school_id,
            format: input.format.extension(),
            group_by_phone: input.group_by_phone,
            today,
        },
    );
    // What the commit does not need is freed before it writes (the server's peak memory).
    drop(roster);
    let mut preview = plan.preview;
    if !input.commit {
        return Ok(preview);
    }
    if preview.counts.error > 0 {
        return Err(AdmissionsFailure::HasErrors(Box::new(preview)));
    }
    write::write(
        conn,
        input.school_id,
        input.actor,
        &plan.writes,
        &preview,
        input.file_name,
    )?;
    preview.committed = true;
    Ok(preview)
}
