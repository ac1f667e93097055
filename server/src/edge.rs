//! What every request meets before a handler sees it: requests no route takes, and strings
//! PostgreSQL cannot store.
//!
//! - [`RouteTable`] answers a request that no route matched: 405 `method_not_allowed` with an
//!   `Allow` header when the path exists under another method (RFC 9110 §15.5.6), else 404
//!   `not_found`, both as problem documents. The table is built from the OpenAPI document, so
//!   it lists exactly the routes the spec declares.
//! - [`reject_nul_in_query`] refuses a query string holding U+0000 with 422 naming the
//!   parameter. PostgreSQL `text` cannot hold NUL (it fails the statement with "invalid byte
//!   sequence"), so such a string must never reach it. JSON bodies are checked by
//!   [`crate::json::parse`], import files by the OneRoster reader (ARCHITECTURE.md §10).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest};

use crate::errors::ApiError;

/// The message every NUL refusal carries.
pub const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

/// One route: its path template split into segments (`None` = a `{param}` segment) and the
/// methods it answers, upper case.
#[derive(Debug, Clone)]
struct Route {
    segments: Vec<Option<String>>,
    methods: Vec<String>,
}

/// Every declared path and its methods, for answering unrouted requests.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// The routes of an OpenAPI document (`paths` → path template → method → operation), plus
    /// `extra` `(path, method)` pairs served outside the document (e.g. the spec itself).
    pub fn from_openapi(spec: &serde_json::Value, extra: &[(&str, &str)]) -> Self {
        let mut table = RouteTable::default();
        if let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let methods = item
                    .as_object()
                    .map(|ops| {
                        ops.keys()
                            .filter(|m| {
                                matches!(
                                    m.as_str(),
                                    "get"
                                        | "put"
                                        | "post"
                                        | "delete"
                                        | "patch"
                                        | "head"
                                        | "options"
                                )
                            })
                            .map(|m| m.to_ascii_uppercase())
                            .collect()
                    })
                    .unwrap_or_default();
                table.add(path, methods);
            }
        }
        for (path, method) in extra {
            table.add(path, vec![method.to_ascii_uppercase()]);
        }
        table
    }

    fn add(&mut self, template: &str, methods: Vec<String>) {
        let segments: Vec<Option<String>> = template
            .trim_matches('/')
            .split('/')
            .map(|s| (!s.starts_with('{')).then(|| s.to_string()))
            .collect();
        match self.routes.iter_mut().find(|r| r.segments == segments) {
            Some(r) => r.methods.extend(methods),
            None => self.routes.push(Route { segments, methods }),
        }
    }

    /// The methods `path` answers (sorted, deduplicated), or `None` when no route has it.
    pub fn methods_of(&self, path: &str) -> Option<Vec<String>> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut methods: Vec<String> = self
            .routes
            .iter()
            .filter(|r| {
                r.segments.len() == parts.len()
                    && r.segments.iter().zip(&parts).all(|(s, p)| match s {
                        Some(lit) => lit == p,
                        None => !p.is_empty(),
                    })
            })
            .flat_map(|r| r.methods.iter().cloned())
            .collect();
        if methods.is_empty() {
            return None;
        }
        methods.sort();
        methods.dedup();
        Some(methods)
    }
}

/// The app's default service: 405 with `Allow` when the path exists under other methods,
/// otherwise 404 — both as RFC 9457 problem documents.
pub async fn unrouted(
    req: HttpRequest,
    table: web::Data<RouteTable>,
) -> Result<actix_web::HttpResponse, ApiError> {
    Err(match table.methods_of(req.path()) {
        Some(allow) => ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow,
        },
        None => ApiError::NotFound("endpoint"),
    })
}

/// The name of the first query parameter whose name or value holds U+0000 after
/// percent-decoding, if any (`query` for a string that is not `key=value` pairs).
pub fn nul_in_query(query: &str) -> Option<String> {
    if !query.contains('\0') && !query.to_ascii_lowercase().contains("%00") {
        return None;
    }
    match web::Query::<Vec<(String, String)>>::from_query(query) {
        Ok(pairs) => pairs
            .into_inner()
            .into_iter()
            .find(|(k, v)| k.contains('\0') || v.contains('\0'))
            .map(|(k, _)| {
                if k.contains('\0') {
                    "query".to_string()
                } else {
                    k
                }
            }),
        Err(_) => Some("query".to_string()),
    }
}

/// Middleware: 422 `validation_failed` naming the parameter when the query string or a path
/// segment holds U+0000 (see the module doc).
pub async fn reject_nul_in_query(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let raw_path = req.uri().path();
    let field = nul_in_query(req.query_string()).or_else(|| {
        (raw_path.contains('\0') || raw_path.to_ascii_lowercase().contains("%00"))
            .then(|| "path".to_string())
    });
    if let Some(field) = field {
        let refused = ApiError::validation(field, NUL_MESSAGE);
        return Ok(req.error_response(refused).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table_tells_405_from_404() {
        let spec = serde_json::json!({"paths": {
            "/api/v1/students": {"get": {}, "post": {}},
            "/api/v1/students/{id}": {"get": {}, "patch": {}, "delete": {}},
            "/api/v1/students/{id}/attendance": {"get": {}},
        }});
        let t = RouteTable::from_openapi(&spec, &[("/api/v1/openapi.json", "get")]);
        assert_eq!(
            t.methods_of("/api/v1/students"),
            Some(vec!["GET".into(), "POST".into()])
        );
        assert_eq!(
            t.methods_of("/api/v1/students/abc"),
            Some(vec!["DELETE".into(), "GET".into(), "PATCH".into()])
        );
        assert_eq!(
            t.methods_of("/api/v1/openapi.json"),
            Some(vec!["GET".into()])
        );
        assert_eq!(t.methods_of("/api/v1/students/abc/marks"), None);
        assert_eq!(t.methods_of("/api/v1/nothing"), None);
    }

    #[test]
    fn nul_is_found_in_names_and_values() {
        assert_eq!(nul_in_query("q=ali&limit=5"), None);
        assert_eq!(nul_in_query("limit=5&q=a%00b"), Some("q".into()));
        assert_eq!(nul_in_query("a%00=1"), Some("query".into()));
        assert_eq!(
            nul_in_query("q=%2500"),
            None,
            "an escaped percent is not a NUL"
        );
    }
}
