//! `push`: exactly-once application of a client's op batch (ARCHITECTURE.md §6).
//!
//! A batch runs in transactions of [`COMMIT_EVERY`] ops, and each op's `applied_ops` row is
//! written in the same transaction as its effects. So after any crash the server has either an
//! op's effects *and* its record, or neither, and a retry replays the record instead of
//! applying twice. Within a transaction, payments are recorded as one batch and register marks
//! as another (each in a savepoint; a batch refused as a whole is re-applied op by op, each in
//! its own savepoint, so only the op at fault is rejected); every other op runs alone in its
//! own savepoint, in seq order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use daftar_client_core::protocol::sync::{
    OpOutcome, OpStatus, PushRequest, PushResponse, SyncOp, ATTENDANCE_MARK_REGISTER,
    ATTENDANCE_OVERRIDE, PAYMENT_RECORD,
};
use diesel::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::devices::DeviceRow;
use super::mutations;
use crate::auth::AuthUser;
use crate::errors::{ApiError, ApiResult};
use crate::schema::{applied_ops, sync_clients, sync_conflicts};

/// Most ops one push may carry.
pub const MAX_BATCH: usize = 1000;

/// SHA-256 of what makes two sends "the same op": mutation, args and base version (not the
/// client or seq, which change when a salvaged outbox is re-sent from a new client).
pub fn op_hash(op: &SyncOp) -> Vec<u8> {
    let body = serde_json::json!([op.mutation, op.args, op.base_version]);
    Sha256::digest(serde_json::to_vec(&body).unwrap_or_default()).to_vec()
}

/// Applies `req`'s ops in seq order as `device`.
///
/// Errors: 409 `seq_gap` (detail names the expected seq) when the first new op is not the next
/// seq; 409 `op_id_reused` when a known op id arrives with a different body; 403
/// `client_not_yours`; 503 when the very first op hits a transient failure.
pub fn push(
    conn: &mut PgConnection,
    auth: &AuthUser,
    device: &DeviceRow,
    req: &PushRequest,
) -> ApiResult<PushResponse> {
    push_with(conn, auth, device, req, Application::Batched)
}

/// How a push applies the new ops of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Application {
    /// Payments and register marks between two other ops as one batch each (what [`push`]
    /// does).
    Batched,
    /// Every op alone in its own savepoint, in seq order: the reference the batched path must
    /// equal row for row (issue #16; `tests/tests/sync/set_based.rs` runs the same random
    /// pushes through both and compares every row of the database).
    OneAtATime,
}

/// [`push`] with the application chosen; same shapes and errors.
pub fn push_with(
    conn: &mut PgConnection,
    auth: &AuthUser,
    device: &DeviceRow,
    req: &PushRequest,
    application: Application,
) -> ApiResult<PushResponse> {
    if req.ops.len() > MAX_BATCH {
        return Err(ApiError::validation(
            "ops",
            format!("at most {MAX_BATCH} ops per push"),
        ));
    }
    let started = std::time::Instant::now();
    let resp = push_chunks(conn, auth, device, req, application)?;
    tracing::info!(
        ops = req.ops.len(),
        decided = resp.results.len(),
        next_seq = resp.next_seq,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "push applied"
    );
    Ok(resp)
}

/// [`push`] without the summary log line.
fn push_chunks(
    conn: &mut PgConnection,
    auth: &AuthUser,
    device: &DeviceRow,
    req: &PushRequest,
    application: Application,
) -> ApiResult<PushResponse> {
    let mut results = Vec::with_capacity(req.ops.len());
    let mut next_seq = 0;
    for chunk in req.ops.chunks(COMMIT_EVERY) {
        let first_chunk = results.is_empty();
        let end = conn.transaction(|conn| {
            push_chunk(
                conn,
                auth,
                device,
                req.client_id,
                chunk,
                application,
                &mut results,
            )
        });
        match end {
            Ok((seq, ChunkEnd::Continue)) => next_seq = seq,
            Ok((seq, ChunkEnd::Stop { retry_after_secs })) => {
                return Ok(PushResponse {
                    results,
                    next_seq: seq,
                    retry_after_secs,
                })
            }
            Err(e) if first_chunk || !e.is_transient() => return Err(e),
            // A later chunk failed transiently as a whole: what committed stands.
            Err(_) => {
                return Ok(PushResponse {
                    results,
                    next_seq,
                    retry_after_secs: Some(1),
                })
            }
        }
    }
    Ok(PushResponse {
        results,
        next_seq,
        retry_after_secs: None,
    })
}

