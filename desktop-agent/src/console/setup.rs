//! The school setup pages (issue #17, "Admin pages"): the school's settings (name, address,
//! currency, time zone, attendance edit window), attendance codes, academic years and their
//! terms, classes
//! and sections with their homeroom teachers, fee heads, fee schedules per class and term, and
//! the term's invoice run — previewed first (how many invoices, for how many families, how
//! much per fee head, who is skipped as already invoiced), then issued — and the late-fine
//! rules, each previewed (how many overdue invoices it would fine, and the total) and run.
//!
//! For the admin only. Everything here is read from and written to the server at once (a
//! school's structure is not edited offline); when the server does not answer, the pages say
//! so and change nothing. Each form is one request, so one logical change: a year is created
//! with its terms or not at all.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use daftar_client_core::client::{office, Api, ClientError};
use daftar_client_core::money::parse_money;
use daftar_client_core::protocol::{
    AcademicYear, AttendanceCategory, AttendanceCode, Class, CreateAcademicYearRequest,
    CreateAttendanceCodeRequest, CreateClassRequest, CreateFeeHeadRequest,
    CreateFeeScheduleRequest, CreateLateFineRuleRequest, FeeHead, FeeSchedule, InvoiceRunPreview,
    LateFineRule, LateFineRun, NewTerm, Role, School, TeacherAssignment, Term,
    UpdateLateFineRuleRequest, UpdateSchoolRequest, User,
};
use maud::{html, Markup};
use uuid::Uuid;

use super::forms::{admin_form, optional, required, Fields};
use super::page::{self, money};
use super::{admin_user, call_server, Console, Session};

const WHAT: &str = "School setup";
/// Term rows offered by the new-year form (empty rows are left out).
pub const TERM_ROWS: usize = 4;

/// Routes of the setup pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/setup", web::get().to(setup_page))
        .route("/setup/school", web::post().to(update_school))
        .route("/setup/logo", web::get().to(current_logo))
        .route("/setup/logo", web::post().to(upload_logo))
        .route("/setup/logo/remove", web::post().to(remove_logo))
        .route(
            "/setup/attendance-codes",
            web::post().to(create_attendance_code),
        )
        .route("/setup/years", web::post().to(create_year))
        .route("/setup/classes", web::post().to(create_class))
        .route("/setup/fee-heads", web::post().to(create_fee_head))
        .route("/setup/fee-schedules", web::post().to(create_fee_schedule))
        .route("/setup/invoices", web::get().to(invoice_preview))
        .route("/setup/invoices", web::post().to(issue_invoices))
        .route("/setup/invoices/progress", web::get().to(invoice_progress))
        .route("/setup/late-fines", web::post().to(create_late_fine_rule))
        .route("/setup/late-fines/{id}", web::get().to(late_fine_preview))
        .route(
            "/setup/late-fines/{id}/apply",
            web::post().to(apply_late_fines),
        )
        .route(
            "/setup/late-fines/{id}/active",
            web::post().to(switch_late_fine_rule),
        );
}

/// What the setup page shows, read from the server in one go.
struct Structure {
    school: School,
    years: Vec<AcademicYear>,
    classes: Vec<Class>,
    teachers: Vec<User>,
    heads: Vec<FeeHead>,
    schedules: Vec<FeeSchedule>,
    codes: Vec<AttendanceCode>,
    late_fines: Vec<LateFineRule>,
    teaching: Vec<TeacherAssignment>,
}

impl Structure {
    fn read(api: &Api) -> Result<Structure, ClientError> {
        Ok(Structure {
            school: api.school()?,
            years: api.academic_years()?,
            classes: api.classes()?.items,
            teachers: api
                .users()?
                .items
                .into_iter()
                .filter(|u| u.active && u.role_set().any(&[Role::Teacher, Role::Admin]))
                .collect(),
            heads: api.fee_heads()?,
            schedules: api.fee_schedules()?,
            codes: api.attendance_codes()?,
            late_fines: api.late_fine_rules()?,
            teaching: api.all_class_teachers()?,
        })
    }

    fn terms(&self) -> impl Iterator<Item = (&AcademicYear, &Term)> {
        self.years
            .iter()
            .flat_map(|y| y.terms.iter().map(move |t| (y, t)))
    }

    fn term_name(&self, id: Uuid) -> String {
        self.terms()
            .find(|(_, t)| t.id == id)
            .map(|(y, t)| format!("{} {}", y.name, t.name))
            .unwrap_or_else(|| id.to_string())
    }

    fn class_name(&self, id: Uuid) -> String {
        name_of(&self.classes, id, |c| (c.id, &c.name)).unwrap_or_else(|| id.to_string())
    }

    fn head_name(&self, id: Uuid) -> String {
        name_of(&self.heads, id, |h| (h.id, &h.name)).unwrap_or_else(|| id.to_string())
    }

    fn teacher_name(&self, id: Uuid) -> String {
        name_of(&self.teachers, id, |u| (u.id, &u.display_name))
            .unwrap_or_else(|| "(not a teacher now)".into())
    }
}

