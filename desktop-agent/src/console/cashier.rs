//! The cashier's flow (office-console issue, "The cashier's flow"): one search box that finds
//! a family, the family card, taking a payment with a live preview of its allocation (the same
//! `client_core::ledger::allocate` rule the server uses), and the receipt, printable on an
//! 80 mm roll or A4/A5 and reprintable. Everything reads and writes the local store, so it
//! works offline; a payment is one durable outbox transaction (`office::record_payment`).

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{NaiveDate, Utc};
use daftar_client_core::client::office;
use daftar_client_core::client::{ClientError, Store};
use daftar_client_core::ledger::{allocate, OpenLine};
use daftar_client_core::money::parse_money;
use daftar_client_core::protocol::{synced, PaymentMethod};
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::page::{self, money};
pub use super::records::{Child, PrintedReceipt};
use super::{office_change, office_user, Console, Session};

/// Most families a search shows.
pub const MAX_RESULTS: usize = 12;

/// Routes of the cashier's pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/cashier", web::get().to(search_page))
        .route("/cashier/results", web::get().to(results_fragment))
        .route("/family/{id}", web::get().to(family_page))
        .route("/family/{id}/preview", web::get().to(preview_fragment))
        .route("/family/{id}/pay", web::post().to(take_payment))
        .route("/family/{id}/discount", web::post().to(grant_discount))
        .route("/receipt/{id}", web::get().to(receipt_page))
        .route("/receipt/{id}/pdf", web::get().to(receipt_pdf))
        .route("/school-logo", web::get().to(school_logo))
        .route("/receipt/{id}/reverse", web::post().to(reverse_payment))
        .route("/receipt/{id}/thermal", web::post().to(thermal_print));
}

/// A family found by a search, with what it owes (minor units of `currency`).
#[derive(Debug, Clone, Serialize)]
pub struct FamilyHit {
    pub family_id: Uuid,
    pub family_name: String,
    pub children: Vec<Child>,
    pub currency: String,
    pub net_due: i64,
    pub credit: i64,
}

/// Lower-case, accents and other marks removed (`"Zoë Ağa"` → `"zoe aga"`).
pub fn fold(text: &str) -> String {
    deunicode::deunicode(text).to_lowercase()
}

fn digits(text: &str) -> String {
    text.chars().filter(|c| c.is_ascii_digit()).collect()
}

/// Whether `word` is a phone number (digits with `+ - ( )`, 4 digits or more) found among
/// `phones` (digits only, space-separated). Leading zeros are the national trunk prefix, so
/// `0300-1234567` finds `+92 300 1234567`.
fn phone_matches(word: &str, phones: &str) -> bool {
    if !word
        .chars()
        .all(|c| c.is_ascii_digit() || "+-()".contains(c))
    {
        return false;
    }
    let d = digits(word);
    let d = d.trim_start_matches('0');
    d.len() >= 4 && phones.contains(d)
}

/// The school's today (its time zone).
pub fn school_today(store: &mut Store) -> NaiveDate {
    Utc::now()
        .with_timezone(&page::school_tz(store))
        .date_naive()
}

/// Each class on this device by id, named with its section ("Grade 5 B").
pub fn class_names(store: &mut Store) -> Result<HashMap<Uuid, String>, ClientError> {
    Ok(office::classes(store)?
        .into_iter()
        .map(|c: synced::Class| {
            let name = if c.section.is_empty() || c.name.contains(&c.section) {
                c.name
            } else {
                format!("{} {}", c.name, c.section)
            };
            (c.id, name)
        })
        .collect())
}

/// Rows that parse as `T` (a row this device cannot read is left out, not an error).
pub(super) fn typed<T: serde::de::DeserializeOwned>(rows: Vec<serde_json::Value>) -> Vec<T> {
    rows.into_iter()
        .filter_map(|r| serde_json::from_value(r).ok())
        .collect()
}

