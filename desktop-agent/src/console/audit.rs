//! The audit log viewer (issue #17, "Audit log viewer"): who changed what, from which device,
//! and when, with each change's before and after side by side. The log lives on the server
//! (`GET /api/v1/audit-log`), so this page needs it: offline it says so and shows nothing
//! stale. For the admin only (the log holds every user's actions and the security events).
//!
//! Filters: user (the school's users, from the server), entity kind, an entity id, a device
//! (by following a device name in the results) and a date range in the school's time zone,
//! turned into UTC instants here (from the start of the first day to the end of the last).

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use daftar_client_core::client::ClientError;
use daftar_client_core::protocol::{AuditEvent, AuditPage, Page, User};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::page::{self, local_time, school_tz};
use super::{admin_user, call_server, Console};

/// Routes of the audit log page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/audit", web::get().to(audit_page));
}

/// Entries per page.
pub const PAGE: i64 = 25;

/// Entity kinds the server's audit log writes, offered as suggestions in the filter.
pub const ENTITIES: [&str; 22] = [
    "student",
    "family",
    "guardian",
    "enrollment",
    "class",
    "user",
    "payment",
    "refund",
    "discount",
    "fine",
    "register",
    "fee_head",
    "fee_schedule",
    "account",
    "academic_year",
    "term",
    "attendance_code",
    "school",
    "device",
    "sync_op",
    "refresh_token_family",
    "oneroster_import",
];

/// The filter form as typed (everything a string, so a bad value can be named).
#[derive(Deserialize, Default, Clone)]
struct Asked {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    device_id: String,
    #[serde(default)]
    entity: String,
    #[serde(default)]
    entity_id: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
}

impl Asked {
    /// The query string of these filters with `before` replaced (for the "older" link).
    fn with_before(&self, before: Option<uuid::Uuid>) -> String {
        serde_urlencoded::to_string([
            ("user_id", self.user_id.as_str()),
            ("device_id", self.device_id.as_str()),
            ("entity", self.entity.as_str()),
            ("entity_id", self.entity_id.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("before", &before.map(|b| b.to_string()).unwrap_or_default()),
        ])
        .unwrap_or_default()
    }
}

/// The server's query for `a`: ids checked, school-local dates turned into the UTC instants
/// that bound them (`from` day's first instant; the instant after `to` day's last).
///
/// Errors: a message naming the field that is not an id or a date (YYYY-MM-DD), or a `to`
/// before `from`.
fn server_query(a: &Asked, tz: chrono_tz::Tz) -> Result<Vec<(&'static str, String)>, String> {
    let mut q = vec![("limit", PAGE.to_string())];
    for (field, label, v) in [
        ("user_id", "user", &a.user_id),
        ("device_id", "device", &a.device_id),
        ("before", "page", &a.before),
    ] {
        let v = v.trim();
        if !v.is_empty() {
            let id: uuid::Uuid = v
                .parse()
                .map_err(|_| format!("{label}: “{v}” is not an id"))?;
            q.push((field, id.to_string()));
        }
    }
    for (field, v) in [("entity", &a.entity), ("entity_id", &a.entity_id)] {
        let v = v.trim();
        if !v.is_empty() {
            q.push((field, v.to_string()));
        }
    }
    let day = |field: &str, v: &str| -> Result<Option<NaiveDate>, String> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| format!("{field}: “{v}” is not a date (YYYY-MM-DD)"))
    };
    let start_of = |d: NaiveDate| -> DateTime<Utc> {
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        tz.from_local_datetime(&midnight)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&midnight))
    };
    let (from, to) = (day("from", &a.from)?, day("to", &a.to)?);
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            return Err(format!("to: {t} is before from ({f})"));
        }
    }
    if let Some(f) = from {
        q.push(("from", start_of(f).to_rfc3339()));
    }
    if let Some(t) = to {
        q.push(("to", start_of(t + Duration::days(1)).to_rfc3339()));
    }
    Ok(q)
}

/// A JSON value as a person reads it: text as is, instants (RFC 3339) in the school's time
/// zone to the second, empty for null, other values as compact JSON.
fn shown(v: Option<&Value>, tz: chrono_tz::Tz) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => match DateTime::parse_from_rfc3339(s) {
            // To the second: an edit's `updated_at` moves by seconds.
            Ok(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string(),
            Err(_) => s.clone(),
        },
        Some(other) => other.to_string(),
    }
}

