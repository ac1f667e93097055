//! Marking class registers, one or many in one transaction (ARCHITECTURE.md §4, §6
//! throughput).
//!
//! The REST call marks one register; a sync push marks every attendance op of a batch at once.
//! Both go through [`mark_registers`], so both follow the same rules (who may mark, the edit
//! window, office marks beating teacher marks, reasons, history, absence notices). The batch
//! reads the school's settings, codes, terms and rosters once, and writes each table with
//! multi-row statements.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use daftar_client_core::attendance::Precedence;
use daftar_client_core::protocol::{
    AttendanceCategory, AttendanceCode, AttendanceMark, MarkRegisterRequest, MarkRegisterResult,
    MarkSource, Register, Role,
};
use diesel::prelude::*;
use diesel::sql_types::{Array, Uuid as SqlUuid};
use uuid::Uuid;

use super::marks::{attendance_mark, codes, mark_source, StoredMark};
use crate::access;
use crate::audit::{self, Actor, AuditEntry};
use crate::auth::AuthUser;
use crate::errors::{ApiError, ApiResult};
use crate::schema::{
    attendance_mark_history, attendance_marks, classes, enrollments, registers, schools, students,
    terms,
};

/// Most rows per multi-row INSERT (PostgreSQL allows 65,535 bind parameters; these rows have
/// at most 10 columns).
const INSERT_ROWS: usize = 5000;

/// One register to mark: what a REST call or an `attendance.*` op asks for.
#[derive(Debug, Clone, Copy)]
pub struct RegisterMarking<'a> {
    pub class_id: Uuid,
    /// The register's date in the school's calendar.
    pub on_date: NaiveDate,
    pub request: &'a MarkRegisterRequest,
    /// When the marks were made (UTC): the server's clock for REST, the device's clock clamped
    /// to the server's for a pushed op. The edit window is judged from this instant.
    pub at: DateTime<Utc>,
}

/// A register row's key: class, date, period.
type RegisterKey = (Uuid, NaiveDate, i16);

/// An enrolment of a class's roster: student, first and last day (inclusive; open when absent).
type Enrolment = (Uuid, Option<NaiveDate>, Option<NaiveDate>);

/// A register as its upsert returns it: id, key, taken at.
type LockedRegister = (Uuid, Uuid, NaiveDate, i16, Option<DateTime<Utc>>);

/// A register that was already taken, read after the upsert that locked it.
#[derive(QueryableByName)]
struct TakenRegister {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    class_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Date)]
    on_date: NaiveDate,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    period: i16,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    taken_at: Option<DateTime<Utc>>,
}

/// A marking that passed every check that needs no current marks.
struct Prepared<'a> {
    item: RegisterMarking<'a>,
    class_name: &'a str,
    source: MarkSource,
    /// Enrolled students in roster order, with the code each should have.
    wanted: Vec<(Uuid, &'a AttendanceCode)>,
    reason: Option<String>,
}

/// What the school's settings, codes, terms and rosters say, read once for a batch.
struct Context {
    class_names: HashMap<Uuid, String>,
    timezone: String,
    window: i32,
    terms: Vec<(NaiveDate, NaiveDate)>,
    teacher_classes: Option<Vec<Uuid>>,
    codes: Vec<AttendanceCode>,
    /// Per class, in roster order (family name, given name, id): student, enrolment start and
    /// end.
    roster: HashMap<Uuid, Vec<Enrolment>>,
}

impl Context {
    fn load(conn: &mut PgConnection, auth: &AuthUser, class_ids: &[Uuid]) -> ApiResult<Self> {
        let school_id = auth.school_id;
        let class_names = classes::table
            .filter(classes::school_id.eq(school_id))
            .filter(classes::id.eq_any(class_ids))
            .select((classes::id, classes::name))
            .load::<(Uuid, String)>(conn)?
            .into_iter()
            .collect();
        let (timezone, window): (String, i32) = schools::table
            .find(school_id)
            .select((schools::timezone, schools::attendance_edit_window_days))
            .first(conn)?;
        let terms = terms::table
            .filter(terms::school_id.eq(school_id))
            .filter(terms::active.eq(true))
            .select((terms::starts_on, terms::ends_on))
            .load(conn)?;
        let teacher_classes = if auth.has(Role::Teacher) && !auth.is_office() {
            Some(access::teacher_class_ids(conn, school_id, auth.user_id)?)
        } else {
            None
        };
        let codes = codes(conn, school_id)?;
        let rows: Vec<(Uuid, Uuid, Option<NaiveDate>, Option<NaiveDate>)> = enrollments::table
            .inner_join(
                students::table.on(students::school_id
                    .eq(enrollments::school_id)
                    .and(students::id.eq(enrollments::student_id))),
            )
            .filter(enrollments::school_id.eq(school_id))
            .filter(enrollments::class_id.eq_any(class_ids))
            .filter(enrollments::active.eq(true))
            .filter(students::active.eq(true))
            .order((
                enrollments::class_id,
                students::family_name,
                students::given_name,
                students::id,
            ))
            .select((
                enrollments::class_id,
                students::id,
                enrollments::starts_on,
                enrollments::ends_on,
            ))
            .load(conn)?;
        let mut roster: HashMap<Uuid, Vec<_>> = HashMap::new();
        for (class, student, starts, ends) in rows {
            roster
                .entry(class)
                .or_default()
                .push((student, starts, ends));
        }
        Ok(Context {
            class_names,
            timezone,
            window,
            terms,
            teacher_classes,
            codes,
            roster,
        })
    }

