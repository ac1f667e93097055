//! Students and families (office-console issue, "The rest of the office's day"): search, a
//! student's profile with their family and guardians, contact edits (`student.update@1` /
//! `guardian.update@1`, merged field by field by the server, the conflict outcome shown here
//! and on "Needs attention"), and admitting a student, with a new family or into a sibling's
//! (`student.admit@1`). Everything works offline through `office::records`; a bad value is
//! refused on the page naming the field, and nothing is queued.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use daftar_client_core::client::office;
use daftar_client_core::client::office::records::{
    self, AdmitInto, NewAdmission, TypedEdit, GUARDIAN_FIELDS, STUDENT_FIELDS,
};
use daftar_client_core::client::store::StoredOp;
use daftar_client_core::client::{ClientError, Store};
use daftar_client_core::protocol::sync::{
    AdmitStudentArgs, UpdateRecordArgs, GUARDIAN_UPDATE, STUDENT_ADMIT, STUDENT_UPDATE,
};
use daftar_client_core::protocol::synced;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::attention::{describe, label, outcome, shown};
use super::cashier::{class_names, school_today, search, typed};
use super::page;
use super::{office_change, office_user, Console, Session};

/// Routes of the students and families pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/students", web::get().to(students_page))
        .route("/student/{id}", web::get().to(profile_page))
        .route("/student/{id}", web::post().to(edit_student))
        .route("/guardian/{id}", web::post().to(edit_guardian))
        .route("/admit", web::get().to(admit_page))
        .route("/admit", web::post().to(admit));
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn students_page(
    console: web::Data<Console>,
    req: HttpRequest,
    q: web::Query<SearchQuery>,
) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let query = q.into_inner().q;
    console.with_store(|store| {
        let hits = search(store, &query).unwrap_or_default();
        let body = html! {
            h1 { "Students and families" }
            form method="get" action="/students" {
                input #student-search name="q" type="search" value=(query) autofocus autocomplete="off"
                    placeholder="Student, admission no., guardian, phone or family" size="50";
                " " button type="submit" { "Find" }
            }
            p { a #admit-new href="/admit" accesskey="a" { "Admit a student" } }
            @if hits.is_empty() && !query.trim().is_empty() {
                p.muted { "Nobody matches “" (query) "”." }
            }
            @for h in &hits {
                div.result {
                    a href={ "/family/" (h.family_id) } { strong { (h.family_name) } } " — "
                    @for c in &h.children {
                        a.student href={ "/student/" (c.student_id) } {
                            (c.name) " (" (c.class.clone().unwrap_or_else(|| "no class".into())) ", " (c.admission_no) ")"
                        } " "
                    }
                }
            }
        };
        page::html_response(200, page::frame(store, &session, "Students", body))
    })
}

/// The record an op changes or creates (student or guardian id), if it is one of ours.
fn op_record(op: &StoredOp) -> Option<Uuid> {
    match op.op.mutation.as_str() {
        STUDENT_UPDATE | GUARDIAN_UPDATE => {
            serde_json::from_value::<UpdateRecordArgs>(op.op.args.clone())
                .ok()
                .map(|a| a.id)
        }
        STUDENT_ADMIT => serde_json::from_value::<AdmitStudentArgs>(op.op.args.clone())
            .ok()
            .and_then(|a| a.student.id),
        _ => None,
    }
}

/// What is waiting for the server, and what it refused or merged, about `records`.
fn record_notes(store: &mut Store, records: &[Uuid]) -> Result<Markup, ClientError> {
    let pending: Vec<StoredOp> = store
        .pending_ops(10_000)?
        .into_iter()
        .filter(|o| op_record(o).is_some_and(|r| records.contains(&r)))
        .collect();
    let attention: Vec<StoredOp> = store
        .ops_needing_attention()?
        .into_iter()
        .filter(|o| op_record(o).is_some_and(|r| records.contains(&r)))
        .collect();
    let pending: Vec<String> = pending.iter().map(|o| describe(store, o)).collect();
    let attention: Vec<(String, &StoredOp)> =
        attention.iter().map(|o| (describe(store, o), o)).collect();
    Ok(html! {
        @for p in &pending {
            p.warning.queued-edit { "Waiting for the server: " (p) ". It shows here already and goes with the next sync." }
        }
        @for (what, o) in &attention {
            div.conflict-note {
                p.warning { (what) " — " a href="/attention" { "needs attention" } }
                (outcome(o))
            }
        }
    })
}

