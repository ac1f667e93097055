//! Reports (office-console issue, "Reports"): the server's reports — collections, dues with
//! ageing, income, defaulters, trial balance, zero activity — fetched from the server as JSON
//! and shown as tables (money in major units with thousands separators), and downloaded as the
//! server's CSV or Excel file. They are computed from the canonical journal, so they need the
//! server: when it does not answer, the page says so plainly and points to the dashboard,
//! which works offline from this computer's copy.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate};
use daftar_client_core::client::ClientError;
use daftar_client_core::protocol::{ColumnKind, ReportCell, ReportTable};
use maud::{html, Markup};
use serde::Deserialize;

use super::cashier::school_today;
use super::page::{self, money_wide};
use super::{call_server, office_user, Console};

/// Routes of the reports page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports", web::get().to(reports_page))
        .route("/reports/download", web::get().to(download));
}

/// The reports offered, with how each is asked: (name, title, reads a period).
pub const REPORTS: [(&str, &str, bool); 6] = [
    (
        "collections",
        "Collections by day, cashier and method",
        true,
    ),
    ("dues", "Dues outstanding, by age", false),
    ("defaulters", "Defaulters", false),
    ("income", "Income by fee head", true),
    ("trial_balance", "Trial balance", false),
    (
        "zero_activity",
        "Families and students with no activity",
        true,
    ),
];

#[derive(Deserialize, Default, Clone)]
struct Asked {
    #[serde(default)]
    name: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    as_of: String,
    #[serde(default)]
    format: String,
}

/// Query parameters for the server's report endpoint.
type ServerQuery = Vec<(&'static str, String)>;

/// The report's query for the server, with the school-local defaults filled in (a period:
/// the first of this month to today; a balance: as of today).
///
/// Errors: a date that is not YYYY-MM-DD, naming the field.
fn server_query(a: &Asked, today: NaiveDate) -> Result<(&'static str, ServerQuery), String> {
    let Some(&(name, _, period)) = REPORTS.iter().find(|r| r.0 == a.name) else {
        return Err(format!("“{}” is not one of the reports", a.name));
    };
    let date = |field: &'static str,
                v: &str,
                default: NaiveDate|
     -> Result<(&'static str, String), String> {
        let v = v.trim();
        if v.is_empty() {
            return Ok((field, default.to_string()));
        }
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(|d| (field, d.to_string()))
            .map_err(|_| format!("{field}: “{v}” is not a date (YYYY-MM-DD)"))
    };
    let q = if period {
        vec![
            date("from", &a.from, today.with_day(1).unwrap_or(today))?,
            date("to", &a.to, today)?,
        ]
    } else {
        vec![date("as_of", &a.as_of, today)?]
    };
    Ok((name, q))
}

fn cell(c: &ReportCell, kind: ColumnKind, currency: &str) -> String {
    match (c, kind) {
        (ReportCell::Int(n), ColumnKind::Money) => money_wide(*n, currency),
        (ReportCell::Int(n), _) => n.to_string(),
        (ReportCell::Text(t), _) => t.clone(),
        (ReportCell::Empty, _) => String::new(),
    }
}

fn table(t: &ReportTable) -> Markup {
    let numeric = |k: ColumnKind| matches!(k, ColumnKind::Money | ColumnKind::Count);
    html! {
        h2 #report-title { (t.title) }
        table #report {
            tr { @for c in &t.columns {
                th class=(if numeric(c.kind) { "num" } else { "" }) {
                    (c.label) @if c.kind == ColumnKind::Money { " (" (t.currency) ")" }
                }
            } }
            @if t.rows.is_empty() { tr { td colspan=(t.columns.len()) { span.muted { "Nothing in this report." } } } }
            @for r in &t.rows {
                tr { @for (c, col) in r.iter().zip(&t.columns) {
                    td class=(if numeric(col.kind) { "num" } else { "" }) { (cell(c, col.kind, &t.currency)) }
                } }
            }
            @if let Some(tot) = &t.totals {
                tr.totals { @for (c, col) in tot.iter().zip(&t.columns) {
                    th class=(if numeric(col.kind) { "num" } else { "" }) { (cell(c, col.kind, &t.currency)) }
                } }
            }
        }
    }
}