    /// The checks of [`super::service::mark_register`] that need no current marks, in the same
    /// order and with the same errors.
    fn prepare<'a>(
        &'a self,
        auth: &AuthUser,
        item: RegisterMarking<'a>,
    ) -> ApiResult<Prepared<'a>> {
        let (class_id, on_date) = (item.class_id, item.on_date);
        let class_name = self
            .class_names
            .get(&class_id)
            .ok_or(ApiError::NotFound("class"))?;
        let today = crate::calendar::local_date_in(&self.timezone, item.at);
        let in_term = self
            .terms
            .iter()
            .any(|(starts, ends)| *starts <= on_date && on_date <= *ends);
        let source = mark_source(
            auth.roles,
            self.teacher_classes.as_deref(),
            today,
            self.window,
            in_term,
            class_id,
            on_date,
        )?;
        let find_code = |field: String, code: &str| {
            self.codes
                .iter()
                .find(|c| c.active && c.code.eq_ignore_ascii_case(code))
                .ok_or_else(|| {
                    ApiError::validation(
                        field,
                        format!("`{code}` is not an attendance code of this school"),
                    )
                })
        };
        let req = item.request;
        let default = find_code(
            "default_code".into(),
            req.default_code.as_deref().unwrap_or("P"),
        )?;
        let mut wanted: Vec<(Uuid, &AttendanceCode)> = self
            .roster
            .get(&class_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|(_, starts, ends)| {
                starts.is_none_or(|s| s <= on_date) && ends.is_none_or(|e| e >= on_date)
            })
            .map(|(s, _, _)| (*s, default))
            .collect();
        // A student enrolled twice in the class is marked once.
        let mut once = HashSet::new();
        wanted.retain(|(s, _)| once.insert(*s));
        let position: HashMap<Uuid, usize> = wanted
            .iter()
            .enumerate()
            .map(|(i, (s, _))| (*s, i))
            .collect();
        for (i, e) in req.exceptions.iter().enumerate() {
            let code = find_code(format!("exceptions[{i}].code"), &e.code)?;
            match position.get(&e.student_id) {
                Some(&p) => wanted[p].1 = code,
                None => {
                    return Err(ApiError::validation(
                        format!("exceptions[{i}].student_id"),
                        format!(
                            "student {} is not enrolled in {class_name} on {on_date}",
                            e.student_id
                        ),
                    ))
                }
            }
        }
        let reason = req
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        Ok(Prepared {
            item,
            class_name,
            source,
            wanted,
            reason,
        })
    }
}

/// The writes one marking decided on, against the register's current marks.
struct Decided {
    register_id: Uuid,
    taken_at: Option<DateTime<Utc>>,
    /// (student, code, reason) written.
    written: Vec<(Uuid, Uuid, Option<String>)>,
    new_absences: Vec<Uuid>,
    no_longer_absent: Vec<Uuid>,
    kept: Vec<Uuid>,
    current: HashMap<Uuid, StoredMark>,
}

