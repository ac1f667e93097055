//! Roster endpoints under `/api/v1`. Thin: parse, check role and scope, call the
//! repo in one transaction (with its audit row), answer.

use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use chrono::Utc;
use daftar_client_core::protocol::{
    AcademicYear, Class, CreateAcademicYearRequest, CreateClassRequest, CreateEnrollmentRequest,
    CreateFamilyRequest, CreateGuardianRequest, CreateStudentRequest, CreateUserRequest,
    Enrollment, Family, FamilyDetail, Guardian, ListQuery, Page, Problem, Role, School, Student,
    TeacherAssignment, Term, UpdateClassRequest, UpdateFamilyRequest, UpdateGuardianRequest,
    UpdateStudentRequest, UpdateUserRequest, User,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::models::*;
use super::repo::{self, Filter};
use super::service::{
    admit_student, check_parent_user, not_found, Admission, AdmissionFamily, AdmissionFields,
};
use crate::access::Scope;
use crate::audit::{Actor, AuditEntry};
use crate::auth::{password, AuthUser};
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};
use crate::json::Json;
use crate::schema::{
    academic_years, class_teachers, classes, enrollments, families, guardians, schools, students,
    terms, users,
};
use crate::tenancy::{SchoolRow, UserRow};
use crate::validate;

/// Largest page a listing returns.
pub const MAX_PAGE: i64 = 500;
/// Page size when `limit` is not given.
pub const DEFAULT_PAGE: i64 = 50;

fn paging(q: &ListQuery) -> ApiResult<(i64, i64)> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        ));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::validation("offset", "must not be negative"));
    }
    Ok((limit, offset))
}

fn page<R, T: From<R>>((rows, total): repo::Paged<R>, limit: i64, offset: i64) -> Page<T> {
    Page {
        items: rows.into_iter().map(T::from).collect(),
        total,
        limit,
        offset,
    }
}

fn filter_from(q: ListQuery) -> Filter {
    Filter {
        q: q.q,
        class_id: q.class_id,
        family_id: q.family_id,
        student_id: q.student_id,
        ..Filter::default()
    }
}

/// Restricts a student listing to what the caller may see ([`Scope`]).
fn scope_students(conn: &mut PgConnection, auth: &AuthUser, f: &mut Filter) -> ApiResult<()> {
    match Scope::of(conn, auth)? {
        Scope::School => {}
        Scope::Classes { student_ids, .. } => f.within_ids = Some(student_ids),
        Scope::Families { family_ids, .. } => f.within_families = Some(family_ids),
    }
    Ok(())
}

fn ensure_family_visible(
    conn: &mut PgConnection,
    auth: &AuthUser,
    family_id: Uuid,
) -> ApiResult<()> {
    Scope::of(conn, auth)?.require_family(family_id)
}

fn ensure_class_visible(conn: &mut PgConnection, auth: &AuthUser, class_id: Uuid) -> ApiResult<()> {
    Scope::of(conn, auth)?.require_class(class_id)
}

fn ensure_student_visible(
    conn: &mut PgConnection,
    auth: &AuthUser,
    s: &StudentRow,
) -> ApiResult<()> {
    Scope::of(conn, auth)?.require_student(s.id, s.family_id)
}

// ----- school & terms ---------------------------------------------------------------------

/// The caller's school.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = School), (status = 401, body = Problem)))]
#[get("/school")]
pub async fn get_school(db: web::Data<Db>, auth: AuthUser) -> ApiResult<web::Json<School>> {
    let school = db
        .run(move |conn| {
            let row = schools::table
                .find(auth.school_id)
                .select(SchoolRow::as_select())
                .first(conn)?;
            let max = crate::tenancy::max_amount(conn, auth.school_id)?;
            Ok(row.into_wire(max))
        })
        .await?;
    Ok(web::Json(school))
}

/// The school's terms, by start date.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = Vec<Term>), (status = 401, body = Problem)))]
#[get("/terms")]
pub async fn list_terms(db: web::Data<Db>, auth: AuthUser) -> ApiResult<web::Json<Vec<Term>>> {
    let rows = db
        .run(move |conn| Ok(repo::list_terms(conn, auth.school_id)?))
        .await?;
    Ok(web::Json(rows.into_iter().map(Term::from).collect()))
}

