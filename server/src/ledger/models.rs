//! Row structs of the ledger tables.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::schema::{
    accounts, allocations, fee_heads, fee_schedules, invoice_lines, invoices, journal_entries,
    journal_lines, payments,
};

/// `accounts`: one account of the school's chart.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = accounts)]
pub struct AccountRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub system_key: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// `journal_entries`: the header of one balanced posting.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = journal_entries)]
pub struct JournalEntryRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub entry_no: i64,
    pub kind: String,
    pub occurred_on: NaiveDate,
    pub memo: String,
    pub reverses_entry_id: Option<Uuid>,
    pub posted_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub posted_at: DateTime<Utc>,
}

/// `journal_lines`: positive amount = debit, negative = credit (minor units).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = journal_lines)]
pub struct JournalLineRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub entry_id: Uuid,
    pub line_no: i32,
    pub account_id: Uuid,
    pub amount: i64,
    pub family_id: Option<Uuid>,
    pub student_id: Option<Uuid>,
}

/// `fee_heads`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = fee_heads)]
pub struct FeeHeadRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub income_account_id: Uuid,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// `fee_schedules`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = fee_schedules)]
pub struct FeeScheduleRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub term_id: Uuid,
    pub class_id: Uuid,
    pub fee_head_id: Uuid,
    pub amount: i64,
    pub due_on: NaiveDate,
    pub created_at: DateTime<Utc>,
}

/// `invoices`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = invoices)]
pub struct InvoiceRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub invoice_no: i64,
    pub family_id: Uuid,
    pub student_id: Uuid,
    pub term_id: Uuid,
    pub issued_on: NaiveDate,
    pub journal_entry_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// `invoice_lines`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = invoice_lines)]
pub struct InvoiceLineRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub line_no: i32,
    pub fee_head_id: Uuid,
    pub description: String,
    pub amount: i64,
    pub due_on: NaiveDate,
}

/// `payments`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = payments)]
pub struct PaymentRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub family_id: Option<Uuid>,
    pub amount: i64,
    pub currency: String,
    pub method: String,
    pub reference: Option<String>,
    pub received_at: DateTime<Utc>,
    pub received_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub receipt_no: String,
    pub to_credit: i64,
    pub to_suspense: i64,
    #[serde(skip)]
    pub request_hash: Vec<u8>,
    pub journal_entry_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// `allocations`: money an entry applied to an invoice line.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = allocations)]
pub struct AllocationRow {
    pub school_id: Uuid,
    pub id: Uuid,
    pub journal_entry_id: Uuid,
    pub invoice_line_id: Uuid,
    pub amount: i64,
}