/// The name of the item of `items` whose id is `id`; `key` gives an item's id and name.
fn name_of<T>(items: &[T], id: Uuid, key: impl Fn(&T) -> (Uuid, &String)) -> Option<String> {
    items
        .iter()
        .map(key)
        .find(|(i, _)| *i == id)
        .map(|(_, n)| n.clone())
}

fn unavailable(e: &ClientError) -> Markup {
    page::needs_server(
        e,
        html! { "The school's years, classes and fees are kept on the server, and the server is not answering now. Try again when the internet is back; nothing was changed." },
        "the change",
        "setup-error",
    )
}

fn respond(console: &Console, session: &Session, status: u16, body: Markup) -> HttpResponse {
    console.with_store(|store| page::html_response(status, page::frame(store, session, WHAT, body)))
}

/// The setup page with `notice` (what was just done, or what was wrong) on top.
async fn render(
    console: &Console,
    session: &Session,
    status: u16,
    notice: Option<Markup>,
) -> HttpResponse {
    let read = call_server(console, Structure::read).await;
    let status = match &read {
        Err(e) if status == 200 => page::server_status(e),
        _ => status,
    };
    let body = match read {
        Ok(s) => html! {
            h1 { "School setup" }
            p.muted { "The school's years and terms, classes, fee heads and what each class pays, then the term's invoices. Changes go to the server at once; office computers receive them with their next sync." }
            @if let Some(n) = notice { (n) }
            (settings_section(&s, session))
            (years_section(&s, session))
            (classes_section(&s, session))
            (fees_section(&s, session))
            (invoices_section(&s))
            (late_fines_section(&s, session))
            (attendance_section(&s, session))
        },
        Err(e) => html! {
            h1 { "School setup" }
            @if let Some(n) = notice { (n) }
            (unavailable(&e))
        },
    };
    respond(console, session, status, body)
}

/// Time zones offered first in the settings form (any IANA name is accepted).
const COMMON_ZONES: [&str; 8] = [
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Dhaka",
    "Asia/Dubai",
    "Asia/Riyadh",
    "Africa/Nairobi",
    "Europe/London",
    "UTC",
];

