//! Attendance rules. Every function runs inside the caller's connection/transaction.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use daftar_client_core::protocol::{
    AttendanceCategory, AttendanceCode, CategoryCounts, ClassAttendanceGrid, ClassDaySummary,
    DailyAttendanceSummary, GridRow, MarkRegisterRequest, MarkRegisterResult, MarkSource,
    MyRegister, Register, RegisterNotTaken, Role, StudentAttendance, StudentDay,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::marks::{attendance_mark, codes, mark_source};
use super::registers::{mark_registers, RegisterMarking};
use crate::access;
use crate::auth::AuthUser;
use crate::errors::{ApiError, ApiResult};
use crate::schema::{
    attendance_marks, class_teachers, classes, enrollments, registers, schools, students, terms,
};

/// The school's local date now (its IANA time zone), and its teacher edit window in days.
pub fn school_today(
    conn: &mut PgConnection,
    school_id: Uuid,
    now: DateTime<Utc>,
) -> QueryResult<(NaiveDate, i32)> {
    let (tz, window): (String, i32) = schools::table
        .find(school_id)
        .select((schools::timezone, schools::attendance_edit_window_days))
        .first(conn)?;
    Ok((crate::calendar::local_date_in(&tz, now), window))
}

/// `date`, or when absent today at the school (the default of the day-based views).
pub fn day_or_today(
    conn: &mut PgConnection,
    school_id: Uuid,
    date: Option<NaiveDate>,
) -> QueryResult<NaiveDate> {
    match date {
        Some(d) => Ok(d),
        None => Ok(school_today(conn, school_id, Utc::now())?.0),
    }
}

/// Students actively enrolled in `class_id` on `on_date` (enrollment dates inclusive).
pub fn enrolled_on(
    conn: &mut PgConnection,
    school_id: Uuid,
    class_id: Uuid,
    on_date: NaiveDate,
) -> QueryResult<Vec<(Uuid, String)>> {
    enrollments::table
        .inner_join(
            students::table.on(students::school_id
                .eq(enrollments::school_id)
                .and(students::id.eq(enrollments::student_id))),
        )
        .filter(enrollments::school_id.eq(school_id))
        .filter(enrollments::class_id.eq(class_id))
        .filter(enrollments::active.eq(true))
        .filter(students::active.eq(true))
        .filter(
            enrollments::starts_on
                .is_null()
                .or(enrollments::starts_on.le(on_date)),
        )
        .filter(
            enrollments::ends_on
                .is_null()
                .or(enrollments::ends_on.ge(on_date)),
        )
        .order((students::family_name, students::given_name, students::id))
        .select((
            students::id,
            diesel::dsl::sql::<diesel::sql_types::Text>(
                "students.given_name || ' ' || students.family_name",
            ),
        ))
        .load(conn)
}

fn load_register(
    conn: &mut PgConnection,
    school_id: Uuid,
    register_id: Uuid,
    codes: &[AttendanceCode],
) -> ApiResult<Register> {
    let (id, class_id, on_date, period, taken_at): (
        Uuid,
        Uuid,
        NaiveDate,
        i16,
        Option<DateTime<Utc>>,
    ) = registers::table
        .find((school_id, register_id))
        .select((
            registers::id,
            registers::class_id,
            registers::on_date,
            registers::period,
            registers::taken_at,
        ))
        .first(conn)?;
    let by_id: HashMap<Uuid, &AttendanceCode> = codes.iter().map(|c| (c.id, c)).collect();
    let marks = attendance_marks::table
        .filter(attendance_marks::school_id.eq(school_id))
        .filter(attendance_marks::register_id.eq(register_id))
        .order(attendance_marks::student_id)
        .select((
            attendance_marks::student_id,
            attendance_marks::code_id,
            attendance_marks::source,
            attendance_marks::reason,
            attendance_marks::marked_by,
            attendance_marks::marked_at,
        ))
        .load::<(Uuid, Uuid, String, Option<String>, Uuid, DateTime<Utc>)>(conn)?
        .into_iter()
        .filter_map(
            |(student_id, code_id, source, reason, marked_by, marked_at)| {
                attendance_mark(
                    &by_id,
                    student_id,
                    (
                        code_id,
                        MarkSource::parse(&source).unwrap_or(MarkSource::Teacher),
                        reason,
                        marked_by,
                        marked_at,
                    ),
                )
            },
        )
        .collect();
    Ok(Register {
        id,
        class_id,
        on_date,
        period,
        taken_at,
        marks,
    })
}

