//! Staff and parent logins (admin).

use super::*;

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
        .run(move |conn| {
            let (rows, total) = repo::list_users(conn, auth.school_id, &f, limit, offset)?;
            Ok((
                crate::tenancy::with_roles(conn, auth.school_id, rows)?,
                total,
            ))
        })
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
        .run(move |conn| {
            let row = repo::user(conn, auth.school_id, id).map_err(not_found("user"))?;
            let roles = crate::tenancy::roles_of(conn, auth.school_id, id)?;
            Ok(crate::tenancy::UserWithRoles { row, roles })
        })
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
    // Refuse bad input before the (deliberately slow) password hash.
    service::new_user_row(&auth, &req, None)?;
    let hash = hash_password("password", req.password.clone()).await?;
    let row = db
        .transaction(move |conn| service::create_user(conn, &auth, &req, hash))
        .await?;
    Ok(HttpResponse::Created().json(User::from(row)))
}

/// Change a user (admin): name, roles (`role` makes it the only one, `roles` replaces the
/// set), contact, password, active. Setting a password also lifts a login lock; taking a role
/// away ends the user's logins at once.
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
        .transaction(move |conn| service::update_user(conn, &auth, id, req, new_hash))
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
    db.transaction(move |conn| service::delete_user(conn, &auth, id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
