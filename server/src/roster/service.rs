//! Roster changes shared by the REST handlers and sync mutations (ARCHITECTURE.md §6), each inside the
//! caller's transaction with its audit row.

use chrono::DateTime;
use chrono::Utc;
use daftar_client_core::protocol::{
    CreateStudentRequest, UpdateGuardianRequest, UpdateStudentRequest,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::models::{FamilyRow, GuardianRow, StudentRow};
use super::repo;
use crate::audit::{Actor, AuditEntry};
use crate::auth::AuthUser;
use crate::errors::{ApiError, ApiResult};
use crate::schema::{enrollments, families, guardians, students};
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

/// The family an admitted student joins.
#[derive(Debug, Clone)]
pub enum AdmissionFamily {
    /// A family of the school.
    Existing(Uuid),
    /// A family created with the admission (`id` made by the caller or the device).
    New { id: Uuid, name: String },
}

/// One admission: the student (validated by [`new_student_row`]), the family they join, and
/// optionally the class they are enrolled in from `enrolled_on` (open-ended when `None`).
#[derive(Debug, Clone)]
pub struct Admission<'a> {
    pub student_id: Uuid,
    pub student: &'a CreateStudentRequest,
    pub family: AdmissionFamily,
    pub class_id: Option<Uuid>,
    pub enrolled_on: Option<chrono::NaiveDate>,
    /// Where the request puts things, for naming fields in errors.
    pub fields: AdmissionFields<'a>,
}

/// The request's names of an admission's fields (REST and a sync op differ).
#[derive(Debug, Clone, Copy)]
pub struct AdmissionFields<'a> {
    /// In front of each student field (`""`, or `args.student.`).
    pub student_prefix: &'a str,
    pub family_id: &'a str,
    pub new_family_name: &'a str,
    pub class_id: &'a str,
}

impl AdmissionFields<'static> {
    /// `POST /api/v1/students`.
    pub const REST: AdmissionFields<'static> = AdmissionFields {
        student_prefix: "",
        family_id: "family_id",
        new_family_name: "family_name",
        class_id: "class_id",
    };
    /// The `student.admit@1` sync mutation.
    pub const SYNC: AdmissionFields<'static> = AdmissionFields {
        student_prefix: "args.student.",
        family_id: "args.student.family_id",
        new_family_name: "args.new_family.name",
        class_id: "args.class_id",
    };
}

/// Admits a student inside the caller's transaction: creates the new family if asked (unless
/// it already exists, as when a device's op is sent again), the student, and the enrolment,
/// each with its audit row. REST (`POST /students`) and the `student.admit@1` sync mutation
/// both admit through it.
///
/// Errors: validation naming the family, new family name, class or a student field (as
/// [`AdmissionFields`] spells them); 409 when the student id or admission number is taken.
pub fn admit_student(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    a: &Admission<'_>,
) -> ApiResult<StudentRow> {
    let now = Utc::now();
    let family_id = match &a.family {
        AdmissionFamily::Existing(id) => {
            repo::family(conn, school_id, *id).map_err(|_| {
                ApiError::validation(a.fields.family_id, "no such family in this school")
            })?;
            *id
        }
        AdmissionFamily::New { id, name } => {
            if repo::family(conn, school_id, *id).optional()?.is_none() {
                let fam = FamilyRow {
                    school_id,
                    id: *id,
                    name: validate::text(a.fields.new_family_name, name, 200)?,
                    active: true,
                    created_at: now,
                    updated_at: now,
                };
                diesel::insert_into(families::table)
                    .values(&fam)
                    .execute(conn)?;
                AuditEntry::new(school_id, actor, "family", fam.id).created(conn, &fam)?;
            }
            *id
        }
    };
    let row = new_student_row(
        school_id,
        a.student_id,
        family_id,
        a.student,
        a.fields.student_prefix,
        now,
    )?;
    diesel::insert_into(students::table)
        .values(&row)
        .execute(conn)?;
    AuditEntry::new(school_id, actor, "student", row.id).created(conn, &row)?;
    if let Some(class_id) = a.class_id {
        repo::class(conn, school_id, class_id)
            .map_err(|_| ApiError::validation(a.fields.class_id, "no such class in this school"))?;
        let id = Uuid::now_v7();
        diesel::insert_into(enrollments::table)
            .values((
                enrollments::school_id.eq(school_id),
                enrollments::id.eq(id),
                enrollments::class_id.eq(class_id),
                enrollments::student_id.eq(row.id),
                enrollments::starts_on.eq(a.enrolled_on),
                enrollments::active.eq(true),
            ))
            .execute(conn)?;
        AuditEntry::new(school_id, actor, "enrollment", id).created(
            conn,
            &serde_json::json!({ "class_id": class_id, "student_id": row.id }),
        )?;
    }
    Ok(row)
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
