//! Enrolments of students in classes.

use super::*;

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
            // A teacher's classes' enrolments and a parent's children's (both for one who is
            // both); `within_ids` are the taught classes here.
            if let Scope::Limited(l) = Scope::of(conn, &auth)? {
                f.within_ids = Some(l.taught.map(|t| t.class_ids).unwrap_or_default());
                f.within_families = Some(l.family.map(|x| x.family_ids).unwrap_or_default());
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
    let row = db
        .transaction(move |conn| service::create_enrollment(conn, &auth, req))
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
    db.transaction(move |conn| service::delete_enrollment(conn, &auth, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
