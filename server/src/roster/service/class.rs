//! Classes and their teacher assignments.

use super::*;

/// Ok when `teacher_id` is absent or a teacher (or admin) of the school.
///
/// Errors: validation naming `field`.
fn check_teacher(
    conn: &mut PgConnection,
    school_id: Uuid,
    field: &str,
    teacher_id: Option<Uuid>,
) -> ApiResult<()> {
    if let Some(t) = teacher_id {
        repo::user(conn, school_id, t)
            .map_err(|_| ApiError::validation(field, "no such user in this school"))?;
        if !crate::tenancy::roles_of(conn, school_id, t)?.any(&[Role::Teacher, Role::Admin]) {
            return Err(ApiError::validation(field, "must be a teacher"));
        }
    }
    Ok(())
}

/// Creates a class (admin), with its audit row.
///
/// Errors: validation naming `name`, `code` or `homeroom_teacher_id` (not a teacher); 409 when
/// the id or name is taken.
pub fn create_class(
    conn: &mut PgConnection,
    auth: &AuthUser,
    req: CreateClassRequest,
) -> ApiResult<ClassRow> {
    let now = Utc::now();
    let row = ClassRow {
        school_id: auth.school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        academic_year_id: req.academic_year_id,
        term_id: req.term_id,
        campus_id: None,
        name: validate::text("name", &req.name, 200)?,
        grade: req.grade.trim().to_string(),
        section: req.section.trim().to_string(),
        code: validate::opt_text("code", req.code.as_deref(), 50)?,
        homeroom_teacher_id: req.homeroom_teacher_id,
        active: true,
        sourced_id: None,
        created_at: now,
        updated_at: now,
    };

    check_teacher(
        conn,
        auth.school_id,
        "homeroom_teacher_id",
        row.homeroom_teacher_id,
    )?;
    diesel::insert_into(classes::table)
        .values(&row)
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "class", row.id).created(conn, &row)?;
    Ok(row)
}

/// Changes the fields present in `req` of class `id` (admin), with its audit row.
///
/// Errors: 404 unknown class; validation naming the field.
pub fn update_class(
    conn: &mut PgConnection,
    auth: &AuthUser,
    id: Uuid,
    req: UpdateClassRequest,
) -> ApiResult<ClassRow> {
    let before = repo::class(conn, auth.school_id, id).map_err(not_found("class"))?;
    let mut after = before.clone();
    if let Some(v) = req.name {
        after.name = validate::text("name", &v, 200)?;
    }
    if let Some(v) = req.grade {
        after.grade = v.trim().to_string();
    }
    if let Some(v) = req.section {
        after.section = v.trim().to_string();
    }
    if let Some(v) = req.code {
        after.code = validate::opt_text("code", Some(&v), 50)?;
    }
    if req.homeroom_teacher_id.is_some() {
        check_teacher(
            conn,
            auth.school_id,
            "homeroom_teacher_id",
            req.homeroom_teacher_id,
        )?;
        after.homeroom_teacher_id = req.homeroom_teacher_id;
    }
    if let Some(v) = req.active {
        after.active = v;
    }
    after.updated_at = Utc::now();
    diesel::update(classes::table.find((auth.school_id, id)))
        .set(&after)
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "class", id)
        .updated(conn, &before, &after)?;
    Ok(after)
}

/// Deletes class `id` (admin), with its audit row.
///
/// Errors: 404 unknown class; 422 `reference_invalid` while it has enrolments or registers.
pub fn delete_class(conn: &mut PgConnection, auth: &AuthUser, id: Uuid) -> ApiResult<()> {
    let before = repo::class(conn, auth.school_id, id).map_err(not_found("class"))?;
    diesel::delete(classes::table.find((auth.school_id, id))).execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "class", id).deleted(conn, &before)?;
    Ok(())
}

/// Assigns teacher `teacher_id` to class `class_id` (admin), with what they teach there
/// (`subject`: `None` keeps an existing assignment's subject, empty clears it), audited.
/// Idempotent: the same assignment again changes nothing.
///
/// Errors: 404 unknown class; validation naming `teacher_id` (not a teacher of the school) or
/// `subject` (over 100 characters, or NUL).
pub fn assign_teacher(
    conn: &mut PgConnection,
    auth: &AuthUser,
    class_id: Uuid,
    teacher_id: Uuid,
    subject: Option<&str>,
) -> ApiResult<()> {
    repo::class(conn, auth.school_id, class_id).map_err(not_found("class"))?;
    check_teacher(conn, auth.school_id, "teacher_id", Some(teacher_id))?;
    let subject = match subject.map(str::trim) {
        None => None,
        Some("") => Some(None),
        Some(s) => Some(Some(validate::text("subject", s, 100)?)),
    };
    let audit = AuditEntry::new(
        auth.school_id,
        Actor::from(auth),
        "class_teacher",
        format!("{class_id}/{teacher_id}"),
    );
    if let Some(before) = repo::class_teacher(conn, auth.school_id, class_id, teacher_id)? {
        let Some(subject) = subject.filter(|s| *s != before.subject) else {
            return Ok(());
        };
        let after = ClassTeacherRow {
            subject,
            ..before.clone()
        };
        diesel::update(class_teachers::table.find((auth.school_id, class_id, teacher_id)))
            .set(class_teachers::subject.eq(&after.subject))
            .execute(conn)?;
        audit.updated(conn, &before, &after)?;
        return Ok(());
    }
    let row = ClassTeacherRow {
        school_id: auth.school_id,
        class_id,
        teacher_id,
        is_primary: false,
        sourced_id: None,
        created_at: Utc::now(),
        subject: subject.flatten(),
    };
    diesel::insert_into(class_teachers::table)
        .values(&row)
        .execute(conn)?;
    audit.created(conn, &row)?;
    Ok(())
}

/// Removes a teacher from a class (admin; idempotent), with its audit row.
pub fn unassign_teacher(
    conn: &mut PgConnection,
    auth: &AuthUser,
    class_id: Uuid,
    teacher_id: Uuid,
) -> ApiResult<()> {
    if let Some(before) = repo::class_teacher(conn, auth.school_id, class_id, teacher_id)? {
        diesel::delete(class_teachers::table.find((auth.school_id, class_id, teacher_id)))
            .execute(conn)?;
        AuditEntry::new(
            auth.school_id,
            Actor::from(auth),
            "class_teacher",
            format!("{class_id}/{teacher_id}"),
        )
        .deleted(conn, &before)?;
    }
    Ok(())
}
