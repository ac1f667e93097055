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

/// A multipart form with one file: its text fields by name, and the file `file` (its name and
/// bytes; `None` when none was chosen). Text fields are at most 4 KiB, the file `max_file`
/// bytes.
///
/// Errors: a message for the page naming what could not be read or was too large.
pub async fn read_upload(
    mut form: actix_multipart::Multipart,
    max_file: usize,
) -> Result<(Fields, Option<(String, Vec<u8>)>), String> {
    use futures_util::StreamExt;
    let (mut fields, mut file) = (Fields::new(), None);
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| format!("the upload could not be read: {e}"))?;
        let Some(name) = field.name().map(str::to_string) else {
            continue;
        };
        if name == "file" {
            let file_name = field
                .content_disposition()
                .and_then(|d| d.get_filename())
                .unwrap_or("the file")
                .to_string();
            let b = field
                .bytes(max_file)
                .await
                .map_err(|_| format!("{file_name}: larger than {}", size_label(max_file)))?
                .map_err(|e| format!("the upload could not be read: {e}"))?;
            if !b.is_empty() {
                file = Some((file_name, b.to_vec()));
            }
        } else {
            let b = field
                .bytes(4096)
                .await
                .map_err(|_| format!("{name}: too long"))?
                .map_err(|e| format!("the upload could not be read: {e}"))?;
            fields.insert(name, String::from_utf8_lossy(&b).into_owned());
        }
    }
    Ok((fields, file))
}

/// `bytes` for a person: whole MiB when it is one, else KiB.
fn size_label(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes % (1 << 20) == 0 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes / 1024)
    }
}
