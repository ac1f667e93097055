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
    /// A local database failed (busy, disk full, I/O) — not corruption.
    #[error("local storage: {0}")]
    Storage(String),
    /// A local database file is corrupt (what the lifeboat repairs).
    #[error("local database {file} is corrupt: {detail}")]
    Corrupt { file: String, detail: String },
}

impl ClientError {
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

/// True for SQLite's corruption results (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) and nothing else:
/// only real corruption triggers recovery (mozilla/application-services ADR-0002), never busy,
/// locked, read-only or disk-full.
pub fn is_corruption(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("malformed") || m.contains("not a database") || m.contains("sqlite_corrupt")
}

impl From<diesel::result::Error> for ClientError {
    fn from(e: diesel::result::Error) -> Self {
        ClientError::Storage(e.to_string())
    }
}

impl From<diesel::ConnectionError> for ClientError {
    fn from(e: diesel::ConnectionError) -> Self {
        ClientError::Storage(e.to_string())
    }
}

impl From<serde_json::Error> for ClientError {
    fn from(e: serde_json::Error) -> Self {
        ClientError::Storage(format!("stored JSON: {e}"))
    }
}

/// Result of the client library.
pub type ClientResult<T> = Result<T, ClientError>;
