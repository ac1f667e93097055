//! Fee heads and schedules, invoices, payments, adjustments, dues and statements (ARCHITECTURE.md §4).

use super::*;

// Money is `i64` minor units of the school's ISO 4217 `currency`.

/// A fee head (tuition, transport, …) with its own income account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FeeHead {
    pub id: Uuid,
    pub name: String,
    pub income_account_id: Uuid,
    pub active: bool,
}

/// `POST /api/v1/fee-heads` (admin, accountant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateFeeHeadRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: String,
}

/// What a class pays for a fee head in a term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FeeSchedule {
    pub id: Uuid,
    pub term_id: Uuid,
    pub class_id: Uuid,
    pub fee_head_id: Uuid,
    /// Minor units, > 0.
    pub amount: i64,
    pub due_on: NaiveDate,
}

/// `POST /api/v1/fee-schedules` (admin, accountant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateFeeScheduleRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub term_id: Uuid,
    pub class_id: Uuid,
    pub fee_head_id: Uuid,
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: i64,
    pub due_on: NaiveDate,
}

/// `GET /api/v1/terms/{id}/invoices/progress` (office; issue #17): the term's invoice run as
/// it goes — `issued` of `total` invoices while `running`, or the last run's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvoiceRunProgress {
    pub term_id: Uuid,
    pub running: bool,
    pub issued: i64,
    pub total: i64,
}

/// Result of `POST /api/v1/terms/{id}/invoices`: invoices issued now (students already
/// invoiced for the term are skipped, so the call is safe to repeat).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct IssueInvoicesReport {
    pub invoices_issued: u64,
    /// Total invoiced, minor units.
    pub amount_invoiced: i64,
    /// Family Credit applied to the new invoices, minor units.
    pub credit_applied: i64,
    pub currency: String,
}

/// `GET /api/v1/terms/{id}/invoices/preview` (office): what `POST /terms/{id}/invoices` would
/// issue now, computed without writing anything (issue #17: preview the count and total, then
/// issue). Amounts are minor units of `currency` (ISO 4217).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvoiceRunPreview {
    pub term_id: Uuid,
    /// Invoices the run would issue: one per student not yet invoiced for the term.
    pub invoices: u64,
    /// Their total, minor units (before any family credit is applied).
    pub amount: i64,
    /// Families those invoices belong to.
    pub families: u64,
    /// Students of the scheduled classes already invoiced for the term, skipped by the run.
    pub already_invoiced: u64,
    /// Fee schedules of the term (0: nothing can be invoiced until some are added).
    pub schedules: u64,
    pub currency: String,
    /// The new invoices' lines per fee head, in name order.
    pub heads: Vec<InvoiceRunHead>,
}

/// One fee head's share of an [`InvoiceRunPreview`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvoiceRunHead {
    pub fee_head_id: Uuid,
    pub name: String,
    /// Invoice lines of this head (one per invoice that carries it).
    pub lines: u64,
    /// Their total, minor units.
    pub amount: i64,
}

/// How a payment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    BankTransfer,
    Cheque,
    Card,
    MobileMoney,
}

impl PaymentMethod {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Cash => "cash",
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::Cheque => "cheque",
            PaymentMethod::Card => "card",
            PaymentMethod::MobileMoney => "mobile_money",
        }
    }
}

/// `POST /api/v1/payments` (admin, accountant). `id` is the client-generated idempotency key:
/// replaying the same request returns the original payment; the same id with a different
/// body is 409 `idempotency_key_reused`. A missing or unknown `family_id` posts the cash to
/// Suspense (never dropped).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RecordPaymentRequest {
    pub id: Uuid,
    #[serde(default)]
    pub family_id: Option<Uuid>,
    /// Minor units, > 0.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: i64,
    /// ISO 4217; must be the school's currency.
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[A-Z]{3}$"))]
    pub currency: String,
    pub method: PaymentMethod,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub reference: Option<String>,
    /// When the money was received (UTC); defaults to now.
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
    /// The cashier who took the money, when it is not the caller: the office agent's console
    /// signs cashiers in on a device enrolled by one user, and stamps each payment with the
    /// one who took it (office-console issue). Must be an active admin or accountant of the
    /// school, else 422 naming `cashier_id`; absent means the caller. Left out of the JSON
    /// when absent, so payments recorded before it existed keep their request hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cashier_id: Option<Uuid>,
}

/// Money a payment applied to one invoice line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PaymentAllocation {
    pub invoice_id: Uuid,
    pub invoice_line_id: Uuid,
    pub student_id: Uuid,
    pub amount: i64,
}

/// A recorded payment and its receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Payment {
    pub id: Uuid,
    pub receipt_no: String,
    pub family_id: Option<Uuid>,
    pub amount: i64,
    pub currency: String,
    pub method: PaymentMethod,
    pub reference: Option<String>,
    pub received_at: DateTime<Utc>,
    pub allocations: Vec<PaymentAllocation>,
    /// Part that became Family Credit.
    pub to_credit: i64,
    /// Part posted to Suspense (unknown family).
    pub to_suspense: i64,
    pub journal_entry_id: Uuid,
}

/// One invoice line with what is still owing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvoiceLineDue {
    pub invoice_line_id: Uuid,
    pub description: String,
    pub due_on: NaiveDate,
    pub amount: i64,
    pub outstanding: i64,
}

/// One invoice with its lines and what is owing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct InvoiceDue {
    pub invoice_id: Uuid,
    pub invoice_no: i64,
    pub student_id: Uuid,
    pub term_id: Uuid,
    pub issued_on: NaiveDate,
    pub amount: i64,
    pub outstanding: i64,
    pub lines: Vec<InvoiceLineDue>,
}

