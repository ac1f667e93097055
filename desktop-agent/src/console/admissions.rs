//! The admissions page (issue #17, "Spreadsheet admissions"): the admin downloads the
//! template, uploads the school's `.xlsx`, `.ods` or `.csv`, maps columns the file names
//! differently (remembered by the server for the school), reads the preview — every row's
//! outcome, each error with its sheet, row and column, and the families siblings were grouped
//! into — and imports it in one transaction. A corrected file is uploaded the same way.
//!
//! The file stays in this console's memory between the preview and the import (one per
//! session, for [`KEEP_MINUTES`]); the server reads and writes it. Offline the page says it
//! needs the server and changes nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use daftar_client_core::client::ClientError;
use daftar_client_core::protocol::{
    AdmissionField, AdmissionOutcome, AdmissionsMapping, AdmissionsPreview, FamilyGrouping,
    ImportReport,
};
use maud::{html, Markup};

use super::page;
use super::{admin_user, call_server, check_csrf, Console, Session};

/// Largest spreadsheet the page takes (the server's limit).
pub const MAX_SPREADSHEET: usize = 32 << 20;
/// How long an uploaded file waits for its import.
pub const KEEP_MINUTES: i64 = 30;
/// Rows listed in full besides the rows with errors (the counts cover all).
pub const ROWS_SHOWN: usize = 500;

/// A spreadsheet uploaded for preview.
#[derive(Clone)]
pub struct Upload {
    pub name: String,
    pub media_type: &'static str,
    pub bytes: Vec<u8>,
    pub group_by_phone: bool,
    at: DateTime<Utc>,
}

/// Uploaded files by session (its CSRF token names it).
#[derive(Default)]
pub struct Uploads(Mutex<HashMap<String, Upload>>);

impl Uploads {
    fn get(&self, session: &Session) -> Option<Upload> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        m.retain(|_, u| now - u.at < Duration::minutes(KEEP_MINUTES));
        m.get(&session.csrf).cloned()
    }

    fn put(&self, session: &Session, upload: Upload) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(session.csrf.clone(), upload);
    }

    fn forget(&self, session: &Session) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(&session.csrf);
    }
}

/// Routes of the admissions page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admissions", web::get().to(start_page))
        .route("/admissions/template.{format}", web::get().to(template))
        .route("/admissions/preview", web::post().to(upload))
        .route("/admissions/mapping", web::post().to(save_mapping))
        .route("/admissions/import", web::post().to(commit));
}

const WHAT: &str = "The admissions page";

/// The media type an upload named `*.zip` is sent as: a OneRoster 1.1 CSV export, which
/// the server imports by its own rules (ARCHITECTURE.md §11) with the same preview here.
const ONEROSTER_ZIP: &str = "application/zip";

/// The media type of a file by its name, or a message naming it.
fn media_type_of(name: &str) -> Result<&'static str, String> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "xlsx" => Ok("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        "ods" => Ok("application/vnd.oasis.opendocument.spreadsheet"),
        "csv" => Ok("text/csv"),
        "zip" => Ok(ONEROSTER_ZIP),
        _ => Err(format!(
            "{name}: choose an .xlsx, .ods or .csv file, or a OneRoster export's .zip (save other files in one of these first)"
        )),
    }
}

fn respond(console: &Console, session: &Session, status: u16, body: Markup) -> HttpResponse {
    console.with_store(|store| {
        page::html_response(status, page::frame(store, session, "Admissions", body))
    })
}

fn upload_form(session: &Session, group_by_phone: bool) -> Markup {
    html! {
        form #admissions-upload method="post" action="/admissions/preview" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(session.csrf);
            input #admissions-file type="file" name="file" accept=".xlsx,.ods,.csv,.zip" required;
            " " label { input #group-by-phone type="checkbox" name="group_by_phone" value="on" checked[group_by_phone]; " group siblings by a shared guardian phone" }
            " " button type="submit" { "Preview" }
        }
    }
}

