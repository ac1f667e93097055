//! OneRoster 1.1 CSV import (IMS Global OneRoster v1.1 CSV binding).
//!
//! Reads `manifest.csv`, `orgs.csv`, `academicSessions.csv`, `courses.csv`, `classes.csv`,
//! `users.csv` and `enrollments.csv` from a folder or a zip, and upserts them into one school
//! by `sourcedId` inside one transaction: the import lands whole or not at all. A file that
//! cannot be imported fails with an [`csv_source::ImportError`] naming file, line and column;
//! rows that are odd but importable are imported and reported as warnings with file and line.
//! Re-importing the same files changes nothing; `status=tobedeleted` deactivates.
//!
//! Mapping: students → `students` (each in a family; guardians linked to the same students
//! through `agentSourcedIds` share one family), parents/guardians/relatives → `guardians` plus
//! a parent login without a password, teachers/aides → teacher logins, administrators →
//! admin logins (no password: an admin sets one), academic sessions → academic years and terms,
//! classes → classes, enrollments → enrollments (students) and class–teacher assignments.

pub mod csv_source;
pub mod handlers;
pub mod import;

pub use csv_source::{ImportError, RosterFiles};
pub use import::import;