/// Families with a student, guardian or family name, an admission number or a guardian phone
/// matching every word of `query` (any order; case- and accent-insensitive; a phone by its
/// digits), at most [`MAX_RESULTS`], by family name.
///
/// Errors: the store cannot be read.
pub fn search(store: &mut Store, query: &str) -> Result<Vec<FamilyHit>, ClientError> {
    let words: Vec<String> = fold(query).split_whitespace().map(String::from).collect();
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let today = school_today(store);
    let families: HashMap<Uuid, synced::Family> = typed::<synced::Family>(store.rows("families")?)
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    let mut about_family: HashMap<Uuid, (String, String)> = HashMap::new();
    for f in families.values() {
        about_family.insert(f.id, (fold(&f.name), String::new()));
    }
    for g in typed::<synced::Guardian>(store.rows("guardians")?) {
        if let Some((text, phones)) = about_family.get_mut(&g.family_id) {
            text.push(' ');
            text.push_str(&fold(&format!("{} {}", g.given_name, g.family_name)));
            if let Some(p) = &g.phone {
                phones.push(' ');
                phones.push_str(&digits(p));
            }
        }
    }
    let students: Vec<synced::Student> = typed(store.rows("students")?);
    let mut matched: Vec<Uuid> = Vec::new();
    for s in &students {
        if matched.contains(&s.family_id) {
            continue;
        }
        let (family_text, phones) = about_family.get(&s.family_id).cloned().unwrap_or_default();
        let text = format!(
            "{} {} {} {}",
            fold(&s.given_name),
            fold(&s.family_name),
            s.admission_no.to_lowercase(),
            family_text
        );
        let all = words
            .iter()
            .all(|w| text.contains(w.as_str()) || phone_matches(w, &phones));
        if all {
            matched.push(s.family_id);
        }
    }
    matched.sort_by_key(|f| families.get(f).map(|f| fold(&f.name)));
    matched.truncate(MAX_RESULTS);
    let classes = class_names(store)?;
    let mut hits = Vec::new();
    for family_id in matched {
        let children = children_of(store, &students, family_id, today, &classes)?;
        let dues = office::family_dues(store, family_id)?;
        hits.push(FamilyHit {
            family_id,
            family_name: families
                .get(&family_id)
                .map(|f| f.name.clone())
                .unwrap_or_default(),
            children,
            currency: dues.currency,
            net_due: dues.net_due,
            credit: dues.credit_balance,
        });
    }
    Ok(hits)
}