fn intro(session: &Session) -> Markup {
    html! {
        h1 { "Admissions from a spreadsheet" }
        p.muted { "Students, their guardians and families from an .xlsx, .ods or .csv file. Nothing is written until you press Import on the preview; then all rows are written together, or none. A student already in the school (the same admission number) is updated, never added twice; an empty cell leaves what is stored." }
        p.muted { "A OneRoster 1.1 export (the .zip a student information system writes) is previewed and imported here too." }
        p { "Start from the template: " a #template-xlsx href="/admissions/template.xlsx" { "admissions-template.xlsx" } " · " a #template-csv href="/admissions/template.csv" { "admissions-template.csv" } " (its second sheet says what goes in each column)." }
        (upload_form(session, true))
    }
}

async fn start_page(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    match admin_user(&console, &req, WHAT) {
        Ok(session) => respond(&console, &session, 200, intro(&session)),
        Err(r) => *r,
    }
}

async fn template(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let session = match admin_user(&console, &req, WHAT) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let format = path.into_inner();
    if format != "xlsx" && format != "csv" {
        return console.with_store(|store| {
            page::error_page(store, &session, 404, "The template is .xlsx or .csv.")
        });
    }
    let query = vec![("format", format)];
    match call_server(&console, move |api| {
        api.get_file("/imports/admissions/template", &query)
    })
    .await
    {
        Ok(file) => {
            let mut r = HttpResponse::Ok();
            r.content_type(file.content_type);
            if let Some(d) = file.disposition {
                r.insert_header((header::CONTENT_DISPOSITION, d));
            }
            r.body(file.bytes)
        }
        Err(e) => respond(&console, &session, page::server_status(&e), unavailable(&e)),
    }
}

fn unavailable(e: &ClientError) -> Markup {
    page::needs_server(
        e,
        html! { "Admissions are read and written by the server, and the server is not answering now. Try again when the internet is back; nothing was changed." },
        "the file",
        "admissions-error",
    )
}

/// The form's CSRF token, the grouping choice and the file (name and bytes).
async fn read_upload(form: Multipart) -> Result<(String, bool, Option<(String, Vec<u8>)>), String> {
    let (fields, file) = super::forms::read_upload(form, MAX_SPREADSHEET).await?;
    let csrf = fields.get("csrf").cloned().unwrap_or_default();
    Ok((csrf, fields.contains_key("group_by_phone"), file))
}

async fn upload(console: web::Data<Console>, req: HttpRequest, form: Multipart) -> HttpResponse {
    let session = match admin_user(&console, &req, WHAT) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let refused = |console: &Console, session: &Session, message: String| {
        let body = html! { (intro(session)) p.error #admissions-error { (message) } };
        respond(console, session, 422, body)
    };
    let (csrf, group_by_phone, file) = match read_upload(form).await {
        Ok(u) => u,
        Err(m) => return refused(&console, &session, m),
    };
    if let Err(r) = check_csrf(&session, &csrf) {
        return *r;
    }
    // No new file: the same one again with the grouping choice changed.
    let upload = match file {
        Some((name, bytes)) => match media_type_of(&name) {
            Ok(media_type) => Upload {
                name,
                media_type,
                bytes,
                group_by_phone,
                at: Utc::now(),
            },
            Err(m) => return refused(&console, &session, m),
        },
        None => match console.admissions.get(&session) {
            Some(u) => Upload {
                group_by_phone,
                ..u
            },
            None => {
                return refused(
                    &console,
                    &session,
                    "file: choose the spreadsheet to import".into(),
                )
            }
        },
    };
    console.admissions.put(&session, upload.clone());
    preview_page(&console, &session, &upload, None).await
}

/// Asks the server for the preview of `upload` and shows it.
async fn preview_page(
    console: &Console,
    session: &Session,
    upload: &Upload,
    notice: Option<Markup>,
) -> HttpResponse {
    if upload.media_type == ONEROSTER_ZIP {
        let u = upload.clone();
        let answered = call_server(console, move |api| api.import_oneroster(&u.bytes, true)).await;
        return match answered {
            Ok(report) => {
                let body = oneroster_body(session, upload, &report, false, notice);
                respond(console, session, 200, body)
            }
            Err(e) => {
                let body = html! {
                    (intro(session))
                    @if let Some(n) = notice { (n) }
                    @match &e {
                        ClientError::Server { .. } => p.error #admissions-error { (e) },
                        _ => (unavailable(&e)),
                    }
                };
                respond(console, session, page::server_status(&e), body)
            }
        };
    }
    let u = upload.clone();
    let answered = call_server(console, move |api| {
        let preview =
            api.import_admissions(&u.bytes, u.media_type, &u.name, false, u.group_by_phone)?;
        let mapping = api.admissions_mapping()?;
        Ok((preview, mapping))
    })
    .await;
    match answered {
        Ok((p, mapping)) => {
            let body = preview_body(session, upload, &p, &mapping, notice);
            respond(console, session, 200, body)
        }
        Err(e) => {
            let body = html! {
                (intro(session))
                @if let Some(n) = notice { (n) }
                @match &e {
                    ClientError::Server { .. } => p.error #admissions-error { (e) },
                    _ => (unavailable(&e)),
                }
            };
            respond(console, session, page::server_status(&e), body)
        }
    }
}

/// The OneRoster preview (a dry run's report) or, with `committed`, what was imported.
fn oneroster_body(
    session: &Session,
    upload: &Upload,
    r: &ImportReport,
    committed: bool,
    notice: Option<Markup>,
) -> Markup {
    html! {
        @if committed { h1 { "Imported “" (upload.name) "”" } } @else { h1 { "Preview of “" (upload.name) "” (OneRoster 1.1)" } }
        @if let Some(n) = notice { (n) }
        p #oneroster-counts data-users=(r.users) data-enrollments=(r.enrollments) data-committed=(committed) {
            @if committed { "Written: " } @else { "Rows this export adds or changes: " }
            strong { (r.terms) } " terms, " strong { (r.classes) } " classes, " strong { (r.users) } " students and staff, "
            strong { (r.enrollments) } " enrolments, " strong { (r.deactivated) } " deactivated."
            @if !committed { " Nothing is written yet." }
        }
        @if r.is_unchanged() && !committed {
            p #admissions-nothing { "The school already matches this export: there is nothing to import." }
        }
        @if !r.warnings.is_empty() {
            table #oneroster-warnings {
                tr { th { "File" } th.num { "Line" } th { "Warning" } }
                @for w in &r.warnings { tr { td { (w.file) } td.num { (w.line) } td { (w.message) } } }
            }
        }
        @if committed {
            p { a href="/admissions" { "Import another file" } }
        } @else if !r.is_unchanged() {
            form #admissions-import method="post" action="/admissions/import" {
                input type="hidden" name="csrf" value=(session.csrf);
                button #import-admissions type="submit" { "Import this export" }
            }
        }
        @if !committed {
            h2 { "Upload another file" }
            (upload_form(session, upload.group_by_phone))
        }
    }
}

