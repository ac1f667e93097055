//! The rows sync sends (ARCHITECTURE.md §6), declared once: every synced entity
//! ([`SyncEntity`]) and the exact shape of its row image in a pull's [`super::sync::ChangeRow`]
//! (one struct per entity). [`SyncedRow::parse`] is strict — a field missing, of another type,
//! or not declared is an error — so a change to a table's columns fails the test that reads
//! every change-log row the demo writes into these types
//! (`api::schema_rules::every_change_log_row_is_its_synced_type`), instead of silently changing
//! what phones receive. A device reading its replica with `serde_json::from_value` is lenient
//! about fields it does not know, so a newer server adding one does not stop an older phone. Instants are UTC; dates are the school's calendar; money is `i64` minor
//! units of the school's currency.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{AttendanceCategory, DiscountKind, MarkSource, PaymentMethod};

/// A table whose rows the change log carries to devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncEntity {
    AcademicYear,
    Account,
    Allocation,
    AttendanceCode,
    AttendanceMark,
    ClassTeacher,
    Class,
    Discount,
    Enrollment,
    Family,
    FeeHead,
    Fine,
    Guardian,
    InvoiceLine,
    Invoice,
    JournalEntry,
    JournalLine,
    PaymentReversal,
    Payment,
    ReceiptSeries,
    Refund,
    Register,
    School,
    StudentGuardian,
    Student,
    SuspenseResolution,
    Term,
}

impl SyncEntity {
    /// Every synced entity.
    pub const ALL: [SyncEntity; 27] = [
        SyncEntity::AcademicYear,
        SyncEntity::Account,
        SyncEntity::Allocation,
        SyncEntity::AttendanceCode,
        SyncEntity::AttendanceMark,
        SyncEntity::ClassTeacher,
        SyncEntity::Class,
        SyncEntity::Discount,
        SyncEntity::Enrollment,
        SyncEntity::Family,
        SyncEntity::FeeHead,
        SyncEntity::Fine,
        SyncEntity::Guardian,
        SyncEntity::InvoiceLine,
        SyncEntity::Invoice,
        SyncEntity::JournalEntry,
        SyncEntity::JournalLine,
        SyncEntity::PaymentReversal,
        SyncEntity::Payment,
        SyncEntity::ReceiptSeries,
        SyncEntity::Refund,
        SyncEntity::Register,
        SyncEntity::School,
        SyncEntity::StudentGuardian,
        SyncEntity::Student,
        SyncEntity::SuspenseResolution,
        SyncEntity::Term,
    ];

    /// The entity's name on the wire (its table's name), e.g. `attendance_marks`.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncEntity::AcademicYear => "academic_years",
            SyncEntity::Account => "accounts",
            SyncEntity::Allocation => "allocations",
            SyncEntity::AttendanceCode => "attendance_codes",
            SyncEntity::AttendanceMark => "attendance_marks",
            SyncEntity::ClassTeacher => "class_teachers",
            SyncEntity::Class => "classes",
            SyncEntity::Discount => "discounts",
            SyncEntity::Enrollment => "enrollments",
            SyncEntity::Family => "families",
            SyncEntity::FeeHead => "fee_heads",
            SyncEntity::Fine => "fines",
            SyncEntity::Guardian => "guardians",
            SyncEntity::InvoiceLine => "invoice_lines",
            SyncEntity::Invoice => "invoices",
            SyncEntity::JournalEntry => "journal_entries",
            SyncEntity::JournalLine => "journal_lines",
            SyncEntity::PaymentReversal => "payment_reversals",
            SyncEntity::Payment => "payments",
            SyncEntity::ReceiptSeries => "receipt_series",
            SyncEntity::Refund => "refunds",
            SyncEntity::Register => "registers",
            SyncEntity::School => "schools",
            SyncEntity::StudentGuardian => "student_guardians",
            SyncEntity::Student => "students",
            SyncEntity::SuspenseResolution => "suspense_resolutions",
            SyncEntity::Term => "terms",
        }
    }

    /// The entity named `name`, if it is synced.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

