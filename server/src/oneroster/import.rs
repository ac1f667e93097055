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

/// Checks `manifest.csv` and returns `file.<name>` → mode (`bulk`, `delta`, `absent`).
fn read_manifest(
    files: &RosterFiles,
    warnings: &mut Vec<ImportWarning>,
) -> Result<BTreeMap<String, String>, ImportError> {
    let manifest = files
        .table("manifest.csv", &["propertyName", "value"])?
        .ok_or_else(|| {
            ImportError::file(
                "manifest.csv",
                "is missing; a OneRoster 1.1 export must have one",
            )
        })?;
    // The version decides how everything else reads, so it is checked before any other row
    // (ARCHITECTURE.md §11): a OneRoster 1.2 export differs in files and columns, and would
    // otherwise fail on its first unexpected column with a confusing message.
    if let Some(row) = manifest
        .rows
        .iter()
        .find(|r| r.get("propertyName") == "oneroster.version")
    {
        let version = row.get("value");
        if version != "1.1" {
            return Err(row.error(
                "value",
                format!(
                    "OneRoster version {version} is not supported: this importer reads \
                     OneRoster 1.1 CSV exports (export as 1.1, or convert the files)"
                ),
            ));
        }
    }
    let mut modes = BTreeMap::new();
    for row in &manifest.rows {
        let key = row.get("propertyName");
        let value = row.get("value");
        let warn = |warnings: &mut Vec<ImportWarning>, message: String| {
            warnings.push(ImportWarning {
                file: row.file.clone(),
                line: row.line,
                message,
            })
        };
        if let Some(file) = key.strip_prefix("file.") {
            if !MANIFEST_FILES.contains(&file) {
                warn(warnings, format!("unknown manifest key `{key}`; ignored"));
                continue;
            }
            let mode = value.to_ascii_lowercase();
            if !matches!(mode.as_str(), "bulk" | "delta" | "absent") {
                return Err(row.error(
                    "value",
                    format!("`{value}` for {key}: expected bulk, delta or absent"),
                ));
            }
            let name = format!("{file}.csv");
            if mode != "absent"
                && !files.has(&name)
                && matches!(
                    file,
                    "orgs" | "academicSessions" | "courses" | "classes" | "users" | "enrollments"
                )
            {
                return Err(row.error(
                    "value",
                    format!("manifest says {name} is {mode} but the export has no {name}"),
                ));
            }
            if mode == "absent" && files.has(&name) {
                warn(
                    warnings,
                    format!("{name} is present but the manifest says absent; ignored"),
                );
            }
            modes.insert(file.to_string(), mode);
        } else if key == "oneroster.version" {
            // Checked above.
        } else if !matches!(
            key,
            "manifest.version" | "source.systemName" | "source.systemCode"
        ) {
            warn(warnings, format!("unknown manifest key `{key}`; ignored"));
        }
    }
    Ok(modes)
}

fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug
        .trim_end_matches('-')
        .chars()
        .take(50)
        .collect::<String>();
    if slug.len() < 2 {
        "school".into()
    } else {
        slug
    }
}

fn resolve_school(
    conn: &mut PgConnection,
    orgs: &[Row],
    options: &ImportOptions,
) -> Result<(SchoolRow, Change), ImportFailure> {
    let school_orgs: Vec<&Row> = orgs
        .iter()
        .filter(|r| r.get("type").eq_ignore_ascii_case("school") && !r.to_be_deleted())
        .collect();
    let org = match school_orgs.as_slice() {
        [one] => *one,
        [] => return Err(ImportError::file("orgs.csv", "has no org of type `school`").into()),
        [_, second, ..] => {
            return Err(second
                .error("type", "a second school org: import one school at a time")
                .into())
        }
    };
    let sourced_id = org.required("sourcedId")?;
    let name = org.required("name")?;
    let now = Utc::now();
    let existing: Option<SchoolRow> = match options.school_id {
        Some(id) => {
            let s: SchoolRow = schools::table
                .find(id)
                .select(SchoolRow::as_select())
                .first(conn)?;
            if s.sourced_id.as_deref().is_some_and(|sid| sid != sourced_id) {
                return Err(org.error("sourcedId", format!(
                    "this export is for school `{sourced_id}`, but your school was imported from `{}`",
                    s.sourced_id.as_deref().unwrap_or("")
                )).into());
            }
            Some(s)
        }
        None => schools::table
            .filter(schools::sourced_id.eq(&sourced_id))
            .select(SchoolRow::as_select())
            .first(conn)
            .optional()?,
    };
    match existing {
        Some(mut s) => {
            // The HTTP import keeps the school's own name; the CLI follows the export.
            let new_name = if options.school_id.is_some() {
                s.name.clone()
            } else {
                name
            };
            if s.sourced_id.as_deref() == Some(sourced_id.as_str()) && s.name == new_name {
                return Ok((s, Change::Unchanged));
            }
            s.sourced_id = Some(sourced_id);
            s.name = new_name;
            s.updated_at = now;
            diesel::update(schools::table.find(s.id))
                .set(&s)
                .execute(conn)?;
            Ok((s, Change::Updated))
        }
        None => {
            let base = slugify(&name);
            let mut slug = base.clone();
            let mut n = 1;
            while schools::table
                .filter(schools::slug.eq(&slug))
                .count()
                .get_result::<i64>(conn)?
                > 0
            {
                n += 1;
                slug = format!("{base}-{n}");
            }
            let s = SchoolRow {
                id: Uuid::now_v7(),
                slug,
                name,
                currency: options.currency.clone(),
                timezone: options.timezone.clone(),
                sourced_id: Some(sourced_id),
                created_at: now,
                updated_at: now,
            };
            diesel::insert_into(schools::table)
                .values(&s)
                .execute(conn)?;
            crate::ledger::repo::ensure_chart(conn, s.id)?;
            Ok((s, Change::Inserted))
        }
    }
}

