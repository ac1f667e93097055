//! Roster queries. Every function takes `&mut PgConnection` first, filters by `school_id`,
//! and returns `QueryResult`.

use diesel::pg::Pg;
use diesel::prelude::*;
use uuid::Uuid;

use super::models::*;
use crate::schema::{
    academic_years, class_teachers, classes, enrollments, families, guardians, students, terms,
    users,
};
use crate::tenancy::{SchoolRow, UserRow};

/// Narrowing of a listing; `None` means "no restriction". `within_*` are scope limits set by
/// the handler from the caller's roles, never from the request. Where a listing reads both
/// (students, enrolments), a row within either is listed: a teacher who is also a parent sees
/// their classes and their own children (issue #17).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Words that must each match a name/admission number/username (case-insensitive).
    pub q: Option<String>,
    pub class_id: Option<Uuid>,
    pub family_id: Option<Uuid>,
    pub student_id: Option<Uuid>,
    pub within_ids: Option<Vec<Uuid>>,
    pub within_families: Option<Vec<Uuid>>,
}

impl Filter {
    fn words(&self) -> Vec<String> {
        self.q
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(|w| {
                let escaped = w
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                format!("%{escaped}%")
            })
            .collect()
    }
}

/// One page plus the total number of matches.
pub type Paged<T> = (Vec<T>, i64);

fn students_query(school_id: Uuid, f: &Filter) -> students::BoxedQuery<'static, Pg> {
    let mut q = students::table
        .filter(students::school_id.eq(school_id))
        .into_boxed();
    for w in f.words() {
        q = q.filter(
            students::given_name
                .ilike(w.clone())
                .or(students::family_name.ilike(w.clone()))
                .or(students::admission_no.ilike(w)),
        );
    }
    if let Some(c) = f.class_id {
        q = q.filter(
            students::id.eq_any(
                enrollments::table
                    .filter(enrollments::school_id.eq(school_id))
                    .filter(enrollments::class_id.eq(c))
                    .filter(enrollments::active.eq(true))
                    .select(enrollments::student_id),
            ),
        );
    }
    if let Some(fam) = f.family_id {
        q = q.filter(students::family_id.eq(fam));
    }
    match (&f.within_ids, &f.within_families) {
        (Some(ids), Some(fams)) => {
            q = q.filter(
                students::id
                    .eq_any(ids.clone())
                    .or(students::family_id.eq_any(fams.clone())),
            )
        }
        (Some(ids), None) => q = q.filter(students::id.eq_any(ids.clone())),
        (None, Some(fams)) => q = q.filter(students::family_id.eq_any(fams.clone())),
        (None, None) => {}
    }
    q
}

