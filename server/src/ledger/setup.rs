//! The school's fee setup (ARCHITECTURE.md §4): fee heads with their income accounts, fee
//! schedules (what a class pays for a head in a term, and when), and accounts added to the
//! chart. Each function is one logical change with its audit row; the caller gives the
//! transaction.

use chrono::Utc;
use daftar_client_core::protocol::{
    CreateAccountRequest, CreateFeeHeadRequest, CreateFeeScheduleRequest,
};
use diesel::prelude::*;
use uuid::Uuid;

use super::limits;
use super::models::{AccountRow, FeeHeadRow, FeeScheduleRow};
use super::repo;
use crate::audit::{Actor, AuditEntry};
use crate::errors::{ApiError, ApiResult};
use crate::schema::{accounts, classes, fee_heads, fee_schedules, terms};
use crate::validate;

/// Creates fee head `req.name` (1–100 characters) with its own "Fee Income — <name>" income
/// account.
///
/// Errors: 422 `validation_failed` naming `name`; 409 `already_exists` for a name the school
/// has.
pub fn create_fee_head(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    req: &CreateFeeHeadRequest,
) -> ApiResult<FeeHeadRow> {
    let name = validate::text("name", &req.name, 100)?;
    let id = req.id.unwrap_or_else(Uuid::now_v7);
    let row = repo::create_fee_head(conn, school_id, id, &name)?;
    AuditEntry::new(school_id, actor, "fee_head", row.id).created(conn, &row)?;
    Ok(row)
}

/// Sets what class `req.class_id` pays for fee head `req.fee_head_id` in term `req.term_id`
/// (`amount` in minor units of the school's currency, within the school's money limit) and
/// the date it falls due.
///
/// Errors: 422 naming `amount`, `term_id`, `class_id` or `fee_head_id` (not of this school);
/// 409 for a schedule that exists.
pub fn create_fee_schedule(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    req: &CreateFeeScheduleRequest,
) -> ApiResult<FeeScheduleRow> {
    limits::check_amount(
        "amount",
        req.amount,
        crate::tenancy::max_amount(conn, school_id)?,
    )?;
    let exists = |n: i64, field: &str, what: &str| {
        if n == 0 {
            Err(ApiError::validation(
                field,
                format!("no such {what} in this school"),
            ))
        } else {
            Ok(())
        }
    };
    exists(
        terms::table
            .find((school_id, req.term_id))
            .count()
            .get_result(conn)?,
        "term_id",
        "term",
    )?;
    exists(
        classes::table
            .find((school_id, req.class_id))
            .count()
            .get_result(conn)?,
        "class_id",
        "class",
    )?;
    exists(
        fee_heads::table
            .find((school_id, req.fee_head_id))
            .count()
            .get_result(conn)?,
        "fee_head_id",
        "fee head",
    )?;
    let row = FeeScheduleRow {
        school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        term_id: req.term_id,
        class_id: req.class_id,
        fee_head_id: req.fee_head_id,
        amount: req.amount,
        due_on: req.due_on,
        created_at: Utc::now(),
    };
    diesel::insert_into(fee_schedules::table)
        .values(&row)
        .execute(conn)?;
    AuditEntry::new(school_id, actor, "fee_schedule", row.id).created(conn, &row)?;
    Ok(row)
}

/// Adds an account to the school's chart: `code` 1–20 letters, digits, `.` or `-`; `kind`
/// one of asset, liability, equity, income, contra_income, expense; `name` 1–200 characters.
///
/// Errors: 422 naming `code`, `kind` or `name`; 409 for a code the chart has.
pub fn create_account(
    conn: &mut PgConnection,
    school_id: Uuid,
    actor: Actor,
    req: &CreateAccountRequest,
) -> ApiResult<AccountRow> {
    let code = req.code.trim().to_string();
    if code.is_empty()
        || code.len() > 20
        || !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(ApiError::validation(
            "code",
            "must be 1 to 20 letters, digits, . or -",
        ));
    }
    if !matches!(
        req.kind.as_str(),
        "asset" | "liability" | "equity" | "income" | "contra_income" | "expense"
    ) {
        return Err(ApiError::validation(
            "kind",
            "must be asset, liability, equity, income, contra_income or expense",
        ));
    }
    let row = AccountRow {
        school_id,
        id: req.id.unwrap_or_else(Uuid::now_v7),
        code,
        name: validate::text("name", &req.name, 200)?,
        kind: req.kind.clone(),
        system_key: None,
        active: true,
        created_at: Utc::now(),
    };
    repo::ensure_chart(conn, school_id)?;
    diesel::insert_into(accounts::table)
        .values(&row)
        .execute(conn)?;
    AuditEntry::new(school_id, actor, "account", row.id).created(conn, &row)?;
    Ok(row)
}