/// Form values a person typed, kept when the form is refused.
type Typed = HashMap<String, String>;

fn field_input(field: &str, row: &Value, typed: Option<&Typed>, id_prefix: &str) -> Markup {
    let base = row.get(field).cloned().unwrap_or(Value::Null);
    let value = typed
        .and_then(|t| t.get(field).cloned())
        .unwrap_or_else(|| match &base {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        });
    let kind = if field == "date_of_birth" {
        "date"
    } else {
        "text"
    };
    html! {
        p {
            label { (label(field)) " "
                input id={ (id_prefix) "-" (field) } name=(field) type=(kind) value=(value);
            }
            input type="hidden" name={ "base:" (field) } value=(base.to_string());
        }
    }
}

fn edits(form: &Typed, fields: &[&str]) -> Result<Vec<TypedEdit>, ClientError> {
    let mut out = Vec::new();
    for f in fields {
        let Some(typed) = form.get(*f) else { continue };
        let base = form
            .get(&format!("base:{f}"))
            .map(|b| serde_json::from_str::<Value>(b))
            .transpose()
            .map_err(|_| ClientError::invalid(*f, "the form is damaged; reload the page"))?
            .unwrap_or(Value::Null);
        out.push(TypedEdit {
            field: f.to_string(),
            base,
            typed: typed.clone(),
        });
    }
    Ok(out)
}

/// What the page says above the profile.
enum Said<'a> {
    Nothing,
    Saved,
    Admitted,
    Refused {
        record: Uuid,
        message: String,
        typed: &'a Typed,
    },
}

