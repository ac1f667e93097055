//! A JSON body extractor whose errors name the offending field.
//!
//! `actix_web::web::Json` reports serde's message without a path; this one deserialises with
//! `serde_path_to_error`, so a wrong value deep in a body answers 422 `validation_failed` with
//! `field` set to its path (e.g. `role`, `terms[0].starts_on`).

use std::future::Future;
use std::pin::Pin;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// Largest JSON body accepted (bytes): 4 MiB, room for a sync push of 1,000 ops of up to 4 KiB
/// each (`crate::sync::push::MAX_BATCH`).
pub const MAX_JSON_BODY: usize = 4 << 20;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Parses `bytes` as `T`, naming the field on failure.
///
/// Errors: [`ApiError::Validation`] with the JSON path of the bad value (`body` for syntax
/// errors, the missing field's name for a missing field).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let field = if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            if path == "." {
                missing.to_string()
            } else {
                format!("{path}.{missing}")
            }
        } else if path == "." || inner.is_syntax() || inner.is_eof() {
            "body".to_string()
        } else {
            path
        };
        ApiError::validation(field, message)
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.starts_with("application/json") || v.contains("+json"))
            .unwrap_or(false);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::validation(
                    "content-type",
                    "must be application/json",
                ));
            }
            let bytes = bytes
                .await
                .map_err(|e| ApiError::validation("body", e.to_string()))?;
            if bytes.len() > MAX_JSON_BODY {
                return Err(ApiError::validation(
                    "body",
                    format!("larger than {MAX_JSON_BODY} bytes"),
                ));
            }
            parse(&bytes).map(Json)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse;
    use daftar_client_core::protocol::{CreateAcademicYearRequest, CreateUserRequest};

    fn field_of<T: serde::de::DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
        parse::<T>(json.as_bytes())
            .expect_err("invalid")
            .problem()
            .field
            .unwrap_or_default()
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            field_of::<CreateUserRequest>(
                r#"{"username":"a","display_name":"A","role":"janitor","password":"x"}"#
            ),
            "role"
        );
        assert_eq!(
            field_of::<CreateUserRequest>(r#"{"display_name":"A","role":"admin","password":"x"}"#),
            "username"
        );
        assert_eq!(
            field_of::<CreateAcademicYearRequest>(
                r#"{"name":"Y","starts_on":"2026-01-01","ends_on":"2026-12-31","terms":[{"name":"T","starts_on":"soon","ends_on":"2026-02-01"}]}"#
            ),
            "terms[0].starts_on"
        );
        assert_eq!(field_of::<CreateUserRequest>("{not json"), "body");
    }
}
