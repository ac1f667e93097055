//! The office's dashboard (office-console issue, "Dashboard"): today's collections by cashier
//! and method, dues outstanding by age, registers taken and not taken today, and today's
//! attendance rate (payments reversed, or being reversed here, do not count) — all from this device's replica and outbox, so it works offline, with how
//! fresh that is (the sync bar's last pull).

use std::collections::{BTreeMap, HashMap};

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use daftar_client_core::client::office::{self, PaymentRec};
use daftar_client_core::client::{ClientError, Store};
use daftar_client_core::protocol::{synced, AttendanceCategory};
use maud::{html, Markup};

use super::cashier::{school_today, PrintedReceipt};
use super::office_user;
use super::page::{self, money};
use super::Console;

/// Routes of the dashboard.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(dashboard_page));
}

/// Age buckets of what is owing, by days past the due date.
pub const BUCKETS: [&str; 5] = [
    "not yet due",
    "1–30 days",
    "31–60 days",
    "61–90 days",
    "over 90 days",
];

fn bucket(days_past_due: i64) -> usize {
    match days_past_due {
        d if d <= 0 => 0,
        1..=30 => 1,
        31..=60 => 2,
        61..=90 => 3,
        _ => 4,
    }
}

fn body(store: &mut Store) -> Result<Markup, ClientError> {
    let tz = page::school_tz(store);
    let today = school_today(store);
    let currency = office::school(store)?.currency;
    // Today's collections (school-local day) by cashier and method.
    let payments: Vec<PaymentRec> = store
        .rows("payments")?
        .into_iter()
        .filter_map(|p| serde_json::from_value(p).ok())
        .collect();
    let reversed: std::collections::HashSet<uuid::Uuid> = store
        .rows("payment_reversals")?
        .into_iter()
        .filter_map(|r| serde_json::from_value::<synced::PaymentReversal>(r).ok())
        .map(|r| r.payment_id)
        .collect();
    let mut by: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    let mut total = 0i64;
    for p in payments
        .iter()
        .filter(|p| p.received_at.with_timezone(&tz).date_naive() == today)
        .filter(|p| !p.reversal_pending && !reversed.contains(&p.id))
    {
        let cashier = store
            .device(&format!("receipt:{}", p.id))?
            .and_then(|j| serde_json::from_str::<PrintedReceipt>(&j).ok())
            .map(|r| r.cashier)
            .unwrap_or_else(|| "another device or the server".into());
        let e = by
            .entry((cashier, page::method_label(p.method).to_string()))
            .or_default();
        e.0 += 1;
        e.1 += p.amount;
        total += p.amount;
    }
    // Dues by age.
    let mut ageing = [0i64; 5];
    for l in office::all_lines(store)? {
        if l.outstanding > 0 {
            ageing[bucket((today - l.due_on).num_days())] += l.outstanding;
        }
    }
    // Registers and attendance today.
    let categories: HashMap<String, AttendanceCategory> = office::attendance_codes(store)?
        .into_iter()
        .map(|c| (c.code, c.category))
        .collect();
    let (mut taken, mut not_taken, mut marked, mut attending) = (0, Vec::new(), 0, 0);
    for (c, lines) in super::registers::class_registers(store, today)? {
        if super::registers::not_taken(&lines) {
            not_taken.push(c.name);
            continue;
        }
        taken += 1;
        for code in lines.iter().filter_map(|l| l.code.as_ref()) {
            marked += 1;
            if matches!(
                categories.get(code),
                Some(AttendanceCategory::Present | AttendanceCategory::Late)
            ) {
                attending += 1;
            }
        }
    }
    let fresh = store
        .last_pull()?
        .map(|l| page::local_time(l.0, tz))
        .unwrap_or_else(|| "never".into());
    Ok(html! {
        h1 { "Today, " (today) }
        p.muted #freshness { "From this computer's copy of the school, last synced " (fresh) "; edits made here count at once. Shown " (page::local_time(Utc::now(), tz)) "." }
        h2 { "Collections today" }
        table #collections {
            tr { th { "Cashier" } th { "Method" } th.num { "Payments" } th.num { "Amount (" (currency) ")" } }
            @for ((cashier, method), (n, amount)) in &by {
                tr { td { (cashier) } td { (method) } td.num { (n) } td.num { (money(*amount, &currency)) } }
            }
            tr { th colspan="3" { "Total" } th.num #collections-total { (money(total, &currency)) } }
        }
        h2 { "Dues outstanding by age" }
        table #ageing {
            tr { @for b in BUCKETS { th.num { (b) } } th.num { "Total" } }
            tr { @for a in &ageing { td.num { (money(*a, &currency)) } } td.num { (money(ageing.iter().sum(), &currency)) } }
        }
        h2 { "Registers today" }
        p #registers-today {
            (taken) " taken, " (not_taken.len()) " not yet"
            @if !not_taken.is_empty() { ": " (not_taken.join(", ")) }
        }
        p #attendance-rate {
            "Attendance: "
            @if marked > 0 { (format!("{:.1}", 100.0 * attending as f64 / marked as f64)) "% present or late of " (marked) " marked" }
            @else { "no marks yet today" }
        }
    })
}

async fn dashboard_page(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    let session = match office_user(&console, &req) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    console.with_store(|store| match body(store) {
        Ok(b) => page::html_response(200, page::frame(store, &session, "Today", b)),
        Err(e) => page::html_response(500, html! { p.error { (e.to_string()) } }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dues_fall_into_age_buckets_by_days_past_due() {
        assert_eq!(bucket(-5), 0);
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(30), 1);
        assert_eq!(bucket(31), 2);
        assert_eq!(bucket(90), 3);
        assert_eq!(bucket(91), 4);
    }
}