/// The school's academic years with their terms, newest first.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = Vec<AcademicYear>), (status = 401, body = Problem)))]
#[get("/academic-years")]
pub async fn list_academic_years(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<Vec<AcademicYear>>> {
    let (years, terms) = db
        .run(move |conn| {
            Ok((
                repo::list_academic_years(conn, auth.school_id)?,
                repo::list_terms(conn, auth.school_id)?,
            ))
        })
        .await?;
    Ok(web::Json(
        years
            .into_iter()
            .map(|y| AcademicYear {
                terms: terms
                    .iter()
                    .filter(|t| t.academic_year_id == y.id)
                    .cloned()
                    .map(Term::from)
                    .collect(),
                id: y.id,
                name: y.name,
                starts_on: y.starts_on,
                ends_on: y.ends_on,
            })
            .collect(),
    ))
}

/// Create an academic year and its terms (admin). Terms must lie within the year and not
/// overlap each other.
#[utoipa::path(tag = "roster", request_body = CreateAcademicYearRequest, security(("bearer" = [])),
    responses((status = 201, body = AcademicYear), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/academic-years")]
pub async fn create_academic_year(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateAcademicYearRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let req = body.into_inner();
    if req.ends_on < req.starts_on {
        return Err(ApiError::validation(
            "ends_on",
            "must not be before starts_on",
        ));
    }
    let now = Utc::now();
    let year = AcademicYearRow {
        school_id: auth.school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        name: validate::text("name", &req.name, 100)?,
        starts_on: req.starts_on,
        ends_on: req.ends_on,
        sourced_id: None,
        created_at: now,
    };
    let mut term_rows: Vec<TermRow> = Vec::new();
    for (i, t) in req.terms.iter().enumerate() {
        let field = |f: &str| format!("terms[{i}].{f}");
        if t.ends_on < t.starts_on {
            return Err(ApiError::validation(
                field("ends_on"),
                "must not be before starts_on",
            ));
        }
        if t.starts_on < year.starts_on || t.ends_on > year.ends_on {
            return Err(ApiError::validation(
                field("starts_on"),
                "term must lie within the academic year",
            ));
        }
        if term_rows
            .iter()
            .any(|o| t.starts_on <= o.ends_on && o.starts_on <= t.ends_on)
        {
            return Err(ApiError::validation(
                field("starts_on"),
                "overlaps another term",
            ));
        }
        term_rows.push(TermRow {
            school_id: auth.school_id,
            id: Uuid::now_v7(),
            academic_year_id: year.id,
            name: validate::text(&field("name"), &t.name, 100)?,
            starts_on: t.starts_on,
            ends_on: t.ends_on,
            active: true,
            sourced_id: None,
            created_at: now,
        });
    }
    let (year, term_rows) = db
        .transaction(move |conn| {
            diesel::insert_into(academic_years::table)
                .values(&year)
                .execute(conn)?;
            diesel::insert_into(terms::table)
                .values(&term_rows)
                .execute(conn)?;
            let entry =
                AuditEntry::new(auth.school_id, Actor::from(&auth), "academic_year", year.id);
            entry.created(conn, &(&year, &term_rows))?;
            Ok((year, term_rows))
        })
        .await?;
    Ok(HttpResponse::Created().json(AcademicYear {
        id: year.id,
        name: year.name,
        starts_on: year.starts_on,
        ends_on: year.ends_on,
        terms: term_rows.into_iter().map(Term::from).collect(),
    }))
}

// ----- students ---------------------------------------------------------------------------

/// Students the caller may see; `q` searches names and admission number, `class_id` and
/// `family_id` narrow. Teachers see their classes' students, parents their own children.
#[utoipa::path(tag = "roster", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Student>), (status = 401, body = Problem), (status = 422, body = Problem)))]
#[get("/students")]
pub async fn list_students(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<ListQuery>,
) -> ApiResult<web::Json<Page<Student>>> {
    let (limit, offset) = paging(&q)?;
    let mut f = filter_from(q.into_inner());
    let rows = db
        .run(move |conn| {
            scope_students(conn, &auth, &mut f)?;
            Ok(repo::list_students(
                conn,
                auth.school_id,
                &f,
                limit,
                offset,
            )?)
        })
        .await?;
    Ok(web::Json(page(rows, limit, offset)))
}

/// One student (scope-checked: 403 outside the caller's classes or family).
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = Student), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/students/{id}")]
pub async fn get_student(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Student>> {
    let id = id.into_inner();
    let row = db
        .run(move |conn| {
            let s = repo::student(conn, auth.school_id, id).map_err(not_found("student"))?;
            ensure_student_visible(conn, &auth, &s)?;
            Ok(s)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Admit a student (office). Without `family_id` a new family named after the student is
/// created in the same transaction.
#[utoipa::path(tag = "roster", request_body = CreateStudentRequest, security(("bearer" = [])),
    responses((status = 201, body = Student), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/students")]
pub async fn create_student(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateStudentRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let req = body.into_inner();
    let row = db
        .transaction(move |conn| {
            let family = match req.family_id {
                Some(f) => AdmissionFamily::Existing(f),
                None => AdmissionFamily::New {
                    id: Uuid::now_v7(),
                    name: format!("{} family", req.family_name.trim()),
                },
            };
            admit_student(
                conn,
                auth.school_id,
                Actor::from(&auth),
                &Admission {
                    student_id: req.id.unwrap_or_else(Uuid::now_v7),
                    student: &req,
                    family,
                    class_id: None,
                    enrolled_on: None,
                    fields: AdmissionFields::REST,
                },
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(Student::from(row)))
}

/// Change a student's fields (office); only fields present change.
#[utoipa::path(tag = "roster", request_body = UpdateStudentRequest, security(("bearer" = [])),
    responses((status = 200, body = Student), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/students/{id}")]
pub async fn update_student(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<UpdateStudentRequest>,
) -> ApiResult<web::Json<Student>> {
    auth.require_office()?;
    let (id, req) = (id.into_inner(), body.into_inner());
    let row = db
        .transaction(move |conn| super::service::update_student(conn, &auth, id, req))
        .await?;
    Ok(web::Json(row.into()))
}

/// Delete a student (office). Refused (422 `reference_invalid`) while enrollments refer to it;
/// deactivate with PATCH `active=false` instead.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[delete("/students/{id}")]
pub async fn delete_student(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let id = id.into_inner();
    db.transaction(move |conn| {
        let before = repo::student(conn, auth.school_id, id).map_err(not_found("student"))?;
        diesel::delete(students::table.find((auth.school_id, id))).execute(conn)?;
        AuditEntry::new(auth.school_id, Actor::from(&auth), "student", id)
            .deleted(conn, &before)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ----- families ---------------------------------------------------------------------------

/// Families (office: all; parent: their own).
#[utoipa::path(tag = "roster", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Family>), (status = 403, body = Problem)))]
#[get("/families")]
pub async fn list_families(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<ListQuery>,
) -> ApiResult<web::Json<Page<Family>>> {
    auth.require(&[Role::Admin, Role::Accountant, Role::Parent])?;
    let (limit, offset) = paging(&q)?;
    let mut f = filter_from(q.into_inner());
    let rows = db
        .run(move |conn| {
            if let Some(families) = Scope::of(conn, &auth)?.families() {
                f.within_families = Some(families.to_vec());
            }
            Ok(repo::list_families(
                conn,
                auth.school_id,
                &f,
                limit,
                offset,
            )?)
        })
        .await?;
    Ok(web::Json(page(rows, limit, offset)))
}

/// A family with its students and guardians (office, or a parent of that family).
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = FamilyDetail), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/families/{id}")]
pub async fn get_family(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<FamilyDetail>> {
    let id = id.into_inner();
    let detail = db
        .run(move |conn| {
            let fam = repo::family(conn, auth.school_id, id).map_err(not_found("family"))?;
            ensure_family_visible(conn, &auth, id)?;
            let f = Filter {
                family_id: Some(id),
                ..Filter::default()
            };
            let (students, _) = repo::list_students(conn, auth.school_id, &f, MAX_PAGE, 0)?;
            let (guardians, _) = repo::list_guardians(conn, auth.school_id, &f, MAX_PAGE, 0)?;
            Ok(FamilyDetail {
                family: fam.into(),
                students: students.into_iter().map(Student::from).collect(),
                guardians: guardians.into_iter().map(Guardian::from).collect(),
            })
        })
        .await?;
    Ok(web::Json(detail))
}

/// Create a family (office).
#[utoipa::path(tag = "roster", request_body = CreateFamilyRequest, security(("bearer" = [])),
    responses((status = 201, body = Family), (status = 422, body = Problem)))]
#[post("/families")]
pub async fn create_family(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateFamilyRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let now = Utc::now();
    let row = FamilyRow {
        school_id: auth.school_id,
        id: body.id.unwrap_or_else(Uuid::now_v7),
        name: validate::text("name", &body.name, 200)?,
        active: true,
        created_at: now,
        updated_at: now,
    };
    let row = db
        .transaction(move |conn| {
            diesel::insert_into(families::table)
                .values(&row)
                .execute(conn)?;
            AuditEntry::new(auth.school_id, Actor::from(&auth), "family", row.id)
                .created(conn, &row)?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(Family::from(row)))
}

/// Rename or (de)activate a family (office).
#[utoipa::path(tag = "roster", request_body = UpdateFamilyRequest, security(("bearer" = [])),
    responses((status = 200, body = Family), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/families/{id}")]
pub async fn update_family(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<UpdateFamilyRequest>,
) -> ApiResult<web::Json<Family>> {
    auth.require_office()?;
    let (id, req) = (id.into_inner(), body.into_inner());
    let row = db
        .transaction(move |conn| {
            let before = repo::family(conn, auth.school_id, id).map_err(not_found("family"))?;
            let mut after = before.clone();
            if let Some(v) = req.name {
                after.name = validate::text("name", &v, 200)?;
            }
            if let Some(v) = req.active {
                after.active = v;
            }
            after.updated_at = Utc::now();
            diesel::update(families::table.find((auth.school_id, id)))
                .set(&after)
                .execute(conn)?;
            AuditEntry::new(auth.school_id, Actor::from(&auth), "family", id)
                .updated(conn, &before, &after)?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Delete an empty family (office); 422 while students or guardians belong to it.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[delete("/families/{id}")]
pub async fn delete_family(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let id = id.into_inner();
    db.transaction(move |conn| {
        let before = repo::family(conn, auth.school_id, id).map_err(not_found("family"))?;
        diesel::delete(families::table.find((auth.school_id, id))).execute(conn)?;
        AuditEntry::new(auth.school_id, Actor::from(&auth), "family", id).deleted(conn, &before)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ----- guardians --------------------------------------------------------------------------

/// Guardians (office: all; parent: their own family's).
#[utoipa::path(tag = "roster", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Guardian>), (status = 403, body = Problem)))]
#[get("/guardians")]
pub async fn list_guardians(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<ListQuery>,
) -> ApiResult<web::Json<Page<Guardian>>> {
    auth.require(&[Role::Admin, Role::Accountant, Role::Parent])?;
    let (limit, offset) = paging(&q)?;
    let mut f = filter_from(q.into_inner());
    let rows = db
        .run(move |conn| {
            if let Some(families) = Scope::of(conn, &auth)?.families() {
                f.within_families = Some(families.to_vec());
            }
            Ok(repo::list_guardians(
                conn,
                auth.school_id,
                &f,
                limit,
                offset,
            )?)
        })
        .await?;
    Ok(web::Json(page(rows, limit, offset)))
}

/// One guardian (office, or a parent of the same family).
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = Guardian), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/guardians/{id}")]
pub async fn get_guardian(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Guardian>> {
    let id = id.into_inner();
    let row = db
        .run(move |conn| {
            let g = repo::guardian(conn, auth.school_id, id).map_err(not_found("guardian"))?;
            ensure_family_visible(conn, &auth, g.family_id)?;
            Ok(g)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Add a guardian to a family (office). `user_id` links a parent login.
#[utoipa::path(tag = "roster", request_body = CreateGuardianRequest, security(("bearer" = [])),
    responses((status = 201, body = Guardian), (status = 422, body = Problem)))]
#[post("/guardians")]
pub async fn create_guardian(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateGuardianRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let req = body.into_inner();
    let now = Utc::now();
    let row = GuardianRow {
        school_id: auth.school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        family_id: req.family_id,
        user_id: req.user_id,
        given_name: validate::text("given_name", &req.given_name, 100)?,
        family_name: validate::text("family_name", &req.family_name, 100)?,
        relationship: validate::opt_text("relationship", req.relationship.as_deref(), 50)?
            .unwrap_or_else(|| "guardian".into()),
        phone: validate::phone("phone", req.phone.as_deref())?,
        email: validate::email("email", req.email.as_deref())?,
        active: true,
        sourced_id: None,
        created_at: now,
        updated_at: now,
    };
    let row = db
        .transaction(move |conn| {
            repo::family(conn, auth.school_id, row.family_id)
                .map_err(|_| ApiError::validation("family_id", "no such family in this school"))?;
            check_parent_user(conn, auth.school_id, row.user_id)?;
            diesel::insert_into(guardians::table)
                .values(&row)
                .execute(conn)?;
            AuditEntry::new(auth.school_id, Actor::from(&auth), "guardian", row.id)
                .created(conn, &row)?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(Guardian::from(row)))
}

/// Change a guardian (office).
#[utoipa::path(tag = "roster", request_body = UpdateGuardianRequest, security(("bearer" = [])),
    responses((status = 200, body = Guardian), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/guardians/{id}")]
pub async fn update_guardian(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<UpdateGuardianRequest>,
) -> ApiResult<web::Json<Guardian>> {
    auth.require_office()?;
    let (id, req) = (id.into_inner(), body.into_inner());
    let row = db
        .transaction(move |conn| super::service::update_guardian(conn, &auth, id, req))
        .await?;
    Ok(web::Json(row.into()))
}

/// Remove a guardian (office).
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
#[delete("/guardians/{id}")]
pub async fn delete_guardian(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let id = id.into_inner();
    db.transaction(move |conn| {
        let before = repo::guardian(conn, auth.school_id, id).map_err(not_found("guardian"))?;
        diesel::delete(guardians::table.find((auth.school_id, id))).execute(conn)?;
        AuditEntry::new(auth.school_id, Actor::from(&auth), "guardian", id)
            .deleted(conn, &before)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ----- classes ----------------------------------------------------------------------------

/// Classes the caller may see (office: all; teacher: assigned; parent: their children's).
#[utoipa::path(tag = "roster", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Class>), (status = 401, body = Problem)))]
#[get("/classes")]
pub async fn list_classes(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<ListQuery>,
) -> ApiResult<web::Json<Page<Class>>> {
    let (limit, offset) = paging(&q)?;
    let mut f = filter_from(q.into_inner());
    let rows = db
        .run(move |conn| {
            f.within_ids = Scope::of(conn, &auth)?.classes().map(<[Uuid]>::to_vec);
            Ok(repo::list_classes(conn, auth.school_id, &f, limit, offset)?)
        })
        .await?;
    Ok(web::Json(page(rows, limit, offset)))
}

/// One class (scope-checked).
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = Class), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/classes/{id}")]
pub async fn get_class(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Class>> {
    let id = id.into_inner();
    let row = db
        .run(move |conn| {
            let c = repo::class(conn, auth.school_id, id).map_err(not_found("class"))?;
            ensure_class_visible(conn, &auth, id)?;
            Ok(c)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// The class roster: students actively enrolled (office and the class's teachers).
#[utoipa::path(tag = "roster", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Student>), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/classes/{id}/students")]
pub async fn class_roster(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    q: crate::query::Query<ListQuery>,
) -> ApiResult<web::Json<Page<Student>>> {
    auth.require(&[Role::Admin, Role::Accountant, Role::Teacher])?;
    let id = id.into_inner();
    let (limit, offset) = paging(&q)?;
    let mut f = filter_from(q.into_inner());
    f.class_id = Some(id);
    let rows = db
        .run(move |conn| {
            repo::class(conn, auth.school_id, id).map_err(not_found("class"))?;
            ensure_class_visible(conn, &auth, id)?;
            Ok(repo::list_students(
                conn,
                auth.school_id,
                &f,
                limit,
                offset,
            )?)
        })
        .await?;
    Ok(web::Json(page(rows, limit, offset)))
}

fn check_teacher(
    conn: &mut PgConnection,
    school_id: Uuid,
    field: &str,
    teacher_id: Option<Uuid>,
) -> ApiResult<()> {
    if let Some(t) = teacher_id {
        let u = repo::user(conn, school_id, t)
            .map_err(|_| ApiError::validation(field, "no such user in this school"))?;
        if u.role() != Role::Teacher && u.role() != Role::Admin {
            return Err(ApiError::validation(field, "must be a teacher"));
        }
    }
    Ok(())
}

/// Create a class (admin).
#[utoipa::path(tag = "roster", request_body = CreateClassRequest, security(("bearer" = [])),
    responses((status = 201, body = Class), (status = 422, body = Problem)))]
#[post("/classes")]
pub async fn create_class(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateClassRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let req = body.into_inner();
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
    let row = db
        .transaction(move |conn| {
            check_teacher(
                conn,
                auth.school_id,
                "homeroom_teacher_id",
                row.homeroom_teacher_id,
            )?;
            diesel::insert_into(classes::table)
                .values(&row)
                .execute(conn)?;
            AuditEntry::new(auth.school_id, Actor::from(&auth), "class", row.id)
                .created(conn, &row)?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(Class::from(row)))
}

/// Change a class (admin).
#[utoipa::path(tag = "roster", request_body = UpdateClassRequest, security(("bearer" = [])),
    responses((status = 200, body = Class), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/classes/{id}")]
pub async fn update_class(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<UpdateClassRequest>,
) -> ApiResult<web::Json<Class>> {
    auth.require_admin()?;
    let (id, req) = (id.into_inner(), body.into_inner());
    let row = db
        .transaction(move |conn| {
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
            AuditEntry::new(auth.school_id, Actor::from(&auth), "class", id)
                .updated(conn, &before, &after)?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Delete a class with no enrollments (admin); teacher assignments go with it.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[delete("/classes/{id}")]
pub async fn delete_class(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let id = id.into_inner();
    db.transaction(move |conn| {
        let before = repo::class(conn, auth.school_id, id).map_err(not_found("class"))?;
        diesel::delete(classes::table.find((auth.school_id, id))).execute(conn)?;
        AuditEntry::new(auth.school_id, Actor::from(&auth), "class", id).deleted(conn, &before)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ----- teacher assignments ----------------------------------------------------------------

/// Teachers assigned to a class (office and that class's teachers).
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = Vec<TeacherAssignment>), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/classes/{id}/teachers")]
pub async fn list_class_teachers(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<Vec<TeacherAssignment>>> {
    auth.require(&[Role::Admin, Role::Accountant, Role::Teacher])?;
    let id = id.into_inner();
    let rows = db
        .run(move |conn| {
            repo::class(conn, auth.school_id, id).map_err(not_found("class"))?;
            ensure_class_visible(conn, &auth, id)?;
            Ok(repo::class_teachers(conn, auth.school_id, id)?)
        })
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|(r, display_name)| TeacherAssignment {
                class_id: r.class_id,
                teacher_id: r.teacher_id,
                display_name,
                is_primary: r.is_primary,
            })
            .collect(),
    ))
}

/// Assign a teacher to a class (admin). Idempotent.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[put("/classes/{id}/teachers/{teacher_id}")]
pub async fn assign_teacher(
    db: web::Data<Db>,
    auth: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let (class_id, teacher_id) = path.into_inner();
    db.transaction(move |conn| {
        repo::class(conn, auth.school_id, class_id).map_err(not_found("class"))?;
        check_teacher(conn, auth.school_id, "teacher_id", Some(teacher_id))?;
        if repo::class_teacher(conn, auth.school_id, class_id, teacher_id)?.is_some() {
            return Ok(());
        }
        let row = ClassTeacherRow {
            school_id: auth.school_id,
            class_id,
            teacher_id,
            is_primary: false,
            sourced_id: None,
            created_at: Utc::now(),
        };
        diesel::insert_into(class_teachers::table)
            .values(&row)
            .execute(conn)?;
        AuditEntry::new(
            auth.school_id,
            Actor::from(&auth),
            "class_teacher",
            format!("{class_id}/{teacher_id}"),
        )
        .created(conn, &row)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Unassign a teacher from a class (admin). Idempotent.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem)))]
#[delete("/classes/{id}/teachers/{teacher_id}")]
pub async fn unassign_teacher(
    db: web::Data<Db>,
    auth: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let (class_id, teacher_id) = path.into_inner();
    db.transaction(move |conn| {
        if let Some(before) = repo::class_teacher(conn, auth.school_id, class_id, teacher_id)? {
            diesel::delete(class_teachers::table.find((auth.school_id, class_id, teacher_id)))
                .execute(conn)?;
            AuditEntry::new(
                auth.school_id,
                Actor::from(&auth),
                "class_teacher",
                format!("{class_id}/{teacher_id}"),
            )
            .deleted(conn, &before)?;
        }
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ----- enrollments ------------------------------------------------------------------------

/// Enrollments (office: all; teacher: their classes'; parent: their children's); narrow with
/// `class_id` / `student_id`.
#[utoipa::path(tag = "roster", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<Enrollment>)))]
#[get("/enrollments")]
pub async fn list_enrollments(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<ListQuery>,
) -> ApiResult<web::Json<Page<Enrollment>>> {
    let (limit, offset) = paging(&q)?;
    let mut f = filter_from(q.into_inner());
    let rows = db
        .run(move |conn| {
            match Scope::of(conn, &auth)? {
                Scope::School => {}
                Scope::Classes { class_ids, .. } => f.within_ids = Some(class_ids),
                Scope::Families { family_ids, .. } => f.within_families = Some(family_ids),
            }
            Ok(repo::list_enrollments(
                conn,
                auth.school_id,
                &f,
                limit,
                offset,
            )?)
        })
        .await?;
    Ok(web::Json(page(rows, limit, offset)))
}

/// Enroll a student in a class (office).
#[utoipa::path(tag = "roster", request_body = CreateEnrollmentRequest, security(("bearer" = [])),
    responses((status = 201, body = Enrollment), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/enrollments")]
pub async fn create_enrollment(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateEnrollmentRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let req = body.into_inner();
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
    let row = db
        .transaction(move |conn| {
            repo::class(conn, auth.school_id, row.class_id)
                .map_err(|_| ApiError::validation("class_id", "no such class in this school"))?;
            repo::student(conn, auth.school_id, row.student_id).map_err(|_| {
                ApiError::validation("student_id", "no such student in this school")
            })?;
            diesel::insert_into(enrollments::table)
                .values(&row)
                .execute(conn)?;
            AuditEntry::new(auth.school_id, Actor::from(&auth), "enrollment", row.id)
                .created(conn, &row)?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(Enrollment::from(row)))
}

/// Remove an enrollment (office).
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
#[delete("/enrollments/{id}")]
pub async fn delete_enrollment(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_office()?;
    let id = id.into_inner();
    db.transaction(move |conn| {
        let before = repo::enrollment(conn, auth.school_id, id).map_err(not_found("enrollment"))?;
        diesel::delete(enrollments::table.find((auth.school_id, id))).execute(conn)?;
        AuditEntry::new(auth.school_id, Actor::from(&auth), "enrollment", id)
            .deleted(conn, &before)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ----- users ------------------------------------------------------------------------------

/// Users of the school (office may read; `q` searches username and name).
#[utoipa::path(tag = "users", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, body = Page<User>), (status = 403, body = Problem)))]
#[get("/users")]
pub async fn list_users(
    db: web::Data<Db>,
    auth: AuthUser,
    q: crate::query::Query<ListQuery>,
) -> ApiResult<web::Json<Page<User>>> {
    auth.require_office()?;
    let (limit, offset) = paging(&q)?;
    let f = filter_from(q.into_inner());
    let rows = db
        .run(move |conn| Ok(repo::list_users(conn, auth.school_id, &f, limit, offset)?))
        .await?;
    Ok(web::Json(page(rows, limit, offset)))
}

/// One user (office).
#[utoipa::path(tag = "users", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 403, body = Problem), (status = 404, body = Problem)))]
#[get("/users/{id}")]
pub async fn get_user(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<web::Json<User>> {
    auth.require_office()?;
    let id = id.into_inner();
    let row = db
        .run(move |conn| repo::user(conn, auth.school_id, id).map_err(not_found("user")))
        .await?;
    Ok(web::Json(row.into()))
}

async fn hash_password(field: &'static str, password: String) -> ApiResult<String> {
    password::validate(field, &password)?;
    Ok(web::block(move || password::hash(&password))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("hashing: {e}")))??)
}

/// Create a user (admin). The password is hashed with argon2id off the async workers.
#[utoipa::path(tag = "users", request_body = CreateUserRequest, security(("bearer" = [])),
    responses((status = 201, body = User), (status = 409, body = Problem), (status = 422, body = Problem)))]
#[post("/users")]
pub async fn create_user(
    db: web::Data<Db>,
    auth: AuthUser,
    body: Json<CreateUserRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let req = body.into_inner();
    let username = validate::username("username", &req.username)?;
    let display_name = validate::text("display_name", &req.display_name, 200)?;
    let email = validate::email("email", req.email.as_deref())?;
    let phone = validate::phone("phone", req.phone.as_deref())?;
    let hash = hash_password("password", req.password).await?;
    let now = Utc::now();
    let row = UserRow {
        school_id: auth.school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        username,
        display_name,
        role: req.role.as_str().to_string(),
        email,
        phone,
        password_hash: Some(hash),
        active: true,
        failed_logins: 0,
        locked_until: None,
        sourced_id: None,
        created_at: now,
        updated_at: now,
    };
    let row = db
        .transaction(move |conn| {
            diesel::insert_into(users::table)
                .values(&row)
                .execute(conn)?;
            AuditEntry::new(auth.school_id, Actor::from(&auth), "user", row.id)
                .created(conn, &row)?;
            Ok(row)
        })
        .await?;
    Ok(HttpResponse::Created().json(User::from(row)))
}

/// Change a user (admin): name, role, contact, password, active. Setting a password also
/// lifts a login lock.
#[utoipa::path(tag = "users", request_body = UpdateUserRequest, security(("bearer" = [])),
    responses((status = 200, body = User), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[patch("/users/{id}")]
pub async fn update_user(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
    body: Json<UpdateUserRequest>,
) -> ApiResult<web::Json<User>> {
    auth.require_admin()?;
    let (id, req) = (id.into_inner(), body.into_inner());
    let new_hash = match req.password.clone() {
        Some(p) => Some(hash_password("password", p).await?),
        None => None,
    };
    let row = db
        .transaction(move |conn| {
            let before = repo::user(conn, auth.school_id, id).map_err(not_found("user"))?;
            let mut after = before.clone();
            if let Some(v) = req.display_name {
                after.display_name = validate::text("display_name", &v, 200)?;
            }
            if let Some(r) = req.role {
                after.role = r.as_str().to_string();
            }
            if let Some(v) = req.email {
                after.email = validate::email("email", Some(&v))?;
            }
            if let Some(v) = req.phone {
                after.phone = validate::phone("phone", Some(&v))?;
            }
            if let Some(v) = req.active {
                after.active = v;
            }
            if let Some(h) = new_hash {
                after.password_hash = Some(h);
                after.failed_logins = 0;
                after.locked_until = None;
            }
            if after.id == auth.user_id && (after.role() != Role::Admin || !after.active) {
                return Err(ApiError::validation(
                    "role",
                    "an admin cannot demote or deactivate themselves",
                ));
            }
            after.updated_at = Utc::now();
            diesel::update(users::table.find((auth.school_id, id)))
                .set(&after)
                .execute(conn)?;
            AuditEntry::new(auth.school_id, Actor::from(&auth), "user", id)
                .updated(conn, &before, &after)?;
            Ok(after)
        })
        .await?;
    Ok(web::Json(row.into()))
}

/// Delete a user (admin); 422 while they are assigned to classes or linked to a guardian —
/// deactivate instead.
#[utoipa::path(tag = "users", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[delete("/users/{id}")]
pub async fn delete_user(
    db: web::Data<Db>,
    auth: AuthUser,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let id = id.into_inner();
    if id == auth.user_id {
        return Err(ApiError::validation(
            "id",
            "an admin cannot delete themselves",
        ));
    }
    db.transaction(move |conn| {
        let before = repo::user(conn, auth.school_id, id).map_err(not_found("user"))?;
        diesel::delete(users::table.find((auth.school_id, id))).execute(conn)?;
        AuditEntry::new(auth.school_id, Actor::from(&auth), "user", id).deleted(conn, &before)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
