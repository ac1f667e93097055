//! What the console's admin forms share: the posted fields by name, the checks every change
//! makes first (an admin signed in, the session's CSRF token), and reading required and
//! optional text with an error that names the field as the page labels it.

use std::collections::HashMap;

use actix_web::{web, HttpRequest, HttpResponse};

use super::{admin_user, check_csrf, Console, Session};

/// A form's fields by name (a field sent twice keeps the last).
pub type Fields = HashMap<String, String>;

/// `name`, trimmed; an error naming `label` when empty.
pub fn required<'f>(f: &'f Fields, name: &str, label: &str) -> Result<&'f str, String> {
    match f.get(name).map(|v| v.trim()) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("{label}: this is needed")),
    }
}

pub fn optional<'f>(f: &'f Fields, name: &str) -> Option<&'f str> {
    f.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The signed-in admin with a valid CSRF token, and the form's fields. `what` names the page
/// in the refusal a non-admin sees.
pub fn admin_form(
    console: &Console,
    req: &HttpRequest,
    form: web::Form<Vec<(String, String)>>,
    what: &str,
) -> Result<(Session, Fields), Box<HttpResponse>> {
    let session = admin_user(console, req, what)?;
    let fields: Fields = form.into_inner().into_iter().collect();
    check_csrf(
        &session,
        fields.get("csrf").map(String::as_str).unwrap_or_default(),
    )?;
    Ok((session, fields))
}