/// A student's share of the family's dues.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StudentDue {
    pub student_id: Uuid,
    pub outstanding: i64,
}

/// `GET /api/v1/families/{id}/dues`: what the family owes, computed from the journal.
/// `net_due` = `total_outstanding` − `credit_balance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FamilyDues {
    pub family_id: Uuid,
    pub currency: String,
    pub total_outstanding: i64,
    pub credit_balance: i64,
    pub net_due: i64,
    pub per_student: Vec<StudentDue>,
    /// Invoices with money owing, oldest due first.
    pub invoices: Vec<InvoiceDue>,
}

/// One line of a family statement. `debit` raises what the family owes (invoices, fines),
/// `credit` lowers it (payments, discounts); `balance` is the running amount owed (negative =
/// the school holds the family's money as credit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StatementLine {
    pub entry_no: i64,
    pub occurred_on: NaiveDate,
    pub kind: String,
    pub memo: String,
    pub debit: i64,
    pub credit: i64,
    pub balance: i64,
}

/// `GET /api/v1/families/{id}/statement`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FamilyStatement {
    pub family_id: Uuid,
    pub currency: String,
    pub lines: Vec<StatementLine>,
    pub closing_balance: i64,
}

/// What kind of reduction a [`GrantDiscountRequest`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    Discount,
    Waiver,
    Scholarship,
}

impl DiscountKind {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscountKind::Discount => "discount",
            DiscountKind::Waiver => "waiver",
            DiscountKind::Scholarship => "scholarship",
        }
    }
}

/// `POST /api/v1/invoice-lines/{id}/discounts` (office). Exactly one of `amount` (minor units)
/// or `percent_bp` (basis points of the line amount, 1..=10000, rounded half up) is given; the
/// result may not exceed what is still owing on the line. `id` is the idempotency key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct GrantDiscountRequest {
    pub id: Uuid,
    pub kind: DiscountKind,
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub percent_bp: Option<i32>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 500,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub reason: String,
    /// The admin or accountant who approved it.
    pub approved_by: Uuid,
}

/// A granted discount, waiver or scholarship.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Discount {
    pub id: Uuid,
    pub invoice_line_id: Uuid,
    pub kind: DiscountKind,
    pub amount: i64,
    pub percent_bp: Option<i32>,
    pub reason: String,
    pub approved_by: Uuid,
    pub journal_entry_id: Uuid,
}

/// `POST /api/v1/invoices/{id}/fines` (office): a late-fine line on an overdue invoice.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AddFineRequest {
    pub id: Uuid,
    /// Minor units, > 0.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: i64,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 500,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub reason: String,
    /// Due date of the fine line (default: today).
    #[serde(default)]
    pub due_on: Option<NaiveDate>,
}

/// A late fine added to an invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Fine {
    pub id: Uuid,
    pub invoice_id: Uuid,
    pub invoice_line_id: Uuid,
    pub amount: i64,
    pub reason: String,
    pub journal_entry_id: Uuid,
}

/// A late-fine rule (issue #17): an invoice with a line unpaid more than `grace_days` days
/// after its due date (in the school's calendar) is fined `amount` minor units of the school's
/// currency, once per rule. A run fines every such invoice not yet fined by the rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LateFineRule {
    pub id: Uuid,
    pub name: String,
    /// Days after a line's due date before the invoice is fined (0..=365).
    pub grace_days: i32,
    /// The fine, in minor units.
    pub amount: i64,
    /// An inactive rule is kept (its fines stand) but no longer run.
    pub active: bool,
    /// Invoices this rule has fined so far.
    pub fined_invoices: i64,
}

/// `POST /api/v1/late-fine-rules` (admin).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateLateFineRuleRequest {
    #[serde(default)]
    pub id: Option<Uuid>,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 365))]
    pub grace_days: i32,
    /// Minor units, 1 to the school's `max_amount`.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: i64,
}

/// `PATCH /api/v1/late-fine-rules/{id}` (admin): switch a rule off or on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateLateFineRuleRequest {
    pub active: Option<bool>,
}

/// What a run of a late-fine rule fines (a preview) or fined (applied) on `on`, the school's
/// date: how many invoices of how many families, and the total in minor units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LateFineRun {
    pub rule_id: Uuid,
    pub on: NaiveDate,
    pub invoices: i64,
    pub families: i64,
    /// Minor units.
    pub amount: i64,
    /// False for a preview (nothing written).
    pub applied: bool,
}

/// `POST /api/v1/families/{id}/refunds` (office): pay back part of the family's credit.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RefundRequest {
    pub id: Uuid,
    /// Minor units, > 0 and at most the family's credit balance.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10_000_000_000_000_i64)
    )]
    pub amount: i64,
    pub method: PaymentMethod,
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 500,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub reason: String,
}

/// A refund out of Family Credit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Refund {
    pub id: Uuid,
    pub family_id: Uuid,
    pub amount: i64,
    pub method: PaymentMethod,
    pub reason: String,
    pub journal_entry_id: Uuid,
}

/// `POST /api/v1/payments/{id}/reversal` (office): undo a payment (bounced cheque).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReversePaymentRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 500,
            pattern = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
        )
    )]
    pub reason: String,
}

/// A payment reversal. When the payment's excess had already been applied as Family Credit,
/// those credit applications are reversed too (`credit_applications_reversed`) and whatever
/// credit remains is re-applied oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PaymentReversal {
    pub payment_id: Uuid,
    pub journal_entry_id: Uuid,
    pub reason: String,
    pub credit_applications_reversed: u32,
}
