//! Completes the OpenAPI document utoipa derives, so the spec says what the server really
//! answers (ARCHITECTURE.md §10).
//!
//! The handlers' `#[utoipa::path]` annotations declare their success responses and the errors
//! particular to them. What every operation of a kind can answer is added here, once:
//!
//! | answered when | status |
//! |---|---|
//! | the operation needs a bearer token (it has `security`) | 401 `unauthorized`, 403 `forbidden` |
//! | the path has a `{parameter}` | 404 `not_found` |
//! | the operation takes parameters or a body | 422 `validation_failed` |
//! | the operation takes a body | 413 `payload_too_large`, 415 `unsupported_media_type` |
//! | the operation takes a body (not login/refresh/logout) | 409 `already_exists` and kin |
//! | every `/api/v1` operation (the database is busy or down) | 503 `service_unavailable` |
//!
//! Every error response is an RFC 9457 problem document, so its media type is
//! `application/problem+json` (utoipa writes `application/json` for any `body = Problem`).

use serde_json::{json, Map, Value};

/// Media type of every error body (RFC 9457 §3).
pub const PROBLEM_JSON: &str = "application/problem+json";

const METHODS: [&str; 7] = ["get", "put", "post", "delete", "patch", "head", "options"];

/// Adds the common error responses to every operation of `spec` and gives every error
/// response the problem media type (see the module doc).
pub fn complete(spec: &mut Value) {
    report_schemas(spec);
    string_rules(spec);
    let Some(paths) = spec.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for method in METHODS {
            if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                complete_operation(path, op);
            }
        }
    }
}

/// Strings PostgreSQL can store hold no U+0000 (refused with 422, [`crate::edge`]); every
/// free-text string schema says so with a pattern. UUIDs and dates also get the pattern of
/// their format, for generators that do not honour `format`.
const NO_NUL: &str = "^[^\\u0000]*$";
const UUID_PATTERN: &str =
    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";
const DATE_TIME_PATTERN: &str =
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$";

fn string_rules(node: &mut Value) {
    match node {
        Value::Object(map) => {
            let is_string = match map.get("type") {
                Some(Value::String(t)) => t == "string",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                _ => false,
            };
            if is_string && !map.contains_key("pattern") && !map.contains_key("enum") {
                let pattern = match map.get("format").and_then(Value::as_str) {
                    None => Some(NO_NUL),
                    Some("uuid") => Some(UUID_PATTERN),
                    Some("date") => Some(DATE_PATTERN),
                    Some("date-time") => Some(DATE_TIME_PATTERN),
                    Some(_) => None,
                };
                if let Some(p) = pattern {
                    map.insert("pattern".into(), Value::String(p.into()));
                }
            }
            for v in map.values_mut() {
                string_rules(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(string_rules),
        _ => {}
    }
}

/// Gives each report operation its own response schema ([`crate::reports::openapi_schema`])
/// in place of the generic `ReportTable`.
fn report_schemas(spec: &mut Value) {
    use crate::reports::{openapi_schema, ReportName};
    for name in ReportName::ALL {
        let path = format!("/api/v1/reports/{}", name.as_str());
        let schema_ref = format!("#/components/schemas/{}", name.schema_name());
        let Some(json_body) = spec
            .pointer_mut(&format!(
                "/paths/{}/get/responses/200/content/application~1json",
                path.replace('~', "~0").replace('/', "~1")
            ))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        json_body.insert("schema".into(), json!({ "$ref": schema_ref }));
        if let Some(schemas) = spec
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
        {
            schemas.insert(name.schema_name().into(), openapi_schema(name));
        }
    }
}

fn complete_operation(path: &str, op: &mut Map<String, Value>) {
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let has_body = op.contains_key("requestBody");
    let has_params = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let mut common: Vec<(&str, &str)> = Vec::new();
    if secured {
        common.push(("401", "Missing, invalid, expired or revoked access token"));
        common.push(("403", "The caller's role or scope does not allow this"));
    }
    if path.contains('{') {
        common.push(("404", "No such record in the caller's school"));
    }
    if has_params || has_body {
        common.push((
            "422",
            "A parameter or body field is invalid; `field` names it",
        ));
    }
    if has_body && !path.starts_with("/api/v1/auth/") {
        common.push((
            "409",
            "Conflicts with what is stored: the id, or a field that must be unique, is in use",
        ));
    }
    if has_body {
        common.push(("413", "The request body is too large"));
        common.push((
            "415",
            "The request body's Content-Type is not the one this endpoint reads",
        ));
    }
    if path.starts_with("/api/v1/") {
        common.push((
            "503",
            "The database is busy or unavailable; retry after `Retry-After`",
        ));
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    let Some(responses) = responses else {
        return;
    };
    for (status, description) in common {
        responses.entry(status).or_insert_with(|| {
            json!({
                "description": description,
                "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
            })
        });
    }
    for (status, response) in responses.iter_mut() {
        let is_error = status.starts_with('4') || status.starts_with('5');
        let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
            continue;
        };
        if let Some(stream) = content.get_mut("text/event-stream") {
            // Each Server-Sent Event (WHATWG HTML §9.2) is `event: poke` with the school's
            // version as `data` (`crate::sync::events`).
            stream["schema"] = json!({
                "type": "object",
                "required": ["event", "data"],
                "properties": {
                    "event": {"type": "string", "enum": ["poke"]},
                    "data": {"type": "string", "pattern": "^[0-9]+$"}
                }
            });
        }
        if is_error {
            if let Some(body) = content.remove("application/json") {
                content.insert(PROBLEM_JSON.to_string(), body);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_become_problem_documents_and_common_statuses_are_added() {
        let mut spec = json!({"paths": {"/api/v1/students/{id}": {"patch": {
            "security": [{"bearer": []}],
            "requestBody": {},
            "parameters": [{"name": "id"}],
            "responses": {
                "200": {"description": "ok", "content": {"application/json": {}}},
                "409": {"description": "x", "content": {"application/json": {}}}
            }
        }}}});
        complete(&mut spec);
        let r = &spec["paths"]["/api/v1/students/{id}"]["patch"]["responses"];
        assert!(r["200"]["content"]["application/json"].is_object());
        assert!(r["409"]["content"][PROBLEM_JSON].is_object());
        assert!(r["409"]["content"]["application/json"].is_null());
        for s in ["401", "403", "404", "413", "415", "422", "503"] {
            assert!(r[s]["content"][PROBLEM_JSON].is_object(), "{s}");
        }
    }
}
