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
/// errors, the missing field's name for a missing field), or of a string holding U+0000, which
/// PostgreSQL cannot store ([`crate::edge::NUL_MESSAGE`]; ARCHITECTURE.md §10).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // JSON can carry NUL only as the escape `\u0000`; look closer only when it appears.
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
            if let Some(path) = nul_path(&value, String::new()) {
                let field = if path.is_empty() {
                    "body".to_string()
                } else {
                    path
                };
                return Err(ApiError::validation(field, crate::edge::NUL_MESSAGE));
            }
        }
    }
    // Every request body of this API is a JSON object; serde would also read a struct from an
    // array (`[null, null]`), which the OpenAPI document does not allow.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::validation("body", "must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(&mut de) {
        Ok(v) => Ok(v),
        // JSON does not tell 5 from 5.0, and JSON Schema's `integer` admits both (2020-12
        // §6.1.1); serde does not. Integral numbers written with a fraction are read again as
        // integers.
        Err(e)
            if e.inner()
                .to_string()
                .starts_with("invalid type: floating point") =>
        {
            let mut value: serde_json::Value = serde_json::from_slice(bytes)
                .map_err(|e| ApiError::validation("body", e.to_string()))?;
            integral_floats_to_integers(&mut value);
            serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                field_error(&path, &inner.to_string(), false)
            })
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let syntax = inner.is_syntax() || inner.is_eof();
            Err(field_error(&path, &inner.to_string(), syntax))
        }
    }
}

/// The validation error of a deserialization failure at `path` (`.` is the top level).
fn field_error(path: &str, message: &str, syntax: bool) -> ApiError {
    let field = if let Some(missing) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
    {
        if path == "." {
            missing.to_string()
        } else {
            format!("{path}.{missing}")
        }
    } else if path == "." || syntax {
        "body".to_string()
    } else {
        path.to_string()
    };
    ApiError::validation(field, message)
}

/// Rewrites every number with a zero fraction that fits `i64` (`1730514.0`) as that integer.
fn integral_floats_to_integers(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                // 2^63 as f64; every integral f64 below it in magnitude is an exact i64.
                if f.fract() == 0.0 && f.abs() < 9.223_372_036_854_776e18 {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// The path (`ops[2].args.name`) of the first string or key in `value` holding U+0000.
fn nul_path(value: &serde_json::Value, here: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(here),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_path(v, format!("{here}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let path = if here.is_empty() {
                k.clone()
            } else {
                format!("{here}.{k}")
            };
            if k.contains('\0') {
                Some(if here.is_empty() {
                    "body".into()
                } else {
                    here.clone()
                })
            } else {
                nul_path(v, path)
            }
        }),
        _ => None,
    }
}

/// Whether a `Content-Type` header value is JSON: `application/json`, with or without
/// parameters (`; charset=utf-8`). Other `+json` types are refused: a body declared as
/// `application/evil+json` is not this API's format (ARCHITECTURE.md §10).
pub fn is_json_content_type(value: &str) -> bool {
    value
        .split(';')
        .next()
        .map(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
        .unwrap_or(false)
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(is_json_content_type)
            .unwrap_or(false);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::UnsupportedMediaType {
                    expected: "application/json",
                });
            }
            let bytes = bytes.await.map_err(body_error)?;
            if bytes.len() > MAX_JSON_BODY {
                return Err(ApiError::PayloadTooLarge {
                    limit: MAX_JSON_BODY,
                });
            }
            parse(&bytes).map(Json)
        })
    }
}

/// A JSON body that may be left out: `OptionalJson(None)` for a request with neither a body
/// nor a `Content-Type`; otherwise exactly [`Json`] (415 for another media type, the same
/// parse errors naming the field).
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let has_type = req
            .headers()
            .contains_key(actix_web::http::header::CONTENT_TYPE);
        if !has_type {
            // No type: absent only if there is truly nothing in it.
            let bytes = web::Bytes::from_request(req, payload);
            return Box::pin(async move {
                let bytes = bytes.await.map_err(body_error)?;
                if bytes.is_empty() {
                    Ok(OptionalJson(None))
                } else {
                    Err(ApiError::UnsupportedMediaType {
                        expected: "application/json",
                    })
                }
            });
        }
        let json = Json::<T>::from_request(req, payload);
        Box::pin(async move { Ok(OptionalJson(Some(json.await?.0))) })
    }
}

/// Maps a failure to read the body: over the limit is 413, anything else names `body`.
pub fn body_error(e: actix_web::Error) -> ApiError {
    use actix_web::error::PayloadError;
    match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::PayloadTooLarge {
            limit: MAX_JSON_BODY,
        },
        _ => ApiError::validation("body", e.to_string()),
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
        assert_eq!(field_of::<CreateUserRequest>("[null, null]"), "body");
    }

    #[test]
    fn integral_numbers_with_a_fraction_are_integers() {
        #[derive(serde::Deserialize)]
        struct Amount {
            amount: i64,
        }
        let a: Amount = super::parse(br#"{"amount": 1730514.0}"#).expect("integral");
        assert_eq!(a.amount, 1_730_514);
        assert_eq!(
            super::parse::<Amount>(br#"{"amount": 1.5}"#)
                .err()
                .and_then(|e| e.problem().field),
            Some("amount".to_string())
        );
    }

    #[test]
    fn nul_in_any_string_is_refused_with_its_path() {
        assert_eq!(
            field_of::<CreateUserRequest>(
                r#"{"username":"a\u0000b","display_name":"A","role":"admin","password":"x"}"#
            ),
            "username"
        );
        assert_eq!(
            field_of::<serde_json::Value>(r#"{"ops":[{"a":1},{"args":{"name":"\u0000"}}]}"#),
            "ops[1].args.name"
        );
        // An escaped backslash followed by `u0000` is six ordinary characters.
        assert!(super::parse::<serde_json::Value>(br#"{"a":"\\u0000"}"#).is_ok());
    }

    #[test]
    fn only_application_json_is_json() {
        use super::is_json_content_type as json;
        assert!(json("application/json"));
        assert!(json("Application/JSON; charset=utf-8"));
        assert!(!json("application/evil+json"));
        assert!(!json("application/jsonx"));
        assert!(!json("text/plain"));
    }
}
