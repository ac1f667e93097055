//! The one error type of the server: every way a service or handler can fail, as a closed
//! set of outcomes (not found, invalid field, conflict, refused by a rule, unavailable, bug).
//!
//! Which error belongs where:
//! - `repo.rs` functions return `diesel::QueryResult<T>`; they know nothing of HTTP.
//! - services and handlers return [`ApiResult<T>`]; `?` on a Diesel error maps it here
//!   (unique violation → conflict, foreign-key/check/not-null violation → unprocessable,
//!   not found → not found). Services never build a response or pick a status.
//! - The HTTP mapping (status, `Allow`, `Retry-After`, the problem document) happens once, in
//!   this file's `ResponseError` impl; a sync push turns the same error into a rejected op's
//!   outcome with [`ApiError::problem`], and asks [`ApiError::is_transient`] whether to stop
//!   the batch instead.
//! - [`ApiError::Internal`] is logged in full and answered with an opaque 500.
//!
//! Every error is answered as an RFC 9457 `application/problem+json` document
//! ([`daftar_client_core::protocol::Problem`]) whose `code` is stable snake_case.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use daftar_client_core::protocol::Problem;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Result of a handler or service.
pub type ApiResult<T> = Result<T, ApiError>;

/// Every way a request can fail, mapped explicitly to a status and a stable `code`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `unauthorized`: missing, malformed or expired access token.
    #[error("{0}")]
    Unauthorized(String),
    /// 401 `invalid_credentials`: wrong school, username or password (never says which).
    #[error("school, username or password is wrong")]
    InvalidCredentials,
    /// 401 `two_factor_required` (the password was right; send the code too) or
    /// `two_factor_invalid` (the code was wrong, counted like a wrong password): a login of a
    /// user with two-factor login on (issue #17, RFC 6238).
    #[error("{detail}")]
    SecondFactor { code: &'static str, detail: String },
    /// 401 `refresh_token_reused`: a rotated refresh token was presented again; its whole
    /// token family has been revoked (RFC 6819 §5.2.2.3).
    #[error("this refresh token was already used; every session it belonged to is now signed out")]
    RefreshTokenReused,
    /// 403 `forbidden`: authenticated, but the role or scope does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// 403 with a specific code naming the rule that refused (e.g. `edit_window_closed`).
    #[error("{detail}")]
    Refused { code: &'static str, detail: String },
    /// 404 `not_found`.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 422 `validation_failed` naming the request field.
    #[error("{field}: {message}")]
    Validation { field: String, message: String },
    /// 422 with a specific code (e.g. `reference_invalid`, `import_failed`).
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    /// 409 with a specific code (e.g. `already_exists`).
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    /// 410 with a specific code (e.g. `cursor_expired`): what the request refers to is gone
    /// for good.
    #[error("{detail}")]
    Gone { code: &'static str, detail: String },
    /// 405 `method_not_allowed`: the path exists, the method does not (RFC 9110 §15.5.6);
    /// answered with an `Allow` header listing the methods it has.
    #[error("{method} is not allowed here (allowed: {})", allow.join(", "))]
    MethodNotAllowed { method: String, allow: Vec<String> },
    /// 413 `payload_too_large`: the request body is over `limit` bytes (RFC 9110 §15.5.14).
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415 `unsupported_media_type`: the body's `Content-Type` is not the one the endpoint
    /// reads (`expected`, e.g. `application/json`; RFC 9110 §15.5.16).
    #[error("Content-Type must be {expected}")]
    UnsupportedMediaType { expected: &'static str },
    /// 429 `too_many_attempts` with `Retry-After` seconds.
    #[error("too many failed logins; try again in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// 503 `service_unavailable`: the database pool is exhausted or the database is down.
    #[error("the service is busy; try again shortly")]
    Unavailable,
    /// 500 `internal_error`: logged in full, answered opaquely.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// 403 `device_revoked`: the token is bound to a device an admin revoked, or the device
    /// is not enrolled (issue #17, "Devices"). The device's unsent edits stay on it and can be
    /// exported.
    pub fn device_revoked() -> Self {
        ApiError::Refused {
            code: "device_revoked",
            detail: "this device was revoked by the school's admin; edits not yet sent are kept on it and can be exported".into(),
        }
    }

    /// Shorthand for a [`ApiError::Validation`] error.
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`ApiError::Forbidden`].
    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::Forbidden(message.into())
    }

    /// Whether the failure says nothing about the request itself, so the same request may
    /// succeed later: the database is busy, down or broke a lock cycle ([`ApiError::Unavailable`]),
    /// or an internal error caused by the database, its pool or I/O. An internal error of this
    /// server's own logic is not transient: retrying cannot fix it. A sync push stops its batch
    /// on a transient failure (order kept, the device retries) and records any other failure
    /// against the op, where the office sees it (ARCHITECTURE.md §6).
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Unavailable => true,
            ApiError::Internal(e) => e.chain().any(|cause| {
                cause.is::<DieselError>()
                    || cause.is::<diesel::ConnectionError>()
                    || cause.is::<diesel::r2d2::PoolError>()
                    || cause.is::<std::io::Error>()
            }),
            _ => false,
        }
    }

    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::RefreshTokenReused => "refresh_token_reused",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Validation { .. } => "validation_failed",
            ApiError::Unprocessable { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Gone { code, .. }
            | ApiError::Refused { code, .. }
            | ApiError::SecondFactor { code, .. } => code,
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType { .. } => "unsupported_media_type",
            ApiError::Throttled { .. } => "too_many_attempts",
            ApiError::Unavailable => "service_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    /// The problem document for this error.
    pub fn problem(&self) -> Problem {
        let status = self.status_code();
        Problem {
            type_uri: format!("urn:daftar:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code().to_string(),
            field: match self {
                ApiError::Validation { field, .. } => Some(field.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_)
            | ApiError::InvalidCredentials
            | ApiError::SecondFactor { .. }
            | ApiError::RefreshTokenReused => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::Refused { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Validation { .. } | ApiError::Unprocessable { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::Throttled { retry_after_secs } => {
                resp.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unavailable => {
                resp.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::Unauthorized(_) => {
                resp.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                resp.insert_header((header::ALLOW, allow.join(", ")));
            }
            _ => {}
        }
        resp.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<DieselError> for ApiError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => ApiError::NotFound("record"),
            DieselError::DeserializationError(inner)
                if inner
                    .downcast_ref::<crate::sums::AmountOutOfRange>()
                    .is_some() =>
            {
                ApiError::Unprocessable {
                    code: "amount_out_of_range",
                    detail: inner.to_string(),
                }
            }
            DieselError::DatabaseError(kind, info) => {
                let constraint = info.constraint_name().unwrap_or("").to_string();
                match kind {
                    DatabaseErrorKind::UniqueViolation => ApiError::Conflict {
                        code: "already_exists",
                        detail: format!("already exists ({constraint})"),
                    },
                    DatabaseErrorKind::ForeignKeyViolation => ApiError::Unprocessable {
                        code: "reference_invalid",
                        detail: format!(
                            "refers to a record that does not exist, or is still referred to \
                             ({constraint})"
                        ),
                    },
                    DatabaseErrorKind::CheckViolation | DatabaseErrorKind::NotNullViolation => {
                        ApiError::Unprocessable {
                            code: "check_failed",
                            detail: format!(
                                "{} ({constraint})",
                                info.column_name().unwrap_or("a value is out of range")
                            ),
                        }
                    }
                    DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::SerializationFailure => ApiError::Unavailable,
                    // 40P01: PostgreSQL broke a lock cycle; retrying succeeds.
                    _ if info.message().contains("deadlock detected") => ApiError::Unavailable,
                    // 22003 / 22008: a value the request carried (a date, a number) is
                    // outside what PostgreSQL can store; the request is at fault, not us.
                    _ if info.message().contains("out of range") => ApiError::Unprocessable {
                        code: "value_out_of_range",
                        detail: format!("a value is out of range: {}", info.message()),
                    },
                    _ => ApiError::Internal(
                        anyhow::Error::new(DieselError::DatabaseError(kind, info))
                            .context("database error"),
                    ),
                }
            }
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<crate::sums::AmountOutOfRange> for ApiError {
    fn from(e: crate::sums::AmountOutOfRange) -> Self {
        ApiError::Unprocessable {
            code: "amount_out_of_range",
            detail: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transience_is_asked_of_the_error_not_guessed_from_its_variant() {
        assert!(ApiError::Unavailable.is_transient());
        let db = ApiError::from(DieselError::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("the database system is shutting down".to_string()),
        ));
        assert!(matches!(db, ApiError::Internal(_)));
        assert!(db.is_transient(), "a database failure may pass");
        let bug = ApiError::Internal(anyhow::anyhow!("no payment recorded"));
        assert!(!bug.is_transient(), "our own logic failing will fail again");
        assert!(!ApiError::validation("amount", "x").is_transient());
    }
}
