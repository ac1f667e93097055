//! Wire types of the REST API under `/api/v1`. JSON field names are snake_case;
//! ids are UUIDv7 strings; dates are ISO 8601 calendar dates (`YYYY-MM-DD`, the school's local
//! date); instants are RFC 3339 UTC. Errors are RFC 9457 problem documents ([`Problem`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Version of the REST + sync protocol these types describe.
pub const PROTOCOL_VERSION: u32 = 1;

pub mod sync;
pub mod synced;

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

// ----- auth ----------------------------------------------------------------------------------

/// `POST /api/v1/auth/login`. `school` is the school's slug (usernames are unique per school).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginRequest {
    pub school: String,
    pub username: String,
    pub password: String,
    /// The enrolled device logging in, if any (bound into the token).
    #[serde(default)]
    pub device_id: Option<Uuid>,
}

/// `POST /api/v1/auth/refresh` and `/logout`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// Tokens issued by login and refresh. The access token is a JWT (RFC 7519, HS256) valid for
/// `expires_in` seconds; the refresh token is opaque, single-use, and rotates on every refresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Access-token lifetime in seconds.
    pub expires_in: i64,
    pub refresh_token: String,
    pub user: User,
}

// ----- school --------------------------------------------------------------------------------

/// A school (tenant). `currency` is ISO 4217; `timezone` an IANA name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct School {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub currency: String,
    pub timezone: String,
    /// The largest amount one money input (payment, discount, fine, refund, fee amount) may
    /// carry, in minor units of `currency`; at most 10^13.
    pub max_amount: i64,
}

/// An academic term (or the year's terms listing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Term {
    pub id: Uuid,
    pub academic_year_id: Uuid,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

/// An academic year with its terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AcademicYear {
    pub id: Uuid,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub terms: Vec<Term>,
}

/// A term inside [`CreateAcademicYearRequest`]; its dates must lie within the year's.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NewTerm {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

/// `POST /api/v1/academic-years` (admin): a year and its terms in one request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateAcademicYearRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    #[serde(default)]
    pub terms: Vec<NewTerm>,
}

// ----- users ---------------------------------------------------------------------------------

/// A person who can log in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct User {
    pub id: Uuid,
    pub school_id: Uuid,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub active: bool,
}

/// `POST /api/v1/users` (admin). `password` must be 10..=256 characters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateUserRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^\s*[A-Za-z0-9._@+-]{1,100}\s*$")
    )]
    pub username: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub display_name: String,
    pub role: Role,
    #[cfg_attr(feature = "openapi", schema(min_length = 10, max_length = 256))]
    pub password: String,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 254,
            pattern = r"^\s*$|^\s*[^@\s\u0000]+@[^.@\s\u0000][^@\s\u0000]*\.[^@\s\u0000]*\s*$"
        )
    )]
    pub email: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^\s*$|^\s*[ ()-]*\+?[ ()-]*([0-9][ ()-]*){7,15}\s*$")
    )]
    pub phone: Option<String>,
}

/// `PATCH /api/v1/users/{id}` (admin): only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateUserRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub display_name: Option<String>,
    pub role: Option<Role>,
    #[cfg_attr(feature = "openapi", schema(min_length = 10, max_length = 256))]
    pub password: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 254,
            pattern = r"^\s*$|^\s*[^@\s\u0000]+@[^.@\s\u0000][^@\s\u0000]*\.[^@\s\u0000]*\s*$"
        )
    )]
    pub email: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^\s*$|^\s*[ ()-]*\+?[ ()-]*([0-9][ ()-]*){7,15}\s*$")
    )]
    pub phone: Option<String>,
    pub active: Option<bool>,
}

// ----- classes -------------------------------------------------------------------------------

/// A class: one grade + section in an academic year (optionally bound to one term).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Class {
    pub id: Uuid,
    pub academic_year_id: Uuid,
    pub term_id: Option<Uuid>,
    pub name: String,
    pub grade: String,
    pub section: String,
    pub code: Option<String>,
    pub homeroom_teacher_id: Option<Uuid>,
    pub active: bool,
}

