//! Families, the billing accounts that group siblings and guardians.

use super::*;

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
    let req = body.into_inner();
    let row = db
        .transaction(move |conn| service::create_family(conn, &auth, &req))
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
        .transaction(move |conn| service::update_family(conn, &auth, id, req))
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
    db.transaction(move |conn| service::delete_family(conn, &auth, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
