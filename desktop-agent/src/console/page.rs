//! The console's page frame: header with the school, who is signed in and the sync bar; the
//! style sheet (screen, and print for 80 mm thermal rolls and A4/A5); the script; money and
//! time as a person reads them.

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use daftar_client_core::client::{office, ClientError, Store};
use daftar_client_core::money::format_money_wide;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Serialize;

use super::Session;

/// The console's script: search as you type, the payment preview, and keys (`/` search,
/// `n` next family on a receipt, `p` print).
pub const SCRIPT: &str = include_str!("console.js");

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 0; color: #1b1b1b; }
header { display: flex; gap: 1.5rem; align-items: center; padding: .5rem 1rem; background: #14365d; color: #fff; }
header a { color: #fff; }
header .who { margin-left: auto; }
header form { display: inline; }
#sync-bar { font-size: .9rem; padding: .25rem 1rem; background: #e8eef5; }
#sync-bar.offline { background: #fde8c8; }
main { padding: 1rem; max-width: 70rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #ddd; text-align: left; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
input, select, button { font-size: 1.1rem; padding: .3rem .5rem; }
.error { color: #a40000; font-weight: 600; }
.warning { color: #8a5300; font-weight: 600; }
.understood { color: #14365d; }
.result { display: block; padding: .5rem; border: 1px solid #ccc; margin: .3rem 0; color: inherit; text-decoration: none; }
.result:focus, .result:hover { outline: 3px solid #3d7cc9; }
.muted { color: #666; }
table.diff { margin: 0; font-size: .9rem; }
table.diff td.before { background: #fdecea; }
table.diff td.after { background: #e7f5e9; }
form.inline { display: inline; }
.receipt { width: 72mm; font-family: ui-monospace, monospace; font-size: 12px; border: 1px dashed #999; padding: 4mm; }
.receipt h2 { font-size: 14px; margin: 0; text-align: center; }
.receipt #receipt-logo { display: block; margin: 0 auto 2mm; max-width: 40mm; max-height: 18mm; }
.role-box { white-space: nowrap; }
#current-logo { max-width: 160px; max-height: 72px; border: 1px solid #ddd; vertical-align: middle; }
.receipt table { width: 100%; }
.receipt td { border: none; padding: 0 2px; }
.pending { font-weight: 700; text-align: center; }
@media print {
  header, #sync-bar, nav, .no-print { display: none !important; }
  main { padding: 0; }
  .receipt { border: none; width: auto; padding: 0; }
}
@page { size: 80mm auto; margin: 3mm; }
@page a4 { size: A4; margin: 15mm; }
@page a5 { size: A5; margin: 10mm; }
body.a4 .receipt { page: a4; width: auto; font-size: 14px; }
body.a5 .receipt { page: a5; width: auto; font-size: 13px; }
"#;

/// The school's time zone (IANA), UTC if the replica has no school yet or an unknown zone.
pub fn school_tz(store: &mut Store) -> chrono_tz::Tz {
    office::school(store)
        .ok()
        .and_then(|s| s.timezone.parse().ok())
        .unwrap_or(chrono_tz::UTC)
}

/// `minor` of `currency` in major units with thousands separators: `150000` PKR →
/// `"1,500.00"` (grouping by threes; exact).
pub fn money(minor: i64, currency: &str) -> String {
    money_wide(i128::from(minor), currency)
}

/// [`money`] for report cells, which are `i128` (a total over the whole journal).
pub fn money_wide(minor: i128, currency: &str) -> String {
    let plain = format_money_wide(minor, currency);
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", plain.as_str()),
    };
    let (whole, frac) = match digits.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// How a person names payment method `m` ("Bank transfer", not `bank_transfer`).
pub fn method_label(m: daftar_client_core::protocol::PaymentMethod) -> &'static str {
    use daftar_client_core::protocol::PaymentMethod as M;
    match m {
        M::Cash => "Cash",
        M::BankTransfer => "Bank transfer",
        M::Cheque => "Cheque",
        M::Card => "Card",
        M::MobileMoney => "Mobile money",
    }
}

/// `at` in the school's time zone, as `2026-12-02 14:05`.
pub fn local_time(at: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    at.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// Device setting where the console's sync thread records its last attempt:
/// `{"at": UTC instant, "ok": bool, "error": text or null}`.
pub const LAST_SYNC: &str = "console_last_sync";

#[derive(serde::Deserialize)]
struct LastSync {
    at: DateTime<Utc>,
    ok: bool,
    #[serde(default)]
    error: Option<String>,
}

/// The sync bar's figures.
#[derive(Debug, Serialize)]
pub struct SyncBar {
    /// Edits on this device the server has not applied yet.
    pub queued: i64,
    /// Edits the server rejected or merged with a conflict, not yet resolved.
    pub needing_attention: i64,
    /// The last successful pull (UTC), if any.
    pub last_pull_at: Option<DateTime<Utc>>,
    /// The same, in school time, for people.
    pub last_pull_local: Option<String>,
    /// True when the last pull is more than two minutes old.
    pub stale: bool,
    /// Whether the server answered the sync thread's last attempt (`None`: no attempt yet).
    pub online: Option<bool>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// The replica's version at its last change (`Store::replica_changed_version`); when a
    /// pull brings rows it changes, and open pages reload themselves (unless someone is typing
    /// in them).
    pub replica_version: i64,
    /// True once the server refused this device as revoked by an admin (issue #17).
    pub revoked: bool,
}

impl SyncBar {
    /// Reads the figures from the store (zeros if it cannot).
    pub fn read(store: &mut Store) -> SyncBar {
        let counts = store.counts().ok();
        let last = store.last_pull().ok().flatten().map(|l| l.0);
        let tz = school_tz(store);
        let attempt: Option<LastSync> = store
            .device(LAST_SYNC)
            .ok()
            .flatten()
            .and_then(|j| serde_json::from_str(&j).ok());
        let recent = attempt
            .as_ref()
            .filter(|a| Utc::now() - a.at < chrono::Duration::minutes(5));
        SyncBar {
            online: recent.map(|a| a.ok),
            last_error: recent.and_then(|a| a.error.clone()),
            queued: counts.as_ref().map(|c| c.pending).unwrap_or(0),
            replica_version: store.replica_changed_version().unwrap_or(0),
            needing_attention: counts.as_ref().map(|c| c.needing_attention).unwrap_or(0),
            last_pull_at: last,
            last_pull_local: last.map(|l| local_time(l, tz)),
            stale: last.is_none_or(|l| Utc::now() - l > chrono::Duration::minutes(2)),
            revoked: store
                .device(daftar_client_core::client::engine::DEVICE_REVOKED_AT)
                .ok()
                .flatten()
                .is_some(),
        }
    }

    fn render(&self) -> Markup {
        html! {
            div #sync-bar class=(if self.online == Some(false) { "offline" } else { "" }) data-queued=(self.queued) data-version=(self.replica_version) {
                @if self.revoked {
                    // Not "offline": this computer will not send anything again.
                    strong.error #device-revoked { "This device was revoked by the school's admin — edits not yet sent are kept here and can be exported (daftar-agent export-outbox --file FILE)." }
                } @else {
                    span #sync-online {
                        @match self.online {
                            Some(true) => { "online" }
                            Some(false) => { "offline — edits are kept here and sent when the server is back" }
                            None => { "connecting…" }
                        }
                    }
                }
                " · "
                span #sync-queued { (self.queued) " queued edit" (if self.queued == 1 { "" } else { "s" }) }
                " · "
                span #sync-attention.warning {
                    @if self.needing_attention > 0 { a href="/attention" { (self.needing_attention) " need attention" } " · " }
                }
                span #sync-last {
                    @match &self.last_pull_local {
                        Some(t) => { "last synced " (t) }
                        None => { "never synced" }
                    }
                }
            }
        }
    }
}

/// A whole page for a signed-in user.
pub fn frame(store: &mut Store, session: &Session, title: &str, body: Markup) -> Markup {
    let school = office::school(store)
        .map(|s| s.name)
        .unwrap_or_else(|_| "Daftar".into());
    let bar = SyncBar::read(store);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (school) }
                style { (PreEscaped(STYLE)) }
                script src="/console.js" defer {}
            }
            body {
                header {
                    strong { (school) }
                    nav {
                        a href="/cashier" accesskey="f" { "Families" } " "
                        a href="/students" accesskey="s" { "Students" } " "
                        a href="/registers" accesskey="r" { "Registers" } " "
                        a href="/dashboard" accesskey="t" { "Today" } " "
                        a href="/reports" { "Reports" } " "
                        @if session.is_admin() { a #nav-audit href="/audit" { "Audit log" } " " a #nav-devices href="/devices" { "Devices" } " " a #nav-admissions href="/admissions" { "Admissions" } " " a #nav-setup href="/setup" { "School setup" } " " a #nav-users href="/users" { "Users" } " " }
                        a #nav-attention href="/attention" { "Needs attention" }
                    }
                    span.who #who {
                        "Signed in as " (session.display_name) " ("
                        @if session.username != session.roles.names() { (session.username) " · " }
                        (session.roles.names()) ") "
                        @if session.is_office() { a #nav-two-factor href="/two-factor" { "Two-factor" } " " }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(session.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                (bar.render())
                main { (body) }
            }
        }
    }
}

/// A page saying `message` (a refusal or a lookup that found nothing) with `status`.
pub fn error_page(
    store: &mut Store,
    session: &Session,
    status: u16,
    message: &str,
) -> HttpResponse {
    html_response(
        status,
        frame(
            store,
            session,
            "Refused",
            html! { p.error #page-error { (message) } },
        ),
    )
}

/// A page with no header (refusals before sign-in).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) } style { (PreEscaped(STYLE)) } }
            body { main { (body) } }
        }
    }
}

/// The sign-in page, with `error` when the last attempt was refused, and the two-factor code
/// field when `ask_code` (the server asked for the code of an account with two-factor login).
pub fn login(error: Option<&str>, username: &str, ask_code: bool) -> Markup {
    bare(
        "Sign in",
        html! {
            h1 { "Daftar office console" }
            @if let Some(e) = error { p.error #login-error { (e) } }
            form method="post" action="/login" {
                p { label { "Username " input #username name="username" value=(username) autofocus required autocomplete="username"; } }
                p { label { "Password " input #password name="password" type="password" required autocomplete="current-password"; } }
                @if ask_code {
                    p { label { "Code from the authenticator app " input #two-factor-code name="two_factor_code" inputmode="numeric" autocomplete="one-time-code" required size="12"; } }
                    p.muted { "Needed once on this computer; a recovery code works too." }
                }
                p { button type="submit" { "Sign in" } }
            }
            p.muted { "Works without the internet for anyone who has signed in on this computer before." }
        },
    )
}

/// `markup` as an HTML response with `status`.
pub fn html_response(status: u16, markup: Markup) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    )
    .content_type("text/html; charset=utf-8")
    .body(markup.into_string())
}

/// The status a page answers with when a server call failed: 503 when the server did not
/// answer (try again later), 422 when it refused the change.
pub fn server_status(e: &ClientError) -> u16 {
    if e.is_transient() {
        503
    } else {
        422
    }
}

/// What a page that reads from the server says when the server did not answer: `offline`
/// (why the page needs the server, what to do instead) and the error in small print when the
/// server is unreachable or busy; otherwise that the server refused `what`, in `#<refused_id>`.
pub fn needs_server(e: &ClientError, offline: Markup, what: &str, refused_id: &str) -> Markup {
    if e.is_transient() {
        html! {
            p.warning #needs-server { (offline) }
            p.muted { "(" (e) ")" }
        }
    } else {
        html! { p.error id=(refused_id) { "The server refused " (what) ": " (e) } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_by_thousands_in_the_currencys_exponent() {
        assert_eq!(money(150_000, "PKR"), "1,500.00");
        assert_eq!(money(123_456_789, "PKR"), "1,234,567.89");
        assert_eq!(money(1_500, "JPY"), "1,500");
        assert_eq!(money(1_500_250, "KWD"), "1,500.250");
        assert_eq!(money(-99_900, "PKR"), "-999.00");
        assert_eq!(money(5, "PKR"), "0.05");
    }
}