/// `POST /api/v1/classes` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateClassRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub academic_year_id: Uuid,
    #[serde(default)]
    pub term_id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: String,
    #[serde(default)]
    pub grade: String,
    #[serde(default)]
    pub section: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub code: Option<String>,
    #[serde(default)]
    pub homeroom_teacher_id: Option<Uuid>,
}

/// `PATCH /api/v1/classes/{id}` (admin).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateClassRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: Option<String>,
    pub grade: Option<String>,
    pub section: Option<String>,
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub code: Option<String>,
    pub homeroom_teacher_id: Option<Uuid>,
    pub active: Option<bool>,
}

/// A teacher assigned to a class (`/api/v1/classes/{id}/teachers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TeacherAssignment {
    pub class_id: Uuid,
    pub teacher_id: Uuid,
    pub display_name: String,
    pub is_primary: bool,
}

// ----- families, students, guardians ---------------------------------------------------------

/// A family: the billing account that groups siblings and their guardians.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Family {
    pub id: Uuid,
    pub name: String,
    pub active: bool,
}

/// A family with its students and guardians (`GET /api/v1/families/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FamilyDetail {
    pub family: Family,
    pub students: Vec<Student>,
    pub guardians: Vec<Guardian>,
}

/// `POST /api/v1/families`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateFamilyRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: String,
}

/// `PATCH /api/v1/families/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateFamilyRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: Option<String>,
    pub active: Option<bool>,
}

/// A student. `admission_no` is unique per school.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Student {
    pub id: Uuid,
    pub family_id: Uuid,
    pub admission_no: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<String>,
    pub grade: String,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

/// `POST /api/v1/students`. With no `family_id` a new family named after the student is made.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateStudentRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[serde(default)]
    pub family_id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 50,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub admission_no: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub given_name: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub family_name: String,
    #[serde(default)]
    pub date_of_birth: Option<NaiveDate>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 20))]
    pub gender: Option<String>,
    #[serde(default)]
    pub grade: String,
}

/// `PATCH /api/v1/students/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateStudentRequest {
    pub family_id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 50,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub admission_no: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub given_name: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub family_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    #[cfg_attr(feature = "openapi", schema(max_length = 20))]
    pub gender: Option<String>,
    pub grade: Option<String>,
    pub active: Option<bool>,
}

/// A guardian (parent, relative) belonging to a family; `user_id` is their login, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Guardian {
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Option<Uuid>,
    pub given_name: String,
    pub family_name: String,
    pub relationship: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub active: bool,
}

/// `POST /api/v1/guardians`. `phone` is E.164-ish: `+` and 7..=15 digits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateGuardianRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub family_id: Uuid,
    #[serde(default)]
    pub user_id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub given_name: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub family_name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 50))]
    pub relationship: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^\s*$|^\s*[ ()-]*\+?[ ()-]*([0-9][ ()-]*){7,15}\s*$")
    )]
    pub phone: Option<String>,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 254,
            pattern = r"^\s*$|^\s*[^@\s\u0000]+@[^.@\s\u0000][^@\s\u0000]*\.[^@\s\u0000]*\s*$"
        )
    )]
    pub email: Option<String>,
}

/// `PATCH /api/v1/guardians/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateGuardianRequest {
    pub family_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub given_name: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub family_name: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 50,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub relationship: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^\s*$|^\s*[ ()-]*\+?[ ()-]*([0-9][ ()-]*){7,15}\s*$")
    )]
    pub phone: Option<String>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            max_length = 254,
            pattern = r"^\s*$|^\s*[^@\s\u0000]+@[^.@\s\u0000][^@\s\u0000]*\.[^@\s\u0000]*\s*$"
        )
    )]
    pub email: Option<String>,
    pub active: Option<bool>,
}

// ----- enrollments ---------------------------------------------------------------------------

/// A student's membership of a class, optionally bounded by dates (inclusive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Enrollment {
    pub id: Uuid,
    pub class_id: Uuid,
    pub student_id: Uuid,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub active: bool,
}

/// `POST /api/v1/enrollments`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateEnrollmentRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub class_id: Uuid,
    pub student_id: Uuid,
    #[serde(default)]
    pub starts_on: Option<NaiveDate>,
    #[serde(default)]
    pub ends_on: Option<NaiveDate>,
}