/// The orgs whose classes and users belong to the school `school_sid`: the school itself and
/// every `department` under it (a department rolls up to its parent, possibly through other
/// departments; OneRoster 1.1 §4.5 `parentSourcedId`).
///
/// Errors: a department whose parent is not in `orgs.csv`, naming the department's line, or
/// a cycle of departments.
fn orgs_of_school(orgs: &[Row], school_sid: &str) -> Result<HashSet<String>, ImportError> {
    let by_id: HashMap<&str, &Row> = orgs.iter().map(|r| (r.get("sourcedId"), r)).collect();
    let mut ours = HashSet::from([school_sid.to_string()]);
    for row in orgs
        .iter()
        .filter(|r| r.get("type").eq_ignore_ascii_case("department") && !r.to_be_deleted())
    {
        let mut at: &Row = row;
        let mut seen = HashSet::new();
        // Walk up to the first org that is not a department.
        while at.get("type").eq_ignore_ascii_case("department") {
            if !seen.insert(at.get("sourcedId")) {
                return Err(row.error(
                    "parentSourcedId",
                    format!("department `{}` is its own ancestor", row.get("sourcedId")),
                ));
            }
            let parent = at.get("parentSourcedId");
            at = match by_id.get(parent) {
                Some(p) => *p,
                None => {
                    return Err(at.error(
                        "parentSourcedId",
                        if parent.is_empty() {
                            format!(
                                "department `{}` names no parent school; a department must sit \
                                 under a school",
                                at.get("sourcedId")
                            )
                        } else {
                            format!(
                                "department `{}` has parent `{parent}`, which is not in orgs.csv",
                                at.get("sourcedId")
                            )
                        },
                    ))
                }
            };
        }
        if at.get("sourcedId") == school_sid {
            ours.insert(row.get("sourcedId").to_string());
        }
    }
    Ok(ours)
}

