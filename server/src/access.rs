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

/// What one user may see of their school. A user with several roles (issue #17) sees the union
/// of what each role sees: an admin or accountant the whole school whatever else they are; a
/// teacher who is also a parent their classes *and* their own family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Admin and accountant: the whole school.
    School,
    /// Teachers, parents, and those who are both.
    Limited(Limited),
}

/// The parts of a school a teacher and/or parent sees (id lists sorted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limited {
    /// As a teacher: the classes assigned to them, and the students actively enrolled in them.
    pub taught: Option<Taught>,
    /// As a parent: the families they are a guardian in, and the classes their children are
    /// or were enrolled in.
    pub family: Option<FamilyScope>,
}

/// What a teacher sees of the school.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Taught {
    pub class_ids: Vec<Uuid>,
    pub student_ids: Vec<Uuid>,
}

/// What a parent sees of the school.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FamilyScope {
    pub family_ids: Vec<Uuid>,
    pub class_ids: Vec<Uuid>,
}

impl Scope {
    /// What `auth`'s user may see, read now (id lists sorted), from every role it holds.
    pub fn of(conn: &mut PgConnection, auth: &AuthUser) -> QueryResult<Scope> {
        if auth.is_office() {
            return Ok(Scope::School);
        }
        let taught = if auth.has(Role::Teacher) {
            let mut class_ids = teacher_class_ids(conn, auth.school_id, auth.user_id)?;
            class_ids.sort();
            let mut student_ids = students_in_classes(conn, auth.school_id, &class_ids)?;
            student_ids.sort();
            Some(Taught {
                class_ids,
                student_ids,
            })
        } else {
            None
        };
        let family = if auth.has(Role::Parent) {
            let mut family_ids = parent_family_ids(conn, auth.school_id, auth.user_id)?;
            family_ids.sort();
            let mut class_ids = classes_of_families(conn, auth.school_id, &family_ids)?;
            class_ids.sort();
            Some(FamilyScope {
                family_ids,
                class_ids,
            })
        } else {
            None
        };
        Ok(Scope::Limited(Limited { taught, family }))
    }

    /// The scope a device of this user syncs (sorted, so a device can compare it as text).
    pub fn to_sync(&self) -> SyncScope {
        let Scope::Limited(l) = self else {
            return SyncScope::School;
        };
        match (&l.taught, &l.family) {
            (Some(t), Some(f)) => SyncScope::ClassesAndFamilies {
                class_ids: t.class_ids.clone(),
                family_ids: f.family_ids.clone(),
                family_class_ids: f.class_ids.clone(),
            },
            (None, Some(f)) => SyncScope::Families {
                family_ids: f.family_ids.clone(),
                class_ids: f.class_ids.clone(),
            },
            (Some(t), None) => SyncScope::Classes {
                class_ids: t.class_ids.clone(),
            },
            (None, None) => SyncScope::Classes {
                class_ids: Vec::new(),
            },
        }
    }

    /// The classes this scope sees (taught or a child's, sorted, without repeats), or `None`
    /// for all of them.
    pub fn classes(&self) -> Option<Vec<Uuid>> {
        let Scope::Limited(l) = self else {
            return None;
        };
        let mut ids: Vec<Uuid> = l
            .taught
            .iter()
            .flat_map(|t| t.class_ids.iter())
            .chain(l.family.iter().flat_map(|f| f.class_ids.iter()))
            .copied()
            .collect();
        ids.sort();
        ids.dedup();
        Some(ids)
    }

    /// The families this scope sees (none for a teacher), or `None` for all of them.
    pub fn families(&self) -> Option<&[Uuid]> {
        match self {
            Scope::School => None,
            Scope::Limited(l) => Some(l.family.as_ref().map_or(&[], |f| &f.family_ids)),
        }
    }

    /// The students a teacher sees through their classes (empty when not a teacher), or
    /// `None` for all of them.
    pub fn taught_students(&self) -> Option<&[Uuid]> {
        match self {
            Scope::School => None,
            Scope::Limited(l) => Some(l.taught.as_ref().map_or(&[], |t| &t.student_ids)),
        }
    }

    /// Ok when the scope sees class `class_id`.
    ///
    /// Errors: 403 saying why not.
    pub fn require_class(&self, class_id: Uuid) -> ApiResult<()> {
        let Scope::Limited(l) = self else {
            return Ok(());
        };
        let taught = l
            .taught
            .as_ref()
            .is_some_and(|t| t.class_ids.contains(&class_id));
        let childs = l
            .family
            .as_ref()
            .is_some_and(|f| f.class_ids.contains(&class_id));
        match (taught || childs, &l.taught, &l.family) {
            (true, _, _) => Ok(()),
            (false, Some(_), Some(_)) => Err(ApiError::forbidden(
                "this class is not assigned to you and none of your children is in it",
            )),
            (false, None, Some(_)) => Err(ApiError::forbidden(
                "none of your children is in this class",
            )),
            (false, _, None) => Err(ApiError::forbidden("this class is not assigned to you")),
        }
    }

    /// Ok when the scope sees family `family_id` (its record, guardians and money).
    ///
    /// Errors: 403 saying why not (teachers see no family records).
    pub fn require_family(&self, family_id: Uuid) -> ApiResult<()> {
        let Scope::Limited(l) = self else {
            return Ok(());
        };
        match &l.family {
            Some(f) if f.family_ids.contains(&family_id) => Ok(()),
            Some(_) => Err(ApiError::forbidden("parents may only see their own family")),
            None => Err(ApiError::forbidden("teachers may not read family records")),
        }
    }

    /// Ok when the scope sees student `student_id` of family `family_id`: a student in a
    /// class the caller teaches, or a child of the caller's family.
    ///
    /// Errors: 403 saying why not.
    pub fn require_student(&self, student_id: Uuid, family_id: Uuid) -> ApiResult<()> {
        let Scope::Limited(l) = self else {
            return Ok(());
        };
        if l.taught
            .as_ref()
            .is_some_and(|t| t.student_ids.contains(&student_id))
            || l.family
                .as_ref()
                .is_some_and(|f| f.family_ids.contains(&family_id))
        {
            return Ok(());
        }
        match &l.family {
            Some(_) => self.require_family(family_id),
            None => Err(ApiError::forbidden(
                "this student is not in a class assigned to you",
            )),
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