impl std::fmt::Display for SyncEntity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A live row of any synced entity, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncedRow {
    AcademicYear(AcademicYear),
    Account(Account),
    Allocation(Allocation),
    AttendanceCode(AttendanceCode),
    AttendanceMark(AttendanceMark),
    ClassTeacher(ClassTeacher),
    Class(Class),
    Discount(Discount),
    Enrollment(Enrollment),
    Family(Family),
    FeeHead(FeeHead),
    Fine(Fine),
    Guardian(Guardian),
    InvoiceLine(InvoiceLine),
    Invoice(Invoice),
    JournalEntry(JournalEntry),
    JournalLine(JournalLine),
    PaymentReversal(PaymentReversal),
    Payment(Payment),
    ReceiptSeries(ReceiptSeries),
    Refund(Refund),
    Register(Register),
    School(School),
    StudentGuardian(StudentGuardian),
    Student(Student),
    SuspenseResolution(SuspenseResolution),
    Term(Term),
}

impl SyncedRow {
    /// Reads `row`, the image of a row of `entity`.
    ///
    /// Errors: the image is not exactly that entity's shape (a field missing, of another type,
    /// or not declared).
    pub fn parse(
        entity: SyncEntity,
        row: serde_json::Value,
    ) -> Result<SyncedRow, serde_json::Error> {
        let given: Vec<String> = row
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let parsed = Self::parse_lenient(entity, row)?;
        let declared = parsed.to_value()?;
        if let Some(undeclared) = given.iter().find(|k| declared.get(k.as_str()).is_none()) {
            return Err(serde::de::Error::custom(format!(
                "field `{undeclared}` is not declared for {entity}"
            )));
        }
        Ok(parsed)
    }

