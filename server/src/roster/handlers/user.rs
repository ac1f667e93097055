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