/// The change's fields side by side: for an update only the fields that changed (and how
/// many did not), for anything else every field of the image it has.
fn changes(e: &AuditEvent, tz: chrono_tz::Tz) -> Markup {
    let empty = serde_json::Map::new();
    let obj = |v: &Option<Value>| v.as_ref().and_then(Value::as_object).cloned();
    let (before, after) = (obj(&e.before), obj(&e.after));
    if before.is_none() && after.is_none() {
        return match (&e.before, &e.after) {
            (None, None) => html! {},
            (b, a) => html! { span.muted { (shown(a.as_ref().or(b.as_ref()), tz)) } },
        };
    }
    let (b, a) = (
        before.as_ref().unwrap_or(&empty),
        after.as_ref().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let both = before.is_some() && after.is_some();
    let changed: Vec<&String> = keys
        .iter()
        .copied()
        .filter(|k| !both || b.get(*k) != a.get(*k))
        .collect();
    let unchanged = keys.len() - changed.len();
    html! {
        table.diff {
            tr { th { "Field" } th { "Before" } th { "After" } }
            @for k in &changed {
                tr.changed data-field=(k) {
                    td { (k) }
                    td.before { (shown(b.get(*k), tz)) }
                    td.after { (shown(a.get(*k), tz)) }
                }
            }
        }
        @if both && unchanged > 0 { span.muted { (unchanged) " other fields unchanged" } }
    }
}

/// What to say when the server did not give the log.
fn unavailable(e: &ClientError) -> Markup {
    page::needs_server(
        e,
        html! { "The audit log is kept on the server, and the server is not answering now. Try again when the internet is back; nothing is lost meanwhile (changes made on this computer are logged when they sync)." },
        "the audit log",
        "audit-error",
    )
}

async fn audit_page(
    console: web::Data<Console>,
    req: HttpRequest,
    q: web::Query<Asked>,
) -> HttpResponse {
    let session = match admin_user(&console, &req, "The audit log") {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let asked = q.into_inner();
    let tz = console.with_store(school_tz);
    let (status, users, result) = match server_query(&asked, tz) {
        Err(message) => (
            422,
            Vec::new(),
            html! { p.error #audit-error { (message) } },
        ),
        Ok(query) => {
            let fetched = call_server(&console, move |api| {
                let log = api.get_with::<AuditPage>("/audit-log", &query)?;
                let users =
                    api.get_with::<Page<User>>("/users", &[("limit", "500".to_string())])?;
                Ok((log, users.items))
            })
            .await;
            match fetched {
                Ok((log, users)) => (200, users, entries(&asked, &log, tz)),
                Err(e) => (
                    if e.is_transient() { 503 } else { 422 },
                    Vec::new(),
                    unavailable(&e),
                ),
            }
        }
    };
    let body = html! {
        h1 { "Audit log" }
        p.muted { "Every change and sign-in at the school, newest first, as the server recorded it. Times in the school's time zone." }
        form #audit-form method="get" action="/audit" {
            label { "User " select #user name="user_id" {
                option value="" { "anyone" }
                @for u in &users {
                    option value=(u.id) selected[asked.user_id == u.id.to_string()] { (u.display_name) " (" (u.username) ")" }
                }
            } }
            " " label { "What " input #entity name="entity" list="entities" value=(asked.entity) placeholder="student, payment, …"; }
            datalist #entities { @for e in ENTITIES { option value=(e) {} } }
            " " label { "Id " input #entity-id name="entity_id" value=(asked.entity_id) size="12"; }
            " " label { "from " input #from name="from" type="date" value=(asked.from); }
            " " label { "to " input #to name="to" type="date" value=(asked.to); }
            @if !asked.device_id.is_empty() {
                input type="hidden" name="device_id" value=(asked.device_id);
            }
            " " button type="submit" { "Show" }
            " " a href="/audit" { "Clear" }
        }
        @if !asked.device_id.is_empty() {
            p #device-filter { "Only changes from device " code { (asked.device_id) } }
        }
        (result)
    };
    console.with_store(|store| {
        page::html_response(status, page::frame(store, &session, "Audit log", body))
    })
}

fn entries(asked: &Asked, log: &AuditPage, tz: chrono_tz::Tz) -> Markup {
    let device_link = |d: uuid::Uuid| {
        let mut a = asked.clone();
        a.device_id = d.to_string();
        format!("/audit?{}", a.with_before(None))
    };
    let entity_link = |e: &AuditEvent| {
        let mut a = asked.clone();
        a.entity = e.entity.clone();
        a.entity_id = e.entity_id.clone();
        format!("/audit?{}", a.with_before(None))
    };
    html! {
        table #audit {
            tr { th { "When" } th { "Who" } th { "Device" } th { "Action" } th { "What" } th { "Before → after" } }
            @if log.items.is_empty() { tr { td colspan="6" { span.muted #audit-empty { "No entries match." } } } }
            @for e in &log.items {
                tr.entry data-entity=(e.entity) data-action=(e.action) {
                    td { (local_time(e.at, tz)) }
                    td { @match (&e.user_display_name, &e.username) {
                        (Some(n), Some(u)) => { (n) " (" (u) ")" },
                        _ => span.muted { "the server" },
                    } }
                    td { @if let Some(d) = e.device_id {
                        a.device href=(device_link(d)) { (e.device_name.clone().unwrap_or_else(|| d.to_string())) }
                    } }
                    td { (e.action) }
                    td { a.entity href=(entity_link(e)) { (e.entity) " " span.muted { (e.entity_id.chars().take(13).collect::<String>()) "…" } } }
                    td { (changes(e, tz)) }
                }
            }
        }
        @if let Some(b) = log.next_before {
            p { a #older href=(format!("/audit?{}", asked.with_before(Some(b)))) { "Older entries →" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_dates_become_the_utc_instants_that_bound_them() {
        let tz: chrono_tz::Tz = "Asia/Karachi".parse().expect("tz");
        let a = Asked {
            from: "2026-12-01".into(),
            to: "2026-12-02".into(),
            ..Asked::default()
        };
        let q = server_query(&a, tz).expect("query");
        assert!(q.contains(&("from", "2026-11-30T19:00:00+00:00".to_string())));
        assert!(q.contains(&("to", "2026-12-02T19:00:00+00:00".to_string())));
    }

    #[test]
    fn bad_filters_are_named() {
        let tz = chrono_tz::UTC;
        let bad = |a: Asked| server_query(&a, tz).expect_err("refused");
        assert!(bad(Asked {
            user_id: "x".into(),
            ..Asked::default()
        })
        .starts_with("user:"));
        assert!(bad(Asked {
            from: "1/12/2026".into(),
            ..Asked::default()
        })
        .starts_with("from:"));
        assert!(bad(Asked {
            from: "2026-12-02".into(),
            to: "2026-12-01".into(),
            ..Asked::default()
        })
        .starts_with("to:"));
    }
}