fn outcome_label(o: AdmissionOutcome) -> &'static str {
    match o {
        AdmissionOutcome::New => "new",
        AdmissionOutcome::Updated => "updated",
        AdmissionOutcome::Unchanged => "unchanged",
        AdmissionOutcome::Error => "error",
    }
}

fn grouping_label(g: FamilyGrouping) -> &'static str {
    match g {
        FamilyGrouping::FamilyKey => "same family key",
        FamilyGrouping::GuardianPhone => "same guardian phone",
        FamilyGrouping::Alone => "guardian already in the school",
    }
}

fn preview_body(
    session: &Session,
    upload: &Upload,
    p: &AdmissionsPreview,
    remembered: &AdmissionsMapping,
    notice: Option<Markup>,
) -> Markup {
    let c = p.counts;
    let errors: Vec<_> = p.rows.iter().flat_map(|r| r.errors.iter()).collect();
    let shown: Vec<_> = p
        .rows
        .iter()
        .filter(|r| r.outcome == AdmissionOutcome::Error)
        .chain(
            p.rows
                .iter()
                .filter(|r| r.outcome != AdmissionOutcome::Error)
                .take(ROWS_SHOWN),
        )
        .collect();
    html! {
        h1 { "Preview of “" (upload.name) "”" }
        @if let Some(n) = notice { (n) }
        p #admissions-counts data-new=(c.new) data-updated=(c.updated) data-unchanged=(c.unchanged) data-error=(c.error) {
            "Sheet " strong { (p.sheet) } ": "
            strong { (c.new) } " new, " strong { (c.updated) } " updated, " strong { (c.unchanged) } " unchanged, "
            strong.error[c.error > 0] { (c.error) } " with errors; "
            (c.new_families) " new families and " (c.new_guardians) " new guardians. Nothing is written yet."
        }
        @for w in &p.warnings { p.warning.admissions-warning { (w) } }
        @if c.error > 0 {
            p.error #admissions-has-errors { "Fix these " (errors.len()) " cells in the file and upload it again; rows with errors cannot be imported, and nothing is imported while any row has one." }
            table #admissions-errors {
                tr { th { "Sheet" } th.num { "Row" } th { "Column" } th { "Header" } th { "What is wrong" } }
                @for e in &errors {
                    tr.admission-error data-row=(e.row) data-column=(e.column) {
                        td { (e.sheet) } td.num { (e.row) } td { (e.column) } td { (e.header) } td { (e.message) }
                    }
                }
            }
        } @else if c.new + c.updated > 0 {
            form #admissions-import method="post" action="/admissions/import" {
                input type="hidden" name="csrf" value=(session.csrf);
                button #import-admissions type="submit" { "Import " (c.new) " new and " (c.updated) " updated students" }
            }
        } @else {
            p #admissions-nothing { "Every row matches what the school has: there is nothing to import." }
        }
        h2 { "Upload a corrected file" }
        (upload_form(session, upload.group_by_phone))
        h2 { "Families" }
        @if p.families.is_empty() {
            p.muted { "No siblings were grouped: each new student gets a family of their own." }
        } @else {
            p.muted { "Siblings the file puts in one family (one fee account). If a group is wrong, give those rows different family keys, or turn off grouping by phone above and preview again." }
            table #admissions-families {
                tr { th { "Family" } th { "Why" } th { "Admission numbers" } th {} }
                @for g in &p.families {
                    tr.admission-family data-key=(g.key) data-size=(g.admission_nos.len()) {
                        td { (g.family_name) @if g.family_id.is_some() { " " span.muted { "(already in the school)" } } }
                        td { (grouping_label(g.grouped_by)) }
                        td { (g.admission_nos.join(", ")) }
                        td { @if let Some(n) = &g.note { span.warning { (n) } } }
                    }
                }
            }
        }
        h2 { "Columns" }
        p.muted { "Which column of the file each field is read from. The school remembers your choice for its next file." }
        form #admissions-mapping method="post" action="/admissions/mapping" {
            input type="hidden" name="csrf" value=(session.csrf);
            table {
                tr { th { "Field" } th { "Read from column" } }
                @for f in AdmissionField::ALL {
                    @let current = p.mapping.get(f.key()).or_else(|| remembered.columns.get(f.key()));
                    tr {
                        td { (f.label()) @if f == AdmissionField::AdmissionNo { " (required)" } }
                        td { select name=(f.key()) id=(format!("map-{}", f.key())) {
                            option value="" selected[current.is_none()] { "(not in this file)" }
                            @for h in p.headers.iter().filter(|h| !h.is_empty()) {
                                option value=(h) selected[current == Some(h)] { (h) }
                            }
                        } }
                    }
                }
            }
            button #save-mapping type="submit" { "Use these columns and preview again" }
        }
        @if !p.ignored_headers.is_empty() {
            p.muted #ignored-headers { "Not read: " (p.ignored_headers.join(", ")) }
        }
        h2 { "Rows" }
        table #admissions-rows {
            tr { th.num { "Row" } th { "Admission no." } th { "Name" } th { "Outcome" } th { "Changes" } }
            @for r in &shown {
                tr.admission-row data-row=(r.row) data-outcome=(outcome_label(r.outcome)) {
                    td.num { (r.row) } td { (r.admission_no) } td { (r.name) }
                    td.error[r.outcome == AdmissionOutcome::Error] { (outcome_label(r.outcome)) }
                    td { (r.changes.join(", ")) }
                }
            }
        }
        @if shown.len() < p.rows.len() {
            p.muted { "… and " (p.rows.len() - shown.len()) " more rows without errors (counted above)." }
        }
    }
}

