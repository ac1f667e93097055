//! Roster changes, each inside the caller's transaction with its audit row; the REST handlers
//! and the sync mutations (ARCHITECTURE.md §6) both change the roster through them. One file
//! per resource, as the handlers.

use chrono::DateTime;
use chrono::Utc;
use daftar_client_core::protocol::{
    CreateAcademicYearRequest, CreateClassRequest, CreateEnrollmentRequest, CreateFamilyRequest,
    CreateGuardianRequest, CreateStudentRequest, CreateUserRequest, Role, Roles,
    UpdateClassRequest, UpdateFamilyRequest, UpdateGuardianRequest, UpdateStudentRequest,
    UpdateUserRequest,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::models::*;
use super::repo;
use crate::audit::{Actor, AuditEntry};
use crate::auth::AuthUser;
use crate::errors::{ApiError, ApiResult};
use crate::schema::{
    academic_years, class_teachers, classes, enrollments, families, guardians, students, terms,
    users,
};
use crate::tenancy::{UserRow, UserWithRoles};
use crate::validate;

mod class;
mod enrollment;
mod family;
mod guardian;
mod school;
mod student;
mod user;

pub use class::*;
pub use enrollment::*;
pub use family::*;
pub use guardian::*;
pub use school::*;
pub use student::*;
pub use user::*;

/// Maps a Diesel "not found" to 404 naming `entity`; other errors map as usual.
pub(crate) fn not_found(entity: &'static str) -> impl FnOnce(diesel::result::Error) -> ApiError {
    move |e| match e {
        diesel::result::Error::NotFound => ApiError::NotFound(entity),
        other => other.into(),
    }
}

/// Ok when `user_id` is absent or names a user of the school with the parent role (a guardian
/// may be linked only to a parent login).
///
/// Errors: validation naming `user_id`.
pub(crate) fn check_parent_user(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Option<Uuid>,
) -> ApiResult<()> {
    if let Some(u) = user_id {
        repo::user(conn, school_id, u)
            .map_err(|_| ApiError::validation("user_id", "no such user in this school"))?;
        if !crate::tenancy::roles_of(conn, school_id, u)?.has(Role::Parent) {
            return Err(ApiError::validation(
                "user_id",
                "must be a user with the parent role",
            ));
        }
    }
    Ok(())
}
