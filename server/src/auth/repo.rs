//! Auth queries. All return `QueryResult` and are scoped by `school_id`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{login_throttles, refresh_tokens, schools, users};
use crate::tenancy::{SchoolRow, UserRow};

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

/// The `login_throttles` key of a login attempt: SHA-256 of `<school slug> "\n" <username>`
/// as typed (trimmed).
pub fn attempt_key(school: &str, username: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(school.as_bytes());
    h.update(b"\n");
    h.update(username.as_bytes());
    h.finalize().to_vec()
}

/// Until when attempts with `key` are locked, if they are.
pub fn throttle_locked_until(
    conn: &mut PgConnection,
    key: &[u8],
) -> QueryResult<Option<DateTime<Utc>>> {
    Ok(login_throttles::table
        .find(key)
        .select(login_throttles::locked_until)
        .first::<Option<DateTime<Utc>>>(conn)
        .optional()?
        .flatten())
}

/// Atomically counts one more failed attempt with `key` and returns the new count; also
/// prunes up to 100 rows whose last failure is a day old, so a flood of made-up usernames
/// cannot grow the table without bound.
pub fn count_failed_attempt(conn: &mut PgConnection, key: &[u8]) -> QueryResult<i32> {
    diesel::sql_query(
        "DELETE FROM login_throttles WHERE attempt_key IN (
             SELECT attempt_key FROM login_throttles
             WHERE last_failed_at < now() - interval '1 day' LIMIT 100)",
    )
    .execute(conn)?;
    diesel::insert_into(login_throttles::table)
        .values((
            login_throttles::attempt_key.eq(key),
            login_throttles::failures.eq(1),
            login_throttles::last_failed_at.eq(diesel::dsl::now),
        ))
        .on_conflict(login_throttles::attempt_key)
        .do_update()
        .set((
            login_throttles::failures.eq(login_throttles::failures + 1),
            login_throttles::last_failed_at.eq(diesel::dsl::now),
        ))
        .returning(login_throttles::failures)
        .get_result(conn)
}

/// Locks attempts with `key` until `until`.
pub fn lock_attempt(
    conn: &mut PgConnection,
    key: &[u8],
    until: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::update(login_throttles::table.find(key))
        .set(login_throttles::locked_until.eq(Some(until)))
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

/// Revokes every refresh-token family of `user_id` (its logins on every browser, PC and
/// phone), so that every access token of the user stops at once; returns how many tokens.
/// Used when a role is taken away (issue #17): a token names the roles it was issued with.
pub fn revoke_user_logins(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::school_id.eq(school_id))
            .filter(refresh_tokens::user_id.eq(user_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(Utc::now())))
    .execute(conn)
}

/// True while an access token of `user_id` under refresh-token family `family_id` may be used:
/// the user exists and is active, and no token of the family is revoked (a family is revoked
/// as a whole, by logout or by refresh-token reuse). Two index probes
/// (`users` primary key, `refresh_tokens_by_family`).
pub fn login_is_live(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
    family_id: Uuid,
) -> QueryResult<bool> {
    let revoked = refresh_tokens::table
        .filter(refresh_tokens::school_id.eq(school_id))
        .filter(refresh_tokens::family_id.eq(family_id))
        .filter(refresh_tokens::revoked_at.is_not_null());
    users::table
        .find((school_id, user_id))
        .select(users::active.and(diesel::dsl::not(diesel::dsl::exists(revoked))))
        .first::<bool>(conn)
        .optional()
        .map(|live| live.unwrap_or(false))
}

/// The user `user_id` of `school_id`.
pub fn user_by_id(conn: &mut PgConnection, school_id: Uuid, user_id: Uuid) -> QueryResult<UserRow> {
    users::table
        .find((school_id, user_id))
        .select(UserRow::as_select())
        .first(conn)
}

/// True when device `device_id` of `school_id` is revoked (or not enrolled at all): a token
/// bound to it is answered 403 `device_revoked` (issue #17, "Devices").
pub fn device_revoked(
    conn: &mut PgConnection,
    school_id: Uuid,
    device_id: Uuid,
) -> QueryResult<bool> {
    let revoked_at: Option<Option<DateTime<Utc>>> = crate::schema::devices::table
        .find((school_id, device_id))
        .select(crate::schema::devices::revoked_at)
        .first(conn)
        .optional()?;
    Ok(!matches!(revoked_at, Some(None)))
}