    /// This row as the JSON object the change log carries.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            SyncedRow::AcademicYear(r) => serde_json::to_value(r),
            SyncedRow::Account(r) => serde_json::to_value(r),
            SyncedRow::Allocation(r) => serde_json::to_value(r),
            SyncedRow::AttendanceCode(r) => serde_json::to_value(r),
            SyncedRow::AttendanceMark(r) => serde_json::to_value(r),
            SyncedRow::ClassTeacher(r) => serde_json::to_value(r),
            SyncedRow::Class(r) => serde_json::to_value(r),
            SyncedRow::Discount(r) => serde_json::to_value(r),
            SyncedRow::Enrollment(r) => serde_json::to_value(r),
            SyncedRow::Family(r) => serde_json::to_value(r),
            SyncedRow::FeeHead(r) => serde_json::to_value(r),
            SyncedRow::Fine(r) => serde_json::to_value(r),
            SyncedRow::Guardian(r) => serde_json::to_value(r),
            SyncedRow::InvoiceLine(r) => serde_json::to_value(r),
            SyncedRow::Invoice(r) => serde_json::to_value(r),
            SyncedRow::JournalEntry(r) => serde_json::to_value(r),
            SyncedRow::JournalLine(r) => serde_json::to_value(r),
            SyncedRow::PaymentReversal(r) => serde_json::to_value(r),
            SyncedRow::Payment(r) => serde_json::to_value(r),
            SyncedRow::ReceiptSeries(r) => serde_json::to_value(r),
            SyncedRow::Refund(r) => serde_json::to_value(r),
            SyncedRow::Register(r) => serde_json::to_value(r),
            SyncedRow::School(r) => serde_json::to_value(r),
            SyncedRow::StudentGuardian(r) => serde_json::to_value(r),
            SyncedRow::Student(r) => serde_json::to_value(r),
            SyncedRow::SuspenseResolution(r) => serde_json::to_value(r),
            SyncedRow::Term(r) => serde_json::to_value(r),
        }
    }

    fn parse_lenient(
        entity: SyncEntity,
        row: serde_json::Value,
    ) -> Result<SyncedRow, serde_json::Error> {
        Ok(match entity {
            SyncEntity::AcademicYear => SyncedRow::AcademicYear(serde_json::from_value(row)?),
            SyncEntity::Account => SyncedRow::Account(serde_json::from_value(row)?),
            SyncEntity::Allocation => SyncedRow::Allocation(serde_json::from_value(row)?),
            SyncEntity::AttendanceCode => SyncedRow::AttendanceCode(serde_json::from_value(row)?),
            SyncEntity::AttendanceMark => SyncedRow::AttendanceMark(serde_json::from_value(row)?),
            SyncEntity::ClassTeacher => SyncedRow::ClassTeacher(serde_json::from_value(row)?),
            SyncEntity::Class => SyncedRow::Class(serde_json::from_value(row)?),
            SyncEntity::Discount => SyncedRow::Discount(serde_json::from_value(row)?),
            SyncEntity::Enrollment => SyncedRow::Enrollment(serde_json::from_value(row)?),
            SyncEntity::Family => SyncedRow::Family(serde_json::from_value(row)?),
            SyncEntity::FeeHead => SyncedRow::FeeHead(serde_json::from_value(row)?),
            SyncEntity::Fine => SyncedRow::Fine(serde_json::from_value(row)?),
            SyncEntity::Guardian => SyncedRow::Guardian(serde_json::from_value(row)?),
            SyncEntity::InvoiceLine => SyncedRow::InvoiceLine(serde_json::from_value(row)?),
            SyncEntity::Invoice => SyncedRow::Invoice(serde_json::from_value(row)?),
            SyncEntity::JournalEntry => SyncedRow::JournalEntry(serde_json::from_value(row)?),
            SyncEntity::JournalLine => SyncedRow::JournalLine(serde_json::from_value(row)?),
            SyncEntity::PaymentReversal => SyncedRow::PaymentReversal(serde_json::from_value(row)?),
            SyncEntity::Payment => SyncedRow::Payment(serde_json::from_value(row)?),
            SyncEntity::ReceiptSeries => SyncedRow::ReceiptSeries(serde_json::from_value(row)?),
            SyncEntity::Refund => SyncedRow::Refund(serde_json::from_value(row)?),
            SyncEntity::Register => SyncedRow::Register(serde_json::from_value(row)?),
            SyncEntity::School => SyncedRow::School(serde_json::from_value(row)?),
            SyncEntity::StudentGuardian => SyncedRow::StudentGuardian(serde_json::from_value(row)?),
            SyncEntity::Student => SyncedRow::Student(serde_json::from_value(row)?),
            SyncEntity::SuspenseResolution => {
                SyncedRow::SuspenseResolution(serde_json::from_value(row)?)
            }
            SyncEntity::Term => SyncedRow::Term(serde_json::from_value(row)?),
        })
    }
}

/// `academic_years` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AcademicYear {
    pub school_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `accounts` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub school_id: Uuid,
    pub id: Uuid,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub system_key: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// `allocations` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Allocation {
    pub school_id: Uuid,
    pub id: Uuid,
    pub journal_entry_id: Uuid,
    pub invoice_line_id: Uuid,
    pub amount: i64,
    /// Looked up for devices (not a column of `allocations`).
    #[serde(default)]
    pub family_id: Option<Uuid>,
    /// Looked up for devices (not a column of `allocations`).
    #[serde(default)]
    pub student_id: Option<Uuid>,
}

