//! The client's error: what went wrong, in words a cashier or an app developer can act on.

use crate::protocol::Problem;

/// Errors of the client library.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached (offline, DNS, refused, timed out). Local work goes on.
    #[error("server unreachable: {0}")]
    Network(String),
    /// The server answered with an RFC 9457 problem document.
    #[error("server refused ({}): {}", .problem.code, .problem.detail)]
    Server {
        problem: Box<Problem>,
        /// `Retry-After` in seconds, when the server gave one.
        retry_after: Option<u64>,
    },
    /// The device is not enrolled yet (run `init`), or its login was revoked.
    #[error("this device is not enrolled or its login has ended: {0}")]
    NotEnrolled(String),
    /// Bad input, naming the field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Something the local data cannot answer (unknown family, class, student).
    #[error("{0}")]
    NotFound(String),
    /// A local database failed (busy, disk full, I/O) — not corruption. `source` is the
    /// Diesel, SQLite or I/O error it came from, when there was one (its result code is
    /// there for whoever needs more than the words).
    #[error("local storage: {detail}")]
    Storage {
        detail: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A local database file is corrupt (what the lifeboat repairs).
    #[error("local database {file} is corrupt: {detail}")]
    Corrupt { file: String, detail: String },
}

impl ClientError {
    /// A [`ClientError::Storage`] error with no underlying error.
    pub fn storage(detail: impl Into<String>) -> Self {
        ClientError::Storage {
            detail: detail.into(),
            source: None,
        }
    }

    /// A [`ClientError::Storage`] error that keeps `source`, described as `context: source`.
    pub fn storage_from(
        context: impl std::fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ClientError::Storage {
            detail: format!("{context}: {source}"),
            source: Some(Box::new(source)),
        }
    }

    /// A validation error naming `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ClientError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The server's status code, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Server { problem, .. } => Some(problem.status),
            _ => None,
        }
    }

    /// True when the server refused this device because an admin revoked it (403
    /// `device_revoked`, issue #17): retrying cannot help; the unsent edits stay in the outbox
    /// and can be exported.
    pub fn is_device_revoked(&self) -> bool {
        matches!(self, ClientError::Server { problem, .. } if problem.code == "device_revoked")
    }

    /// The password was right and the account has two-factor login: log in again with the
    /// code from the authenticator app (server's 401 `two_factor_required`, issue #17).
    pub fn is_two_factor_required(&self) -> bool {
        matches!(self, ClientError::Server { problem, .. } if problem.code == "two_factor_required")
    }

    /// Worth retrying later without a person acting (network down, 503, 429, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Network(_) => true,
            ClientError::Server { problem, .. } => {
                problem.status == 429 || problem.status == 503 || problem.status >= 500
            }
            _ => false,
        }
    }
}

/// True for SQLite's corruption result codes (`SQLITE_CORRUPT`, `SQLITE_NOTADB`, and their
/// extended forms) and nothing else: only real corruption triggers recovery
/// (mozilla/application-services ADR-0002), never busy, locked, read-only or disk-full.
pub fn is_corruption(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

impl From<diesel::result::Error> for ClientError {
    fn from(e: diesel::result::Error) -> Self {
        ClientError::Storage {
            detail: e.to_string(),
            source: Some(Box::new(e)),
        }
    }
}

impl From<diesel::ConnectionError> for ClientError {
    fn from(e: diesel::ConnectionError) -> Self {
        ClientError::Storage {
            detail: e.to_string(),
            source: Some(Box::new(e)),
        }
    }
}

impl From<serde_json::Error> for ClientError {
    fn from(e: serde_json::Error) -> Self {
        ClientError::storage_from("stored JSON", e)
    }
}

/// Result of the client library.
pub type ClientResult<T> = Result<T, ClientError>;
