//! Admitting, changing and removing students.

use super::*;

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

/// Removes student `id` (office), with its audit row.
///
/// Errors: 404 unknown student; 422 `reference_invalid` while invoices or marks refer to them.
pub fn delete_student(conn: &mut PgConnection, auth: &AuthUser, id: Uuid) -> ApiResult<()> {
    let before = repo::student(conn, auth.school_id, id).map_err(not_found("student"))?;
    diesel::delete(students::table.find((auth.school_id, id))).execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "student", id).deleted(conn, &before)?;
    Ok(())
}
