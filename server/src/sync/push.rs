//! `push`: exactly-once application of a client's op batch (ARCHITECTURE.md §6).
//!
//! A batch runs in transactions of [`COMMIT_EVERY`] ops, each op inside its own savepoint, and
//! each op's `applied_ops` row is written in the same transaction as its effects. So after any crash the
//! server has either an op's effects *and* its record, or neither, and a retry replays the
//! record instead of applying twice.

use chrono::Utc;
use daftar_client_core::protocol::sync::{OpOutcome, OpStatus, PushRequest, PushResponse, SyncOp};
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

/// A failure that says nothing about the op itself (database unavailable, deadlock, a bug):
/// the batch stops there and the client retries later, keeping order.
fn is_transient(e: &ApiError) -> bool {
    matches!(e, ApiError::Unavailable | ApiError::Internal(_))
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
    if req.ops.len() > MAX_BATCH {
        return Err(ApiError::validation(
            "ops",
            format!("at most {MAX_BATCH} ops per push"),
        ));
    }
    let mut results = Vec::with_capacity(req.ops.len());
    let mut next_seq = 0;
    for chunk in req.ops.chunks(COMMIT_EVERY) {
        let first_chunk = results.is_empty();
        let end = conn
            .transaction(|conn| push_chunk(conn, auth, device, req.client_id, chunk, &mut results));
        match end {
            Ok((seq, ChunkEnd::Continue)) => next_seq = seq,
            Ok((seq, ChunkEnd::Stop { retry_after_secs })) => {
                return Ok(PushResponse {
                    results,
                    next_seq: seq,
                    retry_after_secs,
                })
            }
            Err(e) if first_chunk || !is_transient(&e) => return Err(e),
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
/// committing every few ops keeps the rows every payment of a device updates (its receipt
/// series, that row's change-log entry) from growing long version chains inside one huge
/// transaction.
pub const COMMIT_EVERY: usize = 25;

/// An op decided in this chunk (with its request hash), or `None` for a replay.
type NewOp<'a> = Option<(&'a SyncOp, Vec<u8>)>;

enum ChunkEnd {
    Continue,
    Stop { retry_after_secs: Option<u64> },
}

/// One transaction's worth of ops; returns the next expected seq and whether to go on.
fn push_chunk(
    conn: &mut PgConnection,
    auth: &AuthUser,
    device: &DeviceRow,
    client_id: Uuid,
    ops: &[SyncOp],
    results: &mut Vec<OpOutcome>,
) -> ApiResult<(i64, ChunkEnd)> {
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
    let mut end = ChunkEnd::Continue;
    // Outcomes in op order; new ones are recorded at the end, once the version is known.
    let mut decided: Vec<(NewOp<'_>, OpOutcome)> = Vec::new();
    for op in ops {
        let hash = op_hash(op);
        let stored: Option<(Vec<u8>, Value)> = applied_ops::table
            .find((auth.school_id, op.op_id))
            .select((applied_ops::request_hash, applied_ops::result))
            .first(conn)
            .optional()?;
        if let Some((stored_hash, outcome)) = stored {
            if stored_hash != hash {
                return Err(ApiError::Conflict {
                    code: "op_id_reused",
                    detail: format!("op {} was already pushed with a different body", op.op_id),
                });
            }
            let mut outcome: OpOutcome =
                serde_json::from_value(outcome).map_err(|e| ApiError::Internal(e.into()))?;
            outcome.replayed = true;
            outcome.seq = op.seq;
            if op.seq == last_seq + 1 {
                last_seq = op.seq;
            }
            decided.push((None, outcome));
            continue;
        }
        if op.seq != last_seq + 1 {
            if results.is_empty() && decided.is_empty() {
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
        let applied = conn.transaction(|conn| {
            mutations::apply(conn, auth, &op.mutation, &op.args, op.created_at)
        });
        let outcome = match applied {
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
            Err(e) if is_transient(&e) => {
                tracing::warn!(op_id = %op.op_id, error = %e, "push stopped by a transient failure");
                if results.is_empty() && decided.is_empty() {
                    return Err(e);
                }
                end = ChunkEnd::Stop {
                    retry_after_secs: Some(1),
                };
                break;
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
        };
        last_seq = op.seq;
        decided.push((Some((op, hash)), outcome));
    }
    // The chunk's version, taken last (the lock is held only until this COMMIT).
    let version = super::take_version(conn, auth.school_id)?;
    for (new, mut outcome) in decided {
        if let Some((op, hash)) = new {
            if outcome.status != OpStatus::Rejected {
                outcome.version = Some(version);
            }
            record(conn, auth, device, client_id, op, hash, &outcome)?;
        }
        results.push(outcome);
    }
    diesel::update(sync_clients::table.find((auth.school_id, client_id)))
        .set(sync_clients::last_seq.eq(last_seq))
        .execute(conn)?;
    Ok((last_seq + 1, end))
}

fn record(
    conn: &mut PgConnection,
    auth: &AuthUser,
    device: &DeviceRow,
    client_id: Uuid,
    op: &SyncOp,
    hash: Vec<u8>,
    outcome: &OpOutcome,
) -> ApiResult<()> {
    let status = match outcome.status {
        OpStatus::Applied => "applied",
        OpStatus::Rejected => "rejected",
        OpStatus::Conflict => "conflict",
    };
    diesel::insert_into(applied_ops::table)
        .values((
            applied_ops::school_id.eq(auth.school_id),
            applied_ops::op_id.eq(op.op_id),
            applied_ops::client_id.eq(client_id),
            applied_ops::device_id.eq(device.id),
            applied_ops::seq.eq(op.seq),
            applied_ops::mutation.eq(&op.mutation),
            applied_ops::request_hash.eq(hash),
            applied_ops::status.eq(status),
            applied_ops::version.eq(outcome.version),
            applied_ops::result
                .eq(serde_json::to_value(outcome).map_err(|e| ApiError::Internal(e.into()))?),
            applied_ops::args.eq(&op.args),
            applied_ops::device_created_at.eq(op.created_at),
            applied_ops::applied_at.eq(Utc::now()),
        ))
        .execute(conn)?;
    for c in &outcome.conflicts {
        let row_id = op
            .args
            .get("id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<Uuid>().ok())
            .unwrap_or_default();
        diesel::insert_into(sync_conflicts::table)
            .values((
                sync_conflicts::school_id.eq(auth.school_id),
                sync_conflicts::id.eq(Uuid::now_v7()),
                sync_conflicts::op_id.eq(op.op_id),
                sync_conflicts::entity.eq(op.mutation.split('.').next().unwrap_or("")),
                sync_conflicts::row_id.eq(row_id),
                sync_conflicts::field.eq(&c.field),
                sync_conflicts::base_value.eq(&c.base_value),
                sync_conflicts::server_value.eq(&c.server_value),
                sync_conflicts::losing_value.eq(&c.losing_value),
            ))
            .execute(conn)?;
    }
    Ok(())
}