/// Imports academic sessions; returns term `sourcedId` → (term id, academic year id).
fn import_sessions(
    conn: &mut PgConnection,
    cx: &mut Ctx,
    rows: &[Row],
) -> Result<HashMap<String, (Uuid, Uuid)>, ImportFailure> {
    let by_id: HashMap<&str, &Row> = rows.iter().map(|r| (r.get("sourcedId"), r)).collect();
    // Resolve each session's school year: its schoolYear-typed ancestor, else its `schoolYear`
    // column (a synthetic year spanning its terms).
    let mut years: BTreeMap<String, (String, NaiveDate, NaiveDate)> = BTreeMap::new();
    let mut year_of: HashMap<String, String> = HashMap::new();
    for row in rows {
        let kind = row.get("type");
        if !matches!(kind, "schoolYear" | "term" | "semester" | "gradingPeriod") {
            return Err(row
                .error(
                    "type",
                    format!("`{kind}`: expected schoolYear, term, semester or gradingPeriod"),
                )
                .into());
        }
        let start = row
            .date("startDate")?
            .ok_or_else(|| row.error("startDate", "is required"))?;
        let end = row
            .date("endDate")?
            .ok_or_else(|| row.error("endDate", "is required"))?;
        if end < start {
            return Err(row.error("endDate", "is before startDate").into());
        }
        let mut cursor: &Row = row;
        let mut hops = 0;
        while cursor.get("type") != "schoolYear" {
            match by_id.get(cursor.get("parentSourcedId")) {
                Some(parent) if hops < 8 => {
                    cursor = *parent;
                    hops += 1;
                }
                _ => break,
            }
        }
        let key = if cursor.get("type") == "schoolYear" {
            let title = cursor.required("title")?;
            years
                .entry(cursor.get("sourcedId").to_string())
                .or_insert((title, start, end));
            cursor.get("sourcedId").to_string()
        } else {
            let sy = row.required("schoolYear").map_err(|_| {
                row.error(
                    "schoolYear",
                    "is empty and the session has no schoolYear parent",
                )
            })?;
            let key = format!("schoolYear:{sy}");
            let e = years.entry(key.clone()).or_insert((sy, start, end));
            e.1 = e.1.min(start);
            e.2 = e.2.max(end);
            key
        };
        if row.get("type") == "schoolYear" {
            let e = years
                .get_mut(&key)
                .ok_or_else(|| row.error("sourcedId", "internal: year vanished"))?;
            e.1 = start;
            e.2 = end;
        }
        year_of.insert(row.get("sourcedId").to_string(), key);
    }
    let mut year_ids = HashMap::new();
    for (key, (name, starts_on, ends_on)) in years {
        let desired = AcademicYearRow {
            school_id: cx.school_id,
            id: Uuid::now_v7(),
            name,
            starts_on,
            ends_on,
            sourced_id: Some(key.clone()),
            created_at: cx.now,
        };
        let lookup = academic_years::table
            .filter(academic_years::school_id.eq(cx.school_id))
            .filter(academic_years::sourced_id.eq(key.clone()));
        let (_, row) = upsert!(
            conn,
            cx,
            academic_years,
            AcademicYearRow,
            desired,
            lookup,
            keep = [id, created_at]
        );
        year_ids.insert(key, row.id);
    }
    let mut out = HashMap::new();
    for row in rows.iter().filter(|r| r.get("type") != "schoolYear") {
        let sid = row.get("sourcedId").to_string();
        let year_id = year_of
            .get(&sid)
            .and_then(|k| year_ids.get(k))
            .copied()
            .ok_or_else(|| row.error("schoolYear", "no school year"))?;
        let lookup = terms::table
            .filter(terms::school_id.eq(cx.school_id))
            .filter(terms::sourced_id.eq(sid.clone()));
        if row.to_be_deleted() {
            let n = diesel::update(lookup.filter(terms::active.eq(true)))
                .set(terms::active.eq(false))
                .execute(conn)?;
            cx.report.deactivated += n as u64;
            continue;
        }
        let desired = TermRow {
            school_id: cx.school_id,
            id: Uuid::now_v7(),
            academic_year_id: year_id,
            name: row.required("title")?,
            starts_on: row.date("startDate")?.unwrap_or_default(),
            ends_on: row.date("endDate")?.unwrap_or_default(),
            active: true,
            sourced_id: Some(sid.clone()),
            created_at: cx.now,
        };
        let (change, term) = upsert!(
            conn,
            cx,
            terms,
            TermRow,
            desired,
            lookup,
            keep = [id, created_at]
        );
        cx.report.terms += change.counts();
        out.insert(sid, (term.id, year_id));
    }
    // Terms imported earlier and referred to by classes in a delta file.
    let known: Vec<(Option<String>, Uuid, Uuid)> = terms::table
        .filter(terms::school_id.eq(cx.school_id))
        .select((terms::sourced_id, terms::id, terms::academic_year_id))
        .load(conn)?;
    for (sid, id, year) in known {
        if let Some(sid) = sid {
            out.entry(sid).or_insert((id, year));
        }
    }
    Ok(out)
}

/// Classes of `classes.csv` set aside by the import, by `sourcedId` → why (naming their line).
type SetAside = HashMap<String, String>;

