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