fn settings_section(s: &Structure, session: &Session) -> Markup {
    let school = &s.school;
    html! {
        h2 #settings { "School settings" }
        form #school-form method="post" action="/setup/school" {
            input type="hidden" name="csrf" value=(session.csrf);
            p { label { "Name " input #school-name name="name" value=(school.name) size="40" required; } }
            p { label { "Address (printed on receipts) " br; textarea #school-address name="address" rows="2" cols="60" maxlength="300" { (school.address) } } }
            p {
                label { "Currency " input #school-currency name="currency" value=(school.currency) size="4" maxlength="3"; }
                span.muted { " (ISO 4217, such as PKR; it cannot change once money is recorded)" }
            }
            p {
                label { "Time zone " input #school-timezone name="timezone" value=(school.timezone) list="zones"; }
                datalist #zones { @for z in COMMON_ZONES { option value=(z) {} } }
                span.muted { " (dates and times people read are in it)" }
            }
            p {
                label { "Attendance edit window " input #school-edit-window name="attendance_edit_window_days" type="number" min="0" max="365" value=(school.attendance_edit_window_days) size="4"; " days" }
                span.muted { " (how many days after a register's date a teacher may still change it; 0 = the same day)" }
            }
            button #save-school type="submit" { "Save settings" }
        }
        h3 #logo { "Logo on receipts" }
        p {
            @if school.logo_updated_at.is_some() {
                img #current-logo src="/setup/logo" alt="The school's logo";
                " "
                form.inline #remove-logo-form method="post" action="/setup/logo/remove" {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button #remove-logo type="submit" { "Remove the logo" }
                }
            } @else {
                span.muted #no-logo { "No logo yet: receipts carry the school's name and address." }
            }
        }
        form #logo-form method="post" action="/setup/logo" enctype="multipart/form-data" {
            input type="hidden" name="csrf" value=(session.csrf);
            label { "PNG or JPEG, at most 256 KiB " input #logo-file type="file" name="file" accept="image/png,image/jpeg"; }
            " " button #upload-logo type="submit" { "Upload logo" }
            span.muted { " (office computers print it after their next sync)" }
        }
    }
}

/// The media type a logo file's name says it is: `image/png` or `image/jpeg`.
///
/// Errors: the message for the page naming the file.
fn logo_media_type(name: &str) -> Result<&'static str, String> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".png") {
        Ok("image/png")
    } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        Ok("image/jpeg")
    } else {
        Err(format!(
            "Logo: {name} is not a PNG or JPEG image (.png, .jpg)"
        ))
    }
}

/// The logo as the server has it now (the settings form shows it).
async fn current_logo(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    if let Err(r) = admin_user(&console, &req, WHAT) {
        return *r;
    }
    match call_server(&console, |api| api.school_logo()).await {
        Ok(Some(file)) => HttpResponse::Ok()
            .content_type(file.content_type)
            .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
            .body(file.bytes),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(e) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(page::server_status(&e))
                .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
        )
        .finish(),
    }
}

async fn upload_logo(
    console: web::Data<Console>,
    req: HttpRequest,
    form: actix_multipart::Multipart,
) -> HttpResponse {
    let session = match admin_user(&console, &req, WHAT) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (fields, file) = match super::forms::read_upload(form, MAX_LOGO_UPLOAD).await {
        Ok(u) => u,
        Err(m) => return render(&console, &session, 422, Some(invalid(m))).await,
    };
    if let Err(r) = super::check_csrf(
        &session,
        fields.get("csrf").map(String::as_str).unwrap_or_default(),
    ) {
        return *r;
    }
    let change = file
        .ok_or_else(|| "Logo: choose the image file".to_string())
        .and_then(|(name, bytes)| {
            let media = logo_media_type(&name)?;
            Ok(move |api: &Api| api.set_school_logo(media, &bytes))
        });
    apply(&console, &session, change, |_| {
        html! { p.notice #setup-done { "Saved the logo. Office computers print it on receipts after their next sync." } }
    })
    .await
}

async fn remove_logo(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, _) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let change: Result<_, String> = Ok(|api: &Api| api.remove_school_logo());
    apply(&console, &session, change, |()| {
        html! { p.notice #setup-done { "Removed the logo." } }
    })
    .await
}

/// The largest logo file the form takes (the server's limit is 256 KiB; a larger file gets
/// the server's 413 named on the page).
const MAX_LOGO_UPLOAD: usize = 1024 * 1024;

fn category_label(c: AttendanceCategory) -> &'static str {
    match c {
        AttendanceCategory::Present => "present",
        AttendanceCategory::Absent => "absent",
        AttendanceCategory::Late => "late",
        AttendanceCategory::Excused => "excused",
        AttendanceCategory::HalfDay => "half day",
    }
}

const CATEGORIES: [AttendanceCategory; 5] = [
    AttendanceCategory::Present,
    AttendanceCategory::Absent,
    AttendanceCategory::Late,
    AttendanceCategory::Excused,
    AttendanceCategory::HalfDay,
];

fn attendance_section(s: &Structure, session: &Session) -> Markup {
    html! {
        h2 #attendance { "Attendance codes" }
        p.muted { "The marks teachers choose from; the category decides how reports count a mark. The edit window is under School settings." }
        table #code-list {
            tr { th { "Code" } th { "Label" } th { "Counts as" } }
            @for c in &s.codes {
                tr.code data-code=(c.code) { td { code { (c.code) } } td { (c.label) } td { (category_label(c.category)) } }
            }
        }
        form #code-form method="post" action="/setup/attendance-codes" {
            input type="hidden" name="csrf" value=(session.csrf);
            label { "Code " input #code-code name="code" size="4" maxlength="4" required; }
            " " label { "Label " input #code-label name="label" required; }
            " " label { "Counts as " select #code-category name="category" {
                @for c in CATEGORIES { option value=(c.as_str()) { (category_label(c)) } }
            } }
            " " button #create-code type="submit" { "Add code" }
        }
    }
}

