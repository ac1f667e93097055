//! Who may see what: one answer for REST and sync (ARCHITECTURE.md §6 "Scopes").
//!
//! [`Scope::of`] reads what a signed-in user may see; every REST read checks against it, and a
//! device's pull is its [`Scope::to_sync`]. `tests/tests/sync/scope_agreement.rs` proves, role
//! by role, that the two give the same rows. The SQL half of the rule, which scope keys a
//! logged row carries, is `log_image` in `server/sql/functions.sql`; which keys a scope selects
//! is `sync::pull::scope_filter`.

use daftar_client_core::protocol::sync::SyncScope;
use daftar_client_core::protocol::Role;
use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ApiResult};
use crate::schema::{class_teachers, enrollments, guardians, students};

/// What one user may see of their school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Admin and accountant: the whole school.
    School,
    /// A teacher: the classes assigned to them, and the students actively enrolled in them.
    Classes {
        class_ids: Vec<Uuid>,
        student_ids: Vec<Uuid>,
    },
    /// A parent: the families they are a guardian in, and the classes their children are or
    /// were enrolled in.
    Families {
        family_ids: Vec<Uuid>,
        class_ids: Vec<Uuid>,
    },
}

impl Scope {
    /// What `auth`'s user may see, read now (id lists sorted).
    pub fn of(conn: &mut PgConnection, auth: &AuthUser) -> QueryResult<Scope> {
        Ok(match auth.role {
            Role::Admin | Role::Accountant => Scope::School,
            Role::Teacher => {
                let mut class_ids = teacher_class_ids(conn, auth.school_id, auth.user_id)?;
                class_ids.sort();
                let mut student_ids = students_in_classes(conn, auth.school_id, &class_ids)?;
                student_ids.sort();
                Scope::Classes {
                    class_ids,
                    student_ids,
                }
            }
            Role::Parent => {
                let mut family_ids = parent_family_ids(conn, auth.school_id, auth.user_id)?;
                family_ids.sort();
                let mut class_ids = classes_of_families(conn, auth.school_id, &family_ids)?;
                class_ids.sort();
                Scope::Families {
                    family_ids,
                    class_ids,
                }
            }
        })
    }

    /// The scope a device of this user syncs (sorted, so a device can compare it as text).
    pub fn to_sync(&self) -> SyncScope {
        match self {
            Scope::School => SyncScope::School,
            Scope::Classes { class_ids, .. } => SyncScope::Classes {
                class_ids: class_ids.clone(),
            },
            Scope::Families {
                family_ids,
                class_ids,
            } => SyncScope::Families {
                family_ids: family_ids.clone(),
                class_ids: class_ids.clone(),
            },
        }
    }

    /// The classes this scope sees, or `None` for all of them.
    pub fn classes(&self) -> Option<&[Uuid]> {
        match self {
            Scope::School => None,
            Scope::Classes { class_ids, .. } | Scope::Families { class_ids, .. } => Some(class_ids),
        }
    }

    /// The families this scope sees (none for a teacher), or `None` for all of them.
    pub fn families(&self) -> Option<&[Uuid]> {
        match self {
            Scope::School => None,
            Scope::Classes { .. } => Some(&[]),
            Scope::Families { family_ids, .. } => Some(family_ids),
        }
    }

    /// Ok when the scope sees class `class_id`.
    ///
    /// Errors: 403 saying why not.
    pub fn require_class(&self, class_id: Uuid) -> ApiResult<()> {
        match self {
            Scope::School => Ok(()),
            Scope::Classes { class_ids, .. } if class_ids.contains(&class_id) => Ok(()),
            Scope::Classes { .. } => Err(ApiError::forbidden("this class is not assigned to you")),
            Scope::Families { class_ids, .. } if class_ids.contains(&class_id) => Ok(()),
            Scope::Families { .. } => Err(ApiError::forbidden(
                "none of your children is in this class",
            )),
        }
    }

    /// Ok when the scope sees family `family_id` (its record, guardians and money).
    ///
    /// Errors: 403 saying why not (teachers see no family records).
    pub fn require_family(&self, family_id: Uuid) -> ApiResult<()> {
        match self {
            Scope::School => Ok(()),
            Scope::Families { family_ids, .. } if family_ids.contains(&family_id) => Ok(()),
            Scope::Families { .. } => {
                Err(ApiError::forbidden("parents may only see their own family"))
            }
            Scope::Classes { .. } => {
                Err(ApiError::forbidden("teachers may not read family records"))
            }
        }
    }

    /// Ok when the scope sees student `student_id` of family `family_id`.
    ///
    /// Errors: 403 saying why not.
    pub fn require_student(&self, student_id: Uuid, family_id: Uuid) -> ApiResult<()> {
        match self {
            Scope::Classes { student_ids, .. } if !student_ids.contains(&student_id) => Err(
                ApiError::forbidden("this student is not in a class assigned to you"),
            ),
            Scope::Classes { .. } => Ok(()),
            _ => self.require_family(family_id),
        }
    }
}

/// Families the parent user `user_id` is a guardian in.
pub fn parent_family_ids(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
) -> QueryResult<Vec<Uuid>> {
    guardians::table
        .filter(guardians::school_id.eq(school_id))
        .filter(guardians::user_id.eq(user_id))
        .filter(guardians::active.eq(true))
        .select(guardians::family_id)
        .distinct()
        .load(conn)
}

/// Classes assigned to the teacher `user_id`.
pub fn teacher_class_ids(
    conn: &mut PgConnection,
    school_id: Uuid,
    user_id: Uuid,
) -> QueryResult<Vec<Uuid>> {
    class_teachers::table
        .filter(class_teachers::school_id.eq(school_id))
        .filter(class_teachers::teacher_id.eq(user_id))
        .select(class_teachers::class_id)
        .load(conn)
}

/// Students enrolled (actively) in any of `class_ids`.
pub fn students_in_classes(
    conn: &mut PgConnection,
    school_id: Uuid,
    class_ids: &[Uuid],
) -> QueryResult<Vec<Uuid>> {
    enrollments::table
        .filter(enrollments::school_id.eq(school_id))
        .filter(enrollments::class_id.eq_any(class_ids))
        .filter(enrollments::active.eq(true))
        .select(enrollments::student_id)
        .distinct()
        .load(conn)
}

/// Classes any student of `family_ids` is enrolled in.
pub fn classes_of_families(
    conn: &mut PgConnection,
    school_id: Uuid,
    family_ids: &[Uuid],
) -> QueryResult<Vec<Uuid>> {
    enrollments::table
        .inner_join(
            students::table.on(students::school_id
                .eq(enrollments::school_id)
                .and(students::id.eq(enrollments::student_id))),
        )
        .filter(enrollments::school_id.eq(school_id))
        .filter(students::family_id.eq_any(family_ids))
        .select(enrollments::class_id)
        .distinct()
        .load(conn)
}
