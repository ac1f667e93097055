//! A query-string extractor whose errors name the offending parameter.
//!
//! `actix_web::web::Query` reports serde's message without saying which parameter was wrong;
//! this one deserialises with `serde_path_to_error`, so `?limit=abc` answers 422
//! `validation_failed` with `field` = `limit` (ARCHITECTURE.md §10).

use std::future::{ready, Ready};

use actix_web::{dev::Payload, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::errors::ApiError;

/// The query string of a request, as `T`.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> Query<T> {
    /// The parameters.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Parses a query string as `T`.
///
/// Errors: [`ApiError::Validation`] naming the parameter (`query` when the string is not
/// `key=value` pairs at all).
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let field = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
            .unwrap_or_else(|| if path == "." { "query".into() } else { path });
        ApiError::validation(field, message)
    })
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req.query_string()).map(Query))
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<i64>,
        need: String,
    }

    #[test]
    fn errors_name_the_parameter() {
        let field = |q: &str| {
            parse::<Q>(q)
                .expect_err("invalid")
                .problem()
                .field
                .unwrap_or_default()
        };
        assert_eq!(field("need=x&limit=abc"), "limit");
        assert_eq!(field("limit=5"), "need");
        assert!(parse::<Q>("need=a%20b&limit=5").is_ok());
    }
}