/// Marks each of `items` as `auth`, in order, inside the caller's transaction, with the rules
/// of [`super::service::mark_register`]: every enrolled student gets the default code except the
/// listed exceptions; a student who already has the wanted code keeps the mark as it is (its
/// source included); a teacher's mark never replaces an office mark (returned in
/// `kept_office_overrides`); an office change of a teacher's mark needs a reason; every change
/// goes to the history; a new absence queues a notice to each active guardian with a phone, and
/// a mark that is no longer an absence cancels the pending notice. Two markings of one register
/// in a batch apply one after the other, as separate calls would.
///
/// Returns one result per item, in order; an item's own refusal (as
/// [`super::service::check_may_mark`], 404 unknown class, validation naming `default_code`,
/// `exceptions[i].code`, `exceptions[i].student_id` or `reason`) writes nothing for it. The
/// outer error is a database failure of the batch as a whole.
pub fn mark_registers(
    conn: &mut PgConnection,
    auth: &AuthUser,
    items: &[RegisterMarking<'_>],
) -> ApiResult<Vec<ApiResult<MarkRegisterResult>>> {
    let mut class_ids: Vec<Uuid> = items.iter().map(|i| i.class_id).collect();
    class_ids.sort_unstable();
    class_ids.dedup();
    let ctx = Context::load(conn, auth, &class_ids)?;
    let mut out: Vec<Option<ApiResult<MarkRegisterResult>>> = Vec::with_capacity(items.len());
    // Rounds: the n-th marking of each register goes in round n, so every round touches each
    // register at most once and rounds run in order.
    let mut rounds: Vec<Vec<(usize, Prepared<'_>)>> = Vec::new();
    let mut seen: HashMap<RegisterKey, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        match ctx.prepare(auth, *item) {
            Ok(p) => {
                let n = seen
                    .entry((item.class_id, item.on_date, item.request.period))
                    .or_insert(0);
                if rounds.len() <= *n {
                    rounds.push(Vec::new());
                }
                rounds[*n].push((i, p));
                *n += 1;
                out.push(None);
            }
            Err(e) => out.push(Some(Err(e))),
        }
    }
    for round in rounds {
        for (i, result) in mark_round(conn, auth, &ctx.codes, round)? {
            out[i] = Some(result);
        }
    }
    out.into_iter()
        .map(|r| {
            r.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("a register was left unmarked")))
        })
        .collect()
}

