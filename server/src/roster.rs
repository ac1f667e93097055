//! The school roster: classes, students, guardians, families, enrollments, users
//! and teacher assignments, with role- and scope-checked CRUD under `/api/v1`.
//!
//! Scopes (ARCHITECTURE.md §6/§7): office roles see the whole school; a teacher sees only the
//! classes assigned to them and those classes' students; a parent sees only their own
//! family's students, guardians and classes.

pub mod handlers;
pub mod models;
pub mod repo;
pub mod service;
