//! Pure ledger rules both the server (canonical posting) and the office agent (offline receipts)
//! must compute identically (ARCHITECTURE.md §4). No I/O.
//!
//! Money is `i64` minor units (paisa, cents) of the school's ISO 4217 currency.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The accounts every school's chart of accounts has (ARCHITECTURE.md §4), known by the
/// `system_key` they carry: postings name them, and a device finds a family's credit by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SystemAccount {
    Cash,
    Bank,
    Receivable,
    FamilyCredit,
    Suspense,
    FeeIncome,
    Discounts,
    Expenses,
}

impl SystemAccount {
    /// Every system account, in chart order.
    pub const ALL: [SystemAccount; 8] = [
        SystemAccount::Cash,
        SystemAccount::Bank,
        SystemAccount::Receivable,
        SystemAccount::FamilyCredit,
        SystemAccount::Suspense,
        SystemAccount::FeeIncome,
        SystemAccount::Discounts,
        SystemAccount::Expenses,
    ];

    /// The `system_key` stored on the account, e.g. `family_credit`.
    pub fn key(self) -> &'static str {
        self.chart().3
    }

    /// The account with `key`, if it is a system key.
    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.key() == key)
    }

    /// The seeded chart row: (code, name, kind, system key).
    pub fn chart(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            SystemAccount::Cash => ("1000", "Cash", "asset", "cash"),
            SystemAccount::Bank => ("1010", "Bank", "asset", "bank"),
            SystemAccount::Receivable => ("1100", "Fees Receivable", "asset", "receivable"),
            SystemAccount::FamilyCredit => ("2100", "Family Credit", "liability", "family_credit"),
            SystemAccount::Suspense => ("2900", "Suspense", "liability", "suspense"),
            SystemAccount::FeeIncome => ("4000", "Fee Income", "income", "fee_income"),
            SystemAccount::Discounts => {
                ("4900", "Discounts & Waivers", "contra_income", "discounts")
            }
            SystemAccount::Expenses => ("5000", "Expenses", "expense", "expenses"),
        }
    }

    /// Where money received or paid out by `method` is held: Cash for cash, Bank otherwise.
    pub fn for_method(method: crate::protocol::PaymentMethod) -> Self {
        if method == crate::protocol::PaymentMethod::Cash {
            SystemAccount::Cash
        } else {
            SystemAccount::Bank
        }
    }
}

/// An invoice line of the paying family that still has money owing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenLine {
    pub invoice_id: Uuid,
    pub invoice_line_id: Uuid,
    /// The line's due date (school-local calendar date).
    pub due_on: NaiveDate,
    /// The invoice's issue order within the school (its `invoice_no`).
    pub invoice_no: i64,
    /// The line's position within its invoice (1-based).
    pub line_no: i32,
    /// Minor units still owing; lines with zero or less are ignored.
    pub outstanding: i64,
}

/// Money applied to one invoice line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub invoice_id: Uuid,
    pub invoice_line_id: Uuid,
    /// Minor units, > 0.
    pub amount: i64,
}

/// How a payment (or an amount of family credit) is applied: allocations in application order,
/// and what is left over, which becomes Family Credit.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AllocationPlan {
    pub allocations: Vec<Allocation>,
    /// Minor units not needed by any open line (≥ 0).
    pub unallocated: i64,
}

impl AllocationPlan {
    /// Sum of the allocations, in minor units.
    pub fn allocated(&self) -> i64 {
        self.allocations.iter().map(|a| a.amount).sum()
    }
}

/// Why an amount cannot be allocated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    /// The amount is zero or negative.
    #[error("amount must be positive, got {0} minor units")]
    NonPositiveAmount(i64),
}

/// The order in which a family's open lines are paid (ARCHITECTURE.md §4): oldest due date
/// first, ties by invoice issue order, then line order, then line id — a total order, so every
/// device computes the same waterfall across siblings.
pub fn payment_order(a: &OpenLine, b: &OpenLine) -> std::cmp::Ordering {
    (a.due_on, a.invoice_no, a.line_no, a.invoice_line_id).cmp(&(
        b.due_on,
        b.invoice_no,
        b.line_no,
        b.invoice_line_id,
    ))
}