async fn save_mapping(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let session = match admin_user(&console, &req, WHAT) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let fields = form.into_inner();
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    if let Err(r) = check_csrf(&session, &csrf) {
        return *r;
    }
    let Some(upload) = console.admissions.get(&session) else {
        let body = html! { (intro(&session)) p.error #admissions-error { "The uploaded file is no longer here (it is kept " (KEEP_MINUTES) " minutes): upload it again." } };
        return respond(&console, &session, 422, body);
    };
    let mapping = AdmissionsMapping {
        columns: fields
            .into_iter()
            .filter(|(k, v)| AdmissionField::from_key(k).is_some() && !v.trim().is_empty())
            .collect(),
    };
    match call_server(&console, move |api| api.set_admissions_mapping(&mapping)).await {
        Ok(_) => {
            let notice =
                html! { p.understood #notice { "Columns saved for the school's next files too." } };
            preview_page(&console, &session, &upload, Some(notice)).await
        }
        Err(e) => {
            let notice = html! { p.error #admissions-error { "Columns not saved: " (e) } };
            preview_page(&console, &session, &upload, Some(notice)).await
        }
    }
}

#[derive(serde::Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn commit(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let session = match admin_user(&console, &req, WHAT) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Err(r) = check_csrf(&session, &form.csrf) {
        return *r;
    }
    let Some(upload) = console.admissions.get(&session) else {
        let body = html! { (intro(&session)) p.error #admissions-error { "The uploaded file is no longer here (it is kept " (KEEP_MINUTES) " minutes): upload it again." } };
        return respond(&console, &session, 422, body);
    };
    if upload.media_type == ONEROSTER_ZIP {
        let u = upload.clone();
        return match call_server(&console, move |api| api.import_oneroster(&u.bytes, false)).await {
            Ok(report) => {
                console.admissions.forget(&session);
                let body = oneroster_body(&session, &upload, &report, true, None);
                respond(&console, &session, 200, body)
            }
            Err(e) => {
                let notice = html! { p.error #admissions-error { "Nothing was imported: " (e) } };
                preview_page(&console, &session, &upload, Some(notice)).await
            }
        };
    }
    let u = upload.clone();
    let done = call_server(&console, move |api| {
        api.import_admissions(&u.bytes, u.media_type, &u.name, true, u.group_by_phone)
    })
    .await;
    match done {
        Ok(p) => {
            console.admissions.forget(&session);
            let c = p.counts;
            let body = html! {
                h1 { "Imported “" (upload.name) "”" }
                p.understood #admissions-imported data-new=(c.new) data-updated=(c.updated) {
                    strong { (c.new) } " students admitted and " strong { (c.updated) } " updated (" (c.unchanged) " unchanged), in "
                    (c.new_families) " new families with " (c.new_guardians) " new guardians. This computer receives them with its next sync."
                }
                p { a href="/admissions" { "Import another file" } }
            };
            respond(&console, &session, 200, body)
        }
        Err(e) => {
            let notice = html! { p.error #admissions-error { "Nothing was imported: " (e) } };
            preview_page(&console, &session, &upload, Some(notice)).await
        }
    }
}
