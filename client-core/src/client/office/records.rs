//! Student and guardian records changed offline (office-console issue, "Students and
//! families"): contact edits as `student.update@1` / `guardian.update@1` field edits that the
//! server merges field by field (ARCHITECTURE.md §6 "Conflicts"), and admissions as
//! `student.admit@1`. Each is one outbox transaction with the overlay rows that show it at
//! once. Values are checked with the server's own rules ([`crate::validate`]) before anything
//! is queued, so a bad value is refused here, naming the field, and nothing is queued.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{school, typed};
use crate::client::error::{ClientError, ClientResult};
use crate::client::store::Store;
use crate::protocol::sync::{
    AdmitStudentArgs, FieldEdit, NewFamily, UpdateRecordArgs, GUARDIAN_UPDATE, STUDENT_ADMIT,
    STUDENT_UPDATE,
};
use crate::protocol::{synced, CreateStudentRequest};
use crate::validate::{self, FieldError};

/// Student fields the office edits on the console, in form order.
pub const STUDENT_FIELDS: [&str; 5] = [
    "given_name",
    "family_name",
    "date_of_birth",
    "gender",
    "grade",
];

/// Guardian fields the office edits on the console, in form order.
pub const GUARDIAN_FIELDS: [&str; 5] = [
    "given_name",
    "family_name",
    "relationship",
    "phone",
    "email",
];

/// One field as a person typed it, with the value the form showed when it was opened
/// (`base`, JSON as the replica row had it). The base is what the server compares with its
/// own value: an edit based on a value someone else has since changed is a conflict.
#[derive(Debug, Clone)]
pub struct TypedEdit {
    pub field: String,
    pub base: Value,
    pub typed: String,
}

fn invalid(e: FieldError) -> ClientError {
    ClientError::invalid(e.field, e.message)
}

/// The wire value of `typed` for `field` (what the server's request type takes) and the row
/// value it leaves (what the overlay shows), by the server's rules for that field.
fn clean(field: &str, typed: &str, base: &Value) -> ClientResult<(Value, Value)> {
    let text = |max| validate::text(field, typed, max).map(|v| (json!(v), json!(v)));
    // An empty optional field is sent as "" (the server clears it) and shown as null.
    let optional = |v: Option<String>| match v {
        Some(v) => (json!(v), json!(v)),
        None => (json!(""), Value::Null),
    };
    match field {
        "given_name" | "family_name" => text(100).map_err(invalid),
        "relationship" => text(50).map_err(invalid),
        "grade" => Ok((json!(typed.trim()), json!(typed.trim()))),
        "gender" => validate::opt_text(field, Some(typed), 20)
            .map(optional)
            .map_err(invalid),
        "phone" => validate::phone(field, Some(typed))
            .map(optional)
            .map_err(invalid),
        "email" => validate::email(field, Some(typed))
            .map(optional)
            .map_err(invalid),
        "date_of_birth" => {
            let t = typed.trim();
            if t.is_empty() {
                if base.is_null() {
                    return Ok((Value::Null, Value::Null));
                }
                return Err(ClientError::invalid(
                    field,
                    "a date of birth once recorded cannot be removed, only corrected",
                ));
            }
            let d = NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| {
                ClientError::invalid(field, format!("“{t}” is not a date (YYYY-MM-DD)"))
            })?;
            if d > Utc::now().date_naive() {
                return Err(ClientError::invalid(field, "must not be in the future"));
            }
            Ok((json!(d), json!(d)))
        }
        other => Err(ClientError::invalid(
            other,
            "not a field the office can edit here",
        )),
    }
}

fn update_record(
    store: &mut Store,
    entity: &str,
    mutation: &str,
    allowed: &[&str],
    id: Uuid,
    edits: &[TypedEdit],
) -> ClientResult<Option<Uuid>> {
    let mut row = store
        .row(entity, &id.to_string())?
        .ok_or_else(|| ClientError::NotFound(format!("no {entity} row {id} on this device")))?;
    let mut fields = BTreeMap::new();
    for e in edits {
        if !allowed.contains(&e.field.as_str()) {
            return Err(ClientError::invalid(
                &e.field,
                "not a field the office can edit here",
            ));
        }
        let (wire, shown) = clean(&e.field, &e.typed, &e.base)?;
        if shown == e.base {
            continue;
        }
        row[e.field.as_str()] = shown;
        fields.insert(
            e.field.clone(),
            FieldEdit {
                base: e.base.clone(),
                value: wire,
            },
        );
    }
    if fields.is_empty() {
        return Ok(None);
    }
    let args = UpdateRecordArgs { id, fields };
    let op = store.enqueue(
        mutation,
        &serde_json::to_value(&args)?,
        None,
        &[(entity.to_string(), id.to_string(), row)],
    )?;
    Ok(Some(op.op_id))
}

