//! The school's attendance codes, the stored form of a mark, and who may mark a register as
//! what (ARCHITECTURE.md §5). Shared by single-register marking (`service`) and batch marking
//! (`registers`), which both build on it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use daftar_client_core::protocol::{
    AttendanceCategory, AttendanceCode, AttendanceMark, CreateAttendanceCodeRequest, MarkSource,
    Role, Roles,
};
use diesel::prelude::*;
use uuid::Uuid;

use crate::audit::{Actor, AuditEntry};
use crate::errors::{ApiError, ApiResult};
use crate::schema::attendance_codes;
use crate::validate;

/// The default codes seeded for every school (ARCHITECTURE.md §5).
pub const DEFAULT_CODES: [(&str, &str, AttendanceCategory); 5] = [
    ("P", "Present", AttendanceCategory::Present),
    ("A", "Absent", AttendanceCategory::Absent),
    ("L", "Late", AttendanceCategory::Late),
    ("E", "Excused", AttendanceCategory::Excused),
    ("H", "Half day", AttendanceCategory::HalfDay),
];

/// Adds attendance code `req.code` (1–4 letters or digits) with `label` (1–50 characters) in
/// `category`, after the defaults are seeded; one audit row.
///
/// Errors: 422 naming `code` or `label`; 409 for a code the school has.
pub fn create_code(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    req: &CreateAttendanceCodeRequest,
) -> ApiResult<AttendanceCode> {
    let code = req.code.trim().to_string();
    if code.is_empty() || code.len() > 4 || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::validation(
            "code",
            "must be 1 to 4 letters or digits",
        ));
    }
    let label = validate::text("label", &req.label, 50)?;
    ensure_codes(conn, school_id)?;
    let row = AttendanceCode {
        id: Uuid::now_v7(),
        code,
        label,
        category: req.category,
        active: true,
    };
    diesel::insert_into(attendance_codes::table)
        .values((
            attendance_codes::school_id.eq(school_id),
            attendance_codes::id.eq(row.id),
            attendance_codes::code.eq(&row.code),
            attendance_codes::label.eq(&row.label),
            attendance_codes::category.eq(row.category.as_str()),
        ))
        .execute(conn)?;
    AuditEntry::new(school_id, actor, "attendance_code", row.id).created(conn, &row)?;
    Ok(row)
}

/// Seeds the default codes if the school has none of them yet (idempotent).
pub fn ensure_codes(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<()> {
    let rows: Vec<_> = DEFAULT_CODES
        .iter()
        .map(|(code, label, cat)| {
            (
                attendance_codes::school_id.eq(school_id),
                attendance_codes::id.eq(Uuid::now_v7()),
                attendance_codes::code.eq(*code),
                attendance_codes::label.eq(*label),
                attendance_codes::category.eq(cat.as_str()),
            )
        })
        .collect();
    diesel::insert_into(attendance_codes::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(conn)
        .map(|_| ())
}

/// The school's codes (seeded on first use).
pub fn codes(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<Vec<AttendanceCode>> {
    let load = |conn: &mut PgConnection| {
        attendance_codes::table
            .filter(attendance_codes::school_id.eq(school_id))
            .order(attendance_codes::code)
            .select((
                attendance_codes::id,
                attendance_codes::code,
                attendance_codes::label,
                attendance_codes::category,
                attendance_codes::active,
            ))
            .load::<(Uuid, String, String, String, bool)>(conn)
    };
    let mut rows = load(conn)?;
    if rows.is_empty() {
        ensure_codes(conn, school_id)?;
        rows = load(conn)?;
    }
    Ok(rows
        .into_iter()
        .map(|(id, code, label, cat, active)| AttendanceCode {
            id,
            code,
            label,
            category: AttendanceCategory::parse(&cat).unwrap_or(AttendanceCategory::Present),
            active,
        })
        .collect())
}

/// A stored mark: code id, source, reason, who marked it and when (UTC).
pub(crate) type StoredMark = (Uuid, MarkSource, Option<String>, Uuid, DateTime<Utc>);

/// The wire form of `student_id`'s stored mark, or `None` when its code is not among `codes`
/// (by id).
pub(crate) fn attendance_mark(
    codes: &HashMap<Uuid, &AttendanceCode>,
    student_id: Uuid,
    (code_id, source, reason, marked_by, marked_at): StoredMark,
) -> Option<AttendanceMark> {
    codes.get(&code_id).map(|c| AttendanceMark {
        student_id,
        code: c.code.clone(),
        category: c.category,
        source,
        reason,
        marked_by,
        marked_at,
    })
}

/// The rule of [`check_may_mark`] on facts already read (pure): a user of `roles` marking
/// `class_id` on `on_date` when it is `today` at the school, with the teacher edit `window`
/// in days, whether the date is `in_term`, and (for a teacher) the classes `assigned` to them.
/// Several roles: the office's rule if any is office, else the teacher's (issue #17).
///
/// Errors: as [`check_may_mark`].
pub(crate) fn mark_source(
    roles: Roles,
    assigned: Option<&[Uuid]>,
    today: NaiveDate,
    window: i32,
    in_term: bool,
    class_id: Uuid,
    on_date: NaiveDate,
) -> ApiResult<MarkSource> {
    let role = if roles.is_office() {
        Role::Admin
    } else if roles.has(Role::Teacher) {
        Role::Teacher
    } else {
        Role::Parent
    };
    mark_source_as(role, assigned, today, window, in_term, class_id, on_date)
}

/// [`mark_source`] for the one role that decides: `role` marking `class_id` on
/// `on_date` when it is `today` at the school, with the teacher edit `window` in days, whether
/// the date is `in_term`, and (for a teacher) the classes `assigned` to them.
///
/// Errors: as [`check_may_mark`].
fn mark_source_as(
    role: Role,
    assigned: Option<&[Uuid]>,
    today: NaiveDate,
    window: i32,
    in_term: bool,
    class_id: Uuid,
    on_date: NaiveDate,
) -> ApiResult<MarkSource> {
    if on_date > today {
        return Err(ApiError::Unprocessable {
            code: "future_date",
            detail: format!("{on_date} is in the future (today is {today} at the school)"),
        });
    }
    if !in_term {
        return Err(ApiError::Unprocessable {
            code: "outside_term",
            detail: format!("{on_date} is not within any term of the school"),
        });
    }
    match role {
        Role::Admin | Role::Accountant => Ok(MarkSource::Office),
        Role::Parent => Err(ApiError::forbidden("parents may not mark attendance")),
        Role::Teacher => {
            if !assigned.unwrap_or_default().contains(&class_id) {
                return Err(ApiError::forbidden("this class is not assigned to you"));
            }
            let age = (today - on_date).num_days();
            if age > i64::from(window) {
                return Err(ApiError::Refused {
                    code: "edit_window_closed",
                    detail: format!(
                        "teachers may change a register up to {window} day(s) after its date (school setting); {on_date} is {age} day(s) ago: ask the office to override"
                    ),
                });
            }
            Ok(MarkSource::Teacher)
        }
    }
}
