//! Daftar's shared core: the wire types both the server and every client speak
//! ([`protocol`]), and (with the sync issue) the pure domain rules both sides must compute
//! identically and, behind feature `client`, the offline replica, outbox and sync engine.
//!
//! The server depends on this crate with `default-features = false` plus `openapi`, so it
//! never links SQLite or an HTTP client (ARCHITECTURE.md §2).

pub mod attendance;
#[cfg(feature = "client")]
pub mod client;
pub mod ledger;
pub mod money;
pub mod protocol;
pub mod validate;
