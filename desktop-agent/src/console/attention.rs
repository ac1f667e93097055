//! "Needs attention" (office-console issue, "Sync bar"): the edits of this device the server
//! rejected or merged with a conflict, each in the office's words with the server's reason
//! (or, for a conflict, each field: what was typed, what the server kept, what it had been),
//! and a "resolved" form with a note. Resolving is recorded here at once (the count on the
//! sync bar drops) and told to the server if it answers now, as `daftar-agent rejections
//! --resolve` does; if it does not, the server's own list keeps the edit.

use actix_web::{web, HttpRequest, HttpResponse};
use daftar_client_core::client::store::StoredOp;
use daftar_client_core::client::{office, ClientError, Store};
use daftar_client_core::protocol::sync::{
    AdmitStudentArgs, MarkRegisterArgs, ReversePaymentArgs, UpdateRecordArgs,
    ATTENDANCE_MARK_REGISTER, ATTENDANCE_OVERRIDE, DISCOUNT_GRANT, GUARDIAN_UPDATE, PAYMENT_RECORD,
    PAYMENT_REVERSE, STUDENT_ADMIT, STUDENT_UPDATE,
};
use daftar_client_core::protocol::RecordPaymentRequest;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::page::{self, money};
use super::{call_server, office_change, office_user, Console, Session};

/// Routes of the page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/attention", web::get().to(attention_page))
        .route("/attention/{op}/resolve", web::post().to(resolve));
}

/// What `op` was, in the office's words ("Payment of PKR 1,500.00 by the Khan family").
pub fn describe(store: &mut Store, op: &StoredOp) -> String {
    let args = &op.op.args;
    match op.op.mutation.as_str() {
        PAYMENT_RECORD => match serde_json::from_value::<RecordPaymentRequest>(args.clone()) {
            Ok(p) => {
                let family = p
                    .family_id
                    .and_then(|f| office::family_name(store, f).ok())
                    .unwrap_or_else(|| "an unknown family".into());
                format!(
                    "Payment of {} {} by {family}",
                    p.currency,
                    money(p.amount, &p.currency)
                )
            }
            Err(_) => "A payment".into(),
        },
        PAYMENT_REVERSE => match serde_json::from_value::<ReversePaymentArgs>(args.clone()) {
            Ok(r) => format!("Reversal of a payment (“{}”)", r.reason),
            Err(_) => "A payment reversal".into(),
        },
        DISCOUNT_GRANT => "A discount at the counter".into(),
        ATTENDANCE_MARK_REGISTER | ATTENDANCE_OVERRIDE => {
            match serde_json::from_value::<MarkRegisterArgs>(args.clone()) {
                Ok(m) => {
                    let class = office::classes(store)
                        .ok()
                        .and_then(|cs| cs.into_iter().find(|c| c.id == m.class_id))
                        .map(|c| c.name)
                        .unwrap_or_else(|| "a class".into());
                    format!("Register of {class} on {}", m.on_date)
                }
                Err(_) => "A register".into(),
            }
        }
        STUDENT_UPDATE | GUARDIAN_UPDATE => {
            let (entity, what) = if op.op.mutation == STUDENT_UPDATE {
                ("students", "student")
            } else {
                ("guardians", "guardian")
            };
            match serde_json::from_value::<UpdateRecordArgs>(args.clone()) {
                Ok(u) => {
                    let name = store
                        .row(entity, &u.id.to_string())
                        .ok()
                        .flatten()
                        .map(|r| {
                            format!(
                                "{} {}",
                                r["given_name"].as_str().unwrap_or(""),
                                r["family_name"].as_str().unwrap_or("")
                            )
                        })
                        .unwrap_or_else(|| format!("a {what}"));
                    let fields: Vec<&str> = u.fields.keys().map(|k| label(k)).collect();
                    format!("Change to {what} {name}: {}", fields.join(", "))
                }
                Err(_) => format!("A change to a {what}"),
            }
        }
        STUDENT_ADMIT => match serde_json::from_value::<AdmitStudentArgs>(args.clone()) {
            Ok(a) => format!(
                "Admission of {} {} ({})",
                a.student.given_name, a.student.family_name, a.student.admission_no
            ),
            Err(_) => "An admission".into(),
        },
        other => other.to_string(),
    }
}

