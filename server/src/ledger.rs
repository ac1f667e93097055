//! The fee ledger (ARCHITECTURE.md §4): chart of accounts, balanced immutable journal
//! entries, fee heads and schedules, invoices, family payments allocated by
//! `daftar_client_core::ledger::allocate`, Family Credit, Suspense, receipts, and the family's
//! dues and statement — all computed from the journal.

pub mod adjustments;
pub mod handlers;
pub mod invoicing;
pub mod late_fines;
pub mod limits;
pub mod models;
pub mod payments;
pub mod repo;
pub mod service;
pub mod setup;
