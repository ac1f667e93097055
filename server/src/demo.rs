//! The demo school: about 600 students in about 350 families (siblings share a
//! family), 12 classes (grades 1–6, sections A and B) each with a homeroom teacher, guardians
//! with phone numbers, one academic year with three terms, and a login for every role.
//!
//! Seeded once, deterministically (fixed RNG seed), in one transaction; a second `demo` run
//! finds the school and seeds nothing.

use chrono::{NaiveDate, Utc};
use daftar_client_core::protocol::Role;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::audit::{Actor, AuditEntry};
use crate::errors::ApiResult;
use crate::roster::models::*;
use crate::schema::{
    academic_years, class_teachers, classes, enrollments, families, guardians, schools, students,
    terms,
};
use crate::schools::{create_school, create_user, NewSchool};
use crate::tenancy::UserRow;

/// Slug of the demo school (log in with `"school": "demo"`).
pub const DEMO_SLUG: &str = "demo";
/// The demo school's postal address (printed on its receipts).
pub const DEMO_ADDRESS: &str = "14-B Main Boulevard, Gulberg III, Lahore 54660";
/// Students seeded.
pub const STUDENTS: usize = 600;
/// Families seeded.
pub const FAMILIES: usize = 350;

/// A demo login and its password, printed once when the school is first seeded.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub role: Role,
    pub username: String,
    pub password: String,
}

const GIVEN: [&str; 40] = [
    "Ayesha", "Fatima", "Zainab", "Maryam", "Hira", "Sana", "Amna", "Iqra", "Noor", "Mahnoor",
    "Hamza", "Ali", "Usman", "Bilal", "Hassan", "Ahmed", "Omar", "Saad", "Zain", "Ibrahim",
    "Aisha", "Khadija", "Rabia", "Sara", "Laiba", "Anaya", "Eman", "Hafsa", "Alina", "Dua",
    "Yusuf", "Musa", "Ayaan", "Rayyan", "Arham", "Taha", "Haris", "Daniyal", "Faris", "Zayan",
];
const FAMILY: [&str; 30] = [
    "Khan", "Ahmed", "Malik", "Hussain", "Qureshi", "Siddiqui", "Sheikh", "Chaudhry", "Butt",
    "Raza", "Javed", "Iqbal", "Mirza", "Baig", "Shah", "Anwar", "Aslam", "Farooq", "Hashmi",
    "Rizvi", "Abbasi", "Zaidi", "Naqvi", "Bhatti", "Gill", "Awan", "Tariq", "Saleem", "Yousaf",
    "Karim",
];
const ADULT_GIVEN: [&str; 20] = [
    "Imran", "Kamran", "Tariq", "Naveed", "Shahid", "Asif", "Faisal", "Rashid", "Waqas", "Adnan",
    "Nadia", "Saima", "Farah", "Uzma", "Rubina", "Shazia", "Asma", "Bushra", "Samina", "Nazia",
];