/// Students matching `f`, ordered by family name, given name.
pub fn list_students(
    conn: &mut PgConnection,
    school_id: Uuid,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> QueryResult<Paged<StudentRow>> {
    let total = students_query(school_id, f).count().get_result(conn)?;
    let items = students_query(school_id, f)
        .order((students::family_name, students::given_name, students::id))
        .limit(limit)
        .offset(offset)
        .select(StudentRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// One student.
pub fn student(conn: &mut PgConnection, school_id: Uuid, id: Uuid) -> QueryResult<StudentRow> {
    students::table
        .find((school_id, id))
        .select(StudentRow::as_select())
        .first(conn)
}

fn guardians_query(school_id: Uuid, f: &Filter) -> guardians::BoxedQuery<'static, Pg> {
    let mut q = guardians::table
        .filter(guardians::school_id.eq(school_id))
        .into_boxed();
    for w in f.words() {
        q = q.filter(
            guardians::given_name
                .ilike(w.clone())
                .or(guardians::family_name.ilike(w.clone()))
                .or(guardians::phone.ilike(w)),
        );
    }
    if let Some(fam) = f.family_id {
        q = q.filter(guardians::family_id.eq(fam));
    }
    if let Some(fams) = &f.within_families {
        q = q.filter(guardians::family_id.eq_any(fams.clone()));
    }
    q
}

/// Guardians matching `f`.
pub fn list_guardians(
    conn: &mut PgConnection,
    school_id: Uuid,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> QueryResult<Paged<GuardianRow>> {
    let total = guardians_query(school_id, f).count().get_result(conn)?;
    let items = guardians_query(school_id, f)
        .order((guardians::family_name, guardians::given_name, guardians::id))
        .limit(limit)
        .offset(offset)
        .select(GuardianRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// One guardian.
pub fn guardian(conn: &mut PgConnection, school_id: Uuid, id: Uuid) -> QueryResult<GuardianRow> {
    guardians::table
        .find((school_id, id))
        .select(GuardianRow::as_select())
        .first(conn)
}

fn families_query(school_id: Uuid, f: &Filter) -> families::BoxedQuery<'static, Pg> {
    let mut q = families::table
        .filter(families::school_id.eq(school_id))
        .into_boxed();
    for w in f.words() {
        q = q.filter(families::name.ilike(w));
    }
    if let Some(fams) = &f.within_families {
        q = q.filter(families::id.eq_any(fams.clone()));
    }
    q
}

/// Families matching `f`.
pub fn list_families(
    conn: &mut PgConnection,
    school_id: Uuid,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> QueryResult<Paged<FamilyRow>> {
    let total = families_query(school_id, f).count().get_result(conn)?;
    let items = families_query(school_id, f)
        .order((families::name, families::id))
        .limit(limit)
        .offset(offset)
        .select(FamilyRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// One family.
pub fn family(conn: &mut PgConnection, school_id: Uuid, id: Uuid) -> QueryResult<FamilyRow> {
    families::table
        .find((school_id, id))
        .select(FamilyRow::as_select())
        .first(conn)
}

fn classes_query(school_id: Uuid, f: &Filter) -> classes::BoxedQuery<'static, Pg> {
    let mut q = classes::table
        .filter(classes::school_id.eq(school_id))
        .into_boxed();
    for w in f.words() {
        q = q.filter(
            classes::name
                .ilike(w.clone())
                .or(classes::grade.ilike(w.clone()))
                .or(classes::code.ilike(w)),
        );
    }
    if let Some(ids) = &f.within_ids {
        q = q.filter(classes::id.eq_any(ids.clone()));
    }
    q
}

/// Classes matching `f`, ordered by grade, section, name.
pub fn list_classes(
    conn: &mut PgConnection,
    school_id: Uuid,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> QueryResult<Paged<ClassRow>> {
    let total = classes_query(school_id, f).count().get_result(conn)?;
    let items = classes_query(school_id, f)
        .order((classes::grade, classes::section, classes::name, classes::id))
        .limit(limit)
        .offset(offset)
        .select(ClassRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// One class.
pub fn class(conn: &mut PgConnection, school_id: Uuid, id: Uuid) -> QueryResult<ClassRow> {
    classes::table
        .find((school_id, id))
        .select(ClassRow::as_select())
        .first(conn)
}

fn enrollments_query(school_id: Uuid, f: &Filter) -> enrollments::BoxedQuery<'static, Pg> {
    let mut q = enrollments::table
        .filter(enrollments::school_id.eq(school_id))
        .into_boxed();
    if let Some(c) = f.class_id {
        q = q.filter(enrollments::class_id.eq(c));
    }
    if let Some(s) = f.student_id {
        q = q.filter(enrollments::student_id.eq(s));
    }
    let of_families = |fams: &Vec<Uuid>| {
        enrollments::student_id.eq_any(
            students::table
                .filter(students::school_id.eq(school_id))
                .filter(students::family_id.eq_any(fams.clone()))
                .select(students::id),
        )
    };
    match (&f.within_ids, &f.within_families) {
        (Some(ids), Some(fams)) => {
            q = q.filter(
                enrollments::class_id
                    .eq_any(ids.clone())
                    .or(of_families(fams)),
            )
        }
        (Some(ids), None) => q = q.filter(enrollments::class_id.eq_any(ids.clone())),
        (None, Some(fams)) => q = q.filter(of_families(fams)),
        (None, None) => {}
    }
    q
}

/// Enrollments matching `f` (`within_ids` limits by class).
pub fn list_enrollments(
    conn: &mut PgConnection,
    school_id: Uuid,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> QueryResult<Paged<EnrollmentRow>> {
    let total = enrollments_query(school_id, f).count().get_result(conn)?;
    let items = enrollments_query(school_id, f)
        .order((enrollments::class_id, enrollments::id))
        .limit(limit)
        .offset(offset)
        .select(EnrollmentRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// One enrollment.
pub fn enrollment(
    conn: &mut PgConnection,
    school_id: Uuid,
    id: Uuid,
) -> QueryResult<EnrollmentRow> {
    enrollments::table
        .find((school_id, id))
        .select(EnrollmentRow::as_select())
        .first(conn)
}

fn users_query(school_id: Uuid, f: &Filter) -> users::BoxedQuery<'static, Pg> {
    let mut q = users::table
        .filter(users::school_id.eq(school_id))
        .into_boxed();
    for w in f.words() {
        q = q.filter(
            users::username
                .ilike(w.clone())
                .or(users::display_name.ilike(w)),
        );
    }
    q
}

/// Users matching `f`.
pub fn list_users(
    conn: &mut PgConnection,
    school_id: Uuid,
    f: &Filter,
    limit: i64,
    offset: i64,
) -> QueryResult<Paged<UserRow>> {
    let total = users_query(school_id, f).count().get_result(conn)?;
    let items = users_query(school_id, f)
        .order((users::username, users::id))
        .limit(limit)
        .offset(offset)
        .select(UserRow::as_select())
        .load(conn)?;
    Ok((items, total))
}

/// One user.
pub fn user(conn: &mut PgConnection, school_id: Uuid, id: Uuid) -> QueryResult<UserRow> {
    users::table
        .find((school_id, id))
        .select(UserRow::as_select())
        .first(conn)
}

/// Teachers assigned to `class_id`, with their display names.
pub fn class_teachers(
    conn: &mut PgConnection,
    school_id: Uuid,
    class_id: Uuid,
) -> QueryResult<Vec<(ClassTeacherRow, String)>> {
    teachers_query(school_id)
        .filter(class_teachers::class_id.eq(class_id))
        .order(users::display_name)
        .select((ClassTeacherRow::as_select(), users::display_name))
        .load(conn)
}

/// The school's teacher assignments joined to their teachers (whose display names the
/// listings select).
#[diesel::dsl::auto_type(no_type_alias)]
fn teachers_query(school_id: Uuid) -> _ {
    class_teachers::table
        .inner_join(
            users::table.on(users::school_id
                .eq(class_teachers::school_id)
                .and(users::id.eq(class_teachers::teacher_id))),
        )
        .filter(class_teachers::school_id.eq(school_id))
}

/// Every teacher assignment of the school with the teacher's display name, by class then name.
pub fn all_class_teachers(
    conn: &mut PgConnection,
    school_id: Uuid,
) -> QueryResult<Vec<(ClassTeacherRow, String)>> {
    teachers_query(school_id)
        .order((class_teachers::class_id, users::display_name))
        .select((ClassTeacherRow::as_select(), users::display_name))
        .load(conn)
}

/// One assignment, if present.
pub fn class_teacher(
    conn: &mut PgConnection,
    school_id: Uuid,
    class_id: Uuid,
    teacher_id: Uuid,
) -> QueryResult<Option<ClassTeacherRow>> {
    class_teachers::table
        .find((school_id, class_id, teacher_id))
        .select(ClassTeacherRow::as_select())
        .first(conn)
        .optional()
}

/// The school's terms, by start date.
pub fn list_terms(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<Vec<TermRow>> {
    terms::table
        .filter(terms::school_id.eq(school_id))
        .order((terms::starts_on, terms::name))
        .select(TermRow::as_select())
        .load(conn)
}

/// The school (tenant) row.
pub fn school(conn: &mut PgConnection, school_id: Uuid) -> QueryResult<SchoolRow> {
    crate::schema::schools::table
        .find(school_id)
        .select(SchoolRow::as_select())
        .first(conn)
}

/// The school's academic years, newest first.
pub fn list_academic_years(
    conn: &mut PgConnection,
    school_id: Uuid,
) -> QueryResult<Vec<AcademicYearRow>> {
    academic_years::table
        .filter(academic_years::school_id.eq(school_id))
        .order(academic_years::starts_on.desc())
        .select(AcademicYearRow::as_select())
        .load(conn)
}