/// Ops per transaction within a push. Each op is still atomic with its `applied_ops` record;
/// a chunk's payments are recorded with one batched write (one receipt-series update), and its
/// register marks likewise, so a chunk as large as a client's batch keeps every row it
/// updates to one new version.
pub const COMMIT_EVERY: usize = 500;

enum ChunkEnd {
    Continue,
    Stop { retry_after_secs: Option<u64> },
}

/// One op of a chunk: replayed from its stored outcome, or new and decided in this chunk.
struct Slot<'a> {
    op: &'a SyncOp,
    hash: Vec<u8>,
    new: bool,
    outcome: Option<OpOutcome>,
}

/// How an op is applied within a chunk. Payments only touch the ledger and register marks only
/// attendance, so between two other ops ("barriers") all payments are recorded as one batch and
/// all marks as another, each in seq order; every other op is applied alone, in seq order,
/// after everything before it.
#[derive(PartialEq)]
enum Lane {
    Payment,
    Attendance,
    Barrier,
}

fn lane(mutation: &str) -> Lane {
    match mutation {
        PAYMENT_RECORD => Lane::Payment,
        ATTENDANCE_MARK_REGISTER | ATTENDANCE_OVERRIDE => Lane::Attendance,
        _ => Lane::Barrier,
    }
}

/// One transaction's worth of ops; returns the next expected seq and whether to go on.
///
/// A transient failure anywhere aborts the chunk: its transaction rolls back whole, so the
/// committed ops are always a prefix of the client's seq order.
fn push_chunk(
    conn: &mut PgConnection,
    auth: &AuthUser,
    device: &DeviceRow,
    client_id: Uuid,
    ops: &[SyncOp],
    application: Application,
    results: &mut Vec<OpOutcome>,
) -> ApiResult<(i64, ChunkEnd)> {
    // Registered with the school before the first write, so that a chunk (hundreds of
    // milliseconds) never holds other schools' feeds back (`feed`, "long transaction").
    super::feed::register_writer(conn, auth.school_id)?;
    let client: Option<(Uuid, i64)> = sync_clients::table
        .find((auth.school_id, client_id))
        .select((sync_clients::device_id, sync_clients::last_seq))
        .for_update()
        .first(conn)
        .optional()?;
    let mut last_seq = match client {
        Some((d, s)) if d == device.id => s,
        _ => {
            return Err(ApiError::Refused {
                code: "client_not_yours",
                detail: format!("client {client_id} does not belong to this device"),
            })
        }
    };
    // The chunk's version: its transaction id, which every row it logs carries (`feed`).
    let version = super::feed::commit_version(conn)?;
    let ids: Vec<Uuid> = ops.iter().map(|o| o.op_id).collect();
    let mut stored: HashMap<Uuid, (Vec<u8>, Value)> = applied_ops::table
        .filter(applied_ops::school_id.eq(auth.school_id))
        .filter(applied_ops::op_id.eq_any(&ids))
        .select((
            applied_ops::op_id,
            applied_ops::request_hash,
            applied_ops::result,
        ))
        .load::<(Uuid, Vec<u8>, Value)>(conn)?
        .into_iter()
        .map(|(id, h, r)| (id, (h, r)))
        .collect();
    let mut end = ChunkEnd::Continue;
    let mut slots: Vec<Slot<'_>> = Vec::with_capacity(ops.len());
    let mut seen: HashMap<Uuid, usize> = HashMap::new();
    for op in ops {
        let hash = op_hash(op);
        if let Some((stored_hash, outcome)) = stored.remove(&op.op_id) {
            if stored_hash != hash {
                return Err(reused(op));
            }
            let mut outcome: OpOutcome =
                serde_json::from_value(outcome).map_err(|e| ApiError::Internal(e.into()))?;
            outcome.replayed = true;
            outcome.seq = op.seq;
            if op.seq == last_seq + 1 {
                last_seq = op.seq;
            }
            seen.insert(op.op_id, slots.len());
            slots.push(Slot {
                op,
                hash,
                new: false,
                outcome: Some(outcome),
            });
            continue;
        }
        if let Some(&j) = seen.get(&op.op_id) {
            // The same op twice in one push: the second is a replay of the first.
            if slots[j].hash != hash {
                return Err(reused(op));
            }
            if op.seq == last_seq + 1 {
                last_seq = op.seq;
            }
            slots.push(Slot {
                op,
                hash,
                new: false,
                outcome: None,
            });
            continue;
        }
        if op.seq != last_seq + 1 {
            if results.is_empty() && slots.is_empty() {
                return Err(ApiError::Conflict {
                    code: "seq_gap",
                    detail: format!(
                        "expected seq {} from client {client_id}, got {}",
                        last_seq + 1,
                        op.seq
                    ),
                });
            }
            end = ChunkEnd::Stop {
                retry_after_secs: None,
            };
            break;
        }
        last_seq = op.seq;
        seen.insert(op.op_id, slots.len());
        slots.push(Slot {
            op,
            hash,
            new: true,
            outcome: None,
        });
    }

    // Apply the new ops: payments and marks gathered between barriers, barriers alone.
    let mut payments: Vec<usize> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    for i in 0..slots.len() {
        if !slots[i].new {
            continue;
        }
        let lane = match application {
            Application::Batched => lane(&slots[i].op.mutation),
            Application::OneAtATime => Lane::Barrier,
        };
        match lane {
            Lane::Payment => payments.push(i),
            Lane::Attendance => marks.push(i),
            Lane::Barrier => {
                flush(conn, auth, &mut slots, &mut payments, &mut marks)?;
                let outcome = apply_one(conn, auth, slots[i].op)?;
                slots[i].outcome = Some(outcome);
            }
        }
    }
    flush(conn, auth, &mut slots, &mut payments, &mut marks)?;

    let mut records = Vec::new();
    let mut conflicts = Vec::new();
    let mut outcomes = Vec::with_capacity(slots.len());
    for slot in slots.iter_mut() {
        let outcome = match slot.outcome.take() {
            Some(mut o) => {
                if slot.new {
                    if o.status != OpStatus::Rejected {
                        o.version = Some(version);
                    }
                    records.push(record(auth, device, client_id, slot, &o)?);
                    conflicts.extend(conflict_rows(auth, slot.op, &o));
                }
                o
            }
            None => {
                // A repeat of an op earlier in this push.
                let first = seen
                    .get(&slot.op.op_id)
                    .and_then(|&j| outcomes.get(j))
                    .cloned()
                    .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("op left undecided")))?;
                OpOutcome {
                    replayed: true,
                    seq: slot.op.seq,
                    ..first
                }
            }
        };
        outcomes.push(outcome);
    }
    for chunk in records.chunks(1000) {
        diesel::insert_into(applied_ops::table)
            .values(chunk)
            .execute(conn)?;
    }
    if !conflicts.is_empty() {
        diesel::insert_into(sync_conflicts::table)
            .values(&conflicts)
            .execute(conn)?;
    }
    diesel::update(sync_clients::table.find((auth.school_id, client_id)))
        .set(sync_clients::last_seq.eq(last_seq))
        .execute(conn)?;
    results.extend(outcomes);
    Ok((last_seq + 1, end))
}