fn random_password(rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    (0..14)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Seeds the demo school unless it exists. Returns the logins to print (empty when the school
/// already existed). `password` fixes every demo password (tests, CI); otherwise each is
/// random. `hash` turns a password into an argon2id PHC string.
///
/// Errors: database failures (nothing is left half-seeded: one transaction).
pub fn seed(
    conn: &mut PgConnection,
    password: Option<&str>,
    hash: &dyn Fn(&str) -> anyhow::Result<String>,
) -> ApiResult<Vec<DemoLogin>> {
    conn.transaction(|conn| {
        let exists: i64 = schools::table.filter(schools::slug.eq(DEMO_SLUG)).count().get_result(conn)?;
        if exists > 0 {
            return Ok(Vec::new());
        }
        let mut rng = StdRng::seed_from_u64(0x0da7_7a12);
        let mut secret_rng = rand::thread_rng();
        let school = create_school(conn, &NewSchool {
            slug: DEMO_SLUG.into(),
            name: "Daftar Demo School".into(),
            currency: "PKR".into(),
            timezone: "Asia/Karachi".into(),
        })?;
        let sid = school.id;
        diesel::update(schools::table.find(sid))
            .set(schools::address.eq(DEMO_ADDRESS))
            .execute(conn)?;
        let now = Utc::now();
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();

        let mut logins = Vec::new();
        let mut login = |conn: &mut PgConnection, role: Role, username: &str, name: &str| -> ApiResult<UserRow> {
            let pw = password.map(str::to_string).unwrap_or_else(|| random_password(&mut secret_rng));
            let user = create_user(conn, sid, username, name, role, Some(hash(&pw)?))?;
            logins.push(DemoLogin { role, username: username.into(), password: pw });
            Ok(user)
        };
        let admin = login(conn, Role::Admin, "admin", "Principal Shazia Anwar")?;
        let accountant = login(conn, Role::Accountant, "accountant", "Accountant Naveed Iqbal")?;

        let year = AcademicYearRow { school_id: sid, id: Uuid::now_v7(), name: "2026-27".into(), starts_on: date(2026, 4, 1), ends_on: date(2027, 3, 31), sourced_id: None, created_at: now };
        diesel::insert_into(academic_years::table).values(&year).execute(conn)?;
        let term_rows: Vec<TermRow> = [("Term 1", date(2026, 4, 1), date(2026, 7, 31)), ("Term 2", date(2026, 8, 1), date(2026, 11, 30)), ("Term 3", date(2026, 12, 1), date(2027, 3, 31))]
            .into_iter()
            .map(|(name, s, e)| TermRow { school_id: sid, id: Uuid::now_v7(), academic_year_id: year.id, name: name.into(), starts_on: s, ends_on: e, active: true, sourced_id: None, created_at: now })
            .collect();
        diesel::insert_into(terms::table).values(&term_rows).execute(conn)?;

        // Twelve classes, each with a homeroom teacher; the first teacher can log in.
        let mut class_rows = Vec::new();
        let mut teacher_rows = Vec::new();
        for grade in 1..=6 {
            for section in ["A", "B"] {
                let n = class_rows.len();
                let tname = format!("{} {}", ADULT_GIVEN[(n * 7) % 20], FAMILY[(n * 11) % 30]);
                let username = format!("teacher{}", n + 1);
                let teacher = if n == 0 {
                    login(conn, Role::Teacher, &username, &tname)?
                } else {
                    create_user(conn, sid, &username, &tname, Role::Teacher, None)?
                };
                let class = ClassRow {
                    school_id: sid, id: Uuid::now_v7(), academic_year_id: year.id, term_id: None, campus_id: None,
                    name: format!("Grade {grade}-{section}"), grade: grade.to_string(), section: section.into(),
                    code: Some(format!("G{grade}{section}")), homeroom_teacher_id: Some(teacher.id), active: true,
                    sourced_id: None, created_at: now, updated_at: now,
                };
                teacher_rows.push(ClassTeacherRow { school_id: sid, class_id: class.id, teacher_id: teacher.id, is_primary: true, sourced_id: None, created_at: now, subject: None });
                class_rows.push(class);
            }
        }
        diesel::insert_into(classes::table).values(&class_rows).execute(conn)?;
        diesel::insert_into(class_teachers::table).values(&teacher_rows).execute(conn)?;

        // Families: each gets one child, the remaining children go to random families, so
        // sibling groups of 2–4 appear naturally.
        let mut sizes = vec![1usize; FAMILIES];
        for _ in FAMILIES..STUDENTS {
            let f = rng.gen_range(0..FAMILIES);
            sizes[f] += 1;
        }
        let mut family_rows = Vec::new();
        let mut guardian_rows = Vec::new();
        let mut student_rows = Vec::new();
        let mut enrollment_rows = Vec::new();
        let mut parent_demo: Option<(usize, usize)> = None;
        for (f, &size) in sizes.iter().enumerate() {
            let surname = FAMILY[rng.gen_range(0..FAMILY.len())];
            let family = FamilyRow { school_id: sid, id: Uuid::now_v7(), name: format!("{surname} family"), active: true, created_at: now, updated_at: now };
            let n_guardians = if rng.gen_bool(0.6) { 2 } else { 1 };
            for g in 0..n_guardians {
                let given = ADULT_GIVEN[if g == 0 { rng.gen_range(0..10) } else { rng.gen_range(10..20) }];
                guardian_rows.push(GuardianRow {
                    school_id: sid, id: Uuid::now_v7(), family_id: family.id, user_id: None,
                    given_name: given.into(), family_name: surname.into(),
                    relationship: if g == 0 { "father".into() } else { "mother".into() },
                    phone: Some(format!("+923{:02}{:07}", rng.gen_range(0..50), rng.gen_range(0..10_000_000))),
                    email: None, active: true, sourced_id: None, created_at: now, updated_at: now,
                });
            }
            if parent_demo.is_none() && size >= 2 {
                parent_demo = Some((f, guardian_rows.len() - n_guardians));
            }
            for _ in 0..size {
                let class = &class_rows[rng.gen_range(0..class_rows.len())];
                let grade: i32 = class.grade.parse().unwrap_or(1);
                let student = StudentRow {
                    school_id: sid, id: Uuid::now_v7(), family_id: family.id,
                    admission_no: format!("DS-{:04}", student_rows.len() + 1),
                    given_name: GIVEN[rng.gen_range(0..GIVEN.len())].into(), family_name: surname.into(),
                    date_of_birth: NaiveDate::from_ymd_opt(2026 - 6 - grade, rng.gen_range(1..=12), rng.gen_range(1..=28)),
                    gender: None, grade: class.grade.clone(), email: None, active: true, sourced_id: None,
                    created_at: now, updated_at: now,
                };
                enrollment_rows.push(EnrollmentRow {
                    school_id: sid, id: Uuid::now_v7(), class_id: class.id, student_id: student.id,
                    starts_on: Some(year.starts_on), ends_on: None, active: true, sourced_id: None, created_at: now,
                });
                student_rows.push(student);
            }
            family_rows.push(family);
        }
        // One parent login, guardian of a family with several children.
        if let Some((_, g)) = parent_demo {
            let gname = format!("{} {}", guardian_rows[g].given_name, guardian_rows[g].family_name);
            let parent = login(conn, Role::Parent, "parent", &gname)?;
            guardian_rows[g].user_id = Some(parent.id);
        }
        guardian_rows.shuffle(&mut rng);
        diesel::insert_into(families::table).values(&family_rows).execute(conn)?;
        for chunk in guardian_rows.chunks(500) {
            diesel::insert_into(guardians::table).values(chunk).execute(conn)?;
        }
        for chunk in student_rows.chunks(500) {
            diesel::insert_into(students::table).values(chunk).execute(conn)?;
        }
        for chunk in enrollment_rows.chunks(500) {
            diesel::insert_into(enrollments::table).values(chunk).execute(conn)?;
        }
        let today = crate::calendar::local_date(conn, sid, now)?;
        seed_history(conn, sid, admin.id, accountant.id, &term_rows, &class_rows, &family_rows, &mut rng, today)?;
        let summary = serde_json::json!({ "students": student_rows.len(), "families": family_rows.len(), "guardians": guardian_rows.len(), "classes": class_rows.len() });
        AuditEntry::new(sid, Actor::SYSTEM, "school", sid).event(conn, "demo_seed", Some(&summary))?;
        Ok(logins)
    })
}

/// A term of invoices, a few weeks of payments (full, partial, sibling waterfalls, overpayments
/// into credit, one bounced cheque) and the last two weeks of attendance, all through the same
/// services the API uses, so every report is consistent by construction.
#[allow(clippy::too_many_arguments)]
fn seed_history(
    conn: &mut PgConnection,
    sid: Uuid,
    admin: Uuid,
    accountant: Uuid,
    terms: &[TermRow],
    classes: &[ClassRow],
    families: &[FamilyRow],
    rng: &mut StdRng,
    today: NaiveDate,
) -> ApiResult<()> {
    use chrono::{Datelike, Duration, TimeZone};
    use daftar_client_core::protocol::{
        MarkException, MarkRegisterRequest, PaymentMethod, RecordPaymentRequest,
    };

    use crate::ledger::{adjustments, repo as ledger_repo, service as ledger};
    use crate::schema::{fee_schedules, guardian_notifications};

    // The latest term that began at least two weeks ago (so its history has payments in it),
    // else the latest begun, else the first. Nothing is dated after today or received after
    // now in the school's time zone: a term that has not begun is invoiced
    // today.
    let begun: Vec<&TermRow> = terms.iter().filter(|t| t.starts_on <= today).collect();
    let Some(term) = begun
        .iter()
        .rfind(|t| t.starts_on + Duration::days(14) <= today)
        .or(begun.last())
        .copied()
        .or(terms.first())
    else {
        return Ok(());
    };
    let issued_on = term.starts_on.min(today);
    let tuition = ledger_repo::create_fee_head(conn, sid, Uuid::now_v7(), "Tuition")?;
    let exam = ledger_repo::create_fee_head(conn, sid, Uuid::now_v7(), "Examination")?;
    for class in classes {
        let grade: i64 = class.grade.parse().unwrap_or(1);
        for (head, amount, due) in [
            (&tuition, (6_000 + 500 * grade) * 100, 14),
            (&exam, 1_500 * 100, 45),
        ] {
            diesel::insert_into(fee_schedules::table)
                .values((
                    fee_schedules::school_id.eq(sid),
                    fee_schedules::id.eq(Uuid::now_v7()),
                    fee_schedules::term_id.eq(term.id),
                    fee_schedules::class_id.eq(class.id),
                    fee_schedules::fee_head_id.eq(head.id),
                    fee_schedules::amount.eq(amount),
                    fee_schedules::due_on.eq(term.starts_on + Duration::days(due)),
                ))
                .execute(conn)?;
        }
    }
    let office = Actor {
        user_id: Some(accountant),
        device_id: None,
    };
    crate::ledger::invoicing::issue_invoices(conn, sid, term.id, office, issued_on)?;

    let tz = chrono_tz::Asia::Karachi;
    let now = Utc::now();
    let window_end = today.min(issued_on + Duration::days(60));
    let span = (window_end - issued_on).num_days().max(0);
    // Payments from the third day after issue when the window allows, else from issue day.
    let first_day = if span >= 4 { 3 } else { 0 };
    let mut cheque: Option<Uuid> = None;
    for family in families {
        let owed = ledger::family_dues(conn, sid, family.id)?.total_outstanding;
        let roll: f64 = rng.gen();
        let amount = if roll < 0.55 {
            owed
        } else if roll < 0.70 {
            owed * rng.gen_range(30..80) / 100 / 100 * 100
        } else if roll < 0.80 {
            owed + rng.gen_range(5..20) * 100 * 100
        } else {
            0
        };
        if amount <= 0 {
            continue;
        }
        let day = issued_on + Duration::days(rng.gen_range(first_day..=span));
        let received_at = tz
            .with_ymd_and_hms(
                day.year(),
                day.month(),
                day.day(),
                rng.gen_range(8..14),
                rng.gen_range(0..60),
                0,
            )
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now)
            // Today's payments before now, never after.
            .min(now - Duration::minutes(rng.gen_range(1..120)));
        let method = match (cheque.is_none(), rng.gen_range(0..20)) {
            (true, _) => PaymentMethod::Cheque,
            (_, 0..=11) => PaymentMethod::Cash,
            (_, 12..=16) => PaymentMethod::BankTransfer,
            _ => PaymentMethod::MobileMoney,
        };
        let req = RecordPaymentRequest {
            id: Uuid::now_v7(),
            family_id: Some(family.id),
            amount,
            currency: "PKR".into(),
            method,
            reference: (method == PaymentMethod::Cheque)
                .then(|| format!("CHQ-{}", rng.gen_range(100_000..999_999))),
            received_at: Some(received_at),
            cashier_id: None,
        };
        crate::ledger::payments::record_payment(conn, sid, office, &req)?;
        if method == PaymentMethod::Cheque {
            cheque = Some(req.id);
        }
    }
    if let Some(bounced) = cheque {
        adjustments::reverse_payment(
            conn,
            sid,
            office,
            bounced,
            "cheque returned unpaid by the bank",
        )?;
    }

    // Attendance: the ten school days (Mon–Fri) before today that fall in a term; today's
    // registers are left for the teachers, so "not yet taken" has something to show.
    let admin_user = crate::auth::AuthUser {
        user_id: admin,
        school_id: sid,
        roles: daftar_client_core::protocol::Roles::of([Role::Admin]),
        device_id: None,
    };
    let mut days = Vec::new();
    let mut d = today - Duration::days(1);
    while days.len() < 10 && d >= today - Duration::days(30) {
        let weekday = d.weekday().number_from_monday();
        if weekday <= 5 && terms.iter().any(|t| t.starts_on <= d && d <= t.ends_on) {
            days.push(d);
        }
        d -= Duration::days(1);
    }
    for day in days.into_iter().rev() {
        for class in classes {
            let enrolled = crate::attendance::service::enrolled_on(conn, sid, class.id, day)?;
            let exceptions = enrolled
                .iter()
                .filter_map(|(student, _)| match rng.gen_range(0..100) {
                    0..=4 => Some(MarkException {
                        student_id: *student,
                        code: "A".into(),
                    }),
                    5..=7 => Some(MarkException {
                        student_id: *student,
                        code: "L".into(),
                    }),
                    _ => None,
                })
                .collect();
            let req = MarkRegisterRequest {
                period: 0,
                default_code: None,
                exceptions,
                reason: None,
            };
            crate::attendance::service::mark_register(
                conn,
                &admin_user,
                class.id,
                day,
                &req,
                Utc::now(),
            )?;
        }
    }
    // Past absences are history, not messages to send now.
    diesel::update(guardian_notifications::table.filter(guardian_notifications::school_id.eq(sid)))
        .set((
            guardian_notifications::status.eq("sent"),
            guardian_notifications::sent_at.eq(Some(Utc::now())),
        ))
        .execute(conn)?;
    Ok(())
}