fn children_of(
    store: &mut Store,
    students: &[synced::Student],
    family_id: Uuid,
    today: NaiveDate,
    classes: &HashMap<Uuid, String>,
) -> Result<Vec<Child>, ClientError> {
    let mut out = Vec::new();
    for s in students
        .iter()
        .filter(|s| s.family_id == family_id && s.active)
    {
        let class =
            office::enrolled_class(store, s.id, today)?.and_then(|c| classes.get(&c).cloned());
        out.push(Child {
            student_id: s.id,
            name: s.name(),
            admission_no: s.admission_no.clone(),
            class,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn family_children(store: &mut Store, family_id: Uuid) -> Result<Vec<Child>, ClientError> {
    let today = school_today(store);
    let classes = class_names(store)?;
    let students: Vec<synced::Student> =
        typed(store.rows_where("students", "family_id", &family_id.to_string())?);
    children_of(store, &students, family_id, today, &classes)
}

fn child_label(c: &Child) -> String {
    match &c.class {
        Some(class) => format!("{} ({}, {})", c.name, class, c.admission_no),
        None => format!("{} ({})", c.name, c.admission_no),
    }
}

fn results(hits: &[FamilyHit], query: &str) -> Markup {
    html! {
        div {
            @if hits.is_empty() && !query.trim().is_empty() {
                p.muted { "No family matches “" (query) "”." }
            }
            @for (i, h) in hits.iter().enumerate() {
                a.result href={ "/family/" (h.family_id) } data-index=(i) {
                    strong { (h.family_name) }
                    " — due " span.num { (h.currency) " " (money(h.net_due, &h.currency)) }
                    @if h.credit > 0 { " · credit " (h.currency) " " (money(h.credit, &h.currency)) }
                    br;
                    @for c in &h.children { span.child { (child_label(c)) } " " }
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn search_page(
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
            h1 { "Find a family" }
            form method="get" action="/cashier" {
                input #search name="q" type="search" value=(query) autofocus autocomplete="off"
                    placeholder="Student, admission no., guardian, phone or family" size="50";
            }
            p.muted { "Type, then ↓ or Enter to open the first family. / comes back here." }
            div #results { (results(&hits, &query)) }
        };
        page::html_response(200, page::frame(store, &session, "Families", body))
    })
}

async fn results_fragment(
    console: web::Data<Console>,
    req: HttpRequest,
    q: web::Query<SearchQuery>,
) -> HttpResponse {
    if let Err(r) = office_user(&console, &req) {
        return *r;
    }
    let query = q.into_inner().q;
    let hits = console.with_store(|store| search(store, &query).unwrap_or_default());
    page::html_response(200, results(&hits, &query))
}

#[derive(Deserialize, Default)]
struct PayForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    reference: String,
}

fn family_card(
    store: &mut Store,
    family_id: Uuid,
    session: &Session,
    form: &PayForm,
    error: Option<&str>,
) -> Result<Markup, ClientError> {
    let name = office::family_name(store, family_id)?;
    let dues = office::family_dues(store, family_id)?;
    let cur = dues.currency.clone();
    let children = family_children(store, family_id)?;
    let names: HashMap<Uuid, &Child> = children.iter().map(|c| (c.student_id, c)).collect();
    let tz = page::school_tz(store);
    let mut lines: Vec<(NaiveDate, String, String, i64, i64, Uuid)> = Vec::new();
    for inv in &dues.invoices {
        for l in &inv.lines {
            if l.outstanding > 0 {
                let child = names
                    .get(&inv.student_id)
                    .map(|c| child_label(c))
                    .unwrap_or_default();
                lines.push((
                    l.due_on,
                    child,
                    l.description.clone(),
                    l.amount,
                    l.outstanding,
                    l.invoice_line_id,
                ));
            }
        }
    }
    lines.sort_by_key(|l| l.0);
    let payments = office::family_payments(store, family_id)?;
    let method = if form.method.is_empty() {
        "cash"
    } else {
        form.method.as_str()
    };
    Ok(html! {
        h1 #family-name { (name) }
        p #family-summary {
            "Due " strong #net-due { (cur) " " (money(dues.net_due, &cur)) }
            " · outstanding " (cur) " " (money(dues.total_outstanding, &cur))
            " · credit " span #credit { (cur) " " (money(dues.credit_balance, &cur)) }
        }
        h2 { "Children" }
        ul #children { @for c in &children { li { (child_label(c)) } } }
        h2 { "Open lines, oldest due first" }
        @if lines.is_empty() { p.muted #no-lines { "Nothing owing." } } @else {
            table #open-lines {
                tr { th { "Child" } th { "Fee" } th { "Due" } th.num { "Amount" } th.num { "Paid" } th.num { "Remaining" } th {} }
                @for (due, child, fee, amount, left, line_id) in &lines {
                    tr { td { (child) } td { (fee) } td { (due) } td.num { (money(*amount, &cur)) }
                         td.num { (money(amount - left, &cur)) } td.num { (money(*left, &cur)) }
                         td { details.discount {
                             summary { "Discount" }
                             form method="post" action={ "/family/" (family_id) "/discount" } {
                                 input type="hidden" name="csrf" value=(session.csrf);
                                 input type="hidden" name="line_id" value=(line_id);
                                 select name="kind" {
                                     option value="discount" { "Discount" }
                                     option value="waiver" { "Waiver" }
                                     option value="scholarship" { "Scholarship" }
                                 }
                                 " " input name="amount" placeholder={ "amount (" (cur) ")" } size="10" required;
                                 " " input name="reason" placeholder="reason" size="24" required;
                                 " " button type="submit" { "Grant" }
                             }
                         } }
                    }
                }
            }
        }
        h2 { "Take payment" }
        @if let Some(e) = error { p.error #pay-error { (e) } }
        form #pay method="post" action={ "/family/" (family_id) "/pay" } data-family=(family_id) {
            input type="hidden" name="csrf" value=(session.csrf);
            label { "Amount (" (cur) ") " input #amount name="amount" value=(form.amount) autofocus autocomplete="off" inputmode="decimal" required; }
            " "
            label { "Method " select #method name="method" {
                @for (v, label) in [("cash", "Cash"), ("bank_transfer", "Bank transfer"), ("cheque", "Cheque")] {
                    option value=(v) selected[v == method] { (label) }
                }
            } }
            " "
            label { "Reference " input #reference name="reference" value=(form.reference) placeholder="cheque or transfer no."; }
            " "
            button #confirm type="submit" { "Take payment (Enter)" }
            div #preview aria-live="polite" {}
        }
        h2 { "Last payments" }
        @if payments.is_empty() { p.muted { "None yet." } } @else {
            table #payments {
                tr { th { "Receipt" } th { "When (school time)" } th { "Method" } th.num { "Amount" } th {} }
                @for p in payments.iter().take(10) {
                    tr {
                        td { a href={ "/receipt/" (p.id) } { (p.receipt_no) } }
                        td { (page::local_time(p.received_at, tz)) }
                        td { (page::method_label(p.method)) }
                        td.num { (money(p.amount, &cur)) }
                        td {
                            @if p.reversal_pending { span.warning.reversal { "reversal pending sync" } }
                            @else if p.offline { span.warning { "pending sync" } }
                        }
                    }
                }
            }
        }
    })
}

/// The family card again with `message` above the payment form (422), keeping what was
/// typed in `form`; a page saying so when the family is not on this device (404).
fn card_refusing(
    store: &mut Store,
    family_id: Uuid,
    session: &Session,
    form: &PayForm,
    message: &str,
) -> HttpResponse {
    match family_card(store, family_id, session, form, Some(message)) {
        Ok(body) => page::html_response(422, page::frame(store, session, "Family", body)),
        Err(e) => page::error_page(store, session, 404, &e.to_string()),
    }
}

async fn family_page(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let family_id = path.into_inner();
    console.with_store(|store| {
        match family_card(store, family_id, &session, &PayForm::default(), None) {
            Ok(body) => page::html_response(200, page::frame(store, &session, "Family", body)),
            Err(e) => page::error_page(store, &session, 404, &e.to_string()),
        }
    })
}

#[derive(Deserialize)]
struct PreviewQuery {
    #[serde(default)]
    amount: String,
}

/// What the cashier's typed amount means and where it would go, before saving.
fn preview(store: &mut Store, family_id: Uuid, amount: &str) -> Result<Markup, ClientError> {
    let currency = office::school(store)?.currency;
    if amount.trim().is_empty() {
        return Ok(html! {});
    }
    let minor = match parse_money(amount, &currency) {
        Ok(m) => m,
        Err(e) => return Ok(html! { p.error #amount-error { "Amount: " (e) } }),
    };
    let lines = office::family_lines(store, family_id)?;
    let open: Vec<OpenLine> = lines.iter().map(OpenLine::from).collect();
    let plan = match allocate(minor, &open) {
        Ok(p) => p,
        Err(e) => return Ok(html! { p.error #amount-error { "Amount: " (e) } }),
    };
    let children = family_children(store, family_id)?;
    let owing: i64 = lines.iter().map(|l| l.outstanding.max(0)).sum();
    Ok(html! {
        p.understood #understood { "Understood: " strong { (currency) " " (money(minor, &currency)) } }
        @if owing == 0 {
            p.warning #owes-nothing { "This family owes nothing: all of it will be kept as family credit." }
        }
        table #allocation {
            @for a in &plan.allocations {
                @let line = lines.iter().find(|l| l.invoice_line_id == a.invoice_line_id);
                tr {
                    td { (line.and_then(|l| children.iter().find(|c| c.student_id == l.student_id)).map(|c| c.name.clone()).unwrap_or_default()) }
                    td { (line.map(|l| l.description.clone()).unwrap_or_default()) }
                    td.num { (money(a.amount, &currency)) }
                }
            }
            @if plan.unallocated > 0 {
                tr { td colspan="2" { "Kept as family credit" } td.num { (money(plan.unallocated, &currency)) } }
            }
        }
    })
}

async fn preview_fragment(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    q: web::Query<PreviewQuery>,
) -> HttpResponse {
    if let Err(r) = office_user(&console, &req) {
        return *r;
    }
    let family_id = path.into_inner();
    console.with_store(|store| match preview(store, family_id, &q.amount) {
        Ok(m) => page::html_response(200, m),
        Err(e) => page::html_response(404, html! { p.error { (e.to_string()) } }),
    })
}

fn parse_method(method: &str) -> Result<PaymentMethod, String> {
    serde_json::from_value(serde_json::Value::String(method.to_string()))
        .map_err(|_| format!("Method: `{method}` is not cash, bank transfer or cheque"))
}

async fn take_payment(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<PayForm>,
) -> HttpResponse {
    let session = match office_change(&console, &req, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let family_id = path.into_inner();
    let form = form.into_inner();
    console.with_store(|store| {
        let refuse =
            |store: &mut Store, msg: String| card_refusing(store, family_id, &session, &form, &msg);
        let currency = match office::school(store) {
            Ok(s) => s.currency,
            Err(e) => return page::error_page(store, &session, 503, &e.to_string()),
        };
        if let Err(e) = office::family_name(store, family_id) {
            return page::error_page(store, &session, 404, &e.to_string());
        }
        let amount = match parse_money(&form.amount, &currency) {
            Ok(a) => a,
            Err(e) => return refuse(store, format!("Amount: {e}")),
        };
        let method = match parse_method(&form.method) {
            Ok(m) => m,
            Err(e) => return refuse(store, e),
        };
        let reference = Some(form.reference.trim().to_string()).filter(|r| !r.is_empty());
        if method == PaymentMethod::Cheque && reference.is_none() {
            return refuse(store, "Reference: a cheque needs its number".into());
        }
        let receipt = match office::record_payment(
            store,
            family_id,
            amount,
            method,
            reference.clone(),
            Some(session.user_id),
        ) {
            Ok(r) => r,
            Err(e) => return refuse(store, e.to_string()),
        };
        let after = office::family_dues(store, family_id).ok();
        let printed = PrintedReceipt {
            reference,
            cashier: session.display_name.clone(),
            cashier_user_id: session.user_id,
            net_due_after: after.as_ref().map(|d| d.net_due).unwrap_or(0),
            credit_after: after.as_ref().map(|d| d.credit_balance).unwrap_or(0),
            children: family_children(store, family_id).unwrap_or_default(),
            receipt,
        };
        let id = printed.receipt.payment_id;
        if let Ok(json) = serde_json::to_string(&printed) {
            if let Err(e) = store.set_device(&format!("receipt:{id}"), &json) {
                tracing::warn!(%id, "keeping the printed receipt failed: {e}");
            }
        }
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/receipt/{id}")))
            .finish()
    })
}

/// The receipt as the family reads it (the 80 mm roll's text).
/// With `logo`, the school's logo (served at `/school-logo`) heads it.
pub fn receipt_markup(p: &PrintedReceipt, tz: chrono_tz::Tz, pending: bool, logo: bool) -> Markup {
    let r = &p.receipt;
    let cur = &r.currency;
    html! {
        div.receipt #receipt {
            @if logo { img #receipt-logo src="/school-logo" alt=(r.school); }
            h2 { (r.school) }
            @if !r.school_address.is_empty() { p.address #school-address { (r.school_address) } }
            p { "RECEIPT " strong #receipt-no { (r.receipt_no) } br;
                (page::local_time(r.received_at, tz)) " " (r.received_at.with_timezone(&tz).format("%Z")) br;
                "Cashier: " (p.cashier) }
            p { "Family: " (r.family) }
            @for c in &p.children { p { (child_label(c)) } }
            table {
                @for (student, line, amount) in &r.allocations {
                    tr { td { (student) " — " (line) } td.num { (money(*amount, cur)) } }
                }
                @if r.to_credit > 0 {
                    tr { td { "Kept as family credit" } td.num { (money(r.to_credit, cur)) } }
                }
                tr { td { strong { "Received (" (page::method_label(r.method)) ")" } } td.num { strong { (cur) " " (money(r.amount, cur)) } } }
            }
            @if let Some(reference) = &p.reference { p { "Reference: " (reference) } }
            p { "Balance due after this payment: " (cur) " " (money(p.net_due_after.max(0), cur)) br;
                "Credit held: " (cur) " " (money(p.credit_after, cur)) }
            @if pending { p.pending #pending-sync { "PENDING SYNC" } }
        }
    }
}

async fn receipt_page(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    let notice = web::Query::<ThermalNotice>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().printed);
    console.with_store(|store| {
        let printed = match printed_or_404(store, &session, id) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        let pending = pending_sync(store, id);
        let tz = page::school_tz(store);
        let body = html! {
            div.no-print {
                button #print-80 type="button" data-print="roll" { "Print 80 mm (P)" } " "
                button #print-a5 type="button" data-print="a5" { "A5" } " "
                button #print-a4 type="button" data-print="a4" { "A4" } " "
                a #receipt-pdf href={ "/receipt/" (id) "/pdf" } { "PDF" } " "
                @if console.printer.is_some() {
                    form.inline method="post" action={ "/receipt/" (id) "/thermal" } {
                        input type="hidden" name="csrf" value=(session.csrf);
                        button #print-thermal type="submit" { "Thermal printer (T)" }
                    } " "
                }
                a #next-family href="/cashier" { "Next family (N)" } " "
                a href={ "/family/" (printed.receipt.family_id) } { "Back to the family" }
            }
            @if let Some(note) = &notice { p.no-print #printed class=(if note.starts_with("Sent") { "understood" } else { "error" }) { (note) } }
            (receipt_markup(&printed, tz, pending, office::school_logo(store).ok().flatten().is_some()))
            details.no-print #reverse {
                summary { "Reverse this payment" }
                form method="post" action={ "/receipt/" (id) "/reverse" } {
                    input type="hidden" name="csrf" value=(session.csrf);
                    label { "Reason " input #reverse-reason name="reason" required maxlength="500" size="40"; }
                    " "
                    button #reverse-confirm type="submit" { "Reverse" }
                }
            }
        };
        page::html_response(200, page::frame(store, &session, "Receipt", body))
    })
}

/// Whether payment `id` is still known only to this device (its receipt says "PENDING SYNC").
fn pending_sync(store: &mut Store, id: Uuid) -> bool {
    store
        .row("payments", &id.to_string())
        .ok()
        .flatten()
        .and_then(|p| p.get("offline").and_then(|o| o.as_bool()))
        .unwrap_or(false)
}

/// The printed receipt of payment `id`, or the page saying this console has none (404).
fn printed_or_404(
    store: &mut Store,
    session: &Session,
    id: Uuid,
) -> Result<PrintedReceipt, Box<HttpResponse>> {
    printed(store, id).ok_or_else(|| {
        Box::new(page::error_page(
            store,
            session,
            404,
            "This console has no receipt with that number.",
        ))
    })
}

fn printed(store: &mut Store, id: Uuid) -> Option<PrintedReceipt> {
    store
        .device(&format!("receipt:{id}"))
        .ok()
        .flatten()
        .and_then(|j| serde_json::from_str(&j).ok())
}

/// `GET /receipt/{id}/pdf`: the receipt as an A5 PDF, with the thermal roll's lines.
/// The school's receipt logo as this computer keeps it (fetched after a sync); 404 without.
async fn school_logo(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    if let Err(r) = office_user(&console, &req) {
        return *r;
    }
    match console.with_store(|store| office::school_logo(store).ok().flatten()) {
        Some((media, bytes)) => HttpResponse::Ok()
            .content_type(media)
            .insert_header((header::CACHE_CONTROL, "private, no-cache"))
            .body(bytes),
        None => HttpResponse::NotFound().finish(),
    }
}

async fn receipt_pdf(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    console.with_store(|store| {
        let p = match printed_or_404(store, &session, id) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        // The same lines as the thermal roll: cashier, children, balance, credit, pending.
        let lines = super::thermal::lines(&p, page::school_tz(store), pending_sync(store, id));
        let logo = office::school_logo(store)
            .ok()
            .flatten()
            .map(|(_, bytes)| bytes);
        let file = std::env::temp_dir().join(format!("daftar-receipt-{}.pdf", Uuid::now_v7()));
        let bytes = crate::receipt::write_pdf_lines(
            &format!("Receipt {}", p.receipt.receipt_no),
            &lines,
            1,
            logo.as_deref(),
            &file,
        )
        .and_then(|()| Ok(std::fs::read(&file)?));
        let _ = std::fs::remove_file(&file);
        match bytes {
            Ok(b) => HttpResponse::Ok()
                .content_type("application/pdf")
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"receipt-{}.pdf\"", p.receipt.receipt_no),
                ))
                .body(b),
            Err(e) => page::error_page(
                store,
                &session,
                500,
                &format!("The PDF could not be made: {e:#}"),
            ),
        }
    })
}

#[derive(Deserialize)]
struct ReverseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// `POST /receipt/{id}/reverse`: queues the payment's reversal (office roles; the server
/// checks the role again) and goes back to the family card.
async fn reverse_payment(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<ReverseForm>,
) -> HttpResponse {
    let session = match office_change(&console, &req, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    console.with_store(|store| {
        let p = match printed_or_404(store, &session, id) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        match office::reverse_payment(store, id, &form.reason) {
            Ok(_) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/family/{}", p.receipt.family_id)))
                .finish(),
            Err(e) => page::error_page(store, &session, 422, &e.to_string()),
        }
    })
}

#[derive(Deserialize)]
struct DiscountForm {
    #[serde(default)]
    csrf: String,
    line_id: Uuid,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
}

/// `POST /family/{id}/discount`: a discount, waiver or scholarship on one open line, granted
/// by the signed-in office user, queued offline (`office::grant_discount`).
async fn grant_discount(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<DiscountForm>,
) -> HttpResponse {
    let session = match office_change(&console, &req, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let family_id = path.into_inner();
    let form = form.into_inner();
    console.with_store(|store| {
        let refuse = |store: &mut Store, msg: String| {
            card_refusing(store, family_id, &session, &PayForm::default(), &msg)
        };
        let currency = match office::school(store) {
            Ok(s) => s.currency,
            Err(e) => return page::error_page(store, &session, 503, &e.to_string()),
        };
        let kind: daftar_client_core::protocol::DiscountKind =
            match serde_json::from_value(serde_json::Value::String(form.kind.clone())) {
                Ok(k) => k,
                Err(_) => {
                    return refuse(store, format!("Discount kind: `{}` is not one", form.kind))
                }
            };
        let amount = match parse_money(&form.amount, &currency) {
            Ok(a) => a,
            Err(e) => return refuse(store, format!("Discount amount: {e}")),
        };
        match office::grant_discount(
            store,
            form.line_id,
            kind,
            Some(amount),
            None,
            &form.reason,
            session.user_id,
        ) {
            Ok(_) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, format!("/family/{family_id}")))
                .finish(),
            Err(e) => refuse(store, format!("Discount: {e}")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use daftar_client_core::protocol::sync::ChangeRow;
    use serde_json::json;

    const T: &str = "2026-12-01T08:00:00Z";

    fn change(entity: &str, row: serde_json::Value) -> ChangeRow {
        ChangeRow {
            entity: entity.into(),
            id: row["id"].as_str().unwrap_or_default().to_string(),
            version: 1,
            deleted: false,
            row: Some(row),
        }
    }

    /// A replica with one school, two families (one with a guardian's phone), two children
    /// named alike and one with an accented name.
    fn store() -> (tempfile::TempDir, Store, Uuid, Uuid) {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = Store::open(dir.path()).unwrap();
        let (school, khan, zoe) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let student = |family: Uuid, adm: &str, given: &str, surname: &str| {
            json!({ "school_id": school, "id": Uuid::now_v7(), "family_id": family,
                    "admission_no": adm, "given_name": given, "family_name": surname,
                    "date_of_birth": null, "gender": null, "grade": "3", "email": null,
                    "active": true, "sourced_id": null, "created_at": T, "updated_at": T })
        };
        let rows = vec![
            change(
                "schools",
                json!({ "id": school, "slug": "s", "name": "School", "currency": "PKR",
                "timezone": "Asia/Karachi", "sourced_id": null, "created_at": T, "updated_at": T,
                "attendance_edit_window_days": 7, "max_amount": 100_000_000 }),
            ),
            change(
                "families",
                json!({ "school_id": school, "id": khan, "name": "Khan family",
                "active": true, "created_at": T, "updated_at": T }),
            ),
            change(
                "families",
                json!({ "school_id": school, "id": zoe, "name": "Ağa family",
                "active": true, "created_at": T, "updated_at": T }),
            ),
            change(
                "guardians",
                json!({ "school_id": school, "id": Uuid::now_v7(), "family_id": khan,
                "user_id": null, "given_name": "Imran", "family_name": "Khan", "relationship": "father",
                "phone": "+92 300 1234567", "email": null, "active": true, "sourced_id": null,
                "created_at": T, "updated_at": T }),
            ),
            change("students", student(khan, "DS-0001", "Ali", "Khan")),
            change("students", student(khan, "DS-0002", "Sara", "Khan")),
            change("students", student(zoe, "DS-0003", "Zoë", "Ağa")),
            change("students", student(zoe, "DS-0004", "Ali", "Ağa")),
        ];
        store.stage(&rows, "c1").unwrap();
        store.apply_staged("c1", 1).unwrap();
        (dir, store, khan, zoe)
    }

    fn found(store: &mut Store, q: &str) -> Vec<Uuid> {
        search(store, q)
            .unwrap()
            .into_iter()
            .map(|h| h.family_id)
            .collect()
    }

    #[test]
    fn one_box_finds_a_family_by_name_in_any_order_admission_no_guardian_or_phone() {
        let (_dir, mut s, khan, zoe) = store();
        assert_eq!(found(&mut s, "khan ali"), vec![khan], "words in any order");
        assert_eq!(
            found(&mut s, "ZOE aga"),
            vec![zoe],
            "accents and case ignored"
        );
        assert_eq!(found(&mut s, "ds-0003"), vec![zoe], "admission number");
        assert_eq!(found(&mut s, "imran"), vec![khan], "guardian's name");
        assert_eq!(
            found(&mut s, "0300-1234567"),
            vec![khan],
            "guardian's phone, by digits"
        );
        assert_eq!(found(&mut s, "aga family"), vec![zoe], "family name");
        let ali = search(&mut s, "ali").unwrap();
        assert_eq!(ali.len(), 2, "two Alis, two families");
        assert!(ali
            .iter()
            .all(|h| h.children.iter().any(|c| c.admission_no.starts_with("DS-"))));
        assert!(found(&mut s, "nobody").is_empty());
        assert!(found(&mut s, "  ").is_empty());
    }
}

#[derive(Deserialize)]
struct ThermalNotice {
    printed: Option<String>,
}

/// `POST /receipt/{id}/thermal`: sends the receipt to the configured thermal printer as
/// ESC/POS ([`super::thermal`]) and comes back to the receipt saying how it went.
async fn thermal_print(
    console: web::Data<Console>,
    req: HttpRequest,
    path: web::Path<Uuid>,
    form: web::Form<CsrfOnly>,
) -> HttpResponse {
    let session = match office_change(&console, &req, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let id = path.into_inner();
    let Some(target) = console.printer.clone() else {
        return console.with_store(|store| {
            page::error_page(
                store,
                &session,
                409,
                "No thermal printer is configured (daftar-agent console --printer …).",
            )
        });
    };
    let job = console.with_store(|store| {
        let p = printed(store, id)?;
        let pending = pending_sync(store, id);
        Some(super::thermal::lines(&p, page::school_tz(store), pending))
    });
    let Some(lines) = job else {
        return console.with_store(|store| {
            page::error_page(
                store,
                &session,
                404,
                "This console has no receipt with that number.",
            )
        });
    };
    let outcome = web::block(move || super::thermal::print(&target, &lines))
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
    let note = match outcome {
        Ok(()) => "Sent to the thermal printer.".to_string(),
        Err(e) => e,
    };
    let query = serde_urlencoded::to_string([("printed", note)]).unwrap_or_default();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("/receipt/{id}?{query}")))
        .finish()
}

#[derive(Deserialize)]
struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}
