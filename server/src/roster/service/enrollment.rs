//! Enrolments of students in classes.

use super::*;

/// Enrols a student in a class (office), with its audit row.
///
/// Errors: validation naming `ends_on` (before `starts_on`), `class_id` or `student_id` (not of
/// this school); 409 when the id is taken.
pub fn create_enrollment(
    conn: &mut PgConnection,
    auth: &AuthUser,
    req: CreateEnrollmentRequest,
) -> ApiResult<EnrollmentRow> {
    if let (Some(s), Some(e)) = (req.starts_on, req.ends_on) {
        if e < s {
            return Err(ApiError::validation(
                "ends_on",
                "must not be before starts_on",
            ));
        }
    }
    let row = EnrollmentRow {
        school_id: auth.school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        class_id: req.class_id,
        student_id: req.student_id,
        starts_on: req.starts_on,
        ends_on: req.ends_on,
        active: true,
        sourced_id: None,
        created_at: Utc::now(),
    };

    repo::class(conn, auth.school_id, row.class_id)
        .map_err(|_| ApiError::validation("class_id", "no such class in this school"))?;
    repo::student(conn, auth.school_id, row.student_id)
        .map_err(|_| ApiError::validation("student_id", "no such student in this school"))?;
    diesel::insert_into(enrollments::table)
        .values(&row)
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "enrollment", row.id).created(conn, &row)?;
    Ok(row)
}

/// Removes enrolment `id` (office), with its audit row.
///
/// Errors: 404 unknown enrolment.
pub fn delete_enrollment(conn: &mut PgConnection, auth: &AuthUser, id: Uuid) -> ApiResult<()> {
    let before = repo::enrollment(conn, auth.school_id, id).map_err(not_found("enrollment"))?;
    diesel::delete(enrollments::table.find((auth.school_id, id))).execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "enrollment", id).deleted(conn, &before)?;
    Ok(())
}