fn years_section(s: &Structure, session: &Session) -> Markup {
    html! {
        h2 #years { "Academic years and terms" }
        @if s.years.is_empty() { p.muted #no-years { "No academic year yet: start with one below." } }
        @for y in &s.years {
            table.year data-year=(y.name) {
                tr { th colspan="3" { (y.name) " " span.muted { (y.starts_on) " to " (y.ends_on) } } }
                @for t in &y.terms {
                    tr.term data-term=(t.name) { td { (t.name) } td { (t.starts_on) } td { (t.ends_on) } }
                }
            }
        }
        h3 { "Add an academic year" }
        form #year-form method="post" action="/setup/years" {
            input type="hidden" name="csrf" value=(session.csrf);
            p {
                label { "Name " input #year-name name="name" placeholder="2027-28" required; }
                " " label { "Starts " input #year-starts type="date" name="starts_on" required; }
                " " label { "Ends " input #year-ends type="date" name="ends_on" required; }
            }
            table #term-rows {
                tr { th { "Term" } th { "Starts" } th { "Ends" } }
                @for i in 0..TERM_ROWS {
                    tr {
                        td { input id=(format!("term-{i}-name")) name=(format!("term_{i}_name")); }
                        td { input id=(format!("term-{i}-starts")) type="date" name=(format!("term_{i}_starts_on")); }
                        td { input id=(format!("term-{i}-ends")) type="date" name=(format!("term_{i}_ends_on")); }
                    }
                }
            }
            p.muted { "Fill as many term rows as the year has; terms lie within the year and do not overlap." }
            button #create-year type="submit" { "Add year" }
        }
    }
}

fn classes_section(s: &Structure, session: &Session) -> Markup {
    html! {
        h2 #classes { "Classes and sections" }
        @if s.classes.is_empty() { p.muted #no-classes { "No classes yet." } } @else {
            table #class-list {
                tr { th { "Class" } th { "Grade" } th { "Section" } th { "Year" } th { "Homeroom teacher" } th { "Subject teachers" } }
                @for c in &s.classes {
                    tr.class data-class=(c.name) {
                        td { (c.name) } td { (c.grade) } td { (c.section) }
                        td { (s.years.iter().find(|y| y.id == c.academic_year_id).map(|y| y.name.as_str()).unwrap_or("")) }
                        td { @match c.homeroom_teacher_id { Some(t) => (s.teacher_name(t)), None => span.muted { "none" } } }
                        td.subject-teachers {
                            @for (i, t) in s.teaching.iter().filter(|t| t.class_id == c.id).enumerate() {
                                @if i > 0 { ", " }
                                (t.display_name) @if let Some(sub) = &t.subject { " (" (sub) ")" }
                            }
                        }
                    }
                }
            }
        }
        @if !s.years.is_empty() {
            h3 { "Add a class" }
            form #class-form method="post" action="/setup/classes" {
                input type="hidden" name="csrf" value=(session.csrf);
                label { "Year " select #class-year name="academic_year_id" {
                    @for y in &s.years { option value=(y.id) { (y.name) } }
                } }
                " " label { "Grade " input #class-grade name="grade" size="4" required; }
                " " label { "Section " input #class-section name="section" size="4"; }
                " " label { "Name " input #class-name name="name" placeholder="Grade 1-A"; }
                " " label { "Homeroom teacher " select #class-teacher name="homeroom_teacher_id" {
                    option value="" { "none" }
                    @for u in &s.teachers { option value=(u.id) { (u.display_name) " (" (u.username) ")" } }
                } }
                " " button #create-class type="submit" { "Add class" }
                p.muted { "Left empty, the name is “Grade <grade>-<section>”. Subject teachers are assigned on the Users page." }
            }
        }
    }
}

fn fees_section(s: &Structure, session: &Session) -> Markup {
    let currency = &s.school.currency;
    html! {
        h2 #fees { "Fee heads and schedules" }
        p {
            "Fee heads: "
            @if s.heads.is_empty() { span.muted #no-heads { "none yet" } }
            @for (i, h) in s.heads.iter().enumerate() {
                @if i > 0 { ", " }
                span.fee-head data-head=(h.name) { (h.name) }
            }
        }
        form #head-form method="post" action="/setup/fee-heads" {
            input type="hidden" name="csrf" value=(session.csrf);
            label { "New fee head " input #head-name name="name" placeholder="Tuition" required; }
            " " button #create-head type="submit" { "Add fee head" }
            span.muted { " (each gets its own income account in the ledger)" }
        }
        @if !s.schedules.is_empty() {
            table #schedule-list {
                tr { th { "Term" } th { "Class" } th { "Fee head" } th.num { "Amount (" (currency) ")" } th { "Due" } }
                @for f in &s.schedules {
                    tr.schedule data-class=(s.class_name(f.class_id)) data-head=(s.head_name(f.fee_head_id)) data-amount=(f.amount) {
                        td { (s.term_name(f.term_id)) } td { (s.class_name(f.class_id)) } td { (s.head_name(f.fee_head_id)) }
                        td.num { (money(f.amount, currency)) } td { (f.due_on) }
                    }
                }
            }
        }
        @if !s.heads.is_empty() && !s.classes.is_empty() && s.terms().next().is_some() {
            h3 { "What a class pays" }
            form #schedule-form method="post" action="/setup/fee-schedules" {
                input type="hidden" name="csrf" value=(session.csrf);
                label { "Term " select #schedule-term name="term_id" {
                    @for (y, t) in s.terms() { option value=(t.id) { (y.name) " " (t.name) } }
                } }
                " " label { "Class " select #schedule-class name="class_id" {
                    @for c in &s.classes { option value=(c.id) { (c.name) } }
                } }
                " " label { "Fee head " select #schedule-head name="fee_head_id" {
                    @for h in &s.heads { option value=(h.id) { (h.name) } }
                } }
                " " label { "Amount (" (currency) ") " input #schedule-amount name="amount" inputmode="decimal" size="10" required; }
                " " label { "Due " input #schedule-due type="date" name="due_on" required; }
                " " button #create-schedule type="submit" { "Add" }
            }
        }
    }
}

fn invoices_section(s: &Structure) -> Markup {
    html! {
        h2 #invoices { "Invoice run" }
        @if s.schedules.is_empty() {
            p.muted { "Add fee schedules for a term first; the run invoices every enrolled student of the scheduled classes." }
        } @else {
            form #invoice-form method="get" action="/setup/invoices" {
                label { "Term " select #invoice-term name="term_id" {
                    @for (y, t) in s.terms() {
                        @if s.schedules.iter().any(|f| f.term_id == t.id) { option value=(t.id) { (y.name) " " (t.name) } }
                    }
                } }
                " " button #preview-invoices type="submit" { "Preview the invoices" }
                span.muted { " (nothing is issued until you confirm)" }
            }
        }
    }
}

