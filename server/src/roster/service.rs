//! Roster changes shared by the REST handlers and sync mutations (ARCHITECTURE.md §6), each inside the
//! caller's transaction with its audit row.

use chrono::DateTime;
use chrono::Utc;
use daftar_client_core::protocol::{
    CreateStudentRequest, UpdateGuardianRequest, UpdateStudentRequest,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::models::{GuardianRow, StudentRow};
use super::repo;
use crate::audit::{Actor, AuditEntry};
use crate::auth::AuthUser;
use crate::errors::{ApiError, ApiResult};
use crate::schema::{guardians, students};
use crate::validate;

/// A validated, not yet inserted student row from `req` (active, created `now`). Validation
/// errors name the field with `prefix` in front (`admission_no`, or `args.student.admission_no`
/// for a sync op): admission number ≤ 50 characters, names ≤ 100, gender ≤ 20.
pub fn new_student_row(
    school_id: Uuid,
    id: Uuid,
    family_id: Uuid,
    req: &CreateStudentRequest,
    prefix: &str,
    now: DateTime<Utc>,
) -> ApiResult<StudentRow> {
    let f = |name: &str| format!("{prefix}{name}");
    Ok(StudentRow {
        school_id,
        id,
        family_id,
        admission_no: validate::text(&f("admission_no"), &req.admission_no, 50)?,
        given_name: validate::text(&f("given_name"), &req.given_name, 100)?,
        family_name: validate::text(&f("family_name"), &req.family_name, 100)?,
        date_of_birth: req.date_of_birth,
        gender: validate::opt_text(&f("gender"), req.gender.as_deref(), 20)?,
        grade: req.grade.trim().to_string(),
        email: None,
        active: true,
        sourced_id: None,
        created_at: now,
        updated_at: now,
    })
}

/// Changes the fields present in `req` of student `id` (office). Errors: 404 unknown student;
/// validation naming the field (`family_id`, `admission_no`, `given_name`, …).
pub fn update_student(
    conn: &mut PgConnection,
    auth: &AuthUser,
    id: Uuid,
    req: UpdateStudentRequest,
) -> ApiResult<StudentRow> {
    let before = repo::student(conn, auth.school_id, id).map_err(not_found("student"))?;
    let mut after = before.clone();
    if let Some(f) = req.family_id {
        repo::family(conn, auth.school_id, f)
            .map_err(|_| ApiError::validation("family_id", "no such family in this school"))?;
        after.family_id = f;
    }
    if let Some(v) = req.admission_no {
        after.admission_no = validate::text("admission_no", &v, 50)?;
    }
    if let Some(v) = req.given_name {
        after.given_name = validate::text("given_name", &v, 100)?;
    }
    if let Some(v) = req.family_name {
        after.family_name = validate::text("family_name", &v, 100)?;
    }
    if req.date_of_birth.is_some() {
        after.date_of_birth = req.date_of_birth;
    }
    if let Some(v) = req.gender {
        after.gender = validate::opt_text("gender", Some(&v), 20)?;
    }
    if let Some(v) = req.grade {
        after.grade = v.trim().to_string();
    }
    if let Some(v) = req.active {
        after.active = v;
    }
    after.updated_at = Utc::now();
    diesel::update(students::table.find((auth.school_id, id)))
        .set(&after)
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "student", id)
        .updated(conn, &before, &after)?;
    Ok(after)
}

/// Changes the fields present in `req` of guardian `id` (office). Errors: 404 unknown
/// guardian; validation naming the field (`family_id`, `user_id`, `phone`, `email`, …).
pub fn update_guardian(
    conn: &mut PgConnection,
    auth: &AuthUser,
    id: Uuid,
    req: UpdateGuardianRequest,
) -> ApiResult<GuardianRow> {
    let before = repo::guardian(conn, auth.school_id, id).map_err(not_found("guardian"))?;
    let mut after = before.clone();
    if let Some(f) = req.family_id {
        repo::family(conn, auth.school_id, f)
            .map_err(|_| ApiError::validation("family_id", "no such family in this school"))?;
        after.family_id = f;
    }
    if req.user_id.is_some() {
        check_parent_user(conn, auth.school_id, req.user_id)?;
        after.user_id = req.user_id;
    }
    if let Some(v) = req.given_name {
        after.given_name = validate::text("given_name", &v, 100)?;
    }
    if let Some(v) = req.family_name {
        after.family_name = validate::text("family_name", &v, 100)?;
    }
    if let Some(v) = req.relationship {
        after.relationship = validate::text("relationship", &v, 50)?;
    }
    if let Some(v) = req.phone {
        after.phone = validate::phone("phone", Some(&v))?;
    }
    if let Some(v) = req.email {
        after.email = validate::email("email", Some(&v))?;
    }
    if let Some(v) = req.active {
        after.active = v;
    }
    after.updated_at = Utc::now();
    diesel::update(guardians::table.find((auth.school_id, id)))
        .set(&after)
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "guardian", id)
        .updated(conn, &before, &after)?;
    Ok(after)
}

/// Maps a Diesel "not found" to 404 naming `entity`; other errors map as usual.
pub(crate) fn not_found(entity: &'static str) -> impl FnOnce(diesel::result::Error) -> ApiError {
    move |e| match e {
        diesel::result::Error::NotFound => ApiError::NotFound(entity),
        other => other.into(),
    }
}

/// Ok when `user_id` is absent or names a user of the school with the parent role (a guardian
/// may be linked only to a parent login).
///
/// Errors: validation naming `user_id`.
pub(crate) fn check_parent_user(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Option<Uuid>,
) -> ApiResult<()> {
    if let Some(u) = user_id {
        let user = repo::user(conn, school_id, u)
            .map_err(|_| ApiError::validation("user_id", "no such user in this school"))?;
        if user.role() != daftar_client_core::protocol::Role::Parent {
            return Err(ApiError::validation(
                "user_id",
                "must be a user with the parent role",
            ));
        }
    }
    Ok(())
}
