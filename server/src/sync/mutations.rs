//! The v1 mutations a device may push (ARCHITECTURE.md §6), each applied through the same service
//! function as its REST endpoint, so a pushed op and a REST call obey the same rules.

use chrono::{DateTime, Utc};
use daftar_client_core::protocol::sync::{
    AdmitStudentArgs, FieldConflict, FieldEdit, GrantDiscountArgs, MarkRegisterArgs,
    RegisterMarked, ReversePaymentArgs, SyncOp, UpdateRecordArgs, ATTENDANCE_MARK_REGISTER,
    ATTENDANCE_OVERRIDE, DISCOUNT_GRANT, GUARDIAN_UPDATE, PAYMENT_RECORD, PAYMENT_REVERSE,
    STUDENT_ADMIT, STUDENT_UPDATE,
};
use daftar_client_core::protocol::{
    RecordPaymentRequest, Role, Student, UpdateGuardianRequest, UpdateStudentRequest,
};
use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::attendance::registers::{mark_registers, RegisterMarking};
use crate::attendance::service as attendance;
use crate::audit::Actor;
use crate::auth::AuthUser;
use crate::errors::{ApiError, ApiResult};
use crate::ledger::adjustments;
use crate::ledger::payments::{self as ledger, Recorded};
use crate::roster::{repo, service as roster};

/// What applying one op produced: its result, and field edits that lost to the server.
pub struct Applied {
    pub result: Value,
    pub conflicts: Vec<FieldConflict>,
}

fn args<T: DeserializeOwned>(v: &Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "args".to_string()
        } else {
            format!("args.{path}")
        };
        ApiError::validation(field, e.into_inner().to_string())
    })
}

fn json<T: Serialize>(v: &T) -> ApiResult<Value> {
    serde_json::to_value(v).map_err(|e| ApiError::Internal(e.into()))
}

/// Applies `mutation` with `args` as `auth`'s device, inside the caller's transaction.
/// `device_time` is when the op was made on the device (clamped to the server's clock): the
/// attendance edit window is judged by when the teacher marked, not when the phone got signal.
///
/// Errors: the service's own (validation, 403, 404, 409), which the push records as a
/// rejection; validation naming `mutation` for an unknown name@version.
pub fn apply(
    conn: &mut PgConnection,
    auth: &AuthUser,
    mutation: &str,
    raw: &Value,
    device_time: DateTime<Utc>,
) -> ApiResult<Applied> {
    let actor = Actor::from(auth);
    let school_id = auth.school_id;
    let plain = |result: Value| Applied {
        result,
        conflicts: Vec::new(),
    };
    match mutation {
        PAYMENT_RECORD => {
            let req = payment_args(auth, raw)?;
            let payment = match ledger::record_payment(conn, school_id, actor, &req)? {
                Recorded::New(p) | Recorded::Replayed(p) => p,
            };
            Ok(plain(json(&payment)?))
        }
        PAYMENT_REVERSE => {
            auth.require_office()?;
            let a: ReversePaymentArgs = args(raw)?;
            let r = adjustments::reverse_payment(conn, school_id, actor, a.payment_id, &a.reason)?;
            Ok(plain(json(&r)?))
        }
        DISCOUNT_GRANT => {
            auth.require_office()?;
            let a: GrantDiscountArgs = args(raw)?;
            let d = adjustments::grant_discount(
                conn,
                school_id,
                actor,
                a.invoice_line_id,
                &a.discount,
            )?;
            Ok(plain(json(&d)?))
        }
        ATTENDANCE_MARK_REGISTER | ATTENDANCE_OVERRIDE => {
            let a = mark_args(auth, mutation, raw)?;
            let now = device_time.min(Utc::now());
            let r = attendance::mark_register(conn, auth, a.class_id, a.on_date, &a.register, now)?;
            Ok(plain(json(&RegisterMarked::from(&r))?))
        }
        STUDENT_UPDATE => {
            auth.require_office()?;
            let a: UpdateRecordArgs = args(raw)?;
            let current = repo::student(conn, school_id, a.id)
                .optional()?
                .ok_or(ApiError::NotFound("student"))?;
            let (req, conflicts) = merge::<UpdateStudentRequest, _>(&current, &a)?;
            let after = roster::update_student(conn, auth, a.id, req)?;
            Ok(Applied {
                result: json(&Student::from(after))?,
                conflicts,
            })
        }
        GUARDIAN_UPDATE => {
            auth.require_office()?;
            let a: UpdateRecordArgs = args(raw)?;
            let current = repo::guardian(conn, school_id, a.id)
                .optional()?
                .ok_or(ApiError::NotFound("guardian"))?;
            let (req, conflicts) = merge::<UpdateGuardianRequest, _>(&current, &a)?;
            let after = roster::update_guardian(conn, auth, a.id, req)?;
            Ok(Applied {
                result: json(&daftar_client_core::protocol::Guardian::from(after))?,
                conflicts,
            })
        }
        STUDENT_ADMIT => {
            auth.require_office()?;
            let a: AdmitStudentArgs = args(raw)?;
            admit(conn, auth, &a).map(plain)
        }
        other => Err(ApiError::validation(
            "mutation",
            format!("`{other}` is not a v1 mutation"),
        )),
    }
}

