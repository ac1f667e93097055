//! The records and the listener interface that cross the FFI boundary.
//!
//! Conventions on every item:
//! - ids are UUID strings (`"0193…"`), as the server's JSON has them;
//! - money is `i64` minor units (paisa, cents) of the ISO 4217 `currency` beside it — never a
//!   float; format it with the currency's exponent (PKR 2: `150000` is `1,500.00`);
//! - dates (a school day, a due date) are ISO 8601 `YYYY-MM-DD` strings in the school's own
//!   calendar; instants are UniFFI timestamps (UTC; `java.time.Instant`, Swift `Date`, Python
//!   `datetime`).

use std::time::SystemTime;

/// Who is logged in on this device.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct User {
    pub user_id: String,
    pub username: String,
    pub display_name: String,
    /// `admin`, `accountant`, `teacher` or `parent`.
    pub role: String,
    /// The school's login slug.
    pub school: String,
    /// The receipt series of this device (office devices), e.g. `D3`.
    pub device_series: String,
}

/// What one sync pass did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncReport {
    /// Ops sent, and how the server decided them.
    pub pushed: u64,
    pub applied: u64,
    pub rejected: u64,
    pub conflicts: u64,
    /// Rows received from the server.
    pub pulled: u64,
    /// The server version the local copy is now at.
    pub version: i64,
}

/// An edit the server refused (`rejected`) or applied with a field clash (`conflict`): it stays
/// listed until a person dismisses it with `dismiss_rejected_op`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RejectedOp {
    pub op_id: String,
    /// `name@version`, e.g. `attendance.mark_register@1`.
    pub mutation: String,
    /// `rejected` or `conflict`.
    pub status: String,
    /// Stable snake_case reason, e.g. `not_assigned`, `edit_window_closed`.
    pub code: String,
    pub message: String,
    /// The input the reason names, if any.
    pub field: Option<String>,
    /// When the edit was made on the device (its clock).
    pub created_at: SystemTime,
}

/// The state of the outbox and the local copy.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncStatus {
    /// Edits saved on the device and not yet decided by the server.
    pub pending_ops: u64,
    /// When the local copy last finished a pull (UTC); `None` before the first.
    pub last_pull_at: Option<SystemTime>,
    /// Seconds since `last_pull_at` (how stale what the app shows may be).
    pub lag_seconds: Option<u64>,
    /// The server version the local copy is at.
    pub version: i64,
    /// Refused or conflicting edits waiting for a person.
    pub rejected_ops: Vec<RejectedOp>,
    /// The last sync failure (cleared by a successful pass), e.g. "server unreachable: …".
    pub last_error: Option<String>,
    /// True while the background sync loop (`start_sync`) runs.
    pub background_sync: bool,
}

/// A class this device may mark (a teacher's assigned classes).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ClassInfo {
    pub class_id: String,
    /// E.g. `Grade 1-A`.
    pub name: String,
}

/// A student on a roster.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct StudentInfo {
    pub student_id: String,
    pub admission_no: String,
    pub given_name: String,
    pub family_name: String,
    /// "Given Family".
    pub full_name: String,
}

/// An attendance code of the school (ARCHITECTURE.md §5).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AttendanceCode {
    /// E.g. `P`, `A`, `L`.
    pub code: String,
    pub label: String,
    /// `present`, `absent`, `late`, `excused` or `half_day`.
    pub category: String,
}

/// One student's line in a register.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RegisterEntry {
    pub student_id: String,
    pub student_name: String,
    /// The current mark's code, `None` when not marked yet. Includes marks made on this device
    /// that are not synced yet.
    pub code: Option<String>,
    /// `teacher` or `office` (an office override beats a teacher's mark).
    pub source: Option<String>,
}

/// A mark to record: `student_id` gets attendance `code`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Mark {
    pub student_id: String,
    pub code: String,
}

/// A parent's child.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Child {
    pub student_id: String,
    pub family_id: String,
    pub admission_no: String,
    pub full_name: String,
    /// The class the child is enrolled in today, if known.
    pub class_name: Option<String>,
}

/// One invoice line with what is still owing (minor units of the invoice's currency).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct InvoiceLine {
    pub description: String,
    /// `YYYY-MM-DD`.
    pub due_on: String,
    pub amount: i64,
    pub outstanding: i64,
}

/// An invoice of one child for one term.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Invoice {
    pub invoice_id: String,
    pub invoice_no: i64,
    pub student_id: String,
    pub student_name: String,
    /// `YYYY-MM-DD`.
    pub issued_on: String,
    /// ISO 4217.
    pub currency: String,
    /// Minor units.
    pub amount: i64,
    /// Minor units still owing (0 when paid).
    pub outstanding: i64,
    pub lines: Vec<InvoiceLine>,
}

/// A child's share of what the family owes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChildDue {
    pub student_id: String,
    pub full_name: String,
    /// Minor units.
    pub outstanding: i64,
}

/// What one family owes, computed on the device from the last pull with the same rule as the
/// server (`client-core::ledger::family_dues`; ARCHITECTURE.md §4), so it matches the school's
/// family statement to the unit as of `as_of`.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FamilyDues {
    pub family_id: String,
    pub family_name: String,
    /// ISO 4217.
    pub currency: String,
    /// Minor units owing on invoices.
    pub total_outstanding: i64,
    /// Minor units of Family Credit the school holds (advance payments).
    pub credit_balance: i64,
    /// `total_outstanding − credit_balance`: what the family still has to pay (negative = in
    /// credit). Equals the closing balance of the school's family statement.
    pub net_due: i64,
    pub per_child: Vec<ChildDue>,
    /// Invoices with money owing, oldest due first.
    pub invoices: Vec<Invoice>,
    /// When the data behind these figures was last pulled from the server (UTC).
    pub as_of: Option<SystemTime>,
}

/// A payment with its receipt.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Payment {
    pub payment_id: String,
    pub family_id: Option<String>,
    /// E.g. `A-000123`.
    pub receipt_no: String,
    /// Minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    /// `cash`, `bank_transfer`, `cheque`, `card` or `mobile_wallet`.
    pub method: String,
    pub received_at: SystemTime,
    /// Minor units kept as Family Credit.
    pub to_credit: i64,
    /// True while the server has not confirmed it (made on this device, not synced).
    pub pending: bool,
}

/// One day (and period) of a student's attendance.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AttendanceDay {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// 0 = the whole day.
    pub period: i64,
    pub code: String,
    pub label: String,
    pub category: String,
}

/// Implemented by the app to hear about sync. Called on a background thread of the library:
/// hop to the UI thread before touching views. Both calls must return quickly.
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    /// Local data changed (a pull brought rows, or an edit was saved): re-read what is shown.
    fn on_data_changed(&self);
    /// The outbox or sync state changed (pending count, last pull, a failure, a rejection).
    fn on_sync_state_changed(&self, status: SyncStatus);
}
