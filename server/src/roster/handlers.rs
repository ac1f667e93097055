//! Roster endpoints under `/api/v1`. Thin: parse, check role and scope, call the
//! repo in one transaction (with its audit row), answer.

use actix_web::{delete, get, patch, post, put, web, HttpResponse};
use daftar_client_core::protocol::{
    AcademicYear, AssignTeacherRequest, Class, CreateAcademicYearRequest, CreateClassRequest,
    CreateEnrollmentRequest, CreateFamilyRequest, CreateGuardianRequest, CreateStudentRequest,
    CreateUserRequest, Enrollment, Family, FamilyDetail, Guardian, ListQuery, Page, Problem, Role,
    School, Student, TeacherAssignment, Term, UpdateClassRequest, UpdateFamilyRequest,
    UpdateGuardianRequest, UpdateSchoolRequest, UpdateStudentRequest, UpdateUserRequest, User,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::models::*;
use super::repo::{self, Filter};
use super::service;
use super::service::{admit_student, not_found, Admission, AdmissionFamily, AdmissionFields};
use crate::access::Scope;
use crate::audit::Actor;
use crate::auth::{password, AuthUser};
use crate::db::Db;
use crate::errors::{ApiError, ApiResult};
use crate::json::Json;

/// Largest page a listing returns.
pub const MAX_PAGE: i64 = 500;
/// Page size when `limit` is not given.
pub const DEFAULT_PAGE: i64 = 50;

fn paging(q: &ListQuery) -> ApiResult<(i64, i64)> {
    let limit = q.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::validation(
            "limit",
            format!("must be 1 to {MAX_PAGE}"),
        ));
    }
    let offset = q.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::validation("offset", "must not be negative"));
    }
    Ok((limit, offset))
}

fn page<R, T: From<R>>((rows, total): repo::Paged<R>, limit: i64, offset: i64) -> Page<T> {
    Page {
        items: rows.into_iter().map(T::from).collect(),
        total,
        limit,
        offset,
    }
}

fn filter_from(q: ListQuery) -> Filter {
    Filter {
        q: q.q,
        class_id: q.class_id,
        family_id: q.family_id,
        student_id: q.student_id,
        ..Filter::default()
    }
}

/// Restricts a student listing to what the caller may see ([`Scope`]).
fn scope_students(conn: &mut PgConnection, auth: &AuthUser, f: &mut Filter) -> ApiResult<()> {
    let scope = Scope::of(conn, auth)?;
    f.within_ids = scope.taught_students().map(<[Uuid]>::to_vec);
    f.within_families = scope.families().map(<[Uuid]>::to_vec);
    Ok(())
}

fn ensure_family_visible(
    conn: &mut PgConnection,
    auth: &AuthUser,
    family_id: Uuid,
) -> ApiResult<()> {
    Scope::of(conn, auth)?.require_family(family_id)
}

fn ensure_class_visible(conn: &mut PgConnection, auth: &AuthUser, class_id: Uuid) -> ApiResult<()> {
    Scope::of(conn, auth)?.require_class(class_id)
}

fn ensure_student_visible(
    conn: &mut PgConnection,
    auth: &AuthUser,
    s: &StudentRow,
) -> ApiResult<()> {
    Scope::of(conn, auth)?.require_student(s.id, s.family_id)
}

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
