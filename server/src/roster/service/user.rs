//! Staff and parent logins.

use super::*;

/// The roles a new login is to hold: `roles` with `role` (issue #17).
///
/// Errors: validation naming `roles` when neither names one.
pub fn requested_roles(req: &CreateUserRequest) -> ApiResult<Roles> {
    let roles = Roles::of(req.roles.iter().copied().chain(req.role));
    if roles.is_empty() {
        return Err(ApiError::validation(
            "roles",
            "give the user at least one role (admin, accountant, teacher, parent)",
        ));
    }
    Ok(roles)
}

/// A validated, not yet inserted login from `req` (active, created now), with the argon2id
/// `password_hash` when it has been computed, and its roles.
///
/// Errors: validation naming `username`, `display_name`, `roles`, `email` or `phone`.
pub fn new_user_row(
    auth: &AuthUser,
    req: &CreateUserRequest,
    password_hash: Option<String>,
) -> ApiResult<UserWithRoles> {
    let now = Utc::now();
    let roles = requested_roles(req)?;
    let row = UserRow {
        school_id: auth.school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        username: validate::username("username", &req.username)?,
        display_name: validate::text("display_name", &req.display_name, 200)?,
        email: validate::email("email", req.email.as_deref())?,
        phone: validate::phone("phone", req.phone.as_deref())?,
        password_hash,
        active: true,
        failed_logins: 0,
        locked_until: None,
        sourced_id: None,
        created_at: now,
        updated_at: now,
    };
    Ok(UserWithRoles { row, roles })
}

/// Creates a login (admin) with its already computed password hash and its roles, and its
/// audit row (which lists the roles).
///
/// Errors: as [`new_user_row`]; 409 when the username or id is taken.
pub fn create_user(
    conn: &mut PgConnection,
    auth: &AuthUser,
    req: &CreateUserRequest,
    password_hash: String,
) -> ApiResult<UserWithRoles> {
    let user = new_user_row(auth, req, Some(password_hash))?;
    diesel::insert_into(users::table)
        .values(&user.row)
        .execute(conn)?;
    crate::tenancy::set_roles(conn, auth.school_id, user.row.id, user.roles)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "user", user.row.id).created(conn, &user)?;
    Ok(user)
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

    let before = UserWithRoles {
        row: repo::user(conn, auth.school_id, id).map_err(not_found("user"))?,
        roles: crate::tenancy::roles_of(conn, auth.school_id, id)?,
    };
    diesel::delete(users::table.find((auth.school_id, id))).execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "user", id).deleted(conn, &before)?;
    Ok(())
}

/// Changes the fields present in `req` of login `id` (admin), with its audit row (before and
/// after list the roles); a new password (already hashed, `new_hash`) also clears the
/// failed-login count and lock. `role` makes that the only role, `roles` replaces the set
/// (issue #17). Taking a role away ends every login of the user at once (their tokens name
/// the roles they were issued with); an added role arrives with the next token refresh. An
/// admin cannot take the admin role from, or deactivate, themselves.
///
/// Errors: 404 unknown user; validation naming the field (`roles` for an empty set or both
/// `role` and `roles`, `role` for the self-demotion rule).
pub fn update_user(
    conn: &mut PgConnection,
    auth: &AuthUser,
    id: Uuid,
    req: UpdateUserRequest,
    new_hash: Option<String>,
) -> ApiResult<UserWithRoles> {
    let before = UserWithRoles {
        row: repo::user(conn, auth.school_id, id).map_err(not_found("user"))?,
        roles: crate::tenancy::roles_of(conn, auth.school_id, id)?,
    };
    let mut after = before.clone();
    let row = &mut after.row;
    if let Some(v) = req.display_name {
        row.display_name = validate::text("display_name", &v, 200)?;
    }
    match (req.role, req.roles) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "roles",
                "give either role (the only one) or roles (all of them), not both",
            ))
        }
        (Some(r), None) => after.roles = Roles::of([r]),
        (None, Some(list)) => {
            after.roles = Roles::of(list);
            if after.roles.is_empty() {
                return Err(ApiError::validation(
                    "roles",
                    "a user keeps at least one role; lock the user to stop them signing in",
                ));
            }
        }
        (None, None) => {}
    }
    if let Some(v) = req.email {
        row.email = validate::email("email", Some(&v))?;
    }
    if let Some(v) = req.phone {
        row.phone = validate::phone("phone", Some(&v))?;
    }
    if let Some(v) = req.active {
        row.active = v;
    }
    if let Some(h) = new_hash {
        row.password_hash = Some(h);
        row.failed_logins = 0;
        row.locked_until = None;
    }
    if row.id == auth.user_id && (!after.roles.has(Role::Admin) || !row.active) {
        return Err(ApiError::validation(
            "role",
            "an admin cannot demote or deactivate themselves",
        ));
    }
    row.updated_at = Utc::now();
    diesel::update(users::table.find((auth.school_id, id)))
        .set(&after.row)
        .execute(conn)?;
    if after.roles != before.roles {
        crate::tenancy::set_roles(conn, auth.school_id, id, after.roles)?;
        if before.roles.iter().any(|r| !after.roles.has(r)) {
            crate::auth::repo::revoke_user_logins(conn, auth.school_id, id)?;
        }
    }
    AuditEntry::new(auth.school_id, Actor::from(auth), "user", id)
        .updated(conn, &before, &after)?;
    Ok(after)
}