fn profile(
    store: &mut Store,
    session: &Session,
    student_id: Uuid,
    said: &Said,
) -> Result<Markup, ClientError> {
    let row = store
        .row("students", &student_id.to_string())?
        .ok_or_else(|| ClientError::NotFound("no such student on this computer".into()))?;
    let student: synced::Student = serde_json::from_value(row.clone())?;
    let today = school_today(store);
    let classes = class_names(store)?;
    let class = office::enrolled_class(store, student_id, today)?
        .and_then(|c| classes.get(&c).cloned())
        .unwrap_or_else(|| "not enrolled in a class today".into());
    let family = office::family_name(store, student.family_id)?;
    let siblings: Vec<synced::Student> = typed::<synced::Student>(store.rows_where(
        "students",
        "family_id",
        &student.family_id.to_string(),
    )?)
    .into_iter()
    .filter(|s| s.id != student_id && s.active)
    .collect();
    let guardians: Vec<Value> =
        store.rows_where("guardians", "family_id", &student.family_id.to_string())?;
    let mut records = vec![student_id];
    records.extend(
        guardians
            .iter()
            .filter_map(|g| g["id"].as_str().and_then(|i| i.parse::<Uuid>().ok())),
    );
    let notes = record_notes(store, &records)?;
    let typed_for = |id: Uuid| match said {
        Said::Refused { record, typed, .. } if *record == id => Some(*typed),
        _ => None,
    };
    Ok(html! {
        h1 #student-name { (student.name()) }
        @match said {
            Said::Saved => p.understood #saved { "Saved on this computer; it goes to the server with the next sync." },
            Said::Admitted => p.understood #saved { "Admitted on this computer; the server gets the admission with the next sync." },
            Said::Refused { message, .. } => p.error #form-error { (message) " Nothing was saved." },
            Said::Nothing => {},
        }
        (notes)
        table #profile {
            tr { th { "Admission no." } td #admission-no { (student.admission_no) } }
            tr { th { "Class today" } td #class { (class) } }
            tr { th { "Grade" } td { (shown(&row["grade"])) } }
            tr { th { "Date of birth" } td { (shown(&row["date_of_birth"])) } }
            tr { th { "Gender" } td { (shown(&row["gender"])) } }
            tr { th { "Family" } td { a #family-link href={ "/family/" (student.family_id) } { (family) } " (dues and payments)" } }
            tr { th { "Brothers and sisters" } td {
                @if siblings.is_empty() { span.muted { "none at this school" } }
                @for s in &siblings { a href={ "/student/" (s.id) } { (s.name()) " (" (s.admission_no) ")" } " " }
            } }
        }
        p { a #admit-sibling href={ "/admit?family=" (student.family_id) } { "Admit a brother or sister into this family" } }
        h2 { "Change the student's details" }
        form #edit-student method="post" action={ "/student/" (student_id) } {
            input type="hidden" name="csrf" value=(session.csrf);
            @for f in STUDENT_FIELDS { (field_input(f, &row, typed_for(student_id), "student")) }
            button type="submit" { "Save student" }
        }
        h2 { "Guardians" }
        @if guardians.is_empty() { p.muted { "No guardian recorded for this family." } }
        @for (i, g) in guardians.iter().enumerate() {
            @let gid: Uuid = g["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or_default();
            form.edit-guardian id={ "edit-guardian-" (i) } method="post" action={ "/guardian/" (gid) } {
                input type="hidden" name="csrf" value=(session.csrf);
                input type="hidden" name="student" value=(student_id);
                h3 { (shown(&g["given_name"])) " " (shown(&g["family_name"])) " (" (shown(&g["relationship"])) ")" }
                @for f in GUARDIAN_FIELDS { (field_input(f, g, typed_for(gid), &format!("guardian{i}"))) }
                button type="submit" { "Save guardian" }
            }
        }
    })
}

#[derive(Deserialize)]
struct ProfileQuery {
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    admitted: Option<String>,
}

async fn profile_page(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    q: web::Query<ProfileQuery>,
) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let said = if q.admitted.is_some() {
        Said::Admitted
    } else if q.saved.is_some() {
        Said::Saved
    } else {
        Said::Nothing
    };
    console.with_store(
        |store| match profile(store, &session, path.into_inner(), &said) {
            Ok(b) => page::html_response(200, page::frame(store, &session, "Student", b)),
            Err(e) => page::error_page(store, &session, 404, &e.to_string()),
        },
    )
}

fn saved(student_id: Uuid) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/student/{student_id}?saved=1")))
        .finish()
}

fn refused(
    store: &mut Store,
    session: &Session,
    student_id: Uuid,
    record: Uuid,
    e: &ClientError,
    typed: &Typed,
) -> HttpResponse {
    let message = match e {
        ClientError::Invalid { field, message } => format!("{}: {message}.", label(field)),
        other => format!("{other}."),
    };
    let said = Said::Refused {
        record,
        message,
        typed,
    };
    match profile(store, session, student_id, &said) {
        Ok(b) => page::html_response(422, page::frame(store, session, "Student", b)),
        Err(e) => page::error_page(store, session, 404, &e.to_string()),
    }
}

async fn edit_student(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<Typed>,
) -> HttpResponse {
    let form = form.into_inner();
    let session = match office_change(
        &console,
        &req,
        form.get("csrf").map(String::as_str).unwrap_or(""),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    console.with_store(|store| {
        match edits(&form, &STUDENT_FIELDS).and_then(|e| records::update_student(store, id, &e)) {
            Ok(_) => saved(id),
            Err(e) => refused(store, &session, id, id, &e, &form),
        }
    })
}

async fn edit_guardian(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<Typed>,
) -> HttpResponse {
    let form = form.into_inner();
    let session = match office_change(
        &console,
        &req,
        form.get("csrf").map(String::as_str).unwrap_or(""),
    ) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let guardian_id = path.into_inner();
    let Some(student_id) = form.get("student").and_then(|s| s.parse::<Uuid>().ok()) else {
        return console.with_store(|store| {
            page::error_page(
                store,
                &session,
                422,
                "The form does not say whose profile it came from; reload the page.",
            )
        });
    };
    console.with_store(|store| {
        match edits(&form, &GUARDIAN_FIELDS)
            .and_then(|e| records::update_guardian(store, guardian_id, &e))
        {
            Ok(_) => saved(student_id),
            Err(e) => refused(store, &session, student_id, guardian_id, &e, &form),
        }
    })
}

#[derive(Deserialize, Default)]
struct AdmitForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    new_family: String,
    #[serde(default)]
    admission_no: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    date_of_birth: String,
    #[serde(default)]
    gender: String,
    #[serde(default)]
    grade: String,
    #[serde(default)]
    class: String,
    #[serde(default)]
    enrolled_on: String,
}

fn admit_form(
    store: &mut Store,
    session: &Session,
    f: &AdmitForm,
    error: Option<&str>,
) -> Result<Markup, ClientError> {
    let family: Option<(Uuid, String)> = match f.family.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => {
            let id: Uuid = id
                .parse()
                .map_err(|_| ClientError::NotFound("no such family on this computer".into()))?;
            Some((id, office::family_name(store, id)?))
        }
        None => None,
    };
    let classes = office::classes(store)?;
    let today = school_today(store);
    let enrolled_on = if f.enrolled_on.is_empty() {
        today.to_string()
    } else {
        f.enrolled_on.clone()
    };
    Ok(html! {
        h1 { "Admit a student" }
        @if let Some(e) = error { p.error #form-error { (e) " Nothing was saved." } }
        form #admit method="post" action="/admit" {
            input type="hidden" name="csrf" value=(session.csrf);
            @match &family {
                Some((id, name)) => {
                    input type="hidden" name="family" value=(id);
                    p { "Into the family " strong #into-family { (name) } " (brothers and sisters are billed together)." }
                }
                None => {
                    p { label { "New family's name " input #new-family name="new_family" value=(f.new_family) placeholder="e.g. Khan family" size="30"; } }
                    p.muted { "A brother or sister of a student already here? Open that student and use “Admit a brother or sister”." }
                }
            }
            p { label { "Admission no. " input #admission-no name="admission_no" value=(f.admission_no) required autofocus; } }
            p { label { "Given name " input #given-name name="given_name" value=(f.given_name) required; } }
            p { label { "Family name " input #family-name name="family_name" value=(f.family_name) required; } }
            p { label { "Date of birth " input #dob name="date_of_birth" type="date" value=(f.date_of_birth); } }
            p { label { "Gender " input #gender name="gender" value=(f.gender) size="10"; } }
            p { label { "Grade " input #grade name="grade" value=(f.grade) size="10"; } }
            p { label { "Class " select #admit-class name="class" {
                option value="" { "— no class yet —" }
                @for c in &classes { option value=(c.id) selected[f.class == c.id.to_string()] { (c.name) } }
            } } " " label { "from " input #enrolled-on name="enrolled_on" type="date" value=(enrolled_on); } }
            button type="submit" { "Admit" }
        }
    })
}

async fn admit_page(
    console: web::Data<Console>,
    req: HttpRequest,
    q: web::Query<AdmitForm>,
) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    console.with_store(|store| match admit_form(store, &session, &q, None) {
        Ok(b) => page::html_response(200, page::frame(store, &session, "Admit", b)),
        Err(e) => page::error_page(store, &session, 404, &e.to_string()),
    })
}

fn admission(f: &AdmitForm) -> Result<NewAdmission, ClientError> {
    let date = |field: &str, v: &str| -> Result<Option<NaiveDate>, ClientError> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| ClientError::invalid(field, format!("“{v}” is not a date (YYYY-MM-DD)")))
    };
    let family = match f.family.as_deref().filter(|s| !s.is_empty()) {
        Some(id) => AdmitInto::Existing(
            id.parse()
                .map_err(|_| ClientError::invalid("family", "not a family of this school"))?,
        ),
        None => AdmitInto::New {
            name: if f.new_family.trim().is_empty() {
                format!("{} family", f.family_name.trim())
            } else {
                f.new_family.clone()
            },
        },
    };
    let class_id = match f.class.trim() {
        "" => None,
        c => Some(
            c.parse()
                .map_err(|_| ClientError::invalid("class", "not a class of this school"))?,
        ),
    };
    Ok(NewAdmission {
        admission_no: f.admission_no.clone(),
        given_name: f.given_name.clone(),
        family_name: f.family_name.clone(),
        date_of_birth: date("date_of_birth", &f.date_of_birth)?,
        gender: Some(f.gender.clone()),
        grade: f.grade.clone(),
        family,
        class_id,
        enrolled_on: date("enrolled_on", &f.enrolled_on)?.unwrap_or_default(),
    })
}

async fn admit(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<AdmitForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let session = match office_change(&console, &req, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    console.with_store(|store| {
        let result = admission(&form).and_then(|mut a| {
            if form.enrolled_on.trim().is_empty() {
                a.enrolled_on = school_today(store);
            }
            records::admit_student(store, &a)
        });
        match result {
            Ok(id) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/student/{id}?admitted=1")))
                .finish(),
            Err(e) => {
                let message = match &e {
                    ClientError::Invalid { field, message } => {
                        let name = match field.as_str() {
                            "family_name_new" => "new family's name",
                            "admission_no" => "admission no.",
                            "enrolled_on" => "class from",
                            f => label(f),
                        };
                        format!("{name}: {message}.")
                    }
                    other => format!("{other}."),
                };
                match admit_form(store, &session, &form, Some(&message)) {
                    Ok(b) => page::html_response(422, page::frame(store, &session, "Admit", b)),
                    Err(e) => page::error_page(store, &session, 404, &e.to_string()),
                }
            }
        }
    })
}
