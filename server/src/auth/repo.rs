//! Auth queries. All return `QueryResult` and are scoped by `school_id`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::roster::models::{SchoolRow, UserRow};
use crate::schema::{refresh_tokens, schools, users};

/// A stored refresh token (hash only).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Uuid,
    pub device_id: Option<Uuid>,
    pub token_hash: Vec<u8>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub rotated_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The school with this slug, if any.
pub fn school_by_slug(conn: &mut PgConnection, slug: &str) -> QueryResult<Option<SchoolRow>> {
    schools::table
        .filter(schools::slug.eq(slug))
        .select(SchoolRow::as_select())
        .first(conn)
        .optional()
}

/// The user `username` of `school_id`, if any.
pub fn user_by_username(
    conn: &mut PgConnection,
    school_id: Uuid,
    username: &str,
) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::school_id.eq(school_id))
        .filter(users::username.eq(username))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// Atomically counts one more failed login and returns the new count.
pub fn count_failed_login(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
) -> QueryResult<i32> {
    diesel::update(users::table.find((school_id, user_id)))
        .set(users::failed_logins.eq(users::failed_logins + 1))
        .returning(users::failed_logins)
        .get_result(conn)
}

/// Locks the account until `until`.
pub fn lock_user(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(users::table.find((school_id, user_id)))
        .set(users::locked_until.eq(Some(until)))
        .execute(conn)
}

/// Clears the failure count and lock after a successful login.
pub fn reset_failed_logins(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
) -> QueryResult<usize> {
    diesel::update(users::table.find((school_id, user_id)))
        .set((
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(conn)
}

/// Stores a new refresh token.
pub fn insert_refresh_token(conn: &mut PgConnection, row: &RefreshTokenRow) -> QueryResult<usize> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)
}

/// The refresh token with this hash, locked for the rest of the transaction.
pub fn refresh_token_for_update(
    conn: &mut PgConnection,
    school_id: Uuid,
    token_hash: &[u8],
) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::school_id.eq(school_id))
        .filter(refresh_tokens::token_hash.eq(token_hash))
        .select(RefreshTokenRow::as_select())
        .for_update()
        .first(conn)
        .optional()
}

/// Marks a refresh token as used (rotated).
pub fn mark_rotated(conn: &mut PgConnection, school_id: Uuid, id: Uuid) -> QueryResult<usize> {
    diesel::update(refresh_tokens::table.find((school_id, id)))
        .set(refresh_tokens::rotated_at.eq(Some(Utc::now())))
        .execute(conn)
}

/// Revokes every still-valid token of a family; returns how many.
pub fn revoke_family(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_id: Uuid,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::school_id.eq(school_id))
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(Utc::now())))
    .execute(conn)
}

/// The user `user_id` of `school_id`.
pub fn user_by_id(conn: &mut PgConnection, school_id: Uuid, user_id: Uuid) -> QueryResult<UserRow> {
    users::table
        .find((school_id, user_id))
        .select(UserRow::as_select())
        .first(conn)
}
