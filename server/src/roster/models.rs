//! Row structs of the roster tables (one struct per table, used for reads, inserts and
//! whole-row updates; `treat_none_as_null` so clearing an optional field really clears it).

use chrono::{DateTime, NaiveDate, Utc};
use daftar_client_core::protocol as wire;
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::schema::{
    academic_years, class_teachers, classes, enrollments, families, guardians, student_guardians,
    students, terms,
};

/// `academic_years`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = academic_years, treat_none_as_null = true)]
pub struct AcademicYearRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `terms`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = terms, treat_none_as_null = true)]
pub struct TermRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub academic_year_id: Uuid,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub active: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<TermRow> for wire::Term {
    fn from(r: TermRow) -> Self {
        wire::Term {
            id: r.id,
            academic_year_id: r.academic_year_id,
            name: r.name,
            starts_on: r.starts_on,
            ends_on: r.ends_on,
        }
    }
}

/// `classes`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = classes, treat_none_as_null = true)]
pub struct ClassRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub academic_year_id: Uuid,
    pub term_id: Option<Uuid>,
    pub campus_id: Option<Uuid>,
    pub name: String,
    pub grade: String,
    pub section: String,
    pub code: Option<String>,
    pub homeroom_teacher_id: Option<Uuid>,
    pub active: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ClassRow> for wire::Class {
    fn from(r: ClassRow) -> Self {
        wire::Class {
            id: r.id,
            academic_year_id: r.academic_year_id,
            term_id: r.term_id,
            name: r.name,
            grade: r.grade,
            section: r.section,
            code: r.code,
            homeroom_teacher_id: r.homeroom_teacher_id,
            active: r.active,
        }
    }
}

/// `class_teachers`: a teacher assigned to a class.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = class_teachers, treat_none_as_null = true)]
pub struct ClassTeacherRow {
    pub school_id: Uuid,
    pub class_id: Uuid,
    pub teacher_id: Uuid,
    pub is_primary: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// What the teacher teaches in the class (issue #17, subject teachers); `None`: no one
    /// subject.
    pub subject: Option<String>,
}

/// `families`: the billing account grouping siblings and guardians.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = families, treat_none_as_null = true)]
pub struct FamilyRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<FamilyRow> for wire::Family {
    fn from(r: FamilyRow) -> Self {
        wire::Family {
            id: r.id,
            name: r.name,
            active: r.active,
        }
    }
}

/// `students`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = students, treat_none_as_null = true)]
pub struct StudentRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub family_id: Uuid,
    pub admission_no: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<String>,
    pub grade: String,
    pub email: Option<String>,
    pub active: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StudentRow> for wire::Student {
    fn from(r: StudentRow) -> Self {
        wire::Student {
            id: r.id,
            family_id: r.family_id,
            admission_no: r.admission_no,
            given_name: r.given_name,
            family_name: r.family_name,
            date_of_birth: r.date_of_birth,
            gender: r.gender,
            grade: r.grade,
            active: r.active,
            updated_at: r.updated_at,
        }
    }
}

/// `guardians`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = guardians, treat_none_as_null = true)]
pub struct GuardianRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Option<Uuid>,
    pub given_name: String,
    pub family_name: String,
    pub relationship: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub active: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<GuardianRow> for wire::Guardian {
    fn from(r: GuardianRow) -> Self {
        wire::Guardian {
            id: r.id,
            family_id: r.family_id,
            user_id: r.user_id,
            given_name: r.given_name,
            family_name: r.family_name,
            relationship: r.relationship,
            phone: r.phone,
            email: r.email,
            active: r.active,
        }
    }
}

/// `student_guardians`: which guardian is responsible for which student.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = student_guardians)]
pub struct StudentGuardianRow {
    pub school_id: Uuid,
    pub student_id: Uuid,
    pub guardian_id: Uuid,
}

/// `enrollments`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset, Serialize)]
#[diesel(table_name = enrollments, treat_none_as_null = true)]
pub struct EnrollmentRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub class_id: Uuid,
    pub student_id: Uuid,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub active: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<EnrollmentRow> for wire::Enrollment {
    fn from(r: EnrollmentRow) -> Self {
        wire::Enrollment {
            id: r.id,
            class_id: r.class_id,
            student_id: r.student_id,
            starts_on: r.starts_on,
            ends_on: r.ends_on,
            active: r.active,
        }
    }
}
