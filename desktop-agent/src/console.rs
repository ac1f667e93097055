//! The office console (office-console issue): the cashier's and the office's work in a browser
//! on the office PC, served by the agent on `127.0.0.1` over the same client-core store, so it
//! works with the internet down. Server-rendered HTML (maud templates compiled into the
//! binary) and one small script of our own, embedded too: no CDN, no build step.
//!
//! Sessions: a random 256-bit token in an `HttpOnly; SameSite=Strict` cookie, held in memory
//! (a restart signs everyone out); every form that changes something carries the session's
//! CSRF token and is refused without it. Sign-in is checked offline ([`login`]).
//!
//! Times a person reads are in the school's time zone; amounts are typed and shown in major
//! units of the school's currency (ISO 4217 exponent) with thousands separators.

pub mod admissions;
pub mod attention;
pub mod audit;
pub mod cashier;
pub mod dashboard;
pub mod devices;
pub mod forms;
pub mod login;
pub mod page;
pub mod people;
pub mod records;
pub mod registers;
pub mod reports;
pub mod setup;
pub mod thermal;
pub mod two_factor;
pub mod users;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{DateTime, Duration, Utc};
use daftar_client_core::client::engine::device_api;
use daftar_client_core::client::{Api, ClientError, Store};
use daftar_client_core::protocol::{LoginRequest, Role, Roles};
use maud::html;
use rand::RngCore;
use serde::Deserialize;
use uuid::Uuid;

use login::{Refusal, RememberedUser};

/// Name of the session cookie.
pub const COOKIE: &str = "daftar_console";
/// A session ends after this many hours without a request.
pub const SESSION_HOURS: i64 = 12;

/// A signed-in console user.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: Uuid,
    pub username: String,
    pub display_name: String,
    /// Every role the user holds; the pages offered are the union of theirs (issue #17).
    pub roles: Roles,
    /// Carried by every form that changes something.
    pub csrf: String,
    pub last_seen: DateTime<Utc>,
}

impl Session {
    /// Admin or accountant among the roles: the roles that take money.
    pub fn is_office(&self) -> bool {
        self.roles.is_office()
    }

    /// Admin among the roles: school setup, users, devices, the audit log.
    pub fn is_admin(&self) -> bool {
        self.roles.has(Role::Admin)
    }
}

/// What every request of the console shares.
pub struct Console {
    /// The device's store (its own connections; the sync thread has its own).
    pub store: Mutex<Store>,
    pub sessions: Mutex<HashMap<String, Session>>,
    /// The thermal printer receipts go to, when one is configured (`--printer`).
    pub printer: Option<thermal::PrinterTarget>,
    /// The school's server as this device calls it (reports, resolving rejections); `None`
    /// before the device is enrolled.
    pub api: Option<Api>,
    /// Two-factor enrolments started here and not yet confirmed ([`two_factor`]).
    pub two_factor: two_factor::Pending,
    /// Spreadsheets uploaded for an admissions preview ([`admissions`]).
    pub admissions: admissions::Uploads,
}

impl Console {
    /// Runs `f` with the store locked.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut s = self.store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }

    fn session(&self, req: &HttpRequest) -> Option<Session> {
        let token = req.cookie(COOKIE)?.value().to_string();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now();
        sessions.retain(|_, s| now - s.last_seen < Duration::hours(SESSION_HOURS));
        let s = sessions.get_mut(&token)?;
        s.last_seen = now;
        Some(s.clone())
    }
}

/// Runs `f` with the school's server on a blocking thread (its calls are synchronous).
///
/// Errors: `NotEnrolled` when this computer has no server; whatever `f` returns; a network
/// error if the blocking task itself failed.
pub async fn call_server<T: Send + 'static>(
    console: &Console,
    f: impl FnOnce(&Api) -> Result<T, ClientError> + Send + 'static,
) -> Result<T, ClientError> {
    let api = console.api.clone();
    web::block(move || match api {
        Some(api) => f(&api),
        None => Err(ClientError::NotEnrolled(
            "this computer has no server".into(),
        )),
    })
    .await
    .unwrap_or_else(|e| Err(ClientError::Network(e.to_string())))
}

fn session_cookie(token: &str) -> Cookie<'static> {
    Cookie::build(COOKIE, token.to_string())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .finish()
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The signed-in user of a request, or a redirect to the sign-in page.
pub fn signed_in(console: &Console, req: &HttpRequest) -> Result<Session, Box<HttpResponse>> {
    console.session(req).ok_or_else(|| {
        Box::new(
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/login"))
                .finish(),
        )
    })
}

/// The signed-in office user of a form that changes something, carrying that session's CSRF
/// token (`presented`); anything else is refused as [`office_user`] and [`check_csrf`] do.
pub fn office_change(
    console: &Console,
    req: &HttpRequest,
    presented: &str,
) -> Result<Session, Box<HttpResponse>> {
    let session = office_user(console, req)?;
    check_csrf(&session, presented)?;
    Ok(session)
}

/// The signed-in office user of a request; anyone else is sent to sign in or refused.
pub fn office_user(console: &Console, req: &HttpRequest) -> Result<Session, Box<HttpResponse>> {
    let session = signed_in(console, req)?;
    if session.is_office() {
        return Ok(session);
    }
    Err(Box::new(console.with_store(|store| {
        page::error_page(
            store,
            &session,
            403,
            &format!(
                "The cashier pages are for the office (admin or accountant); you are signed in as {} ({}).",
                session.display_name,
                session.roles.names()
            ),
        )
    })))
}

