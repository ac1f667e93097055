//! Who may see what: the per-role scope of roster reads.

use diesel::prelude::*;
use uuid::Uuid;

use crate::schema::{class_teachers, enrollments, guardians, students};

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