fn payment_args(auth: &AuthUser, raw: &Value) -> ApiResult<RecordPaymentRequest> {
    auth.require_office()?;
    args(raw)
}

/// Applies a run of `payment.record@1` ops as one batch with
/// [`crate::ledger::payments::record_payments`]: the same rules and results as [`apply`] op by
/// op, in a handful of statements for the whole run.
///
/// Returns one result per op, in order (an op's own refusal is its `Err`); the outer error is a
/// database failure of the batch as a whole.
pub fn apply_payments(
    conn: &mut PgConnection,
    auth: &AuthUser,
    ops: &[&SyncOp],
) -> ApiResult<Vec<ApiResult<Applied>>> {
    let parsed: Vec<ApiResult<RecordPaymentRequest>> =
        ops.iter().map(|op| payment_args(auth, &op.args)).collect();
    let reqs: Vec<RecordPaymentRequest> = parsed
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    let mut recorded =
        crate::ledger::payments::record_payments(conn, auth.school_id, Actor::from(auth), &reqs)?
            .into_iter();
    Ok(parsed
        .into_iter()
        .map(|p| {
            p?;
            match recorded.next() {
                Some(Ok(Recorded::New(p) | Recorded::Replayed(p))) => Ok(Applied {
                    result: json(&p)?,
                    conflicts: Vec::new(),
                }),
                Some(Err(e)) => Err(e),
                None => Err(ApiError::Internal(anyhow::anyhow!(
                    "the payment batch returned too few results"
                ))),
            }
        })
        .collect())
}

/// Applies a run of `attendance.mark_register@1` / `attendance.override@1` ops as one batch
/// with [`crate::attendance::registers::mark_registers`]: the same rules and results as
/// [`apply`] op by op (two ops on one register apply one after the other).
///
/// Returns one result per op, in order (an op's own refusal is its `Err`); the outer error is a
/// database failure of the batch as a whole.
pub fn apply_marks(
    conn: &mut PgConnection,
    auth: &AuthUser,
    ops: &[&SyncOp],
) -> ApiResult<Vec<ApiResult<Applied>>> {
    let parsed: Vec<ApiResult<MarkRegisterArgs>> = ops
        .iter()
        .map(|op| mark_args(auth, &op.mutation, &op.args))
        .collect();
    let now = Utc::now();
    let items: Vec<RegisterMarking<'_>> = parsed
        .iter()
        .zip(ops)
        .filter_map(|(a, op)| {
            a.as_ref().ok().map(|a| RegisterMarking {
                class_id: a.class_id,
                on_date: a.on_date,
                request: &a.register,
                at: op.created_at.min(now),
            })
        })
        .collect();
    let mut marked = mark_registers(conn, auth, &items)?.into_iter();
    drop(items);
    Ok(parsed
        .into_iter()
        .map(|a| {
            a?;
            match marked.next() {
                Some(r) => Ok(Applied {
                    result: json(&RegisterMarked::from(&r?))?,
                    conflicts: Vec::new(),
                }),
                None => Err(ApiError::Internal(anyhow::anyhow!(
                    "the register batch returned too few results"
                ))),
            }
        })
        .collect())
}