// ----- imports -------------------------------------------------------------------------------

/// Something odd but importable in a OneRoster file: imported, and reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ImportWarning {
    /// File name inside the export, e.g. `enrollments.csv`.
    pub file: String,
    /// 1-based line number in that file (the header is line 1).
    pub line: u64,
    pub message: String,
}

/// What a OneRoster import changed. Counts are rows inserted or changed; a second import of
/// the same files reports all zeros.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ImportReport {
    pub school_id: Uuid,
    pub schools: u64,
    pub terms: u64,
    pub classes: u64,
    pub users: u64,
    pub enrollments: u64,
    pub deactivated: u64,
    pub warnings: Vec<ImportWarning>,
}

impl ImportReport {
    /// True when the import changed nothing.
    pub fn is_unchanged(&self) -> bool {
        self.schools + self.terms + self.classes + self.users + self.enrollments + self.deactivated
            == 0
    }
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

// ----- fees and ledger (ARCHITECTURE.md §4) --------------------------------------------------
// Money is `i64` minor units of the school's ISO 4217 `currency`.

/// A fee head (tuition, transport, …) with its own income account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FeeHead {
    pub id: Uuid,
    pub name: String,
    pub income_account_id: Uuid,
    pub active: bool,
}

/// `POST /api/v1/fee-heads` (admin, accountant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateFeeHeadRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: String,
}

/// What a class pays for a fee head in a term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FeeSchedule {
    pub id: Uuid,
    pub term_id: Uuid,
    pub class_id: Uuid,
    pub fee_head_id: Uuid,
    /// Minor units, > 0.
    pub amount: i64,
    pub due_on: NaiveDate,
}

/// `POST /api/v1/fee-schedules` (admin, accountant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateFeeScheduleRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub term_id: Uuid,
    pub class_id: Uuid,
    pub fee_head_id: Uuid,
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: i64,
    pub due_on: NaiveDate,
}

/// Result of `POST /api/v1/terms/{id}/invoices`: invoices issued now (students already
/// invoiced for the term are skipped, so the call is safe to repeat).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct IssueInvoicesReport {
    pub invoices_issued: u64,
    /// Total invoiced, minor units.
    pub amount_invoiced: i64,
    /// Family Credit applied to the new invoices, minor units.
    pub credit_applied: i64,
    pub currency: String,
}

/// How a payment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    BankTransfer,
    Cheque,
    Card,
    MobileMoney,
}

impl PaymentMethod {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::Cheque => "cheque",
            PaymentMethod::Card => "card",
            PaymentMethod::MobileMoney => "mobile_money",
        }
    }
}

/// `POST /api/v1/payments` (admin, accountant). `id` is the client-generated idempotency key:
/// replaying the same request returns the original payment; the same id with a different
/// body is 409 `idempotency_key_reused`. A missing or unknown `family_id` posts the cash to
/// Suspense (never dropped).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RecordPaymentRequest {
    pub id: Uuid,
    #[serde(default)]
    pub family_id: Option<Uuid>,
    /// Minor units, > 0.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: i64,
    /// ISO 4217; must be the school's currency.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Z]{3}$"))]
    pub currency: String,
    pub method: PaymentMethod,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub reference: Option<String>,
    /// When the money was received (UTC); defaults to now.
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

/// Money a payment applied to one invoice line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PaymentAllocation {
    pub invoice_id: Uuid,
    pub invoice_line_id: Uuid,
    pub student_id: Uuid,
    pub amount: i64,
}

/// A recorded payment and its receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Payment {
    pub id: Uuid,
    pub receipt_no: String,
    pub family_id: Option<Uuid>,
    pub amount: i64,
    pub currency: String,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub received_at: DateTime<Utc>,
    pub allocations: Vec<PaymentAllocation>,
    /// Part that became Family Credit.
    pub to_credit: i64,
    /// Part posted to Suspense (unknown family).
    pub to_suspense: i64,
    pub journal_entry_id: Uuid,
}

/// One invoice line with what is still owing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvoiceLineDue {
    pub invoice_line_id: Uuid,
    pub description: String,
    pub due_on: NaiveDate,
    pub amount: i64,
    pub outstanding: i64,
}