/// The register of `class_id` on `on_date`/`period`, if it exists (marks included).
pub fn find_register(
    conn: &mut PgConnection,
    school_id: Uuid,
    class_id: Uuid,
    on_date: NaiveDate,
    period: i16,
) -> ApiResult<Option<Register>> {
    let id: Option<Uuid> = registers::table
        .filter(registers::school_id.eq(school_id))
        .filter(registers::class_id.eq(class_id))
        .filter(registers::on_date.eq(on_date))
        .filter(registers::period.eq(period))
        .select(registers::id)
        .first(conn)
        .optional()?;
    match id {
        None => Ok(None),
        Some(id) => {
            let codes = codes(conn, school_id)?;
            load_register(conn, school_id, id, &codes).map(Some)
        }
    }
}

/// Checks who may mark `class_id` on `on_date` and returns the mark's source.
///
/// Errors (each says which rule refused): 403 `forbidden` (parents; teachers not assigned),
/// 403 `edit_window_closed` (teacher, date older than the school's edit window),
/// 422 `future_date`, 422 `outside_term`.
pub fn check_may_mark(
    conn: &mut PgConnection,
    auth: &AuthUser,
    class_id: Uuid,
    on_date: NaiveDate,
    now: DateTime<Utc>,
) -> ApiResult<MarkSource> {
    let (today, window) = school_today(conn, auth.school_id, now)?;
    let in_term: i64 = terms::table
        .filter(terms::school_id.eq(auth.school_id))
        .filter(terms::active.eq(true))
        .filter(terms::starts_on.le(on_date))
        .filter(terms::ends_on.ge(on_date))
        .count()
        .get_result(conn)?;
    let assigned = if auth.has(Role::Teacher) && !auth.is_office() {
        Some(access::teacher_class_ids(
            conn,
            auth.school_id,
            auth.user_id,
        )?)
    } else {
        None
    };
    mark_source(
        auth.roles,
        assigned.as_deref(),
        today,
        window,
        in_term > 0,
        class_id,
        on_date,
    )
}

/// Marks a whole class register in one transaction: every enrolled student gets the default
/// code except the listed exceptions. A student who already has that code keeps the mark as it
/// is, source included. A teacher's mark never replaces an office mark (those
/// students are returned in `kept_office_overrides`); an office change of a teacher's mark
/// needs `reason`. Every change is kept in the history; a new absence queues a notification to
/// each active guardian with a phone. A batch of one of
/// [`super::registers::mark_registers`], which a sync push uses for many.
///
/// Errors: as [`check_may_mark`]; 404 unknown class; validation naming `default_code`,
/// `exceptions[i].code`, `exceptions[i].student_id` (not enrolled that day) or `reason`.
pub fn mark_register(
    conn: &mut PgConnection,
    auth: &AuthUser,
    class_id: Uuid,
    on_date: NaiveDate,
    req: &MarkRegisterRequest,
    now: DateTime<Utc>,
) -> ApiResult<MarkRegisterResult> {
    let item = RegisterMarking {
        class_id,
        on_date,
        request: req,
        at: now,
    };
    mark_registers(conn, auth, &[item])?
        .pop()
        .unwrap_or_else(|| Err(ApiError::Internal(anyhow::anyhow!("no register marked"))))
}

