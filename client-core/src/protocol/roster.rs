//! The school, its users, classes, families, students, guardians, enrolments and imports.

use super::*;

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
    /// Postal address printed under the name on receipts; empty until set.
    #[serde(default)]
    pub address: String,
    /// Days after a register's date during which a teacher may still change its marks
    /// (0..=365; 0 = the same school day only).
    #[serde(default)]
    pub attendance_edit_window_days: i32,
    /// When the logo printed on receipts was last set or removed (UTC; `None` before any was
    /// set). A device that has another version fetches `GET /api/v1/school/logo` (issue #17).
    #[serde(default)]
    pub logo_updated_at: Option<DateTime<Utc>>,
}

/// `PATCH /api/v1/school` (admin): the school's settings (issue #17); absent fields are kept.
/// `currency` can change only while the school's journal is empty (409 `currency_in_use`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateSchoolRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 200,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: Option<String>,
    /// At most 300 characters; empty clears it.
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 300, pattern = r"^[^\u0000]*$")
    )]
    pub address: Option<String>,
    /// ISO 4217, three capitals.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Z]{3}$"))]
    pub currency: Option<String>,
    /// An IANA time zone (`Asia/Karachi`).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub timezone: Option<String>,
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 365))]
    pub attendance_edit_window_days: Option<i32>,
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

/// A person who can log in. A user holds one or more roles (issue #17); `roles` lists them in
/// privilege order and `role` is the first of them, kept for clients that know one role only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct User {
    pub id: Uuid,
    pub school_id: Uuid,
    pub username: String,
    pub display_name: String,
    /// The most privileged of `roles`.
    pub role: Role,
    /// Every role the user holds, in privilege order (admin, accountant, teacher, parent);
    /// never empty. What the user may do is the union of these roles' permissions.
    #[serde(default)]
    pub roles: Vec<Role>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub active: bool,
}

impl User {
    /// The roles as a set (`[role]` from a server that sent no `roles`).
    pub fn role_set(&self) -> crate::protocol::Roles {
        if self.roles.is_empty() {
            crate::protocol::Roles::of([self.role])
        } else {
            crate::protocol::Roles::of(self.roles.iter().copied())
        }
    }
}

/// `POST /api/v1/users` (admin). `password` must be 10..=256 characters. The user's roles are
/// `roles`, or the one `role`; at least one must be given (422 naming `roles`).
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
    /// One role (the older form of `roles`).
    #[serde(default)]
    pub role: Option<Role>,
    /// Every role the user is to hold (repeats collapse).
    #[serde(default)]
    pub roles: Vec<Role>,
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
    /// Makes this the user's only role.
    pub role: Option<Role>,
    /// Replaces the user's roles with these (at least one; repeats collapse). Not with `role`.
    pub roles: Option<Vec<Role>>,
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
    /// What the teacher teaches in the class (issue #17); `None` for no one subject.
    #[serde(default)]
    pub subject: Option<String>,
}

/// The optional body of `PUT /api/v1/classes/{id}/teachers/{teacher_id}` (admin): what the
/// teacher teaches in the class. Without a body (or with `subject` absent) an existing
/// assignment keeps its subject; an empty string clears it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AssignTeacherRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 100, pattern = r"^[^\u0000]*$")
    )]
    pub subject: Option<String>,
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