/// One invoice with its lines and what is owing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvoiceDue {
    pub invoice_id: Uuid,
    pub invoice_no: i64,
    pub student_id: Uuid,
    pub term_id: Uuid,
    pub issued_on: NaiveDate,
    pub amount: i64,
    pub outstanding: i64,
    pub lines: Vec<InvoiceLineDue>,
}

/// A student's share of the family's dues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StudentDue {
    pub student_id: Uuid,
    pub outstanding: i64,
}

/// `GET /api/v1/families/{id}/dues`: what the family owes, computed from the journal.
/// `net_due` = `total_outstanding` − `credit_balance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FamilyDues {
    pub family_id: Uuid,
    pub currency: String,
    pub total_outstanding: i64,
    pub credit_balance: i64,
    pub net_due: i64,
    pub per_student: Vec<StudentDue>,
    /// Invoices with money owing, oldest due first.
    pub invoices: Vec<InvoiceDue>,
}

/// One line of a family statement. `debit` raises what the family owes (invoices, fines),
/// `credit` lowers it (payments, discounts); `balance` is the running amount owed (negative =
/// the school holds the family's money as credit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StatementLine {
    pub entry_no: i64,
    pub occurred_on: NaiveDate,
    pub kind: String,
    pub memo: String,
    pub debit: i64,
    pub credit: i64,
    pub balance: i64,
}

/// `GET /api/v1/families/{id}/statement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FamilyStatement {
    pub family_id: Uuid,
    pub currency: String,
    pub lines: Vec<StatementLine>,
    pub closing_balance: i64,
}

/// What kind of reduction a [`GrantDiscountRequest`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    Discount,
    Waiver,
    Scholarship,
}

impl DiscountKind {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscountKind::Discount => "discount",
            DiscountKind::Waiver => "waiver",
            DiscountKind::Scholarship => "scholarship",
        }
    }
}

/// `POST /api/v1/invoice-lines/{id}/discounts` (office). Exactly one of `amount` (minor units)
/// or `percent_bp` (basis points of the line amount, 1..=10000, rounded half up) is given; the
/// result may not exceed what is still owing on the line. `id` is the idempotency key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GrantDiscountRequest {
    pub id: Uuid,
    pub kind: DiscountKind,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub percent_bp: Option<i32>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 500,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub reason: String,
    /// The admin or accountant who approved it.
    pub approved_by: Uuid,
}

/// A granted discount, waiver or scholarship.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Discount {
    pub id: Uuid,
    pub invoice_line_id: Uuid,
    pub kind: DiscountKind,
    pub amount: i64,
    pub percent_bp: Option<i32>,
    pub reason: String,
    pub approved_by: Uuid,
    pub journal_entry_id: Uuid,
}

/// `POST /api/v1/invoices/{id}/fines` (office): a late-fine line on an overdue invoice.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddFineRequest {
    pub id: Uuid,
    /// Minor units, > 0.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: i64,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 500,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub reason: String,
    /// Due date of the fine line (default: today).
    #[serde(default)]
    pub due_on: Option<NaiveDate>,
}

/// A late fine added to an invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Fine {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub invoice_line_id: Uuid,
    pub amount: i64,
    pub reason: String,
    pub journal_entry_id: Uuid,
}

/// `POST /api/v1/families/{id}/refunds` (office): pay back part of the family's credit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefundRequest {
    pub id: Uuid,
    /// Minor units, > 0 and at most the family's credit balance.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: i64,
    pub method: PaymentMethod,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 500,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub reason: String,
}

/// A refund out of Family Credit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Refund {
    pub id: Uuid,
    pub family_id: Uuid,
    pub amount: i64,
    pub method: PaymentMethod,
    pub reason: String,
    pub journal_entry_id: Uuid,
}

/// `POST /api/v1/payments/{id}/reversal` (office): undo a payment (bounced cheque).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReversePaymentRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 500,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub reason: String,
}

/// A payment reversal. When the payment's excess had already been applied as Family Credit,
/// those credit applications are reversed too (`credit_applications_reversed`) and whatever
/// credit remains is re-applied oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PaymentReversal {
    pub payment_id: Uuid,
    pub journal_entry_id: Uuid,
    pub reason: String,
    pub credit_applications_reversed: u32,
}