/// A student's marks between `from` and `to` (inclusive) with counts and percentage.
pub fn student_attendance(
    conn: &mut PgConnection,
    school_id: Uuid,
    student_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<StudentAttendance> {
    let codes = codes(conn, school_id)?;
    let by_id: HashMap<Uuid, &AttendanceCode> = codes.iter().map(|c| (c.id, c)).collect();
    let rows: Vec<(NaiveDate, i16, Uuid, Uuid)> = attendance_marks::table
        .inner_join(
            registers::table.on(registers::school_id
                .eq(attendance_marks::school_id)
                .and(registers::id.eq(attendance_marks::register_id))),
        )
        .filter(attendance_marks::school_id.eq(school_id))
        .filter(attendance_marks::student_id.eq(student_id))
        .filter(registers::on_date.between(from, to))
        .order((registers::on_date, registers::period))
        .select((
            registers::on_date,
            registers::period,
            registers::class_id,
            attendance_marks::code_id,
        ))
        .load(conn)?;
    let mut counts = CategoryCounts::default();
    let days = rows
        .into_iter()
        .filter_map(|(on_date, period, class_id, code_id)| {
            let c = by_id.get(&code_id)?;
            counts.add(c.category);
            Some(StudentDay {
                on_date,
                period,
                class_id,
                code: c.code.clone(),
                category: c.category,
            })
        })
        .collect();
    let percentage = counts.percentage();
    Ok(StudentAttendance {
        student_id,
        from,
        to,
        days,
        counts,
        percentage,
    })
}

/// The whole-day register grid of a class between two dates: one row per student enrolled at
/// any point of the range, one column per date that has a register.
pub fn class_grid(
    conn: &mut PgConnection,
    school_id: Uuid,
    class_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<ClassAttendanceGrid> {
    let codes = codes(conn, school_id)?;
    let by_id: HashMap<Uuid, String> = codes.iter().map(|c| (c.id, c.code.clone())).collect();
    let regs: Vec<(Uuid, NaiveDate)> = registers::table
        .filter(registers::school_id.eq(school_id))
        .filter(registers::class_id.eq(class_id))
        .filter(registers::period.eq(0))
        .filter(registers::on_date.between(from, to))
        .order(registers::on_date)
        .select((registers::id, registers::on_date))
        .load(conn)?;
    let reg_ids: Vec<Uuid> = regs.iter().map(|r| r.0).collect();
    let marks: Vec<(Uuid, Uuid, Uuid)> = attendance_marks::table
        .filter(attendance_marks::school_id.eq(school_id))
        .filter(attendance_marks::register_id.eq_any(&reg_ids))
        .select((
            attendance_marks::register_id,
            attendance_marks::student_id,
            attendance_marks::code_id,
        ))
        .load(conn)?;
    let mut cell: HashMap<(Uuid, Uuid), String> = HashMap::new();
    for (r, s, c) in marks {
        if let Some(code) = by_id.get(&c) {
            cell.insert((r, s), code.clone());
        }
    }
    let mut students_seen: Vec<(Uuid, String)> = enrolled_on(conn, school_id, class_id, to)?;
    for (s, _) in cell
        .keys()
        .map(|(_, s)| (*s, ()))
        .collect::<HashMap<_, _>>()
    {
        if !students_seen.iter().any(|(x, _)| *x == s) {
            let name: String = students::table
                .find((school_id, s))
                .select(diesel::dsl::sql::<diesel::sql_types::Text>(
                    "students.given_name || ' ' || students.family_name",
                ))
                .first(conn)?;
            students_seen.push((s, name));
        }
    }
    let rows = students_seen
        .into_iter()
        .map(|(student_id, name)| GridRow {
            student_id,
            name,
            codes: regs
                .iter()
                .map(|(r, _)| cell.get(&(*r, student_id)).cloned())
                .collect(),
        })
        .collect();
    Ok(ClassAttendanceGrid {
        class_id,
        dates: regs.into_iter().map(|r| r.1).collect(),
        rows,
    })
}

/// Active classes with no whole-day register taken on `on_date`, with their teachers.
pub fn not_taken(
    conn: &mut PgConnection,
    school_id: Uuid,
    on_date: NaiveDate,
) -> ApiResult<Vec<RegisterNotTaken>> {
    let taken: Vec<Uuid> = registers::table
        .filter(registers::school_id.eq(school_id))
        .filter(registers::on_date.eq(on_date))
        .filter(registers::period.eq(0))
        .filter(registers::taken_at.is_not_null())
        .select(registers::class_id)
        .load(conn)?;
    let open: Vec<(Uuid, String)> = classes::table
        .filter(classes::school_id.eq(school_id))
        .filter(classes::active.eq(true))
        .filter(diesel::dsl::not(classes::id.eq_any(&taken)))
        .order((classes::grade, classes::section, classes::name))
        .select((classes::id, classes::name))
        .load(conn)?;
    let ids: Vec<Uuid> = open.iter().map(|c| c.0).collect();
    let teachers: Vec<(Uuid, Uuid)> = class_teachers::table
        .filter(class_teachers::school_id.eq(school_id))
        .filter(class_teachers::class_id.eq_any(&ids))
        .select((class_teachers::class_id, class_teachers::teacher_id))
        .load(conn)?;
    Ok(open
        .into_iter()
        .map(|(class_id, class_name)| RegisterNotTaken {
            class_id,
            class_name,
            teacher_ids: teachers
                .iter()
                .filter(|t| t.0 == class_id)
                .map(|t| t.1)
                .collect(),
        })
        .collect())
}

/// The school's whole-day attendance on `on_date`, per class and in total.
pub fn daily_summary(
    conn: &mut PgConnection,
    school_id: Uuid,
    on_date: NaiveDate,
) -> ApiResult<DailyAttendanceSummary> {
    let codes = codes(conn, school_id)?;
    let cat: HashMap<Uuid, AttendanceCategory> = codes.iter().map(|c| (c.id, c.category)).collect();
    let class_rows: Vec<(Uuid, String)> = classes::table
        .filter(classes::school_id.eq(school_id))
        .filter(classes::active.eq(true))
        .order((classes::grade, classes::section, classes::name))
        .select((classes::id, classes::name))
        .load(conn)?;
    let marks: Vec<(Uuid, Uuid)> = attendance_marks::table
        .inner_join(
            registers::table.on(registers::school_id
                .eq(attendance_marks::school_id)
                .and(registers::id.eq(attendance_marks::register_id))),
        )
        .filter(registers::school_id.eq(school_id))
        .filter(registers::on_date.eq(on_date))
        .filter(registers::period.eq(0))
        .select((registers::class_id, attendance_marks::code_id))
        .load(conn)?;
    let taken: Vec<Uuid> = registers::table
        .filter(registers::school_id.eq(school_id))
        .filter(registers::on_date.eq(on_date))
        .filter(registers::period.eq(0))
        .filter(registers::taken_at.is_not_null())
        .select(registers::class_id)
        .load(conn)?;
    let mut total = CategoryCounts::default();
    let per_class: Vec<ClassDaySummary> = class_rows
        .into_iter()
        .map(|(class_id, class_name)| {
            let mut counts = CategoryCounts::default();
            for (_, code) in marks.iter().filter(|m| m.0 == class_id) {
                if let Some(c) = cat.get(code) {
                    counts.add(*c);
                    total.add(*c);
                }
            }
            ClassDaySummary {
                class_id,
                class_name,
                taken: taken.contains(&class_id),
                counts,
            }
        })
        .collect();
    Ok(DailyAttendanceSummary {
        on_date,
        registers_taken: per_class.iter().filter(|c| c.taken).count() as u32,
        classes: per_class.len() as u32,
        counts: total,
        per_class,
    })
}

/// Register status on `on_date` of the classes the caller teaches (office: every active class).
pub fn my_registers(
    conn: &mut PgConnection,
    auth: &AuthUser,
    on_date: NaiveDate,
) -> ApiResult<Vec<MyRegister>> {
    let school_id = auth.school_id;
    let mut q = classes::table
        .filter(classes::school_id.eq(school_id))
        .filter(classes::active.eq(true))
        .into_boxed();
    if let Some(visible) = crate::access::Scope::of(conn, auth)?.classes() {
        q = q.filter(classes::id.eq_any(visible));
    }
    let list: Vec<(Uuid, String)> = q
        .order((classes::grade, classes::section, classes::name))
        .select((classes::id, classes::name))
        .load(conn)?;
    let mut out = Vec::with_capacity(list.len());
    for (class_id, class_name) in list {
        let enrolled = enrolled_on(conn, school_id, class_id, on_date)?.len() as u32;
        let reg: Option<(Uuid, Option<DateTime<Utc>>)> = registers::table
            .filter(registers::school_id.eq(school_id))
            .filter(registers::class_id.eq(class_id))
            .filter(registers::on_date.eq(on_date))
            .filter(registers::period.eq(0))
            .select((registers::id, registers::taken_at))
            .first(conn)
            .optional()?;
        let marked = match reg {
            Some((id, _)) => attendance_marks::table
                .filter(attendance_marks::school_id.eq(school_id))
                .filter(attendance_marks::register_id.eq(id))
                .count()
                .get_result::<i64>(conn)? as u32,
            None => 0,
        };
        out.push(MyRegister {
            class_id,
            class_name,
            on_date,
            enrolled,
            marked,
            taken: reg.is_some_and(|r| r.1.is_some()),
        });
    }
    Ok(out)
}
