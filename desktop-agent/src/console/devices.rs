//! The devices page (issue #17, "Devices"): every computer and phone enrolled at the school —
//! whose it is, its receipt series, when it was enrolled, last seen, last pulled and pushed,
//! and the unsent edits it reported — with **revoke** (after a confirmation page) and the
//! **import** of a revoked device's exported outbox (`daftar-agent export-outbox` on that
//! device writes the file). For the admin only; the list lives on the server, so offline the
//! page says so and changes nothing.
//!
//! This computer cannot be revoked from itself (it would lock its own cashiers out mid-day);
//! another admin device does that.

use actix_multipart::Multipart;
use actix_web::{web, HttpRequest, HttpResponse};
use daftar_client_core::client::outbox_file::{self, ImportSummary, MAX_EXPORT_BYTES};
use daftar_client_core::client::ClientError;
use daftar_client_core::protocol::sync::EnrolledDevice;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::page::{self, local_time, school_tz};
use super::{admin_user, call_server, check_csrf, Console, Session};

/// Routes of the devices page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices", web::get().to(devices_page))
        .route("/devices/import", web::post().to(import))
        .route("/devices/{id}/revoke", web::get().to(confirm_revoke))
        .route("/devices/{id}/revoke", web::post().to(revoke));
}

/// This computer's device id, from its enrolment.
fn this_device(console: &Console) -> Option<Uuid> {
    console
        .with_store(|s| s.device("device_id"))
        .ok()
        .flatten()
        .and_then(|d| d.parse().ok())
}

fn unavailable(e: &ClientError) -> Markup {
    page::needs_server(
        e,
        html! { "The list of devices is kept on the server, and the server is not answering now. Try again when the internet is back; nothing was changed." },
        "the devices",
        "devices-error",
    )
}

/// The page: `notice` (what was just done) above the list, fetched from the server now.
async fn list_page(
    console: &web::Data<Console>,
    session: &Session,
    status: u16,
    notice: Option<Markup>,
) -> HttpResponse {
    let listed = call_server(console, |api| api.devices()).await;
    let tz = console.with_store(school_tz);
    let here = this_device(console);
    let (status, list) = match listed {
        Ok(devices) => (status, table(&devices, here, tz)),
        Err(e) => (page::server_status(&e), unavailable(&e)),
    };
    let body = html! {
        h1 { "Devices" }
        p.muted { "Every computer and phone enrolled at the school. Revoking one stops it at once: it can no longer sign in, send or receive; what it has not sent stays on it, to be exported there and imported here. Its receipt series is never given to another device. Times in the school's time zone." }
        @if let Some(n) = notice { (n) }
        (list)
        h2 { "Import a revoked device's unsent edits" }
        p.muted { "On the revoked computer run " code { "daftar-agent export-outbox --file unsent.json" } " and bring the file here. Its edits are applied as that device would have sent them — its cashier, its receipt numbers — and each only once, so importing a file twice changes nothing." }
        form #import-form method="post" action="/devices/import" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(session.csrf);
            input #import-file type="file" name="file" accept=".json,application/json" required;
            " " button type="submit" { "Import" }
        }
    };
    console.with_store(|store| {
        page::html_response(status, page::frame(store, session, "Devices", body))
    })
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>, tz: chrono_tz::Tz) -> Markup {
    match at {
        Some(t) => html! { (local_time(t, tz)) },
        None => html! { span.muted { "never" } },
    }
}

