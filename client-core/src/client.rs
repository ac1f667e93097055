//! The client side of sync protocol v1 (feature `client`, ARCHITECTURE.md §6): a typed HTTP
//! client ([`api`]), the local SQLite store — `replica.db` (disposable mirror + staging) and
//! `outbox.db` (the precious queue of local edits) — ([`store`]), the sync engine
//! ([`engine`]), and the office and teacher work that runs offline on top ([`office`]).

pub mod api;
pub mod engine;
pub mod error;
pub mod office;
pub mod outbox_file;
pub mod store;

pub use api::Api;
pub use engine::{SyncEngine, SyncReport};
pub use error::ClientError;
pub use store::Store;
