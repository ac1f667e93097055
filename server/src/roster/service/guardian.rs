//! Guardians of a family.

use super::*;

/// Adds a guardian to a family (office), with its audit row. `user_id` links a parent login.
///
/// Errors: validation naming `given_name`, `family_name`, `relationship`, `phone`, `email`,
/// `family_id` (no such family) or `user_id` (not a parent login); 409 when the id is taken.
pub fn create_guardian(
    conn: &mut PgConnection,
    auth: &AuthUser,
    req: &CreateGuardianRequest,
) -> ApiResult<GuardianRow> {
    let now = Utc::now();
    let row = GuardianRow {
        school_id: auth.school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        family_id: req.family_id,
        user_id: req.user_id,
        given_name: validate::text("given_name", &req.given_name, 100)?,
        family_name: validate::text("family_name", &req.family_name, 100)?,
        relationship: validate::opt_text("relationship", req.relationship.as_deref(), 50)?
            .unwrap_or_else(|| "guardian".into()),
        phone: validate::phone("phone", req.phone.as_deref())?,
        email: validate::email("email", req.email.as_deref())?,
        active: true,
        sourced_id: None,
        created_at: now,
        updated_at: now,
    };
    repo::family(conn, auth.school_id, row.family_id)
        .map_err(|_| ApiError::validation("family_id", "no such family in this school"))?;
    check_parent_user(conn, auth.school_id, row.user_id)?;
    diesel::insert_into(guardians::table)
        .values(&row)
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "guardian", row.id).created(conn, &row)?;
    Ok(row)
}

/// Removes guardian `id` (office), with its audit row.
///
/// Errors: 404 unknown guardian.
pub fn delete_guardian(conn: &mut PgConnection, auth: &AuthUser, id: Uuid) -> ApiResult<()> {
    let before = repo::guardian(conn, auth.school_id, id).map_err(not_found("guardian"))?;
    diesel::delete(guardians::table.find((auth.school_id, id))).execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "guardian", id).deleted(conn, &before)?;
    Ok(())
}

/// Changes the fields present in `req` of guardian `id` (office). Errors: 404 unknown
/// guardian; validation naming the field (`family_id`, `user_id`, `phone`, `email`, …).
pub fn update_guardian(
    conn: &mut PgConnection,
    auth: &AuthUser,
    id: Uuid,
    req: UpdateGuardianRequest,
) -> ApiResult<GuardianRow> {
    let before = repo::guardian(conn, auth.school_id, id).map_err(not_found("guardian"))?;
    let mut after = before.clone();
    if let Some(f) = req.family_id {
        repo::family(conn, auth.school_id, f)
            .map_err(|_| ApiError::validation("family_id", "no such family in this school"))?;
        after.family_id = f;
    }
    if req.user_id.is_some() {
        check_parent_user(conn, auth.school_id, req.user_id)?;
        after.user_id = req.user_id;
    }
    if let Some(v) = req.given_name {
        after.given_name = validate::text("given_name", &v, 100)?;
    }
    if let Some(v) = req.family_name {
        after.family_name = validate::text("family_name", &v, 100)?;
    }
    if let Some(v) = req.relationship {
        after.relationship = validate::text("relationship", &v, 50)?;
    }
    if let Some(v) = req.phone {
        after.phone = validate::phone("phone", Some(&v))?;
    }
    if let Some(v) = req.email {
        after.email = validate::email("email", Some(&v))?;
    }
    if let Some(v) = req.active {
        after.active = v;
    }
    after.updated_at = Utc::now();
    diesel::update(guardians::table.find((auth.school_id, id)))
        .set(&after)
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "guardian", id)
        .updated(conn, &before, &after)?;
    Ok(after)
}
