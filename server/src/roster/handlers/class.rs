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