/// Marks registers that are all different: locks (or creates) them with one upsert, reads
/// their marks with one query, decides each, and writes marks, history, notices and audit rows
/// with one statement per table.
fn mark_round(
    conn: &mut PgConnection,
    auth: &AuthUser,
    codes: &[AttendanceCode],
    round: Vec<(usize, Prepared<'_>)>,
) -> ApiResult<Vec<(usize, ApiResult<MarkRegisterResult>)>> {
    use diesel::upsert::excluded;
    let school_id = auth.school_id;
    // One statement creates or locks every register and marks it taken. A register already
    // taken is locked but left as it is (`WHERE … taken_at IS NULL`): rewriting it would cost a
    // new row version and a change-log entry that every device would pull for nothing. Such
    // rows are not returned, so they are read after the upsert, under the lock it took.
    let new_rows: Vec<_> = round
        .iter()
        .map(|(_, p)| {
            (
                registers::school_id.eq(school_id),
                registers::id.eq(Uuid::now_v7()),
                registers::class_id.eq(p.item.class_id),
                registers::on_date.eq(p.item.on_date),
                registers::period.eq(p.item.request.period),
                registers::taken_at.eq(Some(p.item.at)),
                registers::taken_by.eq(Some(auth.user_id)),
            )
        })
        .collect();
    let upsert = diesel::insert_into(registers::table)
        .values(&new_rows)
        .on_conflict((
            registers::school_id,
            registers::class_id,
            registers::on_date,
            registers::period,
        ))
        .do_update()
        .set((
            registers::taken_at.eq(excluded(registers::taken_at)),
            registers::taken_by.eq(excluded(registers::taken_by)),
        ));
    let locked: Vec<LockedRegister> =
        diesel::query_dsl::methods::FilterDsl::filter(upsert, registers::taken_at.is_null())
            .returning((
                registers::id,
                registers::class_id,
                registers::on_date,
                registers::period,
                registers::taken_at,
            ))
            .get_results(conn)?;
    let mut by_key: HashMap<RegisterKey, (Uuid, Option<DateTime<Utc>>)> = locked
        .into_iter()
        .map(|(id, c, d, p, t)| ((c, d, p), (id, t)))
        .collect();
    let wanted: HashSet<RegisterKey> = round
        .iter()
        .map(|(_, p)| (p.item.class_id, p.item.on_date, p.item.request.period))
        .filter(|k| !by_key.contains_key(k))
        .collect();
    if !wanted.is_empty() {
        let (mut classes, mut dates, mut periods) = (Vec::new(), Vec::new(), Vec::new());
        for (c, d, p) in &wanted {
            classes.push(*c);
            dates.push(*d);
            periods.push(*p);
        }
        let taken: Vec<TakenRegister> = diesel::sql_query(
            "SELECT r.id, r.class_id, r.on_date, r.period, r.taken_at
               FROM unnest($2::uuid[], $3::date[], $4::int2[]) AS k (class_id, on_date, period)
               JOIN registers r ON r.school_id = $1 AND r.class_id = k.class_id
                               AND r.on_date = k.on_date AND r.period = k.period",
        )
        .bind::<SqlUuid, _>(school_id)
        .bind::<Array<SqlUuid>, _>(&classes)
        .bind::<Array<diesel::sql_types::Date>, _>(&dates)
        .bind::<Array<diesel::sql_types::SmallInt>, _>(&periods)
        .load(conn)?;
        by_key.extend(
            taken
                .into_iter()
                .map(|r| ((r.class_id, r.on_date, r.period), (r.id, r.taken_at))),
        );
    }
    let ids: Vec<Uuid> = by_key.values().map(|(id, _)| *id).collect();
    let mut stored: HashMap<Uuid, HashMap<Uuid, StoredMark>> = HashMap::new();
    for (register, student, code, source, reason, by, at) in attendance_marks::table
        .filter(attendance_marks::school_id.eq(school_id))
        .filter(attendance_marks::register_id.eq_any(&ids))
        .select((
            attendance_marks::register_id,
            attendance_marks::student_id,
            attendance_marks::code_id,
            attendance_marks::source,
            attendance_marks::reason,
            attendance_marks::marked_by,
            attendance_marks::marked_at,
        ))
        .load::<(
            Uuid,
            Uuid,
            Uuid,
            String,
            Option<String>,
            Uuid,
            DateTime<Utc>,
        )>(conn)?
    {
        stored.entry(register).or_default().insert(
            student,
            (
                code,
                MarkSource::parse(&source).unwrap_or(MarkSource::Teacher),
                reason,
                by,
                at,
            ),
        );
    }
    let category_of: HashMap<Uuid, AttendanceCategory> =
        codes.iter().map(|c| (c.id, c.category)).collect();

    let mut results = Vec::with_capacity(round.len());
    let mut accepted: Vec<(usize, Prepared<'_>, Decided)> = Vec::new();
    for (i, p) in round {
        let key = (p.item.class_id, p.item.on_date, p.item.request.period);
        let Some(&(register_id, taken_at)) = by_key.get(&key) else {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "register {key:?} was not returned by its upsert"
            )));
        };
        let current = stored.remove(&register_id).unwrap_or_default();
        match decide(&p, register_id, taken_at, current, &category_of) {
            Ok(d) => accepted.push((i, p, d)),
            Err(e) => results.push((i, Err(e))),
        }
    }

    let mut upserts = Vec::new();
    let mut history = Vec::new();
    let mut absences: Vec<(Uuid, Uuid, &str, NaiveDate)> = Vec::new();
    let mut cancels: (Vec<Uuid>, Vec<Uuid>) = (Vec::new(), Vec::new());
    let mut audits = Vec::new();
    for (_, p, d) in &accepted {
        for (student, code_id, reason) in &d.written {
            upserts.push((
                attendance_marks::school_id.eq(school_id),
                attendance_marks::register_id.eq(d.register_id),
                attendance_marks::student_id.eq(*student),
                attendance_marks::code_id.eq(*code_id),
                attendance_marks::source.eq(p.source.as_str()),
                attendance_marks::reason.eq(reason.clone()),
                attendance_marks::marked_by.eq(auth.user_id),
                attendance_marks::device_id.eq(auth.device_id),
                attendance_marks::marked_at.eq(p.item.at),
            ));
            history.push((
                attendance_mark_history::school_id.eq(school_id),
                attendance_mark_history::id.eq(Uuid::now_v7()),
                attendance_mark_history::register_id.eq(d.register_id),
                attendance_mark_history::student_id.eq(*student),
                attendance_mark_history::code_id.eq(*code_id),
                attendance_mark_history::source.eq(p.source.as_str()),
                attendance_mark_history::reason.eq(reason.clone()),
                attendance_mark_history::marked_by.eq(auth.user_id),
                attendance_mark_history::device_id.eq(auth.device_id),
                attendance_mark_history::marked_at.eq(p.item.at),
            ));
        }
        absences.extend(
            d.new_absences
                .iter()
                .map(|s| (d.register_id, *s, p.class_name, p.item.on_date)),
        );
        for s in &d.no_longer_absent {
            cancels.0.push(d.register_id);
            cancels.1.push(*s);
        }
        if !d.written.is_empty() {
            audits.push(
                AuditEntry::new(school_id, Actor::from(auth), "register", d.register_id)
                    .event_row(
                        "mark",
                        Some(&serde_json::json!({ "class_id": p.item.class_id, "on_date": p.item.on_date, "period": p.item.request.period, "source": p.source, "changed": d.written.len(), "reason": p.reason })),
                    )?,
            );
        }
    }
    for chunk in upserts.chunks(INSERT_ROWS) {
        diesel::insert_into(attendance_marks::table)
            .values(chunk)
            .on_conflict((
                attendance_marks::school_id,
                attendance_marks::register_id,
                attendance_marks::student_id,
            ))
            .do_update()
            .set((
                attendance_marks::code_id.eq(excluded(attendance_marks::code_id)),
                attendance_marks::source.eq(excluded(attendance_marks::source)),
                attendance_marks::reason.eq(excluded(attendance_marks::reason)),
                attendance_marks::marked_by.eq(excluded(attendance_marks::marked_by)),
                attendance_marks::device_id.eq(excluded(attendance_marks::device_id)),
                attendance_marks::marked_at.eq(excluded(attendance_marks::marked_at)),
            ))
            .execute(conn)?;
    }
    for chunk in history.chunks(INSERT_ROWS) {
        diesel::insert_into(attendance_mark_history::table)
            .values(chunk)
            .execute(conn)?;
    }
    super::notify::queue_absence_notices(conn, school_id, &absences)?;
    if !cancels.0.is_empty() {
        diesel::sql_query(
            "UPDATE guardian_notifications SET status = 'cancelled'
              WHERE school_id = $1 AND status = 'pending'
                AND (register_id, student_id) IN (SELECT * FROM unnest($2::uuid[], $3::uuid[]))",
        )
        .bind::<SqlUuid, _>(school_id)
        .bind::<Array<SqlUuid>, _>(&cancels.0)
        .bind::<Array<SqlUuid>, _>(&cancels.1)
        .execute(conn)?;
    }
    audit::insert_all(conn, &audits)?;

    let by_code: HashMap<Uuid, &AttendanceCode> = codes.iter().map(|c| (c.id, c)).collect();
    for (i, p, d) in accepted {
        let changed = d.written.len() as u32;
        let mut current = d.current;
        for (student, code_id, reason) in d.written {
            current.insert(
                student,
                (code_id, p.source, reason, auth.user_id, p.item.at),
            );
        }
        let mut marks: Vec<AttendanceMark> = current
            .into_iter()
            .filter_map(|(student_id, mark)| attendance_mark(&by_code, student_id, mark))
            .collect();
        marks.sort_by_key(|m| m.student_id);
        results.push((
            i,
            Ok(MarkRegisterResult {
                register: Register {
                    id: d.register_id,
                    class_id: p.item.class_id,
                    on_date: p.item.on_date,
                    period: p.item.request.period,
                    taken_at: d.taken_at,
                    marks,
                },
                changed,
                kept_office_overrides: d.kept,
            }),
        ));
    }
    Ok(results)
}