// ----- attendance (ARCHITECTURE.md §5) -------------------------------------------------------

/// What an attendance code means for reports (ARCHITECTURE.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttendanceCategory {
    Present,
    Absent,
    Late,
    Excused,
    HalfDay,
}

impl AttendanceCategory {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AttendanceCategory::Present => "present",
            AttendanceCategory::Absent => "absent",
            AttendanceCategory::Late => "late",
            AttendanceCategory::Excused => "excused",
            AttendanceCategory::HalfDay => "half_day",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Present,
            Self::Absent,
            Self::Late,
            Self::Excused,
            Self::HalfDay,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A school's attendance code, e.g. `P` = Present.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AttendanceCode {
    pub id: Uuid,
    pub code: String,
    pub label: String,
    pub category: AttendanceCategory,
    pub active: bool,
}

/// `POST /api/v1/attendance-codes` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateAttendanceCodeRequest {
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*[A-Za-z0-9]{1,4}\s*$"))]
    pub code: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 50,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub label: String,
    pub category: AttendanceCategory,
}

/// One student whose mark differs from the register's default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MarkException {
    pub student_id: Uuid,
    pub code: String,
}

/// `PUT /api/v1/classes/{id}/registers/{date}`: mark the whole class in one request — every
/// enrolled student gets `default_code` (default `P`) except those listed. An office user
/// changing a teacher's mark must give a `reason`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MarkRegisterRequest {
    /// 0 = the whole day (default), else the lesson period.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 20))]
    pub period: i16,
    #[serde(default)]
    pub default_code: Option<String>,
    #[serde(default)]
    pub exceptions: Vec<MarkException>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Who made a mark: a teacher (for their assigned classes, within the edit window) or the
/// office (admin or accountant, any class, overriding with a reason). Stored and sent as
/// `teacher` / `office`; the precedence between them is `crate::attendance::precedence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MarkSource {
    Teacher,
    Office,
}

impl MarkSource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkSource::Teacher => "teacher",
            MarkSource::Office => "office",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "teacher" => Some(MarkSource::Teacher),
            "office" => Some(MarkSource::Office),
            _ => None,
        }
    }
}

/// A student's current mark in a register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AttendanceMark {
    pub student_id: Uuid,
    pub code: String,
    pub category: AttendanceCategory,
    pub source: MarkSource,
    pub reason: Option<String>,
    pub marked_by: Uuid,
    pub marked_at: DateTime<Utc>,
}

/// A register (one class, one date, one period) and its marks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Register {
    pub id: Uuid,
    pub class_id: Uuid,
    pub on_date: NaiveDate,
    pub period: i16,
    pub taken_at: Option<DateTime<Utc>>,
    pub marks: Vec<AttendanceMark>,
}

/// Result of marking: the register, and students whose office override was kept over the
/// teacher's mark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MarkRegisterResult {
    pub register: Register,
    pub changed: u32,
    pub kept_office_overrides: Vec<Uuid>,
}

/// Counts of marks by category.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CategoryCounts {
    pub present: u32,
    pub absent: u32,
    pub late: u32,
    pub excused: u32,
    pub half_day: u32,
}

impl CategoryCounts {
    /// Adds one mark of `c`.
    pub fn add(&mut self, c: AttendanceCategory) {
        match c {
            AttendanceCategory::Present => self.present += 1,
            AttendanceCategory::Absent => self.absent += 1,
            AttendanceCategory::Late => self.late += 1,
            AttendanceCategory::Excused => self.excused += 1,
            AttendanceCategory::HalfDay => self.half_day += 1,
        }
    }

    /// Attendance percentage: (present + late + ½·half-day) / (all − excused) × 100, rounded to
    /// one decimal; `None` when nothing counts.
    pub fn percentage(&self) -> Option<f64> {
        let counted = self.present + self.absent + self.late + self.half_day;
        if counted == 0 {
            return None;
        }
        let attended = f64::from(self.present + self.late) + f64::from(self.half_day) / 2.0;
        Some((attended * 1000.0 / f64::from(counted)).round() / 10.0)
    }
}