/// `attendance_codes` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendanceCode {
    pub school_id: Uuid,
    pub id: Uuid,
    pub code: String,
    pub label: String,
    pub category: AttendanceCategory,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// `attendance_marks` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendanceMark {
    pub school_id: Uuid,
    pub register_id: Uuid,
    pub student_id: Uuid,
    pub code_id: Uuid,
    pub source: MarkSource,
    pub reason: Option<String>,
    pub marked_by: Uuid,
    pub device_id: Option<Uuid>,
    pub marked_at: DateTime<Utc>,
    /// Looked up for devices (not a column of `attendance_marks`).
    #[serde(default)]
    pub class_id: Option<Uuid>,
    /// Looked up for devices (not a column of `attendance_marks`).
    #[serde(default)]
    pub on_date: Option<NaiveDate>,
    /// Looked up for devices (not a column of `attendance_marks`).
    #[serde(default)]
    pub period: Option<i16>,
}

/// `class_teachers` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassTeacher {
    pub school_id: Uuid,
    pub class_id: Uuid,
    pub teacher_id: Uuid,
    pub is_primary: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// What the teacher teaches in the class (`None` also for rows logged before it existed).
    #[serde(default)]
    pub subject: Option<String>,
}

/// `classes` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Class {
    pub school_id: Uuid,
    pub id: Uuid,
    pub academic_year_id: Uuid,
    pub term_id: Option<Uuid>,
    pub campus_id: Option<Uuid>,
    pub name: String,
    pub grade: String,
    pub section: String,
    pub code: Option<String>,
    pub homeroom_teacher_id: Option<Uuid>,
    pub active: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `discounts` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discount {
    pub school_id: Uuid,
    pub id: Uuid,
    pub invoice_line_id: Uuid,
    pub kind: DiscountKind,
    pub percent_bp: Option<i32>,
    pub amount: i64,
    pub reason: String,
    pub approved_by: Uuid,
    pub journal_entry_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// Looked up for devices (not a column of `discounts`).
    #[serde(default)]
    pub family_id: Option<Uuid>,
    /// Looked up for devices (not a column of `discounts`).
    #[serde(default)]
    pub student_id: Option<Uuid>,
}

/// `enrollments` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrollment {
    pub school_id: Uuid,
    pub id: Uuid,
    pub class_id: Uuid,
    pub student_id: Uuid,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub active: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `families` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Family {
    pub school_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `fee_heads` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeeHead {
    pub school_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub income_account_id: Uuid,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// `fines` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fine {
    pub school_id: Uuid,
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub invoice_line_id: Uuid,
    pub amount: i64,
    pub reason: String,
    pub journal_entry_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// The late-fine rule whose run made it (issue #17), if one did.
    #[serde(default)]
    pub late_fine_rule_id: Option<Uuid>,
}

/// `guardians` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guardian {
    pub school_id: Uuid,
    pub id: Uuid,
    pub family_id: Uuid,
    pub user_id: Option<Uuid>,
    pub given_name: String,
    pub family_name: String,
    pub relationship: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub active: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `invoice_lines` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub school_id: Uuid,
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub line_no: i32,
    pub fee_head_id: Uuid,
    pub description: String,
    pub amount: i64,
    pub due_on: NaiveDate,
    /// Looked up for devices (not a column of `invoice_lines`).
    #[serde(default)]
    pub family_id: Option<Uuid>,
    /// Looked up for devices (not a column of `invoice_lines`).
    #[serde(default)]
    pub student_id: Option<Uuid>,
}

/// `invoices` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Invoice {
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

/// `journal_entries` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
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

/// `journal_lines` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalLine {
    pub school_id: Uuid,
    pub id: Uuid,
    pub entry_id: Uuid,
    pub line_no: i32,
    pub account_id: Uuid,
    pub amount: i64,
    pub family_id: Option<Uuid>,
    pub student_id: Option<Uuid>,
}

/// `payment_reversals` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentReversal {
    pub school_id: Uuid,
    pub payment_id: Uuid,
    pub reason: String,
    pub journal_entry_id: Uuid,
    pub reversed_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// `payments` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub school_id: Uuid,
    pub id: Uuid,
    pub family_id: Option<Uuid>,
    pub amount: i64,
    pub currency: String,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub received_at: DateTime<Utc>,
    pub received_by: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub receipt_no: String,
    pub to_credit: i64,
    pub to_suspense: i64,
    pub journal_entry_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// `receipt_series` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptSeries {
    pub school_id: Uuid,
    pub series: String,
    pub next_no: i64,
}

