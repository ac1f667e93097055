//! Authentication and authorisation (ARCHITECTURE.md §7): argon2id passwords,
//! short-lived JWT access tokens, rotating refresh tokens, login throttling, and the
//! [`AuthUser`] extractor every protected handler takes.

pub mod handlers;
pub mod password;
pub mod repo;
pub mod tokens;
pub mod two_factor;

pub use tokens::AuthUser;