/// One day (register) in a student's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StudentDay {
    pub on_date: NaiveDate,
    pub period: i16,
    pub class_id: Uuid,
    pub code: String,
    pub category: AttendanceCategory,
}

/// `GET /api/v1/students/{id}/attendance?from=&to=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StudentAttendance {
    pub student_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub days: Vec<StudentDay>,
    pub counts: CategoryCounts,
    /// See [`CategoryCounts::percentage`].
    pub percentage: Option<f64>,
}

/// One student's row in a class grid: a code (or nothing) per date of `ClassAttendanceGrid::dates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GridRow {
    pub student_id: Uuid,
    pub name: String,
    pub codes: Vec<Option<String>>,
}

/// `GET /api/v1/classes/{id}/attendance?from=&to=`: the register grid (whole-day registers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ClassAttendanceGrid {
    pub class_id: Uuid,
    pub dates: Vec<NaiveDate>,
    pub rows: Vec<GridRow>,
}

/// A class whose register has not been taken on a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RegisterNotTaken {
    pub class_id: Uuid,
    pub class_name: String,
    pub teacher_ids: Vec<Uuid>,
}

/// One class's line in the daily summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ClassDaySummary {
    pub class_id: Uuid,
    pub class_name: String,
    pub taken: bool,
    pub counts: CategoryCounts,
}

/// `GET /api/v1/attendance/summary?date=`: the school's day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DailyAttendanceSummary {
    pub on_date: NaiveDate,
    pub registers_taken: u32,
    pub classes: u32,
    pub counts: CategoryCounts,
    pub per_class: Vec<ClassDaySummary>,
}

// ----- reports (ARCHITECTURE.md §4) ----------------------------------------------------------

/// What a report column holds. `money` cells are integer minor units of the report's currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    Text,
    Money,
    Count,
    Date,
}

/// A report column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReportColumn {
    /// Stable snake_case key (CSV header).
    pub key: String,
    /// Human label (spreadsheet header).
    pub label: String,
    pub kind: ColumnKind,
}

/// One cell: text, an integer (money in minor units, or a count), or empty. Integers are
/// `i128` because a total over the whole journal may pass `i64::MAX`; JSON
/// carries them as exact integer literals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(untagged)]
pub enum ReportCell {
    Int(i128),
    Text(String),
    Empty,
}

/// A report as a table (`GET /api/v1/reports/{name}`; also served as CSV or .xlsx). Every
/// figure is computed from the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReportTable {
    /// The report's name, e.g. `trial_balance`.
    pub report: String,
    pub title: String,
    /// ISO 4217 currency of `money` columns.
    pub currency: String,
    pub columns: Vec<ReportColumn>,
    pub rows: Vec<Vec<ReportCell>>,
    /// Column totals (money and count columns), when the report has them.
    pub totals: Option<Vec<ReportCell>>,
}

/// A teacher's class and its register status on a date (`GET /api/v1/attendance/my-registers`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MyRegister {
    pub class_id: Uuid,
    pub class_name: String,
    pub on_date: NaiveDate,
    pub enrolled: u32,
    pub marked: u32,
    pub taken: bool,
}

/// An account of the school's chart (`GET /api/v1/accounts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Account {
    pub id: Uuid,
    pub code: String,
    pub name: String,
    /// `asset`, `liability`, `equity`, `income`, `contra_income` or `expense`.
    pub kind: String,
    /// Set on the accounts the system posts to (`cash`, `receivable`, …).
    pub system_key: Option<String>,
    pub active: bool,
}

/// `POST /api/v1/accounts` (admin, accountant): add an account to the chart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateAccountRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    /// 1..=20 of letters, digits, `.` and `-`; unique in the school.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^\s*[A-Za-z0-9.-]{1,20}\s*$"))]
    pub code: String,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: String,
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^(asset|liability|equity|income|contra_income|expense)$")
    )]
    pub kind: String,
}

/// `POST /api/v1/payments/{id}/assign` (office): a payment held in Suspense is given to the
/// family it belongs to; it is then allocated like any payment of that family.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AssignSuspenseRequest {
    pub family_id: Uuid,
}