/// A record field as a person names it.
pub fn label(field: &str) -> &str {
    match field {
        "given_name" => "given name",
        "family_name" => "family name",
        "date_of_birth" => "date of birth",
        "relationship" => "relationship",
        "phone" => "phone",
        "email" => "e-mail",
        "gender" => "gender",
        "grade" => "grade",
        other => other,
    }
}

/// A JSON field value as a person reads it (`—` for none).
pub fn shown(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) if s.is_empty() => "—".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// What the server said about `op`: its reason, or for a conflict each field's outcome.
pub fn outcome(op: &StoredOp) -> Markup {
    let Some(o) = &op.outcome else {
        return html! { span.muted { "no answer recorded" } };
    };
    html! {
        @if op.state == "conflict" || !o.conflicts.is_empty() {
            p { "Applied, except where someone else had changed the same field first; the server kept their value:" }
            table.conflicts {
                tr { th { "Field" } th { "You typed" } th { "The server kept" } th { "It was, when you opened the form" } }
                @for c in &o.conflicts {
                    tr { td { (label(&c.field)) } td { (shown(&c.losing_value)) } td { (shown(&c.server_value)) } td { (shown(&c.base_value)) } }
                }
            }
        } @else {
            p.error {
                "Refused by the server: " (o.message.clone().unwrap_or_default())
                @if let Some(code) = &o.code { span.muted { " (" (code) ")" } }
                @if let Some(f) = &o.field { span.muted { " — field " (f) } }
            }
        }
    }
}

fn body(store: &mut Store, session: &Session, notice: Option<&str>) -> Result<Markup, ClientError> {
    let tz = page::school_tz(store);
    let ops = store.ops_needing_attention()?;
    let described: Vec<(StoredOp, String)> = ops
        .into_iter()
        .map(|o| {
            let d = describe(store, &o);
            (o, d)
        })
        .collect();
    Ok(html! {
        h1 { "Needs attention" }
        @if let Some(n) = notice { p.understood #notice { (n) } }
        @if described.is_empty() {
            p #nothing { "Nothing needs attention: the server has accepted every edit made on this computer." }
        }
        @for (o, what) in &described {
            section.attention data-op=(o.op.op_id) {
                h2 { (what) }
                p.muted { "Made here " (page::local_time(o.op.created_at, tz)) " · edit no. " (o.op.seq) }
                (outcome(o))
                form method="post" action={ "/attention/" (o.op.op_id) "/resolve" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label { "What was done about it " input name="note" required size="50" placeholder="e.g. refunded at the counter; re-entered the phone"; }
                    " " button type="submit" { "Mark resolved" }
                }
            }
        }
    })
}

async fn attention_page(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    console.with_store(|store| match body(store, &session, None) {
        Ok(b) => page::html_response(200, page::frame(store, &session, "Needs attention", b)),
        Err(e) => page::error_page(store, &session, 500, &e.to_string()),
    })
}

#[derive(Deserialize)]
struct ResolveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

async fn resolve(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<ResolveForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let session = match office_change(&console, &req, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let op_id = path.into_inner();
    let note = form.note.trim().to_string();
    if note.is_empty() || note.chars().count() > 500 {
        return console.with_store(|store| {
            let b = body(store, &session, None).unwrap_or_default();
            page::html_response(
                422,
                page::frame(
                    store,
                    &session,
                    "Needs attention",
                    html! { p.error #form-error { "Note: say what was done about it (1 to 500 characters)." } (b) },
                ),
            )
        });
    }
    let found = console.with_store(|store| store.resolve_op(op_id));
    match found {
        Ok(true) => {}
        Ok(false) => {
            return console.with_store(|store| {
                page::error_page(
                    store,
                    &session,
                    404,
                    "No rejected or conflicting edit with that id on this computer (already resolved?).",
                )
            })
        }
        Err(e) => {
            return console.with_store(|store| page::error_page(store, &session, 500, &e.to_string()))
        }
    }
    // Tell the server when it answers; the device's record is what the sync bar counts.
    let told = call_server(&console, move |api| api.resolve_rejection(op_id, &note)).await;
    let notice = match told {
        Ok(()) => "Resolved, here and on the server.".to_string(),
        Err(e) => format!("Resolved here; the server could not be told now ({e}). Its own list keeps the edit until someone resolves it there."),
    };
    console.with_store(|store| match body(store, &session, Some(&notice)) {
        Ok(b) => page::html_response(200, page::frame(store, &session, "Needs attention", b)),
        Err(e) => page::error_page(store, &session, 500, &e.to_string()),
    })
}
