//! Turning on two-factor login for the signed-in admin or accountant (issue #17, "Two-factor
//! login"; RFC 6238). The console's own server calls are made as the user who enrolled this
//! computer, so this page first signs the person in to the server as themselves (password
//! again), starts enrolment with that login, shows the QR code (and the secret, for typing),
//! and confirms with the code their app shows; the ten recovery codes are shown once. The
//! temporary login is kept in memory for the few minutes this takes and signed out after.
//!
//! Needs the server. Sign-in on this computer is unchanged afterwards: a person remembered
//! here signs in with the password alone, online or not (the computer was trusted at their
//! first sign-in); on a computer new to them the server asks for the code.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use daftar_client_core::client::{Api, ClientError};
use daftar_client_core::protocol::LoginRequest;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use uuid::Uuid;

use super::page;
use super::{office_change, office_user, Console, Session};

/// How long a started enrolment waits for its code.
pub const PENDING_MINUTES: i64 = 10;

/// Enrolments started on this console and not yet confirmed: user → (their own server login,
/// when started).
#[derive(Default)]
pub struct Pending(Mutex<HashMap<Uuid, (Api, DateTime<Utc>)>>);

impl Pending {
    fn take(&self, user: Uuid) -> Option<Api> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        m.retain(|_, (_, at)| now - *at < Duration::minutes(PENDING_MINUTES));
        m.remove(&user).map(|(api, _)| api)
    }

    fn put(&self, user: Uuid, api: Api) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(user, (api, Utc::now()));
    }
}

/// Routes of the two-factor page.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/two-factor", web::get().to(start_page))
        .route("/two-factor/start", web::post().to(start))
        .route("/two-factor/confirm", web::post().to(confirm));
}

fn respond(console: &Console, session: &Session, status: u16, body: Markup) -> HttpResponse {
    console.with_store(|store| {
        page::html_response(
            status,
            page::frame(store, session, "Two-factor login", body),
        )
    })
}

fn start_form(session: &Session, error: Option<Markup>) -> Markup {
    html! {
        h1 { "Two-factor login" }
        p { "With two-factor login your account needs, besides the password, the 6-digit code an authenticator app on your phone shows (Google Authenticator, Microsoft Authenticator, FreeOTP, …) whenever you sign in on a computer or phone new to you." }
        @if let Some(e) = error { (e) }
        form #two-factor-start method="post" action="/two-factor/start" {
            input type="hidden" name="csrf" value=(session.csrf);
            label { "Your password " input #password name="password" type="password" required autocomplete="current-password"; }
            " " button type="submit" { "Turn on two-factor login" }
        }
    }
}

/// The form that confirms enrolment with the app's current code.
fn confirm_form(session: &Session) -> Markup {
    html! {
        form #two-factor-confirm method="post" action="/two-factor/confirm" {
            input type="hidden" name="csrf" value=(session.csrf);
            label { "The 6-digit code the app shows now " input #code name="code" inputmode="numeric" autocomplete="one-time-code" required size="8"; }
            " " button type="submit" { "Turn on" }
        }
    }
}

async fn start_page(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    match office_user(&console, &req) {
        Ok(session) => respond(&console, &session, 200, start_form(&session, None)),
        Err(r) => *r,
    }
}

#[derive(Deserialize)]
struct StartForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
}