/// Queues the changed fields of student `student_id` (`student.update@1`, office only; any of
/// [`STUDENT_FIELDS`]); fields typed as they were are left out. Returns the op id, or `None`
/// when nothing changed. The profile shows the new values at once; if someone changed a field
/// on the server meanwhile, the server keeps its value and the op comes back as a conflict.
///
/// Errors: validation naming the field (names 1–100 characters, gender ≤ 20, a real date of
/// birth not in the future); not found for a student this device does not have.
pub fn update_student(
    store: &mut Store,
    student_id: Uuid,
    edits: &[TypedEdit],
) -> ClientResult<Option<Uuid>> {
    update_record(
        store,
        "students",
        STUDENT_UPDATE,
        &STUDENT_FIELDS,
        student_id,
        edits,
    )
}

/// Queues the changed fields of guardian `guardian_id` (`guardian.update@1`, office only; any
/// of [`GUARDIAN_FIELDS`]), as [`update_student`] does. A phone is kept as `+` and 7–15 digits
/// (spaces, dashes and brackets dropped); an empty phone or e-mail removes it.
///
/// Errors: validation naming the field; not found for a guardian this device does not have.
pub fn update_guardian(
    store: &mut Store,
    guardian_id: Uuid,
    edits: &[TypedEdit],
) -> ClientResult<Option<Uuid>> {
    update_record(
        store,
        "guardians",
        GUARDIAN_UPDATE,
        &GUARDIAN_FIELDS,
        guardian_id,
        edits,
    )
}

/// The family an admission joins.
#[derive(Debug, Clone)]
pub enum AdmitInto {
    /// A family on this device (a sibling's).
    Existing(Uuid),
    /// A new family made with the admission, named `name`.
    New { name: String },
}

/// An admission typed at the office.
#[derive(Debug, Clone)]
pub struct NewAdmission {
    pub admission_no: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<String>,
    pub grade: String,
    pub family: AdmitInto,
    /// The class the student is enrolled in from `enrolled_on` (school-local date), if any.
    pub class_id: Option<Uuid>,
    pub enrolled_on: NaiveDate,
}