/// Decides one marking against the register's current marks (pure).
///
/// Errors: validation naming `reason` when the office changes a teacher's mark without one.
fn decide(
    p: &Prepared<'_>,
    register_id: Uuid,
    taken_at: Option<DateTime<Utc>>,
    current: HashMap<Uuid, StoredMark>,
    category_of: &HashMap<Uuid, AttendanceCategory>,
) -> ApiResult<Decided> {
    let source = p.source;
    let mut d = Decided {
        register_id,
        taken_at,
        written: Vec::new(),
        new_absences: Vec::new(),
        no_longer_absent: Vec::new(),
        kept: Vec::new(),
        current: HashMap::new(),
    };
    for (student, code) in &p.wanted {
        let held = current.get(student);
        match daftar_client_core::attendance::precedence(
            held.map(|(old, src, ..)| (old, *src)),
            &code.id,
            source,
            p.reason.is_some(),
        ) {
            Precedence::Unchanged => continue,
            Precedence::KeepsOfficeMark => {
                d.kept.push(*student);
                continue;
            }
            Precedence::NeedsReason => {
                return Err(ApiError::validation(
                    "reason",
                    format!("changing a teacher's mark (student {student}) needs a reason"),
                ));
            }
            Precedence::Write => {}
        }
        let was_absent =
            held.is_some_and(|(old, ..)| category_of.get(old) == Some(&AttendanceCategory::Absent));
        let is_absent = code.category == AttendanceCategory::Absent;
        if is_absent && !was_absent {
            d.new_absences.push(*student);
        }
        if was_absent && !is_absent {
            d.no_longer_absent.push(*student);
        }
        let reason = if source == MarkSource::Office {
            p.reason.clone()
        } else {
            None
        };
        d.written.push((*student, code.id, reason));
    }
    d.current = current;
    Ok(d)
}
