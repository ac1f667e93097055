//! Creating schools and their first users (the `create-school` / `create-admin` commands and
//! the demo seeder).

use chrono::Utc;
use daftar_client_core::protocol::{Role, Roles};
use diesel::prelude::*;
use uuid::Uuid;

use crate::audit::{Actor, AuditEntry};
use crate::errors::{ApiError, ApiResult};
use crate::schema::{schools, users};
use crate::tenancy::{SchoolRow, UserRow, UserWithRoles};
use crate::validate;

/// A new school's settings. `currency` is ISO 4217 (three capitals); `timezone` an IANA name.
#[derive(Debug, Clone)]
pub struct NewSchool {
    pub slug: String,
    pub name: String,
    pub currency: String,
    pub timezone: String,
}

/// Creates a school.
///
/// Errors: validation naming `slug`, `currency` or `timezone`; 409 when the slug is taken.
pub fn create_school(conn: &mut PgConnection, new: &NewSchool) -> ApiResult<SchoolRow> {
    let slug = new.slug.trim().to_ascii_lowercase();
    if slug.len() < 2
        || slug.len() > 63
        || !slug.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        || slug.starts_with('-')
    {
        return Err(ApiError::validation(
            "slug",
            "must be 2 to 63 of a-z, 0-9 and -, not starting with -",
        ));
    }
    if new.currency.len() != 3 || !new.currency.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(ApiError::validation(
            "currency",
            "must be an ISO 4217 code such as PKR or USD",
        ));
    }
    if new.timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(ApiError::validation(
            "timezone",
            "must be an IANA time zone such as Asia/Karachi",
        ));
    }
    let now = Utc::now();
    let row = SchoolRow {
        id: Uuid::now_v7(),
        slug,
        name: validate::text("name", &new.name, 200)?,
        currency: new.currency.clone(),
        timezone: new.timezone.clone(),
        sourced_id: None,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(schools::table)
        .values(&row)
        .execute(conn)?;
    crate::ledger::repo::ensure_chart(conn, row.id)?;
    crate::attendance::marks::ensure_codes(conn, row.id)?;
    AuditEntry::new(row.id, Actor::SYSTEM, "school", row.id).created(conn, &row)?;
    Ok(row)
}

/// The school with `slug`.
///
/// Errors: 404 when there is none.
pub fn school_by_slug(conn: &mut PgConnection, slug: &str) -> ApiResult<SchoolRow> {
    schools::table
        .filter(schools::slug.eq(slug))
        .select(SchoolRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("school"))
}

/// Every school, by slug (operator commands that run per school).
pub fn all_schools(conn: &mut PgConnection) -> QueryResult<Vec<SchoolRow>> {
    schools::table
        .order(schools::slug)
        .select(SchoolRow::as_select())
        .load(conn)
}

/// Creates a login with an already computed argon2id `password_hash` (see
/// `auth::password::hash`; `None` makes a login that cannot sign in until a password is set).
///
/// Errors: validation naming `username`/`display_name`; 409 when the username is taken.
pub fn create_user(
    conn: &mut PgConnection,
    school_id: Uuid,
    username: &str,
    display_name: &str,
    role: Role,
    password_hash: Option<String>,
) -> ApiResult<UserRow> {
    let now = Utc::now();
    let row = UserRow {
        school_id,
        id: Uuid::now_v7(),
        username: validate::username("username", username)?,
        display_name: validate::text("display_name", display_name, 200)?,
        email: None,
        phone: None,
        password_hash,
        active: true,
        failed_logins: 0,
        locked_until: None,
        sourced_id: None,
        created_at: now,
        updated_at: now,
    };
    diesel::insert_into(users::table)
        .values(&row)
        .execute(conn)?;
    let roles = Roles::of([role]);
    crate::tenancy::set_roles(conn, school_id, row.id, roles)?;
    let user = UserWithRoles { row, roles };
    AuditEntry::new(school_id, Actor::SYSTEM, "user", user.row.id).created(conn, &user)?;
    Ok(user.row)
}

/// Sets the school's largest single money amount (`schools.max_amount`, minor units).
///
/// Errors: validation naming `max_amount` outside 1..=10^13
/// ([`crate::ledger::limits::MAX_AMOUNT_CEILING`]).
pub fn set_max_amount(conn: &mut PgConnection, school_id: Uuid, max: i64) -> ApiResult<()> {
    use crate::ledger::limits::MAX_AMOUNT_CEILING;
    if !(1..=MAX_AMOUNT_CEILING).contains(&max) {
        return Err(ApiError::validation(
            "max_amount",
            format!("must be 1 to {MAX_AMOUNT_CEILING} minor units"),
        ));
    }
    diesel::update(schools::table.find(school_id))
        .set(schools::max_amount.eq(max))
        .execute(conn)?;
    Ok(())
}