/// Admits a student offline (`student.admit@1`, office only): the student, a new family when
/// asked, and the enrolment, shown at once (the student is found by search and appears on the
/// class's register). Returns the new student's id.
///
/// Errors: validation naming the field: `admission_no` (1–50 characters, not already used on
/// this device), `given_name` / `family_name` (1–100), `gender` (≤ 20), `family_name_new`
/// (1–200), `date_of_birth` (not in the future); not found for a family or class this device
/// does not have.
pub fn admit_student(store: &mut Store, a: &NewAdmission) -> ClientResult<Uuid> {
    let admission_no = validate::text("admission_no", &a.admission_no, 50).map_err(invalid)?;
    let given_name = validate::text("given_name", &a.given_name, 100).map_err(invalid)?;
    let family_name = validate::text("family_name", &a.family_name, 100).map_err(invalid)?;
    let gender = validate::opt_text("gender", a.gender.as_deref(), 20).map_err(invalid)?;
    if a.date_of_birth.is_some_and(|d| d > Utc::now().date_naive()) {
        return Err(ClientError::invalid(
            "date_of_birth",
            "must not be in the future",
        ));
    }
    let same_no: Vec<synced::Student> =
        typed(store.rows_where("students", "admission_no", &admission_no)?)?;
    if let Some(s) = same_no.first() {
        return Err(ClientError::invalid(
            "admission_no",
            format!("{admission_no} is already {}'s admission number", s.name()),
        ));
    }
    if let Some(class_id) = a.class_id {
        if store.row("classes", &class_id.to_string())?.is_none() {
            return Err(ClientError::NotFound(format!(
                "no class {class_id} on this device"
            )));
        }
    }
    let school = school(store)?;
    let now = Utc::now();
    let mut overlay = Vec::new();
    let (family_id, new_family) = match &a.family {
        AdmitInto::Existing(id) => {
            if store.row("families", &id.to_string())?.is_none() {
                return Err(ClientError::NotFound(format!(
                    "no family {id} on this device"
                )));
            }
            (*id, None)
        }
        AdmitInto::New { name } => {
            let name = validate::text("family_name_new", name, 200).map_err(invalid)?;
            let id = Uuid::now_v7();
            let row = synced::Family {
                school_id: school.id,
                id,
                name: name.clone(),
                active: true,
                created_at: now,
                updated_at: now,
            };
            overlay.push((
                "families".to_string(),
                id.to_string(),
                serde_json::to_value(&row)?,
            ));
            (id, Some(NewFamily { id, name }))
        }
    };
    let student_id = Uuid::now_v7();
    let student = synced::Student {
        school_id: school.id,
        id: student_id,
        family_id,
        admission_no: admission_no.clone(),
        given_name: given_name.clone(),
        family_name: family_name.clone(),
        date_of_birth: a.date_of_birth,
        gender: gender.clone(),
        grade: a.grade.trim().to_string(),
        email: None,
        active: true,
        sourced_id: None,
        created_at: now,
        updated_at: now,
    };
    overlay.push((
        "students".to_string(),
        student_id.to_string(),
        serde_json::to_value(&student)?,
    ));
    if let Some(class_id) = a.class_id {
        let id = Uuid::now_v7();
        let e = synced::Enrollment {
            school_id: school.id,
            id,
            class_id,
            student_id,
            starts_on: Some(a.enrolled_on),
            ends_on: None,
            active: true,
            sourced_id: None,
            created_at: now,
        };
        overlay.push((
            "enrollments".to_string(),
            id.to_string(),
            serde_json::to_value(&e)?,
        ));
    }
    let args = AdmitStudentArgs {
        new_family,
        student: CreateStudentRequest {
            id: Some(student_id),
            family_id: Some(family_id),
            admission_no,
            given_name,
            family_name,
            date_of_birth: a.date_of_birth,
            gender,
            grade: a.grade.trim().to_string(),
        },
        class_id: a.class_id,
        enrolled_on: a.class_id.map(|_| a.enrolled_on),
    };
    store.enqueue(STUDENT_ADMIT, &serde_json::to_value(&args)?, None, &overlay)?;
    Ok(student_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::sync::ChangeRow;

    const T: &str = "2026-01-05T08:00:00Z";

    fn change(entity: &str, row: Value) -> ChangeRow {
        ChangeRow {
            entity: entity.into(),
            id: row["id"].as_str().unwrap_or_default().to_string(),
            version: 1,
            deleted: false,
            row: Some(row),
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        family: Uuid,
        guardian: Uuid,
        student: Uuid,
        class: Uuid,
    }

    /// A replica with a school, a class, a family with one guardian and one child (born
    /// 2015-03-01).
    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path()).unwrap();
        let (school, family, guardian, student, class) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let rows = vec![
            change(
                "schools",
                json!({ "id": school, "slug": "s", "name": "School", "currency": "PKR",
                "timezone": "Asia/Karachi", "sourced_id": null, "created_at": T, "updated_at": T,
                "attendance_edit_window_days": 7, "max_amount": 100_000_000 }),
            ),
            change(
                "classes",
                json!({ "school_id": school, "id": class, "name": "Grade 1", "grade": "1",
                "section": "A", "academic_year_id": Uuid::now_v7(), "term_id": null, "campus_id": null,
                "code": null, "homeroom_teacher_id": null,
                "active": true, "sourced_id": null, "created_at": T, "updated_at": T }),
            ),
            change(
                "families",
                json!({ "school_id": school, "id": family, "name": "Khan family",
                "active": true, "created_at": T, "updated_at": T }),
            ),
            change(
                "guardians",
                json!({ "school_id": school, "id": guardian, "family_id": family,
                "user_id": null, "given_name": "Imran", "family_name": "Khan",
                "relationship": "father", "phone": "+923001234567", "email": null,
                "active": true, "sourced_id": null, "created_at": T, "updated_at": T }),
            ),
            change(
                "students",
                json!({ "school_id": school, "id": student, "family_id": family,
                "admission_no": "DS-0001", "given_name": "Ali", "family_name": "Khan",
                "date_of_birth": "2015-03-01", "gender": null, "grade": "3", "email": null,
                "active": true, "sourced_id": null, "created_at": T, "updated_at": T }),
            ),
        ];
        store.stage(&rows, "c1").unwrap();
        store.apply_staged("c1", 1).unwrap();
        Fixture {
            _dir: dir,
            store,
            family,
            guardian,
            student,
            class,
        }
    }

    fn edit(field: &str, base: Value, typed: &str) -> TypedEdit {
        TypedEdit {
            field: field.into(),
            base,
            typed: typed.into(),
        }
    }

    fn queued(store: &mut Store) -> i64 {
        store.counts().unwrap().pending
    }

    #[test]
    fn a_guardian_edit_sends_only_changed_fields_with_their_base_and_shows_at_once() {
        let mut f = fixture();
        let e = update_guardian(
            &mut f.store,
            f.guardian,
            &[edit("phone", json!("+923001234567"), "call me")],
        )
        .expect_err("not a phone");
        assert!(
            matches!(&e, ClientError::Invalid { field, .. } if field == "phone"),
            "{e}"
        );
        assert_eq!(queued(&mut f.store), 0, "nothing queued");

        let op = update_guardian(
            &mut f.store,
            f.guardian,
            &[
                edit("given_name", json!("Imran"), " Imran "),
                edit("phone", json!("+923001234567"), "+92 300 555-0101"),
                edit("email", Value::Null, ""),
            ],
        )
        .unwrap();
        assert!(op.is_some());
        let ops = f.store.pending_ops(10).unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].op.mutation, GUARDIAN_UPDATE);
        let args: UpdateRecordArgs = serde_json::from_value(ops[0].op.args.clone()).unwrap();
        assert_eq!(args.id, f.guardian);
        assert_eq!(
            args.fields.keys().collect::<Vec<_>>(),
            vec!["phone"],
            "fields typed as they were are left out"
        );
        assert_eq!(args.fields["phone"].base, json!("+923001234567"));
        assert_eq!(args.fields["phone"].value, json!("+923005550101"));
        let row = f
            .store
            .row("guardians", &f.guardian.to_string())
            .unwrap()
            .unwrap();
        assert_eq!(row["phone"], json!("+923005550101"), "shown before sync");

        let none = update_guardian(
            &mut f.store,
            f.guardian,
            &[edit("phone", json!("+923005550101"), "+923005550101")],
        )
        .unwrap();
        assert_eq!(none, None, "nothing changed, nothing queued");
        assert_eq!(queued(&mut f.store), 1);
    }

    #[test]
    fn a_student_edit_checks_dates_and_refuses_fields_it_does_not_edit() {
        let mut f = fixture();
        for (e, field) in [
            (
                edit("date_of_birth", json!("2015-03-01"), ""),
                "date_of_birth",
            ),
            (
                edit("date_of_birth", json!("2015-03-01"), "2015-02-30"),
                "date_of_birth",
            ),
            (
                edit("date_of_birth", json!("2015-03-01"), "2999-01-01"),
                "date_of_birth",
            ),
            (edit("given_name", json!("Ali"), "   "), "given_name"),
            (edit("admission_no", json!("DS-0001"), "X"), "admission_no"),
        ] {
            let err = update_student(&mut f.store, f.student, &[e]).expect_err("refused");
            assert!(
                matches!(&err, ClientError::Invalid { field: got, .. } if got == field),
                "{err}"
            );
        }
        assert_eq!(queued(&mut f.store), 0);
        update_student(
            &mut f.store,
            f.student,
            &[edit("date_of_birth", json!("2015-03-01"), "2015-03-02")],
        )
        .unwrap()
        .expect("queued");
        let s: synced::Student = serde_json::from_value(
            f.store
                .row("students", &f.student.to_string())
                .unwrap()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(s.date_of_birth, NaiveDate::from_ymd_opt(2015, 3, 2));
    }

    #[test]
    fn an_admission_with_a_new_family_shows_the_family_student_and_enrolment_at_once() {
        let mut f = fixture();
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let mut a = NewAdmission {
            admission_no: "DS-0001".into(),
            given_name: "Noor".into(),
            family_name: "Aziz".into(),
            date_of_birth: None,
            gender: Some(String::new()),
            grade: "1".into(),
            family: AdmitInto::New {
                name: "Aziz family".into(),
            },
            class_id: Some(f.class),
            enrolled_on: today,
        };
        let e = admit_student(&mut f.store, &a).expect_err("admission number in use");
        assert!(e.to_string().contains("Ali Khan"), "{e}");
        assert_eq!(queued(&mut f.store), 0);
        a.admission_no = "DS-0100".into();
        let id = admit_student(&mut f.store, &a).unwrap();
        let s: synced::Student =
            serde_json::from_value(f.store.row("students", &id.to_string()).unwrap().unwrap())
                .unwrap();
        assert_ne!(s.family_id, f.family);
        assert_eq!(
            super::super::family_name(&mut f.store, s.family_id).unwrap(),
            "Aziz family"
        );
        assert_eq!(s.gender, None, "an empty gender is none");
        assert_eq!(
            super::super::enrolled_class(&mut f.store, id, today).unwrap(),
            Some(f.class)
        );
        let ops = f.store.pending_ops(10).unwrap();
        let args: AdmitStudentArgs = serde_json::from_value(ops[0].op.args.clone()).unwrap();
        assert_eq!(args.student.id, Some(id));
        assert_eq!(args.new_family.as_ref().map(|n| n.id), Some(s.family_id));
        assert_eq!(args.student.family_id, Some(s.family_id));
        assert_eq!(args.enrolled_on, Some(today));

        // A sibling joins the existing family.
        a.admission_no = "DS-0101".into();
        a.family = AdmitInto::Existing(f.family);
        let sib = admit_student(&mut f.store, &a).unwrap();
        let s: synced::Student =
            serde_json::from_value(f.store.row("students", &sib.to_string()).unwrap().unwrap())
                .unwrap();
        assert_eq!(s.family_id, f.family);
        assert_eq!(queued(&mut f.store), 2);
    }
}