/// The signed-in admin of a request for `what` (a page only the admin may see: the audit
/// log, devices); anyone else is sent to sign in or refused with a page naming `what`.
pub fn admin_user(
    console: &Console,
    req: &HttpRequest,
    what: &str,
) -> Result<Session, Box<HttpResponse>> {
    let session = office_user(console, req)?;
    if session.is_admin() {
        return Ok(session);
    }
    Err(Box::new(console.with_store(|store| {
        page::error_page(
            store,
            &session,
            403,
            &format!(
                "{what} is for the admin; you are signed in as {} ({}).",
                session.display_name,
                session.roles.names()
            ),
        )
    })))
}

/// Refuses a change whose form does not carry the session's CSRF token.
pub fn check_csrf(session: &Session, presented: &str) -> Result<(), Box<HttpResponse>> {
    if presented.len() == session.csrf.len()
        && presented
            .bytes()
            .zip(session.csrf.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    {
        Ok(())
    } else {
        Err(Box::new(HttpResponse::Forbidden()
            .content_type("text/html; charset=utf-8")
            .body(
                page::bare(
                    "Refused",
                    html! { p.error { "This form has expired or did not come from the console. Go back, reload the page and try again." } },
                )
                .into_string(),
            )))
    }
}

async fn index(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    let to = if console.session(&req).is_some() {
        "/cashier"
    } else {
        "/login"
    };
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

async fn login_page() -> HttpResponse {
    page::html_response(200, page::login(None, "", false))
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    /// The authenticator app's code, once the server asked for it (two-factor login).
    #[serde(default)]
    two_factor_code: String,
}

async fn login_submit(console: web::Data<Console>, form: web::Form<LoginForm>) -> HttpResponse {
    let form = form.into_inner();
    let c = console.clone();
    let username = form.username.clone();
    let result: Result<RememberedUser, Refusal> = web::block(move || {
        c.with_store(|store| {
            let server = store.device("server_url").ok().flatten();
            let school = store.device("school").ok().flatten().unwrap_or_default();
            let tz = page::school_tz(store);
            let credentials = LoginRequest {
                school,
                username: form.username,
                password: form.password,
                device_id: None,
                two_factor_code: Some(form.two_factor_code.trim().to_string())
                    .filter(|c| !c.is_empty()),
            };
            login::sign_in(store, server.as_deref(), &credentials, Utc::now(), tz)
        })
    })
    .await
    .unwrap_or_else(|e| Err(Refusal::Other(e.to_string())));
    match result {
        Ok(user) => {
            let token = random_token();
            let session = Session {
                roles: user.role_set(),
                user_id: user.user_id,
                username: user.username,
                display_name: user.display_name,
                csrf: random_token(),
                last_seen: Utc::now(),
            };
            console
                .sessions
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(token.clone(), session);
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, "/cashier"))
                .cookie(session_cookie(&token))
                .finish()
        }
        Err(refusal) => {
            let ask_code = matches!(refusal, Refusal::TwoFactorNeeded | Refusal::TwoFactorWrong);
            page::html_response(
                401,
                page::login(Some(&refusal.to_string()), &username, ask_code),
            )
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    console: web::Data<Console>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    if let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_string()) {
        let mut sessions = console.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = sessions.get(&token) {
            if check_csrf(s, &form.csrf).is_ok() {
                sessions.remove(&token);
            }
        }
    }
    let mut gone = session_cookie("");
    gone.make_removal();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/login"))
        .cookie(gone)
        .finish()
}

/// `GET /status.json`: the sync bar's figures (queued edits, needing attention, last pull).
async fn status(console: web::Data<Console>, req: HttpRequest) -> HttpResponse {
    if console.session(&req).is_none() {
        return HttpResponse::Unauthorized().finish();
    }
    let bar = console.with_store(page::SyncBar::read);
    HttpResponse::Ok().json(bar)
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(page::SCRIPT)
}

/// Serves the console on `addr` until the process ends (blocking), printing receipts on
/// `printer` when given. `addr` should be a loopback address; the caller decides.
///
/// Errors: the store cannot be opened, or the address cannot be bound.
pub fn serve(
    data_dir: &Path,
    addr: SocketAddr,
    printer: Option<thermal::PrinterTarget>,
) -> anyhow::Result<()> {
    let (mut store, _) = Store::open(data_dir)?;
    let api = store
        .device("server_url")?
        .map(|url| device_api(data_dir, &url));
    let console = web::Data::new(Console {
        store: Mutex::new(store),
        sessions: Mutex::new(HashMap::new()),
        printer,
        api,
        two_factor: Default::default(),
        admissions: Default::default(),
    });
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(console.clone())
                .app_data(web::FormConfig::default().limit(16 * 1024))
                .route("/", web::get().to(index))
                .route("/login", web::get().to(login_page))
                .route("/login", web::post().to(login_submit))
                .route("/logout", web::post().to(logout))
                .route("/status.json", web::get().to(status))
                .route("/console.js", web::get().to(script))
                .configure(cashier::routes)
                .configure(registers::routes)
                .configure(dashboard::routes)
                .configure(attention::routes)
                .configure(people::routes)
                .configure(reports::routes)
                .configure(audit::routes)
                .configure(devices::routes)
                .configure(admissions::routes)
                .configure(setup::routes)
                .configure(users::routes)
                .configure(two_factor::routes)
        })
        .workers(2)
        .bind(addr)?;
        for a in server.addrs() {
            println!("console: http://{a}/");
        }
        server.run().await
    })?;
    Ok(())
}