fn late_fines_section(s: &Structure, session: &Session) -> Markup {
    let currency = &s.school.currency;
    html! {
        h2 #late-fines { "Late fines" }
        p.muted { "A rule fines an invoice once when one of its lines is still unpaid more than the given days after its due date. Preview a rule to see what it would fine today, then run it; running it again later fines only invoices that have fallen overdue since. The server can run every rule daily (daftar-server apply-late-fines)." }
        @if !s.late_fines.is_empty() {
            table #late-fine-list {
                tr { th { "Rule" } th.num { "After (days)" } th.num { "Fine (" (currency) ")" } th.num { "Invoices fined" } th { "State" } th {} }
                @for r in &s.late_fines {
                    tr.late-fine data-rule=(r.name) data-state=(if r.active { "on" } else { "off" }) {
                        td { (r.name) } td.num { (r.grace_days) } td.num { (money(r.amount, currency)) }
                        td.num.fined { (r.fined_invoices) }
                        td { @if r.active { "On" } @else { span.muted { "Off" } } }
                        td {
                            @if r.active { a.preview-fines href=(format!("/setup/late-fines/{}", r.id)) { "Preview and run" } " " }
                            form.inline method="post" action=(format!("/setup/late-fines/{}/active", r.id)) {
                                input type="hidden" name="csrf" value=(session.csrf);
                                input type="hidden" name="active" value=(if r.active { "false" } else { "true" });
                                button.switch-rule type="submit" { @if r.active { "Switch off" } @else { "Switch on" } }
                            }
                        }
                    }
                }
            }
        }
        form #late-fine-form method="post" action="/setup/late-fines" {
            input type="hidden" name="csrf" value=(session.csrf);
            label { "Rule " input #fine-name name="name" placeholder="Monthly late fee" required; }
            " " label { "Fine (" (currency) ") " input #fine-amount name="amount" inputmode="decimal" size="8" required; }
            " " label { "after " input #fine-days name="grace_days" type="number" min="0" max="365" size="4" required; " days past due" }
            " " button #create-late-fine type="submit" { "Add rule" }
        }
    }
}

fn late_fine_request(f: &Fields, currency: &str) -> Result<CreateLateFineRuleRequest, String> {
    let name = required(f, "name", "Rule")?.to_string();
    let amount =
        parse_money(required(f, "amount", "Fine")?, currency).map_err(|e| format!("Fine: {e}"))?;
    if amount <= 0 {
        return Err("Fine: more than zero, please".into());
    }
    let days = required(f, "grace_days", "Days past due")?;
    let grace_days: i32 = days
        .parse()
        .ok()
        .filter(|d| (0..=365).contains(d))
        .ok_or_else(|| format!("Days past due: “{days}” is not a number of days from 0 to 365"))?;
    Ok(CreateLateFineRuleRequest {
        id: Some(Uuid::now_v7()),
        name,
        grace_days,
        amount,
    })
}

async fn create_late_fine_rule(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, f, currency) = match money_form(&console, &req, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let change =
        late_fine_request(&f, &currency).map(|r| move |api: &Api| api.create_late_fine_rule(&r));
    apply(&console, &session, change, move |r| {
        html! { p.notice #setup-done { "Added the late-fine rule " strong { (r.name) } ": " (currency) " " (money(r.amount, &currency)) " after " (r.grace_days) " days past due." } }
    })
    .await
}

async fn switch_late_fine_rule(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, f) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    let change = UpdateLateFineRuleRequest {
        active: Some(optional(&f, "active") == Some("true")),
    };
    let change: Result<_, String> = Ok(move |api: &Api| api.update_late_fine_rule(id, &change));
    apply(&console, &session, change, |r| {
        html! { p.notice #setup-done { "The late-fine rule " strong { (r.name) } " is " (if r.active { "on" } else { "off" }) "." } }
    })
    .await
}

fn late_fine_run_body(
    rule: &LateFineRule,
    run: &LateFineRun,
    currency: &str,
    session: &Session,
) -> Markup {
    html! {
        h1 { "Late fines: " (rule.name) }
        @if run.applied {
            p.notice #late-fines-applied data-invoices=(run.invoices) data-amount=(run.amount) {
                "Fined " strong { (run.invoices) } " invoices of " strong { (run.families) } " families, "
                (currency) " " (money(run.amount, currency)) " in all (school date " (run.on) ")."
            }
            p { "Office computers show the fines after their next sync. " a href="/setup#late-fines" { "Back to setup" } }
        } @else {
            p #late-fine-preview data-invoices=(run.invoices) data-families=(run.families) data-amount=(run.amount) {
                "Today (" (run.on) ") the rule would fine " strong { (run.invoices) } " invoices of "
                strong { (run.families) } " families " (currency) " " (money(rule.amount, currency)) " each, "
                strong { (currency) " " (money(run.amount, currency)) } " in all."
            }
            @if run.invoices > 0 {
                form #apply-fines-form method="post" action=(format!("/setup/late-fines/{}/apply", rule.id)) {
                    input type="hidden" name="csrf" value=(session.csrf);
                    button #apply-late-fines type="submit" data-busy="Fining…" { "Fine " (run.invoices) " invoices" }
                    " " a href="/setup#late-fines" { "Cancel" }
                }
            } @else {
                p #no-fines { "Nothing to fine today: no invoice is that far past due and unpaid, or the rule has fined them all already." }
                a href="/setup#late-fines" { "Back to setup" }
            }
        }
    }
}

