//! The audit log viewer (issue #17, "Audit log viewer"): the school's audit log read back,
//! filtered by user, device, entity and time, newest first, with each change's before and
//! after images. Kept apart from [`crate::audit`], which writes the log and is used by every
//! feature (including `auth`, which this module's handler needs): a feature that reads the log
//! depends on `auth`; the writer must not.

pub mod handlers;
pub mod repo;