fn server_said(e: &ClientError) -> Markup {
    if e.is_transient() {
        html! { p.warning #needs-server { "Two-factor login is turned on at the server, which is not answering now. Try again when the internet is back." } p.muted { "(" (e) ")" } }
    } else {
        html! { p.error #two-factor-error { (e) } }
    }
}

async fn start(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<StartForm>,
) -> HttpResponse {
    let session = match office_change(&console, &req, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let (server, school) = console.with_store(|s| {
        (
            s.device("server_url").ok().flatten(),
            s.device("school").ok().flatten().unwrap_or_default(),
        )
    });
    let Some(server) = server else {
        let e = html! { p.error #two-factor-error { "This computer has no server." } };
        return respond(&console, &session, 422, start_form(&session, Some(e)));
    };
    let login = LoginRequest {
        school,
        username: session.username.clone(),
        password: form.into_inner().password,
        device_id: None,
        two_factor_code: None,
    };
    let started = web::block(move || {
        let api = Api::new(&server);
        api.login(&login)?;
        let enrolment = api.enrol_two_factor()?;
        Ok::<_, ClientError>((api, enrolment))
    })
    .await
    .unwrap_or_else(|e| Err(ClientError::Network(e.to_string())));
    let (api, enrolment) = match started {
        Ok(s) => s,
        Err(e) if e.is_two_factor_required() => {
            let e = html! { p.understood #two-factor-on { "Two-factor login is already on for your account." } };
            return respond(&console, &session, 409, start_form(&session, Some(e)));
        }
        Err(ClientError::Server { problem, .. }) if problem.code == "invalid_credentials" => {
            let e = html! { p.error #two-factor-error { "That is not your password." } };
            return respond(&console, &session, 401, start_form(&session, Some(e)));
        }
        Err(e) => {
            let status = if e.is_transient() { 503 } else { 422 };
            return respond(
                &console,
                &session,
                status,
                start_form(&session, Some(server_said(&e))),
            );
        }
    };
    console.two_factor.put(session.user_id, api);
    let body = html! {
        h1 { "Two-factor login: scan the code" }
        p { "In the authenticator app on your phone, add an account and scan this code:" }
        div #two-factor-qr { (PreEscaped(enrolment.qr_svg)) }
        p { "Or type this key into the app: " code #two-factor-secret { (enrolment.secret_base32) } }
        (confirm_form(&session))
        p.muted { "Until you type the code, nothing changes: your sign-in stays as it was." }
    };
    respond(&console, &session, 200, body)
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

async fn confirm(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<ConfirmForm>,
) -> HttpResponse {
    let session = match office_change(&console, &req, &form.csrf) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let Some(api) = console.two_factor.take(session.user_id) else {
        let e = html! { p.error #two-factor-error { "That enrolment has expired (" (PENDING_MINUTES) " minutes): start again." } };
        return respond(&console, &session, 409, start_form(&session, Some(e)));
    };
    let code = form.into_inner().code;
    let confirmed = web::block(move || {
        let r = api.confirm_two_factor(code.trim());
        (api, r)
    })
    .await;
    let (api, result) = match confirmed {
        Ok(x) => x,
        Err(e) => {
            let e = html! { p.error #two-factor-error { (e.to_string()) } };
            return respond(&console, &session, 500, start_form(&session, Some(e)));
        }
    };
    match result {
        Ok(codes) => {
            // The temporary login is no longer needed.
            let _ = web::block(move || api.logout()).await;
            let body = html! {
                h1 { "Two-factor login is on" }
                p #two-factor-done { "From now on, signing in on a computer or phone new to you needs the code from your app." }
                h2 { "Recovery codes" }
                p.warning { "Write these down or print them now; they are shown only this once. Each works once instead of a code, if the phone is lost." }
                ol #recovery-codes { @for c in &codes.recovery_codes { li { code { (c) } } } }
                p.no-print { button type="button" onclick="window.print()" { "Print" } " " a href="/cashier" { "Done" } }
            };
            respond(&console, &session, 200, body)
        }
        Err(ClientError::Server { problem, .. }) if problem.status == 422 => {
            console.two_factor.put(session.user_id, api);
            let body = html! {
                h1 { "Two-factor login: scan the code" }
                p.error #two-factor-error { "That is not the code the app shows now; check the phone's clock, and type the newest code." }
                (confirm_form(&session))
            };
            respond(&console, &session, 422, body)
        }
        Err(e) => respond(
            &console,
            &session,
            422,
            start_form(&session, Some(server_said(&e))),
        ),
    }
}