/// What to say when the server did not give the report.
fn unavailable(e: &ClientError) -> Markup {
    page::needs_server(
        e,
        html! { "This report needs the server, and the server is not answering now. Reports are computed from the school's full journal; try again when the internet is back. Today's figures from this computer are on the " a href="/dashboard" { "Today" } " page." },
        "the report",
        "report-error",
    )
}

async fn reports_page(
    console: web::Data<Console>,
    req: HttpRequest,
    q: web::Query<Asked>,
) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let asked = q.into_inner();
    let today = console.with_store(school_today);
    let (status, result): (u16, Option<Markup>) = if asked.name.is_empty() {
        (200, None)
    } else {
        match server_query(&asked, today) {
            Err(message) => (422, Some(html! { p.error #report-error { (message) } })),
            Ok((name, query)) => {
                let path = format!("/reports/{name}");
                let fetched = call_server(&console, move |api| {
                    api.get_with::<ReportTable>(&path, &query)
                })
                .await;
                match fetched {
                    Ok(t) => {
                        let link = |format: &str| {
                            let q = serde_urlencoded::to_string([
                                ("name", asked.name.as_str()),
                                ("from", asked.from.as_str()),
                                ("to", asked.to.as_str()),
                                ("as_of", asked.as_of.as_str()),
                                ("format", format),
                            ])
                            .unwrap_or_default();
                            format!("/reports/download?{q}")
                        };
                        (
                            200,
                            Some(html! {
                                p { a #download-csv href=(link("csv")) { "Download CSV" } " · " a #download-xlsx href=(link("xlsx")) { "Download Excel" } }
                                (table(&t))
                            }),
                        )
                    }
                    Err(e) => (
                        if e.is_transient() { 503 } else { 422 },
                        Some(unavailable(&e)),
                    ),
                }
            }
        }
    };
    let first = today.with_day(1).unwrap_or(today);
    let body = html! {
        h1 { "Reports" }
        p.muted { "From the server's journal, dates in the school's time zone. Periods include both dates." }
        form #report-form method="get" action="/reports" {
            label { "Report " select #report-name name="name" {
                @for (name, title, _) in REPORTS { option value=(name) selected[asked.name == name] { (title) } }
            } }
            " " label { "from " input #from name="from" type="date" value=(if asked.from.is_empty() { first.to_string() } else { asked.from.clone() }); }
            " " label { "to " input #to name="to" type="date" value=(if asked.to.is_empty() { today.to_string() } else { asked.to.clone() }); }
            " " label { "as of " input #as-of name="as_of" type="date" value=(if asked.as_of.is_empty() { today.to_string() } else { asked.as_of.clone() }); }
            " " button type="submit" { "Show" }
        }
        @if let Some(r) = result { (r) }
    };
    console.with_store(|store| {
        page::html_response(status, page::frame(store, &session, "Reports", body))
    })
}

async fn download(
    console: web::Data<Console>,
    req: HttpRequest,
    q: web::Query<Asked>,
) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let asked = q.into_inner();
    let format = match asked.format.as_str() {
        "csv" | "xlsx" => asked.format.clone(),
        other => {
            return console.with_store(|store| {
                page::error_page(
                    store,
                    &session,
                    422,
                    &format!("format: “{other}” is not csv or xlsx"),
                )
            })
        }
    };
    let today = console.with_store(school_today);
    let (name, mut query) = match server_query(&asked, today) {
        Ok(q) => q,
        Err(m) => return console.with_store(|store| page::error_page(store, &session, 422, &m)),
    };
    query.push(("format", format));
    let path = format!("/reports/{name}");
    let fetched = call_server(&console, move |api| api.get_file(&path, &query)).await;
    match fetched {
        Ok(file) => {
            let mut r = HttpResponse::Ok();
            r.content_type(file.content_type);
            if let Some(d) = file.disposition {
                r.insert_header((header::CONTENT_DISPOSITION, d));
            }
            r.body(file.bytes)
        }
        Err(e) => console.with_store(|store| {
            page::html_response(
                if e.is_transient() { 503 } else { 422 },
                page::frame(store, &session, "Reports", unavailable(&e)),
            )
        }),
    }
}