/// Imports classes; returns class `sourcedId` → id for the school's classes, and the classes of
/// this file that were set aside (marked `tobedeleted`, or of another school) → why, naming
/// their line, so an enrollment into one is skipped with a warning rather than refused.
fn import_classes(
    conn: &mut PgConnection,
    cx: &mut Ctx,
    rows: &[Row],
    ours: &HashSet<String>,
    term_ids: &HashMap<String, (Uuid, Uuid)>,
    course_grades: &HashMap<String, String>,
) -> Result<(HashMap<String, Uuid>, SetAside), ImportFailure> {
    let mut set_aside = HashMap::new();
    for row in rows {
        let sid = row.required("sourcedId")?;
        let lookup = classes::table
            .filter(classes::school_id.eq(cx.school_id))
            .filter(classes::sourced_id.eq(sid.clone()));
        if row.to_be_deleted() {
            let n = diesel::update(lookup.filter(classes::active.eq(true)))
                .set((classes::active.eq(false), classes::updated_at.eq(cx.now)))
                .execute(conn)?;
            cx.report.deactivated += n as u64;
            set_aside.insert(
                sid,
                format!("is marked tobedeleted ({} line {})", row.file, row.line),
            );
            continue;
        }
        if !ours.contains(row.get("schoolSourcedId")) {
            cx.warn(
                row,
                format!(
                    "class {sid} belongs to org `{}`, which is not this school or one of its \
                     departments; skipped",
                    row.get("schoolSourcedId")
                ),
            );
            set_aside.insert(
                sid,
                format!("belongs to another school ({} line {})", row.file, row.line),
            );
            continue;
        }
        let class_terms = row.list("termSourcedIds");
        let first = class_terms
            .first()
            .ok_or_else(|| row.error("termSourcedIds", "is required and empty"))?;
        let (term_id, year_id) = *term_ids.get(first).ok_or_else(|| {
            row.error(
                "termSourcedIds",
                format!("term `{first}` is not in academicSessions.csv"),
            )
        })?;
        if !course_grades.contains_key(row.get("courseSourcedId")) {
            cx.warn(
                row,
                format!(
                    "course `{}` is not in courses.csv",
                    row.get("courseSourcedId")
                ),
            );
        }
        let grade = row
            .list("grades")
            .into_iter()
            .next()
            .or_else(|| course_grades.get(row.get("courseSourcedId")).cloned())
            .unwrap_or_default();
        let desired = ClassRow {
            school_id: cx.school_id,
            id: Uuid::now_v7(),
            academic_year_id: year_id,
            term_id: if class_terms.len() == 1 {
                Some(term_id)
            } else {
                None
            },
            campus_id: None,
            name: row.required("title")?,
            grade,
            section: String::new(),
            code: row.opt("classCode"),
            homeroom_teacher_id: None,
            active: true,
            sourced_id: Some(sid),
            created_at: cx.now,
            updated_at: cx.now,
        };
        let (change, _) = upsert!(
            conn,
            cx,
            classes,
            ClassRow,
            desired,
            lookup,
            keep = [
                id,
                created_at,
                updated_at,
                homeroom_teacher_id,
                campus_id,
                section
            ]
        );
        cx.report.classes += change.counts();
    }
    let known: Vec<(Option<String>, Uuid)> = classes::table
        .filter(classes::school_id.eq(cx.school_id))
        .select((classes::sourced_id, classes::id))
        .load(conn)?;
    let known = known
        .into_iter()
        .filter_map(|(s, id)| s.map(|s| (s, id)))
        .filter(|(s, _)| !set_aside.contains_key(s))
        .collect();
    Ok((known, set_aside))
}

/// Database ids of imported people by OneRoster `sourcedId`.
#[derive(Default)]
struct People {
    students: HashMap<String, Uuid>,
    teachers: HashMap<String, Uuid>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Student,
    Guardian,
    Teacher,
    Admin,
}

fn kind_of(row: &Row) -> Result<Kind, ImportError> {
    match row.get("role") {
        "student" => Ok(Kind::Student),
        "parent" | "guardian" | "relative" => Ok(Kind::Guardian),
        "teacher" | "aide" | "proctor" => Ok(Kind::Teacher),
        "administrator" => Ok(Kind::Admin),
        other => Err(row.error("role", format!(
            "`{other}`: expected student, teacher, parent, guardian, relative, aide, proctor or administrator"
        ))),
    }
}

/// Union–find root of `x`.
fn root(parent: &mut HashMap<String, String>, x: &str) -> String {
    let mut r = x.to_string();
    while let Some(p) = parent.get(&r).filter(|p| **p != r) {
        r = p.clone();
    }
    parent.insert(x.to_string(), r.clone());
    r
}

