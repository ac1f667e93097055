//! Staff and parent logins.

use super::*;

/// A validated, not yet inserted login from `req` (active, created now), with the argon2id
/// `password_hash` when it has been computed.
///
/// Errors: validation naming `username`, `display_name`, `email` or `phone`.
pub fn new_user_row(
    auth: &AuthUser,
    req: &CreateUserRequest,
    password_hash: Option<String>,
) -> ApiResult<UserRow> {
    let now = Utc::now();
    Ok(UserRow {
        school_id: auth.school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        username: validate::username("username", &req.username)?,
        display_name: validate::text("display_name", &req.display_name, 200)?,
        role: req.role.as_str().to_string(),
        email: validate::email("email", req.email.as_deref())?,
        phone: validate::phone("phone", req.phone.as_deref())?,
        password_hash,
        active: true,
        failed_logins: 0,
        locked_until: None,
        sourced_id: None,
        created_at: now,
        updated_at: now,
    })
}

/// Creates a login (admin) with its already computed password hash, and its audit row.
///
/// Errors: as [`new_user_row`]; 409 when the username or id is taken.
pub fn create_user(
    conn: &mut PgConnection,
    auth: &AuthUser,
    req: &CreateUserRequest,
    password_hash: String,
) -> ApiResult<UserRow> {
    let row = new_user_row(auth, req, Some(password_hash))?;
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "user", row.id).created(conn, &row)?;
    Ok(row)
}

/// Deletes login `id` (admin), with its audit row. An admin cannot delete themselves.
///
/// Errors: validation naming `id` (the caller); 404 unknown user.
pub fn delete_user(conn: &mut PgConnection, auth: &AuthUser, id: Uuid) -> ApiResult<()> {
    if id == auth.user_id {
        return Err(ApiError::validation(
            "id",
            "an admin cannot delete themselves",
        ));
    }

    let before = repo::user(conn, auth.school_id, id).map_err(not_found("user"))?;
    diesel::delete(users::table.find((auth.school_id, id))).execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "user", id).deleted(conn, &before)?;
    Ok(())
}

/// Changes the fields present in `req` of login `id` (admin), with its audit row; a new
/// password (already hashed, `new_hash`) also clears the failed-login count and lock. An admin
/// cannot demote or deactivate themselves.
///
/// Errors: 404 unknown user; validation naming the field (`role` for the self-demotion rule).
pub fn update_user(
    conn: &mut PgConnection,
    auth: &AuthUser,
    id: Uuid,
    req: UpdateUserRequest,
    new_hash: Option<String>,
) -> ApiResult<UserRow> {
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
    AuditEntry::new(auth.school_id, Actor::from(auth), "user", id)
        .updated(conn, &before, &after)?;
    Ok(after)
}
