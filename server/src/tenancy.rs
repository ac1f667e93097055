//! The tenant and its logins: `schools` and `users` rows, which authentication, the roster,
//! the ledger and onboarding all read. A leaf: it depends on the schema alone, so every feature
//! may use it without forming a cycle.

use chrono::{DateTime, Utc};
use daftar_client_core::protocol as wire;
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use std::collections::HashMap;

use crate::schema::{schools, user_roles, users};

/// `schools`: the tenant.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = schools, treat_none_as_null = true)]
pub struct SchoolRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub currency: String,
    pub timezone: String,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SchoolRow {
    /// The wire form, with the settings kept outside the row: the money limit
    /// (`schools.max_amount`), the address and the attendance edit window.
    pub fn into_wire(self, settings: SchoolSettings) -> wire::School {
        wire::School {
            id: self.id,
            slug: self.slug,
            name: self.name,
            currency: self.currency,
            timezone: self.timezone,
            max_amount: settings.max_amount,
            address: settings.address,
            attendance_edit_window_days: settings.attendance_edit_window_days,
            logo_updated_at: settings.logo_updated_at,
        }
    }
}

/// The `schools` columns that are not part of [`SchoolRow`] (added by later migrations).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Serialize)]
#[diesel(table_name = schools)]
pub struct SchoolSettings {
    /// Minor units; see [`wire::School::max_amount`].
    pub max_amount: i64,
    pub address: String,
    pub attendance_edit_window_days: i32,
    /// When the receipt logo was last set or removed (`school_logos`); `None`: never.
    pub logo_updated_at: Option<DateTime<Utc>>,
}

/// The school as the API shows it. Errors: not found, database.
pub fn school_wire(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<wire::School> {
    let (row, settings) = schools::table
        .find(school_id)
        .select((SchoolRow::as_select(), SchoolSettings::as_select()))
        .first::<(SchoolRow, SchoolSettings)>(conn)?;
    Ok(row.into_wire(settings))
}

/// `users`: a login. `password_hash` is a PHC argon2id string, never serialised. Its roles are
/// rows of `user_roles` ([`roles_of`]; issue #17 "Users with several roles").
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct UserRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub active: bool,
    #[serde(skip)]
    pub failed_logins: i32,
    #[serde(skip)]
    pub locked_until: Option<DateTime<Utc>>,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A login with the roles it holds: what the audit log records of a user (so a change of
/// roles shows before and after) and what becomes the wire [`wire::User`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserWithRoles {
    #[serde(flatten)]
    pub row: UserRow,
    pub roles: wire::Roles,
}

impl From<UserWithRoles> for wire::User {
    fn from(u: UserWithRoles) -> Self {
        let r = u.row;
        wire::User {
            role: u.roles.primary().unwrap_or(wire::Role::Parent),
            roles: u.roles.to_vec(),
            id: r.id,
            school_id: r.school_id,
            username: r.username,
            display_name: r.display_name,
            email: r.email,
            phone: r.phone,
            active: r.active,
        }
    }
}

/// The roles user `user_id` holds (empty for an unknown user). An unknown stored spelling,
/// impossible under the CHECK, is skipped: it grants nothing.
pub fn roles_of(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
) -> QueryResult<wire::Roles> {
    let names: Vec<String> = user_roles::table
        .filter(user_roles::school_id.eq(school_id))
        .filter(user_roles::user_id.eq(user_id))
        .select(user_roles::role)
        .load(conn)?;
    Ok(names.iter().filter_map(|n| wire::Role::parse(n)).collect())
}

/// The roles of each of `user_ids` (a user with none is absent from the map).
pub fn roles_of_users(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_ids: &[Uuid],
) -> QueryResult<HashMap<Uuid, wire::Roles>> {
    let rows: Vec<(Uuid, String)> = user_roles::table
        .filter(user_roles::school_id.eq(school_id))
        .filter(user_roles::user_id.eq_any(user_ids))
        .select((user_roles::user_id, user_roles::role))
        .load(conn)?;
    let mut map: HashMap<Uuid, wire::Roles> = HashMap::new();
    for (user, name) in rows {
        if let Some(r) = wire::Role::parse(&name) {
            let e = map.entry(user).or_default();
            *e = wire::Roles::of(e.iter().chain([r]));
        }
    }
    Ok(map)
}

/// `rows` with their roles, in the same order (one query for all of them).
pub fn with_roles(
    conn: &mut PgConnection,
    school_id: Uuid,
    rows: Vec<UserRow>,
) -> QueryResult<Vec<UserWithRoles>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let roles = roles_of_users(conn, school_id, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| UserWithRoles {
            roles: roles.get(&row.id).copied().unwrap_or_default(),
            row,
        })
        .collect())
}

/// Makes `roles` exactly the roles user `user_id` holds: revokes the others and grants the
/// missing ones (the caller checks that `roles` is not empty and audits the change).
pub fn set_roles(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
    roles: wire::Roles,
) -> QueryResult<()> {
    let keep: Vec<&str> = roles.iter().map(wire::Role::as_str).collect();
    diesel::delete(
        user_roles::table
            .filter(user_roles::school_id.eq(school_id))
            .filter(user_roles::user_id.eq(user_id))
            .filter(user_roles::role.ne_all(keep.clone())),
    )
    .execute(conn)?;
    let rows: Vec<_> = keep
        .iter()
        .map(|r| {
            (
                user_roles::school_id.eq(school_id),
                user_roles::user_id.eq(user_id),
                user_roles::role.eq(*r),
            )
        })
        .collect();
    diesel::insert_into(user_roles::table)
        .values(&rows)
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

/// The school's largest accepted single money amount, in minor units (`schools.max_amount`,
/// ARCHITECTURE.md §4 "Money limits").
pub fn max_amount(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<i64> {
    schools::table
        .find(school_id)
        .select(schools::max_amount)
        .first(conn)
}
