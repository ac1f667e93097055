//! The tenant and its logins: `schools` and `users` rows, which authentication, the roster,
//! the ledger and onboarding all read. A leaf: it depends on the schema alone, so every feature
//! may use it without forming a cycle.

use chrono::{DateTime, Utc};
use daftar_client_core::protocol as wire;
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::schema::{schools, users};

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
}

/// The school as the API shows it. Errors: not found, database.
pub fn school_wire(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<wire::School> {
    let (row, settings) = schools::table
        .find(school_id)
        .select((SchoolRow::as_select(), SchoolSettings::as_select()))
        .first::<(SchoolRow, SchoolSettings)>(conn)?;
    Ok(row.into_wire(settings))
}

/// `users`: a login. `password_hash` is a PHC argon2id string, never serialised.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = users, treat_none_as_null = true)]
pub struct UserRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: String,
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

impl UserRow {
    /// The role; an unknown stored spelling (impossible under the CHECK) reads as parent, the
    /// least privileged.
    pub fn role(&self) -> wire::Role {
        wire::Role::parse(&self.role).unwrap_or(wire::Role::Parent)
    }
}

impl From<UserRow> for wire::User {
    fn from(r: UserRow) -> Self {
        wire::User {
            role: r.role(),
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

/// The school's largest accepted single money amount, in minor units (`schools.max_amount`,
/// ARCHITECTURE.md §4 "Money limits").
pub fn max_amount(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<i64> {
    schools::table
        .find(school_id)
        .select(schools::max_amount)
        .first(conn)
}