/// `refunds` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub school_id: Uuid,
    pub id: Uuid,
    pub family_id: Uuid,
    pub amount: i64,
    pub method: PaymentMethod,
    pub reason: String,
    pub journal_entry_id: Uuid,
    pub created_at: DateTime<Utc>,
}

/// `registers` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Register {
    pub school_id: Uuid,
    pub id: Uuid,
    pub class_id: Uuid,
    pub on_date: NaiveDate,
    pub period: i16,
    pub taken_at: Option<DateTime<Utc>>,
    pub taken_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// `schools` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct School {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub currency: String,
    pub timezone: String,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub attendance_edit_window_days: i32,
    pub max_amount: i64,
    /// Postal address printed on receipts (empty when not set; absent from rows logged
    /// before the column existed).
    #[serde(default)]
    pub address: String,
    /// When the receipt logo was last set or removed (`None`: never, or a row logged before
    /// the column existed); see [`crate::protocol::School::logo_updated_at`].
    #[serde(default)]
    pub logo_updated_at: Option<DateTime<Utc>>,
}

/// `student_guardians` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StudentGuardian {
    pub school_id: Uuid,
    pub student_id: Uuid,
    pub guardian_id: Uuid,
}

impl Student {
    /// "Given Family".
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.family_name)
    }
}

impl Enrollment {
    /// Active on `on_date` (start and end dates inclusive).
    pub fn covers(&self, on_date: NaiveDate) -> bool {
        self.active
            && self.starts_on.is_none_or(|s| s <= on_date)
            && self.ends_on.is_none_or(|e| on_date <= e)
    }
}

/// `students` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Student {
    pub school_id: Uuid,
    pub id: Uuid,
    pub family_id: Uuid,
    pub admission_no: String,
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: Option<NaiveDate>,
    pub gender: Option<String>,
    pub grade: String,
    pub email: Option<String>,
    pub active: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `suspense_resolutions` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuspenseResolution {
    pub school_id: Uuid,
    pub payment_id: Uuid,
    pub family_id: Uuid,
    pub journal_entry_id: Uuid,
    pub resolved_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// `terms` as the change log carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Term {
    pub school_id: Uuid,
    pub id: Uuid,
    pub academic_year_id: Uuid,
    pub name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub active: bool,
    pub sourced_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_must_be_exactly_its_entitys_shape() {
        let family = serde_json::json!({
            "school_id": "0190f000-0000-7000-8000-000000000001",
            "id": "0190f000-0000-7000-8000-000000000002",
            "name": "Malik family", "active": true,
            "created_at": "2026-12-01T08:00:00+00:00", "updated_at": "2026-12-01T08:00:00+00:00"
        });
        assert!(SyncedRow::parse(SyncEntity::Family, family.clone()).is_ok());
        let mut renamed = family.clone();
        renamed["family_name"] = renamed["name"].take();
        if let Some(o) = renamed.as_object_mut() {
            o.remove("name");
        }
        assert!(
            SyncedRow::parse(SyncEntity::Family, renamed).is_err(),
            "a renamed column is caught"
        );
        let mut extra = family;
        extra["motto"] = "x".into();
        assert!(
            SyncedRow::parse(SyncEntity::Family, extra.clone()).is_err(),
            "an added one too"
        );
        let on_an_older_phone: Family = serde_json::from_value(extra).expect("lenient read");
        assert_eq!(on_an_older_phone.name, "Malik family");
        assert_eq!(
            SyncEntity::parse("attendance_marks"),
            Some(SyncEntity::AttendanceMark)
        );
        assert_eq!(SyncEntity::parse("users"), None, "logins are not synced");
    }
}
