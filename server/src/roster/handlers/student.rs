//! Students: listing, reading, admitting, editing, removing.

use super::*;

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
        .transaction(move |conn| service::update_student(conn, &auth, id, req))
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
    db.transaction(move |conn| service::delete_student(conn, &auth, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