/// Allocates `amount` minor units across `open` lines in [`payment_order`], each line up to
/// its outstanding amount; the remainder is `unallocated` (→ Family Credit). The input order of
/// `open` does not matter.
///
/// Errors: [`AllocationError::NonPositiveAmount`].
pub fn allocate(amount: i64, open: &[OpenLine]) -> Result<AllocationPlan, AllocationError> {
    if amount <= 0 {
        return Err(AllocationError::NonPositiveAmount(amount));
    }
    let mut lines: Vec<&OpenLine> = open.iter().filter(|l| l.outstanding > 0).collect();
    lines.sort_by(|a, b| payment_order(a, b));
    let mut left = amount;
    let mut allocations = Vec::new();
    for line in lines {
        if left == 0 {
            break;
        }
        let take = left.min(line.outstanding);
        allocations.push(Allocation {
            invoice_id: line.invoice_id,
            invoice_line_id: line.invoice_line_id,
            amount: take,
        });
        left -= take;
    }
    Ok(AllocationPlan {
        allocations,
        unallocated: left,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(
        n: u128,
        due: (i32, u32, u32),
        invoice_no: i64,
        line_no: i32,
        outstanding: i64,
    ) -> OpenLine {
        OpenLine {
            invoice_id: Uuid::from_u128(invoice_no as u128),
            invoice_line_id: Uuid::from_u128(n),
            due_on: NaiveDate::from_ymd_opt(due.0, due.1, due.2).expect("date"),
            invoice_no,
            line_no,
            outstanding,
        }
    }

    #[test]
    fn oldest_due_first_across_siblings_then_credit() {
        // Sibling B's tuition is due before sibling A's; A's transport shares B's due date but
        // its invoice was issued later.
        let a_tuition = line(1, (2026, 9, 10), 2, 1, 5_000);
        let a_transport = line(2, (2026, 9, 1), 2, 2, 1_500);
        let b_tuition = line(3, (2026, 9, 1), 1, 1, 4_000);
        let plan = allocate(
            12_000,
            &[a_tuition.clone(), a_transport.clone(), b_tuition.clone()],
        )
        .expect("plan");
        let order: Vec<(u128, i64)> = plan
            .allocations
            .iter()
            .map(|a| (a.invoice_line_id.as_u128(), a.amount))
            .collect();
        assert_eq!(order, vec![(3, 4_000), (2, 1_500), (1, 5_000)]);
        assert_eq!(plan.unallocated, 1_500);

        let partial = allocate(4_500, &[a_tuition, a_transport, b_tuition]).expect("plan");
        let order: Vec<(u128, i64)> = partial
            .allocations
            .iter()
            .map(|a| (a.invoice_line_id.as_u128(), a.amount))
            .collect();
        assert_eq!(order, vec![(3, 4_000), (2, 500)]);
        assert_eq!(partial.unallocated, 0);
    }

    #[test]
    fn nothing_owing_means_everything_is_credit_and_zero_is_refused() {
        let plan = allocate(700, &[line(1, (2026, 1, 1), 1, 1, 0)]).expect("plan");
        assert!(plan.allocations.is_empty());
        assert_eq!(plan.unallocated, 700);
        assert_eq!(allocate(0, &[]), Err(AllocationError::NonPositiveAmount(0)));
        assert_eq!(
            allocate(-5, &[]),
            Err(AllocationError::NonPositiveAmount(-5))
        );
    }

    fn arb_lines() -> impl Strategy<Value = Vec<OpenLine>> {
        prop::collection::vec((0u32..60, 1i64..6, 1i32..4, -100i64..10_000), 0..12).prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (day, inv, ln, out))| {
                    let mut l = line(i as u128 + 1, (2026, 1, 1), inv, ln, out);
                    l.due_on += chrono::Duration::days(i64::from(day));
                    l
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn allocation_conserves_money_and_respects_limits(amount in 1i64..50_000, lines in arb_lines()) {
            let plan = allocate(amount, &lines).expect("positive amount");
            prop_assert_eq!(plan.allocated() + plan.unallocated, amount);
            prop_assert!(plan.unallocated >= 0);
            for a in &plan.allocations {
                let l = lines.iter().find(|l| l.invoice_line_id == a.invoice_line_id).expect("known line");
                prop_assert!(a.amount > 0 && a.amount <= l.outstanding);
            }
            let owing: i64 = lines
                .iter()
                .map(|l| l.outstanding.max(0))
                .fold(0, i64::saturating_add);
            // Credit only arises once every open line is fully paid.
            prop_assert_eq!(plan.unallocated, (amount - owing).max(0));
        }

        #[test]
        fn allocation_is_a_waterfall_independent_of_input_order(amount in 1i64..50_000, lines in arb_lines(), seed in any::<u64>()) {
            let plan = allocate(amount, &lines).expect("plan");
            let mut shuffled = lines.clone();
            let n = shuffled.len();
            if n > 1 {
                for i in 0..n {
                    shuffled.swap(i, (seed as usize).wrapping_add(i * 7) % n);
                }
            }
            prop_assert_eq!(&allocate(amount, &shuffled).expect("plan"), &plan);
            // Only the last allocated line may be partial, and every earlier line in payment
            // order is fully paid.
            let mut open: Vec<&OpenLine> = lines.iter().filter(|l| l.outstanding > 0).collect();
            open.sort_by(|a, b| payment_order(a, b));
            for (i, a) in plan.allocations.iter().enumerate() {
                prop_assert_eq!(a.invoice_line_id, open[i].invoice_line_id);
                if i + 1 < plan.allocations.len() {
                    prop_assert_eq!(a.amount, open[i].outstanding);
                }
            }
        }
    }
}

/// One invoice line of a family as both sides know it: what was invoiced and what is still
/// owing (`amount` − live allocations), in minor units. The input of [`family_dues`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamilyLine {
    pub invoice_line_id: Uuid,
    pub invoice_id: Uuid,
    pub invoice_no: i64,
    pub line_no: i32,
    pub due_on: NaiveDate,
    pub student_id: Uuid,
    pub term_id: Uuid,
    pub issued_on: NaiveDate,
    pub description: String,
    pub amount: i64,
    pub outstanding: i64,
}

impl From<&FamilyLine> for OpenLine {
    /// The line as the allocation rule sees it.
    fn from(l: &FamilyLine) -> Self {
        OpenLine {
            invoice_id: l.invoice_id,
            invoice_line_id: l.invoice_line_id,
            due_on: l.due_on,
            invoice_no: l.invoice_no,
            line_no: l.line_no,
            outstanding: l.outstanding,
        }
    }
}

/// Groups `lines` (already in [`payment_order`]) into invoices, keeping lines whose
/// outstanding is at least `min_outstanding`; an invoice's `amount` counts all its lines.
pub fn group_invoices(
    lines: &[FamilyLine],
    min_outstanding: i64,
) -> Vec<crate::protocol::InvoiceDue> {
    use crate::protocol::{InvoiceDue, InvoiceLineDue};
    let mut out: Vec<InvoiceDue> = Vec::new();
    for r in lines.iter().filter(|r| r.outstanding >= min_outstanding) {
        let line = InvoiceLineDue {
            invoice_line_id: r.invoice_line_id,
            description: r.description.clone(),
            due_on: r.due_on,
            amount: r.amount,
            outstanding: r.outstanding,
        };
        match out.iter_mut().find(|i| i.invoice_id == r.invoice_id) {
            Some(inv) => {
                inv.outstanding = inv.outstanding.saturating_add(r.outstanding);
                inv.lines.push(line);
            }
            None => out.push(InvoiceDue {
                invoice_id: r.invoice_id,
                invoice_no: r.invoice_no,
                student_id: r.student_id,
                term_id: r.term_id,
                issued_on: r.issued_on,
                amount: lines
                    .iter()
                    .filter(|x| x.invoice_id == r.invoice_id)
                    .map(|x| x.amount)
                    .fold(0, i64::saturating_add),
                outstanding: r.outstanding,
                lines: vec![line],
            }),
        }
    }
    out
}

/// Orders a family's lines as dues and statements list them: due date, then invoice number,
/// then line number (ties broken by line id), oldest first.
pub fn sort_oldest_due_first(lines: &mut [FamilyLine]) {
    lines.sort_by_key(|l| (l.due_on, l.invoice_no, l.line_no, l.invoice_line_id));
}

/// What a family owes (`GET /families/{id}/dues`): per student and per invoice
/// (oldest due first, lines with money owing only), total, Family Credit held (`credit`, ≥ 0)
/// and `net_due` = total − credit. Sorts `lines` into [`payment_order`] first, so the server
/// and an offline device compute the identical answer.
pub fn family_dues(
    family_id: Uuid,
    currency: &str,
    mut lines: Vec<FamilyLine>,
    credit: i64,
) -> crate::protocol::FamilyDues {
    use crate::protocol::{FamilyDues, StudentDue};
    sort_oldest_due_first(&mut lines);
    let mut per_student: Vec<StudentDue> = Vec::new();
    for r in lines.iter().filter(|r| r.outstanding > 0) {
        match per_student
            .iter_mut()
            .find(|s| s.student_id == r.student_id)
        {
            Some(s) => s.outstanding = s.outstanding.saturating_add(r.outstanding),
            None => per_student.push(StudentDue {
                student_id: r.student_id,
                outstanding: r.outstanding,
            }),
        }
    }
    // Saturating: a family's lines are each at most the school's limit (10^13), so only
    // data beyond that limit could reach i64::MAX; it must not wrap or panic.
    let total: i64 = per_student
        .iter()
        .map(|s| s.outstanding)
        .fold(0, i64::saturating_add);
    FamilyDues {
        family_id,
        currency: currency.to_string(),
        total_outstanding: total,
        credit_balance: credit,
        net_due: total.saturating_sub(credit),
        per_student,
        invoices: group_invoices(&lines, 1),
    }
}
