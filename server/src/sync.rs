//! Sync protocol v1 (ARCHITECTURE.md §6): device enrolment, `push` of op batches with
//! exactly-once application, `pull` of the change log within a device's scope, SSE pokes fed
//! by PostgreSQL LISTEN/NOTIFY, and the digest that proves a replica equals the server.
//!
//! The change log itself is written by database triggers (`server/sql/functions.sql`), so every
//! writing transaction — a pushed op or a plain REST call — logs its rows, with no code path
//! able to forget it; [`feed`] says which of them a pull may hand out, and why that order
//! never skips a commit.

pub mod compaction;
pub mod devices;
pub mod events;
pub mod feed;
pub mod handlers;
pub mod mutations;
pub mod pull;
pub mod push;
