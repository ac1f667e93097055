//! Attendance (ARCHITECTURE.md §5): per-school codes, registers (class × date
//! × period), bulk marking with full history, the teacher edit window, office overrides with a
//! reason, register views, and absence notifications through a durable outbox.

pub mod handlers;
pub mod marks;
pub mod notify;
pub mod registers;
pub mod service;
