//! What the console keeps and prints about a payment: the children as the cashier tells them
//! apart, and the record of a printed receipt (for reprints, the PDF and the thermal printer).
//! A leaf: the pages and the printer both read it.

use daftar_client_core::client::office::Receipt;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A child as the cashier tells them apart: name, class and section, admission number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Child {
    pub student_id: Uuid,
    pub name: String,
    pub admission_no: String,
    /// Class (and section) on the school's today, if enrolled.
    pub class: Option<String>,
}

/// What the console keeps of a receipt it printed, for reprints (device setting
/// `receipt:<payment id>`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrintedReceipt {
    pub receipt: Receipt,
    pub reference: Option<String>,
    /// Who took the money (the signed-in console user).
    pub cashier: String,
    pub cashier_user_id: Uuid,
    /// What the family still owed after this payment (net of credit), minor units.
    pub net_due_after: i64,
    pub credit_after: i64,
    pub children: Vec<Child>,
}