/// The args of an attendance op, after the role rules of its mutation: an override is the
/// office's and needs a reason; a register may be marked by the office or a teacher.
fn mark_args(auth: &AuthUser, mutation: &str, raw: &Value) -> ApiResult<MarkRegisterArgs> {
    let a: MarkRegisterArgs = args(raw)?;
    if mutation == ATTENDANCE_OVERRIDE {
        auth.require_office()?;
        if a.register
            .reason
            .as_deref()
            .is_none_or(|r| r.trim().is_empty())
        {
            return Err(ApiError::validation(
                "args.reason",
                "an office override needs a reason",
            ));
        }
    } else {
        auth.require(&[Role::Admin, Role::Accountant, Role::Teacher])?;
    }
    Ok(a)
}

/// Field-level three-way merge (ARCHITECTURE.md §6 "Conflicts"): a field is applied when the
/// server's value still equals the edit's `base` (or already equals the new value); otherwise
/// the server value stays and the clash is returned. Unknown fields are a validation error
/// naming `args.fields.<name>`.
fn merge<R: DeserializeOwned, Row: Serialize>(
    current: &Row,
    a: &UpdateRecordArgs,
) -> ApiResult<(R, Vec<FieldConflict>)> {
    let server = json(current)?;
    let mut take = Map::new();
    let mut conflicts = Vec::new();
    for (field, FieldEdit { base, value }) in &a.fields {
        let Some(now) = server.get(field) else {
            return Err(ApiError::validation(
                format!("args.fields.{field}"),
                "not a field of this record",
            ));
        };
        if now == base || now == value {
            take.insert(field.clone(), value.clone());
        } else {
            conflicts.push(FieldConflict {
                field: field.clone(),
                base_value: base.clone(),
                server_value: now.clone(),
                losing_value: value.clone(),
            });
        }
    }
    let req = serde_path_to_error::deserialize(Value::Object(take)).map_err(|e| {
        ApiError::validation(
            format!("args.fields.{}", e.path()),
            e.into_inner().to_string(),
        )
    })?;
    Ok((req, conflicts))
}

/// `student.admit@1`: the new family (if any), the student, and the enrolment, in the op's
/// transaction. Replaying an admission whose student already exists returns it unchanged.
fn admit(conn: &mut PgConnection, auth: &AuthUser, a: &AdmitStudentArgs) -> ApiResult<Value> {
    let school_id = auth.school_id;
    let actor = Actor::from(auth);
    let Some(student_id) = a.student.id else {
        return Err(ApiError::validation(
            "args.student.id",
            "an offline admission carries the id made on the device",
        ));
    };
    if let Some(existing) = repo::student(conn, school_id, student_id).optional()? {
        return json(&Student::from(existing));
    }
    let family = match (&a.new_family, a.student.family_id) {
        (Some(f), Some(id)) if id != f.id => {
            return Err(ApiError::validation(
                "args.student.family_id",
                "must name new_family when the admission brings one",
            ))
        }
        (Some(f), _) => roster::AdmissionFamily::New {
            id: f.id,
            name: f.name.clone(),
        },
        (None, Some(id)) => roster::AdmissionFamily::Existing(id),
        (None, None) => {
            return Err(ApiError::validation(
                "args.student.family_id",
                "an offline admission names its family (an existing one, or new_family)",
            ))
        }
    };
    let row = roster::admit_student(
        conn,
        school_id,
        actor,
        &roster::Admission {
            student_id,
            student: &a.student,
            family,
            class_id: a.class_id,
            enrolled_on: a.enrolled_on,
            fields: roster::AdmissionFields::SYNC,
        },
    )?;
    json(&Student::from(row))
}