/// The rule `id` and the school's currency, from the server.
fn rule_and_currency(api: &Api, id: Uuid) -> Result<(LateFineRule, String), ClientError> {
    let rule = api
        .late_fine_rules()?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ClientError::NotFound("late-fine rule".into()))?;
    Ok((rule, api.school()?.currency))
}

async fn late_fine_run_page(
    console: &Console,
    session: &Session,
    id: Uuid,
    run: impl FnOnce(&Api) -> Result<LateFineRun, ClientError> + Send + 'static,
) -> HttpResponse {
    let result = call_server(console, move |api| {
        let (rule, currency) = rule_and_currency(api, id)?;
        Ok((rule, currency, run(api)?))
    })
    .await;
    match result {
        Ok((rule, currency, run)) => respond(
            console,
            session,
            200,
            late_fine_run_body(&rule, &run, &currency, session),
        ),
        Err(e) => {
            let body = html! { h1 { "Late fines" } (unavailable(&e)) a href="/setup#late-fines" { "Back to setup" } };
            respond(console, session, page::server_status(&e), body)
        }
    }
}

async fn late_fine_preview(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> HttpResponse {
    let session = match admin_user(&console, &req, WHAT) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    late_fine_run_page(&console, &session, id, move |api| {
        api.preview_late_fines(id)
    })
    .await
}

async fn apply_late_fines(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, _) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    late_fine_run_page(&console, &session, id, move |api| api.apply_late_fines(id)).await
}

fn date(f: &Fields, name: &str, label: &str) -> Result<NaiveDate, String> {
    let v = required(f, name, label)?;
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| format!("{label}: “{v}” is not a date (YYYY-MM-DD)"))
}

fn id(f: &Fields, name: &str, label: &str) -> Result<Uuid, String> {
    let v = required(f, name, label)?;
    v.parse()
        .map_err(|_| format!("{label}: choose one from the list"))
}

fn invalid(message: String) -> Markup {
    html! { p.error #setup-error { (message) } }
}

/// Sends `change` to the server; the page again with what was done or why it was refused.
async fn apply<T: Send + 'static>(
    console: &Console,
    session: &Session,
    change: Result<impl FnOnce(&Api) -> Result<T, ClientError> + Send + 'static, String>,
    done: impl FnOnce(T) -> Markup,
) -> HttpResponse {
    let change = match change {
        Ok(c) => c,
        Err(message) => return render(console, session, 422, Some(invalid(message))).await,
    };
    match call_server(console, change).await {
        Ok(t) => render(console, session, 200, Some(done(t))).await,
        Err(e) => {
            let status = page::server_status(&e);
            render(console, session, status, Some(unavailable(&e))).await
        }
    }
}

async fn setup_page(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    match admin_user(&console, &req, WHAT) {
        Ok(session) => render(&console, &session, 200, None).await,
        Err(r) => *r,
    }
}

fn school_request(f: &Fields) -> Result<UpdateSchoolRequest, String> {
    let window = required(f, "attendance_edit_window_days", "Attendance edit window")?;
    let window: i32 = window
        .parse()
        .map_err(|_| format!("Attendance edit window: “{window}” is not a whole number of days"))?;
    Ok(UpdateSchoolRequest {
        name: Some(required(f, "name", "Name")?.to_string()),
        address: Some(
            f.get("address")
                .map(|a| a.trim().to_string())
                .unwrap_or_default(),
        ),
        currency: Some(required(f, "currency", "Currency")?.to_string()),
        timezone: Some(required(f, "timezone", "Time zone")?.to_string()),
        attendance_edit_window_days: Some(window),
    })
}

async fn update_school(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, f) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let change = school_request(&f).map(|r| move |api: &Api| api.update_school(&r));
    apply(&console, &session, change, |s| {
        html! { p.notice #setup-done { "Saved the settings of " strong { (s.name) } ". Office computers show them after their next sync." } }
    })
    .await
}

fn code_request(f: &Fields) -> Result<CreateAttendanceCodeRequest, String> {
    let category = required(f, "category", "Counts as")?;
    let category = CATEGORIES
        .into_iter()
        .find(|c| c.as_str() == category)
        .ok_or_else(|| "Counts as: choose one from the list".to_string())?;
    Ok(CreateAttendanceCodeRequest {
        code: required(f, "code", "Code")?.to_string(),
        label: required(f, "label", "Label")?.to_string(),
        category,
    })
}

async fn create_attendance_code(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, f) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let change = code_request(&f).map(|r| move |api: &Api| api.create_attendance_code(&r));
    apply(&console, &session, change, |c| {
        html! { p.notice #setup-done { "Added the attendance code " code { (c.code) } " (" (c.label) ")." } }
    })
    .await
}

