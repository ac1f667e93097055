//! Registers in the console (office-console issue, "Registers"): pick a class and a date (the
//! school's today by default), the whole class on one screen with everyone present by default,
//! a code per exception, and the classes whose register is not taken yet today. Marking is
//! `office::mark_register` (one outbox op with overlay marks), so it works offline; the
//! school's precedence rule asks for a reason before a teacher's mark is changed.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use daftar_client_core::client::{office, ClientError, Store};
use daftar_client_core::protocol::synced;
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use super::cashier::school_today;
use super::page;
use super::{office_change, office_user};
use super::{Console, Session};

/// Routes of the register pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/registers", web::get().to(registers_page))
        .route("/registers/{class}/{date}", web::post().to(mark));
}

#[derive(Deserialize)]
struct Pick {
    class: Option<Uuid>,
    date: Option<NaiveDate>,
}

/// Every class on this device with its register on `on_date` (classes with nobody enrolled
/// left out), by class name.
pub fn class_registers(
    store: &mut Store,
    on_date: NaiveDate,
) -> Result<Vec<(synced::Class, Vec<office::RegisterLine>)>, ClientError> {
    let mut out = Vec::new();
    for c in office::classes(store)? {
        let lines = office::register(store, c.id, on_date)?;
        if !lines.is_empty() {
            out.push((c, lines));
        }
    }
    Ok(out)
}

/// Whether nobody in `lines` is marked yet.
pub fn not_taken(lines: &[office::RegisterLine]) -> bool {
    lines.iter().all(|l| l.code.is_none())
}

fn body(
    store: &mut Store,
    session: &Session,
    class: Option<Uuid>,
    on_date: NaiveDate,
    error: Option<&str>,
    wanted: &HashMap<Uuid, String>,
    saved: bool,
) -> Result<Markup, ClientError> {
    let classes = office::classes(store)?;
    let codes = office::attendance_codes(store)?;
    let today = school_today(store);
    let missing: Vec<(Uuid, String)> = class_registers(store, today)?
        .into_iter()
        .filter(|(_, lines)| not_taken(lines))
        .map(|(c, _)| (c.id, c.name))
        .collect();
    let lines = match class {
        Some(c) => office::register(store, c, on_date)?,
        None => Vec::new(),
    };
    Ok(html! {
        h1 { "Registers" }
        form method="get" action="/registers" {
            label { "Class " select #class name="class" {
                @for c in &classes { option value=(c.id) selected[Some(c.id) == class] { (c.name) } }
            } }
            " "
            label { "Date " input #date type="date" name="date" value=(on_date); }
            " " button type="submit" { "Open" }
        }
        @if !missing.is_empty() {
            p #not-taken { "Not yet taken today (" (today) "): "
                @for (i, (id, name)) in missing.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href={ "/registers?class=" (id) "&date=" (today) } { (name) }
                }
            }
        }
        @if saved { p.understood #register-saved { "Register saved on this computer; it goes to the server with the next sync." } }
        @if let Some(e) = error { p.error #register-error { (e) } }
        @if let Some(class_id) = class {
            form #register method="post" action={ "/registers/" (class_id) "/" (on_date) } {
                input type="hidden" name="csrf" value=(session.csrf);
                table #marks {
                    tr { th { "Student" } th { "Mark" } th { "By" } }
                    @for l in &lines {
                        @let current = wanted.get(&l.student_id).cloned().or_else(|| l.code.clone()).unwrap_or_else(|| "P".into());
                        tr {
                            td { (l.student) " " span.muted { (l.admission_no) } }
                            td { select name={ "code_" (l.student_id) } data-student=(l.student) {
                                @for c in &codes { option value=(c.code) selected[c.code == current] { (c.code) " " (c.label) } }
                            } }
                            td.muted { (l.source.map(|s| s.as_str()).unwrap_or("")) }
                        }
                    }
                }
                p { label { "Reason (needed to change a teacher's marks) " input #register-reason name="reason" size="40"; } }
                button #save-register type="submit" { "Save register" }
            }
        }
    })
}

async fn registers_page(
    console: web::Data<Console>,
    req: HttpRequest,
    q: web::Query<Pick>,
) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let saved = req.query_string().contains("saved=1");
    console.with_store(|store| {
        let on_date = q.date.unwrap_or_else(|| school_today(store));
        match body(
            store,
            &session,
            q.class,
            on_date,
            None,
            &HashMap::new(),
            saved,
        ) {
            Ok(b) => page::html_response(200, page::frame(store, &session, "Registers", b)),
            Err(e) => page::html_response(500, html! { p.error { (e.to_string()) } }),
        }
    })
}

async fn mark(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<(Uuid, NaiveDate)>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let fields: HashMap<String, String> = form.into_inner().into_iter().collect();
    let csrf = fields.get("csrf").map(String::as_str).unwrap_or("");
    let session = match office_change(&console, &req, csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (class_id, on_date) = path.into_inner();
    let wanted: HashMap<Uuid, String> = fields
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("code_")?.parse().ok()?, v.clone())))
        .collect();
    let reason = fields
        .get("reason")
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    let exceptions: Vec<(Uuid, String)> = wanted
        .iter()
        .filter(|(_, c)| !c.eq_ignore_ascii_case("P"))
        .map(|(s, c)| (*s, c.clone()))
        .collect();
    console.with_store(|store| {
        match office::mark_register(store, class_id, on_date, "P", &exceptions, reason) {
            Ok(_) => HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/registers?class={class_id}&date={on_date}&saved=1"),
                ))
                .finish(),
            Err(e) => {
                let msg = e.to_string();
                match body(
                    store,
                    &session,
                    Some(class_id),
                    on_date,
                    Some(&msg),
                    &wanted,
                    false,
                ) {
                    Ok(b) => page::html_response(422, page::frame(store, &session, "Registers", b)),
                    Err(e) => page::html_response(500, html! { p.error { (e.to_string()) } }),
                }
            }
        }
    })
}
