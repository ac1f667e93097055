//! Wire types of the REST API under `/api/v1`. JSON field names are snake_case;
//! ids are UUIDv7 strings; dates are ISO 8601 calendar dates (`YYYY-MM-DD`, the school's local
//! date); instants are RFC 3339 UTC. Errors are RFC 9457 problem documents ([`Problem`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Version of the REST + sync protocol these types describe.
pub const PROTOCOL_VERSION: u32 = 1;

mod admissions;
mod audit;
mod auth;
mod fees;
mod registers;
mod reports;
mod roster;
pub mod sync;
pub mod synced;

pub use admissions::*;
pub use audit::*;
pub use auth::*;
pub use fees::*;
pub use registers::*;
pub use reports::*;
pub use roster::*;

#[cfg(feature = "openapi")]
use utoipa::{IntoParams, ToSchema};

/// The role a user acts in; checked server-side on every endpoint (ARCHITECTURE.md §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Configures the school, manages users and the roster.
    Admin,
    /// Office money work; reads the roster.
    Accountant,
    /// Marks attendance for, and reads, only the classes assigned to them.
    Teacher,
    /// Reads only their own family's students.
    Parent,
}

impl Role {
    /// All roles, in privilege order.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Accountant, Role::Teacher, Role::Parent];

    /// The stored/wire spelling (`"admin"`, `"accountant"`, `"teacher"`, `"parent"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Accountant => "accountant",
            Role::Teacher => "teacher",
            Role::Parent => "parent",
        }
    }

    /// Parses the stored/wire spelling; `None` for anything else.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Office staff (admin, accountant) see the whole school.
    pub fn is_office(self) -> bool {
        matches!(self, Role::Admin | Role::Accountant)
    }

    fn bit(self) -> u8 {
        match self {
            Role::Admin => 1,
            Role::Accountant => 2,
            Role::Teacher => 4,
            Role::Parent => 8,
        }
    }
}

/// The roles one user holds (issue #17 "Users with several roles": an admin who also
/// teaches, an accountant who is also a parent). What the user may do and see is the union of
/// what each role may (ARCHITECTURE.md §7). A small copyable set; on the wire it is a JSON
/// array of role names in privilege order without repeats ([`Roles::to_vec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Roles(u8);

impl Roles {
    /// The set of `roles` (repeats collapse).
    pub fn of(roles: impl IntoIterator<Item = Role>) -> Roles {
        Roles(roles.into_iter().fold(0, |acc, r| acc | r.bit()))
    }

    /// Whether `role` is one of them.
    pub fn has(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether any of `roles` is one of them.
    pub fn any(self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    /// Office staff (admin or accountant among them): the whole school.
    pub fn is_office(self) -> bool {
        self.any(&[Role::Admin, Role::Accountant])
    }

    /// No role at all.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The roles in privilege order ([`Role::ALL`]).
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.has(*r))
    }

    /// The roles in privilege order, as the wire carries them.
    pub fn to_vec(self) -> Vec<Role> {
        self.iter().collect()
    }

    /// The most privileged role (`None` when empty): the one older clients read as `role`.
    pub fn primary(self) -> Option<Role> {
        self.iter().next()
    }

    /// The names joined by `" + "` (`"admin + teacher"`), for messages and pages.
    pub fn names(self) -> String {
        self.iter()
            .map(Role::as_str)
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_vec().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Roles::of(Vec::<Role>::deserialize(d)?))
    }
}

impl FromIterator<Role> for Roles {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        Roles::of(iter)
    }
}

/// RFC 9457 problem document, served as `application/problem+json` for every error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Problem {
    /// `urn:daftar:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// Short human summary (the HTTP reason phrase).
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// Stable snake_case machine code, e.g. `validation_failed`, `forbidden`, `not_found`.
    pub code: String,
    /// For validation errors: the request field that was wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// One page of a listing. `total` counts all matches, not just this page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// Query string of every listing: `limit` (1..=500, default 50), `offset` (default 0) and an
/// optional case-insensitive search `q` (names, admission number, username).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema, IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListQuery {
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 500))]
    pub limit: Option<i64>,
    #[cfg_attr(feature = "openapi", param(minimum = 0))]
    pub offset: Option<i64>,
    pub q: Option<String>,
    /// Only rows linked to this class (students, enrollments).
    pub class_id: Option<Uuid>,
    /// Only rows of this family (students, guardians).
    pub family_id: Option<Uuid>,
    /// Only rows of this student (enrollments).
    pub student_id: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_spelling_round_trips_and_rejects_unknown() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            let json = serde_json::to_string(&r).expect("serialize");
            assert_eq!(json, format!("\"{}\"", r.as_str()));
        }
        assert_eq!(Role::parse("superuser"), None);
    }

    #[test]
    fn problem_serializes_type_field_per_rfc_9457() {
        let p = Problem {
            type_uri: "urn:daftar:problem:not_found".into(),
            title: "Not Found".into(),
            status: 404,
            detail: "no such student".into(),
            code: "not_found".into(),
            field: None,
        };
        let v = serde_json::to_value(&p).expect("serialize");
        assert_eq!(v["type"], "urn:daftar:problem:not_found");
        assert!(v.get("field").is_none());
    }
}