fn year_request(f: &Fields) -> Result<CreateAcademicYearRequest, String> {
    let mut terms = Vec::new();
    for i in 0..TERM_ROWS {
        let name = format!("term_{i}_name");
        let (starts, ends) = (format!("term_{i}_starts_on"), format!("term_{i}_ends_on"));
        let filled = [&name, &starts, &ends]
            .iter()
            .any(|k| optional(f, k).is_some());
        if !filled {
            continue;
        }
        let row = format!("Term row {}", i + 1);
        terms.push(NewTerm {
            name: required(f, &name, &format!("{row}, name"))?.to_string(),
            starts_on: date(f, &starts, &format!("{row}, start"))?,
            ends_on: date(f, &ends, &format!("{row}, end"))?,
        });
    }
    Ok(CreateAcademicYearRequest {
        id: Some(Uuid::now_v7()),
        name: required(f, "name", "Year name")?.to_string(),
        starts_on: date(f, "starts_on", "Year start")?,
        ends_on: date(f, "ends_on", "Year end")?,
        terms,
    })
}

async fn create_year(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, f) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let change = year_request(&f).map(|r| move |api: &Api| api.create_academic_year(&r));
    apply(&console, &session, change, |y| {
        html! { p.notice #setup-done { "Added the year " strong { (y.name) } " with " (y.terms.len()) " terms." } }
    })
    .await
}

fn class_request(f: &Fields) -> Result<CreateClassRequest, String> {
    let grade = required(f, "grade", "Grade")?.to_string();
    let section = optional(f, "section").unwrap_or_default().to_string();
    let name = match optional(f, "name") {
        Some(n) => n.to_string(),
        None if section.is_empty() => format!("Grade {grade}"),
        None => format!("Grade {grade}-{section}"),
    };
    let homeroom_teacher_id = match optional(f, "homeroom_teacher_id") {
        Some(_) => Some(id(f, "homeroom_teacher_id", "Homeroom teacher")?),
        None => None,
    };
    Ok(CreateClassRequest {
        id: Some(Uuid::now_v7()),
        academic_year_id: id(f, "academic_year_id", "Year")?,
        term_id: None,
        name,
        grade,
        section,
        code: None,
        homeroom_teacher_id,
    })
}

async fn create_class(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, f) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let change = class_request(&f).map(|r| move |api: &Api| api.create_class(&r));
    apply(&console, &session, change, |c| {
        html! { p.notice #setup-done { "Added the class " strong { (c.name) } "." } }
    })
    .await
}

async fn create_fee_head(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, f) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let change = required(&f, "name", "Fee head").map(|name| {
        let r = CreateFeeHeadRequest {
            id: Some(Uuid::now_v7()),
            name: name.to_string(),
        };
        move |api: &Api| api.create_fee_head(&r)
    });
    apply(&console, &session, change, |h| {
        html! { p.notice #setup-done { "Added the fee head " strong { (h.name) } "." } }
    })
    .await
}

/// The school's currency (ISO 4217), for reading amounts typed in major units: as this device
/// last synced it, else as the server says.
async fn currency(console: &Console) -> Result<String, ClientError> {
    if let Ok(school) = console.with_store(office::school) {
        return Ok(school.currency);
    }
    call_server(console, |api| api.school())
        .await
        .map(|s| s.currency)
}

