//! Guardians of a family, optionally linked to a parent login.

use super::*;

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
    let row = db
        .transaction(move |conn| service::create_guardian(conn, &auth, &req))
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
        .transaction(move |conn| service::update_guardian(conn, &auth, id, req))
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
    db.transaction(move |conn| service::delete_guardian(conn, &auth, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
