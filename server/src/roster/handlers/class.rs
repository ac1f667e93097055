//! Classes and their teacher assignments.

use super::*;

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
            f.within_ids = Scope::of(conn, &auth)?.classes();
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
    let row = db
        .transaction(move |conn| service::create_class(conn, &auth, req))
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
        .transaction(move |conn| service::update_class(conn, &auth, id, req))
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
    db.transaction(move |conn| service::delete_class(conn, &auth, id))
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
    Ok(web::Json(rows.into_iter().map(assignment).collect()))
}

/// Assign a teacher to a class (admin), optionally with the subject they teach there (issue
/// #17, subject teachers; the body may be left out). Idempotent.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    request_body(content = Option<AssignTeacherRequest>, description = "Optional: the subject"),
    responses((status = 204), (status = 404, body = Problem), (status = 422, body = Problem)))]
#[put("/classes/{id}/teachers/{teacher_id}")]
pub async fn assign_teacher(
    db: web::Data<Db>,
    auth: AuthUser,
    path: web::Path<(Uuid, Uuid)>,
    body: crate::json::OptionalJson<AssignTeacherRequest>,
) -> ApiResult<HttpResponse> {
    auth.require_admin()?;
    let (class_id, teacher_id) = path.into_inner();
    let subject = body.0.and_then(|b| b.subject);
    db.transaction(move |conn| {
        service::assign_teacher(conn, &auth, class_id, teacher_id, subject.as_deref())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every teacher assignment of the school, with subjects (office; issue #17): the console's
/// users and setup pages read them in one request.
#[utoipa::path(tag = "roster", security(("bearer" = [])),
    responses((status = 200, body = Vec<TeacherAssignment>), (status = 403, body = Problem)))]
#[get("/class-teachers")]
pub async fn list_all_class_teachers(
    db: web::Data<Db>,
    auth: AuthUser,
) -> ApiResult<web::Json<Vec<TeacherAssignment>>> {
    auth.require_office()?;
    let rows = db
        .run(move |conn| Ok(repo::all_class_teachers(conn, auth.school_id)?))
        .await?;
    Ok(web::Json(rows.into_iter().map(assignment).collect()))
}

fn assignment((r, display_name): (ClassTeacherRow, String)) -> TeacherAssignment {
    TeacherAssignment {
        class_id: r.class_id,
        teacher_id: r.teacher_id,
        display_name,
        is_primary: r.is_primary,
        subject: r.subject,
    }
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
    db.transaction(move |conn| service::unassign_teacher(conn, &auth, class_id, teacher_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