fn table(devices: &[EnrolledDevice], here: Option<Uuid>, tz: chrono_tz::Tz) -> Markup {
    html! {
        table #devices {
            tr {
                th { "Device" } th { "Whose" } th { "Receipts" } th { "Enrolled" } th { "Last seen" }
                th { "Last pull" } th { "Last push" } th.num { "Unsent edits (last reported)" } th { "State" } th {}
            }
            @for d in devices {
                tr.device data-device=(d.id) data-name=(d.name) data-state=(if d.revoked_at.is_some() { "revoked" } else { "active" }) {
                    td { (d.name) " " span.muted { (d.kind) } @if Some(d.id) == here { " " strong #this-computer { "(this computer)" } } }
                    td { (d.user_display_name) " " span.muted { "(" (d.username) ")" } }
                    td { code { (d.receipt_series) } }
                    td { (local_time(d.enrolled_at, tz)) }
                    td { (when(d.last_seen_at, tz)) }
                    td { (when(d.last_pull_at, tz)) }
                    td { (when(d.last_push_at, tz)) }
                    td.num.queued { @match d.queued_ops { Some(n) => (n), None => span.muted { "not reported" } } }
                    td.state { @match d.revoked_at {
                        Some(t) => span.error { "Revoked " (local_time(t, tz)) },
                        None => "Active",
                    } }
                    td { @if d.revoked_at.is_none() && Some(d.id) != here {
                        a.revoke href=(format!("/devices/{}/revoke", d.id)) { "Revoke…" }
                    } }
                }
            }
        }
    }
}

async fn devices_page(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    match admin_user(&console, &req, "The devices page") {
        Ok(session) => list_page(&console, &session, 200, None).await,
        Err(r) => *r,
    }
}

async fn confirm_revoke(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> HttpResponse {
    let session = match admin_user(&console, &req, "The devices page") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    let listed = call_server(&console, |api| api.devices()).await;
    let tz = console.with_store(school_tz);
    let (status, body) = match listed {
        Err(e) => (page::server_status(&e), unavailable(&e)),
        Ok(devices) => match devices.into_iter().find(|d| d.id == id) {
            None => (
                404,
                html! { p.error #page-error { "No device with that id is enrolled at the school." } },
            ),
            Some(d) if d.revoked_at.is_some() => (
                200,
                html! { p #already { "“" (d.name) "” is revoked already." } a href="/devices" { "Back to devices" } },
            ),
            Some(d) if Some(d.id) == this_device(&console) => (
                422,
                html! { p.error #page-error { "This is the computer you are using: revoke it from another admin device." } },
            ),
            Some(d) => (
                200,
                html! {
                    h1 { "Revoke “" (d.name) "”?" }
                    p { (d.user_display_name) " (" (d.username) ") · receipts " code { (d.receipt_series) } " · last seen " (when(d.last_seen_at, tz)) }
                    ul {
                        li { "It stops at once: it can no longer sign in, send or receive, and it says it was revoked." }
                        li { "Edits it has not sent stay on it"
                            @if let Some(n) = d.queued_ops { " (it last reported " strong #queued { (n) } ")" }
                            ": export them there and import them on this page." }
                        li { "Its receipt series " code { (d.receipt_series) } " is never given to another device." }
                        li { "This cannot be undone: to use it again, enrol it anew." }
                    }
                    form method="post" action=(format!("/devices/{}/revoke", d.id)) {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button #confirm-revoke type="submit" { "Revoke " (d.name) }
                        " " a href="/devices" { "Cancel" }
                    }
                },
            ),
        },
    };
    console.with_store(|store| {
        page::html_response(
            status,
            page::frame(store, &session, "Revoke a device", body),
        )
    })
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn revoke(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let session = match admin_user(&console, &req, "The devices page") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Err(r) = check_csrf(&session, &form.csrf) {
        return *r;
    }
    let id = path.into_inner();
    if Some(id) == this_device(&console) {
        let notice = html! { p.error #devices-error { "This is the computer you are using: revoke it from another admin device." } };
        return list_page(&console, &session, 422, Some(notice)).await;
    }
    match call_server(&console, move |api| api.revoke_device(id)).await {
        Ok(d) => {
            let notice = html! { p.understood #notice { "“" (d.name) "” is revoked: its next sync is refused, and what it has not sent stays on it." } };
            list_page(&console, &session, 200, Some(notice)).await
        }
        Err(e) => {
            let notice = html! { p.error #devices-error { "Not revoked: " (e) } };
            list_page(&console, &session, page::server_status(&e), Some(notice)).await
        }
    }
}

/// The uploaded form: its CSRF token, the file's name and bytes.
///
/// Errors: a message naming what is missing or too large.
async fn read_upload(form: Multipart) -> Result<(String, String, Vec<u8>), String> {
    let (fields, file) = super::forms::read_upload(form, MAX_EXPORT_BYTES).await?;
    let (name, bytes) = file.ok_or("file: choose the file export-outbox wrote")?;
    Ok((fields.get("csrf").cloned().unwrap_or_default(), name, bytes))
}

async fn import(console: web::Data<Console>, req: HttpRequest, form: Multipart) -> HttpResponse {
    let session = match admin_user(&console, &req, "The devices page") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (csrf, name, bytes) = match read_upload(form).await {
        Ok(u) => u,
        Err(message) => {
            let notice = html! { p.error #import-error { (message) } };
            return list_page(&console, &session, 422, Some(notice)).await;
        }
    };
    if let Err(r) = check_csrf(&session, &csrf) {
        return *r;
    }
    let export = match outbox_file::parse_export(&name, &bytes) {
        Ok(e) => e,
        Err(e) => {
            let notice = html! { p.error #import-error { (e) } };
            return list_page(&console, &session, 422, Some(notice)).await;
        }
    };
    let from = format!(
        "from “{}” ({}, receipts {})",
        name, export.username, export.receipt_series
    );
    match call_server(&console, move |api| api.import_outbox(&export)).await {
        Ok(outcomes) => {
            let s = ImportSummary::of(&outcomes);
            let notice = html! {
                p.understood #notice { (s) " — " (from) "." }
                @if s.rejected > 0 || s.conflicts > 0 {
                    p.warning { "The server's needs-attention list has the rejected and conflicting ones." }
                }
            };
            list_page(&console, &session, 200, Some(notice)).await
        }
        Err(e) => {
            let notice = html! { p.error #import-error { "Not imported " (from) ": " (e) } };
            list_page(&console, &session, page::server_status(&e), Some(notice)).await
        }
    }
}
