//! Field validation for roster requests: the rules of [`daftar_client_core::validate`] (shared
//! with the office agent, which checks them before queueing an edit), answered as
//! [`ApiError::validation`] naming the request field.

use daftar_client_core::validate::{self as rules, FieldError};

use crate::errors::ApiError;

fn api(e: FieldError) -> ApiError {
    ApiError::validation(e.field, e.message)
}

/// Trims `value` and checks it is 1..=`max` characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    rules::text(field, value, max).map_err(api)
}

/// Like [`text`] for optional fields; an empty string becomes `None`.
pub fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    rules::opt_text(field, value, max).map_err(api)
}

/// A phone number: optional leading `+`, then 7..=15 digits (ITU-T E.164 length); spaces,
/// dashes and parentheses are dropped.
pub fn phone(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    rules::phone(field, value).map_err(api)
}

/// An e-mail address: something@something.something, at most 254 characters (RFC 5321).
pub fn email(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    rules::email(field, value).map_err(api)
}

/// A username: 1..=100 of letters, digits and `._@+-`.
pub fn username(field: &str, value: &str) -> Result<String, ApiError> {
    rules::username(field, value).map_err(api)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_names_the_request_field() {
        let e = phone("guardian.phone", Some("call me")).expect_err("bad");
        assert_eq!(e.problem().field.as_deref(), Some("guardian.phone"));
    }
}