fn reused(op: &SyncOp) -> ApiError {
    ApiError::Conflict {
        code: "op_id_reused",
        detail: format!("op {} was already pushed with a different body", op.op_id),
    }
}

/// Applies the gathered payments, then the gathered marks (they touch disjoint tables, so
/// their relative order does not matter; within each, seq order is kept).
fn flush(
    conn: &mut PgConnection,
    auth: &AuthUser,
    slots: &mut [Slot<'_>],
    payments: &mut Vec<usize>,
    marks: &mut Vec<usize>,
) -> ApiResult<()> {
    for (lane_ops, batch) in [
        (std::mem::take(payments), Lane::Payment),
        (std::mem::take(marks), Lane::Attendance),
    ] {
        if lane_ops.is_empty() {
            continue;
        }
        let ops: Vec<&SyncOp> = lane_ops.iter().map(|&i| slots[i].op).collect();
        let outcomes = apply_batch(conn, auth, &ops, &batch)?;
        for (i, o) in lane_ops.into_iter().zip(outcomes) {
            slots[i].outcome = Some(o);
        }
    }
    Ok(())
}

/// Applies a lane's ops as one batch inside a savepoint. If the batch as a whole fails for a
/// reason that is not transient (a constraint the batch did not foresee), it is rolled back and
/// its ops are applied one by one, so that only the op at fault is rejected.
fn apply_batch(
    conn: &mut PgConnection,
    auth: &AuthUser,
    ops: &[&SyncOp],
    lane: &Lane,
) -> ApiResult<Vec<OpOutcome>> {
    if ops.len() > 1 {
        let batch = conn.transaction(|conn| match lane {
            Lane::Payment => mutations::apply_payments(conn, auth, ops),
            _ => mutations::apply_marks(conn, auth, ops),
        });
        match batch {
            Ok(results) => {
                return ops
                    .iter()
                    .zip(results)
                    .map(|(op, r)| outcome(op, r))
                    .collect()
            }
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => {
                tracing::info!(error = %e, ops = ops.len(), "batch refused; applying its ops one by one");
            }
        }
    }
    ops.iter().map(|op| apply_one(conn, auth, op)).collect()
}

/// Applies one op in its own savepoint; a refusal becomes a `rejected` outcome, a transient
/// failure aborts the chunk.
fn apply_one(conn: &mut PgConnection, auth: &AuthUser, op: &SyncOp) -> ApiResult<OpOutcome> {
    let applied = conn
        .transaction(|conn| mutations::apply(conn, auth, &op.mutation, &op.args, op.created_at));
    outcome(op, applied)
}

/// The outcome of `op` from what applying it gave; transient failures are passed up.
fn outcome(op: &SyncOp, applied: ApiResult<mutations::Applied>) -> ApiResult<OpOutcome> {
    Ok(match applied {
        Ok(a) => OpOutcome {
            op_id: op.op_id,
            seq: op.seq,
            status: if a.conflicts.is_empty() {
                OpStatus::Applied
            } else {
                OpStatus::Conflict
            },
            replayed: false,
            version: None,
            result: a.result,
            code: None,
            message: None,
            field: None,
            conflicts: a.conflicts,
        },
        Err(e) if e.is_transient() => {
            tracing::warn!(op_id = %op.op_id, error = %e, "push stopped by a transient failure");
            return Err(e);
        }
        Err(e) => {
            let problem = e.problem();
            OpOutcome {
                op_id: op.op_id,
                seq: op.seq,
                status: OpStatus::Rejected,
                replayed: false,
                version: None,
                result: Value::Null,
                code: Some(problem.code),
                message: Some(problem.detail),
                field: problem.field,
                conflicts: Vec::new(),
            }
        }
    })
}

/// An `applied_ops` row.
#[derive(Insertable)]
#[diesel(table_name = applied_ops)]
struct NewAppliedOp {
    school_id: Uuid,
    op_id: Uuid,
    client_id: Uuid,
    device_id: Uuid,
    seq: i64,
    mutation: String,
    request_hash: Vec<u8>,
    status: &'static str,
    version: Option<i64>,
    result: Value,
    args: Value,
    device_created_at: Option<DateTime<Utc>>,
    applied_at: DateTime<Utc>,
}

fn record(
    auth: &AuthUser,
    device: &DeviceRow,
    client_id: Uuid,
    slot: &Slot<'_>,
    outcome: &OpOutcome,
) -> ApiResult<NewAppliedOp> {
    let op = slot.op;
    Ok(NewAppliedOp {
        school_id: auth.school_id,
        op_id: op.op_id,
        client_id,
        device_id: device.id,
        seq: op.seq,
        mutation: op.mutation.clone(),
        request_hash: slot.hash.clone(),
        status: match outcome.status {
            OpStatus::Applied => "applied",
            OpStatus::Rejected => "rejected",
            OpStatus::Conflict => "conflict",
        },
        version: outcome.version,
        result: serde_json::to_value(outcome).map_err(|e| ApiError::Internal(e.into()))?,
        args: op.args.clone(),
        device_created_at: Some(op.created_at),
        applied_at: Utc::now(),
    })
}

/// A `sync_conflicts` row.
#[derive(Insertable)]
#[diesel(table_name = sync_conflicts)]
struct NewConflict {
    school_id: Uuid,
    id: Uuid,
    op_id: Uuid,
    entity: String,
    row_id: Uuid,
    field: String,
    base_value: Option<Value>,
    server_value: Option<Value>,
    losing_value: Option<Value>,
}

fn conflict_rows(auth: &AuthUser, op: &SyncOp, outcome: &OpOutcome) -> Vec<NewConflict> {
    let row_id = op
        .args
        .get("id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<Uuid>().ok())
        .unwrap_or_default();
    outcome
        .conflicts
        .iter()
        .map(|c| NewConflict {
            school_id: auth.school_id,
            id: Uuid::now_v7(),
            op_id: op.op_id,
            entity: op.mutation.split('.').next().unwrap_or("").to_string(),
            row_id,
            field: c.field.clone(),
            base_value: Some(c.base_value.clone()),
            server_value: Some(c.server_value.clone()),
            losing_value: Some(c.losing_value.clone()),
        })
        .collect()
}