/// The admin's form (as [`admin_form`]) with the school's currency to read its amounts in;
/// else the response to send (a refusal, or the page saying the server is needed).
async fn money_form(
    console: &Console,
    req: &HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> Result<(Session, Fields, String), HttpResponse> {
    let (session, f) = admin_form(console, req, form, WHAT).map_err(|r| *r)?;
    match currency(console).await {
        Ok(c) => Ok((session, f, c)),
        Err(e) => {
            let status = page::server_status(&e);
            Err(render(console, &session, status, Some(unavailable(&e))).await)
        }
    }
}

fn schedule_request(f: &Fields, currency: &str) -> Result<CreateFeeScheduleRequest, String> {
    let amount = required(f, "amount", "Amount")?;
    let amount = parse_money(amount, currency).map_err(|e| format!("Amount: {e}"))?;
    if amount <= 0 {
        return Err("Amount: more than zero, please".into());
    }
    Ok(CreateFeeScheduleRequest {
        id: Some(Uuid::now_v7()),
        term_id: id(f, "term_id", "Term")?,
        class_id: id(f, "class_id", "Class")?,
        fee_head_id: id(f, "fee_head_id", "Fee head")?,
        amount,
        due_on: date(f, "due_on", "Due date")?,
    })
}

async fn create_fee_schedule(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, f, currency) = match money_form(&console, &req, form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let change =
        schedule_request(&f, &currency).map(|r| move |api: &Api| api.create_fee_schedule(&r));
    apply(&console, &session, change, move |s| {
        html! { p.notice #setup-done { "Added: " (money(s.amount, &currency)) " due " (s.due_on) "." } }
    })
    .await
}

#[derive(serde::Deserialize)]
struct TermQuery {
    term_id: Uuid,
}

fn preview_body(p: &InvoiceRunPreview, term: &str, session: &Session) -> Markup {
    let c = &p.currency;
    html! {
        h1 { "Invoices for " (term) }
        p #invoice-preview data-invoices=(p.invoices) data-amount=(p.amount) data-families=(p.families) data-skipped=(p.already_invoiced) {
            "The run will issue " strong { (p.invoices) } " invoices to " strong { (p.families) } " families, "
            strong { (c) " " (money(p.amount, c)) } " in all, before family credit is applied."
            @if p.already_invoiced > 0 { " " (p.already_invoiced) " students already invoiced for this term are skipped." }
        }
        @if !p.heads.is_empty() {
            table #invoice-heads {
                tr { th { "Fee head" } th.num { "Lines" } th.num { "Amount (" (c) ")" } }
                @for h in &p.heads { tr { td { (h.name) } td.num { (h.lines) } td.num { (money(h.amount, c)) } } }
            }
        }
        @if p.invoices > 0 {
            form #issue-form method="post" action="/setup/invoices" data-progress=(format!("/setup/invoices/progress?term_id={}", p.term_id)) {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="term_id" value=(p.term_id);
                button #issue-invoices type="submit" data-busy=(format!("Issuing {} invoices…", p.invoices)) { "Issue " (p.invoices) " invoices" }
                " " a href="/setup#invoices" { "Cancel" }
                p { progress #invoice-progress max=(p.invoices) value="0" hidden {} " " span.progress-text #invoice-progress-text {} }
            }
            p.muted { "Each invoice is one journal entry (Dr receivable, Cr each fee head's income). Running it again later skips the students invoiced now." }
        } @else {
            @if p.schedules == 0 {
                p #nothing-to-issue { "Nothing to issue: this term has no fee schedules yet. Add what each class pays first." }
            } @else {
                p #nothing-to-issue { "Nothing to issue: every scheduled student is invoiced for this term." }
            }
            a href="/setup#invoices" { "Back to setup" }
        }
    }
}

async fn term_label(console: &Console, term_id: Uuid) -> String {
    call_server(console, move |api| api.academic_years())
        .await
        .ok()
        .and_then(|years| {
            years.iter().find_map(|y| {
                y.terms
                    .iter()
                    .find(|t| t.id == term_id)
                    .map(|t| format!("{} {}", y.name, t.name))
            })
        })
        .unwrap_or_else(|| "the term".into())
}

async fn invoice_preview(
    console: web::Data<Console>,
    req: HttpRequest,
    q: web::Query<TermQuery>,
) -> HttpResponse {
    let session = match admin_user(&console, &req, WHAT) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let term_id = q.term_id;
    let preview = call_server(&console, move |api| api.preview_invoices(term_id)).await;
    let term = term_label(&console, term_id).await;
    match preview {
        Ok(p) => respond(&console, &session, 200, preview_body(&p, &term, &session)),
        Err(e) => {
            let body = html! { h1 { "Invoices for " (term) } (unavailable(&e)) a href="/setup#invoices" { "Back to setup" } };
            respond(&console, &session, page::server_status(&e), body)
        }
    }
}

/// How far the term's invoice run has got, as the server says (`issued`, `total`, `running`),
/// for the page's progress bar while the run's request is out.
async fn invoice_progress(
    console: web::Data<Console>,
    req: HttpRequest,
    q: web::Query<TermQuery>,
) -> HttpResponse {
    if let Err(r) = admin_user(&console, &req, WHAT) {
        return *r;
    }
    let term_id = q.term_id;
    match call_server(&console, move |api| api.invoice_run_progress(term_id)).await {
        Ok(p) => HttpResponse::Ok().json(p),
        Err(e) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(page::server_status(&e))
                .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
        )
        .json(serde_json::json!({ "error": e.to_string() })),
    }
}

async fn issue_invoices(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (session, f) = match admin_form(&console, &req, form, WHAT) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let term_id = match id(&f, "term_id", "Term") {
        Ok(t) => t,
        Err(m) => return render(&console, &session, 422, Some(invalid(m))).await,
    };
    let term = term_label(&console, term_id).await;
    let issued = call_server(&console, move |api| api.issue_invoices(term_id)).await;
    let body = match &issued {
        Ok(r) => html! {
            h1 { "Invoices for " (term) }
            p.notice #invoices-issued data-invoices=(r.invoices_issued) data-amount=(r.amount_invoiced) {
                "Issued " strong { (r.invoices_issued) } " invoices, " (r.currency) " " (money(r.amount_invoiced, &r.currency)) " in all; "
                (r.currency) " " (money(r.credit_applied, &r.currency)) " of family credit was applied to them."
            }
            p { "Office computers show the new dues after their next sync. " a href="/setup" { "Back to setup" } }
        },
        Err(e) => {
            html! { h1 { "Invoices for " (term) } (unavailable(e)) a href="/setup#invoices" { "Back to setup" } }
        }
    };
    let status = issued.as_ref().map_or_else(page::server_status, |_| 200);
    respond(&console, &session, status, body)
}
