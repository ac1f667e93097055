//! Families, the billing accounts that group siblings and guardians.

use super::*;

/// Creates a family (office) with its audit row.
///
/// Errors: validation naming `name` (1..=200 characters); 409 when the id is taken.
pub fn create_family(
    conn: &mut PgConnection,
    auth: &AuthUser,
    req: &CreateFamilyRequest,
) -> ApiResult<FamilyRow> {
    let now = Utc::now();
    let row = FamilyRow {
        school_id: auth.school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        name: validate::text("name", &req.name, 200)?,
        active: true,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(families::table)
        .values(&row)
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "family", row.id).created(conn, &row)?;
    Ok(row)
}

/// Renames or (de)activates family `id` (office), with its audit row.
///
/// Errors: 404 unknown family; validation naming `name`.
pub fn update_family(
    conn: &mut PgConnection,
    auth: &AuthUser,
    id: Uuid,
    req: UpdateFamilyRequest,
) -> ApiResult<FamilyRow> {
    let before = repo::family(conn, auth.school_id, id).map_err(not_found("family"))?;
    let mut after = before.clone();
    if let Some(v) = req.name {
        after.name = validate::text("name", &v, 200)?;
    }
    if let Some(v) = req.active {
        after.active = v;
    }
    after.updated_at = Utc::now();
    diesel::update(families::table.find((auth.school_id, id)))
        .set(&after)
        .execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "family", id)
        .updated(conn, &before, &after)?;
    Ok(after)
}

/// Deletes an empty family (office), with its audit row.
///
/// Errors: 404 unknown family; 422 `reference_invalid` while students or guardians belong to it.
pub fn delete_family(conn: &mut PgConnection, auth: &AuthUser, id: Uuid) -> ApiResult<()> {
    let before = repo::family(conn, auth.school_id, id).map_err(not_found("family"))?;
    diesel::delete(families::table.find((auth.school_id, id))).execute(conn)?;
    AuditEntry::new(auth.school_id, Actor::from(auth), "family", id).deleted(conn, &before)?;
    Ok(())
}