fn import_users(
    conn: &mut PgConnection,
    cx: &mut Ctx,
    rows: &[Row],
    enrollment_rows: &[Row],
    ours: &HashSet<String>,
) -> Result<People, ImportFailure> {
    let mut kinds: HashMap<String, Kind> = HashMap::new();
    let mut live: Vec<&Row> = Vec::new();
    for row in rows {
        let sid = row.required("sourcedId")?;
        let kind = kind_of(row)?;
        if row.to_be_deleted() {
            cx.report.deactivated += deactivate_person(conn, cx, &sid, kind)?;
            continue;
        }
        let orgs = row.list("orgSourcedIds");
        if !orgs.is_empty() && !orgs.iter().any(|o| ours.contains(o)) {
            cx.warn(
                row,
                format!(
                    "user {sid} is not in this school or one of its departments \
                     (orgSourcedIds); skipped"
                ),
            );
            continue;
        }
        kinds.insert(sid, kind);
        live.push(row);
    }

    // Families: students and guardians linked by agentSourcedIds form one family.
    let mut parent: HashMap<String, String> = HashMap::new();
    for row in &live {
        let sid = row.get("sourcedId").to_string();
        if !matches!(kinds[&sid], Kind::Student | Kind::Guardian) {
            continue;
        }
        root(&mut parent, &sid);
        for agent in row.list("agentSourcedIds") {
            match kinds.get(&agent) {
                Some(Kind::Student | Kind::Guardian) => {
                    let (a, b) = (root(&mut parent, &sid), root(&mut parent, &agent));
                    if a != b {
                        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                        parent.insert(hi, lo);
                    }
                }
                _ => cx.warn(row, format!("agentSourcedIds names `{agent}`, who is not a student or guardian in users.csv; link ignored")),
            }
        }
    }
    let mut members: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for row in &live {
        let sid = row.get("sourcedId").to_string();
        if parent.contains_key(&sid) {
            let r = root(&mut parent, &sid);
            members.entry(r).or_default().push(row);
        }
    }
    let mut family_of: HashMap<String, Uuid> = HashMap::new();
    for group in members.values() {
        let mut existing: Option<Uuid> = None;
        for row in group {
            let sid = row.get("sourcedId");
            let fam: Option<Uuid> = if kinds[sid] == Kind::Student {
                students::table
                    .filter(students::school_id.eq(cx.school_id))
                    .filter(students::sourced_id.eq(sid))
                    .select(students::family_id)
                    .first(conn)
                    .optional()?
            } else {
                guardians::table
                    .filter(guardians::school_id.eq(cx.school_id))
                    .filter(guardians::sourced_id.eq(sid))
                    .select(guardians::family_id)
                    .first(conn)
                    .optional()?
            };
            if let Some(f) = fam {
                existing.get_or_insert(f);
            }
        }
        let family_id = match existing {
            Some(f) => f,
            None => {
                let namer = group
                    .iter()
                    .find(|r| kinds[r.get("sourcedId")] == Kind::Guardian)
                    .unwrap_or(&group[0]);
                let fam = FamilyRow {
                    school_id: cx.school_id,
                    id: Uuid::now_v7(),
                    name: format!("{} family", namer.get("familyName")),
                    active: true,
                    created_at: cx.now,
                    updated_at: cx.now,
                };
                diesel::insert_into(families::table)
                    .values(&fam)
                    .execute(conn)?;
                cx.stats.wrote(conn, "families", 1);
                fam.id
            }
        };
        for row in group {
            family_of.insert(row.get("sourcedId").to_string(), family_id);
        }
    }

    // Student-role users who teach (teacher enrollments) also get a teacher login.
    let mut teaches: BTreeMap<String, &Row> = BTreeMap::new();
    for e in enrollment_rows {
        if matches!(e.get("role"), "teacher" | "aide") && !e.to_be_deleted() {
            if let Some(Kind::Student | Kind::Guardian) = kinds.get(e.get("userSourcedId")) {
                teaches
                    .entry(e.get("userSourcedId").to_string())
                    .or_insert(e);
            }
        }
    }

    let mut people = People::default();
    let mut guardian_links: Vec<(String, Vec<String>)> = Vec::new();
    for row in live {
        let sid = row.get("sourcedId").to_string();
        let active = !row.get("enabledUser").eq_ignore_ascii_case("false");
        let given = validate::text("givenName", row.get("givenName"), 100)
            .map_err(|_| row.error("givenName", "is required (1 to 100 characters)"))?;
        let family_name = validate::text("familyName", row.get("familyName"), 100)
            .map_err(|_| row.error("familyName", "is required (1 to 100 characters)"))?;
        let email = match validate::email("email", row.opt("email").as_deref()) {
            Ok(e) => e,
            Err(_) => {
                cx.warn(
                    row,
                    format!(
                        "email `{}` is not an e-mail address; left empty",
                        row.get("email")
                    ),
                );
                None
            }
        };
        let raw_phone = row.opt("phone").or_else(|| row.opt("sms"));
        let phone = match validate::phone("phone", raw_phone.as_deref()) {
            Ok(p) => p,
            Err(_) => {
                cx.warn(
                    row,
                    format!(
                        "phone `{}` is not a phone number; left empty",
                        raw_phone.unwrap_or_default()
                    ),
                );
                None
            }
        };
        let mut changed;
        match kinds[&sid] {
            Kind::Student => {
                let admission_no = row
                    .opt("identifier")
                    .or_else(|| row.opt("username"))
                    .unwrap_or_else(|| sid.clone());
                let clash: Option<Option<String>> = students::table
                    .filter(students::school_id.eq(cx.school_id))
                    .filter(students::admission_no.eq(&admission_no))
                    .select(students::sourced_id)
                    .first(conn)
                    .optional()?;
                if let Some(other) = clash.filter(|o| o.as_deref() != Some(sid.as_str())) {
                    return Err(row
                        .error(
                            "identifier",
                            format!(
                        "admission number `{admission_no}` already belongs to another student ({})",
                        other.unwrap_or_else(|| "entered by hand".into())
                    ),
                        )
                        .into());
                }
                let desired = StudentRow {
                    school_id: cx.school_id,
                    id: Uuid::now_v7(),
                    family_id: family_of[&sid],
                    admission_no,
                    given_name: given.clone(),
                    family_name: family_name.clone(),
                    date_of_birth: None,
                    gender: None,
                    grade: row.list("grades").into_iter().next().unwrap_or_default(),
                    email: email.clone(),
                    active,
                    sourced_id: Some(sid.clone()),
                    created_at: cx.now,
                    updated_at: cx.now,
                };
                let lookup = students::table
                    .filter(students::school_id.eq(cx.school_id))
                    .filter(students::sourced_id.eq(sid.clone()));
                let (c, s) = upsert!(
                    conn,
                    cx,
                    students,
                    StudentRow,
                    desired,
                    lookup,
                    keep = [id, created_at, updated_at, family_id, date_of_birth, gender]
                );
                changed = c;
                people.students.insert(sid.clone(), s.id);
            }
            Kind::Guardian => {
                let user = upsert_login(
                    conn,
                    cx,
                    row,
                    "parent",
                    &given,
                    &family_name,
                    &email,
                    &phone,
                    active,
                )?;
                let desired = GuardianRow {
                    school_id: cx.school_id,
                    id: Uuid::now_v7(),
                    family_id: family_of[&sid],
                    user_id: Some(user.1.id),
                    given_name: given.clone(),
                    family_name: family_name.clone(),
                    relationship: row.get("role").to_string(),
                    phone: phone.clone(),
                    email: email.clone(),
                    active,
                    sourced_id: Some(sid.clone()),
                    created_at: cx.now,
                    updated_at: cx.now,
                };
                let lookup = guardians::table
                    .filter(guardians::school_id.eq(cx.school_id))
                    .filter(guardians::sourced_id.eq(sid.clone()));
                let (c, _) = upsert!(
                    conn,
                    cx,
                    guardians,
                    GuardianRow,
                    desired,
                    lookup,
                    keep = [id, created_at, updated_at, family_id]
                );
                changed = if c == Change::Unchanged { user.0 } else { c };
                guardian_links.push((sid.clone(), row.list("agentSourcedIds")));
            }
            Kind::Teacher | Kind::Admin => {
                let role = if kinds[&sid] == Kind::Admin {
                    "admin"
                } else {
                    "teacher"
                };
                let (c, u) = upsert_login(
                    conn,
                    cx,
                    row,
                    role,
                    &given,
                    &family_name,
                    &email,
                    &phone,
                    active,
                )?;
                changed = c;
                people.teachers.insert(sid.clone(), u.id);
            }
        }
        if let Some(e) = teaches.get(&sid) {
            let e = (*e).clone();
            cx.warn(&e, format!(
                "{sid} is enrolled as {} but is a {} in users.csv; imported, with a teacher login for the assignment",
                e.get("role"), row.get("role")
            ));
            let (c, u) = upsert_login(
                conn,
                cx,
                row,
                "teacher",
                &given,
                &family_name,
                &email,
                &phone,
                active,
            )?;
            if changed == Change::Unchanged {
                changed = c;
            }
            people.teachers.insert(sid.clone(), u.id);
        }
        cx.report.users += changed.counts();
    }

    // Guardian ↔ student links (agentSourcedIds, either side).
    let guardian_ids: HashMap<String, Uuid> = guardians::table
        .filter(guardians::school_id.eq(cx.school_id))
        .select((guardians::sourced_id, guardians::id))
        .load::<(Option<String>, Uuid)>(conn)?
        .into_iter()
        .filter_map(|(s, id)| s.map(|s| (s, id)))
        .collect();
    let mut links: BTreeSet<(Uuid, Uuid)> = BTreeSet::new();
    for (g, agents) in guardian_links {
        for a in agents {
            if let (Some(&gid), Some(&stid)) = (guardian_ids.get(&g), people.students.get(&a)) {
                links.insert((stid, gid));
            }
        }
    }
    for row in rows.iter().filter(|r| r.get("role") == "student") {
        for a in row.list("agentSourcedIds") {
            if let (Some(&stid), Some(&gid)) = (
                people.students.get(row.get("sourcedId")),
                guardian_ids.get(&a),
            ) {
                links.insert((stid, gid));
            }
        }
    }
    let link_rows: Vec<StudentGuardianRow> = links
        .into_iter()
        .map(|(student_id, guardian_id)| StudentGuardianRow {
            school_id: cx.school_id,
            student_id,
            guardian_id,
        })
        .collect();
    // PostgreSQL takes at most 65,535 bind parameters per statement (3 per link).
    for chunk in link_rows.chunks(LINKS_PER_INSERT) {
        let linked = diesel::insert_into(student_guardians::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .execute(conn)?;
        cx.stats.wrote(conn, "student_guardians", linked as u64);
    }
    Ok(people)
}

/// Student–guardian links per INSERT: 3 bind parameters each, under PostgreSQL's 65,535.
const LINKS_PER_INSERT: usize = 10_000;

#[allow(clippy::too_many_arguments)]
fn upsert_login(
    conn: &mut PgConnection,
    cx: &mut Ctx,
    row: &Row,
    role: &str,
    given: &str,
    family_name: &str,
    email: &Option<String>,
    phone: &Option<String>,
    active: bool,
) -> Result<(Change, UserRow), ImportFailure> {
    let sid = row.get("sourcedId").to_string();
    let username = validate::username("username", row.get("username"))
        .map_err(|_| row.error("username", "must be 1 to 100 letters, digits or . _ @ + -"))?;
    let clash: Option<(Option<String>, String)> = users::table
        .filter(users::school_id.eq(cx.school_id))
        .filter(users::username.eq(&username))
        .select((users::sourced_id, users::role))
        .first(conn)
        .optional()?;
    if let Some((other, other_role)) = clash {
        if other.as_deref() != Some(sid.as_str()) || other_role != role {
            return Err(row
                .error(
                    "username",
                    format!("`{username}` is already the login of another user"),
                )
                .into());
        }
    }
    let desired = UserRow {
        school_id: cx.school_id,
        id: Uuid::now_v7(),
        username,
        display_name: format!("{given} {family_name}"),
        role: role.to_string(),
        email: email.clone(),
        phone: phone.clone(),
        password_hash: None,
        active,
        failed_logins: 0,
        locked_until: None,
        sourced_id: Some(sid.clone()),
        created_at: cx.now,
        updated_at: cx.now,
    };
    let lookup = users::table
        .filter(users::school_id.eq(cx.school_id))
        .filter(users::sourced_id.eq(sid))
        .filter(users::role.eq(role.to_string()));
    let (change, user) = upsert!(
        conn,
        cx,
        users,
        UserRow,
        desired,
        lookup,
        keep = [
            id,
            created_at,
            updated_at,
            password_hash,
            failed_logins,
            locked_until
        ]
    );
    Ok((change, user))
}

fn deactivate_person(conn: &mut PgConnection, cx: &Ctx, sid: &str, kind: Kind) -> QueryResult<u64> {
    let n = match kind {
        Kind::Student => diesel::update(
            students::table
                .filter(students::school_id.eq(cx.school_id))
                .filter(students::sourced_id.eq(sid))
                .filter(students::active.eq(true)),
        )
        .set((students::active.eq(false), students::updated_at.eq(cx.now)))
        .execute(conn)?,
        Kind::Guardian => diesel::update(
            guardians::table
                .filter(guardians::school_id.eq(cx.school_id))
                .filter(guardians::sourced_id.eq(sid))
                .filter(guardians::active.eq(true)),
        )
        .set((
            guardians::active.eq(false),
            guardians::updated_at.eq(cx.now),
        ))
        .execute(conn)?,
        Kind::Teacher | Kind::Admin => 0,
    };
    let logins = diesel::update(
        users::table
            .filter(users::school_id.eq(cx.school_id))
            .filter(users::sourced_id.eq(sid))
            .filter(users::active.eq(true)),
    )
    .set((users::active.eq(false), users::updated_at.eq(cx.now)))
    .execute(conn)?;
    Ok((n + if n == 0 { logins } else { 0 }) as u64)
}

fn import_enrollments(
    conn: &mut PgConnection,
    cx: &mut Ctx,
    rows: &[Row],
    class_ids: &HashMap<String, Uuid>,
    set_aside: &SetAside,
    people: &People,
) -> Result<(), ImportFailure> {
    for row in rows {
        let sid = row.required("sourcedId")?;
        let class_sid = row.required("classSourcedId")?;
        let user_sid = row.required("userSourcedId")?;
        let role = row.get("role");
        if row.to_be_deleted() {
            let n = diesel::update(
                enrollments::table
                    .filter(enrollments::school_id.eq(cx.school_id))
                    .filter(enrollments::sourced_id.eq(&sid))
                    .filter(enrollments::active.eq(true)),
            )
            .set(enrollments::active.eq(false))
            .execute(conn)?;
            let m = diesel::delete(
                class_teachers::table
                    .filter(class_teachers::school_id.eq(cx.school_id))
                    .filter(class_teachers::sourced_id.eq(&sid)),
            )
            .execute(conn)?;
            cx.report.deactivated += (n + m) as u64;
            continue;
        }
        if let Some(why) = set_aside.get(&class_sid) {
            cx.warn(
                row,
                format!("enrollment {sid} is into class `{class_sid}`, which {why}; skipped"),
            );
            continue;
        }
        let Some(&class_id) = class_ids.get(&class_sid) else {
            return Err(row
                .error(
                    "classSourcedId",
                    format!("class `{class_sid}` is not in classes.csv"),
                )
                .into());
        };
        match role {
            "student" => {
                let Some(&student_id) = people.students.get(&user_sid) else {
                    if people.teachers.contains_key(&user_sid) {
                        cx.warn(row, format!("{user_sid} is enrolled as student but is not a student in users.csv; skipped"));
                        continue;
                    }
                    return Err(row
                        .error(
                            "userSourcedId",
                            format!("user `{user_sid}` is not in users.csv"),
                        )
                        .into());
                };
                let desired = EnrollmentRow {
                    school_id: cx.school_id,
                    id: Uuid::now_v7(),
                    class_id,
                    student_id,
                    starts_on: row.date("beginDate")?,
                    ends_on: row.date("endDate")?,
                    active: true,
                    sourced_id: Some(sid.clone()),
                    created_at: cx.now,
                };
                let lookup = enrollments::table
                    .filter(enrollments::school_id.eq(cx.school_id))
                    .filter(enrollments::sourced_id.eq(sid.clone()));
                let (change, _) = upsert!(
                    conn,
                    cx,
                    enrollments,
                    EnrollmentRow,
                    desired,
                    lookup,
                    keep = [id, created_at]
                );
                cx.report.enrollments += change.counts();
            }
            "teacher" | "aide" | "proctor" => {
                let Some(&teacher_id) = people.teachers.get(&user_sid) else {
                    return Err(row
                        .error(
                            "userSourcedId",
                            format!("user `{user_sid}` is not in users.csv"),
                        )
                        .into());
                };
                let is_primary = row.get("primary").eq_ignore_ascii_case("true");
                let existing = class_teachers::table
                    .find((cx.school_id, class_id, teacher_id))
                    .select(ClassTeacherRow::as_select())
                    .first(conn)
                    .optional()?;
                match existing {
                    Some(old)
                        if old.is_primary == is_primary
                            && old.sourced_id.as_deref() == Some(sid.as_str()) => {}
                    Some(_) => {
                        diesel::update(class_teachers::table.find((
                            cx.school_id,
                            class_id,
                            teacher_id,
                        )))
                        .set((
                            class_teachers::is_primary.eq(is_primary),
                            class_teachers::sourced_id.eq(Some(sid.clone())),
                        ))
                        .execute(conn)?;
                        cx.report.enrollments += 1;
                    }
                    None => {
                        diesel::insert_into(class_teachers::table)
                            .values(&ClassTeacherRow {
                                school_id: cx.school_id,
                                class_id,
                                teacher_id,
                                is_primary,
                                sourced_id: Some(sid.clone()),
                                created_at: cx.now,
                            })
                            .execute(conn)?;
                        cx.stats.wrote(conn, "class_teachers", 1);
                        cx.report.enrollments += 1;
                    }
                }
            }
            other => {
                cx.warn(row, format!("enrollment role `{other}` is not imported (only student, teacher, aide, proctor)"));
            }
        }
    }
    Ok(())
}
